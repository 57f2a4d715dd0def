//! Single-use signatures: remembers spent `rand_str`s of state-changing requests, in
//! Redis when configured (shared by all nodes), in memory otherwise.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use dashmap::DashMap;
use redis::aio::ConnectionManager;

/// Longest wait for Redis before falling back to local memory.
const REDIS_WAIT: Duration = Duration::from_millis(300);

/// Where spent signatures are remembered.
#[derive(Clone)]
pub struct ReplayGuard {
    /// Shared across nodes; `None` on a single node.
    redis: Option<ConnectionManager>,
    /// Local memory: the store without Redis, and the fallback while Redis is unreachable.
    local: Arc<DashMap<String, Instant>>,
    /// The installation's Redis namespace.
    ns: crate::redis_keys::RedisNs,
}

impl ReplayGuard {
    pub fn new(redis: Option<ConnectionManager>) -> Self {
        ReplayGuard {
            redis,
            local: Arc::new(DashMap::new()),
            ns: crate::redis_keys::RedisNs::new("zgld:"),
        }
    }

    /// Keeps the spent signatures under the installation's Redis prefix.
    pub fn namespaced(mut self, ns: crate::redis_keys::RedisNs) -> Self {
        self.ns = ns;
        self
    }

    /// `true` the first time `key` is seen within `ttl`.
    pub async fn first_use(&self, key: &str, ttl: Duration) -> bool {
        if let Some(mut conn) = self.redis.clone() {
            let cmd = redis::cmd("SET")
                .arg(self.ns.key(&format!("replay:{key}")))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ttl.as_millis().max(1) as u64)
                .to_owned();
            match tokio::time::timeout(REDIS_WAIT, cmd.query_async::<Option<String>>(&mut conn))
                .await
            {
                Ok(Ok(v)) => return v.is_some(),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "replay cache: Redis unavailable, using local memory")
                }
                Err(_) => tracing::warn!("replay cache: Redis too slow, using local memory"),
            }
        }
        let now = Instant::now();
        let mut first = false;
        let entry = self.local.entry(key.to_owned()).or_insert_with(|| {
            first = true;
            now + ttl
        });
        if !first && *entry <= now {
            drop(entry);
            self.local.insert(key.to_owned(), now + ttl);
            return true;
        }
        first
    }

    /// Drops expired local entries; called periodically.
    pub fn sweep(&self) {
        let now = Instant::now();
        self.local.retain(|_, until| *until > now);
    }

    /// Entries held locally (for tests and metrics).
    pub fn local_len(&self) -> usize {
        self.local.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_use_is_refused_until_the_ttl_passes() {
        let g = ReplayGuard::new(None);
        assert!(g.first_use("a", Duration::from_millis(30)).await);
        assert!(!g.first_use("a", Duration::from_millis(30)).await);
        assert!(g.first_use("b", Duration::from_millis(30)).await);
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(g.first_use("a", Duration::from_millis(30)).await);
        tokio::time::sleep(Duration::from_millis(40)).await;
        g.sweep();
        assert_eq!(g.local_len(), 0);
    }
}
