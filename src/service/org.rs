//! Access rules (operator only) and roles (system roles by the operator, company roles by
//! their company's admins).

use crate::{
    auth::Staff,
    db::{
        self,
        org::{RoleRow, RuleInput, RuleRow},
    },
    error::ApiError,
    state::AppState,
};

pub async fn add_rule(state: &AppState, caller: &Staff, r: &RuleInput) -> Result<i64, ApiError> {
    caller.require_operator()?;
    let db = state.db.get().await?;
    db::org::add_rule(&db, r).await
}

pub async fn update_rule(
    state: &AppState,
    caller: &Staff,
    id: i64,
    r: &RuleInput,
) -> Result<(), ApiError> {
    caller.require_operator()?;
    let db = state.db.get().await?;
    db::org::update_rule(&db, id, r).await
}

pub async fn delete_rule(state: &AppState, caller: &Staff, id: i64) -> Result<(), ApiError> {
    caller.require_operator()?;
    let db = state.db.get().await?;
    db::org::delete_rule(&db, id).await
}

pub async fn list_rules(
    state: &AppState,
    caller: &Staff,
    top_only: bool,
) -> Result<Vec<RuleRow>, ApiError> {
    caller.require_admin()?;
    let db = state.db.get().await?;
    db::org::list_rules(&db, top_only).await
}

/// The roles the caller's company sees, with each role's granted rule ids and all rules.
pub struct RoleTree {
    pub roles: Vec<RoleRow>,
    pub grants: Vec<(i64, i64)>,
    pub rules: Vec<RuleRow>,
}

pub async fn list_roles(state: &AppState, caller: &Staff) -> Result<RoleTree, ApiError> {
    caller.require_admin()?;
    let db = state.db.get().await?;
    let roles = db::org::roles_visible(&db, caller.company_id).await?;
    let ids: Vec<i64> = roles.iter().map(|r| r.id).collect();
    let grants = db::org::grants(&db, &ids).await?;
    let mut rules = db::org::list_rules(&db, false).await?;
    rules.sort_by_key(|r| r.id);
    Ok(RoleTree {
        roles,
        grants,
        rules,
    })
}

pub async fn add_role(
    state: &AppState,
    caller: &Staff,
    name: &str,
    rules: &[i64],
) -> Result<i64, ApiError> {
    caller.require_admin()?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let id = db::org::add_role(&tx, caller.company_id, name, rules).await?;
    tx.commit().await?;
    Ok(id)
}

/// A role the caller may change: its own company's, or a system role for the operator.
async fn editable(state: &AppState, caller: &Staff, id: i64) -> Result<RoleRow, ApiError> {
    caller.require_admin()?;
    let db = state.db.get().await?;
    let role = db::org::role_visible(&db, caller.company_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if role.company_id.is_none() && !caller.is_operator() {
        return Err(ApiError::illegal("system roles are the operator's"));
    }
    Ok(role)
}

pub async fn update_role(
    state: &AppState,
    caller: &Staff,
    id: i64,
    name: Option<&str>,
    rules: Option<&[i64]>,
) -> Result<(), ApiError> {
    editable(state, caller, id).await?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::org::update_role(&tx, id, name, rules).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete_role(state: &AppState, caller: &Staff, id: i64) -> Result<(), ApiError> {
    let role = editable(state, caller, id).await?;
    if role.company_id.is_none() {
        return Err(ApiError::HasChildren("系统角色不能删除".into()));
    }
    let db = state.db.get().await?;
    db::org::delete_role(&db, id).await
}
