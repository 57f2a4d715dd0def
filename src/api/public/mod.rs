//! Surface `public`: shared utilities for any signed-in staff member (image upload).

mod img;

use axum::{extract::DefaultBodyLimit, routing::any, Router};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    const P: &str = "/zhugeleida/public";
    Router::new()
        .route(&format!("{P}/img_upload"), any(img::upload))
        .route(&format!("{P}/img_merge"), any(img::merge))
        // The upload body reader bounds every part itself (ZGLD_UPLOAD_MAX_CHUNK_BYTES).
        .layer(DefaultBodyLimit::disable())
}
