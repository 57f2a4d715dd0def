//! An offline imitation of the WeChat servers (WECHAT.md §G), restricted to WeCom
//! (`gettoken`, OAuth code exchange, address book), mini-program login
//! (`sns/jscode2session`), the app token (`cgi-bin/token`) and mini-program codes
//! (`wxa/getwxacodeunlimit`), the third-party platform (`component`) and the official account
//! (`mp`: web OAuth, `sns/userinfo`, the JS-SDK ticket), so the server can be run and tested
//! end to end without WeChat.
//!
//! One listener serves all four hosts by path prefix (`/qyapi`, `/open`, `/mp`, none for
//! `api`), plus the admin API under `/__sandbox`. See `docs/wechat-sandbox.md`.

mod admin;
mod api;
mod browser;
mod code;
mod component;
mod config;
mod directory;
mod mp;
mod push;
mod qyapi;
mod report;
mod state;
mod upstream;
mod wxa;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;

pub use api::session_key;
pub use config::{
    AgentSeed, AppKind, AppSeed, AuditConfig, AuthorizerSeed, CategorySeed, ClockConfig, ClockMode,
    CodeConfig, ComponentSeed, DepartmentSeed, SandboxConfig, TemplateSeed, TokenConfig, UserSeed,
    WecomSeed, WecomUserSeed,
};
pub use mp::demo_official_account;
use state::SandboxState;

/// Handle on the sandbox state shared by every request; cheap to clone.
#[derive(Clone)]
pub(crate) struct Shared(Arc<Mutex<SandboxState>>, reqwest::Client);

impl Shared {
    /// Locks the state. A panic in another request cannot leave it half-written in a way that
    /// matters for a test server, so a poisoned lock is simply taken over.
    fn lock(&self) -> MutexGuard<'_, SandboxState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The whole sandbox as one router, its state inside.
pub fn router(config: SandboxConfig) -> Router {
    let shared = Shared(
        Arc::new(Mutex::new(SandboxState::new(config))),
        reqwest::Client::new(),
    );
    Router::new()
        .nest("/__sandbox", admin::router())
        .fallback(upstream::handle)
        .with_state(shared)
}

/// Serves the sandbox on `listener` until the task is dropped or the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: SandboxConfig,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "wechat sandbox listening");
    }
    axum::serve(listener, router(config)).await
}
