//! The customer in the official account (API.md 5.2): the OAuth URLs (GZH-05, GZH-08), sign-in
//! (GZH-07, both forms of A-84) and the JS-SDK signature with its ticket shared by all nodes
//! (GZH-09).
//!
//! Which official account: API.md wants each company's own authorized account, reached through
//! the third-party platform (`sns/oauth2/component/access_token`). Until the platform's
//! component token exists on main, one official account per installation stands in
//! (`ZGLD_GZH_APPID` / `ZGLD_GZH_SECRET`, the sandbox's demo account by default) with the plain
//! web OAuth (`sns/oauth2/access_token`); [`exchange`] is the one place that changes when the
//! component flow arrives (docs/articles.md).

use chrono::{Duration, Utc};
use rand::{distributions::Alphanumeric, Rng};
use serde_json::{json, Value};
use url::form_urlencoded::byte_serialize;

use crate::{
    db::{self, gzh::OaProfile},
    domain::{article::Relate, secret::Secret},
    error::ApiError,
    state::AppState,
    wechat::mp::WebGrant,
};

/// The official account and the URLs around it.
#[derive(Clone, Debug)]
pub struct GzhSettings {
    /// The official account's appid (`ZGLD_GZH_APPID`).
    pub appid: String,
    /// Its AppSecret (`ZGLD_GZH_SECRET`). Never logged.
    pub secret: Secret,
    /// The H5 front end (`ZGLD_GZH_FRONT_URL`): article pages are `/yulanwenzhang/{id}`.
    pub front_url: String,
    /// This API as WeChat's browser reaches it (`ZGLD_PUBLIC_URL`): share links send the
    /// reader's browser to GZH-07 here.
    pub public_url: String,
    /// GZH-05's redirect without an article (`ZGLD_GZH_REDIRECT_URI`, default `<front>/admin/`).
    pub redirect_uri: String,
}

impl GzhSettings {
    /// The sandbox's demo official account, front end and API on this machine.
    pub fn local_default() -> Self {
        GzhSettings {
            appid: "wxsandboxgzh".into(),
            secret: Secret::new("sandbox-gzh-secret"),
            front_url: "http://zhugeleida.zhugeyingxiao.com".into(),
            public_url: "http://127.0.0.1:8000".into(),
            redirect_uri: "http://zhugeleida.zhugeyingxiao.com/admin/".into(),
        }
    }

    /// Reads `ZGLD_GZH_*` and `ZGLD_PUBLIC_URL` on top of `self`.
    pub fn read_env(&mut self) {
        let env = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        if let Some(v) = env("ZGLD_GZH_APPID") {
            self.appid = v;
        }
        if let Some(v) = env("ZGLD_GZH_SECRET") {
            self.secret = Secret::new(v);
        }
        if let Some(v) = env("ZGLD_GZH_FRONT_URL") {
            self.front_url = v.trim_end_matches('/').to_owned();
            self.redirect_uri = format!("{}/admin/", self.front_url);
        }
        if let Some(v) = env("ZGLD_PUBLIC_URL") {
            self.public_url = v.trim_end_matches('/').to_owned();
        }
        if let Some(v) = env("ZGLD_GZH_REDIRECT_URI") {
            self.redirect_uri = v;
        }
    }
}

fn enc(s: &str) -> String {
    byte_serialize(s.as_bytes()).collect()
}

/// WeChat's authorize URL (WECHAT.md A.4; `state` = the scope, as the seeds do).
pub fn authorize_url(state: &AppState, redirect: &str, scope: &str) -> String {
    let g = &state.settings.gzh;
    format!(
        "{}/connect/oauth2/authorize?appid={}&redirect_uri={}&response_type=code&scope={scope}&state={scope}#wechat_redirect",
        state.wechat.hosts().open,
        g.appid,
        enc(redirect)
    )
}

/// The article page of the front end.
pub fn article_page(state: &AppState, article_id: i64, r: &Relate) -> String {
    let v = |x: Option<i64>| x.map(|n| n.to_string()).unwrap_or_default();
    format!(
        "{}/yulanwenzhang/{article_id}?pid={}&level={}&uid={}&company_id={}",
        state.settings.gzh.front_url,
        v(r.pid),
        v(r.level.or(Some(1))),
        v(r.uid),
        v(r.company_id)
    )
}

/// GZH-08: the share link of a reader (the caller becomes the new `pid`, `level` + 1),
/// through WeChat's silent OAuth back to GZH-07 with the packed `relate`.
pub fn share_url(state: &AppState, r: &Relate) -> String {
    let target = format!(
        "{}/zhugeleida/gongzhonghao/work_gongzhonghao_auth?relate={}",
        state.settings.gzh.public_url,
        r.pack()
    );
    authorize_url(state, &target, "snsapi_base")
}

/// GZH-07 input (separate parameters; `relate` is unpacked into them by the handler).
#[derive(Debug, Default)]
pub struct SignInInput {
    pub code: String,
    pub appid: Option<String>,
    pub scope: Option<String>,
    pub article_id: Option<i64>,
    pub relate: Relate,
}

/// GZH-07's answer.
pub enum SignIn {
    /// Scenario 1: the customer must agree to share the profile (`is_verify` false).
    Verify(String),
    /// Scenario 2.
    LoggedIn { user_id: i64, token: String },
}

/// The one place that knows which OAuth flavour and which official account serve a company
/// (see the module documentation).
async fn exchange(state: &AppState, _company_id: i64, code: &str) -> Result<WebGrant, ApiError> {
    let g = &state.settings.gzh;
    state
        .wechat
        .mp_oauth_grant(&g.appid, g.secret.expose(), code)
        .await
        .map_err(|e| ApiError::wechat("公众号登录", e))
}

/// GZH-07: code → openid; a customer without a profile (or a `snsapi_base` code of an unknown
/// customer) is sent through the consent page; otherwise the customer is created or updated,
/// related to the salesperson (source 2 转发) and logged in.
pub async fn sign_in(state: &AppState, i: SignInInput) -> Result<SignIn, ApiError> {
    let g = &state.settings.gzh;
    if i.appid.as_deref().is_some_and(|a| a != g.appid) {
        return Err(ApiError::form("appid 不是本公众号"));
    }
    let r = &i.relate;
    let db = state.db.get().await?;
    let uid_company = match r.uid {
        Some(uid) => Some(state.people.user(state, uid).await?.company_id),
        None => None,
    };
    let article_company = match i.article_id {
        Some(a) => Some(
            db::article::brief(&db, a)
                .await?
                .ok_or_else(ApiError::not_found)?
                .0,
        ),
        None => None,
    };
    let company_id = r
        .company_id
        .or(uid_company)
        .or(article_company)
        .ok_or_else(|| ApiError::form("company_id 不能为空"))?;
    if [uid_company, article_company]
        .iter()
        .flatten()
        .any(|c| *c != company_id)
    {
        return Err(ApiError::not_found());
    }
    db::company::get(&db, company_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    drop(db);
    let grant = exchange(state, company_id, &i.code).await?;
    let wants_profile = grant.has_userinfo()
        || i.scope.as_deref() == Some("snsapi_userinfo") && grant.scope.is_empty();
    let mut client = state.db.get().await?;
    let profile = if wants_profile {
        let u = state
            .wechat
            .mp_userinfo(&grant)
            .await
            .map_err(|e| ApiError::wechat("获取公众号用户信息", e))?;
        Some(OaProfile {
            username: u.nickname,
            headimgurl: u.headimgurl,
            sex: u
                .sex
                .and_then(|s| i16::try_from(s).ok())
                .filter(|s| *s == 1 || *s == 2),
            area: format!("{}{}", u.province, u.city),
        })
    } else {
        match db::gzh::find(&client, company_id, &grant.openid).await? {
            Some((_, true)) => None,
            _ => {
                let page = article_page(state, i.article_id.unwrap_or(0), r);
                return Ok(SignIn::Verify(authorize_url(
                    state,
                    &page,
                    "snsapi_userinfo",
                )));
            }
        }
    };
    let tx = client.transaction().await?;
    let (id, token) = db::gzh::login(
        &tx,
        company_id,
        &grant.openid,
        grant.unionid.as_deref(),
        profile.as_ref(),
        &state.settings.auth,
    )
    .await?;
    if let Some(uid) = r.uid {
        db::customer::relate(&tx, company_id, uid, id, 2).await?;
    }
    tx.commit().await?;
    state.auth_cache.forget_customer(id);
    tracing::info!(customer_id = id, company_id, "official-account login");
    Ok(SignIn::LoggedIn { user_id: id, token })
}

/// Renew a cached ticket once less than this remains.
const TICKET_MARGIN_SECS: i64 = 300;

/// The official account's jsapi_ticket, fetched from WeChat at most once per lifetime across
/// every node: the row in `wechat_ticket` is read first; a node that finds it stale takes a
/// transaction-scoped advisory lock, reads again (another node may have just refreshed it),
/// and only then asks WeChat.
pub async fn jsapi_ticket(state: &AppState) -> Result<String, ApiError> {
    let g = &state.settings.gzh;
    let fresh_until = Utc::now() + Duration::seconds(TICKET_MARGIN_SECS);
    let mut client = state.db.get().await?;
    if let Some(t) = db::gzh::ticket(&client, &g.appid, "jsapi", fresh_until).await? {
        return Ok(t);
    }
    let tx = client.transaction().await?;
    db::gzh::lock_ticket(&tx, &g.appid, "jsapi").await?;
    if let Some(t) = db::gzh::ticket(&tx, &g.appid, "jsapi", fresh_until).await? {
        tx.commit().await?;
        return Ok(t);
    }
    let fetched_at = Utc::now();
    let t = state
        .wechat
        .mp_jsapi_ticket(&g.appid, g.secret.expose())
        .await
        .map_err(|e| ApiError::wechat("获取jsapi_ticket", e))?;
    metrics::counter!("zgld_wechat_jsapi_ticket_fetches_total").increment(1);
    let expires_at = fetched_at + Duration::seconds(t.expires_in.unwrap_or(7200).max(0));
    db::gzh::store_ticket(&tx, &g.appid, "jsapi", &t.ticket, expires_at).await?;
    tx.commit().await?;
    Ok(t.ticket)
}

/// GZH-09: `{appid, timestamp (s), nonceStr, signature}` for `url` (without its fragment).
pub async fn jssdk_config(state: &AppState, url: &str) -> Result<Value, ApiError> {
    let ticket = jsapi_ticket(state).await?;
    let nonce: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    let timestamp = Utc::now().timestamp();
    let signature = crate::domain::article::jssdk_signature(&ticket, &nonce, timestamp, url);
    Ok(json!({
        "appid": state.settings.gzh.appid,
        "timestamp": timestamp,
        "nonceStr": nonce,
        "signature": signature,
    }))
}
