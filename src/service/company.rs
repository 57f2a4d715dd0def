//! Companies: the operator manages all of them; a company admin sees and configures its own
//! (WeCom credentials), never its billing.

use crate::{
    auth::Staff,
    db::{
        self,
        company::{AppRow, CompanyInput, CompanyRow},
    },
    domain::{billing, secret::Secret},
    error::ApiError,
    state::AppState,
};

/// The company the caller may see: any for the operator, its own for an admin (302 otherwise).
pub async fn visible(state: &AppState, caller: &Staff, id: i64) -> Result<CompanyRow, ApiError> {
    caller.require_admin()?;
    if id != caller.company_id && !caller.is_operator() {
        return Err(ApiError::not_found());
    }
    let db = state.db.get().await?;
    db::company::get(&db, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

pub async fn list(
    state: &AppState,
    caller: &Staff,
    order: Option<&str>,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<CompanyRow>, i64), ApiError> {
    caller.require_admin()?;
    let only = if caller.is_operator() {
        None
    } else {
        Some(caller.company_id)
    };
    let db = state.db.get().await?;
    db::company::list(&db, only, order, paging).await
}

/// Fills in the stored expiry from the plan when both are known.
fn with_expiry(mut c: CompanyInput) -> Result<CompanyInput, ApiError> {
    if let Some(len) = c.open_length_time {
        if billing::plan_months(len).is_none() {
            return Err(ApiError::form("open_length_time 只能是 1-5"));
        }
    }
    if let Some(n) = c.mingpian_available_num {
        if n < 0 {
            return Err(ApiError::form("mingpian_available_num 不能为负数"));
        }
    }
    if let (Some(start), Some(len)) = (c.charging_start_time, c.open_length_time) {
        c.account_expired_time = billing::expiry(start, len);
    }
    Ok(c)
}

pub async fn add(state: &AppState, caller: &Staff, c: CompanyInput) -> Result<i64, ApiError> {
    caller.require_operator()?;
    let c = with_expiry(c)?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let id = db::company::insert(&tx, &c).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update(
    state: &AppState,
    caller: &Staff,
    id: i64,
    c: CompanyInput,
) -> Result<(), ApiError> {
    caller.require_operator()?;
    let mut c = with_expiry(c)?;
    let db = state.db.get().await?;
    let current = db::company::get(&db, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    // A new start or plan alone still moves the expiry.
    if c.account_expired_time.is_none()
        && (c.charging_start_time.is_some() || c.open_length_time.is_some())
    {
        let start = c.charging_start_time.or(current.charging_start_time);
        let len = c.open_length_time.or(current.open_length_time);
        if let (Some(s), Some(l)) = (start, len) {
            c.account_expired_time = billing::expiry(s, l);
        }
    }
    db::company::update(&db, id, &c).await?;
    state.auth_cache.forget_company(id);
    Ok(())
}

pub async fn delete(state: &AppState, caller: &Staff, id: i64) -> Result<(), ApiError> {
    caller.require_operator()?;
    let db = state.db.get().await?;
    db::company::delete(&db, id).await?;
    state.auth_cache.forget_company(id);
    Ok(())
}

/// ADM-49: saves the address-book credentials once WeCom accepts them.
pub async fn set_tongxunlu(
    state: &AppState,
    caller: &Staff,
    id: i64,
    corp_id: &str,
    secret: &str,
) -> Result<(), ApiError> {
    let company = visible(state, caller, id).await?;
    state
        .wechat
        .wecom_check_credentials(corp_id, secret)
        .await
        .map_err(|e| ApiError::wechat("保存通讯录", e))?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::company::set_tongxunlu(&tx, id, corp_id, secret, true).await?;
    // The apps' secrets were verified against the old corp: ADM-45 must not keep calling them
    // valid for the new one; ADM-50 verifies them again.
    if company.corp_id.as_deref() != Some(corp_id) {
        db::company::invalidate_apps(&tx, id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// ADM-50: saves an app's agent secret once WeCom accepts it for the company's corp.
pub async fn set_agent(
    state: &AppState,
    caller: &Staff,
    id: i64,
    app_type: i16,
    agent_id: i64,
    secret: &str,
    name: Option<String>,
) -> Result<(), ApiError> {
    let company = visible(state, caller, id).await?;
    let corp_id = company
        .corp_id
        .ok_or_else(|| ApiError::form("请先添加通讯录的 corp_id 和 secret"))?;
    let default_name = match app_type {
        1 => "AI雷达",
        2 => "Boss雷达",
        _ => return Err(ApiError::form("app_type 只能是 1 (AI雷达) 或 2 (Boss雷达)")),
    };
    state
        .wechat
        .wecom_check_credentials(&corp_id, secret)
        .await
        .map_err(|e| ApiError::wechat("保存应用秘钥", e))?;
    let db = state.db.get().await?;
    let app = AppRow {
        app_type,
        name: name.unwrap_or_else(|| default_name.to_owned()),
        agent_id,
        app_secret: Secret::new(secret),
        is_validate: true,
    };
    db::company::upsert_app(&db, id, &app).await
}

/// ADM-45: the stored validation flags, no live WeChat call.
pub async fn author_status(
    state: &AppState,
    caller: &Staff,
    id: i64,
) -> Result<(bool, Vec<AppRow>), ApiError> {
    let company = visible(state, caller, id).await?;
    let db = state.db.get().await?;
    Ok((
        company.tongxunlu_is_validate,
        db::company::apps(&db, id).await?,
    ))
}
