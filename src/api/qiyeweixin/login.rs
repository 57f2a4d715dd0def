//! QYW-01: WeCom OAuth login of a salesperson.

use axum::extract::State;

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
    },
    error::ApiError,
    service,
    state::AppState,
};

/// `GET /zhugeleida/qiyeweixin/work_weixin_auth/{company_id}?code=…` (A-52: `user_type` and
/// `source` are ignored). Answers ADM-01's login payload.
pub async fn work_weixin_auth(
    State(state): State<AppState>,
    axum::extract::Path(company_id): axum::extract::Path<String>,
    p: Params,
) -> ApiResult {
    let company_id: i64 = company_id
        .trim()
        .parse()
        .map_err(|_| ApiError::illegal("company_id is not a number"))?;
    let code = p.req_str("code")?;
    let data = service::login::wecom(&state, company_id, code).await?;
    Ok(Reply::ok("登录成功", data))
}
