//! Operator endpoints, outside the legacy API: liveness, readiness, Prometheus metrics and the
//! OpenAPI document.
//! None of them needs a signature (docs/operations.md says what to expose where).

use axum::{
    extract::State,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};

use axum::routing::get;

use crate::{
    api::{reply::Reply, routes::Routes},
    error::ApiError,
    state::AppState,
};

/// `/healthz`, `/readyz`, `/metrics`, `/openapi.json` (GET only).
pub fn router() -> Routes {
    Routes::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(crate::api::openapi::serve))
        // Stored files (API.md 1.9), from the storage interface (src/storage/serve.rs).
        .route("/statics/{*path}", get(crate::storage::serve::statics))
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the database answers; `data` says which WeChat the node uses.
pub async fn readyz(State(state): State<AppState>) -> Result<Reply, ApiError> {
    let client = state.db.get().await?;
    client.query_one("select 1", &[]).await?;
    Ok(Reply::ok(
        "ok",
        crate::wechat::environment::readiness(&state.settings),
    ))
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
