//! The route table: a router that remembers every path it routes, so one list serves the
//! server, the OpenAPI test (every routed path documented, every documented path routed) and
//! the cross-tenant route sweep (tests/route_sweep.rs). Surfaces build theirs with
//! `Routes::new().route(path, any(handler))` exactly as with `axum::Router`.

use axum::{routing::MethodRouter, Router};

use crate::state::AppState;

/// An `axum::Router<AppState>` plus the paths it routes, in registration order.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    paths: Vec<String>,
}

impl Routes {
    pub fn new() -> Self {
        Routes::default()
    }

    /// Routes `path` (axum syntax: `{o_id}`) to `method_router`.
    pub fn route(mut self, path: &str, method_router: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, method_router);
        self.paths.push(path.to_owned());
        self
    }

    /// Adds every route of `other`.
    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }

    /// Every routed path.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
