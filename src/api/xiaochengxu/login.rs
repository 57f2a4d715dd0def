//! XCX-01: mini-program login (both documented paths, A-74).

use axum::extract::State;

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
    },
    error::ApiError,
    service::{self, login::MiniLogin},
    state::AppState,
};

/// `?code=…&user_type=2&source=1|2[&company_id=…][&uid=…]` → `{user_id, token}`.
pub async fn login(State(state): State<AppState>, p: Params) -> ApiResult {
    let code = p.req_str("code")?;
    let user_type = match p.i64("user_type")?.unwrap_or(2) {
        t @ (1 | 2) => t as i16,
        _ => return Err(ApiError::form("user_type 只能是 1 或 2")),
    };
    let source = match p.i64("source")?.unwrap_or(1) {
        s @ (1 | 2) => s as i16,
        _ => return Err(ApiError::form("source 只能是 1 (扫码) 或 2 (转发)")),
    };
    let req = MiniLogin {
        code,
        user_type,
        source,
        company_id: p.i64("company_id")?,
        uid: p.i64("uid")?,
    };
    let data = service::login::miniprogram(&state, req).await?;
    Ok(Reply::ok("登录成功", data))
}
