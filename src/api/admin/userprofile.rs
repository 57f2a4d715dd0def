//! ADM-28..32 and ADM-35: backend users. For the platform operator these span companies
//! (this is how a tenant's first admin is made); a company admin sees its own company.

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        views, OId,
    },
    auth::{login, StaffRead, StaffWrite},
    db::{self, user::StaffFilter},
    error::ApiError,
    service::{self, staff::StaffInput},
    state::AppState,
};

/// ADM-28. The operator may narrow to one company with `company_id`.
pub async fn list(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    caller.require_admin()?;
    let company_id = if caller.is_operator() {
        p.i64("company_id")?
    } else {
        Some(caller.company_id)
    };
    let filter = StaffFilter {
        company_id,
        username: p.str("username").map(str::to_owned),
        newest_first: true,
        ..StaffFilter::default()
    };
    let db = state.db.get().await?;
    let (users, total) = db::user::list(&db, &filter, p.paging(None)?).await?;
    Ok(Reply::list(
        "查询成功",
        users.iter().map(views::backend_user).collect(),
        total,
    ))
}

/// ADM-29/30 input.
fn input(p: &Params) -> Result<StaffInput, ApiError> {
    Ok(StaffInput {
        login_user: p.str("login_user").map(str::to_owned),
        username: p.str("username").map(str::to_owned),
        password: p.str("password").map(str::to_owned),
        role_id: p.i64("role_id")?,
        company_id: p.i64("company_id")?,
        position: p.str("position").map(str::to_owned),
        userid: None,
    })
}

/// ADM-29.
pub async fn add(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    p.req_str("login_user")?;
    p.req_str("password")?;
    p.req_i64("role_id")?;
    p.req_i64("company_id")?;
    service::staff::create(&state, &caller, input(&p)?, true).await?;
    Ok(Reply::done("增加成功"))
}

/// ADM-30: an empty password leaves it unchanged.
pub async fn update(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    service::staff::update(&state, &caller, id, input(&p)?, true).await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-31.
pub async fn delete(State(state): State<AppState>, caller: StaffWrite, OId(id): OId) -> ApiResult {
    service::staff::delete(&state, &caller, id, true).await?;
    Ok(Reply::done("删除成功"))
}

/// ADM-32.
pub async fn update_status(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    let status = p.req_i64("status")?;
    service::staff::set_status(&state, &caller, id, status, true).await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-35: the operator gets a session of its own as another user (a new token; the user's
/// own sessions are untouched).
pub async fn switch_user(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
) -> ApiResult {
    caller.require_operator()?;
    let target = service::staff::visible(&state, &caller, id, true).await?;
    login::check_usable(&target)?;
    let db = state.db.get().await?;
    let (_, token) = db::session::create(
        &db,
        db::session::Owner::Staff(target.id),
        &state.settings.auth,
    )
    .await?;
    tracing::info!(operator = caller.id, target = target.id, "switched user");
    let data: Value = json!({
        "token": token,
        "user_id": target.id,
        "company_name": target.company_name,
        "company_id": target.company_id,
        "role_id": target.role_id,
        "role_name": target.role_name,
        "avatar": target.avatar,
    });
    Ok(Reply::ok("获取成功", data))
}
