//! Write batching without weakening durability, shared by the chat writer and the radar
//! event writer. A caller waits until its item is committed. Items with the same lane key
//! always go to the same lane (their order is kept); lanes write in parallel, each on its own
//! pooled connection.
//!
//! A batch that fails is never simply redone: its commit may have happened (the connection
//! dropped before the reply, or a step after the commit failed). Every item carries a random
//! write key stored with it, so after a failure the writer asks PostgreSQL which items are
//! stored ([`BatchStore::recover`], which first waits out any transaction still holding their
//! rows): those are answered as stored, and only the others are retried, one by one, so one
//! bad item fails alone. When even that cannot be known (the database is unreachable), the
//! items fail without a retry: the caller retries with its idempotency key.

use std::{
    future::Future,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Instant,
};

use deadpool_postgres::{Client, Pool};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

/// How a kind of item is written: many items, one transaction.
pub trait BatchStore: Send + Sync + 'static {
    type Item: Send + Sync + 'static;
    type Out: Send + 'static;
    /// Used in logs and metrics.
    const NAME: &'static str;
    /// Items with equal keys are written in submission order.
    fn lane_key(item: &Self::Item) -> u64;
    /// Writes `batch` atomically, each item with its write key; returns one output per item,
    /// in order.
    fn write(
        &self,
        db: &mut Client,
        batch: &[Self::Item],
        keys: &[i64],
    ) -> impl Future<Output = Result<Vec<Self::Out>, ApiError>> + Send;
    /// After a failed write: per item, its stored result if it is stored under its key,
    /// `None` if it is known not to be. Must wait for any transaction still writing them.
    fn recover(
        &self,
        db: &mut Client,
        batch: &[Self::Item],
        keys: &[i64],
    ) -> impl Future<Output = Result<Vec<Option<Self::Out>>, ApiError>> + Send;
}

struct Job<S: BatchStore> {
    item: S::Item,
    reply: oneshot::Sender<Result<S::Out, ApiError>>,
    /// When it was submitted: its wait for a batch is measured (`zgld_writer_wait_seconds`).
    queued: Instant,
}

/// Handle to the lanes; cheap to clone.
pub struct Batcher<S: BatchStore> {
    lanes: Arc<Vec<mpsc::Sender<Job<S>>>>,
    faults: Arc<AtomicUsize>,
}

impl<S: BatchStore> Clone for Batcher<S> {
    fn clone(&self) -> Self {
        Batcher {
            lanes: self.lanes.clone(),
            faults: self.faults.clone(),
        }
    }
}

impl<S: BatchStore> Batcher<S> {
    /// Starts `lanes` writer tasks on `pool`, each committing up to `max_batch` items at once.
    pub fn start(store: S, pool: Pool, lanes: usize, max_batch: usize) -> Self {
        let store = Arc::new(store);
        let max_batch = max_batch.max(1);
        let faults = Arc::new(AtomicUsize::new(0));
        let lanes = (0..lanes.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(max_batch * 8);
                tokio::spawn(run(
                    store.clone(),
                    pool.clone(),
                    rx,
                    max_batch,
                    faults.clone(),
                ));
                tx
            })
            .collect();
        Batcher {
            lanes: Arc::new(lanes),
            faults,
        }
    }

    /// Test hook: the next `n` writes commit, then report a failure (as when the connection
    /// drops between the commit and its reply).
    #[doc(hidden)]
    pub fn fail_after_commit(&self, n: usize) {
        self.faults.store(n, Ordering::SeqCst);
    }

    /// Writes one item; resolves once it is committed (or refused).
    pub async fn submit(&self, item: S::Item) -> Result<S::Out, ApiError> {
        let lane = (S::lane_key(&item) % self.lanes.len() as u64) as usize;
        let (reply, rx) = oneshot::channel();
        let sender = self
            .lanes
            .get(lane)
            .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("{}: no lane", S::NAME)))?;
        sender
            .send(Job {
                item,
                reply,
                queued: Instant::now(),
            })
            .await
            .map_err(|_| ApiError::Unexpected(anyhow::anyhow!("{} stopped", S::NAME)))?;
        rx.await
            .map_err(|_| ApiError::Unexpected(anyhow::anyhow!("{} dropped an item", S::NAME)))?
    }
}

/// Writes `batch` directly, without a lane: the one-transaction-per-item mode.
pub async fn write_now<S: BatchStore>(
    store: &S,
    pool: &Pool,
    item: S::Item,
) -> Result<S::Out, ApiError> {
    let none = AtomicUsize::new(0);
    let items = std::slice::from_ref(&item);
    let keys = new_keys(1);
    match write(store, pool, items, &keys, &none).await {
        Ok(mut v) => v
            .pop()
            .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("{}: empty result", S::NAME))),
        Err(e) => match recover(store, pool, items, &keys).await {
            Ok(mut found) => found.pop().flatten().ok_or(e),
            Err(_) => Err(e),
        },
    }
}

fn new_keys(n: usize) -> Vec<i64> {
    (0..n).map(|_| rand::random::<i64>()).collect()
}

/// A batch whose connection wait and write took this long together is logged and counted
/// (`zgld_writer_slow_batches_total`).
const SLOW_BATCH: std::time::Duration = std::time::Duration::from_millis(200);

async fn write<S: BatchStore>(
    store: &S,
    pool: &Pool,
    batch: &[S::Item],
    keys: &[i64],
    faults: &AtomicUsize,
) -> Result<Vec<S::Out>, ApiError> {
    let asked = Instant::now();
    let mut client = pool.get().await?;
    let started = Instant::now();
    metrics::histogram!("zgld_writer_connection_seconds", "writer" => S::NAME)
        .record(started.duration_since(asked).as_secs_f64());
    let out = store.write(&mut client, batch, keys).await?;
    let took = started.elapsed();
    metrics::histogram!("zgld_writer_commit_seconds", "writer" => S::NAME)
        .record(took.as_secs_f64());
    let waited = started.duration_since(asked);
    if took + waited >= SLOW_BATCH {
        // Every item of the batch waited this long: worth a line for whoever reads a p99.
        metrics::counter!("zgld_writer_slow_batches_total", "writer" => S::NAME).increment(1);
        tracing::warn!(
            writer = S::NAME,
            size = batch.len(),
            connection_ms = waited.as_millis() as u64,
            write_ms = took.as_millis() as u64,
            "slow batch"
        );
    }
    metrics::histogram!("zgld_writer_batch_size", "writer" => S::NAME).record(batch.len() as f64);
    if faults
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return Err(ApiError::Unexpected(anyhow::anyhow!(
            "{}: test fault: reply lost after the commit",
            S::NAME
        )));
    }
    if out.len() != batch.len() {
        return Err(ApiError::Unexpected(anyhow::anyhow!(
            "{}: {} results for {} items",
            S::NAME,
            out.len(),
            batch.len()
        )));
    }
    Ok(out)
}

async fn recover<S: BatchStore>(
    store: &S,
    pool: &Pool,
    batch: &[S::Item],
    keys: &[i64],
) -> Result<Vec<Option<S::Out>>, ApiError> {
    let mut client = pool.get().await?;
    let found = store.recover(&mut client, batch, keys).await?;
    if found.len() != batch.len() {
        return Err(ApiError::Unexpected(anyhow::anyhow!(
            "{}: {} recovered for {} items",
            S::NAME,
            found.len(),
            batch.len()
        )));
    }
    Ok(found)
}

fn unknown<S: BatchStore>() -> ApiError {
    ApiError::Unavailable(anyhow::anyhow!(
        "{}: the write failed and whether it was stored cannot be known now",
        S::NAME
    ))
}

async fn run<S: BatchStore>(
    store: Arc<S>,
    pool: Pool,
    mut rx: mpsc::Receiver<Job<S>>,
    max_batch: usize,
    faults: Arc<AtomicUsize>,
) {
    let mut jobs: Vec<Job<S>> = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut jobs, max_batch).await > 0 {
        let now = Instant::now();
        let wait = metrics::histogram!("zgld_writer_wait_seconds", "writer" => S::NAME);
        for j in &jobs {
            wait.record(now.duration_since(j.queued).as_secs_f64());
        }
        let (items, replies): (Vec<S::Item>, Vec<_>) =
            jobs.drain(..).map(|j| (j.item, j.reply)).unzip();
        let keys = new_keys(items.len());
        let e = match write(&*store, &pool, &items, &keys, &faults).await {
            Ok(outs) => {
                for (reply, out) in replies.into_iter().zip(outs) {
                    let _ = reply.send(Ok(out));
                }
                continue;
            }
            Err(e) => e,
        };
        // What is stored is answered as stored; only what is known not to be is retried.
        let found = match recover(&*store, &pool, &items, &keys).await {
            Ok(found) => found,
            Err(re) => {
                tracing::warn!(error = %e, recover = %re, size = items.len(), writer = S::NAME, "batch failed and its outcome is unknown: not retried");
                for reply in replies {
                    let _ = reply.send(Err(unknown::<S>()));
                }
                continue;
            }
        };
        let stored = found.iter().filter(|f| f.is_some()).count();
        tracing::warn!(error = %e, size = items.len(), stored, writer = S::NAME, "batch failed; retrying only the items not stored, one by one");
        let single = items.len() == 1;
        let mut first_error = Some(e);
        for (((item, key), reply), found) in items.iter().zip(&keys).zip(replies).zip(found) {
            if let Some(out) = found {
                let _ = reply.send(Ok(out));
                continue;
            }
            if single {
                let e = first_error.take().unwrap_or_else(unknown::<S>);
                let _ = reply.send(Err(e));
                continue;
            }
            let one = std::slice::from_ref(item);
            let keys = std::slice::from_ref(key);
            let r = match write(&*store, &pool, one, keys, &faults).await {
                Ok(mut v) => v.pop().ok_or_else(|| {
                    ApiError::Unexpected(anyhow::anyhow!("{}: empty result", S::NAME))
                }),
                Err(e) => match recover(&*store, &pool, one, keys).await {
                    Ok(mut f) => f.pop().flatten().ok_or(e),
                    Err(_) => Err(unknown::<S>()),
                },
            };
            let _ = reply.send(r);
        }
    }
}
