//! Open platform third-party platform (开放平台 第三方平台, "component", WECHAT.md §D): the
//! component token, pre-auth codes and grant links, `api_query_auth`, authorizer tokens and
//! info, the component variant of `jscode2session`, and the template library.
//!
//! Tokens for callers: [`access_token`] gives the shared `component_access_token` and
//! [`authorizer_token`] a company's authorizer token; both are cached per node, stored in
//! PostgreSQL and renewed ahead of expiry by one node at a time
//! (`crate::service::platform::token`, docs/wechat-platform.md). [`call`] runs a WeChat call
//! with the component token and repeats it once with a renewed one on 40001/42001.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::client::{num_or_str, parse, WechatClient, WechatError};
use super::wxa::CodeSession;
use crate::state::AppState;

/// The shared `component_access_token`, renewed when due (one node at a time across the
/// cluster). Errors: no platform configured, no verify ticket received yet (61006 as WeChat
/// would say), or WeChat's own errcode.
pub async fn access_token(state: &AppState) -> Result<String, WechatError> {
    crate::service::platform::token::component_token(state).await
}

/// The authorizer access token of the authorized account `appid` (a company's mini program or
/// official account), renewed through `api_authorizer_token` when due.
pub async fn authorizer_token(state: &AppState, appid: &str) -> Result<String, WechatError> {
    crate::service::platform::token::authorizer_token(state, appid).await
}

/// Runs `f` with the component token; on a token error (40001/40014/42001) the token is
/// marked stale, renewed and `f` repeated once (WECHAT.md §0.3).
pub async fn call<T, F, Fut>(state: &AppState, f: F) -> Result<T, WechatError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, WechatError>>,
{
    let token = access_token(state).await?;
    match f(token.clone()).await {
        Err(e) if e.is_token_error() => {
            tracing::debug!(errcode = e.errcode(), "component token rejected, renewing");
            crate::service::platform::token::component_token_rejected(state, &token).await;
            let token = access_token(state).await?;
            f(token).await
        }
        other => other,
    }
}

/// Runs `f` with the authorizer token of `appid`, renewing and repeating once on a token error.
pub async fn call_as<T, F, Fut>(state: &AppState, appid: &str, f: F) -> Result<T, WechatError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, WechatError>>,
{
    let token = authorizer_token(state, appid).await?;
    match f(token.clone()).await {
        Err(e) if e.is_token_error() => {
            tracing::debug!(errcode = e.errcode(), "authorizer token rejected, renewing");
            crate::service::platform::token::authorizer_token_rejected(state, appid, &token).await;
            let token = authorizer_token(state, appid).await?;
            f(token).await
        }
        other => other,
    }
}

/// `api_component_token` answer (D.3).
#[derive(Debug, Deserialize)]
pub struct ComponentToken {
    /// The token.
    pub component_access_token: String,
    /// Seconds it lives.
    #[serde(default, deserialize_with = "num_or_str::opt_i64")]
    pub expires_in: Option<i64>,
}

/// `api_create_preauthcode` answer (D.4).
#[derive(Debug, Deserialize)]
pub struct PreAuthCode {
    /// The code for the grant link.
    pub pre_auth_code: String,
    /// Seconds it lives (trust it, §0.5).
    #[serde(default, deserialize_with = "num_or_str::opt_i64")]
    pub expires_in: Option<i64>,
}

/// `authorization_info` of `api_query_auth` (D.6).
#[derive(Debug, Deserialize)]
pub struct AuthorizationInfo {
    /// The account that authorized us.
    pub authorizer_appid: String,
    /// Its access token.
    #[serde(default)]
    pub authorizer_access_token: String,
    /// Seconds the token lives.
    #[serde(default, deserialize_with = "num_or_str::opt_i64")]
    pub expires_in: Option<i64>,
    /// The long-lived refresh token: persist it.
    #[serde(default)]
    pub authorizer_refresh_token: String,
    /// Granted permission sets.
    #[serde(default)]
    pub func_info: Vec<FuncInfo>,
}

/// One granted permission set.
#[derive(Debug, Deserialize)]
pub struct FuncInfo {
    /// `{"id": n}`.
    pub funcscope_category: FuncScope,
}

/// Permission set id.
#[derive(Debug, Deserialize)]
pub struct FuncScope {
    /// 17/18 code management and codes, 1.. for official accounts.
    #[serde(deserialize_with = "num_or_str::i64")]
    pub id: i64,
}

/// `api_authorizer_token` answer (D.7).
#[derive(Debug, Deserialize)]
pub struct AuthorizerToken {
    /// The new access token.
    pub authorizer_access_token: String,
    /// Seconds it lives.
    #[serde(default, deserialize_with = "num_or_str::opt_i64")]
    pub expires_in: Option<i64>,
    /// The refresh token to store from now on.
    #[serde(default)]
    pub authorizer_refresh_token: Option<String>,
}

/// The parts of `api_get_authorizer_info` (D.8) the admin pages show.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AuthorizerInfo {
    /// `nick_name`.
    pub name: String,
    /// `head_img`.
    pub head_img: String,
    /// `principal_name` (主体).
    pub principal_name: String,
    /// `verify_type_info.id != -1`.
    pub verified: bool,
    /// Mini program categories joined as `first\second`, or the official account's service
    /// type; empty when unknown.
    pub service_category: String,
    /// `qrcode_url`.
    pub qrcode_url: String,
    /// Whether `MiniProgramInfo` is present (the only reliable kind marker, §D.8).
    pub is_mini_program: bool,
    /// Granted permission sets.
    pub func_ids: Vec<i64>,
}

impl AuthorizerInfo {
    fn from_answer(v: &Value) -> Self {
        let info = &v["authorizer_info"];
        let s = |k: &str| info[k].as_str().unwrap_or_default().to_owned();
        let verify = info["verify_type_info"]["id"].as_i64().unwrap_or(-1);
        let mini = info.get("MiniProgramInfo").filter(|m| m.is_object());
        let service_category = match mini {
            Some(m) => m["categories"]
                .as_array()
                .map(|cats| {
                    cats.iter()
                        .map(|c| {
                            [c["first"].as_str(), c["second"].as_str()]
                                .into_iter()
                                .flatten()
                                .filter(|x| !x.is_empty())
                                .collect::<Vec<_>>()
                                .join("\\")
                        })
                        .filter(|c| !c.is_empty())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default(),
            None => match info["service_type_info"]["id"].as_i64() {
                Some(2) => "服务号".to_owned(),
                Some(0 | 1) => "订阅号".to_owned(),
                _ => String::new(),
            },
        };
        let func_ids = v["authorization_info"]["func_info"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["funcscope_category"]["id"].as_i64())
                    .collect()
            })
            .unwrap_or_default();
        Self {
            name: s("nick_name"),
            head_img: s("head_img"),
            principal_name: s("principal_name"),
            verified: verify != -1,
            service_category,
            qrcode_url: s("qrcode_url"),
            is_mini_program: mini.is_some(),
            func_ids,
        }
    }
}

/// Paths of the component APIs (D.3–D.8), relative to the `api` host.
const COMPONENT_TOKEN: &str = "/cgi-bin/component/api_component_token";
const PREAUTHCODE: &str = "/cgi-bin/component/api_create_preauthcode";
const QUERY_AUTH: &str = "/cgi-bin/component/api_query_auth";
const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";
const AUTHORIZER_INFO: &str = "/cgi-bin/component/api_get_authorizer_info";
const JSCODE2SESSION: &str = "/sns/component/jscode2session";

impl WechatClient {
    fn api_url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.hosts.api)
    }

    /// `api_component_token` (D.3): needs the latest pushed verify ticket.
    pub async fn component_token(
        &self,
        component_appid: &str,
        component_secret: &str,
        verify_ticket: &str,
    ) -> Result<ComponentToken, WechatError> {
        let body = json!({
            "component_appid": component_appid,
            "component_appsecret": component_secret,
            "component_verify_ticket": verify_ticket,
        });
        let answer = self
            .post_json(COMPONENT_TOKEN, &self.api_url(COMPONENT_TOKEN), &[], &body)
            .await?;
        parse(COMPONENT_TOKEN, answer)
    }

    /// `api_create_preauthcode` (D.4).
    pub async fn create_preauthcode(
        &self,
        component_token: &str,
        component_appid: &str,
    ) -> Result<PreAuthCode, WechatError> {
        let answer = self
            .post_json(
                PREAUTHCODE,
                &self.api_url(PREAUTHCODE),
                &[("component_access_token", component_token)],
                &json!({"component_appid": component_appid}),
            )
            .await?;
        parse(PREAUTHCODE, answer)
    }

    /// The mobile grant link (D.5) for `pre_auth_code`: `auth_type` 1 official accounts,
    /// 2 mini programs; `biz_appid` restricts it to one account.
    pub fn grant_url(
        &self,
        component_appid: &str,
        pre_auth_code: &str,
        redirect_uri: &str,
        auth_type: u8,
        biz_appid: Option<&str>,
    ) -> String {
        let mut url = format!(
            "{}/safe/bindcomponent?action=bindcomponent&no_scan=1&component_appid={}&pre_auth_code={}&redirect_uri={}&auth_type={auth_type}",
            self.inner.hosts.mp,
            urlencode(component_appid),
            urlencode(pre_auth_code),
            urlencode(redirect_uri),
        );
        if let Some(biz) = biz_appid {
            url.push_str("&biz_appid=");
            url.push_str(&urlencode(biz));
        }
        url.push_str("#wechat_redirect");
        url
    }

    /// `api_query_auth` (D.6): the authorization code of the callback → the authorizer and
    /// its tokens.
    pub async fn query_auth(
        &self,
        component_token: &str,
        component_appid: &str,
        authorization_code: &str,
    ) -> Result<AuthorizationInfo, WechatError> {
        #[derive(Deserialize)]
        struct Answer {
            authorization_info: AuthorizationInfo,
        }
        let answer = self
            .post_json(
                QUERY_AUTH,
                &self.api_url(QUERY_AUTH),
                &[("component_access_token", component_token)],
                &json!({"component_appid": component_appid, "authorization_code": authorization_code}),
            )
            .await?;
        parse::<Answer>(QUERY_AUTH, answer).map(|a| a.authorization_info)
    }

    /// `api_authorizer_token` (D.7).
    pub async fn refresh_authorizer_token(
        &self,
        component_token: &str,
        component_appid: &str,
        authorizer_appid: &str,
        refresh_token: &str,
    ) -> Result<AuthorizerToken, WechatError> {
        let answer = self
            .post_json(
                AUTHORIZER_TOKEN,
                &self.api_url(AUTHORIZER_TOKEN),
                &[("component_access_token", component_token)],
                &json!({
                    "component_appid": component_appid,
                    "authorizer_appid": authorizer_appid,
                    "authorizer_refresh_token": refresh_token,
                }),
            )
            .await?;
        parse(AUTHORIZER_TOKEN, answer)
    }

    /// `api_get_authorizer_info` (D.8).
    pub async fn authorizer_info(
        &self,
        component_token: &str,
        component_appid: &str,
        authorizer_appid: &str,
    ) -> Result<AuthorizerInfo, WechatError> {
        let answer = self
            .post_json(
                AUTHORIZER_INFO,
                &self.api_url(AUTHORIZER_INFO),
                &[("component_access_token", component_token)],
                &json!({"component_appid": component_appid, "authorizer_appid": authorizer_appid}),
            )
            .await?;
        Ok(AuthorizerInfo::from_answer(&answer))
    }

    /// `sns/component/jscode2session` (B.2): customer login into an authorizer mini program.
    pub async fn component_jscode2session(
        &self,
        component_token: &str,
        component_appid: &str,
        appid: &str,
        js_code: &str,
    ) -> Result<CodeSession, WechatError> {
        let answer = self
            .get_json(
                JSCODE2SESSION,
                &self.api_url(JSCODE2SESSION),
                &[
                    ("appid", appid),
                    ("js_code", js_code),
                    ("grant_type", "authorization_code"),
                    ("component_appid", component_appid),
                    ("component_access_token", component_token),
                ],
            )
            .await?;
        parse(JSCODE2SESSION, answer)
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::wechat::WechatHosts;

    #[test]
    fn authorizer_info_tells_mini_programs_apart_and_reads_categories() {
        let v = json!({"authorizer_info": {"nick_name": "诸葛雷达", "head_img": "h", "principal_name": "p",
            "verify_type_info": {"id": 0}, "qrcode_url": "q",
            "MiniProgramInfo": {"categories": [{"first": "IT", "second": "技术"}]}},
            "authorization_info": {"func_info": [{"funcscope_category": {"id": 17}}, {"funcscope_category": {"id": 18}}]}});
        let info = AuthorizerInfo::from_answer(&v);
        assert!(info.is_mini_program && info.verified);
        assert_eq!(info.service_category, "IT\\技术");
        assert_eq!(info.func_ids, vec![17, 18]);
        let oa = AuthorizerInfo::from_answer(
            &json!({"authorizer_info": {"verify_type_info": {"id": -1}, "service_type_info": {"id": 2}}}),
        );
        assert!(!oa.is_mini_program && !oa.verified);
        assert_eq!(oa.service_category, "服务号");
    }

    #[test]
    fn the_grant_link_escapes_its_parameters() {
        let c = WechatClient::new(WechatHosts::production(), reqwest::Client::new());
        let url = c.grant_url(
            "wx67e2fde0f694111c",
            "preauthcode@@@rxaj",
            "http://api.zhugeyingxiao.com/zhugeleida/admin/open_weixin/auth_code",
            2,
            None,
        );
        assert_eq!(url, "https://mp.weixin.qq.com/safe/bindcomponent?action=bindcomponent&no_scan=1&component_appid=wx67e2fde0f694111c&pre_auth_code=preauthcode%40%40%40rxaj&redirect_uri=http%3A%2F%2Fapi.zhugeyingxiao.com%2Fzhugeleida%2Fadmin%2Fopen_weixin%2Fauth_code&auth_type=2#wechat_redirect");
    }
}
