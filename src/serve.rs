//! The accept loop, in place of `axum::serve`, so the edge can defend itself (issue 8
//! defect 6): `TCP_NODELAY` on every connection (small frames and acks go out at once); a cap
//! on concurrent HTTP connections per client address (`ZGLD_MAX_CONNECTIONS_PER_ADDRESS`);
//! a limit on the time to send a request's head (`ZGLD_HEADER_TIMEOUT_SECS`) and on the
//! silence between the parts of its body
//! (`ZGLD_BODY_TIMEOUT_SECS`); the socket peer handed to handlers as `ConnectInfo`; and a
//! graceful shutdown that lets in-flight requests finish.
//!
//! A connection upgraded to a WebSocket leaves the per-address count: sockets are capped per
//! identity by the hub (docs/realtime.md), and one office behind one NAT address holds many.

use std::{
    convert::Infallible,
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{header, HeaderValue, Request, StatusCode},
    response::Response,
};
use dashmap::DashMap;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
};
use tokio::net::TcpListener;
use tower::{Service, ServiceExt as _};

use crate::api::client_addr::TrustedNet;

/// The open-files limit before and after [`raise_open_files_limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenFiles {
    pub before: u64,
    pub after: u64,
    pub hard: u64,
}

/// Raises this process's soft open-files limit (`RLIMIT_NOFILE`) to its hard limit: every
/// WebSocket is a file descriptor, and the usual soft limit (1,024) is far below what one node
/// holds. Above the hard limit only the service manager can go (`LimitNOFILE=`, `ulimit -Hn`;
/// docs/operations.md, capacity).
pub fn raise_open_files_limit() -> std::io::Result<OpenFiles> {
    let (before, hard) = rlimit::Resource::NOFILE.get()?;
    let after = rlimit::increase_nofile_limit(u64::MAX)?;
    Ok(OpenFiles {
        before,
        after,
        hard,
    })
}

/// The edge's limits (README, configuration).
#[derive(Clone, Debug)]
pub struct EdgeLimits {
    /// Longest time a client may take to send a request's head (`ZGLD_HEADER_TIMEOUT_SECS`).
    pub header_timeout: Duration,
    /// Longest silence while a request's body is being read (`ZGLD_BODY_TIMEOUT_SECS`).
    pub body_timeout: Duration,
    /// Concurrent HTTP connections one client address may hold; 0 = no cap
    /// (`ZGLD_MAX_CONNECTIONS_PER_ADDRESS`). Trusted proxies are not capped.
    pub per_address: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(15),
            per_address: 512,
        }
    }
}

/// Open HTTP connections per client address.
#[derive(Default)]
struct PerAddress(DashMap<IpAddr, usize>);

/// One counted connection; dropping it gives the place back.
struct Slot {
    map: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn acquire(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<Slot> {
        let mut n = self.0.entry(ip).or_insert(0);
        if cap > 0 && *n >= cap {
            return None;
        }
        *n += 1;
        Some(Slot {
            map: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(mut n) = self.map.0.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
        }
        self.map.0.remove_if(&self.ip, |_, n| *n == 0);
    }
}

/// After shutdown begins, how long open connections are still served before idle ones are
/// closed. A client may be writing its next request on a kept-alive connection at that very
/// moment; closing the connection at once would lose that request (found by `loadtest chaos`,
/// rolling SIGTERMs). Meanwhile every answer carries `connection: close`, so busy clients
/// leave by themselves and open their next connection on another node.
const LAME_DUCK: Duration = Duration::from_secs(1);

/// Serves `service` on `listener` until `shutdown` resolves; then stops accepting, serves
/// open connections for [`LAME_DUCK`] more (answers carry `connection: close`), and waits (at
/// most `drain`) for in-flight requests.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    limits: EdgeLimits,
    trusted: Vec<TrustedNet>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let counts = Arc::new(PerAddress::default());
    let draining = Arc::new(AtomicBool::new(false));
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let ip = peer.ip();
        let proxy = trusted.iter().any(|t| t.contains(ip));
        let slot = if proxy {
            None
        } else {
            match counts.acquire(ip, limits.per_address) {
                Some(s) => Some(s),
                None => {
                    metrics::counter!("zgld_connections_refused_total", "reason" => "per_address")
                        .increment(1);
                    tracing::debug!(%ip, "connection refused: per-address cap");
                    drop(stream);
                    continue;
                }
            }
        };
        let svc = service.clone();
        let body_timeout = limits.body_timeout;
        let draining = draining.clone();
        let hyper_service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            let req =
                req.map(|b| Body::new(tower_http::timeout::TimeoutBody::new(body_timeout, b)));
            let answer = svc.clone().oneshot(req);
            let draining = draining.clone();
            async move {
                let mut res = answer.await?;
                if draining.load(Ordering::Relaxed)
                    && res.status() != StatusCode::SWITCHING_PROTOCOLS
                {
                    res.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, Infallible>(res)
            }
        });
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), hyper_service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    draining.store(true, Ordering::Relaxed);
    tokio::time::sleep(LAME_DUCK).await;
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: requests still running after {drain:?}; stopping anyway");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_address_cap_counts_open_connections() {
        let counts = Arc::new(PerAddress::default());
        let ip: IpAddr = [10, 0, 0, 1].into();
        let a = counts.acquire(ip, 2);
        let b = counts.acquire(ip, 2);
        assert!(a.is_some() && b.is_some());
        assert!(counts.acquire(ip, 2).is_none());
        assert!(counts.acquire([10, 0, 0, 2].into(), 2).is_some());
        drop(a);
        assert!(counts.acquire(ip, 2).is_some());
        drop(b);
        assert!(counts.acquire(ip, 0).is_some(), "0 = no cap");
    }
}
