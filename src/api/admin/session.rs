//! ADM-01 login, ADM-02 password change, ADM-03 the caller's access rules.

use serde_json::json;

use crate::{
    api::{
        client_addr::ClientAddr,
        params::Params,
        reply::{ApiResult, Reply},
    },
    auth::{
        login::{self, blocking},
        StaffRead, StaffWrite,
    },
    db,
    domain::password,
    error::ApiError,
    state::AppState,
};
use axum::extract::State;

/// ADM-01. No signature: this is where the token comes from (a new session per login).
pub async fn login(State(state): State<AppState>, addr: ClientAddr, p: Params) -> ApiResult {
    let username = p.req_str("username")?;
    let pass = p
        .str("password")
        .ok_or_else(|| ApiError::form("password 不能为空"))?;
    let data = login::password_login(&state, username, pass, &addr.0).await?;
    Ok(Reply::ok("登录成功", data))
}

/// ADM-02. The caller's session stays signed in and every other session of the user ends
/// (their WebSockets close with 4003 on every node); `data` is `{}` as API.md documents.
pub async fn modify_password(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> ApiResult {
    let p1 = p.req_str("password1")?;
    let p2 = p.req_str("password2")?;
    if p1 != p2 {
        return Err(ApiError::Code305("两次密码不一致".into()));
    }
    if !password::meets_complexity(p1) {
        return Err(ApiError::Code305(
            "密码复杂度检查未通过,请检查最小长度为八位,包含大小写字母和数字".into(),
        ));
    }
    let plain = p1.to_owned();
    let hash = blocking(move || password::hash(&plain)).await??;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::user::set_password(&tx, caller.id, &hash, true).await?;
    let ended = db::session::end_others(
        &tx,
        db::session::Owner::Staff(caller.id),
        caller.session_id(),
    )
    .await?;
    tx.commit().await?;
    state.auth_cache.forget_staff(caller.id);
    tracing::info!(
        user_id = caller.id,
        ended,
        "password changed: other sessions ended"
    );
    Ok(Reply::ok("修改密码成功", json!({})))
}

/// ADM-03: url_paths of the rules granted to the caller's role.
pub async fn login_rules(State(state): State<AppState>, caller: StaffRead) -> ApiResult {
    let db = state.db.get().await?;
    let rules = db::org::rule_paths_of_role(&db, caller.role_id).await?;
    Ok(Reply::ok("", json!({"rules_list": rules})))
}
