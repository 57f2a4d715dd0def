//! QYW-13..19: the early role endpoints, which also carry the permission-entry operations
//! a form with `path` or `title` and no `name` is a permission operation.

use axum::{extract::State, http::Method};
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
    error::ApiError,
    service,
    state::AppState,
};

fn is_permission_form(p: &Params) -> bool {
    !p.has("name") && (p.has("path") || p.has("title"))
}

/// A-58's field mapping onto the access-rule table.
fn permission_input(p: &Params) -> Result<RuleInput, ApiError> {
    Ok(RuleInput {
        name: p.req_str("title")?.to_owned(),
        url_path: p.req_str("path")?.to_owned(),
        super_id: p.i64_any(&["pid_id", "pid"])?,
        icon: p.str("icon").map(str::to_owned),
        order_num: p
            .i64_any(&["order_num", "order"])?
            .map(|v| v.clamp(i32::MIN.into(), i32::MAX.into()) as i32),
    })
}

/// QYW-13 (and QYW-14 posted to the list path, A-57).
pub async fn list_or_add(
    State(state): State<AppState>,
    method: Method,
    caller: StaffRead,
    p: Params,
) -> ApiResult {
    if method == Method::POST && (p.has("name") || is_permission_form(&p)) {
        // A write through the list path still spends its signature.
        crate::auth::spend_signature(
            &state,
            "staff",
            caller.id,
            p.str("rand_str").unwrap_or_default(),
        )
        .await?;
        return add_inner(&state, &caller, &p).await;
    }
    let tree = service::org::list_roles(&state, &caller).await?;
    let rows: Vec<Value> = tree
        .roles
        .iter()
        .map(|r| json!({"id": r.id, "name": r.name, "role_id": r.id, "create_date": time::iso(r.create_date)}))
        .collect();
    let n = rows.len() as i64;
    Ok(Reply::ok("", json!({"ret_data": rows, "data_count": n})))
}

async fn add_inner(state: &AppState, caller: &crate::auth::Staff, p: &Params) -> ApiResult {
    if is_permission_form(p) {
        service::org::add_rule(state, caller, &permission_input(p)?).await?;
        return Ok(Reply::done("添加成功"));
    }
    let name = p.req_str("name")?;
    service::org::add_role(state, caller, name, &[]).await?;
    Ok(Reply::done("添加成功"))
}

/// QYW-14 / QYW-17.
pub async fn add(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    add_inner(&state, &caller, &p).await
}

/// QYW-16 / QYW-19.
pub async fn update(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    if is_permission_form(&p) {
        service::org::update_rule(&state, &caller, id, &permission_input(&p)?).await?;
    } else {
        service::org::update_role(&state, &caller, id, Some(p.req_str("name")?), None).await?;
    }
    Ok(Reply::done("修改成功"))
}

/// QYW-15.
pub async fn delete(State(state): State<AppState>, caller: StaffWrite, OId(id): OId) -> ApiResult {
    service::org::delete_role(&state, &caller, id).await?;
    Ok(Reply::done("删除成功"))
}

/// QYW-18 (`/qiyeweixin/delete/{id}`, 000's path).
pub async fn delete_permission(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
) -> ApiResult {
    service::org::delete_rule(&state, &caller, id).await?;
    Ok(Reply::done("删除成功"))
}
