//! `loadtest chaos`: two nodes on one PostgreSQL and one private Redis, salesperson/customer
//! pairs chatting over WebSockets, and four kinds of failure (docs/RELIABILITY.md):
//! SIGKILLs of a node, Redis down, slow consumers, rolling SIGTERMs. Every scenario ends with
//! a check against PostgreSQL (chaos_core::settle_and_verify) and prints a JSON summary; the
//! command exits non-zero when an invariant fails (lost, gaps, duplicates, REST 5xx, failed
//! in-flight requests).

use std::{
    collections::HashMap,
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use anyhow::anyhow;
use serde_json::{json, Value};

use crate::chaos_core::{
    self as core, lock, pct_ms, pct_of_ms, Fleet, Infra, Nodes, PrivateRedis, RestStats,
};
use crate::{loadavg, median, Env};

#[derive(clap::Args, Debug, Clone)]
pub struct ChaosArgs {
    /// all, kill, redis, slow or term.
    #[arg(long, default_value = "all")]
    scenario: String,
    /// Salesperson/customer pairs (two WebSocket clients each).
    #[arg(long, default_value_t = 100)]
    pairs: usize,
    /// Chat messages per second each client sends.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Scenario 1: SIGKILLs (alternating nodes, each restarted).
    #[arg(long, default_value_t = 50)]
    kills: usize,
    /// Traffic between two kills or two SIGTERMs, ms.
    #[arg(long, default_value_t = 1500)]
    gap_ms: u64,
    /// Scenario 2: seconds Redis stays down.
    #[arg(long, default_value_t = 30)]
    redis_down: u64,
    /// Scenario 3: slow consumers (customers that stop reading).
    #[arg(long, default_value_t = 20)]
    slow: usize,
    /// Scenario 3: messages per second their salespeople send them. The scenario's nodes
    /// allow 50 frames/s per connection (ZGLD_WS_RATE; default 20) so that a queue of 256
    /// overflows before the 10 s write timeout would end the connection anyway.
    #[arg(long, default_value_t = 40.0)]
    burst_rate: f64,
    /// Scenario 3: bytes of padding in each of those messages (the kernel holds megabytes of
    /// a connection's unread frames before the server's queue starts to fill; a message's
    /// content is at most 16 KiB).
    #[arg(long, default_value_t = 15_000)]
    burst_pad: usize,
    /// Scenario 3: the slow consumers stay away once closed (they read again, reconnect and
    /// resume only after the measured phase), to tell the cost of the slowness itself from
    /// the cost of their return.
    #[arg(long)]
    slow_stay_away: bool,
    /// Scenario 3: seconds of each phase (without, then with the slow consumers).
    #[arg(long, default_value_t = 25)]
    phase_secs: u64,
    /// Scenario 3: rounds of the two phases; the verdict compares the medians of their p99s.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Scenario 3: seconds of the phases' traffic before the first is measured.
    #[arg(long, default_value_t = 10)]
    warmup_secs: u64,
    /// The nodes' WebSocket queue (ZGLD_WS_QUEUE), frames.
    #[arg(long, default_value_t = 256)]
    ws_queue: usize,
    /// Scenario 4: rolling SIGTERMs.
    #[arg(long, default_value_t = 100)]
    terms: usize,
    /// REST clients polling during scenarios 2 and 4.
    #[arg(long, default_value_t = 4)]
    rest_pollers: usize,
    /// Keep each scenario's database (for inspection).
    #[arg(long)]
    keep_db: bool,
}

struct Run {
    infra: Infra,
    redis: PrivateRedis,
    nodes: Nodes,
    fleet: Arc<Fleet>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn setup(
    env: &Env,
    a: &ChaosArgs,
    tag: &str,
    small_buffers: usize,
    extra: &[(&str, String)],
) -> anyhow::Result<Run> {
    let mut infra = Infra::new(&env.server, &env.pg, tag).map_err(|e| anyhow!("{e:?}"))?;
    if a.ws_queue != 256 {
        infra
            .extra_env
            .push(("ZGLD_WS_QUEUE".into(), a.ws_queue.to_string()));
    }
    for (k, v) in extra {
        infra.extra_env.push(((*k).to_owned(), v.clone()));
    }
    infra.prepare(a.pairs).await.map_err(|e| anyhow!("{e:?}"))?;
    let redis = PrivateRedis::start(infra.redis_port)
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    let mut nodes = Nodes::new(&infra);
    nodes.start(0).await.map_err(|e| anyhow!("{e:?}"))?;
    nodes.start(1).await.map_err(|e| anyhow!("{e:?}"))?;
    let mut fleet = Fleet::new(infra.ports, a.pairs, a.rate);
    if small_buffers > 0 {
        fleet = fleet.with_small_buffers(small_buffers, 4096);
    }
    let tasks = fleet.spawn();
    if !fleet.wait_connected(Duration::from_secs(30)).await {
        anyhow::bail!("only {} clients connected", fleet.connected());
    }
    // Warm up: every pair has a conversation.
    tokio::time::sleep(Duration::from_secs(3)).await;
    Ok(Run {
        infra,
        redis,
        nodes,
        fleet,
        tasks,
    })
}

async fn teardown(r: Run, keep: bool) {
    r.fleet.stop.store(true, Ordering::SeqCst);
    for t in r.tasks {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    let Run {
        infra,
        mut nodes,
        redis,
        ..
    } = r;
    nodes.stop_all();
    drop(redis);
    if !keep {
        let _ = infra.drop_db().await;
    }
}

fn client_figures(f: &Fleet) -> Value {
    let (mut rec, mut caught, mut closes, mut errors) = (
        Vec::new(),
        Vec::new(),
        HashMap::<u16, u64>::new(),
        HashMap::<i64, u64>::new(),
    );
    let (mut sessions, mut history_pages, mut history_errors) = (0, 0, 0);
    let mut history_first_error: Option<String> = None;
    for c in &f.clients {
        let st = lock(&c.st);
        history_pages += st.history_pages;
        history_errors += st.history_errors;
        if history_first_error.is_none() {
            history_first_error.clone_from(&st.history_first_error);
        }
        rec.extend(st.reconnect_ms.iter().copied());
        caught.extend(st.caught_up_ms.iter().copied());
        sessions += st.sessions;
        for (k, v) in &st.closes {
            *closes.entry(*k).or_default() += v;
        }
        for (k, v) in &st.errors {
            *errors.entry(*k).or_default() += v;
        }
    }
    json!({
        "clients": f.clients.len(),
        "websocket_sessions": sessions,
        "reconnect_ms": pct_of_ms(&rec),
        "reconnect_to_resumed_ms": pct_of_ms(&caught),
        "close_codes_received": closes.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "error_frames": errors.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "history_pages_after_reload": history_pages,
        "history_requests_failed": history_errors,
        "history_first_error": history_first_error,
    })
}

/// Runs the selected scenarios; `Ok(false)` when an invariant failed.
pub async fn run(env: &Env, a: &ChaosArgs) -> anyhow::Result<bool> {
    let all = a.scenario == "all";
    let mut ok = true;
    let mut known = false;
    if all || a.scenario == "kill" {
        known = true;
        ok &= report("kill", kill(env, a).await?);
    }
    if all || a.scenario == "redis" {
        known = true;
        ok &= report("redis", redis(env, a).await?);
    }
    if all || a.scenario == "slow" {
        known = true;
        ok &= report("slow", slow(env, a).await?);
    }
    if all || a.scenario == "term" {
        known = true;
        ok &= report("term", term(env, a).await?);
    }
    if !known {
        anyhow::bail!(
            "unknown scenario {:?}: all, kill, redis, slow or term",
            a.scenario
        );
    }
    Ok(ok)
}

fn report(name: &str, (v, ok): (Value, bool)) -> bool {
    let mut v = v;
    if let Some(o) = v.as_object_mut() {
        o.insert("scenario".into(), json!(name));
        o.insert("invariants_hold".into(), json!(ok));
    }
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    ok
}

fn load_sampler() -> (Arc<std::sync::Mutex<Vec<f64>>>, tokio::task::JoinHandle<()>) {
    let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = samples.clone();
    let h = tokio::spawn(async move {
        loop {
            if let Some(l1) = loadavg()
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
            {
                lock(&s2).push(l1);
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    (samples, h)
}

fn load_summary(s: &std::sync::Mutex<Vec<f64>>) -> Value {
    let v = lock(s);
    let max = v.iter().copied().fold(0.0, f64::max);
    let mean = if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    };
    json!({"load1_mean": (mean * 100.0).round() / 100.0, "load1_max": max, "at_end": loadavg()})
}

/// Scenario 1: SIGKILLs.
async fn kill(env: &Env, a: &ChaosArgs) -> anyhow::Result<(Value, bool)> {
    eprintln!("[chaos] kill: {} SIGKILLs, {} pairs", a.kills, a.pairs);
    let mut r = setup(env, a, "kill", 0, &[]).await?;
    let (load, lh) = load_sampler();
    let t0 = Instant::now();
    let cycles = core::kill_cycles(
        &mut r.nodes,
        &r.fleet,
        a.kills,
        Duration::from_millis(a.gap_ms),
    )
    .await
    .map_err(|e| anyhow!("{e:?}"))?;
    let secs = t0.elapsed().as_secs_f64();
    let v = core::settle_and_verify(&r.infra, &r.fleet, None, Duration::from_secs(30))
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    lh.abort();
    let out = json!({
        "command_seconds": (secs * 10.0).round() / 10.0,
        "cycles": cycles,
        "verdict": v.json(),
        "clients": client_figures(&r.fleet),
        "loadavg": load_summary(&load),
    });
    teardown(r, a.keep_db).await;
    Ok((out, v.ok()))
}

/// Scenario 2: Redis down.
async fn redis(env: &Env, a: &ChaosArgs) -> anyhow::Result<(Value, bool)> {
    eprintln!(
        "[chaos] redis: down for {} s, {} pairs",
        a.redis_down, a.pairs
    );
    let mut r = setup(env, a, "redis", 0, &[]).await?;
    let (load, lh) = load_sampler();
    let rest = Arc::new(RestStats::default());
    let pollers = core::spawn_rest(&r.fleet, &rest, a.rest_pollers, a.pairs);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let outage = core::redis_outage(
        &mut r.redis,
        &r.infra,
        &r.fleet,
        Duration::from_secs(a.redis_down),
    )
    .await
    .map_err(|e| anyhow!("{e:?}"))?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    rest.stop.store(true, Ordering::SeqCst);
    for p in pollers {
        let _ = p.await;
    }
    let v = core::settle_and_verify(&r.infra, &r.fleet, Some(&rest), Duration::from_secs(30))
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    lh.abort();
    let rest_ok = rest.http_5xx.load(Ordering::Relaxed) == 0
        && rest.envelope_5xx.load(Ordering::Relaxed) == 0;
    let out = json!({
        "outage": outage,
        "rest": rest.summary(),
        "verdict": v.json(),
        "clients": client_figures(&r.fleet),
        "loadavg": load_summary(&load),
    });
    teardown(r, a.keep_db).await;
    Ok((out, v.ok() && rest_ok))
}

/// One socket's line of /proc/net/tcp: state, tx_queue, rx_queue.
fn tcp_table() -> HashMap<(String, String), (u8, u64, u64)> {
    let mut out = HashMap::new();
    let Ok(s) = std::fs::read_to_string("/proc/net/tcp") else {
        return out;
    };
    for line in s.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(l), Some(r), Some(st), Some(q)) = (f.get(1), f.get(2), f.get(3), f.get(4)) else {
            continue;
        };
        let state = u8::from_str_radix(st, 16).unwrap_or(0);
        let (tx, rx) = q.split_once(':').unwrap_or(("0", "0"));
        out.insert(
            (l.to_string(), r.to_string()),
            (
                state,
                u64::from_str_radix(tx, 16).unwrap_or(0),
                u64::from_str_radix(rx, 16).unwrap_or(0),
            ),
        );
    }
    out
}

fn hex_addr(a: std::net::SocketAddr) -> String {
    match a {
        std::net::SocketAddr::V4(v4) => {
            format!(
                "{:08X}:{:04X}",
                u32::from_le_bytes(v4.ip().octets()),
                v4.port()
            )
        }
        std::net::SocketAddr::V6(_) => String::new(),
    }
}

/// What the sampler saw of one slow consumer's connection.
#[derive(Default, Clone)]
struct Watch {
    server_key: (String, String),
    client_key: (String, String),
    /// Bytes in the kernel (server send queue + client receive queue) at the last sample
    /// where the server's socket was still established.
    kernel_bytes: u64,
    /// When the server's socket left ESTABLISHED (closed by the server), fleet ns.
    closed_ns: Option<u64>,
    /// The last sample where the kernel held more than before (then the server's writes
    /// stalled), fleet ns.
    grew_ns: u64,
}

fn set_rates(f: &Fleet, slow_pairs: usize, rep_rate: f64, cust_rate: f64, pad: usize) {
    for c in f.clients.iter().filter(|c| c.id <= slow_pairs) {
        let r = if c.rep { rep_rate } else { cust_rate };
        c.rate_milli.store((r * 1000.0) as u64, Ordering::SeqCst);
        c.pad.store(if c.rep { pad } else { 0 }, Ordering::SeqCst);
    }
}

/// Samples the slow consumers' connections every 25 ms from a thread of its own (reading
/// /proc/net/tcp costs a few ms of CPU: it runs in both phases so that both pay for it).
fn spawn_sampler(
    watches: Arc<std::sync::Mutex<Vec<(usize, Watch)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    f: Arc<Fleet>,
    come_back: bool,
) -> std::thread::JoinHandle<()> {
    let start = f.start;
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let table = tcp_table();
            let now = start.elapsed().as_nanos() as u64;
            for (idx, w) in lock(&watches)
                .iter_mut()
                .filter(|(_, w)| w.closed_ns.is_none())
            {
                if w.server_key.0.is_empty() {
                    continue;
                }
                match table.get(&w.server_key) {
                    Some((1, tx, _)) => {
                        let rx = table.get(&w.client_key).map(|e| e.2).unwrap_or(0);
                        if tx + rx > w.kernel_bytes {
                            w.grew_ns = now;
                        }
                        w.kernel_bytes = tx + rx;
                    }
                    _ => {
                        w.closed_ns = Some(now);
                        // Closed by the server: the client reads again (it was stalled, it
                        // comes back), reconnects and resumes; with --slow-stay-away only
                        // after the phase.
                        if let Some(c) = f.clients.get(*idx).filter(|_| come_back) {
                            c.slow.store(false, Ordering::SeqCst);
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    })
}

/// Scenario 3: slow consumers, and the others' latency without and with them: after a warm-up,
/// `rounds` pairs of phases (without and with, the order alternating from round to round), the
/// slow consumers caught up again after each phase with them; the verdict compares the
/// medians of the phases' p99s.
async fn slow(env: &Env, a: &ChaosArgs) -> anyhow::Result<(Value, bool)> {
    let n = a.slow.min(a.pairs / 2);
    eprintln!(
        "[chaos] slow: {n} slow consumers, {} round(s) of two {} s phases after {} s of warm-up",
        a.rounds.max(1),
        a.phase_secs,
        a.warmup_secs
    );
    let rate = [
        ("ZGLD_WS_RATE", "50".to_owned()),
        ("ZGLD_WS_BURST", "100".to_owned()),
    ];
    let r = setup(env, a, "slow", n, &rate).await?;
    let (load, lh) = load_sampler();
    let f = r.fleet.clone();
    let others = move |c: &core::Client| c.id > n;
    // The same traffic as the phases, not measured: pools, caches and the page cache warm up.
    set_rates(&f, n, a.burst_rate, 0.0, a.burst_pad);
    tokio::time::sleep(Duration::from_secs(a.warmup_secs)).await;
    let mut phases = Vec::new();
    let (mut per, mut after, mut catch_up_s) = (Vec::new(), Vec::new(), Vec::new());
    let mut closed = 0;
    let watches = Arc::new(std::sync::Mutex::new(Vec::<(usize, Watch)>::new()));
    for round in 0..a.rounds.max(1) {
        for with_slow in crate::round_order(round) {
            // A quiet moment in the slow pairs, then (second phase) their customers stop reading.
            set_rates(&f, n, 0.0, 0.0, 0);
            tokio::time::sleep(Duration::from_millis(800)).await;
            let t0 = f.now_ns();
            lock(&watches).clear();
            for c in f.clients.iter().filter(|c| !c.rep && c.id <= n) {
                let mut st = lock(&c.st);
                st.stopped_at_seq = st.seen.keys().next_back().copied().unwrap_or(0);
                let node = c.node.load(Ordering::SeqCst);
                let mut w = Watch::default();
                if let (Some(local), Some(port)) = (st.local, f.ports.get(node)) {
                    let srv = std::net::SocketAddr::from(([127, 0, 0, 1], *port));
                    w.server_key = (hex_addr(srv), hex_addr(local));
                    w.client_key = (hex_addr(local), hex_addr(srv));
                }
                lock(&watches).push((c.idx, w));
                if with_slow {
                    c.slow.store(true, Ordering::SeqCst);
                }
            }
            for c in &f.clients {
                lock(&c.st).trace.clear();
            }
            f.tracing.store(with_slow, Ordering::SeqCst);
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let sampler =
                spawn_sampler(watches.clone(), stop.clone(), f.clone(), !a.slow_stay_away);
            let _ = f.take_latencies(|_| true);
            f.measuring.store(true, Ordering::SeqCst);
            set_rates(&f, n, a.burst_rate, 0.0, a.burst_pad);
            tokio::time::sleep(Duration::from_secs(a.phase_secs)).await;
            f.measuring.store(false, Ordering::SeqCst);
            f.tracing.store(false, Ordering::SeqCst);
            stop.store(true, Ordering::SeqCst);
            let _ = tokio::task::spawn_blocking(move || sampler.join()).await;
            let mut lat = f.take_latencies(others);
            phases.push(json!({
                "round": round + 1,
                "slow_consumers": if with_slow { n } else { 0 },
                "started_at_s": (t0 as f64 / 1e9 * 10.0).round() / 10.0,
                "others_latency_ms": pct_ms(&mut lat),
                "loadavg": loadavg(),
            }));
            if !with_slow {
                continue;
            }
            let ws: Vec<(usize, Watch)> = lock(&watches).clone();
            let o = overflows(&f, &ws, a.ws_queue);
            closed += o.closed;
            after.extend(o.after);
            per.extend(o.per);
            // The slow consumers read again (and reconnect, resume or page the history); the
            // next phase starts once they have caught up with what they missed.
            for c in &f.clients {
                c.slow.store(false, Ordering::SeqCst);
            }
            let t = Instant::now();
            let caught_up = core::wait_caught_up(
                &r.infra,
                &f,
                |c| !c.rep && c.id <= n,
                Duration::from_secs(120),
            )
            .await
            .map_err(|e| anyhow!("{e:?}"))?;
            catch_up_s.push(json!({
                "caught_up": caught_up,
                "secs": (t.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            }));
        }
    }
    // Everyone back to normal.
    set_rates(&f, n, a.rate, a.rate, 0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let v = core::settle_and_verify(&r.infra, &r.fleet, None, Duration::from_secs(90))
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    lh.abort();
    let p99s = |with: bool| -> Vec<f64> {
        phases
            .iter()
            .filter(|p| (p["slow_consumers"].as_u64().unwrap_or(0) > 0) == with)
            .filter_map(|p| p["others_latency_ms"]["p99"].as_f64())
            .collect()
    };
    let (base, with) = (median(p99s(false)), median(p99s(true)));
    let within = after.iter().filter(|d| **d <= 1000.0).count();
    let after_max = after.iter().copied().fold(f64::MIN, f64::max);
    let out = json!({
        "slow_consumers": n,
        "slow_stay_away": a.slow_stay_away,
        "rounds": a.rounds.max(1),
        "closed_by_server": closed,
        "close_after_overflow_ms": pct_of_ms(&after.iter().map(|d| d.max(0.0)).collect::<Vec<_>>()),
        "close_after_overflow_max_ms": if after.is_empty() { Value::Null } else { json!((after_max * 10.0).round() / 10.0) },
        "closed_within_1s_of_overflow": within,
        "others_p99_without_ms": p99s(false),
        "others_p99_with_ms": p99s(true),
        "others_p99_median_without_ms": base,
        "others_p99_median_with_ms": with,
        "others_p99_change_pct": if base > 0.0 { json!(((with / base - 1.0) * 1000.0).round() / 10.0) } else { Value::Null },
        "slow_caught_up_after_s": catch_up_s,
        "phases": phases,
        "per_consumer": per,
        "verdict": v.json(),
        "clients": client_figures(&r.fleet),
        "loadavg": load_summary(&load),
    });
    teardown(r, a.keep_db).await;
    Ok((out, v.ok()))
}

/// What one phase with slow consumers showed of each: how many frames the kernel held, which
/// frame overflowed its queue, and how long after that the server closed the connection.
struct Overflows {
    per: Vec<Value>,
    after: Vec<f64>,
    closed: usize,
}

/// Per slow consumer: the frame whose push overflowed its queue, estimated from the bytes the
/// kernel held (those frames were written; one more is held by the blocked writer; the queue
/// holds `ws_queue`), timed by its sender's `sent` ack; then when the server closed.
fn overflows(f: &Fleet, watches: &[(usize, Watch)], ws_queue: usize) -> Overflows {
    let mut o = Overflows {
        per: Vec::new(),
        after: Vec::new(),
        closed: 0,
    };
    for (idx, w) in watches {
        let Some(c) = f.clients.get(*idx) else {
            continue;
        };
        let Some(rep) = f.clients.get(c.peer_idx) else {
            continue;
        };
        let s0 = lock(&c.st).stopped_at_seq;
        let trace: Vec<(i64, Option<u64>, Option<usize>)> = lock(&rep.st)
            .trace
            .iter()
            .filter(|(s, _)| **s > s0)
            .map(|(s, (ack, len))| (*s, *ack, *len))
            .collect();
        let mut bytes = 0u64;
        let mut in_kernel = 0usize;
        for (_, _, len) in &trace {
            if bytes >= w.kernel_bytes {
                break;
            }
            let l = len.unwrap_or(0) as u64;
            bytes += l + if l < 126 {
                2
            } else if l < 65_536 {
                4
            } else {
                10
            };
            in_kernel += 1;
        }
        let overflow_ns = trace.get(in_kernel + ws_queue).and_then(|t| t.1);
        if w.closed_ns.is_some() {
            o.closed += 1;
        }
        let d = match (w.closed_ns, overflow_ns) {
            (Some(cl), Some(ov)) => Some((cl as f64 - ov as f64) / 1e6),
            _ => None,
        };
        if let Some(d) = d {
            o.after.push(d);
        }
        let stalled = w.closed_ns.map(|cl| (cl as f64 - w.grew_ns as f64) / 1e6);
        o.per.push(json!({
            "customer": c.id,
            "frames_in_kernel": in_kernel,
            "kernel_bytes": w.kernel_bytes,
            "frames_pushed_after_stop": trace.len(),
            "closed_by_server": w.closed_ns.is_some(),
            "close_after_overflow_ms": d.map(|d| (d * 10.0).round() / 10.0),
            "close_after_writes_stalled_ms": stalled.map(|d| d.round()),
        }));
    }
    o
}

/// Scenario 4: rolling SIGTERMs.
async fn term(env: &Env, a: &ChaosArgs) -> anyhow::Result<(Value, bool)> {
    eprintln!(
        "[chaos] term: {} rolling SIGTERMs, {} pairs",
        a.terms, a.pairs
    );
    let mut r = setup(env, a, "term", 0, &[]).await?;
    let (load, lh) = load_sampler();
    let rest = Arc::new(RestStats::default());
    let pollers = core::spawn_rest(&r.fleet, &rest, a.rest_pollers, a.pairs);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t0 = Instant::now();
    let (mut drain_ms, mut restart_ms, mut not_drained, mut statuses) =
        (Vec::new(), Vec::new(), 0, HashMap::<String, u64>::new());
    for k in 0..a.terms {
        let victim = k % 2;
        r.fleet.up[victim].store(false, Ordering::SeqCst);
        let (took, drained, status) = r.nodes.term(victim, Duration::from_secs(40)).await;
        drain_ms.push(took.as_secs_f64() * 1e3);
        *statuses.entry(status).or_default() += 1;
        if !drained {
            not_drained += 1;
        }
        let s = r.nodes.start(victim).await.map_err(|e| anyhow!("{e:?}"))?;
        restart_ms.push(s.as_secs_f64() * 1e3);
        r.fleet.set_up(victim, true);
        tokio::time::sleep(Duration::from_millis(a.gap_ms)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    rest.stop.store(true, Ordering::SeqCst);
    for p in pollers {
        let _ = p.await;
    }
    let v = core::settle_and_verify(&r.infra, &r.fleet, Some(&rest), Duration::from_secs(30))
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    lh.abort();
    let clients = client_figures(&r.fleet);
    let rest_ok = rest.failed.load(Ordering::Relaxed) == 0
        && rest.http_5xx.load(Ordering::Relaxed) == 0
        && rest.envelope_5xx.load(Ordering::Relaxed) == 0;
    let out = json!({
        "terms": a.terms,
        "command_seconds": (secs * 10.0).round() / 10.0,
        "sigterm_to_exit_ms": pct_of_ms(&drain_ms),
        "not_drained_in_40s": not_drained,
        "exit_statuses": statuses,
        "restart_ms": pct_of_ms(&restart_ms),
        "rest": rest.summary(),
        "verdict": v.json(),
        "clients": clients,
        "loadavg": load_summary(&load),
    });
    teardown(r, a.keep_db).await;
    Ok((out, v.ok() && rest_ok && not_drained == 0))
}
