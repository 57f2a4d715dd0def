//! The real-time hub: who is connected on this node, and delivery to them.
//!
//! Connections are indexed per salesperson and per customer in `DashMap`s; each has a
//! bounded send queue filled with `try_send`, so the hub never waits on a client. A client
//! whose queue is full is closed with [`close::SLOW`] and nobody else notices. A frame is
//! encoded once and shared (`Utf8Bytes` is reference-counted) by every recipient. With Redis
//! configured, [`bridge`] carries frames to the other nodes; without it one node works alone.

pub mod bridge;
pub mod catchup;
pub mod quiet;
pub mod session;

use std::{
    sync::{
        atomic::{AtomicBool, AtomicI64, AtomicU16, AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use std::{collections::VecDeque, sync::Mutex};
use tokio::sync::{mpsc, Notify};

/// WebSocket close codes (docs/realtime.md).
pub mod close {
    /// Please reconnect (shutdown, rebalancing).
    pub const RECONNECT: u16 = 4000;
    /// The client did not read fast enough: its queue was full, or a write did not finish
    /// within the write timeout.
    pub const SLOW: u16 = 4001;
    /// Too many connections of one identity on this node: the oldest is closed.
    pub const REPLACED: u16 = 4002;
    /// The signature or token was refused.
    pub const AUTH_FAILED: u16 = 4003;
    /// The server cannot check the signature right now (database unreachable): try again
    /// later (RFC 6455 "Try Again Later"). Not an auth failure: keep the session.
    pub const TRY_LATER: u16 = 1013;
}

/// Who a frame is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A salesperson (`user_profile.id`), on every device.
    User(i64),
    /// A customer (`customer.id`), on every device.
    Customer(i64),
}

/// The `surface` label of the connection metrics.
fn surface(t: Target) -> &'static str {
    match t {
        Target::User(_) => "salesperson",
        Target::Customer(_) => "customer",
    }
}

/// Shared between a connection's queue owner (the hub) and its socket task.
#[derive(Debug, Default)]
pub struct CloseSignal {
    code: AtomicU16,
    notify: Notify,
}

impl CloseSignal {
    /// Asks the socket task to close with `code` (the first code wins).
    pub fn close(&self, code: u16) {
        if self
            .code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // Both the socket's reader and writer wait on this.
            self.notify.notify_waiters();
        }
    }
    /// The requested close code, 0 while open.
    pub fn code(&self) -> u16 {
        self.code.load(Ordering::Acquire)
    }
    /// Resolves once [`CloseSignal::close`] was called.
    pub async fn closed(&self) -> u16 {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Register before checking, so a close between the check and the await is seen.
            notified.as_mut().enable();
            let c = self.code();
            if c != 0 {
                return c;
            }
            notified.await;
        }
    }
}

/// One registered WebSocket connection: one allocation, shared by the hub and the socket's
/// task. Its queue holds nothing until a frame arrives and lets its storage go when drained,
/// so an idle connection costs only this struct (docs/BENCHMARKS.md, memory per connection).
#[derive(Debug)]
pub struct Conn {
    pub id: u64,
    /// Set when the connection should close (the socket task waits on it).
    pub close: CloseSignal,
    /// The auth session (`auth_session.id`) that opened it, 0 until set: its end closes the
    /// connection ([`Hub::close_session`]).
    pub session: AtomicI64,
    /// Frames waiting to be written; bounded by the hub so a slow client cannot grow memory.
    queue: Mutex<VecDeque<Utf8Bytes>>,
    /// Wakes the socket task when a frame is queued.
    queued: Notify,
}

/// Storage a drained queue keeps; more is given back (a burst of frames to one client).
const QUEUE_KEEP: usize = 4;

impl Conn {
    fn new(id: u64) -> Self {
        Conn {
            id,
            close: CloseSignal::default(),
            session: AtomicI64::new(0),
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
        }
    }

    fn frames(&self) -> std::sync::MutexGuard<'_, VecDeque<Utf8Bytes>> {
        // A panic while holding the lock leaves a plain queue behind: keep using it.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `frame` unless `cap` frames are waiting already (then `Err(frame)`).
    fn push(&self, frame: Utf8Bytes, cap: usize) -> Result<(), Utf8Bytes> {
        {
            let mut q = self.frames();
            if q.len() >= cap {
                return Err(frame);
            }
            q.push_back(frame);
        }
        // A permit is stored if the task is not waiting right now: no wake-up is lost.
        self.queued.notify_one();
        Ok(())
    }

    /// The next queued frame, if any.
    pub fn try_next(&self) -> Option<Utf8Bytes> {
        let mut q = self.frames();
        let f = q.pop_front();
        if q.is_empty() && q.capacity() > QUEUE_KEEP {
            *q = VecDeque::new();
        }
        f
    }

    /// Waits for the next queued frame. Cancel-safe: a frame is taken only when this
    /// resolves.
    pub async fn next(&self) -> Utf8Bytes {
        loop {
            if let Some(f) = self.try_next() {
                return f;
            }
            self.queued.notified().await;
        }
    }

    /// Frames waiting to be written.
    pub fn queued(&self) -> usize {
        self.frames().len()
    }
}

/// Counters for metrics and the load test.
#[derive(Debug, Default)]
pub struct HubStats {
    pub connections: AtomicUsize,
    pub delivered: AtomicU64,
    pub slow_closed: AtomicU64,
    /// Connections dropped because a write did not finish in time.
    pub write_timeouts: AtomicU64,
    /// Oldest connections closed for the per-identity cap.
    pub replaced: AtomicU64,
    /// Client frames refused by the rate limit.
    pub rate_limited: AtomicU64,
}

/// A cheap-clone handle to this node's hub.
#[derive(Clone)]
pub struct Hub(Arc<Inner>);

struct Inner {
    /// Random per process: frames coming back from Redis with our id were delivered already.
    node_id: String,
    /// Salesperson id → its connections on this node.
    users: DashMap<i64, Vec<Arc<Conn>>>,
    /// Customer id → its connections on this node.
    customers: DashMap<i64, Vec<Arc<Conn>>>,
    next_id: AtomicU64,
    /// Per-connection queue length (STYLE: about 256).
    queue: usize,
    /// Outbound frames for the other nodes; `None` on a single node.
    bridge: Option<mpsc::Sender<bridge::Outbound>>,
    /// Set while the Redis subscription is live (always true without Redis).
    bridge_up: AtomicBool,
    shutting_down: AtomicBool,
    /// Most open connections per identity on this node (0 = no limit).
    per_identity: AtomicUsize,
    stats: HubStats,
    /// Conversations known to have nothing unread (polling fast path).
    quiet: quiet::Quiet,
}

impl Hub {
    /// A hub without Redis (single node), or with the outbound side of a bridge.
    pub fn new(queue: usize, bridge: Option<mpsc::Sender<bridge::Outbound>>) -> Self {
        let up = bridge.is_none();
        Hub(Arc::new(Inner {
            node_id: uuid::Uuid::new_v4().simple().to_string(),
            users: DashMap::new(),
            customers: DashMap::new(),
            next_id: AtomicU64::new(1),
            queue: queue.max(1),
            bridge,
            bridge_up: AtomicBool::new(up),
            shutting_down: AtomicBool::new(false),
            per_identity: AtomicUsize::new(0),
            stats: HubStats::default(),
            quiet: quiet::Quiet::default(),
        }))
    }

    pub fn node_id(&self) -> &str {
        &self.0.node_id
    }

    /// At most `n` open connections per identity on this node; a newer one closes the oldest
    /// with [`close::REPLACED`] (0 = no limit).
    pub fn set_identity_cap(&self, n: usize) {
        self.0.per_identity.store(n, Ordering::Relaxed);
    }

    /// Frames a connection may have queued before it is closed as slow (`ZGLD_WS_QUEUE`).
    pub fn queue_cap(&self) -> usize {
        self.0.queue
    }

    pub fn stats(&self) -> &HubStats {
        &self.0.stats
    }

    /// Whether every event of the other nodes reaches this node right now.
    pub fn bridge_up(&self) -> bool {
        self.0.bridge_up.load(Ordering::Acquire)
    }

    pub(crate) fn set_bridge_up(&self, up: bool) {
        self.0.bridge_up.store(up, Ordering::Release);
        metrics::gauge!("zgld_bridge_up").set(if up { 1.0 } else { 0.0 });
    }

    fn index(&self, t: Target) -> (&DashMap<i64, Vec<Arc<Conn>>>, i64) {
        match t {
            Target::User(id) => (&self.0.users, id),
            Target::Customer(id) => (&self.0.customers, id),
        }
    }

    /// Registers a connection for `who`.
    pub fn register(&self, who: Target) -> Arc<Conn> {
        let conn = Arc::new(Conn::new(self.0.next_id.fetch_add(1, Ordering::Relaxed)));
        if self.0.shutting_down.load(Ordering::Acquire) {
            conn.close.close(close::RECONNECT);
        }
        let (map, id) = self.index(who);
        let cap = self.0.per_identity.load(Ordering::Relaxed);
        {
            let mut list = map.entry(id).or_default();
            list.push(conn.clone());
            if cap > 0 {
                // Connections still closing are not counted: they unregister on their own.
                let mut open = list.iter().filter(|c| c.close.code() == 0).count();
                for c in list.iter() {
                    if open <= cap {
                        break;
                    }
                    if c.close.code() == 0 {
                        c.close.close(close::REPLACED);
                        self.0.stats.replaced.fetch_add(1, Ordering::Relaxed);
                        metrics::counter!("zgld_ws_replaced_total").increment(1);
                        open -= 1;
                    }
                }
            }
        }
        self.0.stats.connections.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!("zgld_ws_connections", "surface" => surface(who)).increment(1.0);
        conn
    }

    pub fn unregister(&self, who: Target, conn_id: u64) {
        let (map, id) = self.index(who);
        let mut removed = false;
        if let Some(mut list) = map.get_mut(&id) {
            let before = list.len();
            list.retain(|c| c.id != conn_id);
            removed = list.len() != before;
        }
        map.remove_if(&id, |_, list| list.is_empty());
        if removed {
            self.0.stats.connections.fetch_sub(1, Ordering::Relaxed);
            metrics::gauge!("zgld_ws_connections", "surface" => surface(who)).decrement(1.0);
        }
    }

    /// Connections on this node.
    pub fn connections(&self) -> usize {
        self.0.stats.connections.load(Ordering::Relaxed)
    }

    /// `who`'s connections on this node (closing ones included).
    pub fn connections_of(&self, who: Target) -> usize {
        let (map, id) = self.index(who);
        map.get(&id).map_or(0, |l| l.len())
    }

    /// Is `who` connected to this node?
    pub fn is_connected(&self, who: Target) -> bool {
        let (map, id) = self.index(who);
        map.get(&id).is_some_and(|l| !l.is_empty())
    }

    /// Queues `frame` for one connection; a full queue closes it as slow.
    pub fn offer(&self, conn: &Conn, frame: Utf8Bytes) -> bool {
        match conn.push(frame, self.0.queue) {
            Ok(()) => {
                self.0.stats.delivered.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("zgld_ws_frames_out_total", "via" => "hub").increment(1);
                true
            }
            Err(_) => {
                if conn.close.code() == 0 {
                    self.0.stats.slow_closed.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("zgld_ws_slow_closed_total").increment(1);
                }
                conn.close.close(close::SLOW);
                false
            }
        }
    }

    /// Whether a poll of this side of the conversation can answer "nothing new" without
    /// PostgreSQL (see [`quiet`]).
    pub fn is_quiet(&self, user_id: i64, customer_id: i64, to_user: bool) -> bool {
        self.bridge_up() && self.0.quiet.is_quiet(user_id, customer_id, to_user)
    }

    /// A poll that began at `started` found nothing unread on this side.
    pub fn mark_quiet(
        &self,
        user_id: i64,
        customer_id: i64,
        to_user: bool,
        started: std::time::Instant,
    ) {
        if self.bridge_up() {
            self.0
                .quiet
                .mark_quiet(user_id, customer_id, to_user, started);
        }
    }

    /// Delivers to the targets' connections on this node only. A frame for both a
    /// salesperson and a customer is an event of their conversation: its quiet hints go.
    pub fn deliver_local(&self, targets: &[Target], frame: &Utf8Bytes) {
        if let [Target::User(u), Target::Customer(c)] | [Target::Customer(c), Target::User(u)] =
            targets
        {
            self.0.quiet.changed(*u, *c);
        }
        for t in targets {
            let (map, id) = self.index(*t);
            if let Some(list) = map.get(&id) {
                for c in list.iter() {
                    self.offer(c, frame.clone());
                }
            }
        }
    }

    /// Delivers here and hands the frame to the bridge for the other nodes. Never waits:
    /// if the bridge queue is full the frame is dropped for other nodes, whose clients catch
    /// up from PostgreSQL (the event was committed before it was published).
    pub fn publish(&self, targets: &[Target], frame: Utf8Bytes) {
        self.deliver_local(targets, &frame);
        if let Some(b) = &self.0.bridge {
            if b.try_send(bridge::Outbound {
                targets: targets.to_vec(),
                frame,
            })
            .is_err()
            {
                tracing::warn!("hub bridge queue full: frame not sent to other nodes");
            }
        }
    }

    /// Tells every client on this node to resume from PostgreSQL (it may have missed events).
    pub fn broadcast_resync(&self) {
        self.0.quiet.clear();
        let frame = Utf8Bytes::from_static(r#"{"type":"resync"}"#);
        for map in [&self.0.users, &self.0.customers] {
            for list in map.iter() {
                for c in list.iter() {
                    self.offer(c, frame.clone());
                }
            }
        }
    }

    /// Closes `who`'s connections on this node opened by `session` (all of them for `None`)
    /// with `code`; returns how many.
    pub fn close_session(&self, who: Target, session: Option<i64>, code: u16) -> usize {
        let (map, id) = self.index(who);
        let Some(list) = map.get(&id) else { return 0 };
        let mut n = 0;
        for c in list.iter() {
            if session.is_none_or(|s| c.session.load(Ordering::Acquire) == s) {
                c.close.close(code);
                n += 1;
            }
        }
        n
    }

    /// Asks every connection to close with [`close::RECONNECT`] and refuses new ones.
    pub fn begin_shutdown(&self) {
        self.0.shutting_down.store(true, Ordering::Release);
        for map in [&self.0.users, &self.0.customers] {
            for list in map.iter() {
                for c in list.iter() {
                    c.close.close(close::RECONNECT);
                }
            }
        }
    }

    /// Waits until every connection has gone, at most `limit`.
    pub async fn wait_closed(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.connections() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_closes_only_that_connection_as_slow() {
        let hub = Hub::new(2, None);
        let slow = hub.register(Target::User(1));
        let fast = hub.register(Target::User(1));
        for i in 0..3 {
            hub.deliver_local(&[Target::User(1)], &Utf8Bytes::from(format!("{i}")));
            while fast.try_next().is_some() {}
        }
        assert_eq!(slow.queued(), 2, "the queue is bounded");
        assert_eq!(slow.close.code(), close::SLOW);
        assert_eq!(fast.close.code(), 0);
        assert_eq!(hub.stats().slow_closed.load(Ordering::Relaxed), 1);
        hub.unregister(Target::User(1), slow.id);
        hub.unregister(Target::User(1), fast.id);
        assert_eq!(hub.connections(), 0);
        assert!(!hub.is_connected(Target::User(1)));
    }

    #[tokio::test]
    async fn queued_frames_arrive_in_order_and_a_drained_queue_gives_its_storage_back() {
        let hub = Hub::new(256, None);
        let c = hub.register(Target::User(1));
        assert_eq!(
            c.frames().capacity(),
            0,
            "nothing is allocated before a frame"
        );
        let waiting = {
            let c = c.clone();
            tokio::spawn(async move { c.next().await })
        };
        tokio::task::yield_now().await;
        hub.deliver_local(&[Target::User(1)], &Utf8Bytes::from_static("first"));
        assert_eq!(waiting.await.unwrap().as_str(), "first");
        for i in 0..100 {
            hub.deliver_local(&[Target::User(1)], &Utf8Bytes::from(i.to_string()));
        }
        for i in 0..100 {
            assert_eq!(c.next().await.as_str(), i.to_string());
        }
        assert!(c.frames().capacity() <= QUEUE_KEEP);
        assert!(c.try_next().is_none());
    }

    #[tokio::test]
    async fn shutdown_asks_everyone_to_reconnect() {
        let hub = Hub::new(8, None);
        let a = hub.register(Target::Customer(7));
        hub.begin_shutdown();
        assert_eq!(a.close.closed().await, close::RECONNECT);
        let b = hub.register(Target::Customer(8));
        assert_eq!(b.close.code(), close::RECONNECT);
    }
}
