//! Single-use signatures: the `rand_str` of every state-changing request is spent in
//! PostgreSQL (`spent_signature`, sql/007) with one unique insert, so a signed write never
//! succeeds twice on any node, whether Redis is up, was restarted empty, or is absent (issue 8
//! defect 3; Redis used to hold the guard and lost it on a restart). Cost on a write path:
//! docs/BENCHMARKS.md ("Replay guard").

use std::time::Duration;

use deadpool_postgres::Pool;

use crate::error::ApiError;

/// Where spent signatures are remembered.
#[derive(Clone)]
pub struct ReplayGuard {
    /// The store of record, shared by every node.
    db: Pool,
}

impl ReplayGuard {
    pub fn new(db: Pool) -> Self {
        ReplayGuard { db }
    }

    /// `true` the first time `signature` of `kind`/`principal_id` is spent within `ttl`. A row
    /// whose time has passed is taken over (its timestamp is outside the window by then).
    ///
    /// One round trip, committed without waiting for the WAL flush: the write this guard
    /// protects commits after it on the same server, and its synchronous commit flushes the
    /// WAL up to its own record, so a guard can only be lost in a crash together with a write
    /// that never landed (docs/BENCHMARKS.md, "Replay guard": 3.4 ms instead of 6.6 ms here).
    pub async fn first_use(
        &self,
        kind: &'static str,
        principal_id: i64,
        signature: &str,
        ttl: Duration,
    ) -> Result<bool, ApiError> {
        // Inlined into the statement, so it must be what a verified signature is: md5 hex.
        if signature.len() != 32 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::illegal("signature is not md5 hex"));
        }
        let kind = if kind.bytes().all(|b| b.is_ascii_lowercase()) {
            kind
        } else {
            return Err(ApiError::illegal("bad principal kind"));
        };
        let sql = format!(
            "begin; set local synchronous_commit = off;
             insert into spent_signature (kind, principal_id, signature, expires_at)
                values ('{kind}', {principal_id}, '{signature}', now() + make_interval(secs => {}))
                on conflict on constraint spent_signature_pkey do update
                set expires_at = excluded.expires_at where spent_signature.expires_at < now()
                returning 1;
             commit;",
            ttl.as_secs_f64()
        );
        let db = self.db.get().await?;
        let replies = db.simple_query(&sql).await?;
        Ok(replies
            .iter()
            .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_))))
    }

    /// Drops spent signatures whose time has passed; called periodically by every node.
    pub async fn sweep(&self) -> Result<u64, ApiError> {
        let db = self.db.get().await?;
        Ok(db
            .execute("delete from spent_signature where expires_at < now()", &[])
            .await?)
    }
}
