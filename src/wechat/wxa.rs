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

/// Paths of the code-management APIs (WECHAT.md §E), relative to the `api` host.
pub(crate) mod code_paths {
    pub const TEMPLATE_LIST: &str = "/wxa/gettemplatelist";
    pub const COMMIT: &str = "/wxa/commit";
    pub const GET_QRCODE: &str = "/wxa/get_qrcode";
    pub const GET_CATEGORY: &str = "/wxa/get_category";
    pub const GET_PAGE: &str = "/wxa/get_page";
    pub const SUBMIT_AUDIT: &str = "/wxa/submit_audit";
    pub const LATEST_AUDIT: &str = "/wxa/get_latest_auditstatus";
    pub const UNDO_AUDIT: &str = "/wxa/undocodeaudit";
    pub const RELEASE: &str = "/wxa/release";
    pub const REVERT: &str = "/wxa/revertcoderelease";
}

/// `wxa/get_latest_auditstatus` (E.8): `status` 0 approved, 1 rejected, 2 auditing,
/// 3 withdrawn, 4 delayed. Accepts both key casings and a string or numeric `auditid`.
#[derive(Clone, Debug, Deserialize)]
pub struct LatestAudit {
    /// The audit.
    #[serde(default, deserialize_with = "super::client::num_or_str::opt_i64")]
    pub auditid: Option<i64>,
    /// Its status.
    #[serde(deserialize_with = "super::client::num_or_str::i64")]
    pub status: i64,
    /// Why it was rejected or delayed.
    #[serde(default)]
    pub reason: String,
    /// The audited version (`user_version`), when WeChat says.
    #[serde(default)]
    pub user_version: Option<String>,
}

/// One category of `wxa/get_category` (E.4).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CodeCategory {
    /// First-level name.
    #[serde(default)]
    pub first_class: String,
    /// Second-level name.
    #[serde(default)]
    pub second_class: String,
    /// First-level id.
    #[serde(default, deserialize_with = "super::client::num_or_str::opt_i64")]
    pub first_id: Option<i64>,
    /// Second-level id.
    #[serde(default, deserialize_with = "super::client::num_or_str::opt_i64")]
    pub second_id: Option<i64>,
}

/// Code management on behalf of an authorizer (代小程序, WECHAT.md §E). Every call takes the
/// authorizer token (template list: the component token) and is made once: the caller runs
/// it through [`super::component::call_as`] for the renew-and-repeat rule.
impl WechatClient {
    fn code_url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.hosts.api)
    }

    /// `wxa/gettemplatelist` (E.1, component token): WeChat's `template_list`, passed through.
    pub async fn template_list(&self, component_token: &str) -> Result<Vec<Value>, WechatError> {
        let p = code_paths::TEMPLATE_LIST;
        let body = self
            .get_json(p, &self.code_url(p), &[("access_token", component_token)])
            .await?;
        Ok(body
            .get("template_list")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// `wxa/commit` (E.2); `ext_json` is sent as a JSON-encoded string.
    pub async fn code_commit(
        &self,
        token: &str,
        template_id: i64,
        ext_json: &str,
        user_version: &str,
        user_desc: &str,
    ) -> Result<(), WechatError> {
        let p = code_paths::COMMIT;
        let body = serde_json::json!({"template_id": template_id, "ext_json": ext_json,
            "user_version": user_version, "user_desc": user_desc});
        self.post_json(p, &self.code_url(p), &[("access_token", token)], &body)
            .await
            .map(drop)
    }

    /// `wxa/get_qrcode` (E.3): the trial version's QR image bytes.
    pub async fn trial_qrcode(&self, token: &str) -> Result<Vec<u8>, WechatError> {
        self.image_call(
            reqwest::Method::GET,
            code_paths::GET_QRCODE,
            &[("access_token", token)],
            None,
        )
        .await
    }

    /// `wxa/get_category` (E.4).
    pub async fn code_categories(&self, token: &str) -> Result<Vec<CodeCategory>, WechatError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            category_list: Vec<CodeCategory>,
        }
        let p = code_paths::GET_CATEGORY;
        let body = self
            .get_json(p, &self.code_url(p), &[("access_token", token)])
            .await?;
        parse::<Answer>(p, body).map(|a| a.category_list)
    }

    /// `wxa/get_page` (E.5): the committed code's pages.
    pub async fn code_pages(&self, token: &str) -> Result<Vec<String>, WechatError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            page_list: Vec<String>,
        }
        let p = code_paths::GET_PAGE;
        let body = self
            .get_json(p, &self.code_url(p), &[("access_token", token)])
            .await?;
        parse::<Answer>(p, body).map(|a| a.page_list)
    }

    /// `wxa/submit_audit` (E.6) with `body` (`item_list` …); the `auditid`.
    pub async fn submit_audit(&self, token: &str, body: &Value) -> Result<i64, WechatError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(deserialize_with = "super::client::num_or_str::i64")]
            auditid: i64,
        }
        let p = code_paths::SUBMIT_AUDIT;
        let answer = self
            .post_json(p, &self.code_url(p), &[("access_token", token)], body)
            .await?;
        parse::<Answer>(p, answer).map(|a| a.auditid)
    }

    /// `wxa/get_latest_auditstatus` (E.8).
    pub async fn latest_audit_status(&self, token: &str) -> Result<LatestAudit, WechatError> {
        let p = code_paths::LATEST_AUDIT;
        let body = self
            .get_json(p, &self.code_url(p), &[("access_token", token)])
            .await?;
        parse(p, body)
    }

    /// `wxa/undocodeaudit` (E.9).
    pub async fn undo_code_audit(&self, token: &str) -> Result<(), WechatError> {
        let p = code_paths::UNDO_AUDIT;
        self.get_json(p, &self.code_url(p), &[("access_token", token)])
            .await
            .map(drop)
    }

    /// `wxa/release` (E.10), body `{}`.
    pub async fn release_code(&self, token: &str) -> Result<(), WechatError> {
        let p = code_paths::RELEASE;
        self.post_json(
            p,
            &self.code_url(p),
            &[("access_token", token)],
            &serde_json::json!({}),
        )
        .await
        .map(drop)
    }

    /// `wxa/revertcoderelease` (E.11): back to the previous live version.
    pub async fn revert_code_release(&self, token: &str) -> Result<(), WechatError> {
        let p = code_paths::REVERT;
        self.get_json(p, &self.code_url(p), &[("access_token", token)])
            .await
            .map(drop)
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
