//! Surface `public`: shared utilities for any signed-in staff member (image upload).

mod img;

use axum::{extract::DefaultBodyLimit, routing::any};

use crate::api::routes::Routes;

pub fn router() -> Routes {
    const P: &str = "/zhugeleida/public";
    // The upload body reader bounds every part itself (ZGLD_UPLOAD_MAX_CHUNK_BYTES).
    Routes::new()
        .route(
            &format!("{P}/img_upload"),
            any(img::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            &format!("{P}/img_merge"),
            any(img::merge).layer(DefaultBodyLimit::disable()),
        )
}
