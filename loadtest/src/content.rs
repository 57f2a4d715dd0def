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

/// Customer views (product detail and website, alternating) offered open-loop at `rate`/s.
pub async fn views(env: &Env, a: &ViewArgs) -> anyhow::Result<Value> {
    let setup = format!(
        "insert into product (id, company_id, user_id, product_type, name, price, reason, content, cover_data)
           values (1, 1, 1, 1, '门票', '128', '理由', '{CONTENT}', '{COVER}');
         insert into website (company_id, website_content)
           values (1, '[{{\"type\":\"guntu\",\"data\":[{{\"picture_url\":\"statics/w/1.png\"}}]}}]');"
    );
    let path = |k: usize, rep: usize| {
        if k.is_multiple_of(2) {
            format!("xiaochengxu/product/product_single?product_id=1&uid={rep}")
        } else {
            format!("xiaochengxu/website?uid={rep}")
        }
    };
    open_loop(
        env,
        a,
        &setup,
        path,
        "select count(*) from action_log where action in (2, 4)",
    )
    .await
}

/// Whether a reply body is the envelope with code 200 (`{"code":200,…}`).
pub(crate) fn ok_envelope(body: &[u8]) -> bool {
    body.strip_prefix(br#"{"code":200"#)
        .is_some_and(|rest| matches!(rest.first(), Some(b',' | b'}')))
}

/// Customer requests that are radar events, offered open-loop at `a.rate`/s (request `k` of
/// customer `c` goes to `path(k, salesperson of c)` under `/zhugeleida/`, signed by `c`), the
/// salespeople on WebSockets: delivered rate, request and push latency from each request's
/// scheduled time. `setup` runs on the fresh database first; `stored` counts what was written.
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
    let db = db(env).await?;
    db.batch_execute(setup).await?;
    let node = Node::start(env, 18_601, false, &[]).await?;
    let port = node.port;
    let start = Instant::now();
    // Scheduled send times of each customer's views whose frame has not come, and the pushes.
    let crate::radar::Pushes {
        sent,
        push,
        pushed,
        measuring,
        ..
    } = crate::radar::listen_reps(port, reps, customers, start).await?;
    let req = Arc::new(Mutex::new(hist()?));
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .build()?;
    let interval_us = 1_000_000f64 / a.rate.max(1) as f64;
    let total = ((a.warmup + a.seconds) * a.rate) as usize;
    let measure_from = (a.warmup * a.rate) as usize;
    let loadavg_before = loadavg();
    let t_begin = start.elapsed().as_micros() as u64 + 20_000;
    let mut k = 0usize;
    let mut late = 0u64;
    let mut tasks = Vec::with_capacity(total);
    let mut window_start = Instant::now();
    while k < total {
        let due = t_begin + (k as f64 * interval_us) as u64;
        let now = start.elapsed().as_micros() as u64;
        if due > now {
            tokio::time::sleep(Duration::from_micros((due - now).min(1_000))).await;
            continue;
        }
        if now > due + 10_000 {
            late += 1;
        }
        if k == measure_from {
            measuring.store(true, Ordering::Relaxed);
            window_start = Instant::now();
        }
        let c = (k % customers) + 1;
        let rep = ((c - 1) % reps) + 1;
        let url = format!(
            "http://127.0.0.1:{port}/zhugeleida/{}&{}",
            path(k, rep),
            signed('c', c)
        );
        if let Some(Ok(mut q)) = sent.get(c).map(|s| s.lock()) {
            q.push_back(due);
        }
        let first_error = first_error.clone();
        let (http, ok, bad, req, sent, measuring) = (
            http.clone(),
            ok.clone(),
            bad.clone(),
            req.clone(),
            sent.clone(),
            measuring.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let answer = match http.get(url).send().await {
                Ok(r) => r.bytes().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            // The envelope's first key is `code` (src/api/reply.rs): checked without parsing
            // the body, so the generator spends its CPU on sending (it shares the 2 cores).
            let good = matches!(&answer, Ok(b) if ok_envelope(b));
            if !good {
                if let Ok(mut first) = first_error.lock() {
                    first.get_or_insert_with(|| match answer {
                        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                        Err(e) => e,
                    });
                }
            }
            let done = start.elapsed().as_micros() as u64;
            if good {
                if measuring.load(Ordering::Relaxed) {
                    ok.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut h) = req.lock() {
                        let _ = h.record(done.saturating_sub(due).max(1));
                    }
                }
            } else {
                if let Some(Ok(mut q)) = sent.get(c).map(|s| s.lock()) {
                    if let Some(pos) = q.iter().position(|t| *t == due) {
                        q.remove(pos);
                    }
                }
                bad.fetch_add(1, Ordering::Relaxed);
            }
        }));
        k += 1;
    }
    let offered_window = window_start.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
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
        "answered_ok": ok.load(Ordering::Relaxed),
        "delivered_pushes": pushed.load(Ordering::Relaxed),
        "delivered_per_s": round(pushed.load(Ordering::Relaxed) as f64 / offered_window.max(1e-9)),
        "request_p50_ms": ms(&req, 0.5),
        "request_p99_ms": ms(&req, 0.99),
        "push_p50_ms": ms(&push, 0.5),
        "push_p99_ms": ms(&push, 0.99),
        "push_max_ms": ms(&push, 1.0),
        "errors": bad.load(Ordering::Relaxed),
        "first_error": first_error.lock().ok().and_then(|f| f.clone()),
        "sent_late_over_10ms": late,
        "rows_stored": logged,
        "rss_mib": node.rss_kib() / 1024,
        "reps": reps,
        "customers": customers,
        "loadavg_before": loadavg_before,
        "loadavg_after": loadavg_after,
    });
    drop(node);
    Ok(result)
}
