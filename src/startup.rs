//! Builds the application from settings: database, Redis, WeChat client, router; binds
//! the listener and exposes the bound port (tests bind port 0).

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    body::Body,
    http::{Request, Uri},
    Router,
};
use tokio::net::TcpListener;
use tower::ServiceExt as _;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};

use crate::{
    api,
    auth::replay::ReplayGuard,
    config::Settings,
    db,
    error::ApiError,
    hub::{bridge, Hub},
    service::chat::people::People,
    state::AppState,
    wechat::WechatClient,
};

/// A built, bound server, not yet running.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Connects to everything, migrates and binds `settings.bind`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let state = build_state(settings).await?;
        let listener = TcpListener::bind(state.settings.bind)
            .await
            .with_context(|| format!("binding {}", state.settings.bind))?;
        let router = router(state.clone());
        Ok(Application {
            listener,
            router,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (db, lock) = (self.state.db.clone(), self.state.settings.auth.login_lock);
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                if let Err(e) = crate::auth::replay::ReplayGuard::sweep(&db).await {
                    tracing::warn!(error = %e, "sweeping spent signatures");
                }
                if let Ok(c) = db.get().await {
                    if let Err(e) = crate::db::throttle::sweep(&c, lock.as_secs_f64()).await {
                        tracing::warn!(error = %e, "sweeping the login throttle");
                    }
                }
            }
        });
        let uploads = crate::service::upload::spawn_sweeper(
            self.state.storage.clone(),
            self.state.settings.storage.abandon_after,
        );
        let app = self.router;
        // Path tolerance (1.1) must run before routing, so it wraps the router.
        let service =
            tower::service_fn(move |req: Request<Body>| app.clone().oneshot(normalize_path(req)));
        let hub = self.state.hub.clone();
        let signal = {
            let hub = hub.clone();
            async move {
                shutdown.await;
                // WebSockets are upgraded connections the server no longer tracks:
                // ask them to reconnect elsewhere first.
                hub.begin_shutdown();
            }
        };
        let res = crate::serve::serve(
            self.listener,
            service,
            self.state.settings.edge.clone(),
            self.state.settings.trusted_proxies.clone(),
            signal,
            Duration::from_secs(30),
        )
        .await;
        hub.wait_closed(Duration::from_secs(5)).await;
        sweeper.abort();
        uploads.abort();
        res
    }
}

/// Database, Redis, WeChat client: everything behind [`AppState`].
pub async fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    crate::wechat::environment::check(&settings)?;
    tracing::info!(
        wechat = %crate::wechat::environment::describe(&settings),
        production = settings.production,
        "WeChat"
    );
    crate::monitoring::handle();
    crate::monitoring::start_upkeep();
    crate::error::expose_reasons(settings.refusal_reasons);
    db::create_database_if_missing(&settings.database_url).await?;
    let pool = db::pool(&settings.database_url, settings.db_pool_size)?;
    db::migrate(&pool).await.context("migrating the database")?;
    let redis_ns = settings.redis_ns();
    let (redis, redis_client) = match &settings.redis_url {
        Some(url) => {
            let client = redis::Client::open(url.as_str()).context("ZGLD_REDIS_URL")?;
            // Fail fast while Redis is down: callers fall back to local behaviour.
            let cfg = redis::aio::ConnectionManagerConfig::new()
                .set_number_of_retries(1)
                .set_max_delay(200)
                .set_connection_timeout(Duration::from_millis(500))
                .set_response_timeout(Duration::from_millis(500));
            let manager = redis::aio::ConnectionManager::new_with_config(client.clone(), cfg)
                .await
                .context("connecting to Redis")?;
            (Some(manager), Some(client))
        }
        None => (None, None),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    let wechat = WechatClient::new(settings.wechat.hosts.clone(), http);
    let hub = match redis_client {
        Some(client) => {
            let (tx, rx) = bridge::channel(65_536);
            let hub = Hub::new(settings.ws_queue, Some(tx));
            let channel = redis_ns.key(bridge::CHANNEL);
            tokio::spawn(bridge::run_publisher(
                hub.clone(),
                client.clone(),
                rx,
                channel.clone(),
            ));
            tokio::spawn(bridge::run_subscriber(hub.clone(), client, channel));
            hub
        }
        None => Hub::new(settings.ws_queue, None),
    };
    hub.set_identity_cap(settings.ws_limits.max_per_identity);
    let catchup = crate::hub::catchup::CatchUp::new(settings.catchup.bytes_per_sec);
    let chat = crate::service::chat::writer::start(pool.clone(), settings.chat_writers);
    let auth_cache = crate::auth::cache::AuthCache::new(settings.auth.auth_cache_ttl);
    tokio::spawn(crate::auth::cache::listen(
        auth_cache.clone(),
        hub.clone(),
        settings.database_url.clone(),
    ));
    let storage = crate::storage::Storage::open(&settings)?;
    let people = People::default();
    tokio::spawn(crate::service::card_cache::listen(
        people.clone(),
        settings.database_url.clone(),
    ));
    let content = crate::service::content_cache::ContentCache::default();
    tokio::spawn(crate::service::content_cache::listen(
        content.clone(),
        settings.database_url.clone(),
    ));
    let radar = crate::service::radar::Radar::start(
        pool.clone(),
        settings.radar_writers,
        settings.radar_batching,
    );
    let release_pace = crate::service::platform::release::Pace::new(settings.wechat.release.rate);
    let state = AppState::new(crate::state::Shared {
        settings: Arc::new(settings),
        db: pool.clone(),
        auth_cache,
        replay: ReplayGuard::new(pool.clone()),
        redis,
        redis_ns,
        wechat,
        hub,
        catchup,
        chat,
        radar,
        people,
        content,
        storage,
        release_pace,
    });
    // Third-party platform tokens renewed ahead of expiry, one node at a time (row locks).
    tokio::spawn(crate::service::platform::token::run_renewer(state.clone()));
    // Code release batches whose node died are resumed by another (leases in PostgreSQL).
    tokio::spawn(crate::service::platform::release::run_resumer(
        state.clone(),
    ));
    Ok(state)
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let state_for_layers = state.clone();
    Router::new()
        .merge(api::router().into_router())
        // The screens: workspace, console, customer pages (src/web/, docs/screens.md); static
        // pages, outside the API route table and its OpenAPI document.
        .merge(crate::web::router())
        .fallback(|| async { ApiError::illegal("unknown path") })
        // One shared copy for the WebSocket sessions (src/api/ws.rs).
        .layer(axum::Extension(std::sync::Arc::new(state.clone())))
        .with_state(state)
        // Per route (after routing), so the request counter knows the matched path.
        .layer(axum::middleware::from_fn(crate::monitoring::track))
        // A staff write empties this node's content cache when it answers.
        .layer(axum::middleware::from_fn_with_state(
            state_for_layers,
            crate::service::content_cache::after_staff_writes,
        ))
        .layer(
            tower::ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|req: &Request<Body>| {
                            let rid = req
                                .headers()
                                .get("x-request-id")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("-");
                            tracing::info_span!(
                                "request",
                                method = %req.method(),
                                path = %req.uri().path(),
                                request_id = %rid,
                                user_id = tracing::field::Empty,
                                company_id = tracing::field::Empty,
                            )
                        })
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
}

/// Collapses doubled slashes and drops a trailing slash (API.md 1.1).
fn normalize_path(mut req: Request<Body>) -> Request<Body> {
    let path = req.uri().path();
    let untidy = path.contains("//") || (path.len() > 1 && path.ends_with('/'));
    if !untidy {
        return req;
    }
    let mut clean = String::with_capacity(path.len());
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        clean.push('/');
        clean.push_str(seg);
    }
    if clean.is_empty() {
        clean.push('/');
    }
    if let Some(q) = req.uri().query() {
        clean.push('?');
        clean.push_str(q);
    }
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = clean.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}
