//! ADM-20..23: access rules (menu entries), platform-wide, changed by the operator.

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{StaffRead, StaffWrite},
    db::org::RuleInput,
    domain::time,
    service,
    state::AppState,
};

/// ADM-20.
pub async fn list(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let top_only = p.bool("super_id_id__isnull")?.unwrap_or(false);
    let rules = service::org::list_rules(&state, &caller, top_only).await?;
    let rows: Vec<Value> = rules
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.name,
                "url_path": r.url_path,
                "super_id": r.super_id,
                "super_name": r.super_name.clone().unwrap_or_default(),
                "create_date": time::ymd_hms(r.create_date),
            })
        })
        .collect();
    let n = rows.len() as i64;
    Ok(Reply::list("查询成功", rows, n))
}

/// ADM-21/22 input (A-27: `super_id_id` or `super_id`).
pub(crate) fn input(p: &Params) -> Result<RuleInput, crate::error::ApiError> {
    Ok(RuleInput {
        name: p.req_str("name")?.to_owned(),
        url_path: p.req_str("url_path")?.to_owned(),
        super_id: p.i64_any(&["super_id_id", "super_id"])?,
        icon: p.str("icon").map(str::to_owned),
        order_num: p
            .i64_any(&["order_num", "order"])?
            .map(|v| v.clamp(i32::MIN.into(), i32::MAX.into()) as i32),
    })
}

/// ADM-21.
pub async fn add(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    service::org::add_rule(&state, &caller, &input(&p)?).await?;
    Ok(Reply::done("增加成功"))
}

/// ADM-22.
pub async fn update(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    service::org::update_rule(&state, &caller, id, &input(&p)?).await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-23.
pub async fn delete(State(state): State<AppState>, caller: StaffWrite, OId(id): OId) -> ApiResult {
    service::org::delete_rule(&state, &caller, id).await?;
    Ok(Reply::done("删除成功"))
}
