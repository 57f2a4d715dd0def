//! The one state shared by every handler: a cheap-clone handle over long-lived parts.

use std::sync::Arc;

use axum::extract::FromRef;
use deadpool_postgres::Pool;

use crate::{
    auth::replay::ReplayGuard,
    config::Settings,
    hub::Hub,
    service::chat::{people::People, writer::Writer},
    wechat::WechatClient,
};

/// Cloned into every request, and by every router layer that holds it: one `Arc`, so a clone
/// is one atomic increment (it was one per field, about 2 % of the server's CPU per view in
/// the content-views profile; docs/BENCHMARKS.md, tenth sitting). Its parts are [`Shared`]'s
/// fields, reached through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares: every field is long-lived (an `Arc`, a pool or a handle).
pub struct Shared {
    /// Read-only configuration.
    pub settings: Arc<Settings>,
    /// PostgreSQL, the store of record.
    pub db: Pool,
    /// Optional Redis, for what several nodes must share.
    pub redis: Option<redis::aio::ConnectionManager>,
    /// This installation's Redis namespace: build every Redis key and channel with
    /// `redis_ns.key(..)` (src/redis_keys.rs).
    pub redis_ns: crate::redis_keys::RedisNs,
    /// Callers' auth records, dropped on change (NOTIFY from PostgreSQL).
    pub auth_cache: Arc<crate::auth::cache::AuthCache>,
    /// Spent signatures of state-changing requests.
    pub replay: ReplayGuard,
    /// WeChat / WeCom API client with token caching.
    pub wechat: WechatClient,
    /// This node's live connections and the bridge to the other nodes.
    pub hub: Hub,
    /// Bytes per second this node replays to clients catching up (resume, history pages),
    /// shared by all of them so live traffic keeps the cores (src/hub/catchup.rs).
    pub catchup: crate::hub::catchup::CatchUp,
    /// Batching, durable chat message writer.
    pub chat: Writer,
    /// Durable radar event writer.
    pub radar: crate::service::radar::Radar,
    /// Names and avatars shown beside chat messages (short-lived cache).
    pub people: People,
    /// Products, websites and articles as customers open them (dropped on change).
    pub content: crate::service::content_cache::ContentCache,
    /// Stored files: `/statics/`, uploads, card photos, mini-program codes.
    pub storage: crate::storage::Storage,
    /// The pace of this node's code release calls to WeChat (`ZGLD_RELEASE_RATE`).
    pub release_pace: crate::service::platform::release::Pace,
}

impl FromRef<AppState> for Pool {
    fn from_ref(s: &AppState) -> Pool {
        s.db.clone()
    }
}
