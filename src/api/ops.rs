//! Operator endpoints, outside the legacy API: liveness, readiness and Prometheus metrics.
//! None of them needs a signature (docs/operations.md says what to expose where).

use axum::{
    extract::State,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};

use crate::{api::reply::Reply, error::ApiError, state::AppState};

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the database answers.
pub async fn readyz(State(state): State<AppState>) -> Result<Reply, ApiError> {
    let client = state.db.get().await?;
    client.query_one("select 1", &[]).await?;
    Ok(Reply::done("ok"))
}

/// `GET /metrics`: Prometheus text exposition (docs/operations.md lists every series).
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = crate::monitoring::render(&state.db);
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}
