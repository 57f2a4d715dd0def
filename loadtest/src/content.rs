//! Content benchmarks (issue 11): the admin product list (ADM-11) over 10,000 products with
//! each filter, and customer product/website views offered open-loop at a fixed rate, each
//! stamped with its scheduled send time, with the salespeople on WebSockets.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use super::{loadavg, prepare, round, signed, Env, Node, DB};

#[derive(clap::Args, Debug, Clone)]
pub struct ListArgs {
    /// Products in the company.
    #[arg(long, default_value_t = 10_000)]
    products: i64,
    /// Timed requests per filter.
    #[arg(long, default_value_t = 2_000)]
    requests: u64,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ViewArgs {
    /// Offered views per second (open loop: sent on schedule whatever the answers do).
    #[arg(long, default_value_t = 10_000)]
    pub(crate) rate: u64,
    /// Salespeople, each on one WebSocket.
    #[arg(long, default_value_t = 200)]
    pub(crate) reps: usize,
    /// Customers (views are spread round-robin over them).
    #[arg(long, default_value_t = 4_000)]
    pub(crate) customers: usize,
    #[arg(long, default_value_t = 15)]
    pub(crate) seconds: u64,
    #[arg(long, default_value_t = 3)]
    pub(crate) warmup: u64,
    /// Keep-alive HTTP/1.1 connections the generator sends on (each one request at a time).
    #[arg(long, default_value_t = 128)]
    pub(crate) connections: usize,
    /// Requests queued or in flight at most: one due while this many are outstanding is not
    /// sent, and counted as `dropped_by_generator`.
    #[arg(long, default_value_t = 1_000)]
    pub(crate) max_in_flight: usize,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ContentViewArgs {
    #[command(flatten)]
    pub(crate) view: ViewArgs,
    /// The pages viewed in turn: `product`, `website`, and (for comparison, the same radar
    /// path) `card` (XCX-02), comma-separated.
    #[arg(long, default_value = "product,website")]
    pub(crate) pages: String,
}

pub(crate) fn hist() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 600_000_000, 3).context("histogram")
}

pub(crate) fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    round(h.value_at_quantile(q) as f64 / 1000.0)
}

pub(crate) async fn db(env: &Env) -> anyhow::Result<tokio_postgres::Client> {
    let (db, conn) =
        tokio_postgres::connect(&format!("{}/{DB}", env.pg), tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(db)
}

const CONTENT: &str = r#"{"cover_data":[{"type":"picture_url","data":["statics/zhugeleida/imgs/qiyeweixin/product/cover_1.png"]}],"article_data":[{"type":"title","data":["标题"]},{"type":"content","data":["内容"]}]}"#;
const COVER: &str =
    r#"[{"type":"picture_url","data":["statics/zhugeleida/imgs/qiyeweixin/product/cover_1.png"]}]"#;

/// ADM-11 over `products` products: 90 % company products, 10 % personal products of ten
/// salespeople; 10 % off the shelf; recommend index 0..10.
pub async fn product_list(env: &Env, a: &ListArgs) -> anyhow::Result<Value> {
    prepare(env, 10, 1).await?;
    let db = db(env).await?;
    db.batch_execute(&format!(
        "update user_profile set role_id = 2 where id = 1;
         insert into product (company_id, user_id, product_type, name, price, reason, content, cover_data, status, recommend_index, create_date)
           select 1, case when g % 10 = 0 then 1 + (g / 10) % 10 else 1 end,
                  case when g % 10 = 0 then 2 else 1 end,
                  '产品' || g || case when g % 100 = 7 then ' 林俊杰门票' else '' end, (g % 1000)::text, '理由',
                  '{CONTENT}', '{COVER}',
                  case when g % 10 = 3 then 2 else 1 end, (g * 7) % 11,
                  now() - (g || ' minutes')::interval
           from generate_series(1, {n}) g;",
        n = a.products
    ))
    .await?;
    // Alone: VACUUM cannot run inside the insert's implicit transaction.
    db.batch_execute("vacuum analyze").await?;
    let node = Node::start(env, 18_600, false, &[]).await?;
    let port = node.port;
    let http = reqwest::Client::new();
    let mut report = serde_json::Map::new();
    report.insert("products".into(), json!(a.products));
    report.insert("loadavg_before".into(), json!(loadavg()));
    let filters: [(&str, &str); 9] = [
        (
            "company_default_page1",
            "product_type=1&current_page=1&length=20",
        ),
        (
            "company_page_200",
            "product_type=1&current_page=200&length=20",
        ),
        (
            "company_on_shelf_status1",
            "product_type=1&status=1&length=20",
        ),
        (
            "company_off_shelf_status2",
            "product_type=1&status=2&length=20",
        ),
        (
            "company_keyword",
            "product_type=1&product_name=林俊杰&length=20",
        ),
        (
            "company_keyword_off_shelf",
            "product_type=1&product_name=林俊杰&status=2&length=20",
        ),
        ("personal_admin", "product_type=2&length=20"),
        ("personal_member", "product_type=2&length=20&as_member"),
        ("company_all_rows_unpaged", "product_type=1"),
    ];
    for (name, q) in filters {
        let (q, who) = match q.strip_suffix("&as_member") {
            Some(q) => (q, 2),
            None => (q, 1),
        };
        let mut h = hist()?;
        let mut count = 0;
        let n = if name.ends_with("unpaged") {
            a.requests / 10
        } else {
            a.requests
        };
        for i in 0..n + 50 {
            let url = format!(
                "http://127.0.0.1:{port}/zhugeleida/admin/product/product_list/?{q}&{}",
                signed('u', who)
            );
            let t0 = Instant::now();
            let v: Value = http.get(url).send().await?.json().await?;
            if v["code"] != 200 {
                anyhow::bail!("{name}: {v}");
            }
            if i >= 50 {
                let _ = h.record(t0.elapsed().as_micros() as u64);
            }
            count = v["data"]["data_count"].as_i64().unwrap_or(0);
        }
        report.insert(
            name.into(),
            json!({"query": q, "data_count": count, "p50_ms": ms(&h, 0.5), "p99_ms": ms(&h, 0.99), "max_ms": ms(&h, 1.0)}),
        );
    }
    report.insert("loadavg_after".into(), json!(loadavg()));
    drop(node);
    Ok(Value::Object(report))
}

/// Customer views (product detail and website, alternating, or the pages of `a.pages` in
/// turn) offered open-loop at `rate`/s.
pub async fn views(env: &Env, a: &ContentViewArgs) -> anyhow::Result<Value> {
    let setup = format!(
        "insert into product (id, company_id, user_id, product_type, name, price, reason, content, cover_data)
           values (1, 1, 1, 1, '门票', '128', '理由', '{CONTENT}', '{COVER}');
         insert into website (company_id, website_content)
           values (1, '[{{\"type\":\"guntu\",\"data\":[{{\"picture_url\":\"statics/w/1.png\"}}]}}]');"
    );
    let pages: Vec<&'static str> = a
        .pages
        .split(',')
        .map(|p| match p.trim() {
            "product" => Ok("xiaochengxu/product/product_single?product_id=1&uid="),
            "website" => Ok("xiaochengxu/website?uid="),
            "card" => Ok("xiaochengxu/mingpian?uid="),
            other => Err(anyhow::anyhow!("unknown page {other:?}")),
        })
        .collect::<anyhow::Result<_>>()?;
    if pages.is_empty() {
        anyhow::bail!("no pages");
    }
    let path = |k: usize, rep: usize| format!("{}{rep}", pages[k % pages.len()]);
    let mut r = open_loop(
        env,
        &a.view,
        &setup,
        path,
        "select count(*) from action_log",
    )
    .await?;
    r["pages"] = json!(a.pages);
    Ok(r)
}

/// Whether a reply body is the envelope with code 200 (`{"code":200,…}`).
pub(crate) fn ok_envelope(body: &[u8]) -> bool {
    body.strip_prefix(br#"{"code":200"#)
        .is_some_and(|rest| matches!(rest.first(), Some(b',' | b'}')))
}

/// One request of the open loop: customer `c`'s request to `path` (under `/zhugeleida/`, the
/// signature appended when it is written), due at `due` µs since the start.
struct Job {
    due: u64,
    c: usize,
    path: String,
}

/// What the open loop counts.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    bad: AtomicU64,
    /// Queued or on a connection.
    in_flight: AtomicU64,
    /// Written to a connection more than 10 ms after its due time (measured requests).
    late: AtomicU64,
    /// Transport failures (the connection is opened again).
    reconnects: AtomicU64,
}

/// A keep-alive HTTP/1.1 connection to the node from source address `n` (`super::source_addr`).
async fn connect(port: u16, n: usize) -> std::io::Result<tokio::net::TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind(std::net::SocketAddr::from((super::source_addr(n), 0)))?;
    let stream = sock
        .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Writes one GET and reads its answer on `stream`: the body, and whether the server keeps
/// the connection. Only what the server sends is handled: a `content-length` body (no chunks).
async fn get(
    stream: &mut tokio::net::TcpStream,
    buf: &mut Vec<u8>,
    request: &[u8],
) -> std::io::Result<(bool, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    stream.write_all(request).await?;
    buf.clear();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err(bad("response head too long"));
        }
        // Reads into the buffer's spare capacity: no zeroed chunk per read.
        buf.reserve(8192);
        if stream.read_buf(buf).await? == 0 {
            return Err(bad("connection closed before the response head"));
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("non-UTF-8 head"))?;
    let mut len = None;
    let mut keep = true;
    for line in head.split("\r\n").skip(1) {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("content-length") {
            len = v.parse::<usize>().ok();
        } else if k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
            keep = false;
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad("chunked answer"));
        }
    }
    let len = len.ok_or_else(|| bad("answer without content-length"))?;
    while buf.len() < head_end + len {
        buf.reserve(head_end + len - buf.len());
        if stream.read_buf(buf).await? == 0 {
            return Err(bad("connection closed inside the body"));
        }
    }
    let body = buf[head_end..].to_vec();
    if body.len() > len {
        // Nothing is pipelined: more bytes than the body is a broken answer.
        return Err(bad("bytes after the body"));
    }
    Ok((keep, body))
}

/// Customer requests that are radar events, offered open-loop at `a.rate`/s (request `k` of
/// customer `c` goes to `path(k, salesperson of c)` under `/zhugeleida/`, signed by `c` when it
/// is written), the salespeople on WebSockets: delivered rate, request and push latency from
/// each request's scheduled time. The generator holds `a.connections` keep-alive connections
/// and at most `a.max_in_flight` requests queued or on them: a request due while that many are
/// outstanding is not sent and counted as dropped (the generator never opens more
/// connections, so it measures the server, not a connection storm). Only requests due inside
/// the measured window, and their pushes, are counted. `setup` runs on the fresh database
/// first; `stored` counts what was written.
pub(crate) async fn open_loop(
    env: &Env,
    a: &ViewArgs,
    setup: &str,
    path: impl Fn(usize, usize) -> String,
    stored: &str,
) -> anyhow::Result<Value> {
    let reps = a.reps.max(1);
    let customers = a.customers.max(1);
    prepare(env, reps, customers).await?;
    let db = Arc::new(db(env).await?);
    db.batch_execute(setup).await?;
    let node = Node::start(env, 18_601, false, &[]).await?;
    let port = node.port;
    let start = Instant::now();
    // For `loadtest/cpu_per_event.py`: the rows stored when the measured window opens and
    // closes, on stderr (`WINDOW start <rows>`, `WINDOW end <rows>`), so the CPU of the window
    // can be divided by the events stored in it (the warm-up's cold caches left out).
    let mark = |what: &'static str| {
        let (db, stored) = (db.clone(), stored.to_owned());
        tokio::spawn(async move {
            if let Ok(r) = db.query_one(stored.as_str(), &[]).await {
                eprintln!("WINDOW {what} {}", r.get::<_, i64>(0));
            }
        })
    };
    let pushes = crate::radar::listen_reps(port, reps, customers, start).await?;
    let crate::radar::Pushes {
        sent,
        push,
        pushed,
        measuring,
        from_us,
        ..
    } = &pushes;
    let (sent, push, pushed, measuring, from_us) = (
        sent.clone(),
        push.clone(),
        pushed.clone(),
        measuring.clone(),
        from_us.clone(),
    );
    let req = Arc::new(Mutex::new(hist()?));
    let tally = Arc::new(Tally::default());
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let max_in_flight = a.max_in_flight.max(1);
    let (tx, rx) = tokio::sync::mpsc::channel::<Job>(max_in_flight);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let interval_us = 1_000_000f64 / a.rate.max(1) as f64;
    let total = ((a.warmup + a.seconds) * a.rate) as usize;
    let measure_from = (a.warmup * a.rate) as usize;
    let t_begin = start.elapsed().as_micros() as u64 + 20_000;
    let window_from = t_begin + (measure_from as f64 * interval_us) as u64;
    from_us.store(window_from, Ordering::Relaxed);
    let mut workers = Vec::with_capacity(a.connections.max(1));
    for n in 0..a.connections.max(1) {
        let (rx, tally, req, sent, first_error) = (
            rx.clone(),
            tally.clone(),
            req.clone(),
            sent.clone(),
            first_error.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut stream = None;
            let mut buf = Vec::with_capacity(16 * 1024);
            loop {
                let job = { rx.lock().await.recv().await };
                let Some(job) = job else { break };
                let measured = job.due >= window_from;
                let now = start.elapsed().as_micros() as u64;
                if measured && now > job.due + 10_000 {
                    tally.late.fetch_add(1, Ordering::Relaxed);
                }
                let request = format!(
                    "GET /zhugeleida/{}&{} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n",
                    job.path,
                    signed('c', job.c)
                );
                let answer = async {
                    if stream.is_none() {
                        stream = Some(connect(port, n).await?);
                    }
                    match stream.as_mut() {
                        Some(s) => get(s, &mut buf, request.as_bytes()).await,
                        None => Err(std::io::Error::other("no connection")),
                    }
                }
                .await;
                let good = match &answer {
                    Ok((keep, body)) => {
                        if !keep {
                            stream = None;
                        }
                        ok_envelope(body)
                    }
                    Err(_) => {
                        stream = None;
                        tally.reconnects.fetch_add(1, Ordering::Relaxed);
                        false
                    }
                };
                let done = start.elapsed().as_micros() as u64;
                tally.in_flight.fetch_sub(1, Ordering::Relaxed);
                if good {
                    if measured {
                        tally.ok.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut h) = req.lock() {
                            let _ = h.record(done.saturating_sub(job.due).max(1));
                        }
                    }
                    continue;
                }
                if let Ok(mut first) = first_error.lock() {
                    first.get_or_insert_with(|| match answer {
                        Ok((_, b)) => String::from_utf8_lossy(&b).into_owned(),
                        Err(e) => e.to_string(),
                    });
                }
                // No event: forget its send time.
                if let Some(Ok(mut q)) = sent.get(job.c).map(|s| s.lock()) {
                    if let Some(pos) = q.iter().position(|t| *t == job.due) {
                        q.remove(pos);
                    }
                }
                if measured {
                    tally.bad.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let loadavg_before = loadavg();
    let mut k = 0usize;
    let mut dropped = 0u64;
    let mut window_start = Instant::now();
    while k < total {
        let due = t_begin + (k as f64 * interval_us) as u64;
        let now = start.elapsed().as_micros() as u64;
        if due > now {
            tokio::time::sleep(Duration::from_micros((due - now).min(1_000))).await;
            continue;
        }
        if k == measure_from {
            measuring.store(true, Ordering::Relaxed);
            window_start = Instant::now();
            mark("start");
        }
        let c = (k % customers) + 1;
        let rep = ((c - 1) % reps) + 1;
        let path = path(k, rep);
        k += 1;
        if tally.in_flight.load(Ordering::Relaxed) as usize >= max_in_flight {
            if due >= window_from {
                dropped += 1;
            }
            continue;
        }
        if let Some(Ok(mut q)) = sent.get(c).map(|s| s.lock()) {
            q.push_back(due);
        }
        tally.in_flight.fetch_add(1, Ordering::Relaxed);
        if tx.try_send(Job { due, c, path }).is_err() {
            tally.in_flight.fetch_sub(1, Ordering::Relaxed);
            if let Some(Ok(mut q)) = sent.get(c).map(|s| s.lock()) {
                if let Some(pos) = q.iter().position(|t| *t == due) {
                    q.remove(pos);
                }
            }
            if due >= window_from {
                dropped += 1;
            }
        }
    }
    let offered_window = window_start.elapsed().as_secs_f64();
    let _ = mark("end").await;
    drop(tx);
    // The last requests and their frames still count (due inside the window): up to 30 s.
    for _ in 0..600 {
        if tally.in_flight.load(Ordering::Relaxed) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let unfinished = tally.in_flight.load(Ordering::Relaxed);
    for w in &workers {
        w.abort();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    measuring.store(false, Ordering::Relaxed);
    let loadavg_after = loadavg();
    let measured = (total - measure_from) as f64;
    let logged: i64 = db.query_one(stored, &[]).await?.get(0);
    let push = push.lock().await;
    let req = req.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let result = json!({
        "offered_per_s": a.rate,
        "offered_window_s": round(offered_window),
        "measured_views": measured,
        "answered_ok": tally.ok.load(Ordering::Relaxed),
        "delivered_pushes": pushed.load(Ordering::Relaxed),
        "delivered_per_s": round(pushed.load(Ordering::Relaxed) as f64 / offered_window.max(1e-9)),
        "request_p50_ms": ms(&req, 0.5),
        "request_p99_ms": ms(&req, 0.99),
        "push_p50_ms": ms(&push, 0.5),
        "push_p99_ms": ms(&push, 0.99),
        "push_max_ms": ms(&push, 1.0),
        "errors": tally.bad.load(Ordering::Relaxed),
        "first_error": first_error.lock().ok().and_then(|f| f.clone()),
        "connections": a.connections.max(1),
        "max_in_flight": max_in_flight,
        "dropped_by_generator": dropped,
        "sent_late_over_10ms": tally.late.load(Ordering::Relaxed),
        "reconnects": tally.reconnects.load(Ordering::Relaxed),
        "unfinished_at_end": unfinished,
        "rows_stored": logged,
        "push_by_second": pushes.seconds(),
        "rss_mib": node.rss_kib() / 1024,
        "reps": reps,
        "customers": customers,
        "loadavg_before": loadavg_before,
        "loadavg_after": loadavg_after,
    });
    drop(node);
    Ok(result)
}
