//! The third-party platform's WeChat-facing endpoints and the grant links:
//! - `component_event` (API.md §8 gap 2): WeChat's encrypted pushes (verify ticket,
//!   authorization changes), answered with the plain text `success`;
//! - `auth_code` (§8 gap 1): the callback the admin's browser is sent to after authorizing;
//! - ADM-76 / ADM-88: the grant links.
//!
//! The pushes and the callback carry no signed triple: the pushes are verified by their
//! WeChat signature, the callback by its single-use authorization code (docs/wechat-platform.md).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
    },
    auth::StaffWrite,
    error::ApiError,
    service::platform::{authorize, receiver},
    state::AppState,
};

/// `POST /zhugeleida/admin/open_weixin/component_event`: WeChat's authorization event URL.
pub async fn component_event(
    State(state): State<AppState>,
    Query(q): Query<receiver::PushQuery>,
    body: String,
) -> Result<Response, ApiError> {
    receiver::component_event(&state, &q, &body).await?;
    Ok(([("content-type", "text/plain; charset=utf-8")], "success").into_response())
}

/// `POST /zhugeleida/admin/open_weixin/message/{appid}`: WeChat's message and event URL of
/// the authorized accounts (`$APPID$`); audit results (E.13) update the app's release state.
pub async fn message_event(
    State(state): State<AppState>,
    Path(appid): Path<String>,
    Query(q): Query<receiver::PushQuery>,
    body: String,
) -> Result<Response, ApiError> {
    receiver::message_event(&state, &appid, &q, &body).await?;
    Ok(([("content-type", "text/plain; charset=utf-8")], "success").into_response())
}

/// `GET /zhugeleida/admin/open_weixin/auth_code?auth_code=…&expires_in=600`: the callback.
pub async fn auth_code(State(state): State<AppState>, p: Params) -> ApiResult {
    let code = p.req_str("auth_code")?;
    let done = authorize::finish(&state, code).await?;
    Ok(Reply::ok(
        "授权成功",
        json!({
            "authorization_appid": done.appid,
            "app_type": if done.kind == authorize::XCX { "xcx" } else { "gzh" },
            "step": if done.step == 0 { json!("") } else { json!(done.step) },
        }),
    ))
}

/// ADM-76: the mini program's grant link (`data` is the URL string).
pub async fn xcx_grant_url(State(state): State<AppState>, caller: StaffWrite) -> ApiResult {
    let url = authorize::grant_url(&state, &caller, authorize::XCX).await?;
    Ok(Reply::ok("生成【授权链接】成功", json!(url)))
}

/// ADM-88: the official account's grant link.
pub async fn gzh_grant_url(State(state): State<AppState>, caller: StaffWrite) -> ApiResult {
    let url = authorize::grant_url(&state, &caller, authorize::GZH).await?;
    Ok(Reply::ok("生成【授权链接】成功", json!(url)))
}
