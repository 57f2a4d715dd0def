//! Load generator for zhugeleida (docs/BENCHMARKS.md).
//!
//! It prepares a benchmark database (salespeople, customers, relations, tokens), starts one
//! or two release server nodes as child processes, opens many authenticated WebSocket clients
//! from distinct loopback source addresses (127.0.0.2, .3, … so ephemeral ports never run
//! out), chats at a set rate with a send timestamp in every message, and reports delivery
//! latency percentiles, throughput, errors and the server's memory per connection. It also
//! drives the legacy polling endpoint against a hello-world route of the same binary, and a
//! bare in-process WebSocket relay as the baseline for latency.

mod articles;
mod chaos;
mod chaos_core;
mod content;
mod radar;
mod relay;
mod release;
mod token_sim;
mod upload;

use std::{
    net::{Ipv4Addr, SocketAddr},
    process::Stdio,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use md5::{Digest, Md5};
use serde_json::{json, Value};
use tokio::{
    net::TcpSocket,
    process::{Child, Command},
    sync::mpsc,
};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Debug)]
#[command(about = "zhugeleida load generator")]
struct Cli {
    /// The server binary (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/zhugeleida", global = true)]
    server: String,
    /// PostgreSQL server (the benchmark database `zhugeleida_bench` is recreated on it).
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432",
        global = true
    )]
    pg: String,
    /// Redis, for two-node runs.
    #[arg(long, default_value = "redis://127.0.0.1:6379/", global = true)]
    redis: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// WebSocket chat: idle memory per connection, then messages at a rate (0 = as fast as acks allow).
    Chat(ChatArgs),
    /// Legacy polling (QYW-36 with nothing new) against /healthz of the same binary.
    Poll(PollArgs),
    /// The bare relay baseline server (started by `chat --bare`).
    #[command(hide = true)]
    ServeRelay {
        #[arg(long)]
        port: u16,
    },
    /// Radar events over HTTP (XCX-02/04/06) with salespeople on WebSockets: batched writer
    /// against one transaction per event, in the same run.
    RadarIngest(radar::IngestArgs),
    /// Dashboards (ADM-07/08) over 10M action-log rows against a scan of the log, and the
    /// 通讯录 first page (QYW-41) per sort order for one salesperson with 100k customers.
    RadarData(radar::DataArgs),
    /// ADM-11 (the admin product list) over 10,000 products, p50/p99 per filter.
    ProductList(content::ListArgs),
    /// Customer product and website views offered open-loop at a fixed rate (each stamped at
    /// its scheduled send time), salespeople on WebSockets: delivered rate, request and push p99.
    ContentViews(content::ContentViewArgs),
    /// Image upload (PUB-01/02): one 10 MB image in 1 MB chunks until servable, and 100 at
    /// once with the server's memory sampled.
    Upload(upload::UploadArgs),
    /// Code release (ADM-81/82/83/85) to N sandbox mini programs, one company each: each
    /// batch's wall time until done, and the total against the 60 s target.
    Release(release::ReleaseArgs),
    /// Simulated token run: two nodes against a sandbox whose clock is sped up (`--factor`),
    /// companies authorizing at staggered times, traffic through their tokens; the sandbox's
    /// token report: calls with a dead token, and each token renewed once per lifetime.
    /// Exits 1 when a check fails.
    TokenSim(token_sim::TokenSimArgs),
    /// Chaos: two nodes, one PostgreSQL, a private Redis, 200 chatting clients; SIGKILLs,
    /// Redis down, slow consumers, rolling SIGTERMs (docs/RELIABILITY.md). Exits 1 when an
    /// invariant fails.
    Chaos(chaos::ChaosArgs),
    /// How an article spread (QYW-52, the forward tree, a customer's reach) over 1,000,000
    /// access nodes 20 levels deep, against walking the records recursively.
    ArticleSpread(articles::SpreadArgs),
    /// Article reads and forwards (GZH-06/10) offered open-loop (`--rate`), salespeople on
    /// WebSockets: delivered rate, request and push p99.
    ArticleEvents(content::ViewArgs),
    /// The whole suite behind docs/BENCHMARKS.md.
    All {
        #[arg(long, default_value_t = 10_000)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
}

#[derive(clap::Args, Debug, Clone)]
struct ChatArgs {
    /// WebSocket connections in all (salespeople + customers).
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// Salespeople among them; the rest are customers, each related to one salesperson.
    #[arg(long, default_value_t = 1_000)]
    reps: usize,
    /// Messages per second, customers → salespeople; 0 = saturate (each sender keeps `window` in flight).
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    /// Customers that send (the others stay idle).
    #[arg(long, default_value_t = 2_000)]
    senders: usize,
    /// Messages in flight per sender in saturation mode.
    #[arg(long, default_value_t = 4)]
    window: usize,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// 1 = one node; 2 = salespeople on node 1, customers on node 2, through Redis.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Run against the bare in-process relay instead of the server (the baseline).
    #[arg(long)]
    bare: bool,
    /// Capacity search: after the first phase, offer these further rates (msg/s) in turn on the
    /// same connections, stopping at the first whose p99 exceeds `p99_limit_ms` or that delivers
    /// under 98 % of what was offered.
    #[arg(long, value_delimiter = ',')]
    step_rates: Vec<u64>,
    /// The p99 (ms) a rate must keep to count as sustained capacity.
    #[arg(long, default_value_t = 50.0)]
    p99_limit_ms: f64,
}

#[derive(clap::Args, Debug, Clone)]
struct PollArgs {
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Every client is a socket here and in the server, which inherits this limit and raises
    // its own to its hard limit too.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let cli = Cli::parse();
    let env = Env {
        server: cli.server.clone(),
        pg: cli.pg.clone(),
        redis: cli.redis.clone(),
    };
    match cli.cmd {
        Cmd::Chat(a) => {
            let r = chat(&env, &a).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Cmd::Poll(a) => {
            let r = poll(&env, &a).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Cmd::All { clients, seconds } => all(&env, clients, seconds).await?,
        Cmd::RadarIngest(a) => {
            let r = radar::ingest(&env, &a).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Cmd::RadarData(a) => {
            let r = radar::data(&env, &a).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Cmd::ProductList(a) => {
            let r = content::product_list(&env, &a).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Cmd::ContentViews(a) => {
            let r = content::views(&env, &a).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Cmd::Upload(a) => {
            let r = upload::run(&env, &a).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Cmd::Release(a) => {
            let r = release::run(&env, &a).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Cmd::ArticleSpread(a) => {
            let r = articles::spread(&env, &a).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Cmd::ArticleEvents(a) => {
            let r = articles::events(&env, &a).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Cmd::TokenSim(a) => {
            let (ok, r) = token_sim::run(&env, &a).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
            if !ok {
                eprintln!("[token-sim] a check failed");
                std::process::exit(1);
            }
        }
        Cmd::ServeRelay { port } => relay::serve(port).await?,
        Cmd::Chaos(a) => {
            if !chaos::run(&env, &a).await? {
                eprintln!("[chaos] an invariant failed");
                std::process::exit(1);
            }
        }
    }
    Ok(())
}

struct Env {
    server: String,
    pg: String,
    redis: String,
}

/// The benchmark database, recreated by every run: `zhugeleida_bench`, or `ZGLD_BENCH_DB`
/// (so a run beside another one on the same PostgreSQL does not drop its database).
const DB: BenchDb = BenchDb;

#[derive(Clone, Copy)]
struct BenchDb;

impl std::fmt::Display for BenchDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match std::env::var("ZGLD_BENCH_DB") {
            Ok(name)
                if !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                f.write_str(&name)
            }
            _ => f.write_str("zhugeleida_bench"),
        }
    }
}

fn token(kind: char, id: usize) -> String {
    hex::encode(Md5::digest(format!("bench-{kind}{id}").as_bytes()))
}

fn signed(kind: char, id: usize) -> String {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
        .to_string();
    let sig = hex::encode(Md5::digest(format!("{ts}{}", token(kind, id)).as_bytes()));
    format!("rand_str={sig}&timestamp={ts}&user_id={id}")
}

/// Recreates the benchmark database with `reps` salespeople and `customers` customers.
async fn prepare(env: &Env, reps: usize, customers: usize) -> anyhow::Result<()> {
    let (admin, conn) =
        tokio_postgres::connect(&format!("{}/postgres", env.pg), tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("drop database if exists {DB} with (force)"))
        .await?;
    admin
        .batch_execute(&format!("create database {DB}"))
        .await?;
    let status = Command::new(&env.server)
        .arg("migrate")
        .env("ZGLD_DATABASE_URL", format!("{}/{DB}", env.pg))
        .env("ZGLD_LOG", "warn")
        .stdout(Stdio::null())
        .status()
        .await
        .context("running the server's migrate")?;
    if !status.success() {
        bail!("migrate failed");
    }
    let (db, conn) =
        tokio_postgres::connect(&format!("{}/{DB}", env.pg), tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let (r, c) = (reps as i64, customers as i64);
    db.batch_execute(&format!(
        "insert into company (id, name, mingpian_available_num) values (1, 'bench', 10000000);
         insert into user_profile (company_id, role_id, userid, login_user, username)
           select 1, 3, 'u' || g, 'bench' || g, 'rep' || g from generate_series(1, {r}) g;
         insert into customer (company_id, openid, username)
           select 1, 'o' || g, 'cust' || g from generate_series(1, {c}) g;
         insert into auth_session (user_id, token) select id, md5('bench-u' || id) from user_profile where company_id = 1;
         insert into auth_session (customer_id, token) select id, md5('bench-c' || id) from customer where company_id = 1;
         insert into user_customer (company_id, user_id, customer_id, source)
           select 1, ((g - 1) % {r}) + 1, g, 1 from generate_series(1, {c}) g;
         analyze;"
    ))
    .await?;
    Ok(())
}

/// A server node started for the run.
struct Node {
    child: Child,
    port: u16,
}

impl Node {
    async fn start(
        env: &Env,
        port: u16,
        redis: bool,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Node> {
        let mut cmd = Command::new(&env.server);
        cmd.arg("serve")
            .env("ZGLD_BIND", format!("127.0.0.1:{port}"))
            .env("ZGLD_DATABASE_URL", format!("{}/{DB}", env.pg))
            .env("ZGLD_LOG", "warn")
            .env("ZGLD_DB_POOL_SIZE", "32")
            .stdout(Stdio::null())
            .kill_on_drop(true);
        if redis {
            cmd.env("ZGLD_REDIS_URL", &env.redis);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        // The previous run's node may still hold the port for a moment.
        for _ in 0..100 {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let child = cmd.spawn().context("starting the server")?;
        let node = Node { child, port };
        let http = reqwest::Client::new();
        let mut node = node;
        for _ in 0..200 {
            // A node that could not bind (the port still held by the previous run's node)
            // has exited: /healthz would be answered by the dying one.
            if let Ok(Some(status)) = node.child.try_wait() {
                bail!("node on {port} exited at start: {status}");
            }
            if http
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
                .is_ok()
            {
                return Ok(node);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("node on {port} did not come up")
    }

    /// Resident memory of the node, KiB.
    fn rss_kib(&self) -> u64 {
        self.pid().map(rss_kib_of).unwrap_or(0)
    }

    fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// Resident memory of process `pid`, KiB (0 when unknown).
fn rss_kib_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Loopback source addresses the clients are spread over: one address to one server port has
/// only the ephemeral port range (about 28,000 ports), 250 of them have 250 times that.
const SOURCES: usize = 250;

/// Client `n`'s source address: 127.0.0.(2 + n % 250).
fn source_addr(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 2 + (n % SOURCES) as u8)
}

/// Open files a process needs beside its sockets (database, listeners, logs, stdio).
const FD_MARGIN: u64 = 256;

/// Whether `clients` sockets fit under the open-files limit `limit`; the error says what to
/// raise. The generator holds every client, and the one node all of them.
fn check_open_files(clients: usize, limit: u64) -> anyhow::Result<()> {
    let need = clients as u64 + FD_MARGIN;
    if limit < need {
        bail!(
            "{clients} clients need {need} open files here and in the server, the limit is \
             {limit}: raise the hard limit (`ulimit -Hn {need}` as root, or LimitNOFILE= under \
             systemd; docs/operations.md, capacity)"
        );
    }
    Ok(())
}

/// Connects from [`source_addr`]`(n)` (bound before connecting): distinct source addresses,
/// distinct port ranges.
async fn ws_connect(
    port: u16,
    path: &str,
    n: usize,
) -> anyhow::Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>> {
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::from((source_addr(n), 0)))?;
    let stream = sock
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await?;
    stream.set_nodelay(true)?;
    let url = format!("ws://127.0.0.1:{port}{path}");
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(chaos_core::ws_config()))
            .await?;
    Ok(ws)
}

/// Shared counters of a run.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    received: AtomicU64,
    errors: AtomicU64,
    closed: AtomicU64,
}

fn now_ns(start: Instant) -> u64 {
    start.elapsed().as_nanos() as u64
}

/// Connected chat clients, ready for [`chat_phase`]: salespeople recording the latency of each
/// customer message that reaches them, customers with a writer queue each. Shared by `chat`
/// and `release --with-chat`.
struct ChatRig {
    start: Instant,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    measuring: Arc<AtomicBool>,
    /// (send time, latency) of each message delivered, in ns.
    lat_rx: mpsc::UnboundedReceiver<(u64, u64)>,
    ack_rx: mpsc::UnboundedReceiver<u64>,
    outs: Vec<(usize, mpsc::UnboundedSender<String>)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    go_tx: tokio::sync::watch::Sender<bool>,
    connect_secs: f64,
}

impl ChatRig {
    /// Opens `reps` salesperson sockets on `rep_port` and `customers` customer sockets on
    /// `cust_port` (bench users `u1..` and `c1..` of [`prepare`]).
    async fn connect(
        a: &ChatArgs,
        reps: usize,
        customers: usize,
        rep_port: u16,
        cust_port: u16,
    ) -> anyhow::Result<ChatRig> {
        let start = Instant::now();
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let measuring = Arc::new(AtomicBool::new(false));
        let (lat_tx, lat_rx) = mpsc::unbounded_channel::<(u64, u64)>();
        // The sender's `sent` ack, timed from the message's (scheduled) send time.
        let (ack_tx, ack_rx) = mpsc::unbounded_channel::<u64>();

        // Salespeople: record the latency of every customer message that reaches them.
        let connect_started = Instant::now();
        let mut tasks = Vec::new();
        let mut rep_sockets = futures_util::stream::iter(1..=reps)
            .map(|id| async move {
                ws_connect(
                    rep_port,
                    &format!("/zhugeleida/qiyeweixin/ws?{}", signed('u', id)),
                    id,
                )
                .await
            })
            .buffered(64);
        while let Some(ws) = rep_sockets.next().await {
            let ws = ws?;
            let (c, lat, measuring) = (counters.clone(), lat_tx.clone(), measuring.clone());
            tasks.push(tokio::spawn(async move {
                let (_w, mut r) = ws.split();
                while let Some(Ok(m)) = r.next().await {
                    let Message::Text(t) = m else {
                        if matches!(m, Message::Close(_)) {
                            c.closed.fetch_add(1, Ordering::Relaxed);
                        }
                        continue;
                    };
                    let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                        continue;
                    };
                    if v["type"] == "message" && v["message"]["send_type"] == 2 {
                        c.received.fetch_add(1, Ordering::Relaxed);
                        if let Some(sent) = v["message"]["msg"]
                            .as_str()
                            .and_then(|s| s.strip_prefix("t="))
                            .and_then(|s| s.parse::<u64>().ok())
                        {
                            if measuring.load(Ordering::Relaxed) {
                                let _ = lat.send((sent, now_ns(start).saturating_sub(sent)));
                            }
                        }
                    }
                }
            }));
        }
        // Customers: a writer queue each; the first `senders` of them send. Saturating senders
        // wait for `go`, given once every client is connected and idle memory is measured.
        let (go_tx, go_rx) = tokio::sync::watch::channel(false);
        let mut outs: Vec<(usize, mpsc::UnboundedSender<String>)> = Vec::new();
        let mut cust_sockets = futures_util::stream::iter(1..=customers)
            .map(|id| async move {
                ws_connect(
                    cust_port,
                    &format!("/zhugeleida/xiaochengxu/ws?{}", signed('c', id)),
                    reps + id,
                )
                .await
                .map(|ws| (id, ws))
            })
            .buffered(64);
        while let Some(next) = cust_sockets.next().await {
            let (id, ws) = next?;
            let go = go_rx.clone();
            let (mut w, mut r) = ws.split();
            let (tx, mut rx) = mpsc::unbounded_channel::<String>();
            let c = counters.clone();
            let (ack_lat, measuring2) = (ack_tx.clone(), measuring.clone());
            let rep = ((id - 1) % reps) + 1;
            let saturate = a.rate == 0 && id <= a.senders;
            let window = a.window;
            let stop2 = stop.clone();
            let tx2 = tx.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(s) = rx.recv().await {
                    if w.send(Message::Text(s.into())).await.is_err() {
                        break;
                    }
                }
            }));
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                let send_one = |n: &mut u64| {
                    *n += 1;
                    c.sent.fetch_add(1, Ordering::Relaxed);
                    let t = now_ns(start);
                    json!({"type": "send", "client_msg_id": format!("{id}-{n}-{t}"), "u_id": rep, "msg": format!("t={t}")}).to_string()
                };
                while let Some(Ok(m)) = r.next().await {
                    let Message::Text(t) = m else {
                        if matches!(m, Message::Close(_)) {
                            c.closed.fetch_add(1, Ordering::Relaxed);
                        }
                        continue;
                    };
                    let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else { continue };
                    match v["type"].as_str() {
                        Some("hello") if saturate => {
                            let first: Vec<String> = (0..window).map(|_| send_one(&mut n)).collect();
                            let tx3 = tx2.clone();
                            let mut go = go.clone();
                            tokio::spawn(async move {
                                let _ = go.wait_for(|g| *g).await;
                                for f in first {
                                    let _ = tx3.send(f);
                                }
                            });
                        }
                        Some("sent") => {
                            c.acked.fetch_add(1, Ordering::Relaxed);
                            // client_msg_id ends with the send time (ns since start).
                            if let Some(sent) = v["client_msg_id"]
                                .as_str()
                                .and_then(|s| s.rsplit('-').next())
                                .and_then(|s| s.parse::<u64>().ok())
                            {
                                if measuring2.load(Ordering::Relaxed) {
                                    let _ = ack_lat.send(now_ns(start).saturating_sub(sent));
                                }
                            }
                            if saturate && !stop2.load(Ordering::Relaxed) {
                                let _ = tx2.send(send_one(&mut n));
                            }
                        }
                        Some("error") => {
                            c.errors.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    }
                }
            }));
            outs.push((rep, tx));
        }
        Ok(ChatRig {
            start,
            counters,
            stop,
            measuring,
            lat_rx,
            ack_rx,
            outs,
            tasks,
            go_tx,
            connect_secs: connect_started.elapsed().as_secs_f64(),
        })
    }

    /// Lets saturating senders start.
    fn go(&self) {
        let _ = self.go_tx.send(true);
    }

    /// Stops the drivers and drops every connection.
    fn close(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Opens the clients, measures idle memory, then runs the chat workload.
async fn chat(env: &Env, a: &ChatArgs) -> anyhow::Result<Value> {
    let reps = a.reps.max(1);
    let customers = a.clients.saturating_sub(reps).max(1);
    let (open_files, _) = rlimit::Resource::NOFILE.get()?;
    check_open_files(reps + customers, open_files)?;
    let mut nodes = Vec::new();
    let mut relay_port = None;
    let mut relay_child = None;
    if a.bare {
        let port = 18_300;
        let child = Command::new(std::env::current_exe()?)
            .args(["serve-relay", "--port", &port.to_string()])
            .kill_on_drop(true)
            .spawn()?;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        relay_child = Some(child);
        relay_port = Some(port);
    } else {
        prepare(env, reps, customers).await?;
        for i in 0..a.nodes.max(1) {
            nodes.push(Node::start(env, 18_100 + i as u16, a.nodes > 1, &[]).await?);
        }
    }
    let rep_port = relay_port.unwrap_or_else(|| nodes.first().map(|n| n.port).unwrap_or(0));
    let cust_port = relay_port.unwrap_or_else(|| nodes.last().map(|n| n.port).unwrap_or(0));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before: Vec<u64> = nodes.iter().map(Node::rss_kib).collect();

    let mut rig = ChatRig::connect(a, reps, customers, rep_port, cust_port).await?;
    let connect_secs = rig.connect_secs;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle: Vec<u64> = nodes.iter().map(Node::rss_kib).collect();
    let conns_per_node: Vec<usize> = if nodes.len() > 1 {
        vec![reps, customers]
    } else {
        vec![reps + customers]
    };
    let per_conn: Vec<f64> = rss_before
        .iter()
        .zip(&rss_idle)
        .zip(&conns_per_node)
        .map(|((b, i), n)| (i.saturating_sub(*b)) as f64 / *n as f64)
        .collect();

    rig.go();
    // Phases: the first rate, then (capacity search) each step rate on the same connections.
    let mut rates = vec![a.rate];
    if a.rate > 0 {
        rates.extend(a.step_rates.iter().copied());
    }
    let mut phases = Vec::new();
    let mut capacity = None;
    for rate in rates {
        let phase = chat_phase(&mut rig, a, rate, None).await?;
        let p99 = phase["latency_ms"]["p99"].as_f64().unwrap_or(f64::MAX);
        let delivered = phase["delivered_per_sec"].as_f64().unwrap_or(0.0);
        let sustained = rate > 0 && p99 <= a.p99_limit_ms && delivered >= 0.98 * rate as f64;
        phases.push(phase);
        if !sustained {
            break;
        }
        capacity = Some(rate);
        if !a.step_rates.is_empty() {
            // Let the backlog of the phase drain before the next one starts.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    rig.stop.store(true, Ordering::Relaxed);
    let mut db_rows = Value::Null;
    if !a.bare {
        if let Ok((db, conn)) =
            tokio_postgres::connect(&format!("{}/{DB}", env.pg), tokio_postgres::NoTls).await
        {
            tokio::spawn(conn);
            if let Ok(r) = db.query_one("select count(*) from chat_message", &[]).await {
                db_rows = json!(r.get::<_, i64>(0));
            }
        }
    }
    let counters = rig.counters.clone();
    rig.close();
    drop(nodes);
    drop(relay_child);
    let mut report = json!({
        "target": if a.bare { "bare relay".to_string() } else { format!("{} node(s)", a.nodes) },
        "connections": reps + customers,
        "connect_seconds": round(connect_secs),
        "open_files_limit": open_files,
        "errors": counters.errors.load(Ordering::Relaxed),
        "closed_by_server": counters.closed.load(Ordering::Relaxed),
        "server_rss_kib_before": rss_before,
        "server_rss_kib_idle": rss_idle,
        "server_kib_per_idle_connection": per_conn.iter().map(|v| round(*v)).collect::<Vec<_>>(),
        "messages_in_db": db_rows,
        "loadavg": loadavg(),
    });
    if let (Some(obj), Some(first)) = (report.as_object_mut(), phases.first()) {
        // The first phase's figures at the top level (the scenario's headline numbers).
        if let Some(f) = first.as_object() {
            for (k, v) in f {
                obj.insert(k.clone(), v.clone());
            }
        }
        if !a.step_rates.is_empty() {
            obj.insert(
                "capacity".into(),
                json!({"p99_limit_ms": a.p99_limit_ms, "highest_sustained_rate": capacity, "phases": phases}),
            );
        }
    }
    Ok(report)
}

/// The machine's load averages (1, 5, 15 min), recorded beside every figure.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Percentiles of a histogram of nanoseconds, in ms.
/// Which phases round `round` (from 0) runs, `true` being the one with the disturbance:
/// without, with; then with, without; ... so that a drift of the machine over a run (tables
/// grow, caches fill) weighs on both kinds alike.
fn round_order(round: usize) -> [bool; 2] {
    if round.is_multiple_of(2) {
        [false, true]
    } else {
        [true, false]
    }
}

/// The median of `v` (the mean of the two middle values for an even count); NaN when empty.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn pct_ms(hist: &Histogram<u64>) -> Value {
    let ms = |q: f64| round(hist.value_at_quantile(q) as f64 / 1e6);
    json!({"p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "p999": ms(0.999), "max": round(hist.max() as f64 / 1e6), "samples": hist.len()})
}

/// One measured phase of a chat run at `rate` msg/s (0: the senders saturate by themselves).
/// Open loop: message n of the phase is due at `t0 + n / rate` and carries that scheduled
/// time, so a driver that falls behind shows its lag in the latency (no coordinated omission).
/// The measurement lasts `a.seconds` after `a.warmup`, or, given `until`, until it completes.
async fn chat_phase(
    rig: &mut ChatRig,
    a: &ChatArgs,
    rate: u64,
    until: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
) -> anyhow::Result<Value> {
    let ChatRig {
        counters,
        outs,
        measuring,
        stop,
        lat_rx,
        ack_rx,
        start,
        ..
    } = rig;
    let start = *start;
    let phase_stop = Arc::new(AtomicBool::new(false));
    let driver = if rate > 0 {
        let senders = a.senders.min(outs.len()).max(1);
        let outs = outs.to_vec();
        let c = counters.clone();
        let (stop, phase_stop) = (stop.clone(), phase_stop.clone());
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let t0 = now_ns(start);
            let mut done = 0u64;
            let mut next = 0usize;
            while !stop.load(Ordering::Relaxed) && !phase_stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let now = now_ns(start);
                while t0 + done * 1_000_000_000 / rate <= now {
                    let Some((rep, tx)) = outs.get(next % senders) else {
                        break;
                    };
                    let due = t0 + done * 1_000_000_000 / rate;
                    let f = json!({"type": "send", "client_msg_id": format!("r{rate}-{done}-{due}"), "u_id": rep, "msg": format!("t={due}")});
                    let _ = tx.send(f.to_string());
                    c.sent.fetch_add(1, Ordering::Relaxed);
                    done += 1;
                    next += 1;
                }
            }
        }))
    } else {
        None
    };
    tokio::time::sleep(Duration::from_secs(a.warmup)).await;
    while lat_rx.try_recv().is_ok() {}
    while ack_rx.try_recv().is_ok() {}
    measuring.store(true, Ordering::Relaxed);
    let (r0, k0, s0) = (
        counters.received.load(Ordering::Relaxed),
        counters.acked.load(Ordering::Relaxed),
        counters.sent.load(Ordering::Relaxed),
    );
    let t0 = Instant::now();
    match until {
        Some(f) => f.await,
        None => tokio::time::sleep(Duration::from_secs(a.seconds)).await,
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let (r1, k1, s1) = (
        counters.received.load(Ordering::Relaxed),
        counters.acked.load(Ordering::Relaxed),
        counters.sent.load(Ordering::Relaxed),
    );
    measuring.store(false, Ordering::Relaxed);
    phase_stop.store(true, Ordering::Relaxed);
    if rate == 0 {
        stop.store(true, Ordering::Relaxed);
    }
    if let Some(d) = driver {
        let _ = d.await;
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3)?;
    // The worst latency of the messages sent in each second of the phase: a stall shows as
    // a run of seconds whose worst is far above the rest.
    let phase_start = now_ns(start).saturating_sub((elapsed * 1e9) as u64);
    let mut worst_by_sec = vec![0u64; elapsed.ceil().max(1.0) as usize];
    while let Ok((sent, ns)) = lat_rx.try_recv() {
        let _ = hist.record(ns.max(1_000));
        let sec = (sent.saturating_sub(phase_start) / 1_000_000_000) as usize;
        if let Some(w) = worst_by_sec.get_mut(sec) {
            *w = (*w).max(ns);
        }
    }
    let mut acks = Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3)?;
    while let Ok(ns) = ack_rx.try_recv() {
        let _ = acks.record(ns.max(1_000));
    }
    Ok(json!({
        "rate_requested": rate,
        "seconds": round(elapsed),
        "offered_per_sec": round((s1 - s0) as f64 / elapsed),
        "delivered_per_sec": round((r1 - r0) as f64 / elapsed),
        "acked_per_sec": round((k1 - k0) as f64 / elapsed),
        "latency_ms": pct_ms(&hist),
        "ack_latency_ms": pct_ms(&acks),
        "worst_ms_by_second": worst_by_sec.iter().map(|ns| round(*ns as f64 / 1e6)).collect::<Vec<_>>(),
        "loadavg": loadavg(),
    }))
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Requests per second of GETs on `urls` (cycled) from `concurrency` keep-alive clients.
/// A reply counts only when `good` accepts its body: this server answers errors with HTTP 200
/// and an envelope `code`, so a status check alone would count refusals as successes.
async fn hammer(
    urls: Arc<dyn Fn(usize) -> String + Send + Sync>,
    good: fn(&[u8]) -> bool,
    concurrency: usize,
    seconds: u64,
) -> (f64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..concurrency {
        let (done, bad, stop, urls) = (done.clone(), bad.clone(), stop.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap_or_default();
            let mut n = i;
            while !stop.load(Ordering::Relaxed) {
                let ok = match http.get(urls(n)).send().await {
                    Ok(r) if r.status().is_success() => {
                        r.bytes().await.map(|b| good(&b)).unwrap_or(false)
                    }
                    _ => false,
                };
                match ok {
                    true => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    false => {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
                n += concurrency;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let d0 = done.load(Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let rps = (done.load(Ordering::Relaxed) - d0) as f64 / t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    (rps, bad.load(Ordering::Relaxed))
}

/// getmsg with nothing new vs /healthz, same binary, same run.
async fn poll(env: &Env, a: &PollArgs) -> anyhow::Result<Value> {
    let (reps, customers) = (100usize, 1000usize);
    prepare(env, reps, customers).await?;
    let node = Node::start(env, 18_200, false, &[]).await?;
    let port = node.port;
    let hello: Arc<dyn Fn(usize) -> String + Send + Sync> =
        Arc::new(move |_| format!("http://127.0.0.1:{port}/healthz"));
    let (hello_rps, hello_bad) = hammer(hello, |b| b == b"ok", a.concurrency, a.seconds).await;
    let getmsg: Arc<dyn Fn(usize) -> String + Send + Sync> = Arc::new(move |n| {
        let c = (n % customers) + 1;
        let rep = ((c - 1) % reps) + 1;
        format!(
            "http://127.0.0.1:{port}/zhugeleida/qiyeweixin/chat/getmsg/0?{}&customer_id={c}",
            signed('u', rep)
        )
    });
    let envelope_ok = |b: &[u8]| {
        serde_json::from_slice::<Value>(b)
            .map(|v| v["code"] == 200)
            .unwrap_or(false)
    };
    let (poll_rps, poll_bad) = hammer(getmsg, envelope_ok, a.concurrency, a.seconds).await;
    drop(node);
    Ok(json!({
        "concurrency": a.concurrency,
        "hello_rps": round(hello_rps),
        "getmsg_rps": round(poll_rps),
        "ratio": round(poll_rps / hello_rps.max(1.0)),
        "hello_errors": hello_bad,
        "getmsg_errors": poll_bad,
        "loadavg": loadavg(),
    }))
}

/// Everything docs/BENCHMARKS.md reports, in one run.
async fn all(env: &Env, clients: usize, seconds: u64) -> anyhow::Result<()> {
    let reps = (clients / 10).max(1);
    let base = ChatArgs {
        clients,
        reps,
        rate: 1_000,
        senders: 2_000,
        window: 4,
        seconds,
        warmup: 3,
        nodes: 1,
        bare: false,
        step_rates: vec![],
        p99_limit_ms: 50.0,
    };
    let mut report = serde_json::Map::new();
    eprintln!("[1/7] bare relay baseline at 1000 msg/s");
    report.insert(
        "bare_relay_1000".into(),
        chat(
            env,
            &ChatArgs {
                bare: true,
                ..base.clone()
            },
        )
        .await?,
    );
    eprintln!("[2/7] one node: {clients} connections, 1000 msg/s");
    report.insert("one_node_1000".into(), chat(env, &base).await?);
    eprintln!("[3/7] one node: capacity, the highest offered rate with p99 <= 50 ms");
    report.insert(
        "one_node_capacity".into(),
        chat(
            env,
            &ChatArgs {
                rate: 2_000,
                step_rates: vec![4_000, 6_000, 8_000, 10_000, 12_000, 14_000, 16_000],
                seconds: seconds.min(10),
                ..base.clone()
            },
        )
        .await?,
    );
    eprintln!("[4/7] one node: saturation (closed loop; raw throughput, its latency beside it)");
    report.insert(
        "one_node_max".into(),
        chat(
            env,
            &ChatArgs {
                rate: 0,
                ..base.clone()
            },
        )
        .await?,
    );
    eprintln!("[5/7] bare relay: saturation");
    report.insert(
        "bare_relay_max".into(),
        chat(
            env,
            &ChatArgs {
                rate: 0,
                bare: true,
                ..base.clone()
            },
        )
        .await?,
    );
    eprintln!("[6/7] two nodes through Redis: 1000 msg/s");
    report.insert(
        "two_nodes_1000".into(),
        chat(
            env,
            &ChatArgs {
                nodes: 2,
                ..base.clone()
            },
        )
        .await?,
    );
    eprintln!("[7/7] polling vs hello");
    report.insert(
        "poll".into(),
        poll(
            env,
            &PollArgs {
                concurrency: 64,
                seconds: 10,
            },
        )
        .await?,
    );
    println!("{}", serde_json::to_string_pretty(&Value::Object(report))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_spread_evenly_over_the_loopback_sources() {
        let mut per = std::collections::HashMap::new();
        for n in 0..50_000 {
            let a = source_addr(n);
            assert!(a.is_loopback() && a != Ipv4Addr::new(127, 0, 0, 1), "{a}");
            *per.entry(a).or_insert(0usize) += 1;
        }
        assert_eq!(per.len(), SOURCES);
        assert!(per.values().all(|&k| k == 50_000 / SOURCES));
    }

    #[test]
    fn too_low_an_open_files_limit_is_refused_with_what_to_raise() {
        assert!(check_open_files(50_000, 1_048_576).is_ok());
        let e = check_open_files(50_000, 20_000).unwrap_err().to_string();
        assert!(e.contains("50256") && e.contains("20000"), "{e}");
    }
}
