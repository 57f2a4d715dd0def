//! ADM-24..27: roles with their two-level rule tree.

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{StaffRead, StaffWrite},
    domain::time,
    service::{self, org::RoleTree},
    state::AppState,
};

/// ADM-24: every role with the full tree, `selected` per node.
pub async fn list(State(state): State<AppState>, caller: StaffRead) -> ApiResult {
    let RoleTree {
        roles,
        grants,
        rules,
    } = service::org::list_roles(&state, &caller).await?;
    let held = |role: i64, rule: i64| grants.contains(&(role, rule));
    let rows: Vec<Value> = roles
        .iter()
        .map(|role| {
            let tree: Vec<Value> = rules
                .iter()
                .filter(|r| r.super_id.is_none())
                .map(|parent| {
                    let children: Vec<Value> = rules
                        .iter()
                        .filter(|c| c.super_id == Some(parent.id))
                        .map(|c| {
                            json!({"children_rule_id": c.id, "selected": held(role.id, c.id), "children_rule_name": c.name})
                        })
                        .collect();
                    json!({
                        "children_rule_list": children,
                        "parent_rule_id": parent.id,
                        "selected": held(role.id, parent.id),
                        "parent_rule_name": parent.name,
                    })
                })
                .collect();
            json!({
                "role_id": role.id,
                "role_name": role.name,
                "rules_data": tree,
                "create_date": time::ymd_hms(role.create_date),
            })
        })
        .collect();
    let n = rows.len() as i64;
    Ok(Reply::list("查询成功", rows, n))
}

/// ADM-25.
pub async fn add(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    let name = p.req_str("name")?;
    let rules = p.id_list("rules_list")?.unwrap_or_default();
    service::org::add_role(&state, &caller, name, &rules).await?;
    Ok(Reply::done("增加成功"))
}

/// ADM-26: `rules_list` replaces the rule set.
pub async fn update(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    let name = p.req_str("name")?;
    let rules = p.id_list("rules_list")?;
    service::org::update_role(&state, &caller, id, Some(name), rules.as_deref()).await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-27.
pub async fn delete(State(state): State<AppState>, caller: StaffWrite, OId(id): OId) -> ApiResult {
    service::org::delete_role(&state, &caller, id).await?;
    Ok(Reply::done("删除成功"))
}
