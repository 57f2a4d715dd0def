//! Prometheus metrics: the process-wide recorder behind the `metrics` macros, the HTTP request
//! counters (by matched route and envelope `code`), and the gauges sampled at scrape time.
//! Every metric name is listed in `docs/operations.md`.

use std::{sync::OnceLock, time::Instant};

use axum::{
    body::Body,
    extract::MatchedPath,
    http::{Request, Response},
    middleware::Next,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The envelope `code` of a response, set by [`crate::api::reply::Reply`] and
/// [`crate::error::ApiError`] so the request counter can label by it without reading bodies.
#[derive(Clone, Copy, Debug)]
pub struct EnvelopeCode(pub i64);

/// Latency buckets (seconds) for every histogram whose name ends in `_seconds`.
const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Size buckets for every histogram whose name ends in `_size` (batch sizes, queue depths).
const SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the global recorder once per process (later calls, e.g. a second app in a test
/// process, reuse it). `None` when another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix("_size".into()), SIZE_BUCKETS)
                });
            let installed = builder.and_then(|b| b.install_recorder());
            match installed {
                Ok(h) => {
                    describe();
                    Some(h)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics stays empty");
                    None
                }
            }
        })
        .as_ref()
}

/// Starts the recorder's periodic upkeep (histogram buffers are drained at scrape time, but
/// upkeep bounds their memory between scrapes). Call once per process from inside tokio.
pub fn start_upkeep() {
    static STARTED: OnceLock<()> = OnceLock::new();
    if let Some(h) = handle() {
        STARTED.get_or_init(|| {
            let h = h.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    h.run_upkeep();
                }
            });
            tokio::spawn(watch_runtime_lag());
        });
    }
}

/// How late a timer that should fire every [`LAG_PROBE`] fires: time the runtime's threads
/// could not give to ready tasks (a blocked worker, a starved process). Recorded as
/// `zgld_runtime_lag_seconds`; a lag of [`LAG_WARN`] or more is logged.
const LAG_PROBE: std::time::Duration = std::time::Duration::from_millis(50);
const LAG_WARN: std::time::Duration = std::time::Duration::from_millis(200);

async fn watch_runtime_lag() {
    let lag = metrics::histogram!("zgld_runtime_lag_seconds");
    loop {
        let due = Instant::now() + LAG_PROBE;
        tokio::time::sleep_until(due.into()).await;
        let late = Instant::now().saturating_duration_since(due);
        lag.record(late.as_secs_f64());
        if late >= LAG_WARN {
            tracing::warn!(
                lag_ms = late.as_millis() as u64,
                "runtime lag: ready tasks waited"
            );
        }
    }
}

/// Text exposition of every series, after sampling the gauges that are read on scrape.
pub fn render(pool: &deadpool_postgres::Pool) -> String {
    let s = pool.status();
    metrics::gauge!("zgld_db_pool_max").set(s.max_size as f64);
    metrics::gauge!("zgld_db_pool_open").set(s.size as f64);
    metrics::gauge!("zgld_db_pool_idle").set(s.available as f64);
    metrics::gauge!("zgld_db_pool_in_use").set(s.size.saturating_sub(s.available) as f64);
    metrics::gauge!("zgld_db_pool_waiting").set(s.waiting as f64);
    handle().map(|h| h.render()).unwrap_or_default()
}

/// One route's request metrics, registered once: the duration histogram and a counter per
/// (method, HTTP status, envelope code). Registering a labelled metric per request (label
/// strings, key hashing, the registry's lookup) was about 2 % of the server's CPU per content
/// view (docs/BENCHMARKS.md, tenth sitting).
struct RouteMetrics {
    path: String,
    duration: metrics::Histogram,
    requests: dashmap::DashMap<(&'static str, u16, i64), metrics::Counter>,
}

/// By matched route (`unmatched` for none): bounded by the route table.
static ROUTES: std::sync::LazyLock<dashmap::DashMap<String, std::sync::Arc<RouteMetrics>>> =
    std::sync::LazyLock::new(dashmap::DashMap::new);

/// The method label: the standard methods by name, anything else `other` (a client cannot
/// grow the series with invented methods).
fn method_label(m: &axum::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        _ => "other",
    }
}

fn route_metrics(path: &str) -> std::sync::Arc<RouteMetrics> {
    if let Some(r) = ROUTES.get(path) {
        return r.clone();
    }
    // The recorder first: a handle made before it is installed would count nothing.
    let _ = handle();
    ROUTES
        .entry(path.to_owned())
        .or_insert_with(|| {
            std::sync::Arc::new(RouteMetrics {
                path: path.to_owned(),
                duration: metrics::histogram!(
                    "zgld_http_request_duration_seconds",
                    "path" => path.to_owned()
                ),
                requests: dashmap::DashMap::new(),
            })
        })
        .clone()
}

/// Middleware (applied per route, so the matched route is known): counts every request by
/// method, route, HTTP status and envelope code, and times it.
pub async fn track(req: Request<Body>, next: Next) -> Response<Body> {
    let route = route_metrics(
        req.extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str())
            .unwrap_or("unmatched"),
    );
    let method = method_label(req.method());
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    // `none` (no envelope: WebSocket upgrades, files) is kept apart from every real code.
    let code = resp.extensions().get::<EnvelopeCode>().map(|c| c.0);
    let key = (method, status, code.unwrap_or(i64::MIN));
    let counter = match route.requests.get(&key) {
        Some(c) => c.clone(),
        None => route
            .requests
            .entry(key)
            .or_insert_with(|| {
                metrics::counter!(
                    "zgld_http_requests_total",
                    "method" => method,
                    "path" => route.path.clone(),
                    "status" => status.to_string(),
                    "code" => code.map_or_else(|| "none".to_owned(), |c| c.to_string()),
                )
            })
            .clone(),
    };
    counter.increment(1);
    route.duration.record(start.elapsed().as_secs_f64());
    resp
}

/// Help texts for the metrics this module owns.
fn describe() {
    metrics::describe_counter!(
        "zgld_http_requests_total",
        "HTTP requests by method, matched route (`path`), HTTP status and envelope `code` (`none` for non-envelope answers such as WebSocket upgrades and files)"
    );
    metrics::describe_histogram!(
        "zgld_http_request_duration_seconds",
        "Time from routing to the response head, by matched route"
    );
    metrics::describe_counter!(
        "zgld_auth_cache_total",
        "Auth record look-ups in the per-node cache by principal kind and result (hit, miss, off)"
    );
    metrics::describe_gauge!("zgld_db_pool_max", "Configured PostgreSQL pool size");
    metrics::describe_gauge!("zgld_db_pool_open", "Open PostgreSQL connections");
    metrics::describe_gauge!("zgld_db_pool_idle", "Idle PostgreSQL connections");
    metrics::describe_gauge!("zgld_db_pool_in_use", "PostgreSQL connections checked out");
    metrics::describe_gauge!(
        "zgld_db_pool_waiting",
        "Requests waiting for a PostgreSQL connection"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        let custom = axum::http::Method::from_bytes(b"BREW").unwrap_or(axum::http::Method::GET);
        assert_eq!(custom.as_str(), "BREW");
        assert_eq!(method_label(&custom), "other");
        assert_eq!(method_label(&axum::http::Method::POST), "POST");
        assert_eq!(method_label(&axum::http::Method::GET), "GET");
    }
}
