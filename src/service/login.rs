//! WeChat sign-in: a salesperson through WeCom OAuth (QYW-01), a customer through the
//! mini program (XCX-01).

use serde_json::{json, Value};

use crate::{
    auth,
    db::{self, customer::WechatIdentity},
    domain::{billing, role::MEMBER_ROLE, time},
    error::ApiError,
    state::AppState,
};

/// QYW-01: WeCom code → UserId → profile; finds (or, for a new member of the corp,
/// provisions) the user and logs it in. A user beyond the card quota is created disabled.
pub async fn wecom(state: &AppState, company_id: i64, code: &str) -> Result<Value, ApiError> {
    let mut client = state.db.get().await?;
    let company = db::company::get(&client, company_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let corp_id = company
        .corp_id
        .clone()
        .ok_or_else(|| ApiError::form("该公司尚未配置企业微信"))?;
    let app = db::company::apps(&client, company_id)
        .await?
        .into_iter()
        .find(|a| a.app_type == 1)
        .ok_or_else(|| ApiError::form("该公司尚未配置 AI雷达 应用"))?;
    let secret = app.app_secret.expose();
    let ident = state
        .wechat
        .wecom_code_to_user(&corp_id, secret, code)
        .await
        .map_err(|e| ApiError::wechat("企业微信登录", e))?;
    let userid = ident
        .userid
        .ok_or_else(|| ApiError::Credentials("非企业成员,无法登录".into()))?;
    let profile = state
        .wechat
        .wecom_user_get(&corp_id, secret, &userid)
        .await
        .map_err(|e| ApiError::wechat("获取企业微信用户", e))?;
    let gender = profile
        .gender
        .and_then(|g| i16::try_from(g).ok())
        .filter(|g| *g == 1 || *g == 2);
    let tx = client.transaction().await?;
    let id = match db::user::find_wecom(&tx, company_id, &userid).await? {
        Some(u) => u.id,
        None => {
            let status = if db::user::check_quota(&tx, company_id, None).await.is_ok() {
                1
            } else {
                2
            };
            db::user::insert(
                &tx,
                &db::user::NewStaff {
                    company_id,
                    role_id: MEMBER_ROLE,
                    userid: Some(userid.clone()),
                    login_user: None,
                    username: profile.name.clone(),
                    password_hash: None,
                    status,
                    position: profile.position.clone(),
                    avatar: profile.avatar.clone(),
                    gender,
                    phone: profile.mobile.clone(),
                    email: profile.email.clone(),
                },
            )
            .await?
        }
    };
    db::user::refresh_wecom_profile(
        &tx,
        id,
        db::user::WecomProfile {
            name: &profile.name,
            avatar: profile.avatar.as_deref(),
            position: profile.position.as_deref(),
            gender,
            mobile: profile.mobile.as_deref(),
            email: profile.email.as_deref(),
        },
    )
    .await?;
    db::user::link_wecom_departments(&tx, id, company_id, &profile.department).await?;
    let user = db::user::get(&tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let payload = auth::login::complete(&tx, &state.settings.auth, &user).await;
    // The provisioned row and profile refresh are kept even when the login itself is refused (306).
    tx.commit().await?;
    payload
}

/// XCX-01 input.
#[derive(Debug)]
pub struct MiniLogin<'a> {
    pub code: &'a str,
    pub user_type: i16,
    pub source: i16,
    pub company_id: Option<i64>,
    pub uid: Option<i64>,
    /// The company's mini program (explicit `appid`, or the `Referer` WeChat sends): with a
    /// third-party platform, the company is the one that authorized it.
    pub appid: Option<String>,
}

/// XCX-01: `js_code` → openid; finds or creates the customer of the company and, when the
/// card of salesperson `uid` was opened, the relation to that salesperson.
pub async fn miniprogram(state: &AppState, req: MiniLogin<'_>) -> Result<Value, ApiError> {
    let client = state.db.get().await?;
    // The company's own mini program, authorized to the platform (docs/wechat-platform.md).
    let hosted = match (
        req.appid.as_deref(),
        state.settings.wechat.component.as_ref(),
    ) {
        (Some(appid), Some(_)) => Some(
            crate::service::platform::authorize::app_by_appid(&client, appid)
                .await?
                .filter(|a| a.kind == crate::service::platform::authorize::XCX && a.authorized)
                .ok_or_else(|| ApiError::NotFound("该小程序未授权给本平台".into()))?,
        ),
        _ => None,
    };
    let company_id = match (req.uid, &hosted) {
        (Some(uid), Some(app)) => {
            let rep = db::user::get(&client, uid)
                .await?
                .filter(|r| r.company_id == app.company_id)
                .ok_or_else(ApiError::not_found)?;
            rep.company_id
        }
        (None, Some(app)) => {
            if req.company_id.is_some_and(|c| c != app.company_id) {
                return Err(ApiError::not_found());
            }
            app.company_id
        }
        (uid, None) => match uid {
            Some(uid) => {
                let rep = db::user::get(&client, uid)
                    .await?
                    .ok_or_else(ApiError::not_found)?;
                if req.company_id.is_some_and(|c| c != rep.company_id) {
                    return Err(ApiError::not_found());
                }
                rep.company_id
            }
            None => req
                .company_id
                .ok_or_else(|| ApiError::form("company_id 或 uid 不能为空"))?,
        },
    };
    let company = db::company::get(&client, company_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if billing::is_expired(company.account_expired_time, time::today()) {
        return Err(ApiError::Disabled("公司账户已过期,请联系管理员续费".into()));
    }
    let code = req.code.trim().trim_matches(|c| c == '"' || c == '\'');
    drop(client);
    let session = match (&hosted, state.settings.wechat.component.as_ref()) {
        (Some(app), Some(cfg)) => {
            let (wechat, component_appid) = (state.wechat.clone(), cfg.appid.clone());
            crate::wechat::component::call(state, |token| {
                let (wechat, component_appid) = (wechat.clone(), component_appid.clone());
                let appid = app.appid.clone();
                async move {
                    wechat
                        .component_jscode2session(&token, &component_appid, &appid, code)
                        .await
                }
            })
            .await
        }
        _ => {
            let wx = &state.settings.wechat;
            let (Some(appid), Some(secret)) = (wx.xcx_appid.as_deref(), wx.xcx_secret.as_ref())
            else {
                return Err(ApiError::Unexpected(anyhow::anyhow!(
                    "ZGLD_XCX_APPID / ZGLD_XCX_SECRET are not configured"
                )));
            };
            state
                .wechat
                .jscode2session(appid, secret.expose(), code)
                .await
        }
    }
    .map_err(|e| ApiError::wechat("小程序登录", e))?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let (customer_id, created) = db::customer::login(
        &tx,
        &WechatIdentity {
            company_id,
            openid: session.openid.clone(),
            unionid: session.unionid.clone(),
            session_key: Some(session.session_key.clone()),
            user_type: req.user_type,
            username: None,
            headimgurl: None,
            sex: None,
        },
    )
    .await?;
    if let Some(uid) = req.uid {
        db::customer::relate(&tx, company_id, uid, customer_id, req.source).await?;
    }
    // A session of its own: the customer's other devices stay signed in.
    let (_, token) = db::session::create(
        &tx,
        db::session::Owner::Customer(customer_id),
        &state.settings.auth,
    )
    .await?;
    tx.commit().await?;
    state.auth_cache.forget_customer(customer_id);
    tracing::info!(customer_id, created, company_id, "mini-program login");
    Ok(json!({"user_id": customer_id, "token": token}))
}
