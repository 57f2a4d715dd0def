//! The wire API: one folder per surface (admin, qiyeweixin, xiaochengxu, ...), one file per
//! resource, thin handlers. Every documented path answers GET and POST alike.

pub mod admin;
pub mod client_addr;
pub mod gongzhonghao;
pub mod openapi;
pub mod ops;
pub mod params;
pub mod public;
pub mod qiyeweixin;
pub mod reply;
pub mod routes;
pub mod upload_form;
pub mod views;
pub mod ws;
pub mod xiaochengxu;

use axum::{extract::FromRequestParts, http::request::Parts};

use crate::error::ApiError;

/// All surfaces and the operator endpoints: the one route table.
pub fn router() -> routes::Routes {
    routes::Routes::new()
        .merge(ops::router())
        .merge(admin::router())
        .merge(qiyeweixin::router())
        .merge(xiaochengxu::router())
        .merge(gongzhonghao::router())
        .merge(public::router())
}

/// Every routed path, as routed (`{o_id}` style); the OpenAPI and route-sweep tests read it.
pub fn routed_paths() -> Vec<String> {
    router().paths().to_vec()
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
