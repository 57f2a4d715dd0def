//! Write batching without weakening durability, shared by the chat writer and the radar
//! event writer. A caller waits until its item is committed. Items with the same lane key
//! always go to the same lane (their order is kept); lanes write in parallel, each on its own
//! pooled connection. A batch that fails is retried item by item, so one bad item fails alone.

use std::{future::Future, sync::Arc};

use deadpool_postgres::{Client, Pool};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

/// How a kind of item is written: many items, one transaction.
pub trait BatchStore: Send + Sync + 'static {
    type Item: Send + Sync + 'static;
    type Out: Send + 'static;
    /// Used in logs.
    const NAME: &'static str;
    /// Items with equal keys are written in submission order.
    fn lane_key(item: &Self::Item) -> u64;
    /// Writes `batch` atomically; returns one output per item, in order.
    fn write(
        &self,
        db: &mut Client,
        batch: &[Self::Item],
    ) -> impl Future<Output = Result<Vec<Self::Out>, ApiError>> + Send;
}

struct Job<S: BatchStore> {
    item: S::Item,
    reply: oneshot::Sender<Result<S::Out, ApiError>>,
}

/// Handle to the lanes; cheap to clone.
pub struct Batcher<S: BatchStore> {
    lanes: Arc<Vec<mpsc::Sender<Job<S>>>>,
}

impl<S: BatchStore> Clone for Batcher<S> {
    fn clone(&self) -> Self {
        Batcher {
            lanes: self.lanes.clone(),
        }
    }
}

impl<S: BatchStore> Batcher<S> {
    /// Starts `lanes` writer tasks on `pool`, each committing up to `max_batch` items at once.
    pub fn start(store: S, pool: Pool, lanes: usize, max_batch: usize) -> Self {
        let store = Arc::new(store);
        let max_batch = max_batch.max(1);
        let lanes = (0..lanes.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(max_batch * 8);
                tokio::spawn(run(store.clone(), pool.clone(), rx, max_batch));
                tx
            })
            .collect();
        Batcher {
            lanes: Arc::new(lanes),
        }
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
            .send(Job { item, reply })
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
    write(store, pool, std::slice::from_ref(&item))
        .await?
        .pop()
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("{}: empty result", S::NAME)))
}

async fn write<S: BatchStore>(
    store: &S,
    pool: &Pool,
    batch: &[S::Item],
) -> Result<Vec<S::Out>, ApiError> {
    let mut client = pool.get().await?;
    let out = store.write(&mut client, batch).await?;
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

async fn run<S: BatchStore>(
    store: Arc<S>,
    pool: Pool,
    mut rx: mpsc::Receiver<Job<S>>,
    max_batch: usize,
) {
    let mut jobs: Vec<Job<S>> = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut jobs, max_batch).await > 0 {
        let (items, replies): (Vec<S::Item>, Vec<_>) =
            jobs.drain(..).map(|j| (j.item, j.reply)).unzip();
        match write(&*store, &pool, &items).await {
            Ok(outs) => {
                for (reply, out) in replies.into_iter().zip(outs) {
                    let _ = reply.send(Ok(out));
                }
            }
            Err(e) if items.len() > 1 => {
                tracing::warn!(error = %e, size = items.len(), writer = S::NAME, "batch failed; retrying one by one");
                for (item, reply) in items.iter().zip(replies) {
                    let r = write(&*store, &pool, std::slice::from_ref(item))
                        .await
                        .and_then(|mut v| {
                            v.pop().ok_or_else(|| {
                                ApiError::Unexpected(anyhow::anyhow!("{}: empty result", S::NAME))
                            })
                        });
                    let _ = reply.send(r);
                }
            }
            Err(e) => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
        }
    }
}
