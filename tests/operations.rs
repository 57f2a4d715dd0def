#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What an operator sees: `/metrics` over HTTP after real traffic, JSON log lines that carry the
//! request id.
mod common;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use common::spawn_app;
use serde_json::Value;

/// The value of one series in a Prometheus text exposition (`name{labels} value`); labels
/// must all be present (in any order). 0 when absent.
fn series(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let (n, rest) = match key.split_once('{') {
                Some((n, rest)) => (n, rest),
                None => (key, ""),
            };
            if n != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// The metrics registry and the tracing callsite cache are per process: these tests run one
/// at a time so one's traffic does not move the other's series.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn scrape(app: &common::TestApp) -> String {
    let r = app
        .http
        .get(format!("{}/metrics", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain"), "{ct}");
    r.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_envelope_code_auth_cache_and_pool() {
    let _serial = SERIAL.lock().await;
    let app = spawn_app().await;
    let (_, admin, _) = app.tenant("度量公司").await;
    let before = scrape(&app).await;
    let roles = "/zhugeleida/admin/admin_role";
    let ok = [("path", roles), ("code", "200"), ("method", "GET")];
    let refused = [("path", roles), ("code", "404"), ("status", "200")];
    let login_bad = [("path", "/zhugeleida/admin/login"), ("code", "401")];

    for _ in 0..3 {
        app.get(roles).signed(&admin).send().await.ok();
    }
    app.get(roles)
        .raw_auth("0", "1", &admin.user_id.to_string())
        .send()
        .await
        .refused(404, "stale timestamp");
    app.post("/zhugeleida/admin/login")
        .form(&[("username", "度量公司-admin"), ("password", "wrong")])
        .send()
        .await
        .expect_code(401);
    app.get("/no/such/route")
        .send()
        .await
        .refused(404, "unknown path");

    let after = scrape(&app).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        series(&after, name, labels) - series(&before, name, labels)
    };
    assert_eq!(moved("zgld_http_requests_total", &ok), 3.0, "{after}");
    assert_eq!(moved("zgld_http_requests_total", &refused), 1.0);
    assert_eq!(moved("zgld_http_requests_total", &login_bad), 1.0);
    assert!(
        moved(
            "zgld_http_requests_total",
            &[("path", "unmatched"), ("code", "404")]
        ) >= 1.0
    );
    assert!(
        moved(
            "zgld_http_request_duration_seconds_count",
            &[("path", roles)]
        ) >= 4.0
    );
    assert!(
        after.contains("zgld_http_request_duration_seconds_bucket{"),
        "latency is a histogram with buckets"
    );
    // Three signed requests of one staff member looked up the auth cache (the stale one is
    // refused before).
    let lookups = moved("zgld_auth_cache_total", &[("kind", "staff")]);
    assert!(lookups >= 3.0, "auth cache look-ups counted: {lookups}");
    assert!(after.contains("zgld_auth_cache_total{"));
    // Sampled on scrape from this node's pool (the test settings use 4 connections).
    assert!(series(&after, "zgld_db_pool_max", &[]) >= 1.0, "{after}");
    assert!(after.contains("\nzgld_db_pool_in_use "));
    assert!(after.contains("# HELP zgld_http_requests_total"));
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
    type Writer = Lines;
    fn make_writer(&'a self) -> Lines {
        self.clone()
    }
}

#[tokio::test]
async fn json_log_lines_of_a_request_all_carry_its_request_id() {
    use zhugeleida::telemetry::{subscriber, Format};
    let _serial = SERIAL.lock().await;
    let lines = Lines::default();
    // The current-thread test runtime runs the server's tasks on this thread.
    let _guard = tracing::subscriber::set_default(subscriber(Format::Json, lines.clone()));
    let app = spawn_app().await;
    let (_, admin, _) = app.tenant("日志公司").await;
    lines.0.lock().unwrap().clear();

    let r = app
        .http
        .get(format!("{}/zhugeleida/admin/admin_role", app.addr))
        .query(&admin.query())
        .send()
        .await
        .unwrap();
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = r.text().await.unwrap();
    assert!(body.starts_with(r#"{"code":200"#), "{body}");
    let r = app
        .http
        .post(format!("{}/zhugeleida/admin/login", app.addr))
        .form(&[("username", "日志公司-admin"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    let rid2 = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    r.text().await.unwrap();

    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains('\u{1b}'), "no colour codes: {text}");
    let parsed: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // Every line logged while the two requests ran belongs to one of them, by its id.
    for v in &parsed {
        let id = v["spans"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == "request"))
            .map(|s| s["request_id"].clone());
        assert!(
            id.as_ref()
                .is_some_and(|id| *id == rid.as_str() || *id == rid2.as_str()),
            "a line without its request id: {v}"
        );
    }
    for id in [&rid, &rid2] {
        let n = parsed
            .iter()
            .filter(|v| v["spans"][0]["request_id"] == id.as_str())
            .count();
        assert!(n >= 1, "lines of request {id}: {text}");
    }
}

/// Every WebSocket is a file descriptor: the server takes its hard open-files limit at start-up
/// and says so in its log (docs/operations.md, capacity).
#[test]
fn the_server_raises_its_open_files_limit_to_the_hard_limit_and_logs_it() {
    let (_, hard) = rlimit::Resource::NOFILE.get().unwrap();
    let low = 256.min(hard);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -Sn {low} && exec \"{}\" --help",
            env!("CARGO_BIN_EXE_zhugeleida")
        ))
        .env("ZGLD_LOG", "info")
        .env("ZGLD_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["hard"].is_u64())
        .unwrap_or_else(|| panic!("no open-files line in {out:?}"));
    assert_eq!(line["fields"]["before"], low);
    assert_eq!(line["fields"]["after"], hard, "{line}");
    assert_eq!(line["fields"]["hard"], hard);
}

/// The blocking-thread cap (`ZGLD_BLOCKING_THREADS`, docs/operations.md) is read before the
/// runtime starts: a value outside 1–512 stops the binary with a message naming it, a good one
/// starts it.
#[test]
fn a_bad_blocking_thread_cap_stops_the_server_with_a_message() {
    for bad in ["0", "513", "many"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhugeleida"))
            .arg("--help")
            .env("ZGLD_BLOCKING_THREADS", bad)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("ZGLD_BLOCKING_THREADS") && err.contains(bad),
            "{bad}: {err}"
        );
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zhugeleida"))
        .arg("--help")
        .env("ZGLD_BLOCKING_THREADS", "4")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}
