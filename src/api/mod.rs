//! The wire API: one folder per surface (admin, qiyeweixin, xiaochengxu, ...), one file per
//! resource, thin handlers. Every documented path answers GET and POST alike.

pub mod admin;
pub mod client_addr;
pub mod gongzhonghao;
pub mod ops;
pub mod params;
pub mod public;
pub mod qiyeweixin;
pub mod reply;
pub mod upload_form;
pub mod views;
pub mod ws;
pub mod xiaochengxu;

use axum::{extract::FromRequestParts, http::request::Parts, Router};

use crate::{error::ApiError, state::AppState};

/// All surfaces.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(admin::router())
        .merge(qiyeweixin::router())
        .merge(xiaochengxu::router())
        .merge(gongzhonghao::router())
        .merge(public::router())
}

/// The numeric `{o_id}` path segment; anything else is an illegal request.
#[derive(Debug, Clone, Copy)]
pub struct OId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for OId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::illegal("missing o_id"))?;
        raw.trim()
            .parse()
            .map(OId)
            .map_err(|_| ApiError::illegal(format!("o_id {raw:?} is not a number")))
    }
}
