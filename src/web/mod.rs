//! The people's screens (docs/screens.md, docs/web-client.md): plain ES modules and CSS under
//! `src/web/`, compiled into the binary and served as they are (no build step, nothing from
//! the internet). The pages use only the public API and the WebSocket protocol.
//!
//! - `/h5/` the salesperson's workspace (mobile), `/console/` the admin console (desktop),
//!   `/c/` the customer's pages, `/yulanwenzhang/{id}` the article page of the official
//!   account, `/scan_code_add_user` the sign-up page of the QR code; `/web/<file>` the shared
//!   client library and styles.
//!
//! Every answer carries its `Content-Type`, an `ETag` (md5 of the bytes) and
//! `Cache-Control: no-cache` (revalidate: a new binary's pages are seen at once; an unchanged
//! file costs a 304). `If-None-Match` is honoured.

use std::sync::LazyLock;

use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use md5::{Digest, Md5};

use crate::error::ApiError;

struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $mime:expr, $file:literal) => {
        Asset {
            path: $path,
            mime: $mime,
            body: include_bytes!($file),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// blueimp-md5 (MIT, vendored verbatim from the npm registry) as an ES module: its UMD
/// wrapper finds `module` and exports through it.
const MD5_MODULE: &str = concat!(
    "const module = { exports: {} };\n",
    include_str!("vendor/blueimp-md5-2.19.0.min.js"),
    "\nexport default module.exports;\n"
);

static ASSETS: LazyLock<Vec<(Asset, String)>> = LazyLock::new(|| {
    let list = vec![
        asset!("/h5", HTML, "h5/index.html"),
        asset!("/h5/app.js", JS, "h5/app.js"),
        asset!("/c", HTML, "c/index.html"),
        asset!("/c/app.js", JS, "c/app.js"),
        asset!("/yulanwenzhang", HTML, "c/article.html"),
        asset!("/c/article.js", JS, "c/article.js"),
        asset!("/scan_code_add_user", HTML, "c/signup.html"),
        asset!("/c/signup.js", JS, "c/signup.js"),
        asset!("/console", HTML, "console/index.html"),
        asset!("/console/app.js", JS, "console/app.js"),
        asset!("/web/zgld.js", JS, "zgld.js"),
        asset!("/web/ui.js", JS, "ui.js"),
        asset!("/web/chart.js", JS, "chart.js"),
        asset!("/web/style.css", CSS, "style.css"),
        Asset {
            path: "/web/md5.js",
            mime: JS,
            body: MD5_MODULE.as_bytes(),
        },
    ];
    list.into_iter()
        .map(|a| {
            let etag = format!("\"{}\"", hex::encode(Md5::digest(a.body)));
            (a, etag)
        })
        .collect()
});

/// The routes of the pages and their files.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut r = Router::new();
    for prefix in ["/h5", "/c", "/console", "/web"] {
        r = r.route(&format!("{prefix}/{{file}}"), get(serve));
        if prefix != "/web" {
            r = r.route(prefix, get(serve));
        }
    }
    // The article page GZH-07's redirect lands on (docs/articles.md): one page for every id.
    // The page the sign-up QR opens (ADM-09's `ZGLD_SIGNUP_PAGE_URL`; docs/signup-and-sync.md).
    r.route("/yulanwenzhang/{id}", get(article_page))
        .route("/scan_code_add_user", get(serve))
}

async fn article_page(headers: HeaderMap) -> Response {
    asset_response("/yulanwenzhang", &headers)
}

async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    asset_response(uri.path(), &headers)
}

fn asset_response(path: &str, headers: &HeaderMap) -> Response {
    let Some((asset, etag)) = ASSETS.iter().find(|(a, _)| a.path == path) else {
        return ApiError::illegal("unknown page").into_response();
    };
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    (h, Body::from(asset.body)).into_response()
}
