//! ADM-45..50: companies, their billing period and card quota, WeCom credentials.
//! Secrets are stored, verified with WeCom, and never returned.

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{StaffRead, StaffWrite},
    db::company::CompanyInput,
    domain::{billing, time},
    error::ApiError,
    service,
    state::AppState,
};

/// ADM-46.
pub async fn list(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let (rows, total) =
        service::company::list(&state, &caller, p.str("order"), p.paging(None)?).await?;
    let today = time::today();
    let ret: Vec<Value> = rows
        .iter()
        .map(|c| {
            let (used, available) =
                billing::days(c.charging_start_time, c.account_expired_time, today);
            json!({
                "name": c.name,
                "company_id": c.id,
                "user_count": c.enabled_users,
                "mingpian_available_num": c.mingpian_available_num,
                "available_days": available,
                "used_days": used,
                "customer_num": c.customer_num,
                "charging_start_time": c.charging_start_time.map(time::ymd),
                "account_expired_time": c.account_expired_time.map(time::ymd),
                "open_length_time": c.open_length_time,
                "remarks": c.remarks,
                "corp_id": c.corp_id,
                "create_date": time::ymd_of(c.create_date),
            })
        })
        .collect();
    Ok(Reply::ok("", json!({"ret_data": ret, "data_count": total})))
}

/// ADM-47/48 input.
fn input(p: &Params, all_required: bool) -> Result<CompanyInput, ApiError> {
    if all_required {
        p.req_str("name")?;
        p.req_str("charging_start_time")?;
        p.req_str("open_length_time")?;
        p.req_str("mingpian_available_num")?;
    }
    let num = |k: &str| -> Result<Option<i32>, ApiError> {
        p.i64(k)?
            .map(|v| i32::try_from(v).map_err(|_| ApiError::form(format!("{k} 超出范围"))))
            .transpose()
    };
    Ok(CompanyInput {
        name: p.str("name").map(str::to_owned),
        charging_start_time: p.date("charging_start_time")?,
        open_length_time: num("open_length_time")?.map(|v| v.clamp(-1, 100) as i16),
        account_expired_time: None,
        mingpian_available_num: num("mingpian_available_num")?,
        remarks: p.str("remarks").map(str::to_owned),
    })
}

/// ADM-47.
pub async fn add(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    service::company::add(&state, &caller, input(&p, true)?).await?;
    Ok(Reply::done("添加成功"))
}

/// ADM-48.
pub async fn update(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    service::company::update(&state, &caller, id, input(&p, false)?).await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-49.
pub async fn update_tongxunlu(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    let corp_id = p.req_str("corp_id")?;
    let secret = p.req_str("tongxunlu_secret")?;
    service::company::set_tongxunlu(&state, &caller, id, corp_id, secret).await?;
    Ok(Reply::done("保存成功"))
}

/// ADM-50 (A-38: `app_type` required, `name` optional).
pub async fn update_agent(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    let app_type = p.req_i64("app_type")?;
    let agent_id = p.req_i64("agent_id")?;
    let secret = p.req_str("app_secret")?;
    let app_type = i16::try_from(app_type).map_err(|_| ApiError::form("app_type 只能是 1 或 2"))?;
    service::company::set_agent(
        &state,
        &caller,
        id,
        app_type,
        agent_id,
        secret,
        p.str("name").map(str::to_owned),
    )
    .await?;
    Ok(Reply::done("保存成功"))
}

/// ADM-45.
pub async fn author_status(
    State(state): State<AppState>,
    caller: StaffRead,
    p: Params,
) -> ApiResult {
    let id = p.req_i64("company_id")?;
    let (tongxunlu, apps) = service::company::author_status(&state, &caller, id).await?;
    let valid = |t: i16| apps.iter().any(|a| a.app_type == t && a.is_validate);
    let ret = json!([
        {"name": "通讯录", "is_validate": tongxunlu},
        {"name": "AI雷达", "is_validate": valid(1), "app_type": 1},
        {"name": "Boss雷达", "is_validate": valid(2), "app_type": 2},
    ]);
    Ok(Reply::ok("", json!({"ret_data": ret})))
}
