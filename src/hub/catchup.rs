//! The node's catch-up budget: bytes of stored messages replayed to clients catching up
//! (`resume` on the WebSocket, the paged chat history over HTTP), per second, shared by every
//! connection of the node. A crowd of clients coming back at once (20 slow consumers each
//! resuming megabytes, docs/RELIABILITY.md scenario 3) is paced to this rate, so reading,
//! rendering and writing their backlog cannot starve live traffic on the same cores. Live
//! frames never draw on it. The bucket is `governor`'s GCRA: an amount up to the burst passes
//! at once when the node has not replayed much lately, so a small resume (a reconnect after a
//! node was lost: a few short messages) is not delayed in practice (docs/realtime.md).

use std::{
    num::NonZeroU32,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use governor::{
    clock::{Clock, MonotonicClock},
    state::{InMemoryState, NotKeyed},
    Quota, RateLimiter,
};

/// `std::time::Instant` as the clock: governor's default (quanta) calibrates for a second on
/// first use, and the waits here are tokio sleeps of milliseconds anyway.
type Limiter = RateLimiter<NotKeyed, InMemoryState, MonotonicClock>;

/// The bucket counts in KiB: a `u32` of cells then holds any sensible rate and burst.
const CELL: usize = 1024;

/// Who is replaying: the `via` label of the catch-up metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// A WebSocket `resume`.
    Resume,
    /// A page of the chat history (QYW-34, GZH-03).
    History,
}

impl Via {
    fn label(self) -> &'static str {
        match self {
            Via::Resume => "resume",
            Via::History => "history",
        }
    }
}

/// A cheap-clone handle to the node's catch-up budget.
#[derive(Clone, Default)]
pub struct CatchUp(Arc<Inner>);

#[derive(Default)]
struct Inner {
    /// `None`: no limit (`ZGLD_CATCHUP_BYTES_PER_SEC=0`).
    limiter: Option<Limiter>,
    /// Most cells taken at once (the bucket's burst); larger amounts are taken in parts.
    burst: u32,
    /// Replays that had to wait (for tests and the load test; the metric is the histogram).
    throttled: AtomicU64,
}

impl CatchUp {
    /// A budget of `bytes_per_sec` (0 = unlimited). The burst is a quarter of a second's
    /// worth: a whole resume page of short messages, or one of the largest (16 KiB) many
    /// times over, passes at once on a node that has not been replaying.
    pub fn new(bytes_per_sec: u64) -> Self {
        let rate = u32::try_from(bytes_per_sec.div_ceil(CELL as u64)).unwrap_or(u32::MAX);
        let (Some(rate), Some(burst)) = (NonZeroU32::new(rate), NonZeroU32::new((rate / 4).max(1)))
        else {
            return CatchUp::default();
        };
        let quota = Quota::per_second(rate).allow_burst(burst);
        CatchUp(Arc::new(Inner {
            limiter: Some(RateLimiter::direct_with_clock(quota, MonotonicClock)),
            burst: burst.get(),
            throttled: AtomicU64::new(0),
        }))
    }

    /// Whether the budget limits anything.
    pub fn is_limited(&self) -> bool {
        self.0.limiter.is_some()
    }

    /// Waits until `bytes` more may be replayed by this node, and spends them. Cancel-safe:
    /// nothing is spent by a wait that is dropped (parts already granted stay spent).
    pub async fn pace(&self, via: Via, bytes: usize) {
        let Some(limiter) = &self.0.limiter else {
            return;
        };
        metrics::counter!("zgld_catchup_bytes_total", "via" => via.label()).increment(bytes as u64);
        let mut cells = u32::try_from(bytes.div_ceil(CELL).max(1)).unwrap_or(u32::MAX);
        let mut waited = Duration::ZERO;
        while cells > 0 {
            let part = cells.min(self.0.burst);
            let Some(n) = NonZeroU32::new(part) else {
                break;
            };
            loop {
                match limiter.check_n(n) {
                    Ok(Ok(())) => break,
                    Ok(Err(not_until)) => {
                        // The timer's granularity is a millisecond; a zero wait would spin.
                        let wait = not_until
                            .wait_time_from(MonotonicClock.now())
                            .max(Duration::from_millis(1));
                        let t0 = tokio::time::Instant::now();
                        tokio::time::sleep(wait).await;
                        waited += t0.elapsed();
                    }
                    // Never: a part is at most the burst.
                    Err(_) => break,
                }
            }
            cells -= part;
        }
        if !waited.is_zero() {
            self.0.throttled.fetch_add(1, Ordering::Relaxed);
            metrics::histogram!("zgld_catchup_throttled_seconds", "via" => via.label())
                .record(waited.as_secs_f64());
        }
    }

    /// Replays of this node that had to wait for the budget.
    pub fn throttled(&self) -> u64 {
        self.0.throttled.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unlimited_budget_never_waits() {
        let b = CatchUp::new(0);
        assert!(!b.is_limited());
        for _ in 0..1000 {
            b.pace(Via::Resume, 10 * 1024 * 1024).await;
        }
        assert_eq!(b.throttled(), 0);
    }

    #[tokio::test]
    async fn small_amounts_within_the_burst_pass_without_waiting() {
        // 4 MiB/s: the burst is 1 MiB; a few short messages are far below it.
        let b = CatchUp::new(4 * 1024 * 1024);
        assert!(b.is_limited());
        for _ in 0..20 {
            b.pace(Via::Resume, 600).await;
        }
        assert_eq!(b.throttled(), 0);
    }

    #[tokio::test]
    async fn more_than_the_burst_is_taken_in_parts_and_waits() {
        // 64 KiB/s, burst 16 KiB: 40 KiB at once cannot pass in one part (governor refuses
        // more cells than the burst), so it is split, and the later parts wait.
        let b = CatchUp::new(64 * 1024);
        b.pace(Via::History, 40 * 1024).await;
        assert_eq!(b.throttled(), 1);
    }
}
