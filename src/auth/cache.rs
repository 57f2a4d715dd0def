//! A per-node cache of callers' auth records, so a signed request usually needs no database
//! round trip to authenticate. PostgreSQL tells every node when an auth record changes
//! (triggers in sql/006 `NOTIFY zgld_auth`); each node LISTENs on its own connection and drops
//! the entry. The cache is only trusted while that subscription is up: when it drops, the
//! cache empties and requests read PostgreSQL until it is back. Entries also expire after
//! `ZGLD_AUTH_CACHE_SECS` (0 turns the cache off).

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use futures_util::StreamExt;

use super::{AuthRecord, Customer, Principal, Staff};

/// The NOTIFY channel; payloads are `s:<staff id>`, `c:<customer id>`, `k:<company id>`.
pub const CHANNEL: &str = "zgld_auth";

pub struct Cached<P> {
    at: Instant,
    rec: AuthRecord<P>,
}

/// The cache; shared by the whole node.
pub struct AuthCache {
    pub(super) staff: DashMap<i64, Cached<Staff>>,
    pub(super) customers: DashMap<i64, Cached<Customer>>,
    ttl: Duration,
    live: AtomicBool,
    /// Bumped by every invalidation: a record read from PostgreSQL before an invalidation
    /// is not stored after it.
    generation: AtomicU64,
}

impl AuthCache {
    pub fn new(ttl: Duration) -> Arc<Self> {
        Arc::new(AuthCache {
            staff: DashMap::new(),
            customers: DashMap::new(),
            ttl,
            live: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        })
    }

    fn usable(&self) -> bool {
        !self.ttl.is_zero() && self.live.load(Ordering::Acquire)
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get<P: Principal>(&self, id: i64) -> Option<AuthRecord<P>> {
        if !self.usable() {
            return None;
        }
        let e = P::cached(self).get(&id)?;
        (e.at.elapsed() < self.ttl).then(|| e.rec.clone())
    }

    /// Stores a record read at `generation` unless something was invalidated since.
    pub fn put<P: Principal>(&self, id: i64, rec: AuthRecord<P>, generation: u64) {
        if self.usable() && self.generation() == generation {
            P::cached(self).insert(
                id,
                Cached {
                    at: Instant::now(),
                    rec,
                },
            );
        }
    }

    /// Records a token use written to PostgreSQL by this node.
    pub fn touched<P: Principal>(&self, id: i64, at: DateTime<Utc>) {
        if let Some(mut e) = P::cached(self).get_mut(&id) {
            e.rec.token_last_used_at = Some(at);
        }
    }

    /// Whether an entry is held (tests wait for a NOTIFY to land with this).
    pub fn holds_staff(&self, id: i64) -> bool {
        self.staff.contains_key(&id)
    }

    pub fn holds_customer(&self, id: i64) -> bool {
        self.customers.contains_key(&id)
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn forget_staff(&self, id: i64) {
        self.bump();
        self.staff.remove(&id);
    }

    pub fn forget_customer(&self, id: i64) {
        self.bump();
        self.customers.remove(&id);
    }

    pub fn forget_company(&self, company_id: i64) {
        self.bump();
        self.staff
            .retain(|_, e| e.rec.principal.company_id != company_id);
        self.customers
            .retain(|_, e| e.rec.principal.company_id != company_id);
    }

    pub fn clear(&self) {
        self.bump();
        self.staff.clear();
        self.customers.clear();
    }

    /// Applies one NOTIFY payload.
    pub fn apply(&self, payload: &str) {
        let parsed = payload
            .split_once(':')
            .and_then(|(k, id)| id.parse::<i64>().ok().map(|id| (k, id)));
        match parsed {
            Some(("s", id)) => self.forget_staff(id),
            Some(("c", id)) => self.forget_customer(id),
            Some(("k", id)) => self.forget_company(id),
            _ => self.clear(),
        }
    }

    fn set_live(&self, live: bool) {
        if !live {
            self.live.store(false, Ordering::Release);
            self.clear();
        } else {
            self.clear();
            self.live.store(true, Ordering::Release);
        }
    }
}

/// Keeps the LISTEN connection up for the life of the node.
pub async fn listen(cache: Arc<AuthCache>, database_url: String) {
    if cache.ttl.is_zero() {
        return;
    }
    let mut backoff = Duration::from_millis(200);
    loop {
        match tokio_postgres::connect(&database_url, tokio_postgres::NoTls).await {
            Ok((client, mut conn)) => {
                let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
                // The connection must be polled for LISTEN to complete.
                let sql = format!("listen {CHANNEL}");
                let subscribed = {
                    let listen = client.batch_execute(&sql);
                    tokio::pin!(listen);
                    loop {
                        tokio::select! {
                            r = &mut listen => break r.is_ok(),
                            m = messages.next() => match m {
                                Some(Ok(_)) => {}
                                _ => break false,
                            },
                        }
                    }
                };
                if subscribed {
                    backoff = Duration::from_millis(200);
                    cache.set_live(true);
                    while let Some(m) = messages.next().await {
                        match m {
                            Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                                cache.apply(n.payload())
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "auth cache: LISTEN connection failed");
                                break;
                            }
                        }
                    }
                }
                cache.set_live(false);
                drop(client);
            }
            Err(e) => {
                tracing::warn!(error = %e, "auth cache: cannot connect for LISTEN");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(company_id: i64) -> AuthRecord<Customer> {
        AuthRecord {
            principal: Customer { id: 1, company_id },
            token: Some("t".into()),
            token_issued_at: None,
            token_last_used_at: None,
            disabled: false,
            company_expired: false,
        }
    }

    #[test]
    fn only_used_while_live_and_never_stores_across_an_invalidation() {
        let c = AuthCache::new(Duration::from_secs(30));
        c.put(1, rec(7), c.generation());
        assert!(c.get::<Customer>(1).is_none(), "not live yet");
        c.set_live(true);
        let g = c.generation();
        c.apply("c:1");
        c.put(1, rec(7), g);
        assert!(
            c.get::<Customer>(1).is_none(),
            "read before the invalidation"
        );
        c.put(1, rec(7), c.generation());
        assert!(c.get::<Customer>(1).is_some());
        c.apply("k:7");
        assert!(c.get::<Customer>(1).is_none(), "company invalidated");
        c.put(1, rec(7), c.generation());
        c.set_live(false);
        assert!(c.get::<Customer>(1).is_none(), "down means empty");
    }
}
