//! The WeChat HTTP client's core, shared by every product module: hosts, the error type, the
//! cheap-clone [`WechatClient`] with its HTTP client and in-process token caches, and the
//! request helpers. The calls themselves live with their product: WeCom in
//! [`super::qyapi`], mini program in [`super::wxa`], the open platform (第三方平台) in
//! [`super::component`] (official account: `super::mp`).
//!
//! Owns the error rules of WECHAT.md
//! §0.3 / §F: every body is parsed as JSON first (image APIs branch on `Content-Type`), a
//! non-zero `errcode` becomes [`WechatError::Api`], and a call that fails with a token error
//! is retried exactly once with a fresh token. Secrets, tokens and
//! session keys never reach the log: only the API path and the errcode do.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// Per-request timeout. WeChat answers in well under a second; 10 s only guards against a
/// hung connection holding a request handler forever.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Refresh a cached token once less than this much of its lifetime remains (WECHAT.md §F).
pub(crate) const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Lifetime assumed when `gettoken` omits `expires_in` (WECHAT.md §0.5).
pub(crate) const DEFAULT_TOKEN_TTL_SECS: u64 = 7200;

/// Errcodes meaning "this access_token is bad": invalidate, refresh and retry once (§0.3).
pub(crate) const TOKEN_ERRCODES: [i64; 3] = [40001, 40014, 42001];

/// Base URLs of the four WeChat hosts (WECHAT.md §0.2). All configuration, so the same client
/// can talk to the real WeChat or to the sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WechatHosts {
    /// `https://api.weixin.qq.com`: official account, mini program.
    pub api: String,
    /// `https://qyapi.weixin.qq.com`: WeCom.
    pub qyapi: String,
    /// `https://open.weixin.qq.com`: browser OAuth pages.
    pub open: String,
    /// `https://mp.weixin.qq.com`: browser component-authorization pages.
    pub mp: String,
}

impl WechatHosts {
    /// The real WeChat hosts.
    pub fn production() -> Self {
        Self {
            api: "https://api.weixin.qq.com".to_owned(),
            qyapi: "https://qyapi.weixin.qq.com".to_owned(),
            open: "https://open.weixin.qq.com".to_owned(),
            mp: "https://mp.weixin.qq.com".to_owned(),
        }
    }

    /// Hosts of a sandbox listening at `base` (e.g. `http://127.0.0.1:9100`): `api` is the base
    /// itself, the others are the base plus `/qyapi`, `/open` and `/mp` (WECHAT.md §G.1).
    pub fn sandbox(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            api: base.to_owned(),
            qyapi: format!("{base}/qyapi"),
            open: format!("{base}/open"),
            mp: format!("{base}/mp"),
        }
    }
}

/// Failure of a WeChat call.
#[derive(Debug, thiserror::Error)]
pub enum WechatError {
    /// WeChat answered with a non-zero `errcode`. Branch on `errcode`, never on `errmsg`
    /// (it carries a request id suffix).
    #[error("{errcode} : {errmsg}")]
    Api {
        /// The WeChat errcode (WECHAT.md §0.4).
        errcode: i64,
        /// WeChat's message, for logs only.
        errmsg: String,
    },
    /// Network failure, timeout, non-2xx HTTP status or a body we could not understand.
    #[error("wechat transport: {0:#}")]
    Transport(anyhow::Error),
}

impl WechatError {
    /// The WeChat errcode, if WeChat answered with one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Self::Api { errcode, .. } => Some(*errcode),
            Self::Transport(_) => None,
        }
    }

    /// Whether this error means the access token used was invalid or expired.
    pub fn is_token_error(&self) -> bool {
        self.errcode().is_some_and(|c| TOKEN_ERRCODES.contains(&c))
    }
}

/// Client for the WeChat APIs. Cheap to clone: all clones share the HTTP client and the token
/// cache.
#[derive(Clone)]
pub struct WechatClient {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for WechatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatClient")
            .field("hosts", &self.inner.hosts)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) hosts: WechatHosts,
    pub(crate) http: reqwest::Client,
    /// WeCom tokens keyed by (corpid, secret). Each slot has its own async lock so that
    /// concurrent callers wait for one `gettoken` instead of all fetching at once.
    pub(crate) wecom_tokens: Mutex<HashMap<(String, String), Arc<TokenSlot>>>,
    /// Mini-program / official-account `cgi-bin/token` tokens keyed by (appid, secret), in
    /// slots like the WeCom ones. Each fetch supersedes the previous token (G.3), so sharing
    /// one per app matters even more here.
    pub(crate) app_tokens: Mutex<HashMap<(String, String), Arc<TokenSlot>>>,
    /// This node's copy of the shared `component_access_token` (the store of record is the
    /// `wx_component` row; see [`super::component::access_token`]). The async lock makes this
    /// node's requests wait for one renewal.
    pub(crate) component_token: TokenSlot,
    /// This node's copies of authorizer tokens, keyed by (authorizer appid, "").
    pub(crate) authorizer_tokens: Mutex<HashMap<(String, String), Arc<TokenSlot>>>,
}

pub(crate) type TokenSlot = tokio::sync::Mutex<Option<CachedToken>>;

#[derive(Clone)]
pub(crate) struct CachedToken {
    pub(crate) token: String,
    /// When to stop using the token: its expiry minus [`TOKEN_REFRESH_MARGIN`].
    pub(crate) refresh_at: Instant,
}

#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default, deserialize_with = "num_or_str::opt_i64")]
    pub(crate) expires_in: Option<i64>,
}

impl WechatClient {
    /// A client for `hosts` that sends its requests through `http`. Each request gets a 10 s
    /// timeout of its own.
    pub fn new(hosts: WechatHosts, http: reqwest::Client) -> Self {
        Self {
            inner: Arc::new(Inner {
                hosts,
                http,
                wecom_tokens: Mutex::new(HashMap::new()),
                app_tokens: Mutex::new(HashMap::new()),
                component_token: TokenSlot::default(),
                authorizer_tokens: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The hosts this client talks to.
    pub fn hosts(&self) -> &WechatHosts {
        &self.inner.hosts
    }

    /// One POST of a JSON body to an image-returning `api` endpoint (WECHAT.md §0.3):
    /// `Content-Type: image/*` is the image; otherwise the body must be a JSON error. A body
    /// with neither an image type nor JSON is taken as an image only when the type is absent
    /// or `application/octet-stream`.
    pub(crate) async fn post_for_image(
        &self,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Result<Vec<u8>, WechatError> {
        self.image_call(
            reqwest::Method::POST,
            path,
            &[("access_token", token)],
            Some(body),
        )
        .await
    }

    /// One call to an image-returning `api` endpoint with `query` (and a JSON `body` for POST);
    /// the answer is read as in [`Self::post_for_image`].
    pub(crate) async fn image_call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Vec<u8>, WechatError> {
        let transport = |e: reqwest::Error, what: &str| {
            WechatError::Transport(
                anyhow::Error::new(e.without_url()).context(format!("{what} {path}")),
            )
        };
        let url = format!("{}{path}", self.inner.hosts.api);
        let mut request = self
            .inner
            .http
            .request(method, url)
            .query(query)
            .timeout(REQUEST_TIMEOUT);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| transport(e, "sending"))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport(e, "reading answer of"))?;
        if !status.is_success() {
            tracing::debug!(path, %status, "wechat answered with an HTTP error");
            return Err(WechatError::Transport(anyhow!("{path}: HTTP {status}")));
        }
        match image_or_json(&content_type, &bytes) {
            Answer::Image => {
                if bytes.is_empty() {
                    return Err(WechatError::Transport(anyhow!("{path}: empty image")));
                }
                tracing::debug!(path, len = bytes.len(), "wechat call ok");
                Ok(bytes.to_vec())
            }
            Answer::Json => {
                let json: Value = serde_json::from_slice(&bytes)
                    .with_context(|| format!("{path}: answer is neither an image nor JSON"))
                    .map_err(WechatError::Transport)?;
                check_errcode(&json)?;
                Err(WechatError::Transport(anyhow!(
                    "{path}: JSON answer without an errcode instead of an image"
                )))
            }
        }
    }

    /// One POST of a JSON `body` to `url` with `query`; the answer must be JSON and carry no
    /// non-zero errcode. Like [`Self::get_json`], `url` and `query` are never printed.
    pub(crate) async fn post_json(
        &self,
        path: &str,
        url: &str,
        query: &[(&str, &str)],
        body: &Value,
    ) -> Result<Value, WechatError> {
        let request = self.inner.http.post(url).query(query).json(body);
        Self::send_json(path, request).await
    }

    /// One GET; the body must be JSON and carry no non-zero errcode. `path` is only for logs
    /// and error messages: `url` and `query` may hold secrets and are never printed.
    pub(crate) async fn get_json(
        &self,
        path: &str,
        url: &str,
        query: &[(&str, &str)],
    ) -> Result<Value, WechatError> {
        let request = self.inner.http.get(url).query(query);
        Self::send_json(path, request).await
    }

    /// Sends `request` with the WeChat timeout and reads a JSON answer free of errcodes. Errors
    /// never carry the URL (it may hold secrets), only `path`.
    async fn send_json(path: &str, request: reqwest::RequestBuilder) -> Result<Value, WechatError> {
        let transport = |e: reqwest::Error, what: &str| {
            WechatError::Transport(
                anyhow::Error::new(e.without_url()).context(format!("{what} {path}")),
            )
        };
        let response = request
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| transport(e, "sending"))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport(e, "reading answer of"))?;
        if !status.is_success() {
            tracing::debug!(path, %status, "wechat answered with an HTTP error");
            return Err(WechatError::Transport(anyhow!("{path}: HTTP {status}")));
        }
        let body: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{path}: answer is not JSON"))
            .map_err(WechatError::Transport)?;
        check_errcode(&body)?;
        tracing::debug!(path, "wechat call ok");
        Ok(body)
    }
}

/// A token answer as cached: usable until [`TOKEN_REFRESH_MARGIN`] before its expiry.
pub(crate) fn cached_token(answer: TokenResponse, fetched_at: Instant) -> CachedToken {
    let ttl = answer
        .expires_in
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(DEFAULT_TOKEN_TTL_SECS);
    let usable = Duration::from_secs(ttl).saturating_sub(TOKEN_REFRESH_MARGIN);
    CachedToken {
        token: answer.access_token,
        refresh_at: fetched_at + usable,
    }
}

/// Empties `slot` if it still holds `stale`; a concurrent caller may already have replaced it
/// with a fresh token, which must survive.
pub(crate) async fn drop_if_stale(slot: &TokenSlot, stale: &str) {
    let mut cached = slot.lock().await;
    if cached.as_ref().is_some_and(|t| t.token == stale) {
        *cached = None;
    }
}

pub(crate) fn slot_in(
    map: &Mutex<HashMap<(String, String), Arc<TokenSlot>>>,
    id: &str,
    secret: &str,
) -> Arc<TokenSlot> {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    map.entry((id.to_owned(), secret.to_owned()))
        .or_default()
        .clone()
}

/// How to read the answer of an image-returning API.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Image,
    Json,
}

/// `image/*` → image; a body starting with `{` → JSON (WECHAT.md §0.3 fallback); a missing or
/// `application/octet-stream` type → image; anything else (text, HTML) → JSON, which then
/// fails to parse as a transport error.
fn image_or_json(content_type: &str, body: &[u8]) -> Answer {
    if content_type.starts_with("image/") {
        return Answer::Image;
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return Answer::Json;
    }
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    if mime.is_empty() || mime == "application/octet-stream" {
        Answer::Image
    } else {
        Answer::Json
    }
}

pub(crate) fn with_token<'a>(
    token: &'a str,
    params: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut query = Vec::with_capacity(params.len() + 1);
    query.push(("access_token", token));
    query.extend_from_slice(params);
    query
}

/// Turns a non-zero `errcode` (number or numeric string; missing means 0) into
/// [`WechatError::Api`].
pub fn check_errcode(body: &Value) -> Result<(), WechatError> {
    let errcode = match body.get("errcode") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match errcode {
        Some(0) => Ok(()),
        Some(errcode) => {
            let errmsg = body
                .get("errmsg")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            tracing::debug!(errcode, "wechat answered with an error");
            Err(WechatError::Api { errcode, errmsg })
        }
        None => Err(WechatError::Transport(anyhow!(
            "errcode is neither a number nor a numeric string"
        ))),
    }
}

pub(crate) fn parse<T: DeserializeOwned>(path: &str, body: Value) -> Result<T, WechatError> {
    serde_json::from_value(body)
        .with_context(|| format!("{path}: unexpected answer shape"))
        .map_err(WechatError::Transport)
}

/// Serde helpers for fields WeChat sends as a number in one place and a string in another
/// (WECHAT.md §0.3). An empty string counts as absent.
pub mod num_or_str {
    use serde::de::{Deserializer, Error};
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        Int(i64),
        Float(f64),
        Str(String),
    }

    fn to_i64<E: Error>(value: NumOrStr) -> Result<Option<i64>, E> {
        match value {
            NumOrStr::Int(n) => Ok(Some(n)),
            NumOrStr::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
            NumOrStr::Float(f) => Err(E::custom(format!("expected an integer, got {f}"))),
            NumOrStr::Str(s) if s.trim().is_empty() => Ok(None),
            NumOrStr::Str(s) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| E::custom(format!("expected a number, got {s:?}"))),
        }
    }

    /// `Option<i64>` from a number, a numeric string, an empty string or null.
    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<NumOrStr>::deserialize(d)? {
            None => Ok(None),
            Some(v) => to_i64(v),
        }
    }

    /// `Option<i32>` from a number, a numeric string, an empty string or null.
    pub fn opt_i32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
        opt_i64(d)?
            .map(|n| i32::try_from(n).map_err(D::Error::custom))
            .transpose()
    }

    /// `i64` from a number or a numeric string.
    pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        opt_i64(d)?.ok_or_else(|| D::Error::custom("expected a number, got an empty value"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_or_zero_errcode_is_success() {
        assert!(check_errcode(&json!({"access_token": "t"})).is_ok());
        assert!(check_errcode(&json!({"errcode": 0, "errmsg": "ok"})).is_ok());
        assert!(check_errcode(&json!({"errcode": "0"})).is_ok());
    }

    #[test]
    fn numeric_string_errcode_is_an_api_error() {
        let err = check_errcode(&json!({"errcode": "40029", "errmsg": "invalid code"}))
            .err()
            .map(|e| e.errcode());
        assert_eq!(err, Some(Some(40029)));
    }

    #[test]
    fn image_answers_branch_on_content_type_then_on_a_leading_brace() {
        let png = b"\x89PNG\r\n\x1a\n";
        assert_eq!(image_or_json("image/png", png), Answer::Image);
        assert_eq!(image_or_json("image/jpeg", b"{not json"), Answer::Image);
        assert_eq!(
            image_or_json("application/json; charset=utf-8", br#"{"errcode":45009}"#),
            Answer::Json
        );
        assert_eq!(image_or_json("", br#" {"errcode":40001}"#), Answer::Json);
        assert_eq!(image_or_json("", png), Answer::Image);
        assert_eq!(
            image_or_json("application/octet-stream", png),
            Answer::Image
        );
        assert_eq!(
            image_or_json("text/plain; charset=utf-8", b"not json"),
            Answer::Json
        );
    }

    #[test]
    fn sandbox_hosts_hang_off_one_base() {
        let h = WechatHosts::sandbox("http://127.0.0.1:9100/");
        assert_eq!(h.api, "http://127.0.0.1:9100");
        assert_eq!(h.qyapi, "http://127.0.0.1:9100/qyapi");
        assert_eq!(h.open, "http://127.0.0.1:9100/open");
        assert_eq!(h.mp, "http://127.0.0.1:9100/mp");
    }
}
