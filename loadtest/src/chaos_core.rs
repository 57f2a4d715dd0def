//! The chaos harness shared by `loadtest chaos` (loadtest/src/chaos.rs) and the short CI
//! version (tests/chaos_short.rs, which includes this file with `#[path]`): it uses only
//! crates both packages already have (no clap, no hdrhistogram, std processes).
//!
//! Two server nodes on one PostgreSQL database and one private `redis-server` (its own port,
//! so the machine's Redis is never touched), a fresh database and Redis prefix per run,
//! salesperson/customer pairs chatting over WebSockets, each client reconnecting to the
//! other node when its node goes away and resuming by its last contiguous seq (or, told to
//! `reload`, reading what it missed from the paged chat history over HTTP), and a check of
//! everything the clients were told against PostgreSQL (docs/RELIABILITY.md).

use std::{
    borrow::Cow,
    collections::{BTreeMap, HashMap, HashSet},
    net::{Ipv4Addr, SocketAddr},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use md5::{Digest, Md5};
use serde::{de, Deserialize, Deserializer};
use serde_json::{json, Value};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn err(msg: impl Into<String>) -> Box<dyn std::error::Error + Send + Sync> {
    msg.into().into()
}

/// Locks a mutex, poisoned or not (a panicking client task must not stop the report).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A port nobody listens on right now.
pub fn free_port() -> Res<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Where and how the run's infrastructure lives.
#[derive(Clone, Debug)]
pub struct Infra {
    /// The server binary.
    pub server: String,
    /// PostgreSQL server URL without a database (`postgres://postgres@127.0.0.1:5432`).
    pub pg: String,
    /// This run's database (created, dropped at the end unless kept).
    pub db: String,
    /// This run's Redis key prefix.
    pub prefix: String,
    pub redis_port: u16,
    pub ports: [u16; 2],
    /// More environment for the nodes.
    pub extra_env: Vec<(String, String)>,
    /// Where the nodes' stderr goes (appended), one file per node.
    pub log_dir: String,
}

impl Infra {
    /// Fresh names and ports for one run.
    pub fn new(server: &str, pg: &str, tag: &str) -> Res<Infra> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let unique = format!("{}_{}_{}", tag, std::process::id(), nanos % 1_000_000_000);
        Ok(Infra {
            server: server.to_owned(),
            pg: pg.trim_end_matches('/').to_owned(),
            db: format!("zgld_chaos_{unique}"),
            prefix: format!("zgld-chaos-{unique}:"),
            redis_port: free_port()?,
            ports: [free_port()?, free_port()?],
            extra_env: Vec::new(),
            log_dir: std::env::temp_dir().display().to_string(),
        })
    }

    pub fn db_url(&self) -> String {
        format!("{}/{}", self.pg, self.db)
    }

    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.redis_port)
    }

    pub fn log_path(&self, node: usize) -> String {
        format!("{}/{}-node{node}.log", self.log_dir, self.db)
    }

    async fn admin(&self) -> Res<tokio_postgres::Client> {
        let (c, conn) =
            tokio_postgres::connect(&format!("{}/postgres", self.pg), tokio_postgres::NoTls)
                .await?;
        tokio::spawn(conn);
        Ok(c)
    }

    pub async fn db_client(&self) -> Res<tokio_postgres::Client> {
        let (c, conn) = tokio_postgres::connect(&self.db_url(), tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Ok(c)
    }

    /// Creates the database with `pairs` salespeople and `pairs` customers, salesperson i
    /// related to customer i, a known token each (md5 of `chaos-u<id>` / `chaos-c<id>`).
    pub async fn prepare(&self, pairs: usize) -> Res<()> {
        let admin = self.admin().await?;
        admin
            .batch_execute(&format!("drop database if exists {} with (force)", self.db))
            .await?;
        admin
            .batch_execute(&format!("create database {}", self.db))
            .await?;
        let status = Command::new(&self.server)
            .arg("migrate")
            .env("ZGLD_DATABASE_URL", self.db_url())
            .env("ZGLD_LOG", "warn")
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            return Err(err("migrate failed"));
        }
        let db = self.db_client().await?;
        let n = pairs as i64;
        db.batch_execute(&format!(
            "insert into company (id, name, mingpian_available_num) values (1, 'chaos', 1000000);
             insert into user_profile (company_id, role_id, userid, login_user, username)
               select 1, 3, 'u' || g, 'chaos' || g, 'rep' || g from generate_series(1, {n}) g;
             insert into customer (company_id, openid, username)
               select 1, 'o' || g, 'cust' || g from generate_series(1, {n}) g;
             insert into auth_session (user_id, token) select id, md5('chaos-u' || id) from user_profile where company_id = 1;
             insert into auth_session (customer_id, token) select id, md5('chaos-c' || id) from customer where company_id = 1;
             insert into user_customer (company_id, user_id, customer_id, source)
               select 1, g, g, 1 from generate_series(1, {n}) g;"
        ))
        .await?;
        Ok(())
    }

    /// Drops the run's database.
    pub async fn drop_db(&self) -> Res<()> {
        let admin = self.admin().await?;
        admin
            .batch_execute(&format!("drop database if exists {} with (force)", self.db))
            .await?;
        Ok(())
    }
}

fn token(rep: bool, id: usize) -> String {
    let kind = if rep { 'u' } else { 'c' };
    hex::encode(Md5::digest(format!("chaos-{kind}{id}").as_bytes()))
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// The legacy signature (API.md 1.2) at timestamp `ts` (ms).
pub fn signed_at(rep: bool, id: usize, ts: u128) -> String {
    let sig = hex::encode(Md5::digest(format!("{ts}{}", token(rep, id)).as_bytes()));
    format!("rand_str={sig}&timestamp={ts}&user_id={id}")
}

/// A `redis-server` of the run's own, on its own port.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    pub async fn start(port: u16) -> Res<PrivateRedis> {
        let mut r = PrivateRedis { port, child: None };
        r.up().await?;
        Ok(r)
    }

    pub async fn up(&mut self) -> Res<()> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| err(format!("redis-server on PATH: {e}")))?;
        self.child = Some(child);
        for _ in 0..250 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(err("private redis did not start"))
    }

    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.down();
    }
}

/// The two server nodes.
pub struct Nodes {
    pub infra: Infra,
    children: [Option<Child>; 2],
}

impl Nodes {
    pub fn new(infra: &Infra) -> Nodes {
        Nodes {
            infra: infra.clone(),
            children: [None, None],
        }
    }

    /// Starts node `i` and waits for its `/healthz`; returns how long that took.
    pub async fn start(&mut self, i: usize) -> Res<Duration> {
        let t0 = Instant::now();
        let port = self.infra.ports[i % 2];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.infra.log_path(i % 2))?;
        let mut cmd = Command::new(&self.infra.server);
        cmd.arg("serve")
            .env("ZGLD_BIND", format!("127.0.0.1:{port}"))
            .env("ZGLD_DATABASE_URL", self.infra.db_url())
            .env("ZGLD_REDIS_URL", self.infra.redis_url())
            .env("ZGLD_REDIS_PREFIX", &self.infra.prefix)
            .env("ZGLD_LOG", "warn")
            .env("ZGLD_DB_POOL_SIZE", "16")
            .env("ZGLD_WECHAT_SANDBOX", "http://127.0.0.1:9")
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in &self.infra.extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()?;
        for _ in 0..600 {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(err(format!("node {i} exited at start: {status}")));
            }
            if let Ok(r) = http
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
            {
                if r.status().is_success() {
                    self.children[i % 2] = Some(child);
                    return Ok(t0.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(err(format!("node {i} did not come up")))
    }

    /// SIGKILL.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.children[i % 2].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits up to `limit` for the node to exit (SIGKILL after that).
    /// Returns the time to exit and whether it exited by itself, with its exit status.
    pub async fn term(&mut self, i: usize, limit: Duration) -> (Duration, bool, String) {
        let t0 = Instant::now();
        let Some(mut c) = self.children[i % 2].take() else {
            return (Duration::ZERO, true, "not running".into());
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        while t0.elapsed() < limit {
            if let Ok(Some(status)) = c.try_wait() {
                return (t0.elapsed(), true, status.to_string());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = c.kill();
        let _ = c.wait();
        (t0.elapsed(), false, "killed after the limit".into())
    }

    pub fn stop_all(&mut self) {
        self.kill(0);
        self.kill(1);
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// What one client knows and has measured.
#[derive(Default)]
pub struct ClientState {
    pub conv: Option<i64>,
    /// seq → message id, of every `message` frame of the conversation (deduplicated by id).
    pub seen: BTreeMap<i64, i64>,
    /// The highest seq up to which every seq was seen.
    pub wm: i64,
    /// A seq seen with two different message ids.
    pub conflicts: u64,
    /// Frames seen again (same id): normal after a resume.
    pub redelivered: u64,
    /// client_msg_id → (id, seq) from `sent`.
    pub acked: HashMap<String, (i64, i64)>,
    pub dup_acks: u64,
    /// Sent, not yet acknowledged: n → (client_msg_id, frame, last sent).
    pub pending: BTreeMap<u64, (String, String, Instant)>,
    pub next_n: u64,
    pub sessions: u64,
    /// Disconnect → `hello` on the next node, ms (involuntary disconnects only).
    pub reconnect_ms: Vec<f64>,
    /// Disconnect → `resumed` on the next node, ms.
    pub caught_up_ms: Vec<f64>,
    pub errors: BTreeMap<i64, u64>,
    pub closes: BTreeMap<u16, u64>,
    pub reloads: u64,
    /// History pages read over HTTP after a `reload`, and the rows they held.
    pub history_pages: u64,
    pub history_rows: u64,
    /// History requests that failed (the node went away, an error envelope): tried again.
    pub history_errors: u64,
    /// The first of them, as the client saw it (transport error or envelope code).
    pub history_first_error: Option<String>,
    /// Peer messages' send → receive latency (ns), while measuring.
    pub latencies: Vec<u64>,
    /// Peer messages received live while counting, by whether the peer was on this node.
    pub live_same_node: u64,
    pub live_cross_node: u64,
    pub same_node_latencies: Vec<u64>,
    /// Own messages while tracing: seq → (ack time ns, length of the `message` frame).
    pub trace: BTreeMap<i64, (Option<u64>, Option<usize>)>,
    /// The local address of the current connection.
    pub local: Option<SocketAddr>,
    /// Highest seq read when it stopped reading (slow consumers).
    pub stopped_at_seq: i64,
    /// When this client last asked to resume because a live frame skipped a seq (docs/realtime.md:
    /// a frame whose seq is past the next one means one was missed, e.g. a node died between a
    /// message's commit and its publish): at most once a second.
    pub gap_resume_at: Option<Instant>,
    /// Resumes sent for such gaps.
    pub gap_resumes: u64,
}

impl ClientState {
    fn see(&mut self, seq: i64, id: i64) -> bool {
        match self.seen.get(&seq) {
            Some(&old) if old == id => {
                self.redelivered += 1;
                false
            }
            Some(_) => {
                self.conflicts += 1;
                false
            }
            None => {
                self.seen.insert(seq, id);
                while self.seen.contains_key(&(self.wm + 1)) {
                    self.wm += 1;
                }
                true
            }
        }
    }
}

/// One WebSocket client: a salesperson or a customer of pair `pair`.
pub struct Client {
    pub idx: usize,
    pub rep: bool,
    /// user_profile.id or customer.id (= pair + 1).
    pub id: usize,
    pub peer_idx: usize,
    pub home: usize,
    /// The node it is connected to (2 = none).
    pub node: AtomicUsize,
    /// Messages per second it sends (milli-messages, 0 = none).
    pub rate_milli: AtomicU64,
    /// Stops reading its socket (a slow consumer).
    pub slow: AtomicBool,
    /// Closes its connection and stays disconnected while set (a client gone for a while, as a
    /// phone with the app in the background: what its peer sends meanwhile it must catch up).
    pub away: AtomicBool,
    /// Bytes of padding in each message it sends.
    pub pad: AtomicUsize,
    /// Its receive buffer (slow consumers get a small one), bytes; 0 = default.
    pub rcvbuf: u32,
    /// The highest `last_seq` of a `reload`: the history is read up to it.
    pub history_to: AtomicI64,
    /// A history reader task is running for this client.
    pub history_running: AtomicBool,
    /// The history reader finished: the session resumes from the new contiguous seq.
    pub history_done: AtomicBool,
    pub st: Mutex<ClientState>,
}

/// Every client and the switches the scenarios turn.
pub struct Fleet {
    pub start: Instant,
    pub ports: [u16; 2],
    pub up: [AtomicBool; 2],
    pub stop: AtomicBool,
    pub sending: AtomicBool,
    pub measuring: AtomicBool,
    pub counting_live: AtomicBool,
    pub tracing: AtomicBool,
    pub rebalance: tokio::sync::watch::Sender<u64>,
    pub clients: Vec<Arc<Client>>,
    pub window: usize,
    /// For the history reads after a `reload`.
    pub http: reqwest::Client,
}

impl Fleet {
    /// `pairs` salesperson/customer pairs: salesperson i on node i % 2, customer i on node
    /// (i / 2) % 2, so half the pairs talk within a node and half across nodes.
    pub fn new(ports: [u16; 2], pairs: usize, rate: f64) -> Arc<Fleet> {
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let mut clients = Vec::new();
        for i in 0..pairs {
            for rep in [true, false] {
                let idx = clients.len();
                clients.push(Arc::new(Client {
                    idx,
                    rep,
                    id: i + 1,
                    peer_idx: if rep { idx + 1 } else { idx - 1 },
                    home: if rep { i % 2 } else { (i / 2) % 2 },
                    node: AtomicUsize::new(2),
                    rate_milli: AtomicU64::new((rate * 1000.0) as u64),
                    slow: AtomicBool::new(false),
                    away: AtomicBool::new(false),
                    pad: AtomicUsize::new(0),
                    rcvbuf: 0,
                    history_to: AtomicI64::new(0),
                    history_running: AtomicBool::new(false),
                    history_done: AtomicBool::new(false),
                    st: Mutex::new(ClientState::default()),
                }));
            }
        }
        Arc::new(Fleet {
            start: Instant::now(),
            ports,
            up: [AtomicBool::new(true), AtomicBool::new(true)],
            stop: AtomicBool::new(false),
            sending: AtomicBool::new(true),
            measuring: AtomicBool::new(false),
            counting_live: AtomicBool::new(false),
            tracing: AtomicBool::new(false),
            rebalance: tx,
            clients,
            window: 8,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap_or_default(),
        })
    }

    /// Gives the customers of the first `n` pairs a small receive buffer (slow consumers).
    pub fn with_small_buffers(self: Arc<Self>, n: usize, bytes: u32) -> Arc<Fleet> {
        match Arc::try_unwrap(self) {
            Ok(mut f) => {
                for c in f.clients.iter_mut().filter(|c| !c.rep && c.id <= n) {
                    if let Some(c) = Arc::get_mut(c) {
                        c.rcvbuf = bytes;
                    }
                }
                Arc::new(f)
            }
            Err(f) => f,
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    pub fn spawn(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        self.clients
            .iter()
            .map(|c| tokio::spawn(run_client(self.clone(), c.clone())))
            .collect()
    }

    /// Clients whose node is `node` move back when it is up again.
    pub fn set_up(&self, node: usize, up: bool) {
        self.up[node % 2].store(up, Ordering::SeqCst);
        if up {
            self.rebalance.send_modify(|g| *g += 1);
        }
    }

    pub fn connected(&self) -> usize {
        self.clients
            .iter()
            .filter(|c| c.node.load(Ordering::Relaxed) < 2)
            .count()
    }

    /// Waits until every client is connected (or `limit`).
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if self.connected() == self.clients.len() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Stops new messages and waits until every sent message is acknowledged.
    pub async fn drain_pending(&self, limit: Duration) -> usize {
        self.sending.store(false, Ordering::SeqCst);
        let t0 = Instant::now();
        loop {
            let left: usize = self.clients.iter().map(|c| lock(&c.st).pending.len()).sum();
            if left == 0 || t0.elapsed() > limit {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// All latencies collected so far (and clears them).
    pub fn take_latencies(&self, filter: impl Fn(&Client) -> bool) -> Vec<u64> {
        let mut out = Vec::new();
        for c in self.clients.iter().filter(|c| filter(c)) {
            out.append(&mut lock(&c.st).latencies);
        }
        out
    }
}

/// The generator's WebSocket clients: tungstenite zero-fills its whole read buffer (128 KiB
/// by default) before every socket read, which was a fifth of the generator's CPU in the
/// content-views run (docs/BENCHMARKS.md, tenth sitting); frames here are small.
pub(crate) fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(8 * 1024)
}

async fn ws_connect(
    port: u16,
    path: &str,
    n: usize,
    rcvbuf: u32,
) -> Res<(
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    SocketAddr,
)> {
    let sock = TcpSocket::new_v4()?;
    if rcvbuf > 0 {
        sock.set_recv_buffer_size(rcvbuf)?;
    }
    let src = Ipv4Addr::new(127, 0, 0, 2 + (n % 250) as u8);
    sock.bind(SocketAddr::from((src, 0)))?;
    let stream = sock
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await?;
    stream.set_nodelay(true)?;
    let local = stream.local_addr()?;
    let url = format!("ws://127.0.0.1:{port}{path}");
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config())).await?;
    Ok((ws, local))
}

/// How a session ended.
enum End {
    /// The node went away (close frame from it, or the connection ended).
    Lost,
    /// The client moved back to its home node.
    Moved,
    Stop,
}

async fn run_client(f: Arc<Fleet>, c: Arc<Client>) {
    let mut rebalance = f.rebalance.subscribe();
    let mut flip = false;
    let mut lost_at: Option<Instant> = None;
    let mut failures = 0u32;
    while !f.stop.load(Ordering::Relaxed) {
        if c.away.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let preferred = if f.up[c.home].load(Ordering::Relaxed) {
            c.home
        } else {
            1 - c.home
        };
        let node = if flip { 1 - preferred } else { preferred };
        let ts = now_ms();
        let path = if c.rep {
            format!("/zhugeleida/qiyeweixin/ws?{}", signed_at(true, c.id, ts))
        } else {
            format!("/zhugeleida/xiaochengxu/ws?{}", signed_at(false, c.id, ts))
        };
        let conn = tokio::time::timeout(
            Duration::from_secs(3),
            ws_connect(f.ports[node], &path, c.idx, c.rcvbuf),
        )
        .await;
        let (ws, local) = match conn {
            Ok(Ok(x)) => x,
            _ => {
                failures += 1;
                flip = !flip;
                let wait = 20 * u64::from(failures.min(10)) + (c.idx as u64 % 20);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                continue;
            }
        };
        failures = 0;
        flip = false;
        lock(&c.st).local = Some(local);
        c.node.store(node, Ordering::SeqCst);
        let end = session(&f, &c, ws, node, &mut rebalance, &mut lost_at).await;
        c.node.store(2, Ordering::SeqCst);
        match end {
            End::Lost => lost_at = Some(Instant::now()),
            End::Moved => {}
            End::Stop => break,
        }
    }
}

fn frame_of(c: &Client, n: u64, t: u64) -> (String, String) {
    let cmid = format!("{}{}-{n}", if c.rep { 'u' } else { 'c' }, c.id);
    let mut msg = format!("t={t}");
    let pad = c.pad.load(Ordering::Relaxed);
    if pad > 0 {
        msg.push(' ');
        msg.push_str(&"x".repeat(pad));
    }
    let mut v = json!({"type": "send", "client_msg_id": cmid, "msg": msg});
    if let Some(o) = v.as_object_mut() {
        if c.rep {
            o.insert("customer_id".into(), json!(c.id));
        } else {
            o.insert("u_id".into(), json!(c.id));
        }
    }
    (cmid, v.to_string())
}

/// A server frame, read into only the fields the client uses: no JSON tree is built, the
/// rows' other keys are skipped, and a message's text (up to 16 KiB of padding here) is
/// scanned for its send time, never copied. The generator shares the 2 cores with the
/// server (docs/RELIABILITY.md, scenario 3).
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    message: Option<Row>,
    #[serde(default)]
    client_msg_id: Option<String>,
    /// `hello`: the caller's conversations.
    #[serde(default)]
    conversations: Vec<Summary>,
    /// `reload`.
    #[serde(default)]
    conversation_id: Option<i64>,
    #[serde(default)]
    last_seq: Option<i64>,
    /// `error`.
    #[serde(default)]
    code: Option<i64>,
}

#[derive(Deserialize)]
struct Summary {
    #[serde(default)]
    conversation_id: Option<i64>,
}

/// A chat row (in `message` and `sent` frames, and the history pages).
#[derive(Deserialize, Default)]
struct Row {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    seq: Option<i64>,
    #[serde(default)]
    conversation_id: Option<i64>,
    #[serde(default)]
    client_msg_id: Option<String>,
    /// The `t=<ns>` at the start of `msg` (the generator's send time).
    #[serde(default, rename = "msg", deserialize_with = "sent_at")]
    sent_at: Option<u64>,
}

/// The send time in a message text `t=<ns> [padding]`, without copying the text.
fn sent_at<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct SentAt;
    impl de::Visitor<'_> for SentAt {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a message text")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Option<u64>, E> {
            Ok(s.strip_prefix("t=")
                .and_then(|s| s.split(' ').next())
                .and_then(|s| s.parse().ok()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<u64>, E> {
            Ok(None)
        }
    }
    d.deserialize_any(SentAt)
}

/// The envelope of a history page: QYW-34 answers the rows, GZH-03 `{"ret_data": rows}`.
#[derive(Deserialize)]
struct Envelope<T> {
    code: i64,
    data: Option<T>,
}

#[derive(Deserialize)]
struct Wrapped {
    #[serde(default)]
    ret_data: Vec<Row>,
}

/// Rows per history page (the endpoints allow up to 1000).
const HISTORY_PAGE: i64 = 50;

/// One page of the client's conversation history, newest first: `(seq, id)` of its rows.
/// The endpoints the real clients page it with (src/web/h5/app.js, src/web/c/app.js): a
/// salesperson QYW-34, a customer the mini program's GZH-03; signed like the WebSocket.
async fn history_page(f: &Fleet, c: &Client, node: usize, before: i64) -> Res<Vec<(i64, i64)>> {
    let port = f
        .ports
        .get(node)
        .copied()
        .ok_or_else(|| err("no such node"))?;
    let sig = signed_at(c.rep, c.id, now_ms());
    let q = format!("before_seq={before}&length={HISTORY_PAGE}");
    let rows = if c.rep {
        let url = format!(
            "http://127.0.0.1:{port}/zhugeleida/qiyeweixin/chat?{sig}&customer_id={}&{q}",
            c.id
        );
        let e: Envelope<Vec<Row>> = f.http.get(url).send().await?.json().await?;
        if e.code != 200 {
            return Err(err(format!("history: code {}", e.code)));
        }
        e.data.unwrap_or_default()
    } else {
        let url = format!(
            "http://127.0.0.1:{port}/zhugeleida/xiaochengxu/chat?{sig}&u_id={}&customer_id={}&{q}",
            c.id, c.id
        );
        let e: Envelope<Wrapped> = f.http.get(url).send().await?.json().await?;
        if e.code != 200 {
            return Err(err(format!("history: code {}", e.code)));
        }
        e.data.map(|d| d.ret_data).unwrap_or_default()
    };
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r.seq?, r.id?)))
        .collect())
}

/// After a `reload`: reads the history, page after page (one request at a time: the client's
/// own pace), until every seq up to the reload's `last_seq` has been seen, then asks the
/// session to resume from there. Rows come newest first; it pages back from the reload's
/// `last_seq` with the `before_seq` cursor, which rows stored meanwhile do not shift (with
/// `current_page` a conversation receiving 40 messages a second moved its pages faster than
/// a paced reader read them, and the same rows were read again and again).
async fn read_history(f: Arc<Fleet>, c: Arc<Client>) {
    let mut node = c.node.load(Ordering::Relaxed).min(1);
    // Passes over the history that moved nothing: a seq the history does not have (the check
    // will count it) must not keep the reader going forever.
    let mut idle_passes = 0;
    loop {
        let target = c.history_to.load(Ordering::SeqCst);
        let wm = lock(&c.st).wm;
        if wm >= target || idle_passes >= 3 || f.stop.load(Ordering::Relaxed) {
            c.history_running.store(false, Ordering::SeqCst);
            // A reload that came in just now found this task still running: go on for it.
            if c.history_to.load(Ordering::SeqCst) > lock(&c.st).wm
                && idle_passes < 3
                && !f.stop.load(Ordering::Relaxed)
                && !c.history_running.swap(true, Ordering::SeqCst)
            {
                continue;
            }
            c.history_done.store(true, Ordering::SeqCst);
            return;
        }
        let mut before = target + 1;
        let mut failed = false;
        loop {
            let rows = match history_page(&f, &c, node, before).await {
                Ok(rows) => rows,
                Err(e) => {
                    // Not a pass: the node went away (or refused); the other one is asked.
                    failed = true;
                    let what = format!("node {node}, before seq {before}: {e}");
                    {
                        let mut st = lock(&c.st);
                        st.history_errors += 1;
                        st.history_first_error.get_or_insert(what);
                    }
                    node = 1 - node;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    break;
                }
            };
            let mut st = lock(&c.st);
            let wm_before = st.wm;
            st.history_pages += 1;
            st.history_rows += rows.len() as u64;
            let lowest = rows.iter().map(|r| r.0).min();
            for (seq, id) in rows {
                st.see(seq, id);
            }
            // Done with this target, or at the bottom of the history, or below the gap.
            match lowest {
                Some(l) if st.wm < target && l > wm_before + 1 => before = l,
                _ => break,
            }
            drop(st);
        }
        if !failed && lock(&c.st).wm == wm {
            idle_passes += 1;
        }
    }
}

async fn session(
    f: &Arc<Fleet>,
    c: &Arc<Client>,
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    node: usize,
    rebalance: &mut tokio::sync::watch::Receiver<u64>,
    lost_at: &mut Option<Instant>,
) -> End {
    let (mut w, mut r) = ws.split();
    let mut send_tick = tokio::time::interval(Duration::from_millis(10));
    send_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut retry_tick = tokio::time::interval(Duration::from_millis(500));
    let mut stop_tick = tokio::time::interval(Duration::from_millis(50));
    let mut hello = false;
    let mut next_send = Instant::now();
    let own_prefix = format!("{}{}-", if c.rep { 'u' } else { 'c' }, c.id);
    rebalance.borrow_and_update();
    lock(&c.st).sessions += 1;
    loop {
        let mut out: Vec<String> = Vec::new();
        let slow = c.slow.load(Ordering::Relaxed);
        tokio::select! {
            m = r.next(), if !slow => {
                let t = match m {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(fr))) => {
                        let code = fr.map(|f| u16::from(f.code)).unwrap_or(1005);
                        *lock(&c.st).closes.entry(code).or_insert(0) += 1;
                        return End::Lost;
                    }
                    Some(Ok(_)) => continue,
                    None | Some(Err(_)) => return End::Lost,
                };
                let Ok(v) = serde_json::from_str::<Frame>(t.as_str()) else { continue };
                let now = f.now_ns();
                let mut st = lock(&c.st);
                match v.kind.as_ref() {
                    "hello" => {
                        hello = true;
                        if let Some(at) = lost_at.as_ref() {
                            st.reconnect_ms.push(at.elapsed().as_secs_f64() * 1e3);
                        }
                        if st.conv.is_none() {
                            st.conv = v.conversations.first().and_then(|x| x.conversation_id);
                        }
                        if let Some(conv) = st.conv {
                            out.push(json!({"type": "resume", "conversations": {conv.to_string(): st.wm}}).to_string());
                        } else if let Some(at) = lost_at.take() {
                            st.caught_up_ms.push(at.elapsed().as_secs_f64() * 1e3);
                        }
                        let nowi = Instant::now();
                        for (_, (_, frame, sent)) in st.pending.iter_mut() {
                            out.push(frame.clone());
                            *sent = nowi;
                        }
                    }
                    "resumed" => {
                        if let Some(at) = lost_at.take() {
                            st.caught_up_ms.push(at.elapsed().as_secs_f64() * 1e3);
                        }
                    }
                    "resync" => {
                        if let Some(conv) = st.conv {
                            out.push(json!({"type": "resume", "conversations": {conv.to_string(): st.wm}}).to_string());
                        }
                    }
                    "reload" => {
                        // Too much missed for a resume: read it from the history over HTTP, in
                        // a task of its own, so this socket keeps being read meanwhile.
                        st.reloads += 1;
                        if st.conv.is_none() {
                            st.conv = v.conversation_id;
                        }
                        c.history_to.fetch_max(v.last_seq.unwrap_or(0), Ordering::SeqCst);
                        if !c.history_running.swap(true, Ordering::SeqCst) {
                            tokio::spawn(read_history(f.clone(), c.clone()));
                        }
                    }
                    "sent" => {
                        let m = v.message.unwrap_or_default();
                        let cmid = v.client_msg_id.unwrap_or_default();
                        if let (Some(id), Some(seq)) = (m.id, m.seq) {
                            if st.conv.is_none() {
                                st.conv = m.conversation_id;
                            }
                            if let Some(prev) = st.acked.insert(cmid.clone(), (id, seq)) {
                                if prev != (id, seq) {
                                    st.dup_acks += 1;
                                }
                            }
                            if f.tracing.load(Ordering::Relaxed) {
                                st.trace.entry(seq).or_default().0 = Some(now);
                            }
                        }
                        if let Some(n) = cmid.strip_prefix(&own_prefix).and_then(|n| n.parse::<u64>().ok()) {
                            st.pending.remove(&n);
                        }
                    }
                    "message" => {
                        let Some(m) = v.message else { continue };
                        let (Some(id), Some(seq)) = (m.id, m.seq) else { continue };
                        if st.conv.is_none() {
                            st.conv = m.conversation_id;
                        }
                        let fresh = st.see(seq, id);
                        // A seq past the next one: a frame was missed (its publish was lost to a
                        // node's death after the commit). Resume from the contiguous seq, as
                        // docs/realtime.md asks of clients; at most once a second.
                        if seq > st.wm + 1 && st.gap_resume_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                            st.gap_resume_at = Some(Instant::now());
                            st.gap_resumes += 1;
                            if let Some(conv) = st.conv {
                                out.push(json!({"type": "resume", "conversations": {conv.to_string(): st.wm}}).to_string());
                            }
                        }
                        let own = m.client_msg_id.as_deref().unwrap_or_default().starts_with(&own_prefix);
                        if own && f.tracing.load(Ordering::Relaxed) {
                            st.trace.entry(seq).or_default().1 = Some(t.len());
                        }
                        if fresh && !own {
                            if let Some(sent) = m.sent_at {
                                let lat = now.saturating_sub(sent);
                                if f.measuring.load(Ordering::Relaxed) {
                                    st.latencies.push(lat);
                                }
                                if f.counting_live.load(Ordering::Relaxed) {
                                    let peer_node = f.clients.get(c.peer_idx).map(|p| p.node.load(Ordering::Relaxed)).unwrap_or(2);
                                    if peer_node == node {
                                        st.live_same_node += 1;
                                        st.same_node_latencies.push(lat);
                                    } else {
                                        st.live_cross_node += 1;
                                    }
                                }
                            }
                        }
                    }
                    "error" => {
                        *st.errors.entry(v.code.unwrap_or(-1)).or_insert(0) += 1;
                    }
                    _ => {}
                }
            }
            _ = send_tick.tick(), if hello && !slow => {
                let rate = c.rate_milli.load(Ordering::Relaxed);
                if rate > 0 && f.sending.load(Ordering::Relaxed) {
                    let period = Duration::from_micros(1_000_000_000 / rate);
                    let now = Instant::now();
                    if now >= next_send {
                        next_send = (next_send + period).max(now - period);
                        let mut st = lock(&c.st);
                        if st.pending.len() < f.window {
                            st.next_n += 1;
                            let n = st.next_n;
                            let (cmid, frame) = frame_of(c, n, f.now_ns());
                            st.pending.insert(n, (cmid, frame.clone(), now));
                            out.push(frame);
                        }
                    }
                }
            }
            _ = retry_tick.tick(), if hello && !slow => {
                let mut st = lock(&c.st);
                let now = Instant::now();
                for (_, (_, frame, sent)) in st.pending.iter_mut() {
                    if now.duration_since(*sent) > Duration::from_secs(2) {
                        out.push(frame.clone());
                        *sent = now;
                    }
                }
            }
            _ = rebalance.changed() => {
                if node != c.home && f.up[c.home].load(Ordering::Relaxed) {
                    let _ = w.send(Message::Close(None)).await;
                    return End::Moved;
                }
            }
            _ = stop_tick.tick() => {
                if f.stop.load(Ordering::Relaxed) {
                    let _ = w.send(Message::Close(None)).await;
                    return End::Stop;
                }
                if c.away.load(Ordering::Relaxed) {
                    let _ = w.send(Message::Close(None)).await;
                    return End::Lost;
                }
                // The history filled what a `reload` left out: resume from there (anything
                // between the history's end and the live frames comes now).
                if hello && c.history_done.swap(false, Ordering::SeqCst) {
                    let st = lock(&c.st);
                    if let Some(conv) = st.conv {
                        out.push(json!({"type": "resume", "conversations": {conv.to_string(): st.wm}}).to_string());
                    }
                }
            }
        }
        for frame in out {
            if w.send(Message::Text(frame.into())).await.is_err() {
                return End::Lost;
            }
        }
    }
}

/// REST traffic during a scenario: signed GETs and chat sends (QYW-35) as salespeople,
/// alternating nodes; a refused connection is retried on the other node.
#[derive(Default)]
pub struct RestStats {
    pub ok: AtomicU64,
    /// The connection was refused (the node was not listening): never in flight.
    pub refused: AtomicU64,
    /// Sent, and no answer (reset, closed, timed out): a failed in-flight request.
    pub failed: AtomicU64,
    /// Of those: the connection closed before any answer (sent again on the other node).
    pub closed_unanswered: AtomicU64,
    pub http_5xx: AtomicU64,
    /// HTTP 200 with an envelope code >= 500.
    pub envelope_5xx: AtomicU64,
    pub other_codes: Mutex<BTreeMap<i64, u64>>,
    pub samples: Mutex<Vec<String>>,
    /// client_msg_id → rep id of answered sends.
    pub acked: Mutex<HashMap<String, usize>>,
    pub stop: AtomicBool,
}

impl RestStats {
    fn sample(&self, s: String) {
        let mut v = lock(&self.samples);
        if v.len() < 20 {
            v.push(s);
        }
    }

    pub fn summary(&self) -> Value {
        json!({
            "ok": self.ok.load(Ordering::Relaxed),
            "refused_connections_retried": self.refused.load(Ordering::Relaxed),
            "failed_in_flight": self.failed.load(Ordering::Relaxed),
            "of_which_connection_closed_unanswered_then_retried": self.closed_unanswered.load(Ordering::Relaxed),
            "http_5xx": self.http_5xx.load(Ordering::Relaxed),
            "envelope_5xx": self.envelope_5xx.load(Ordering::Relaxed),
            "other_envelope_codes": lock(&self.other_codes).iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "error_samples": *lock(&self.samples),
        })
    }
}

pub fn spawn_rest(
    f: &Arc<Fleet>,
    stats: &Arc<RestStats>,
    pollers: usize,
    pairs: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..pollers)
        .map(|p| {
            let (f, stats) = (f.clone(), stats.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()
                    .unwrap_or_default();
                let rep = (p % pairs.max(1)) + 1;
                let mut last_ts = 0u128;
                let mut n = 0u64;
                while !stats.stop.load(Ordering::Relaxed) {
                    n += 1;
                    let kind = n % 4;
                    let mut node = (n as usize + p) % 2;
                    let cmid = format!("r{p}-{n}");
                    for attempt in 0..4 {
                        // Every write needs its own timestamp (a signature is single-use).
                        let ts = now_ms().max(last_ts + 1);
                        last_ts = ts;
                        let sig = signed_at(true, rep, ts);
                        let base =
                            format!("http://127.0.0.1:{}/zhugeleida/qiyeweixin", f.ports[node]);
                        let req = match kind {
                            0 => http.post(format!("{base}/chat/send_msg/0?{sig}")).form(&[
                                ("customer_id", rep.to_string()),
                                ("msg", "rest".to_owned()),
                                ("client_msg_id", cmid.clone()),
                            ]),
                            1 => http.get(format!("{base}/chat?{sig}&customer_id={rep}")),
                            2 => http.get(format!("{base}/contact?{sig}")),
                            _ => http.get(format!("{base}/chat/getmsg/0?{sig}&customer_id={rep}")),
                        };
                        match req.send().await {
                            Err(e) if e.is_connect() => {
                                stats.refused.fetch_add(1, Ordering::Relaxed);
                                node = 1 - node;
                                if attempt > 0 {
                                    tokio::time::sleep(Duration::from_millis(20)).await;
                                }
                                continue;
                            }
                            Err(e) => {
                                stats.failed.fetch_add(1, Ordering::Relaxed);
                                let closed = format!("{e:?}").contains("IncompleteMessage");
                                if closed {
                                    // The connection closed with no answer: every one of these
                                    // requests may be sent again (the chat send carries its
                                    // client_msg_id), as a balancer would, on the other node.
                                    stats.closed_unanswered.fetch_add(1, Ordering::Relaxed);
                                }
                                stats.sample(format!(
                                    "t={:.3}s node{node} kind{kind}: {e:?}",
                                    f.start.elapsed().as_secs_f64()
                                ));
                                if closed && attempt < 3 {
                                    node = 1 - node;
                                    continue;
                                }
                            }
                            Ok(resp) => {
                                let status = resp.status();
                                let body = resp.bytes().await;
                                if status.is_server_error() {
                                    stats.http_5xx.fetch_add(1, Ordering::Relaxed);
                                    stats.sample(format!(
                                        "t={:.3}s node{node} kind{kind}: HTTP {status}",
                                        f.start.elapsed().as_secs_f64()
                                    ));
                                } else {
                                    match body {
                                        Err(e) => {
                                            stats.failed.fetch_add(1, Ordering::Relaxed);
                                            stats.sample(format!(
                                                "t={:.3}s node{node} kind{kind}: body {e:?}",
                                                f.start.elapsed().as_secs_f64()
                                            ));
                                        }
                                        Ok(b) => {
                                            let code = serde_json::from_slice::<Value>(&b)
                                                .ok()
                                                .and_then(|v| v["code"].as_i64())
                                                .unwrap_or(-1);
                                            if code == 200 {
                                                stats.ok.fetch_add(1, Ordering::Relaxed);
                                                if kind == 0 {
                                                    lock(&stats.acked).insert(cmid.clone(), rep);
                                                }
                                            } else if code >= 500 {
                                                stats.envelope_5xx.fetch_add(1, Ordering::Relaxed);
                                                stats.sample(format!(
                                                    "t={:.3}s node{node} kind{kind}: {}",
                                                    f.start.elapsed().as_secs_f64(),
                                                    String::from_utf8_lossy(&b)
                                                ));
                                            } else {
                                                *lock(&stats.other_codes)
                                                    .entry(code)
                                                    .or_insert(0) += 1;
                                                stats.sample(format!(
                                                    "t={:.3}s node{node} kind{kind}: {}",
                                                    f.start.elapsed().as_secs_f64(),
                                                    String::from_utf8_lossy(&b)
                                                ));
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(15)).await;
                }
            })
        })
        .collect()
}

/// What the database says against what the clients were told and saw.
#[derive(Debug, Default, Clone)]
pub struct Verdict {
    pub messages_in_db: u64,
    pub acked: u64,
    pub lost: u64,
    pub gaps: u64,
    pub duplicates: u64,
    pub redelivered_after_dedupe: u64,
    pub unacked_left: u64,
    pub reloads: u64,
    /// Rows the clients read from the history after a `reload`.
    pub history_rows: u64,
    pub details: Vec<String>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.gaps == 0 && self.duplicates == 0
    }
    pub fn json(&self) -> Value {
        json!({
            "messages_in_db": self.messages_in_db,
            "acked_client_msg_ids": self.acked,
            "lost": self.lost,
            "gaps": self.gaps,
            "duplicates": self.duplicates,
            "redelivered_frames_deduplicated_by_id": self.redelivered_after_dedupe,
            "unacked_left": self.unacked_left,
            "reloads": self.reloads,
            "history_rows_read": self.history_rows,
            "details": self.details.iter().take(20).collect::<Vec<_>>(),
        })
    }
}

/// Each conversation's `last_seq`, by id.
async fn last_seqs(db: &tokio_postgres::Client) -> Res<HashMap<i64, i64>> {
    Ok(db
        .query("select id, last_seq from conversation", &[])
        .await?
        .iter()
        .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
        .collect())
}

impl Client {
    /// Whether this client has not yet seen every seq of its conversation up to `last_seqs`'
    /// (a client without a conversation yet is not behind).
    fn behind(&self, last_seqs: &HashMap<i64, i64>) -> bool {
        let st = lock(&self.st);
        st.conv
            .is_some_and(|conv| st.wm < last_seqs.get(&conv).copied().unwrap_or(0))
    }
}

/// Waits (at most `limit`) until the clients `which` selects have seen every seq their
/// conversation had when the wait began, while traffic goes on; returns whether they did.
pub async fn wait_caught_up(
    infra: &Infra,
    f: &Arc<Fleet>,
    which: impl Fn(&Client) -> bool,
    limit: Duration,
) -> Res<bool> {
    let target = last_seqs(&infra.db_client().await?).await?;
    let t0 = Instant::now();
    loop {
        if !f
            .clients
            .iter()
            .filter(|c| which(c))
            .any(|c| c.behind(&target))
        {
            return Ok(true);
        }
        if t0.elapsed() >= limit {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stops sending, waits for every ack and for every client to catch up (at most `limit`),
/// then checks against PostgreSQL: every acknowledged client_msg_id stored exactly once with
/// the acknowledged id; seqs 1..last_seq in every conversation; every client saw every seq
/// of its conversation, no seq with two ids.
pub async fn settle_and_verify(
    infra: &Infra,
    f: &Arc<Fleet>,
    rest: Option<&RestStats>,
    limit: Duration,
) -> Res<Verdict> {
    let mut v = Verdict {
        unacked_left: f.drain_pending(limit).await as u64,
        ..Verdict::default()
    };
    let db = infra.db_client().await?;
    let t0 = Instant::now();
    let mut last: HashMap<i64, i64> = HashMap::new();
    // Delivery settles: wait (bounded) until every client's contiguous seq reaches the end.
    while t0.elapsed() < limit {
        last = last_seqs(&db).await?;
        if !f.clients.iter().any(|c| c.behind(&last)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = db
        .query(
            "select conversation_id, seq, id, coalesce(client_msg_id, '') from chat_message",
            &[],
        )
        .await?;
    v.messages_in_db = rows.len() as u64;
    // (conversation, client_msg_id) → ids; conversation → seqs.
    let mut by_cmid: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    let mut seqs: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in &rows {
        let (conv, seq, id, cmid): (i64, i64, i64, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        if !cmid.is_empty() {
            by_cmid.entry(cmid).or_default().push((conv, id));
        }
        seqs.entry(conv).or_default().push(seq);
    }
    for (cmid, ids) in &by_cmid {
        if ids.len() > 1 {
            v.duplicates += ids.len() as u64 - 1;
            v.details
                .push(format!("client_msg_id {cmid} stored {} times", ids.len()));
        }
    }
    for (conv, s) in &mut seqs {
        s.sort_unstable();
        let max = s.last().copied().unwrap_or(0);
        let distinct = {
            let mut d = s.clone();
            d.dedup();
            d.len() as i64
        };
        if distinct != s.len() as i64 {
            v.duplicates += (s.len() as i64 - distinct) as u64;
            v.details
                .push(format!("conversation {conv}: a seq stored twice"));
        }
        if distinct != max {
            v.gaps += (max - distinct) as u64;
            v.details.push(format!(
                "conversation {conv}: {distinct} seqs up to {max} in the database"
            ));
        }
    }
    for c in &f.clients {
        let st = lock(&c.st);
        v.reloads += st.reloads;
        v.history_rows += st.history_rows;
        v.redelivered_after_dedupe += st.redelivered;
        for (cmid, (id, _seq)) in &st.acked {
            v.acked += 1;
            match by_cmid.get(cmid) {
                None => {
                    v.lost += 1;
                    v.details
                        .push(format!("{cmid} acknowledged (id {id}) but not stored"));
                }
                Some(ids) if !ids.iter().any(|(_, i)| i == id) => {
                    v.duplicates += 1;
                    v.details
                        .push(format!("{cmid} acknowledged as id {id}, stored as {ids:?}"));
                }
                _ => {}
            }
        }
        if st.dup_acks > 0 {
            v.duplicates += st.dup_acks;
            v.details.push(format!(
                "client {}: one client_msg_id acknowledged with two ids",
                c.idx
            ));
        }
        if st.conflicts > 0 {
            v.duplicates += st.conflicts;
            v.details.push(format!(
                "client {}: {} seqs seen with two ids",
                c.idx, st.conflicts
            ));
        }
        // The pair's conversation, as the database knows it.
        let conv = st.conv;
        let end = conv.and_then(|cv| last.get(&cv).copied()).unwrap_or(0);
        let saw: HashSet<i64> = st
            .seen
            .keys()
            .copied()
            .filter(|s| *s >= 1 && *s <= end)
            .collect();
        let missing = end - saw.len() as i64;
        if missing > 0 {
            v.gaps += missing as u64;
            v.details.push(format!(
                "client {} ({} {}): saw {} of {end} seqs (contiguous to {}); reloads {}, history to {} (running {}, done {}), pages {}, errors {} (first: {:?})",
                c.idx,
                if c.rep { "salesperson" } else { "customer" },
                c.id,
                saw.len(),
                st.wm,
                st.reloads,
                c.history_to.load(Ordering::SeqCst),
                c.history_running.load(Ordering::SeqCst),
                c.history_done.load(Ordering::SeqCst),
                st.history_pages,
                st.history_errors,
                st.history_first_error,
            ));
        }
    }
    // Clients that never learnt their conversation although it has messages.
    let pairs_with_conv: HashMap<i64, i64> = db
        .query("select user_id, last_seq from conversation", &[])
        .await?
        .iter()
        .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
        .collect();
    for c in &f.clients {
        let st = lock(&c.st);
        if st.conv.is_none() {
            if let Some(n) = pairs_with_conv.get(&(c.id as i64)) {
                v.gaps += *n as u64;
                v.details.push(format!(
                    "client {}: never saw its conversation ({n} messages)",
                    c.idx
                ));
            }
        }
    }
    if let Some(rest) = rest {
        for cmid in lock(&rest.acked).keys() {
            v.acked += 1;
            if !by_cmid.contains_key(cmid) {
                v.lost += 1;
                v.details
                    .push(format!("REST {cmid} answered 200 but not stored"));
            }
        }
    }
    Ok(v)
}

/// Percentiles (ms) of nanosecond samples.
pub fn pct_ms(samples: &mut [u64]) -> Value {
    samples.sort_unstable();
    let q = |p: f64| -> f64 {
        if samples.is_empty() {
            return 0.0;
        }
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        let v = samples.get(i.min(samples.len() - 1)).copied().unwrap_or(0);
        (v as f64 / 1e3).round() / 1e3
    };
    json!({"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": q(1.0), "samples": samples.len()})
}

/// Percentiles of millisecond samples.
pub fn pct_of_ms(samples: &[f64]) -> Value {
    let mut ns: Vec<u64> = samples.iter().map(|m| (m * 1e6) as u64).collect();
    pct_ms(&mut ns)
}

/// Scenario 1: `kills` SIGKILLs, alternating nodes, each node restarted and its clients
/// moved back; `gap` of traffic between kills.
pub async fn kill_cycles(
    nodes: &mut Nodes,
    f: &Arc<Fleet>,
    kills: usize,
    gap: Duration,
) -> Res<Value> {
    let mut restart_ms = Vec::new();
    for k in 0..kills {
        let victim = k % 2;
        f.up[victim].store(false, Ordering::SeqCst);
        nodes.kill(victim);
        // Its clients reconnect to the survivor meanwhile.
        let took = nodes.start(victim).await?;
        restart_ms.push(took.as_secs_f64() * 1e3);
        f.set_up(victim, true);
        tokio::time::sleep(gap).await;
    }
    Ok(json!({"kills": kills, "restart_ms": pct_of_ms(&restart_ms)}))
}

/// Scenario 2's core: Redis down for `down`, then up; returns the figures of the outage and
/// of the catch-up after it.
pub async fn redis_outage(
    redis: &mut PrivateRedis,
    infra: &Infra,
    f: &Arc<Fleet>,
    down: Duration,
) -> Res<Value> {
    for c in &f.clients {
        let mut st = lock(&c.st);
        st.live_same_node = 0;
        st.live_cross_node = 0;
        st.same_node_latencies.clear();
    }
    f.counting_live.store(true, Ordering::SeqCst);
    redis.down();
    tokio::time::sleep(down).await;
    f.counting_live.store(false, Ordering::SeqCst);
    redis.up().await?;
    let back = Instant::now();
    // What each conversation holds at the moment Redis is back: every client must see it.
    let target = last_seqs(&infra.db_client().await?).await?;
    let mut behind_at_return = 0usize;
    let mut caught: Vec<Option<f64>> = f
        .clients
        .iter()
        .map(|c| {
            if c.behind(&target) {
                behind_at_return += 1;
                None
            } else {
                Some(0.0)
            }
        })
        .collect();
    while back.elapsed() < Duration::from_secs(15) && caught.iter().any(Option::is_none) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let ms = back.elapsed().as_secs_f64() * 1e3;
        for (c, slot) in f.clients.iter().zip(caught.iter_mut()) {
            if slot.is_none() && !c.behind(&target) {
                *slot = Some(ms);
            }
        }
    }
    let behind: Vec<f64> = caught
        .iter()
        .flatten()
        .copied()
        .filter(|m| *m > 0.0)
        .collect();
    let never = caught.iter().filter(|c| c.is_none()).count();
    let (mut same, mut cross, mut lat) = (0u64, 0u64, Vec::new());
    for c in &f.clients {
        let mut st = lock(&c.st);
        same += st.live_same_node;
        cross += st.live_cross_node;
        lat.append(&mut st.same_node_latencies);
    }
    let max_ms = behind.iter().copied().fold(0.0, f64::max);
    Ok(json!({
        "redis_down_seconds": down.as_secs_f64(),
        "same_node_messages_delivered_live_during_outage": same,
        "same_node_latency_during_outage_ms": pct_ms(&mut lat),
        "cross_node_messages_delivered_live_during_outage": cross,
        "clients_behind_when_redis_returned": behind_at_return,
        "catch_up_after_return_ms": pct_of_ms(&behind),
        "catch_up_max_ms": (max_ms * 1000.0).round() / 1000.0,
        "clients_not_caught_up_in_15s": never,
    }))
}
