//! The chat writer: messages batched into few transactions by [`crate::service::batch`].
//! Messages of one conversation share a lane, so their order is kept.

use std::hash::{Hash, Hasher};

use deadpool_postgres::{Client, Pool};

use crate::{
    db::chat::{self, NewMessage, Stored},
    error::ApiError,
    service::batch::{BatchStore, Batcher},
};

/// Most messages in one transaction: 512 measured 10.7–11.6k msg/s against 8.3–9.7k for 256
/// (2 lanes, 2 cores; docs/BENCHMARKS.md).
const MAX_BATCH: usize = 512;

pub struct ChatStore;

impl BatchStore for ChatStore {
    type Item = NewMessage;
    type Out = Stored;
    const NAME: &'static str = "chat writer";

    fn lane_key(m: &NewMessage) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (m.user_id, m.customer_id).hash(&mut h);
        h.finish()
    }

    async fn write(
        &self,
        db: &mut Client,
        batch: &[NewMessage],
        keys: &[i64],
    ) -> Result<Vec<Stored>, ApiError> {
        chat::store_batch_keyed(db, batch, keys).await
    }

    async fn recover(
        &self,
        db: &mut Client,
        batch: &[NewMessage],
        keys: &[i64],
    ) -> Result<Vec<Option<Stored>>, ApiError> {
        chat::stored_by_key(db, batch, keys).await
    }
}

/// Handle to the chat writer lanes.
pub type Writer = Batcher<ChatStore>;

/// Starts `lanes` chat writer lanes on `pool`.
pub fn start(pool: Pool, lanes: usize) -> Writer {
    Batcher::start(ChatStore, pool, lanes, MAX_BATCH)
}
