//! Newcomer tools against a running server: `zhugeleida call --as LOGIN METHOD PATH [k=v…]`
//! logs in, signs the call (API.md 1.2: `rand_str = md5(timestamp + token)`, a fresh
//! millisecond timestamp per call, so writes never reuse a signature) and returns the reply;
//! `zhugeleida watch --as LOGIN` opens the caller's WebSocket and yields its frames.
//!
//! `LOGIN` is a staff login (ADM-01), or `customer:OPENID@UID` for a mini-program customer of
//! salesperson `UID` logged in through the WeChat sandbox (`sandbox-OPENID…` codes).

use anyhow::{bail, Context};
use futures_util::StreamExt;
use md5::{Digest, Md5};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// A logged-in caller.
#[derive(Clone, Debug)]
pub struct Session {
    /// `http://host:port`, no trailing slash.
    pub url: String,
    pub user_id: i64,
    token: String,
    /// Staff (admin, qiyeweixin) or customer (xiaochengxu).
    pub customer: bool,
    http: reqwest::Client,
}

/// The demo's password for a demo login (`demo` prints the same), if `login` is one.
pub fn demo_password(login: &str) -> Option<&'static str> {
    use crate::demo::{ADMIN, OPERATOR, SALES, SALES_PASSWORD};
    if login == OPERATOR.0 {
        Some(OPERATOR.1)
    } else if login == ADMIN.0 {
        Some(ADMIN.1)
    } else if SALES.iter().any(|(l, _, _)| *l == login) {
        Some(SALES_PASSWORD)
    } else {
        None
    }
}

/// `rand_str` for `timestamp` and `token`.
pub fn sign(timestamp: &str, token: &str) -> String {
    hex::encode(Md5::digest(format!("{timestamp}{token}").as_bytes()))
}

impl Session {
    /// Logs in as `login` (see the module doc); the password defaults to the demo's.
    pub async fn login(url: &str, login: &str, password: Option<&str>) -> anyhow::Result<Self> {
        let url = url.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        let (reply, customer) = if let Some(rest) = login.strip_prefix("customer:") {
            let (openid, uid) = rest.split_once('@').context(
                "a customer login is customer:OPENID@UID (UID: the salesperson's user id)",
            )?;
            let code = format!("sandbox-{openid}.{}", uuid::Uuid::new_v4().simple());
            let r = http
                .get(format!("{url}/zhugeleida/xiaochengxu/login"))
                .query(&[("code", code.as_str()), ("uid", uid)])
                .send()
                .await
                .with_context(|| format!("connecting to {url}"))?;
            (r.json::<Value>().await?, true)
        } else {
            let password = match password {
                Some(p) => p,
                None => demo_password(login)
                    .with_context(|| format!("{login} is not a demo login: give --password"))?,
            };
            let r = http
                .post(format!("{url}/zhugeleida/admin/login"))
                .form(&[("username", login), ("password", password)])
                .send()
                .await
                .with_context(|| format!("connecting to {url}"))?;
            (r.json::<Value>().await?, false)
        };
        if reply["code"] != 200 {
            bail!("login as {login} failed: {}", pretty(&reply));
        }
        let user_id = reply["data"]["user_id"]
            .as_i64()
            .context("the login reply has no data.user_id")?;
        let token = reply["data"]["token"]
            .as_str()
            .context("the login reply has no data.token")?
            .to_owned();
        Ok(Session {
            url,
            user_id,
            token,
            customer,
            http,
        })
    }

    /// The three signature parameters, with a timestamp no earlier call of this process used.
    pub fn signature(&self) -> [(&'static str, String); 3] {
        let ts = fresh_timestamp().to_string();
        [
            ("rand_str", sign(&ts, &self.token)),
            ("timestamp", ts),
            ("user_id", self.user_id.to_string()),
        ]
    }

    /// One signed call: GET sends `params` in the query, POST as a form.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        params: &[(String, String)],
    ) -> anyhow::Result<Value> {
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        let url = format!("{}{path}", self.url);
        let rb = match method.to_ascii_uppercase().as_str() {
            "GET" => self.http.get(url).query(&self.signature()).query(params),
            "POST" => self.http.post(url).query(&self.signature()).form(params),
            other => bail!("method {other}: GET or POST"),
        };
        let resp = rb.send().await.context("sending the request")?;
        let status = resp.status();
        let text = resp.text().await?;
        serde_json::from_str(&text).with_context(|| format!("HTTP {status}, not JSON: {text}"))
    }

    /// The caller's WebSocket path.
    pub fn ws_path(&self) -> &'static str {
        if self.customer {
            "/zhugeleida/xiaochengxu/ws"
        } else {
            "/zhugeleida/qiyeweixin/ws"
        }
    }

    /// Opens the caller's WebSocket and hands every text frame to `on_frame` until the server
    /// closes (returns the close code) or `on_frame` returns false.
    pub async fn watch(
        &self,
        mut on_frame: impl FnMut(Value) -> bool,
    ) -> anyhow::Result<Option<u16>> {
        let ws_base = self
            .url
            .replacen("http://", "ws://", 1)
            .replacen("https://", "wss://", 1);
        let query: Vec<String> = self
            .signature()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let url = format!("{ws_base}{}?{}", self.ws_path(), query.join("&"));
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .with_context(|| format!("connecting {}", self.ws_path()))?;
        while let Some(msg) = socket.next().await {
            match msg? {
                Message::Text(t) => {
                    let v = serde_json::from_str(t.as_str())
                        .unwrap_or_else(|_| Value::String(t.to_string()));
                    if !on_frame(v) {
                        return Ok(None);
                    }
                }
                Message::Close(frame) => return Ok(frame.map(|f| u16::from(f.code))),
                _ => {}
            }
        }
        Ok(None)
    }
}

/// `k=v` arguments as pairs.
pub fn parse_params(args: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    args.iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("{a:?} is not k=v"))
        })
        .collect()
}

/// Indented JSON with Chinese as characters (the server sends `\uXXXX`).
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// Milliseconds now, strictly increasing within the process: two writes signed in the same
/// millisecond would share a signature, and the second would be refused as a replay.
fn fresh_timestamp() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = chrono::Utc::now().timestamp_millis();
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(p) => prev = p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_use_a_fresh_timestamp_each_time() {
        let a = fresh_timestamp();
        let b = fresh_timestamp();
        assert!(b > a);
        assert_eq!(sign("1", "t"), hex::encode(Md5::digest(b"1t")));
    }

    #[test]
    fn params_and_pretty_printing() {
        let p = parse_params(&["name=角色".into(), "rules_list=[1,2]".into()]).unwrap();
        assert_eq!(p[1], ("rules_list".into(), "[1,2]".into()));
        assert!(parse_params(&["oops".into()]).is_err());
        let v: Value = serde_json::from_str(r#"{"msg":"\u6dfb\u52a0\u6210\u529f"}"#).unwrap();
        assert!(pretty(&v).contains("添加成功"));
        assert_eq!(demo_password("sales2"), Some("Sales2026"));
        assert_eq!(demo_password("someone"), None);
    }
}
