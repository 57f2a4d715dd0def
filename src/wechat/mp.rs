//! Official account (公众号) calls (WECHAT.md A): the web-OAuth code exchange
//! `sns/oauth2/access_token`, `sns/userinfo`, and the JS-SDK ticket `cgi-bin/ticket/getticket`
//! (with the account's `cgi-bin/token`, refreshed once on a token error). Secrets, codes and
//! tokens never reach a log.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::client::{WechatClient, WechatError};

/// A user's web-OAuth grant (A.5). The access token is the user's, not the account's.
#[derive(Clone, Deserialize)]
pub struct WebGrant {
    pub access_token: String,
    pub openid: String,
    /// Comma-separated scopes.
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub unionid: Option<String>,
}

impl fmt::Debug for WebGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebGrant")
            .field("access_token", &"<redacted>")
            .field("openid", &self.openid)
            .field("scope", &self.scope)
            .finish()
    }
}

impl WebGrant {
    /// Whether the user agreed to share their profile (`snsapi_userinfo`).
    pub fn has_userinfo(&self) -> bool {
        self.scope.split(',').any(|s| s.trim() == "snsapi_userinfo")
    }
}

/// `sns/userinfo` (A.6). `sex` comes as a number or a string.
#[derive(Clone, Debug, Deserialize)]
pub struct SnsUser {
    pub openid: String,
    #[serde(default)]
    pub nickname: String,
    #[serde(default, deserialize_with = "super::client::num_or_str::opt_i64")]
    pub sex: Option<i64>,
    #[serde(default)]
    pub province: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub headimgurl: String,
    #[serde(default)]
    pub unionid: Option<String>,
}

/// A JS-SDK ticket and its lifetime in seconds (A.2).
#[derive(Clone, Deserialize)]
pub struct Ticket {
    pub ticket: String,
    #[serde(default, deserialize_with = "super::client::num_or_str::opt_i64")]
    pub expires_in: Option<i64>,
}

fn parse<T: for<'de> Deserialize<'de>>(path: &str, body: Value) -> Result<T, WechatError> {
    serde_json::from_value(body).map_err(|e| {
        WechatError::Transport(
            anyhow::Error::new(e).context(format!("{path}: unexpected answer shape")),
        )
    })
}

impl WechatClient {
    /// Web OAuth: `code` → the user's grant, with the account's own `appid` + `secret` (A.5).
    pub async fn mp_oauth_grant(
        &self,
        appid: &str,
        secret: &str,
        code: &str,
    ) -> Result<WebGrant, WechatError> {
        let path = "/sns/oauth2/access_token";
        let url = format!("{}{path}", self.hosts().api);
        let body = self
            .get_json(
                path,
                &url,
                &[
                    ("appid", appid),
                    ("secret", secret),
                    ("code", code),
                    ("grant_type", "authorization_code"),
                ],
            )
            .await?;
        parse(path, body)
    }

    /// The user's profile, with a grant of scope `snsapi_userinfo` (A.6).
    pub async fn mp_userinfo(&self, grant: &WebGrant) -> Result<SnsUser, WechatError> {
        let path = "/sns/userinfo";
        let url = format!("{}{path}", self.hosts().api);
        let body = self
            .get_json(
                path,
                &url,
                &[
                    ("access_token", grant.access_token.as_str()),
                    ("openid", grant.openid.as_str()),
                    ("lang", "zh_CN"),
                ],
            )
            .await?;
        parse(path, body)
    }

    /// A fresh JS-SDK ticket of the account (A.2). Callers cache it (`service::gzh::ticket`).
    pub async fn mp_jsapi_ticket(&self, appid: &str, secret: &str) -> Result<Ticket, WechatError> {
        let path = "/cgi-bin/ticket/getticket";
        let url = format!("{}{path}", self.hosts().api);
        let token = self.miniapp_token(appid, secret).await?;
        let query = |t: &str| [("access_token", t.to_owned()), ("type", "jsapi".to_owned())];
        let q = query(&token);
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = match self.get_json(path, &url, &q).await {
            Err(e) if e.is_token_error() => {
                tracing::debug!(
                    path,
                    errcode = e.errcode(),
                    "official-account token rejected, refreshing"
                );
                self.invalidate_app_token(appid, secret, &token).await;
                let token = self.miniapp_token(appid, secret).await?;
                let q = query(&token);
                let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
                self.get_json(path, &url, &q).await?
            }
            other => other?,
        };
        parse(path, body)
    }
}
