//! WeCom (企业微信, host `qyapi`): token, OAuth code exchange and the address book
//! (WECHAT.md §C). The token cache lives in the shared [`WechatClient`].

use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{
    cached_token, drop_if_stale, num_or_str, parse, slot_in, with_token, CachedToken, TokenSlot,
    WechatClient, WechatError,
};

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

#[derive(Deserialize)]
struct DepartmentListResponse {
    #[serde(default)]
    department: Vec<WecomDepartment>,
}

impl WechatClient {
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

    pub(crate) fn token_slot(&self, corpid: &str, secret: &str) -> Arc<TokenSlot> {
        slot_in(&self.inner.wecom_tokens, corpid, secret)
    }

    /// Drops the cached token for (corpid, secret) if it is still `stale`.
    pub(crate) async fn invalidate_wecom_token(&self, corpid: &str, secret: &str, stale: &str) {
        drop_if_stale(&self.token_slot(corpid, secret), stale).await;
    }

    pub(crate) async fn fetch_wecom_token(
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
    pub(crate) async fn wecom_get(
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
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
