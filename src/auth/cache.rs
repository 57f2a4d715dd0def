//! A per-node cache of callers' auth records, so a signed request usually needs no database
//! round trip to authenticate. PostgreSQL tells every node when an auth record changes
//! (triggers in sql/006 `NOTIFY zgld_auth`); each node LISTENs on its own connection and drops
//! the entry. The cache is only trusted while that subscription is up: when it drops, the
//! cache empties and requests read PostgreSQL until it is back. Entries also expire after
//! `ZGLD_AUTH_CACHE_SECS` (0 turns the cache off).
//!
//! The same channel says when a session ends (`e:s:<user>:<session>`, `e:c:<customer>:<session>`,
//! sql/007): every node then closes that session's WebSockets with 4003 (issue 9 item 12).

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use dashmap::DashMap;

use super::{AuthRecord, Customer, Principal, Staff};
use crate::hub::{close, Hub, Target};

/// The NOTIFY channel; payloads are `s:<staff id>`, `c:<customer id>`, `k:<company id>`, and
/// `e:s:<staff id>:<session id>` / `e:c:<customer id>:<session id>` when a session ends.
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
            metrics::counter!("zgld_auth_cache_total", "kind" => P::KIND, "result" => "off")
                .increment(1);
            return None;
        }
        let found = P::cached(self)
            .get(&id)
            .and_then(|e| (e.at.elapsed() < self.ttl).then(|| e.rec.clone()));
        let result = if found.is_some() { "hit" } else { "miss" };
        metrics::counter!("zgld_auth_cache_total", "kind" => P::KIND, "result" => result)
            .increment(1);
        found
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

    /// Records a session's use written to PostgreSQL by this node.
    pub fn touched<P: Principal>(&self, id: i64, session_id: i64, at: DateTime<Utc>) {
        if let Some(mut e) = P::cached(self).get_mut(&id) {
            if let Some(s) = e.rec.sessions.iter_mut().find(|s| s.id == session_id) {
                s.last_used_at = at;
            }
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

    /// Applies one NOTIFY payload; returns the session that ended, if it says one did.
    pub fn apply(&self, payload: &str) -> Option<EndedSession> {
        if let Some(rest) = payload.strip_prefix("e:") {
            let ended = EndedSession::parse(rest);
            match ended {
                Some(EndedSession {
                    who: Target::User(id),
                    ..
                }) => self.forget_staff(id),
                Some(EndedSession {
                    who: Target::Customer(id),
                    ..
                }) => self.forget_customer(id),
                None => self.clear(),
            }
            return ended;
        }
        let parsed = payload
            .split_once(':')
            .and_then(|(k, id)| id.parse::<i64>().ok().map(|id| (k, id)));
        match parsed {
            Some(("s", id)) => self.forget_staff(id),
            Some(("c", id)) => self.forget_customer(id),
            Some(("k", id)) => self.forget_company(id),
            _ => self.clear(),
        }
        None
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

/// A session that ended (deleted, or ended by disabling its user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndedSession {
    pub who: Target,
    pub session_id: i64,
}

impl EndedSession {
    /// `s:<user>:<session>` or `c:<customer>:<session>`.
    fn parse(s: &str) -> Option<Self> {
        let mut parts = s.splitn(3, ':');
        let kind = parts.next()?;
        let id: i64 = parts.next()?.parse().ok()?;
        let session_id: i64 = parts.next()?.parse().ok()?;
        let who = match kind {
            "s" => Target::User(id),
            "c" => Target::Customer(id),
            _ => return None,
        };
        Some(EndedSession { who, session_id })
    }
}

/// Keeps the LISTEN connection up for the life of the node: drops changed auth records from
/// the cache and closes the WebSockets of ended sessions on this node.
pub async fn listen(cache: Arc<AuthCache>, hub: Hub, database_url: String) {
    let live = cache.clone();
    crate::db::listen::follow(
        database_url,
        CHANNEL,
        "auth",
        move |up| live.set_live(up),
        move |payload| {
            if let Some(e) = cache.apply(payload) {
                let closed = hub.close_session(e.who, Some(e.session_id), close::AUTH_FAILED);
                if closed > 0 {
                    tracing::info!(who = ?e.who, session = e.session_id, closed, "session ended: WebSockets closed");
                }
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(company_id: i64) -> AuthRecord<Customer> {
        AuthRecord {
            principal: Customer { id: 1, company_id },
            sessions: vec![],
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

    #[test]
    fn an_ended_session_payload_names_its_owner_and_drops_the_entry() {
        let c = AuthCache::new(Duration::from_secs(30));
        c.set_live(true);
        c.put(9, rec(7), c.generation());
        assert_eq!(
            c.apply("e:c:9:41"),
            Some(EndedSession {
                who: Target::Customer(9),
                session_id: 41
            })
        );
        assert!(c.get::<Customer>(9).is_none());
        assert_eq!(
            c.apply("e:s:3:5"),
            Some(EndedSession {
                who: Target::User(3),
                session_id: 5
            })
        );
        assert_eq!(c.apply("s:3"), None);
        assert_eq!(c.apply("e:x:1:2"), None);
    }
}
