//! Radar benchmarks (issue 4): event ingest over HTTP with live pushes, and the read paths
//! (dashboards, 通讯录) over a large generated data set.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;

use super::{prepare, round, signed, ws_connect, Env, Node, DB};

#[derive(clap::Args, Debug, Clone)]
pub struct IngestArgs {
    /// Salespeople, each on one WebSocket.
    #[arg(long, default_value_t = 200)]
    reps: usize,
    /// Customers sending events, each one request in flight (the HTTP concurrency).
    #[arg(long, default_value_t = 256)]
    senders: usize,
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Writer lanes of the server (`ZGLD_CHAT_WRITERS`; its default is one per core).
    #[arg(long)]
    lanes: Option<usize>,
    /// Skip the one-transaction-per-event phase.
    #[arg(long)]
    batched_only: bool,
    /// Open loop: offer this many events/s in all (event n due at t0 + n/rate, its latencies
    /// measured from that scheduled time), spread round-robin over `customers` customers;
    /// 0 = closed loop only. The closed-loop phases still run, reported as capacity.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Customers of the open-loop phase (each sends every customers/rate seconds; write
    /// signatures are single-use per millisecond, so keep this well above rate/1000).
    #[arg(long, default_value_t = 2_000)]
    customers: usize,
    /// Open loop: requests allowed in flight before the generator counts the rest as dropped
    /// (it never waits: a server that falls behind shows it in latency and drops).
    #[arg(long, default_value_t = 20_000)]
    max_in_flight: usize,
}

#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// Action-log rows to generate.
    #[arg(long, default_value_t = 10_000_000)]
    rows: i64,
    /// Customers of salesperson 1 (the 通讯录 under test).
    #[arg(long, default_value_t = 100_000)]
    customers: i64,
    /// Timed requests per endpoint.
    #[arg(long, default_value_t = 2_000)]
    requests: u64,
}

fn hist() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).context("histogram")
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    round(h.value_at_quantile(q) as f64 / 1000.0)
}

/// The salespeople's side of an ingest run: send times per customer and the push latencies.
pub(crate) struct Pushes {
    /// sent[c]: times (µs since start) of customer c's events whose radar frame has not arrived
    /// yet, oldest first. One salesperson lane keeps each customer's events in order, so the
    /// n-th frame about customer c answers c's n-th event.
    pub(crate) sent: Arc<Vec<std::sync::Mutex<std::collections::VecDeque<u64>>>>,
    pub(crate) push: Arc<tokio::sync::Mutex<Histogram<u64>>>,
    pub(crate) pushed: Arc<AtomicU64>,
    pub(crate) measuring: Arc<AtomicBool>,
    /// Only events sent (or scheduled) from this time on (µs since start) are counted.
    pub(crate) from_us: Arc<AtomicU64>,
    /// Per second of send time (µs since start / 1e6): pushes, pushes over 20 ms, the slowest
    /// (µs). Shows whether slow pushes cluster in a few seconds (a stall) or spread (load).
    pub(crate) by_second: Arc<std::sync::Mutex<std::collections::BTreeMap<u64, [u64; 3]>>>,
}

impl Pushes {
    /// `by_second` as JSON rows `[second, pushes, over 20 ms, slowest ms]`.
    pub(crate) fn seconds(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .by_second
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(s, [n, slow, max])| {
                        serde_json::json!([s, n, slow, round(*max as f64 / 1000.0)])
                    })
                    .collect()
            })
            .unwrap_or_default();
        serde_json::Value::Array(rows)
    }
}

/// The customer of a pushed `radar` frame, read without parsing the frame (the generator
/// shares the machine's 2 cores with the server): the frame starts with `{"type":"radar"`
/// (`RadarFrame` and `ArticleFrame` serialize `type` first) and names `customer_id` once.
fn radar_customer(frame: &str) -> Option<u64> {
    if !frame.starts_with(r#"{"type":"radar""#) {
        return None;
    }
    let at = frame.find(r#""customer_id":"#)? + r#""customer_id":"#.len();
    let digits = frame[at..].bytes().take_while(u8::is_ascii_digit).count();
    frame[at..at + digits].parse().ok()
}

/// Connects every salesperson's WebSocket and records, per `radar` frame, the time since its
/// event was sent (or scheduled).
pub(crate) async fn listen_reps(
    port: u16,
    reps: usize,
    customers: usize,
    start: Instant,
) -> anyhow::Result<Pushes> {
    let sent: Arc<Vec<std::sync::Mutex<std::collections::VecDeque<u64>>>> =
        Arc::new((0..=customers).map(|_| Default::default()).collect());
    let push = Arc::new(tokio::sync::Mutex::new(hist()?));
    let pushed = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let from_us = Arc::new(AtomicU64::new(0));
    let by_second: Arc<std::sync::Mutex<std::collections::BTreeMap<u64, [u64; 3]>>> =
        Arc::default();
    for r in 1..=reps {
        let mut ws = ws_connect(
            port,
            &format!("/zhugeleida/qiyeweixin/ws?{}", signed('u', r)),
            r,
        )
        .await?;
        let (sent, push, pushed, measuring, from_us, by_second) = (
            sent.clone(),
            push.clone(),
            pushed.clone(),
            measuring.clone(),
            from_us.clone(),
            by_second.clone(),
        );
        tokio::spawn(async move {
            while let Some(Ok(m)) = ws.next().await {
                let Message::Text(t) = m else { continue };
                let Some(c) = radar_customer(t.as_str()) else {
                    continue;
                };
                let now = start.elapsed().as_micros() as u64;
                let c = c as usize;
                let at = sent
                    .get(c)
                    .and_then(|s| s.lock().ok().and_then(|mut q| q.pop_front()))
                    .unwrap_or(0);
                if measuring.load(Ordering::Relaxed)
                    && at > 0
                    && at >= from_us.load(Ordering::Relaxed)
                {
                    pushed.fetch_add(1, Ordering::Relaxed);
                    let took = now.saturating_sub(at).max(1);
                    if let Ok(mut m) = by_second.lock() {
                        let e = m.entry(at / 1_000_000).or_insert([0; 3]);
                        e[0] += 1;
                        e[1] += u64::from(took > 20_000);
                        e[2] = e[2].max(took);
                    }
                    let _ = push.lock().await.record(took);
                }
            }
        });
    }
    Ok(Pushes {
        sent,
        push,
        pushed,
        measuring,
        from_us,
        by_second,
    })
}

/// A fresh benchmark database and one node on it (`batch` = the server's ZGLD_RADAR_BATCH).
async fn fresh_node(
    env: &Env,
    a: &IngestArgs,
    batch: &str,
    port: u16,
    reps: usize,
    customers: usize,
) -> anyhow::Result<Node> {
    prepare(env, reps, customers).await?;
    let lanes = a.lanes.map(|l| l.to_string());
    let mut extra = vec![("ZGLD_RADAR_BATCH", batch)];
    if let Some(l) = &lanes {
        extra.push(("ZGLD_CHAT_WRITERS", l.as_str()));
    }
    Node::start(env, port, false, &extra).await
}

/// The URL of customer `c`'s `i`-th event (forward, call, view in turn), freshly signed.
fn event_url(port: u16, c: usize, reps: usize, i: usize) -> String {
    // Customer c is related to salesperson ((c - 1) % reps) + 1 (see `prepare`).
    let rep = ((c - 1) % reps) + 1;
    let path = ["mingpian/forward", "mingpian/calling", "mingpian"][i % 3];
    format!(
        "http://127.0.0.1:{port}/zhugeleida/xiaochengxu/{path}?{}&uid={rep}",
        signed('c', c)
    )
}

/// Open loop against the batched writer: `a.rate` events/s offered whatever the server does,
/// each event's request and push latency measured from its scheduled send time.
async fn open_loop_phase(env: &Env, a: &IngestArgs, port: u16) -> anyhow::Result<Value> {
    let customers = a.customers.max(1);
    let reps = a.reps.max(1);
    let rate = a.rate.max(1);
    let node = fresh_node(env, a, "1", port, reps, customers).await?;
    let start = Instant::now();
    let p = listen_reps(port, reps, customers, start).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .build()
        .context("http client")?;
    let req = Arc::new(std::sync::Mutex::new(hist()?));
    let (ok, bad, dropped, in_flight) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let warmup = Duration::from_secs(2);
    let total = warmup + Duration::from_secs(a.seconds);
    let t0 = start.elapsed();
    let mut n = 0u64;
    let mut offered_measured = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        tick.tick().await;
        let now = start.elapsed();
        if now - t0 >= total {
            break;
        }
        let measuring = now - t0 >= warmup;
        if measuring && !p.measuring.load(Ordering::Relaxed) {
            p.from_us
                .store((t0 + warmup).as_micros() as u64, Ordering::Relaxed);
            p.measuring.store(true, Ordering::Relaxed);
        }
        // Every event due by now, each stamped with its own scheduled time.
        loop {
            let due = t0 + Duration::from_nanos(n * 1_000_000_000 / rate);
            if due > now {
                break;
            }
            let c = (n as usize % customers) + 1;
            let i = n as usize / customers;
            n += 1;
            if measuring {
                offered_measured += 1;
            }
            if in_flight.load(Ordering::Relaxed) as usize >= a.max_in_flight {
                if measuring {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            let due_us = due.as_micros() as u64;
            if let Some(Ok(mut q)) = p.sent.get(c).map(|s| s.lock()) {
                q.push_back(due_us);
            }
            let url = event_url(port, c, reps, i);
            let (http, req, ok, bad, in_flight, sent) = (
                http.clone(),
                req.clone(),
                ok.clone(),
                bad.clone(),
                in_flight.clone(),
                p.sent.clone(),
            );
            in_flight.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let good = match http.get(url).send().await {
                    Ok(r) => r
                        .json::<Value>()
                        .await
                        .map(|v| v["code"] == 200)
                        .unwrap_or(false),
                    Err(_) => false,
                };
                let took = (start.elapsed().as_micros() as u64).saturating_sub(due_us);
                in_flight.fetch_sub(1, Ordering::Relaxed);
                if good {
                    if measuring {
                        ok.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut h) = req.lock() {
                            let _ = h.record(took.max(1));
                        }
                    }
                } else {
                    // No event: forget its send time.
                    if let Some(Ok(mut q)) = sent.get(c).map(|s| s.lock()) {
                        if let Some(pos) = q.iter().position(|t| *t == due_us) {
                            q.remove(pos);
                        }
                    }
                    if measuring {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    }
    let seconds = a.seconds as f64;
    // Let the last requests and frames arrive (they still count: stamped inside the window).
    for _ in 0..100 {
        if in_flight.load(Ordering::Relaxed) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    p.measuring.store(false, Ordering::Relaxed);
    let push = p.push.lock().await;
    let req = req.lock().map_err(|_| anyhow::anyhow!("histogram lock"))?;
    let result = json!({
        "mode": "open loop, batched writer",
        "offered_per_s": round(offered_measured as f64 / seconds),
        "delivered_per_s": round(p.pushed.load(Ordering::Relaxed) as f64 / seconds),
        "answered_ok_per_s": round(ok.load(Ordering::Relaxed) as f64 / seconds),
        "request_p50_ms": ms(&req, 0.5),
        "request_p99_ms": ms(&req, 0.99),
        "request_max_ms": round(req.max() as f64 / 1000.0),
        "push_p50_ms": ms(&push, 0.5),
        "push_p99_ms": ms(&push, 0.99),
        "push_max_ms": round(push.max() as f64 / 1000.0),
        "errors": bad.load(Ordering::Relaxed),
        "dropped_by_generator": dropped.load(Ordering::Relaxed),
        "rss_mib": node.rss_kib() / 1024,
        "loadavg": crate::loadavg(),
    });
    drop(node);
    Ok(result)
}

/// One ingest phase against a fresh node: `batch` = the server's ZGLD_RADAR_BATCH.
async fn ingest_phase(env: &Env, a: &IngestArgs, batch: &str, port: u16) -> anyhow::Result<Value> {
    let customers = a.senders.max(1);
    let reps = a.reps.max(1);
    let node = fresh_node(env, a, batch, port, reps, customers).await?;
    let start = Instant::now();
    let Pushes {
        sent,
        push,
        pushed,
        measuring,
        ..
    } = listen_reps(port, reps, customers, start).await?;
    let done = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let req = Arc::new(tokio::sync::Mutex::new(hist()?));
    let mut tasks = Vec::new();
    for c in 1..=customers {
        let (done, bad, stop, req, sent, measuring) = (
            done.clone(),
            bad.clone(),
            stop.clone(),
            req.clone(),
            sent.clone(),
            measuring.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap_or_default();
            let mut last_ms = 0u128;
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                // One signature per millisecond: write signatures are single-use.
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or_default();
                if now_ms == last_ms {
                    tokio::time::sleep(Duration::from_micros(300)).await;
                    continue;
                }
                last_ms = now_ms;
                let url = event_url(port, c, reps, i);
                i += 1;
                let t0 = Instant::now();
                if let Some(Ok(mut q)) = sent.get(c).map(|s| s.lock()) {
                    q.push_back(start.elapsed().as_micros() as u64);
                }
                let ok = match http.get(url).send().await {
                    Ok(r) => r
                        .json::<Value>()
                        .await
                        .map(|v| v["code"] == 200)
                        .unwrap_or(false),
                    Err(_) => false,
                };
                if ok {
                    if measuring.load(Ordering::Relaxed) {
                        done.fetch_add(1, Ordering::Relaxed);
                        let _ = req.lock().await.record(t0.elapsed().as_micros() as u64);
                    }
                } else {
                    // No event: forget its send time (the newest one is this request's).
                    if let Some(Ok(mut q)) = sent.get(c).map(|s| s.lock()) {
                        q.pop_back();
                    }
                    bad.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    measuring.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let req = req.lock().await;
    let push = push.lock().await;
    let n = done.load(Ordering::Relaxed);
    let result = json!({
        "radar_batch": batch,
        "events_per_s": round(n as f64 / elapsed),
        "request_p50_ms": ms(&req, 0.5),
        "request_p99_ms": ms(&req, 0.99),
        "push_p50_ms": ms(&push, 0.5),
        "push_p99_ms": ms(&push, 0.99),
        "pushed": pushed.load(Ordering::Relaxed),
        "ok": n,
        "errors": bad.load(Ordering::Relaxed),
        "rss_mib": node.rss_kib() / 1024,
    });
    drop(node);
    Ok(result)
}

/// Batched writer and one transaction per event, same machine, same run.
pub async fn ingest(env: &Env, a: &IngestArgs) -> anyhow::Result<Value> {
    let direct = if a.batched_only {
        json!({})
    } else {
        eprintln!("radar ingest: one transaction per event");
        ingest_phase(env, a, "0", 18_400).await?
    };
    eprintln!("radar ingest: batched");
    let batched = ingest_phase(env, a, "1", 18_401).await?;
    let open = if a.rate > 0 {
        eprintln!("radar ingest: open loop at {} events/s", a.rate);
        open_loop_phase(env, a, 18_402).await?
    } else {
        json!({})
    };
    let ratio = direct["events_per_s"]
        .as_f64()
        .map(|d| round(batched["events_per_s"].as_f64().unwrap_or(0.0) / d.max(1.0)));
    Ok(json!({
        "reps": a.reps,
        "open_loop": open,
        "capacity_closed_loop": {
            "note": "each of `senders` customers keeps one request in flight: the rate is what the server sustains, the latency is Little's law of that concurrency",
            "senders": a.senders,
            "one_tx_per_event": direct,
            "batched": batched,
            "batched_over_direct": ratio,
        },
    }))
}

async fn timed_gets(
    port: u16,
    urls: &dyn Fn(u64) -> String,
    n: u64,
) -> anyhow::Result<Histogram<u64>> {
    let http = reqwest::Client::new();
    let mut h = hist()?;
    for i in 0..n {
        let t0 = Instant::now();
        let v: Value = http
            .get(format!("http://127.0.0.1:{port}{}", urls(i)))
            .send()
            .await?
            .json()
            .await?;
        if v["code"] != 200 {
            anyhow::bail!("request failed: {v}");
        }
        let _ = h.record(t0.elapsed().as_micros() as u64);
    }
    Ok(h)
}

/// Generates the data set, then times the dashboards, the scan and the 通讯录.
pub async fn data(env: &Env, a: &DataArgs) -> anyhow::Result<Value> {
    let reps = 100usize;
    prepare(env, reps, 1).await?;
    let (db, conn) =
        tokio_postgres::connect(&format!("{}/{DB}", env.pg), tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let t = Instant::now();
    eprintln!("generating {} customers of salesperson 1", a.customers);
    db.batch_execute(&format!(
        "update user_profile set role_id = 2 where id = 1;
         insert into customer (company_id, openid, username, create_date)
           select 1, 'big' || g, 'big' || g, now() - random() * interval '365 days' from generate_series(1, {n}) g;
         insert into user_customer (company_id, user_id, customer_id, source, expedted_pr, last_follow_time, last_activity_time, create_date)
           select 1, 1, id, 1 + (id % 2),
                  case when random() < 0.3 then null else (random() * 100)::int end,
                  case when random() < 0.3 then null else now() - random() * interval '90 days' end,
                  case when random() < 0.1 then null else now() - random() * interval '90 days' end,
                  create_date
           from customer where openid like 'big%';",
        n = a.customers
    ))
    .await?;
    let chunk = 1_000_000i64;
    let mut left = a.rows;
    while left > 0 {
        let n = left.min(chunk);
        eprintln!("action_log: {} rows to go", left);
        db.batch_execute(&format!(
            "insert into action_log (company_id, user_id, customer_id, action, log, is_new, create_date)
             select 1, 1 + (g % {reps}), 1 + (random() * ({c} - 1))::int8, 1 + (g % 12), 'bench', false,
                    now() - random() * interval '365 days'
             from generate_series(1, {n}) g",
            c = a.customers
        ))
        .await?;
        left -= n;
    }
    db.batch_execute("vacuum analyze").await?;
    let generated_s = t.elapsed().as_secs_f64();
    let rows: i64 = db
        .query_one("select count(*) from action_log", &[])
        .await?
        .get(0);

    let node = Node::start(env, 18_500, false, &[]).await?;
    let port = node.port;
    let mut report = serde_json::Map::new();
    report.insert("action_log_rows".into(), json!(rows));
    report.insert("customers_of_salesperson_1".into(), json!(a.customers));
    report.insert("generate_s".into(), json!(round(generated_s)));
    for (name, url) in [
        ("adm07_company", "/zhugeleida/admin/home_page/acount_data?"),
        (
            "adm07_salesperson",
            "/zhugeleida/admin/home_page/acount_data?uid=2&",
        ),
        (
            "adm08_company_15d",
            "/zhugeleida/admin/home_page/line_info?days=15&index_type=3&",
        ),
    ] {
        let h = timed_gets(port, &|_| format!("{url}{}", signed('u', 1)), a.requests).await?;
        report.insert(
            name.into(),
            json!({"p50_ms": ms(&h, 0.5), "p99_ms": ms(&h, 0.99)}),
        );
    }
    for order in ["-expedted_pr", "-last_follow_time", "-last_activity_time"] {
        let h = timed_gets(
            port,
            &|_| {
                format!(
                    "/zhugeleida/qiyeweixin/tongxunlu?order={order}&{}",
                    signed('u', 1)
                )
            },
            a.requests,
        )
        .await?;
        report.insert(
            format!("tongxunlu_{}", order.trim_start_matches('-')),
            json!({"p50_ms": ms(&h, 0.5), "p99_ms": ms(&h, 0.99)}),
        );
    }
    drop(node);
    // The same numbers by scanning the log (the server's own check).
    for (name, user) in [("company", "0"), ("salesperson", "2")] {
        let out = Command::new(&env.server)
            .args([
                "check-counters",
                "--company",
                "1",
                "--user",
                user,
                "--repeat",
                "3",
            ])
            .env("ZGLD_DATABASE_URL", format!("{}/{DB}", env.pg))
            .env("ZGLD_LOG", "warn")
            .output()
            .await?;
        // Its first line: the dashboard counters (later lines check the article counters).
        let first = out.stdout.split(|b| *b == b'\n').next().unwrap_or_default();
        let v: Value = serde_json::from_slice(first).context("check-counters output")?;
        report.insert(
            format!("scan_vs_counters_{name}"),
            json!({
                "equal": v["equal"],
                "scan_ms": round(v["scan_ms_best"].as_f64().unwrap_or(0.0)),
                "counters_ms": round(v["counters_ms_best"].as_f64().unwrap_or(0.0)),
                "speedup": round(v["scan_ms_best"].as_f64().unwrap_or(0.0) / v["counters_ms_best"].as_f64().unwrap_or(1.0).max(1e-6)),
            }),
        );
    }
    Ok(Value::Object(report))
}
