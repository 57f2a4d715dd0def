//! Mini program (小程序, host `api`): `code2Session`, the app's own `cgi-bin/token` and
//! mini-program codes (WECHAT.md §B), plus code management on behalf of authorizers
//! (代小程序, §E) with the authorizer tokens of [`super::component`].

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{
    cached_token, drop_if_stale, parse, slot_in, TokenSlot, WechatClient, WechatError,
};

/// Path of the unlimited mini-program code API (WECHAT.md §B.3).
pub(crate) const WXACODE_PATH: &str = "/wxa/getwxacodeunlimit";

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

impl WechatClient {
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

    /// `wxa/getwxacodeunlimit` with a token the caller manages (an authorizer token, see
    /// [`super::component::call_as`]): no caching or retry here.
    pub async fn wxacode_unlimit_as(
        &self,
        token: &str,
        scene: &str,
        page: Option<&str>,
    ) -> Result<Vec<u8>, WechatError> {
        let mut body = serde_json::Map::new();
        body.insert("scene".into(), Value::String(scene.to_owned()));
        if let Some(page) = page {
            body.insert("page".into(), Value::String(page.to_owned()));
        }
        self.post_for_image(WXACODE_PATH, token, &Value::Object(body))
            .await
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

    pub(crate) fn app_token_slot(&self, appid: &str, secret: &str) -> Arc<TokenSlot> {
        slot_in(&self.inner.app_tokens, appid, secret)
    }

    /// Drops the cached app token for (appid, secret) if it is still `stale`.
    pub(crate) async fn invalidate_app_token(&self, appid: &str, secret: &str, stale: &str) {
        drop_if_stale(&self.app_token_slot(appid, secret), stale).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

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
}
