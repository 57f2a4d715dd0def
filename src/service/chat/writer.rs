//! The chat writer: batches messages into few transactions without weakening durability.
//! A sender waits until its message is committed. Messages of one conversation always go to
//! the same lane (so their order is kept); lanes write in parallel on separate connections.
//! A batch that fails is retried message by message, so one bad message fails alone.

use std::hash::{Hash, Hasher};

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use crate::{
    db::chat::{self, NewMessage, Stored},
    error::ApiError,
};

/// Most messages in one transaction: 512 measured 10.7–11.6k msg/s against 8.3–9.7k for 256
/// (2 lanes, 2 cores; docs/BENCHMARKS.md).
const MAX_BATCH: usize = 512;

struct Job {
    msg: NewMessage,
    reply: oneshot::Sender<Result<Stored, ApiError>>,
}

/// Handle to the writer lanes.
#[derive(Clone)]
pub struct Writer {
    lanes: Vec<mpsc::Sender<Job>>,
}

impl Writer {
    /// Starts `lanes` writer tasks on `pool`.
    pub fn start(pool: Pool, lanes: usize) -> Self {
        let lanes = (0..lanes.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(MAX_BATCH * 8);
                tokio::spawn(run(pool.clone(), rx));
                tx
            })
            .collect();
        Writer { lanes }
    }

    /// Stores one message; resolves once it is committed (or refused).
    pub async fn store(&self, msg: NewMessage) -> Result<Stored, ApiError> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (msg.user_id, msg.customer_id).hash(&mut h);
        let lane = (h.finish() % self.lanes.len() as u64) as usize;
        let (reply, rx) = oneshot::channel();
        let sender = self
            .lanes
            .get(lane)
            .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("no writer lane")))?;
        sender
            .send(Job { msg, reply })
            .await
            .map_err(|_| ApiError::Unexpected(anyhow::anyhow!("chat writer stopped")))?;
        rx.await
            .map_err(|_| ApiError::Unexpected(anyhow::anyhow!("chat writer dropped the message")))?
    }
}

async fn run(pool: Pool, mut rx: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let batch: Vec<NewMessage> = jobs.iter().map(|j| j.msg.clone()).collect();
        match write(&pool, &batch).await {
            Ok(stored) => {
                for (job, s) in jobs.drain(..).zip(stored) {
                    let _ = job.reply.send(Ok(s));
                }
            }
            Err(e) if jobs.len() > 1 => {
                tracing::warn!(error = %e, size = jobs.len(), "chat batch failed; retrying one by one");
                for job in jobs.drain(..) {
                    let r = write(&pool, std::slice::from_ref(&job.msg))
                        .await
                        .and_then(|mut v| {
                            v.pop().ok_or_else(|| {
                                ApiError::Unexpected(anyhow::anyhow!("empty store result"))
                            })
                        });
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                for job in jobs.drain(..) {
                    let _ = job
                        .reply
                        .send(Err(ApiError::Unexpected(anyhow::anyhow!("{e}"))));
                }
            }
        }
    }
}

async fn write(pool: &Pool, batch: &[NewMessage]) -> Result<Vec<Stored>, ApiError> {
    let client = pool.get().await?;
    chat::store_batch(&client, batch).await
}
