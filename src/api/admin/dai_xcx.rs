//! ADM-79..86: code release to the companies' mini programs (代小程序), and the documented
//! extension `GET /zhugeleida/admin/dai_xcx/batch/{o_id}` (a batch's progress). The use cases
//! live in `service::platform::release` (docs/wechat-platform.md "Code release").

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{
    api::{
        params::Params,
        reply::{envelope_response, ApiResult, Reply},
        OId,
    },
    auth::{StaffRead, StaffWrite},
    error::ApiError,
    service::platform::release::{self, CommitParams, Op},
    state::AppState,
};

/// ADM-79: the authorized mini programs and their release status (`current_page`/`length`
/// optional; all when absent).
pub async fn list(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let (rows, count) = release::list(&state, &caller, p.paging(None)?).await?;
    Ok(Reply::list(
        "查询成功",
        rows.iter().map(release::app_json).collect(),
        count,
    ))
}

/// ADM-80: the platform's code templates.
pub async fn template_list(State(state): State<AppState>, caller: StaffRead) -> ApiResult {
    let list = release::templates(&state, &caller).await?;
    Ok(Reply::ok("获取成功", json!({ "template_list": list })))
}

/// The answer of a batch: the first failure's errcode, else the operation's success
/// message; `data.batch_id` names the batch, `data.running` says it is still at work.
async fn batch_reply(
    state: &AppState,
    caller: &StaffWrite,
    op: Op,
    p: &Params,
    commit: Option<CommitParams>,
) -> Result<Response, ApiError> {
    let ids = p.id_list("app_ids_list")?;
    if op != Op::Poll && ids.is_none() {
        return Err(ApiError::form("app_ids_list 不能为空"));
    }
    let started = release::start(state, caller, op, ids, commit).await?;
    let (code, msg, data) = match started.outcome {
        None => (
            200,
            format!("{}已开始,正在后台执行", op.name()),
            json!({"batch_id": started.batch_id, "running": true}),
        ),
        Some(o) => match o.first_error {
            Some((errcode, errmsg)) => (
                errcode,
                format!("{}报错: {errcode} : {errmsg}", op.name()),
                json!({"batch_id": started.batch_id, "running": false}),
            ),
            None => (
                200,
                op.success().to_owned(),
                json!({"batch_id": started.batch_id, "running": false}),
            ),
        },
    };
    Ok(envelope_response(
        StatusCode::OK,
        &json!({"code": code, "msg": msg, "data": data}),
    ))
}

/// ADM-81: commit `template_id` (0 is valid, A-48) as `user_version` to every app listed.
pub async fn upload_code(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> Result<Response, ApiError> {
    let template_id = p
        .i64("template_id")?
        .ok_or_else(|| ApiError::form("template_id 不能为空"))?;
    let commit = CommitParams {
        template_id,
        user_version: p.req_str("user_version")?.to_owned(),
        user_desc: p.req_str("user_desc")?.to_owned(),
    };
    batch_reply(&state, &caller, Op::Commit, &p, Some(commit)).await
}

/// ADM-82: submit for audit.
pub async fn submit_audit(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> Result<Response, ApiError> {
    batch_reply(&state, &caller, Op::Submit, &p, None).await
}

/// ADM-83: poll the latest audit of every app under audit (or of `app_ids_list`).
pub async fn get_latest_audit_status(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> Result<Response, ApiError> {
    batch_reply(&state, &caller, Op::Poll, &p, None).await
}

/// ADM-84: withdraw the audit.
pub async fn undocode_audit(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> Result<Response, ApiError> {
    batch_reply(&state, &caller, Op::Undo, &p, None).await
}

/// ADM-85 (`relase_code`, alias `release_code`, A-50): release the audited code.
pub async fn relase_code(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> Result<Response, ApiError> {
    batch_reply(&state, &caller, Op::Release, &p, None).await
}

/// ADM-86: roll back the release.
pub async fn revert_code_release(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> Result<Response, ApiError> {
    batch_reply(&state, &caller, Op::Revert, &p, None).await
}

/// Extension: a batch's progress and each app's step (`o_id` = `batch_id`).
pub async fn batch(
    State(state): State<AppState>,
    caller: StaffRead,
    OId(id): OId,
) -> Result<Response, ApiError> {
    let (b, items) = release::batch(&state, &caller, id).await?;
    Ok(Reply::ok("查询成功", release::batch_json(&b, &items)).into_response())
}
