//! QYW-02..05: the early user endpoints (`username` is the login name there).

use axum::extract::State;

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        views, OId,
    },
    auth::{StaffRead, StaffWrite},
    db::{self, user::StaffFilter},
    error::ApiError,
    service::{self, staff::StaffInput},
    state::AppState,
};

/// QYW-02.
pub async fn list(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    caller.require_admin()?;
    let filter = StaffFilter {
        company_id: Some(caller.company_id),
        username: p.str("username").map(str::to_owned),
        role_name: p.str("role__name").map(str::to_owned),
        company_name: p.str("company__name").map(str::to_owned),
        created_on: p.date("create_date")?,
        ..StaffFilter::default()
    };
    let db = state.db.get().await?;
    let (users, total) = db::user::list(&db, &filter, p.paging(None)?).await?;
    Ok(Reply::list(
        "查询成功",
        users.iter().map(views::qyw_user).collect(),
        total,
    ))
}

/// QYW-03/05 input (A-53: `userid` or `usedid`).
fn input(p: &Params) -> Result<StaffInput, ApiError> {
    let username = p.str("username").map(str::to_owned);
    Ok(StaffInput {
        login_user: username.clone(),
        username,
        password: p.str("password").map(str::to_owned),
        role_id: p.i64("role_id")?,
        company_id: p.i64("company_id")?,
        position: None,
        userid: p.str_any(&["userid", "usedid"]).map(str::to_owned),
    })
}

/// QYW-03.
pub async fn add(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    p.req_str("username")?;
    p.req_str("password")?;
    p.req_i64("role_id")?;
    p.req_i64("company_id")?;
    service::staff::create(&state, &caller, input(&p)?, false).await?;
    Ok(Reply::done("添加成功"))
}

/// QYW-04.
pub async fn delete(State(state): State<AppState>, caller: StaffWrite, OId(id): OId) -> ApiResult {
    service::staff::delete(&state, &caller, id, false).await?;
    Ok(Reply::done("删除成功"))
}

/// QYW-05.
pub async fn update(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    service::staff::update(&state, &caller, id, input(&p)?, false).await?;
    Ok(Reply::done("修改成功"))
}
