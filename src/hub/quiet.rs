//! "Nothing unread here" hints for the legacy polling endpoints (QYW-36, GZH-02), so a poll
//! with nothing new does not touch PostgreSQL. A hint is set by a poll that found nothing and
//! is cleared by every conversation event the hub sees, local or from another node (a frame
//! addressed to both a salesperson and a customer is a message of their conversation).
//! Hints are trusted only while this node hears every other node (single node, or the Redis
//! bridge up) and for at most [`TTL`], so a lost bridge event delays a poll by at most that.

use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Longest a hint is believed.
pub const TTL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
struct Hint {
    /// Set by a poll that found nothing unread.
    quiet_since: Option<Instant>,
    /// Last conversation event.
    changed: Instant,
}

/// Key: (salesperson, customer, side: true = messages to the salesperson).
#[derive(Default)]
pub struct Quiet {
    hints: DashMap<(i64, i64, bool), Hint>,
    /// When stale hints were last swept (at most once a second, never on every poll).
    last_sweep: std::sync::Mutex<Option<Instant>>,
}

/// Hints kept before stale ones are swept.
const SWEEP_ABOVE: usize = 100_000;

impl Quiet {
    pub fn is_quiet(&self, user_id: i64, customer_id: i64, to_user: bool) -> bool {
        self.hints
            .get(&(user_id, customer_id, to_user))
            .and_then(|h| h.quiet_since)
            .is_some_and(|t| t.elapsed() < TTL)
    }

    /// A poll that began its check at `started` found nothing unread. Ignored when the
    /// conversation changed since `started` (the poll may have read before the change).
    pub fn mark_quiet(&self, user_id: i64, customer_id: i64, to_user: bool, started: Instant) {
        let now = Instant::now();
        let mut h = self
            .hints
            .entry((user_id, customer_id, to_user))
            .or_insert(Hint {
                quiet_since: None,
                changed: started,
            });
        if h.changed <= started {
            h.quiet_since = Some(now);
        }
        drop(h);
        if self.hints.len() > SWEEP_ABOVE {
            self.sweep();
        }
    }

    /// Drops hints that no longer matter, at most once a second; a poll that finds a sweep
    /// running does not wait for it.
    fn sweep(&self) {
        let Ok(mut last) = self.last_sweep.try_lock() else {
            return;
        };
        if last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            return;
        }
        *last = Some(Instant::now());
        self.hints.retain(|_, h| {
            h.changed.elapsed() < TTL * 2 || h.quiet_since.is_some_and(|t| t.elapsed() < TTL)
        });
    }

    /// Something happened in the conversation: both sides must ask PostgreSQL again.
    pub fn changed(&self, user_id: i64, customer_id: i64) {
        let now = Instant::now();
        for side in [true, false] {
            self.hints.insert(
                (user_id, customer_id, side),
                Hint {
                    quiet_since: None,
                    changed: now,
                },
            );
        }
    }

    pub fn clear(&self) {
        self.hints.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_during_a_poll_keeps_the_conversation_loud() {
        let q = Quiet::default();
        let started = Instant::now();
        q.changed(1, 2);
        q.mark_quiet(1, 2, true, started);
        assert!(!q.is_quiet(1, 2, true), "the poll read before the change");
        q.mark_quiet(1, 2, true, Instant::now());
        assert!(q.is_quiet(1, 2, true));
        assert!(!q.is_quiet(1, 2, false), "other side unknown");
        q.changed(1, 2);
        assert!(!q.is_quiet(1, 2, true));
    }
}
