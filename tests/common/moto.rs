//! moto's S3 server mode (`python3 -m moto.server`, installed by `.ci/services`), started on
//! a free port for one test and killed when dropped. A missing moto fails the test: the S3
//! tests never skip.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use zhugeleida::config::S3Settings;

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Moto {
    /// Starts moto and waits (up to 90 s on a loaded machine) until it answers.
    pub async fn start() -> Moto {
        let http = reqwest::Client::new();
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new("python3")
                .args([
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run python3 for moto (run .ci/services): {e}"));
            let endpoint = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(90);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        use std::io::Read;
                        let _ = e.read_to_string(&mut err);
                    }
                    if err.contains("No module named") {
                        panic!("moto[server] is not installed (run .ci/services): {err}");
                    }
                    // Lost the port to someone else: try another.
                    eprintln!("moto exited ({status}): {err}");
                    break;
                }
                if http.get(format!("{endpoint}/")).send().await.is_ok() {
                    // Its log is not read: don't let a full pipe block it.
                    drop(child.stderr.take());
                    return Moto { child, endpoint };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("moto did not start within 90 s");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("moto could not be started");
    }

    /// A new empty bucket and the settings that use it.
    pub async fn bucket(&self, name: &str) -> S3Settings {
        let r = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .expect("create bucket");
        assert!(r.status().is_success(), "create bucket: {}", r.status());
        S3Settings {
            endpoint: Some(self.endpoint.clone()),
            bucket: name.to_owned(),
            region: "us-east-1".into(),
            access_key_id: Some("testing".into()),
            secret_access_key: Some(zhugeleida::domain::secret::Secret::new("testing")),
        }
    }

    /// The keys in `bucket`, via moto's own listing.
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let body = reqwest::Client::new()
            .get(format!("{}/{bucket}?list-type=2", self.endpoint))
            .send()
            .await
            .expect("list")
            .text()
            .await
            .expect("list body");
        body.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
