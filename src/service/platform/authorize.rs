//! A company authorizes its mini program (kind 1) and official account (kind 2) to the
//! platform (API.md 2.11, 2.13; ADM-73..78, 87, 88): step 1 stores the appid, step 2 hands out
//! the grant link, WeChat's callback (or its `authorized` push) finishes it with
//! `api_query_auth` + `api_get_authorizer_info`, step 3 (mini program) customises the info.
//! Every query is scoped to the caller's company; an appid belongs to one company only.

use deadpool_postgres::GenericClient;
use serde_json::{json, Value};

use crate::auth::Staff;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wechat::component;

/// Mini program (XcxApp).
pub const XCX: i16 = 1;
/// Official account (GzhApp).
pub const GZH: i16 = 2;

/// The callback path (API.md §8 gap 1), the `redirect_uri` of every grant link.
pub const CALLBACK_PATH: &str = "/zhugeleida/admin/open_weixin/auth_code";

fn component_cfg(state: &AppState) -> Result<&crate::config::ComponentSettings, ApiError> {
    state
        .settings
        .wechat
        .component
        .as_ref()
        .ok_or_else(|| ApiError::form("本系统未配置微信第三方平台"))
}

/// One company's authorized account as the admin pages show it.
#[derive(Debug)]
pub struct AppRow {
    pub id: i64,
    pub company_id: i64,
    pub appid: String,
    pub kind: i16,
    pub step: i16,
    pub authorized: bool,
    pub name: Option<String>,
    pub principal_name: Option<String>,
    pub head_img: Option<String>,
    pub introduce: Option<String>,
    pub service_category: Option<String>,
    pub verify_type_info: Option<bool>,
}

const APP_COLUMNS: &str = "id, company_id, appid, step, authorized, name, principal_name, head_img,
     introduce, service_category, verify_type_info, kind";

fn app_row(r: &tokio_postgres::Row) -> AppRow {
    AppRow {
        id: r.get(0),
        company_id: r.get(1),
        appid: r.get(2),
        step: r.get(3),
        authorized: r.get(4),
        name: r.get(5),
        principal_name: r.get(6),
        head_img: r.get(7),
        introduce: r.get(8),
        service_category: r.get(9),
        verify_type_info: r.get(10),
        kind: r.get(11),
    }
}

/// The company's account of `kind`, if step 1 was done.
pub async fn app_of(
    c: &impl GenericClient,
    company_id: i64,
    kind: i16,
) -> Result<Option<AppRow>, tokio_postgres::Error> {
    let r = c
        .query_opt(
            &format!("select {APP_COLUMNS} from wx_authorizer where company_id = $1 and kind = $2"),
            &[&company_id, &kind],
        )
        .await?;
    Ok(r.as_ref().map(app_row))
}

/// The authorized account with `appid` (any company), for XCX-01 and the pushes.
pub async fn app_by_appid(
    c: &impl GenericClient,
    appid: &str,
) -> Result<Option<AppRow>, tokio_postgres::Error> {
    let r = c
        .query_opt(
            &format!("select {APP_COLUMNS} from wx_authorizer where appid = $1"),
            &[&appid],
        )
        .await?;
    Ok(r.as_ref().map(app_row))
}

/// ADM-73 / ADM-78: `step` (int while incomplete, `""` when done) and the details.
pub async fn flow_state(
    state: &AppState,
    caller: &Staff,
    kind: i16,
) -> Result<(String, Value), ApiError> {
    caller.require_admin()?;
    let client = state.db.get().await?;
    let Some(app) = app_of(&client, caller.company_id, kind).await? else {
        return Ok((
            "请求成功.请先进行步骤1".into(),
            json!({"step": 1, "ret_data": {"authorization_appid": ""}}),
        ));
    };
    if app.step != 0 {
        return Ok((
            format!("请求成功.请先进行步骤{}", app.step),
            json!({"step": app.step, "ret_data": {"authorization_appid": app.appid}}),
        ));
    }
    let mut ret = json!({
        "authorization_appid": app.appid,
        "name": app.name.unwrap_or_default(),
        "principal_name": app.principal_name.unwrap_or_default(),
        "head_img": app.head_img.unwrap_or_default(),
        "verify_type_info": app.verify_type_info.unwrap_or(false),
        "service_category": app.service_category.unwrap_or_default(),
    });
    if kind == XCX {
        let r = client
            .query_opt(
                "select version_num, release_time, stay_version_num, stay_audit_time
                 from wx_release where authorizer_id = $1 and company_id = $2",
                &[&app.id, &caller.company_id],
            )
            .await?;
        let fmt = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(crate::domain::time::ymd_hm).unwrap_or_default()
        };
        ret["version_num"] = json!(r
            .as_ref()
            .and_then(|r| r.get::<_, Option<String>>(0))
            .unwrap_or_default());
        ret["release_time"] = json!(fmt(r.as_ref().and_then(|r| r.get(1))));
        ret["stay_version_num"] = json!(r
            .as_ref()
            .and_then(|r| r.get::<_, Option<String>>(2))
            .unwrap_or_default());
        ret["stay_audit_time"] = json!(fmt(r.as_ref().and_then(|r| r.get(3))));
    }
    Ok(("请求成功".into(), json!({"step": "", "ret_data": ret})))
}

/// An appid as WeChat issues them: `wx` + 16 lowercase hex/alphanumerics (we accept 4..=32
/// ASCII alphanumerics and `_` after `wx`, so sandbox appids pass too).
fn valid_appid(appid: &str) -> bool {
    appid.starts_with("wx")
        && (6..=34).contains(&appid.len())
        && appid.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// ADM-74 / ADM-87: step 1, store the appid; the flow moves to step 2. Changing the appid of
/// an authorized account starts its authorization over.
pub async fn set_appid(
    state: &AppState,
    caller: &Staff,
    kind: i16,
    appid: &str,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    let appid = appid.trim();
    if !valid_appid(appid) {
        return Err(ApiError::form("authorization_appid 格式不正确"));
    }
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let id: i64 = tx
        .query_one(
            "insert into wx_authorizer (company_id, kind, appid, step, belong_user_id)
             values ($1, $2, $3, 2, $4)
             on conflict (company_id, kind) do update
             set appid = excluded.appid, belong_user_id = excluded.belong_user_id,
                 step = case when wx_authorizer.appid = excluded.appid and wx_authorizer.authorized
                             then wx_authorizer.step else 2 end,
                 authorized = wx_authorizer.authorized and wx_authorizer.appid = excluded.appid
             returning id",
            &[&caller.company_id, &kind, &appid, &caller.id],
        )
        .await?
        .get(0);
    if kind == XCX {
        tx.execute(
            "insert into wx_release (authorizer_id, company_id) values ($1, $2)
             on conflict (authorizer_id) do nothing",
            &[&id, &caller.company_id],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// ADM-76 / ADM-88: step 2, the grant link (`auth_type` 2 mini program, 1 official account),
/// restricted with `biz_appid` to the appid of step 1.
pub async fn grant_url(state: &AppState, caller: &Staff, kind: i16) -> Result<String, ApiError> {
    caller.require_admin()?;
    let cfg = component_cfg(state)?;
    let client = state.db.get().await?;
    let app = app_of(&client, caller.company_id, kind)
        .await?
        .ok_or_else(|| ApiError::form("请先进行步骤1: 设置 authorization_appid"))?;
    drop(client);
    let appid = cfg.appid.clone();
    let wechat = state.wechat.clone();
    let pre = component::call(state, |token| {
        let wechat = wechat.clone();
        let appid = appid.clone();
        async move { wechat.create_preauthcode(&token, &appid).await }
    })
    .await
    .map_err(|e| ApiError::wechat("生成授权链接", e))?;
    let redirect = format!(
        "{}{CALLBACK_PATH}",
        state.settings.wechat.public_base_url.trim_end_matches('/')
    );
    let auth_type = if kind == XCX { 2 } else { 1 };
    Ok(state.wechat.grant_url(
        &cfg.appid,
        &pre.pre_auth_code,
        &redirect,
        auth_type,
        Some(&app.appid),
    ))
}

/// What the callback reports.
#[derive(Debug)]
pub struct Finished {
    pub appid: String,
    pub company_id: i64,
    pub kind: i16,
    pub step: i16,
}

/// The callback and the `authorized` push: exchange the authorization code, store the tokens
/// and the account's details. A code already handled (the push came first) is not exchanged
/// again. The account must have been entered in step 1 by some company.
pub async fn finish(state: &AppState, auth_code: &str) -> Result<Finished, ApiError> {
    let cfg = component_cfg(state)?;
    let auth_code = auth_code.trim();
    if auth_code.is_empty() {
        return Err(ApiError::form("auth_code 不能为空"));
    }
    {
        let client = state.db.get().await?;
        if let Some(r) = client
            .query_opt(
                "select appid, company_id, kind, step from wx_authorizer where last_auth_code = $1",
                &[&auth_code],
            )
            .await?
        {
            return Ok(Finished {
                appid: r.get(0),
                company_id: r.get(1),
                kind: r.get(2),
                step: r.get(3),
            });
        }
    }
    let component_appid = cfg.appid.clone();
    let wechat = state.wechat.clone();
    let code = auth_code.to_owned();
    // The token's lifetime counts from here (see `token::store_authorization`).
    let asked = std::time::Instant::now();
    let auth = component::call(state, |token| {
        let (wechat, appid, code) = (wechat.clone(), component_appid.clone(), code.clone());
        async move { wechat.query_auth(&token, &appid, &code).await }
    })
    .await
    .map_err(|e| ApiError::wechat("获取授权信息", e))?;
    let authorizer = auth.authorizer_appid.clone();
    let info = {
        let (wechat, appid, who) = (
            state.wechat.clone(),
            component_appid.clone(),
            authorizer.clone(),
        );
        component::call(state, |token| {
            let (wechat, appid, who) = (wechat.clone(), appid.clone(), who.clone());
            async move { wechat.authorizer_info(&token, &appid, &who).await }
        })
        .await
        .map_err(|e| ApiError::wechat("获取授权方信息", e))?
    };
    let mut func_ids: Vec<i32> = auth
        .func_info
        .iter()
        .filter_map(|f| i32::try_from(f.funcscope_category.id).ok())
        .collect();
    if func_ids.is_empty() {
        func_ids = info
            .func_ids
            .iter()
            .filter_map(|i| i32::try_from(*i).ok())
            .collect();
    }
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "select id, company_id, kind from wx_authorizer where appid = $1 for update",
            &[&authorizer],
        )
        .await?
        .ok_or_else(|| ApiError::form(format!("{authorizer} 未在任何公司的步骤1中登记")))?;
    let (id, company_id, kind): (i64, i64, i16) = (row.get(0), row.get(1), row.get(2));
    if (kind == XCX) != info.is_mini_program {
        return Err(ApiError::form(if kind == XCX {
            "授权的帐号不是小程序"
        } else {
            "授权的帐号不是公众号"
        }));
    }
    // Mini programs go on to step 3 (customise the info), official accounts are done.
    let step: i16 = if kind == XCX { 3 } else { 0 };
    tx.execute(
        "update wx_authorizer
         set authorized = true, authorized_at = now(), unauthorized_at = null,
             step = case when step = 0 then 0::smallint else $2::smallint end, func_ids = $3, last_auth_code = $4,
             name = $5, head_img = $6, principal_name = $7, verify_type_info = $8,
             service_category = $9, qrcode_url = $10
         where id = $1",
        &[
            &id,
            &step,
            &func_ids,
            &auth_code,
            &info.name,
            &info.head_img,
            &info.principal_name,
            &info.verified,
            &info.service_category,
            &info.qrcode_url,
        ],
    )
    .await?;
    super::token::store_authorization(
        &tx,
        &authorizer,
        &auth.authorizer_access_token,
        &auth.authorizer_refresh_token,
        auth.expires_in,
        asked,
    )
    .await?;
    let step: i16 = tx
        .query_one("select step from wx_authorizer where id = $1", &[&id])
        .await?
        .get(0);
    tx.commit().await?;
    super::token::forget_authorizer(state, &authorizer, None).await;
    tracing::info!(appid = %authorizer, company_id, kind, "account authorized");
    Ok(Finished {
        appid: authorizer,
        company_id,
        kind,
        step,
    })
}

/// ADM-75: refresh the mini program's details from `api_get_authorizer_info`.
pub async fn refresh_info(state: &AppState, caller: &Staff, kind: i16) -> Result<(), ApiError> {
    caller.require_admin()?;
    let cfg = component_cfg(state)?;
    let client = state.db.get().await?;
    let app = app_of(&client, caller.company_id, kind)
        .await?
        .filter(|a| a.authorized)
        .ok_or_else(|| ApiError::form("请先完成步骤2: 授权"))?;
    drop(client);
    let (wechat, appid, who) = (state.wechat.clone(), cfg.appid.clone(), app.appid.clone());
    let info = component::call(state, |token| {
        let (wechat, appid, who) = (wechat.clone(), appid.clone(), who.clone());
        async move { wechat.authorizer_info(&token, &appid, &who).await }
    })
    .await
    .map_err(|e| ApiError::wechat("获取小程序帐号基本信息", e))?;
    let client = state.db.get().await?;
    client
        .execute(
            "update wx_authorizer
             set name = $3, head_img = $4, principal_name = $5, verify_type_info = $6,
                 service_category = $7, qrcode_url = $8
             where id = $1 and company_id = $2",
            &[
                &app.id,
                &caller.company_id,
                &info.name,
                &info.head_img,
                &info.principal_name,
                &info.verified,
                &info.service_category,
                &info.qrcode_url,
            ],
        )
        .await?;
    Ok(())
}

/// ADM-77 input.
#[derive(Debug, Default)]
pub struct Customise {
    pub name: Option<String>,
    pub head_img: Option<String>,
    pub introduce: Option<String>,
    pub service_category: Option<String>,
}

/// ADM-77: step 3, store the customised info locally and mark the flow done.
pub async fn customise(state: &AppState, caller: &Staff, input: Customise) -> Result<(), ApiError> {
    caller.require_admin()?;
    let client = state.db.get().await?;
    let app = app_of(&client, caller.company_id, XCX)
        .await?
        .filter(|a| a.authorized)
        .ok_or_else(|| ApiError::form("请先完成步骤2: 授权"))?;
    client
        .execute(
            "update wx_authorizer
             set name = coalesce($3, name), head_img = coalesce($4, head_img),
                 introduce = coalesce($5, introduce),
                 service_category = coalesce($6, service_category), step = 0
             where id = $1 and company_id = $2",
            &[
                &app.id,
                &caller.company_id,
                &input.name,
                &input.head_img,
                &input.introduce,
                &input.service_category,
            ],
        )
        .await?;
    Ok(())
}
