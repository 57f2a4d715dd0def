//! QYW-20..23: the early company endpoints (`name` only, A-37).

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
    domain::time,
    service,
    state::AppState,
};

/// QYW-20.
pub async fn list(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let (rows, total) =
        service::company::list(&state, &caller, p.str("order"), p.paging(None)?).await?;
    let ret: Vec<Value> = rows
        .iter()
        .map(|c| json!({"id": c.id, "name": c.name, "company_id": c.id, "create_date": time::iso(c.create_date)}))
        .collect();
    Ok(Reply::ok("", json!({"ret_data": ret, "data_count": total})))
}

fn name_only(p: &Params) -> Result<CompanyInput, crate::error::ApiError> {
    Ok(CompanyInput {
        name: Some(p.req_str("name")?.to_owned()),
        ..CompanyInput::default()
    })
}

/// QYW-21: a company with no billing period and no cards until ADM-48 sets them.
pub async fn add(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    service::company::add(&state, &caller, name_only(&p)?).await?;
    Ok(Reply::done("添加成功"))
}

/// QYW-22.
pub async fn delete(State(state): State<AppState>, caller: StaffWrite, OId(id): OId) -> ApiResult {
    service::company::delete(&state, &caller, id).await?;
    Ok(Reply::done("删除成功"))
}

/// QYW-23.
pub async fn update(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    service::company::update(&state, &caller, id, name_only(&p)?).await?;
    Ok(Reply::done("修改成功"))
}
