//! HTTP client for the WeChat APIs the server uses: WeCom (企业微信) address book and OAuth,
//! mini-program `code2Session` and mini-program codes (`wxa/getwxacodeunlimit`).
//!
//! Owns the WeCom and mini-program `access_token` caches and the error rules of WECHAT.md
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
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Per-request timeout. WeChat answers in well under a second; 10 s only guards against a
/// hung connection holding a request handler forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Refresh a cached token once less than this much of its lifetime remains (WECHAT.md §F).
const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Lifetime assumed when `gettoken` omits `expires_in` (WECHAT.md §0.5).
const DEFAULT_TOKEN_TTL_SECS: u64 = 7200;

/// Errcodes meaning "this access_token is bad": invalidate, refresh and retry once (§0.3).
const TOKEN_ERRCODES: [i64; 3] = [40001, 40014, 42001];

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

/// Identity behind a WeCom OAuth code (WECHAT.md §C.3). Exactly one field is set in practice:
/// `userid` for a member of the corp, `openid` for anyone else.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct WecomIdentity {
    /// Member id (`userid` in `auth/getuserinfo`, `UserId` in the legacy API).
    #[serde(default, alias = "UserId")]
    pub userid: Option<String>,
    /// Non-member openid (`openid`, legacy `OpenId`).
    #[serde(default, alias = "OpenId")]
    pub openid: Option<String>,
}

/// A WeCom member as returned by `user/get` (WECHAT.md §C.4). Fields other than `userid` may be
/// withheld by WeCom depending on the app's permissions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct WecomUser {
    /// Member id, unique within the corp.
    pub userid: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Ids of the departments the member belongs to.
    #[serde(default)]
    pub department: Vec<i64>,
    /// Job title.
    #[serde(default)]
    pub position: Option<String>,
    /// Mobile number.
    #[serde(default)]
    pub mobile: Option<String>,
    /// 0 unknown, 1 male, 2 female. WeCom sends it as a string.
    #[serde(default, deserialize_with = "num_or_str::opt_i32")]
    pub gender: Option<i32>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub avatar: Option<String>,
}

/// A WeCom department (WECHAT.md §C.5).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct WecomDepartment {
    /// Department id; the root is 1.
    #[serde(deserialize_with = "num_or_str::i64")]
    pub id: i64,
    /// Name (may be withheld for restricted apps).
    #[serde(default)]
    pub name: String,
    /// Parent id; 0 for the root.
    #[serde(default, deserialize_with = "num_or_str::i64")]
    pub parentid: i64,
}

/// Result of mini-program `sns/jscode2session` (WECHAT.md §B.1).
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CodeSession {
    /// The user's openid within this mini program.
    pub openid: String,
    /// AES key for decrypting user data. Never send it to the front end or a log.
    pub session_key: String,
    /// Present only when the mini program is bound to an open platform account.
    #[serde(default)]
    pub unionid: Option<String>,
}

impl fmt::Debug for CodeSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeSession")
            .field("openid", &self.openid)
            .field("session_key", &"<redacted>")
            .field("unionid", &self.unionid)
            .finish()
    }
}

/// Client for the WeChat APIs. Cheap to clone: all clones share the HTTP client and the token
/// cache.
#[derive(Clone)]
pub struct WechatClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for WechatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatClient")
            .field("hosts", &self.inner.hosts)
            .finish_non_exhaustive()
    }
}

struct Inner {
    hosts: WechatHosts,
    http: reqwest::Client,
    /// WeCom tokens keyed by (corpid, secret). Each slot has its own async lock so that
    /// concurrent callers wait for one `gettoken` instead of all fetching at once.
    wecom_tokens: Mutex<HashMap<(String, String), Arc<TokenSlot>>>,
    /// Mini-program / official-account `cgi-bin/token` tokens keyed by (appid, secret), in
    /// slots like the WeCom ones. Each fetch supersedes the previous token (G.3), so sharing
    /// one per app matters even more here.
    app_tokens: Mutex<HashMap<(String, String), Arc<TokenSlot>>>,
}

type TokenSlot = tokio::sync::Mutex<Option<CachedToken>>;

#[derive(Clone)]
struct CachedToken {
    token: String,
    /// When to stop using the token: its expiry minus [`TOKEN_REFRESH_MARGIN`].
    refresh_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default, deserialize_with = "num_or_str::opt_i64")]
    expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct DepartmentListResponse {
    #[serde(default)]
    department: Vec<WecomDepartment>,
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
            }),
        }
    }

    /// The hosts this client talks to.
    pub fn hosts(&self) -> &WechatHosts {
        &self.inner.hosts
    }

    /// WeCom token cached per (corpid, secret) until <5 min remain.
    pub async fn wecom_token(&self, corpid: &str, secret: &str) -> Result<String, WechatError> {
        let slot = self.token_slot(corpid, secret);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref() {
            if Instant::now() < token.refresh_at {
                return Ok(token.token.clone());
            }
        }
        let fresh = self.fetch_wecom_token(corpid, secret).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Validates credentials with a fresh gettoken call (bypasses and refreshes the cache).
    pub async fn wecom_check_credentials(
        &self,
        corpid: &str,
        secret: &str,
    ) -> Result<(), WechatError> {
        let slot = self.token_slot(corpid, secret);
        let mut cached = slot.lock().await;
        match self.fetch_wecom_token(corpid, secret).await {
            Ok(fresh) => {
                *cached = Some(fresh);
                Ok(())
            }
            Err(err) => {
                if matches!(err, WechatError::Api { .. }) {
                    *cached = None;
                }
                Err(err)
            }
        }
    }

    /// OAuth code -> identity via cgi-bin/auth/getuserinfo (accept legacy UserId/OpenId casing too).
    pub async fn wecom_code_to_user(
        &self,
        corpid: &str,
        secret: &str,
        code: &str,
    ) -> Result<WecomIdentity, WechatError> {
        let path = "/cgi-bin/auth/getuserinfo";
        let body = self
            .wecom_get(corpid, secret, path, &[("code", code)])
            .await?;
        let mut identity: WecomIdentity = parse(path, body)?;
        identity.userid = identity.userid.filter(|s| !s.is_empty());
        identity.openid = identity.openid.filter(|s| !s.is_empty());
        if identity.userid.is_none() && identity.openid.is_none() {
            return Err(WechatError::Transport(anyhow!(
                "{path}: answer carries neither userid nor openid"
            )));
        }
        Ok(identity)
    }

    /// One member's profile (`cgi-bin/user/get`).
    pub async fn wecom_user_get(
        &self,
        corpid: &str,
        secret: &str,
        userid: &str,
    ) -> Result<WecomUser, WechatError> {
        let path = "/cgi-bin/user/get";
        let body = self
            .wecom_get(corpid, secret, path, &[("userid", userid)])
            .await?;
        parse(path, body)
    }

    /// Every department visible to the secret's app (`cgi-bin/department/list` without `id`).
    pub async fn wecom_department_list(
        &self,
        corpid: &str,
        secret: &str,
    ) -> Result<Vec<WecomDepartment>, WechatError> {
        let path = "/cgi-bin/department/list";
        let body = self.wecom_get(corpid, secret, path, &[]).await?;
        let list: DepartmentListResponse = parse(path, body)?;
        Ok(list.department)
    }

    /// Members of a department with details (`cgi-bin/user/list`); `fetch_child` includes
    /// the members of its sub-departments.
    pub async fn wecom_user_list(
        &self,
        corpid: &str,
        secret: &str,
        department_id: i64,
        fetch_child: bool,
    ) -> Result<Vec<WecomUser>, WechatError> {
        #[derive(Deserialize)]
        struct UserListResponse {
            #[serde(default)]
            userlist: Vec<WecomUser>,
        }
        let path = "/cgi-bin/user/list";
        let department_id = department_id.to_string();
        let fetch_child = if fetch_child { "1" } else { "0" };
        let body = self
            .wecom_get(
                corpid,
                secret,
                path,
                &[
                    ("department_id", department_id.as_str()),
                    ("fetch_child", fetch_child),
                ],
            )
            .await?;
        let list: UserListResponse = parse(path, body)?;
        Ok(list.userlist)
    }

    /// mini program code2Session (plain sns/jscode2session with appid+secret)
    pub async fn jscode2session(
        &self,
        appid: &str,
        secret: &str,
        js_code: &str,
    ) -> Result<CodeSession, WechatError> {
        let path = "/sns/jscode2session";
        let url = format!("{}{path}", self.inner.hosts.api);
        let query = [
            ("appid", appid),
            ("secret", secret),
            ("js_code", js_code),
            ("grant_type", "authorization_code"),
        ];
        let body = self.get_json(path, &url, &query).await?;
        parse(path, body)
    }

    /// Mini-program (or official-account) token from `cgi-bin/token`, cached per
    /// (appid, secret) until <5 min remain (WECHAT.md §A.1, §F).
    pub async fn miniapp_token(&self, appid: &str, secret: &str) -> Result<String, WechatError> {
        let slot = self.app_token_slot(appid, secret);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref() {
            if Instant::now() < token.refresh_at {
                return Ok(token.token.clone());
            }
        }
        let path = "/cgi-bin/token";
        let url = format!("{}{path}", self.inner.hosts.api);
        let fetched_at = Instant::now();
        let body = self
            .get_json(
                path,
                &url,
                &[
                    ("grant_type", "client_credential"),
                    ("appid", appid),
                    ("secret", secret),
                ],
            )
            .await?;
        let fresh = cached_token(parse(path, body)?, fetched_at);
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// An unlimited mini-program code (`wxa/getwxacodeunlimit`, WECHAT.md §B.3) for `scene`
    /// (at most 32 chars of `[0-9A-Za-z!#$&'()*+,/:;=?@-._~]`), opening `page` (`None` = the
    /// home page; WeChat then checks the page exists in the released version). Returns the
    /// image bytes as WeChat sent them (PNG or JPEG). A token error drops the cached token and
    /// repeats the call once; 45009 and every other errcode are returned as they are.
    pub async fn wxacode_unlimit(
        &self,
        appid: &str,
        secret: &str,
        scene: &str,
        page: Option<&str>,
    ) -> Result<Vec<u8>, WechatError> {
        let mut body = serde_json::Map::new();
        body.insert("scene".into(), Value::String(scene.to_owned()));
        if let Some(page) = page {
            body.insert("page".into(), Value::String(page.to_owned()));
        }
        let body = Value::Object(body);
        let token = self.miniapp_token(appid, secret).await?;
        match self.post_for_image(WXACODE_PATH, &token, &body).await {
            Err(err) if err.is_token_error() => {
                tracing::debug!(
                    path = WXACODE_PATH,
                    errcode = err.errcode(),
                    "mini-program token rejected, refreshing"
                );
                self.invalidate_app_token(appid, secret, &token).await;
                let token = self.miniapp_token(appid, secret).await?;
                self.post_for_image(WXACODE_PATH, &token, &body).await
            }
            other => other,
        }
    }

    fn token_slot(&self, corpid: &str, secret: &str) -> Arc<TokenSlot> {
        slot_in(&self.inner.wecom_tokens, corpid, secret)
    }

    fn app_token_slot(&self, appid: &str, secret: &str) -> Arc<TokenSlot> {
        slot_in(&self.inner.app_tokens, appid, secret)
    }

    /// Drops the cached app token for (appid, secret) if it is still `stale`.
    async fn invalidate_app_token(&self, appid: &str, secret: &str, stale: &str) {
        drop_if_stale(&self.app_token_slot(appid, secret), stale).await;
    }

    /// One POST of a JSON body to an image-returning `api` endpoint (WECHAT.md §0.3):
    /// `Content-Type: image/*` is the image; otherwise the body must be a JSON error. A body
    /// with neither an image type nor JSON is taken as an image only when the type is absent
    /// or `application/octet-stream`.
    async fn post_for_image(
        &self,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Result<Vec<u8>, WechatError> {
        let transport = |e: reqwest::Error, what: &str| {
            WechatError::Transport(
                anyhow::Error::new(e.without_url()).context(format!("{what} {path}")),
            )
        };
        let url = format!("{}{path}", self.inner.hosts.api);
        let response = self
            .inner
            .http
            .post(url)
            .query(&[("access_token", token)])
            .json(body)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| transport(e, "sending"))?;
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

    /// Drops the cached token for (corpid, secret) if it is still `stale`.
    async fn invalidate_wecom_token(&self, corpid: &str, secret: &str, stale: &str) {
        drop_if_stale(&self.token_slot(corpid, secret), stale).await;
    }

    async fn fetch_wecom_token(
        &self,
        corpid: &str,
        secret: &str,
    ) -> Result<CachedToken, WechatError> {
        let path = "/cgi-bin/gettoken";
        let url = format!("{}{path}", self.inner.hosts.qyapi);
        let fetched_at = Instant::now();
        let body = self
            .get_json(path, &url, &[("corpid", corpid), ("corpsecret", secret)])
            .await?;
        Ok(cached_token(parse(path, body)?, fetched_at))
    }

    /// GET on the WeCom host with the cached token; on a token error the token is dropped,
    /// a new one fetched and the call repeated exactly once.
    async fn wecom_get(
        &self,
        corpid: &str,
        secret: &str,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<Value, WechatError> {
        let url = format!("{}{path}", self.inner.hosts.qyapi);
        let token = self.wecom_token(corpid, secret).await?;
        match self.get_json(path, &url, &with_token(&token, params)).await {
            Err(err) if err.is_token_error() => {
                tracing::debug!(
                    path,
                    errcode = err.errcode(),
                    "wecom token rejected, refreshing"
                );
                self.invalidate_wecom_token(corpid, secret, &token).await;
                let token = self.wecom_token(corpid, secret).await?;
                self.get_json(path, &url, &with_token(&token, params)).await
            }
            other => other,
        }
    }

    /// One GET; the body must be JSON and carry no non-zero errcode. `path` is only for logs
    /// and error messages: `url` and `query` may hold secrets and are never printed.
    async fn get_json(
        &self,
        path: &str,
        url: &str,
        query: &[(&str, &str)],
    ) -> Result<Value, WechatError> {
        let transport = |e: reqwest::Error, what: &str| {
            WechatError::Transport(
                anyhow::Error::new(e.without_url()).context(format!("{what} {path}")),
            )
        };
        let response = self
            .inner
            .http
            .get(url)
            .query(query)
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

/// Path of the unlimited mini-program code API (WECHAT.md §B.3).
const WXACODE_PATH: &str = "/wxa/getwxacodeunlimit";

/// A token answer as cached: usable until [`TOKEN_REFRESH_MARGIN`] before its expiry.
fn cached_token(answer: TokenResponse, fetched_at: Instant) -> CachedToken {
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
async fn drop_if_stale(slot: &TokenSlot, stale: &str) {
    let mut cached = slot.lock().await;
    if cached.as_ref().is_some_and(|t| t.token == stale) {
        *cached = None;
    }
}

fn slot_in(
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

fn with_token<'a>(token: &'a str, params: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
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

fn parse<T: DeserializeOwned>(path: &str, body: Value) -> Result<T, WechatError> {
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
    fn gender_is_read_from_a_string_or_a_number() {
        let a: WecomUser = serde_json::from_value(json!({"userid": "a", "gender": "2"})).unwrap();
        let b: WecomUser = serde_json::from_value(json!({"userid": "b", "gender": 1})).unwrap();
        let c: WecomUser = serde_json::from_value(json!({"userid": "c", "gender": ""})).unwrap();
        assert_eq!((a.gender, b.gender, c.gender), (Some(2), Some(1), None));
    }

    #[test]
    fn legacy_and_current_identity_casings_both_parse() {
        let legacy: WecomIdentity =
            serde_json::from_value(json!({"UserId": "rep01", "DeviceId": "d"})).unwrap();
        let current: WecomIdentity = serde_json::from_value(json!({"openid": "o1"})).unwrap();
        assert_eq!(legacy.userid.as_deref(), Some("rep01"));
        assert_eq!(current.openid.as_deref(), Some("o1"));
    }

    #[test]
    fn code_session_debug_hides_the_session_key() {
        let s = CodeSession {
            openid: "o_alice".into(),
            session_key: "c2VjcmV0LWtleQ==".into(),
            unionid: None,
        };
        let printed = format!("{s:?}");
        assert!(printed.contains("o_alice"));
        assert!(!printed.contains("c2VjcmV0LWtleQ=="));
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
