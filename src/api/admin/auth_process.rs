//! ADM-73..75, 77, 78, 87: the authorization flow pages of the company's mini program
//! (`xcx_auth_process`) and official account (`gzh_auth_process`).

use axum::extract::State;

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
    },
    auth::{StaffRead, StaffWrite},
    service::platform::authorize::{self, Customise, GZH, XCX},
    state::AppState,
};

/// ADM-73.
pub async fn xcx_state(State(state): State<AppState>, caller: StaffRead) -> ApiResult {
    let (msg, data) = authorize::flow_state(&state, &caller, XCX).await?;
    Ok(Reply::ok(msg, data))
}

/// ADM-78.
pub async fn gzh_state(State(state): State<AppState>, caller: StaffRead) -> ApiResult {
    let (msg, data) = authorize::flow_state(&state, &caller, GZH).await?;
    Ok(Reply::ok(msg, data))
}

/// ADM-74.
pub async fn xcx_set_appid(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> ApiResult {
    authorize::set_appid(&state, &caller, XCX, p.req_str("authorization_appid")?).await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-87.
pub async fn gzh_set_appid(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> ApiResult {
    authorize::set_appid(&state, &caller, GZH, p.req_str("authorization_appid")?).await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-75 (a GET that writes, A-05).
pub async fn xcx_refresh_info(State(state): State<AppState>, caller: StaffWrite) -> ApiResult {
    authorize::refresh_info(&state, &caller, XCX).await?;
    Ok(Reply::done("成功获取小程序帐号基本信息authorizer_info"))
}

/// ADM-77.
pub async fn xcx_customise(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> ApiResult {
    let s = |k: &str| p.str(k).map(str::to_owned);
    authorize::customise(
        &state,
        &caller,
        Customise {
            name: s("name"),
            head_img: s("head_img"),
            introduce: s("introduce"),
            service_category: s("service_category"),
        },
    )
    .await?;
    Ok(Reply::done("修改成功"))
}
