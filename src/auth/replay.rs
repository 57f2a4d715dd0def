//! Single-use signatures: the `rand_str` of every state-changing request is spent in
//! PostgreSQL (`spent_signature`, sql/007) with a unique insert, so a signed write never
//! succeeds twice on any node, whether Redis is up, was restarted empty, or is absent (issue 8
//! defect 3; Redis used to hold the guard and lost it on a restart).
//!
//! The inserts go through the batching writer (`service::batch`): concurrent writes on a node
//! spend their signatures in one statement and one commit, so the guard costs a write path one
//! shared round trip instead of a transaction of its own (docs/BENCHMARKS.md, "Replay guard":
//! one transaction per signature cut radar ingest from 10,800 to 2,270 events/s). A batch whose
//! reply is lost is recovered by its write keys like the other writers' (sql/015).

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    time::Duration,
};

use deadpool_postgres::{Client, GenericClient, Pool};

use crate::{
    error::ApiError,
    service::batch::{BatchStore, Batcher},
};

/// Signatures spent in one statement at most.
const MAX_BATCH: usize = 512;
/// Writer lanes: a second lane overlaps one batch's commit with the next batch's statement.
const LANES: usize = 2;

/// Where spent signatures are remembered.
#[derive(Clone)]
pub struct ReplayGuard {
    writer: Batcher<SignatureStore>,
}

/// One signature to spend.
#[derive(Debug, Clone)]
pub struct Spend {
    kind: &'static str,
    principal_id: i64,
    signature: String,
    ttl_secs: f64,
}

impl Spend {
    /// The spend of `signature` (32 hex digits, any case) of `kind`/`principal_id`, remembered
    /// for `ttl`; 404 非法请求 for anything that is not md5 hex.
    pub fn new(
        kind: &'static str,
        principal_id: i64,
        signature: &str,
        ttl: Duration,
    ) -> Result<Self, ApiError> {
        let signature = signature.trim().to_ascii_lowercase();
        if signature.len() != 32 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::illegal("signature is not md5 hex"));
        }
        Ok(Spend {
            kind,
            principal_id,
            signature,
            ttl_secs: ttl.as_secs_f64(),
        })
    }

    fn key(&self) -> (&'static str, i64, &str) {
        (self.kind, self.principal_id, &self.signature)
    }
}

impl ReplayGuard {
    /// Starts the guard's writer lanes on `db`.
    pub fn new(db: Pool) -> Self {
        ReplayGuard {
            writer: Batcher::start(SignatureStore, db, LANES, MAX_BATCH),
        }
    }

    /// `true` the first time `signature` of `kind`/`principal_id` is spent within `ttl`. A row
    /// whose time has passed is taken over (its timestamp is outside the window by then).
    ///
    /// Committed without waiting for the WAL flush: the write this guard protects commits
    /// after it on the same server, and its synchronous commit flushes the WAL up to its own
    /// record, so a guard can only be lost in a crash together with a write that never landed.
    pub async fn first_use(
        &self,
        kind: &'static str,
        principal_id: i64,
        signature: &str,
        ttl: Duration,
    ) -> Result<bool, ApiError> {
        self.writer
            .submit(Spend::new(kind, principal_id, signature, ttl)?)
            .await
    }

    /// Test hook: the next `n` guard batches commit, then report a failure.
    #[doc(hidden)]
    pub fn fail_after_commit(&self, n: usize) {
        self.writer.fail_after_commit(n);
    }

    /// Drops spent signatures whose time has passed; called periodically by every node.
    pub async fn sweep(db: &Pool) -> Result<u64, ApiError> {
        let db = db.get().await?;
        Ok(db
            .execute("delete from spent_signature where expires_at < now()", &[])
            .await?)
    }
}

/// The guard's batch writer.
pub struct SignatureStore;

/// Per item: the index of the first item of the batch with the same signature (itself for
/// the first), so one statement never claims a row twice.
fn first_copies<'a>(batch: impl Iterator<Item = &'a Spend>) -> Vec<usize> {
    let mut first: HashMap<(&str, i64, &str), usize> = HashMap::new();
    batch
        .enumerate()
        .map(|(i, s)| *first.entry(s.key()).or_insert(i))
        .collect()
}

/// The columns of the first copies, with their write keys.
type Columns = (Vec<String>, Vec<i64>, Vec<String>, Vec<f64>, Vec<i64>);

fn columns<'a>(batch: impl Iterator<Item = (&'a Spend, i64)>, first: &[usize]) -> Columns {
    let mut c: Columns = Default::default();
    for (i, (s, k)) in batch.enumerate() {
        if first.get(i) == Some(&i) {
            c.0.push(s.kind.to_owned());
            c.1.push(s.principal_id);
            c.2.push(s.signature.clone());
            c.3.push(s.ttl_secs);
            c.4.push(k);
        }
    }
    c
}

/// Signatures spent inside another writer's transaction (the radar writer spends a view's
/// signature in the transaction that stores its event, `service::radar`): the claim is one
/// statement of that transaction, so a signature is spent exactly when its write commits.
pub struct Claims {
    /// Per spend of the batch: it is the batch's first copy of its signature.
    first: Vec<bool>,
    columns: Columns,
}

impl Claims {
    /// The claims of `spends` (each with its write key), deduplicated; claimed rows are sorted
    /// by signature so that two transactions claiming the same rows never deadlock.
    pub fn new(spends: &[(&Spend, i64)]) -> Self {
        let mut order: Vec<usize> = (0..spends.len()).collect();
        order.sort_by(|a, b| {
            let key = |i: &usize| spends.get(*i).map(|(s, _)| s.key());
            key(a).cmp(&key(b))
        });
        let sorted: Vec<(&Spend, i64)> = order
            .iter()
            .filter_map(|i| spends.get(*i).copied())
            .collect();
        let first_sorted = first_copies(sorted.iter().map(|(s, _)| *s));
        let columns = columns(sorted.iter().copied(), &first_sorted);
        let mut first = vec![false; spends.len()];
        for (pos, i) in order.iter().enumerate() {
            if let Some(f) = first.get_mut(*i) {
                *f = first_sorted.get(pos) == Some(&pos);
            }
        }
        Claims { first, columns }
    }

    pub fn is_empty(&self) -> bool {
        self.columns.0.is_empty()
    }

    /// The claim statement, prepared (before a pipeline).
    pub async fn prepare(db: &impl GenericClient) -> Result<tokio_postgres::Statement, ApiError> {
        Ok(db.prepare_cached(CLAIM).await?)
    }

    /// Claims the signatures inside the caller's transaction; per spend (in the order given
    /// to [`Claims::new`]) whether it won.
    pub async fn claim(
        &self,
        db: &impl GenericClient,
        stmt: &tokio_postgres::Statement,
        spends: &[(&Spend, i64)],
    ) -> Result<Vec<bool>, ApiError> {
        let c = &self.columns;
        let rows = if self.is_empty() {
            Vec::new()
        } else {
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                [&c.0, &c.1, &c.2, &c.3, &c.4];
            db.query(stmt, &params).await?
        };
        let won: std::collections::HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
        Ok(spends
            .iter()
            .zip(&self.first)
            .map(|((_, k), first)| *first && won.contains(k))
            .collect())
    }
}

const CLAIM: &str =
    "insert into spent_signature (kind, principal_id, signature, expires_at, write_key)
     select k, p, s, now() + make_interval(secs => t), w
       from unnest($1::text[], $2::int8[], $3::text[], $4::float8[], $5::int8[]) as u(k, p, s, t, w)
     on conflict on constraint spent_signature_pkey do update
        set expires_at = excluded.expires_at, write_key = excluded.write_key
        where spent_signature.expires_at < now()
     returning write_key";

impl BatchStore for SignatureStore {
    type Item = Spend;
    type Out = bool;
    const NAME: &'static str = "replay guard";

    fn lane_key(s: &Spend) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        s.key().hash(&mut h);
        h.finish()
    }

    async fn write(
        &self,
        db: &mut Client,
        batch: &[Spend],
        keys: &[i64],
    ) -> Result<Vec<bool>, ApiError> {
        let first = first_copies(batch.iter());
        let c = columns(batch.iter().zip(keys.iter().copied()), &first);
        // One round trip: the three requests are pipelined on the connection. A failed claim
        // makes the `commit` a rollback.
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&c.0, &c.1, &c.2, &c.3, &c.4];
        let db: &Client = db;
        // Prepared first: a statement prepared inside the pipeline would be executed after
        // the `commit` had already been sent.
        let claim = db.prepare_cached(CLAIM).await?;
        let (_, rows, _) = tokio::try_join!(
            db.batch_execute("begin; set local synchronous_commit = off"),
            db.query(&claim, &params),
            db.batch_execute("commit"),
        )?;
        let won: std::collections::HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
        Ok(batch
            .iter()
            .zip(keys)
            .enumerate()
            .map(|(i, (_, k))| first.get(i) == Some(&i) && won.contains(k))
            .collect())
    }

    async fn recover(
        &self,
        db: &mut Client,
        batch: &[Spend],
        keys: &[i64],
    ) -> Result<Vec<Option<bool>>, ApiError> {
        let first = first_copies(batch.iter());
        let c = columns(batch.iter().zip(keys.iter().copied()), &first);
        // A claim of the same rows still in flight is waited out by inserting them (a unique
        // insert waits for the other inserter's end); rolled back, so nothing is written here.
        let tx = db.transaction().await?;
        tx.execute(
            "insert into spent_signature (kind, principal_id, signature, expires_at)
             select k, p, s, now() from unnest($1::text[], $2::int8[], $3::text[]) as u(k, p, s)
             on conflict do nothing",
            &[&c.0, &c.1, &c.2],
        )
        .await?;
        let rows = tx
            .query(
                "select write_key from spent_signature
                  where write_key = any($1)
                    and (kind, principal_id, signature) in
                        (select * from unnest($2::text[], $3::int8[], $4::text[]))",
                &[&c.4, &c.0, &c.1, &c.2],
            )
            .await?;
        tx.rollback().await?;
        let stored: std::collections::HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
        Ok(batch
            .iter()
            .zip(keys)
            .enumerate()
            .map(|(i, (_, k))| {
                if first.get(i) != Some(&i) {
                    // A copy: the batch's first copy holds the claim, whichever way it went.
                    Some(false)
                } else if stored.contains(k) {
                    Some(true)
                } else {
                    None
                }
            })
            .collect())
    }
}
