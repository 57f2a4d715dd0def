//! Feedback from the salesperson app (API.md §8 gap 3; docs/content.md):
//! `POST /zhugeleida/qiyeweixin/feedback/add/0`.

use axum::extract::State;

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
    },
    auth::StaffWrite,
    service::product as svc,
    state::AppState,
};

/// `problem_type` opt (1 客户服务 by default), `content` req (API.md 1.11 feedback format).
pub async fn add(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    svc::feedback_from_staff(
        &state,
        &caller,
        p.i64("problem_type")?,
        p.req_str("content")?,
    )
    .await?;
    Ok(Reply::done("提交成功"))
}
