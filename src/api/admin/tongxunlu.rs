//! ADM-34: sync the company's users from the WeCom address book, and the run's status.

use axum::extract::State;

use crate::{
    api::{
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{StaffRead, StaffWrite},
    service::tongxunlu,
    state::AppState,
};

/// ADM-34 (`o_id` = company id): answers when the run is over, with its counts in `data`.
pub async fn sync(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(company_id): OId,
) -> ApiResult {
    let run = tongxunlu::sync(&state, &caller, company_id).await?;
    Ok(Reply::ok("同步成功", tongxunlu::run_json(&run)))
}

/// The latest run of the company (`o_id`), also while it runs.
pub async fn status(
    State(state): State<AppState>,
    caller: StaffRead,
    OId(company_id): OId,
) -> ApiResult {
    let run = tongxunlu::status(&state, &caller, company_id).await?;
    Ok(Reply::ok("查询成功", tongxunlu::run_json(&run)))
}
