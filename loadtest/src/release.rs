//! Code release benchmark (issue 13): one operator releases to N sandbox mini programs
//! (ADM-81 commit, ADM-82 submit, ADM-83 poll with audits approved at once, ADM-85 release),
//! each a background batch polled through `GET /zhugeleida/admin/dai_xcx/batch/{id}` until done.
//! The sandbox runs as a child process on a real clock with N authorizers; every company
//! authorizes its mini program through the sandbox's headless grant (the `authorized` push to
//! the server's receiver) before the clock starts.
//!
//! With `--with-chat RATE`, chat clients (the `chat` generator of `main.rs`) connect to the same
//! node first; one chat phase at RATE msg/s runs without the batch, then the same load runs
//! again while the batch releases, measured for exactly as long as the batch takes (after an
//! unmeasured settle phase, `--chat-settle`). The report
//! gives the batch duration, each phase's chat latency and the p99 ratio (target ≤ 1.10).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::process::Command;

use super::{
    chat_phase, loadavg, median, prepare, round, signed, ChatArgs, ChatRig, Env, Node, DB,
};

#[derive(clap::Args, Debug, Clone)]
pub struct ReleaseArgs {
    /// Mini programs (one company each).
    #[arg(long, default_value_t = 1_000)]
    apps: usize,
    /// Apps worked on at once per batch (`ZGLD_RELEASE_CONCURRENCY`).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// The node's pace of release calls to WeChat, calls/s (`ZGLD_RELEASE_RATE`; 0 = unpaced).
    #[arg(long, default_value_t = 150)]
    rate: u32,
    /// Port of the sandbox child process.
    #[arg(long, default_value_t = 9150)]
    sandbox_port: u16,
    /// Niceness of the sandbox child process (`nice -n`). The sandbox stands in for WeChat's
    /// servers, which in production do not share the node's cores: at 19 it takes only cycles
    /// that chat, the server and PostgreSQL leave idle. 0 runs it like everything else.
    #[arg(long, default_value_t = 19)]
    sandbox_nice: u8,
    /// Port of the server node.
    #[arg(long, default_value_t = 18_200)]
    port: u16,
    /// Chat at this rate (msg/s) on the same node: a phase without the batch, then one during it.
    #[arg(long)]
    with_chat: Option<u64>,
    /// Chat WebSocket clients in all (salespeople + customers), as `chat --clients`.
    #[arg(long, default_value_t = 10_000)]
    chat_clients: usize,
    /// Salespeople among them.
    #[arg(long, default_value_t = 1_000)]
    chat_reps: usize,
    /// Customers that send.
    #[arg(long, default_value_t = 2_000)]
    chat_senders: usize,
    /// Measured seconds of the chat phase without the batch (the phase with it lasts the batch).
    #[arg(long, default_value_t = 30)]
    chat_seconds: u64,
    /// Unmeasured seconds at the start of each chat phase.
    #[arg(long, default_value_t = 3)]
    chat_warmup: u64,
    /// With `--with-chat`: rounds of the two chat phases, the order alternating (without, with;
    /// with, without; ...) so that a drift of the machine weighs on both alike; each round
    /// releases a new version to every app. The ratios compare the medians of the phases.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// With `--with-chat`: seconds of chat at the same rate before the first round, not
    /// measured. The first messages of 2,000 new conversations (and the node's and
    /// PostgreSQL's cold caches) made the first measured phase stall in three of five runs
    /// (docs/BENCHMARKS.md, tenth sitting); the settle phase's figures are reported apart.
    #[arg(long, default_value_t = 15)]
    chat_settle: u64,
}

async fn db(env: &Env) -> anyhow::Result<tokio_postgres::Client> {
    let (db, conn) =
        tokio_postgres::connect(&format!("{}/{DB}", env.pg), tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(db)
}

/// Starts the sandbox with `apps` authorizers, a real clock and audits approved at once.
async fn sandbox(
    env: &Env,
    apps: usize,
    port: u16,
    nice: u8,
) -> anyhow::Result<tokio::process::Child> {
    let authorizers: Vec<Value> = (1..=apps)
        .map(|n| {
            json!({"appid": format!("wxsbxma{n:010}"), "kind": "miniprogram",
                   "nick_name": format!("沙盒小程序{n}"), "principal_name": format!("沙盒公司{n}"),
                   "func_ids": [17, 18]})
        })
        .collect();
    let seed = json!({
        "clock": {"mode": "real"},
        "component": {},
        "authorizers": authorizers,
        "templates": [{"template_id": 1, "user_version": "1.0.1", "user_desc": "bench",
                        "create_time": 1_533_469_940, "pages": ["pages/index/index", "pages/card/index"]}],
        "categories": [{"first_class": "工具", "first_id": 1, "second_class": "效率", "second_id": 2}],
        "audit": {"mode": "auto", "auto_delay_secs": 0, "auto_outcome": 0, "push_events": false},
    });
    // A sandbox left on the port by an earlier run would answer in this one's place.
    std::net::TcpListener::bind(("127.0.0.1", port)).with_context(|| {
        format!("port {port} of the sandbox is taken (a sandbox left running?)")
    })?;
    let path = std::env::temp_dir().join(format!("zgld-release-seed-{port}.json"));
    std::fs::write(&path, serde_json::to_vec(&seed)?)?;
    let mut child = Command::new("nice")
        .arg("-n")
        .arg(nice.to_string())
        .arg(&env.server)
        .arg("wechat-sandbox")
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--seed")
        .arg(&path)
        .env("ZGLD_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .context("starting the sandbox")?;
    let http = reqwest::Client::new();
    for _ in 0..200 {
        // Another sandbox left on the port would answer for it: the child must still run.
        if let Some(status) = child.try_wait()? {
            bail!("the sandbox exited at once ({status}): is port {port} taken?");
        }
        if http
            .get(format!("http://127.0.0.1:{port}/__sandbox/clock"))
            .send()
            .await
            .is_ok()
        {
            return Ok(child);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the sandbox did not come up")
}

/// One ADM-81..86 call and the poll of its batch until done: (seconds, batch JSON).
async fn batch(
    http: &reqwest::Client,
    base: &str,
    op: usize,
    path: &str,
    form: &[(&str, String)],
) -> anyhow::Result<(f64, Value)> {
    let t0 = Instant::now();
    // Distinct timestamps: a write's signature is spent once.
    tokio::time::sleep(Duration::from_millis(3)).await;
    let r: Value = http
        .post(format!(
            "{base}/zhugeleida/admin/dai_xcx/{path}?{}",
            signed('u', op)
        ))
        .form(form)
        .send()
        .await?
        .json()
        .await?;
    let Some(id) = r["data"]["batch_id"].as_i64() else {
        bail!("{path}: {r}");
    };
    loop {
        let b: Value = http
            .get(format!(
                "{base}/zhugeleida/admin/dai_xcx/batch/{id}?{}",
                signed('u', op)
            ))
            .send()
            .await?
            .json()
            .await?;
        if b["data"]["status"] == "done" {
            let mut d = b["data"].clone();
            if let Some(m) = d.as_object_mut() {
                m.remove("apps");
                m.insert("answer_code".into(), r["code"].clone());
            }
            return Ok((t0.elapsed().as_secs_f64(), d));
        }
        // As the console does (docs/screens.md: polled each second; it was every 100 ms here,
        // ten times the console's load). A batch is seen done up to a second late, as by an
        // operator, and the next one starts then.
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// How often the operator's console reads a running batch (src/web/console/app.js).
const POLL_EVERY: Duration = Duration::from_secs(1);

/// Commit, submit, poll (audits approved at once), release: each batch's seconds and JSON.
async fn release_all(
    http: &reqwest::Client,
    base: &str,
    op: usize,
    list: &str,
    version: &str,
) -> anyhow::Result<Value> {
    let t0 = Instant::now();
    let load0 = loadavg();
    let (commit_s, commit) = batch(
        http,
        base,
        op,
        "upload_code",
        &[
            ("app_ids_list", list.to_owned()),
            ("template_id", "1".into()),
            ("user_version", version.to_owned()),
            ("user_desc", "bench".into()),
        ],
    )
    .await?;
    let ids = [("app_ids_list", list.to_owned())];
    let (submit_s, submit) = batch(http, base, op, "submit_audit", &ids).await?;
    let (poll_s, poll) = batch(http, base, op, "get_latest_audit_status", &[]).await?;
    let (release_s, release) = batch(http, base, op, "relase_code", &ids).await?;
    Ok(json!({
        "commit_secs": round(commit_s),
        "submit_secs": round(submit_s),
        "poll_secs": round(poll_s),
        "release_secs": round(release_s),
        "total_secs": round(t0.elapsed().as_secs_f64()),
        "batches": {"commit": commit, "submit": submit, "poll": poll, "release": release},
        "loadavg_before": load0,
        "loadavg_after": loadavg(),
    }))
}

/// A chat phase's field: chat messages whose commit took the server over 50 ms in the phase
/// (warm-up included), from its `zgld_chat_stage_seconds{stage="store"}` histogram. A commit
/// waits for PostgreSQL's WAL flush, so these count the disk's stalls that chat met: a p99
/// moves with them whether or not a batch runs (docs/BENCHMARKS.md, twelfth sitting).
const SLOW_STORES: &str = "server_stores_over_50ms";

/// The node's count of chat stores over 50 ms so far (`None` if `/metrics` did not answer).
async fn slow_stores(http: &reqwest::Client, base: &str) -> Option<u64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let bucket = |le: &str| -> Option<u64> {
        let key = format!("zgld_chat_stage_seconds_bucket{{stage=\"store\",le=\"{le}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
    };
    Some(bucket("+Inf")?.saturating_sub(bucket("0.05")?))
}

fn note_slow_stores(phase: &mut Value, before: Option<u64>, after: Option<u64>) {
    if let Some(m) = phase.as_object_mut() {
        let n = before.zip(after).map(|(b, a)| a.saturating_sub(b));
        m.insert(SLOW_STORES.into(), json!(n));
    }
}

pub async fn run(env: &Env, a: &ReleaseArgs) -> anyhow::Result<Value> {
    let chat_args = a.with_chat.map(|rate| ChatArgs {
        clients: a.chat_clients,
        reps: a.chat_reps.max(1),
        rate,
        senders: a.chat_senders,
        window: 4,
        seconds: a.chat_seconds,
        warmup: a.chat_warmup,
        nodes: 1,
        bare: false,
        step_rates: vec![],
        p99_limit_ms: 50.0,
    });
    let (reps, customers) = match &chat_args {
        Some(c) => (c.reps, c.clients.saturating_sub(c.reps).max(1)),
        None => (1, 1),
    };
    prepare(env, reps, customers).await?;
    let n = a.apps;
    let db = db(env).await?;
    // The platform operator: a user of its own (role 1) in the bench company, signed in as
    // `signed('u', id)`; one company per mini program, appid entered (step 2).
    let op: i64 = db
        .query_one(
            "insert into user_profile (company_id, role_id, userid, login_user, username)
             values (1, 1, 'operator', 'operator', 'operator') returning id",
            &[],
        )
        .await?
        .get(0);
    db.execute(
        "insert into auth_session (user_id, token) values ($1, md5('bench-u' || $2))",
        &[&op, &op.to_string()],
    )
    .await?;
    let op = usize::try_from(op)?;
    db.batch_execute(&format!(
        "select setval(pg_get_serial_sequence('company', 'id'), (select max(id) from company));
         insert into company (name, mingpian_available_num)
           select '公司' || g, 10 from generate_series(1, {n}) g;
         insert into wx_authorizer (company_id, kind, appid, step)
           select c.id, 1, 'wxsbxma' || lpad(g::text, 10, '0'), 2
           from generate_series(1, {n}) g join company c on c.name = '公司' || g;"
    ))
    .await?;
    let mut sandbox = sandbox(env, n, a.sandbox_port, a.sandbox_nice).await?;
    let sb = format!("http://127.0.0.1:{}", a.sandbox_port);
    let concurrency = a.concurrency.to_string();
    let rate = a.rate.to_string();
    let node = Node::start(
        env,
        a.port,
        false,
        &[
            ("ZGLD_WECHAT_SANDBOX", sb.as_str()),
            ("ZGLD_RELEASE_CONCURRENCY", concurrency.as_str()),
            ("ZGLD_RELEASE_RATE", rate.as_str()),
            ("ZGLD_RELEASE_WAIT_SECS", "0"),
            ("ZGLD_RELEASE_BACKOFF_MS", "200"),
        ],
    )
    .await?;
    let base = format!("http://127.0.0.1:{}", node.port);
    let http = reqwest::Client::new();
    http.post(format!("{sb}/__sandbox/component/target"))
        .json(&json!({
            "event_url": format!("{base}/zhugeleida/admin/open_weixin/component_event"),
            "message_url_template": format!("{base}/zhugeleida/admin/open_weixin/message/$APPID$"),
        }))
        .send()
        .await?;
    http.post(format!("{sb}/__sandbox/component/push_ticket"))
        .json(&json!({}))
        .send()
        .await?;
    // Every company authorizes (the push finishes it on the server).
    let t_auth = Instant::now();
    let granted: Vec<bool> = futures_util::stream::iter(1..=n)
        .map(|i| {
            let (http, sb) = (http.clone(), sb.clone());
            async move {
                http.post(format!("{sb}/__sandbox/component/authorize"))
                    .json(&json!({"authorizer_appid": format!("wxsbxma{i:010}")}))
                    .send()
                    .await
                    .is_ok()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let authorized: i64 = db
        .query_one("select count(*) from wx_authorizer where authorized", &[])
        .await?
        .get(0);
    let auth_secs = t_auth.elapsed().as_secs_f64();
    if authorized != n as i64 {
        bail!(
            "only {authorized} of {n} apps authorized ({} grant calls failed)",
            granted.iter().filter(|g| !**g).count()
        );
    }
    let ids: Vec<i64> = db
        .query(
            "select id from wx_authorizer where authorized order by id",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let list = serde_json::to_string(&ids)?;

    let (batch_report, chat) = match &chat_args {
        None => (
            release_all(&http, &base, op, &list, "v1.0.1").await?,
            Value::Null,
        ),
        Some(c) => {
            let mut rig = ChatRig::connect(c, reps, customers, node.port, node.port).await?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            rig.go();
            let settle = if a.chat_settle > 0 {
                eprintln!(
                    "[release] settling: chat at {} msg/s for {} s, not measured",
                    c.rate, a.chat_settle
                );
                let s = ChatArgs {
                    seconds: a.chat_settle,
                    ..c.clone()
                };
                chat_phase(&mut rig, &s, c.rate, None).await?
            } else {
                Value::Null
            };
            let (mut without, mut with, mut reports) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..a.rounds.max(1) {
                for batch in crate::round_order(round) {
                    if !batch {
                        eprintln!(
                            "[release] round {}: chat at {} msg/s without the batch",
                            round + 1,
                            c.rate
                        );
                        let before = slow_stores(&http, &base).await;
                        let mut phase = chat_phase(&mut rig, c, c.rate, None).await?;
                        note_slow_stores(&mut phase, before, slow_stores(&http, &base).await);
                        without.push(phase);
                        continue;
                    }
                    eprintln!(
                        "[release] round {}: the same chat while releasing to {n} apps",
                        round + 1
                    );
                    let done = std::sync::Arc::new(tokio::sync::Mutex::new(None));
                    let version = format!("v1.0.{}", round + 1);
                    let until = {
                        let (http, base, list, done) =
                            (http.clone(), base.clone(), list.clone(), done.clone());
                        // Polled only once the phase's warm-up is over: the batch starts as the
                        // measurement does and the measurement ends with it.
                        Box::pin(async move {
                            let r = release_all(&http, &base, op, &list, &version).await;
                            *done.lock().await = Some(r);
                        })
                    };
                    let before = slow_stores(&http, &base).await;
                    let mut phase = chat_phase(&mut rig, c, c.rate, Some(until)).await?;
                    note_slow_stores(&mut phase, before, slow_stores(&http, &base).await);
                    with.push(phase);
                    reports.push(
                        done.lock()
                            .await
                            .take()
                            .context("the batch did not finish")??,
                    );
                }
            }
            let errors = rig
                .counters
                .errors
                .load(std::sync::atomic::Ordering::Relaxed);
            rig.close();
            let q = |v: &[Value], k: &str| -> Vec<f64> {
                v.iter()
                    .map(|p| p["latency_ms"][k].as_f64().unwrap_or(f64::NAN))
                    .collect()
            };
            let ratio = |k: &str| round(median(q(&with, k)) / median(q(&without, k)));
            let slow =
                |v: &[Value]| -> Vec<Value> { v.iter().map(|p| p[SLOW_STORES].clone()).collect() };
            let chat = json!({
                "rate": c.rate,
                "clients": c.clients,
                "reps": c.reps,
                "senders": c.senders,
                "rounds": a.rounds.max(1),
                "p50_without_ms": q(&without, "p50"),
                "p50_with_ms": q(&with, "p50"),
                "p99_without_ms": q(&without, "p99"),
                "p99_with_ms": q(&with, "p99"),
                "stores_over_50ms_without": slow(&without),
                "stores_over_50ms_with": slow(&with),
                "p50_ratio": ratio("p50"),
                "p99_ratio": ratio("p99"),
                "settle_secs": a.chat_settle,
                "settle": settle,
                "without_batch": without,
                "with_batch": with,
                "chat_errors": errors,
            });
            let mut batch_report = reports.last().cloned().unwrap_or(Value::Null);
            if let Some(m) = batch_report.as_object_mut() {
                let secs: Vec<Value> = reports.iter().map(|r| r["total_secs"].clone()).collect();
                m.insert("total_secs_by_round".into(), Value::Array(secs));
            }
            (batch_report, chat)
        }
    };
    let total = batch_report["total_secs"].as_f64().unwrap_or(f64::NAN);
    let live: i64 = db
        .query_one("select count(*) from wx_release where status = 7", &[])
        .await?
        .get(0);
    let _ = sandbox.kill().await;
    let mut report = json!({
        "bench": "code_release",
        "apps": n,
        "concurrency": a.concurrency,
        "release_rate": a.rate,
        "sandbox_nice": a.sandbox_nice,
        "authorize_secs": round(auth_secs),
        "total_secs": total,
        "released": live,
        "target": if chat.is_null() {
            "total_secs <= 60 with released == apps"
        } else {
            "total_secs <= 60 with released == apps, chat.p99_ratio <= 1.10"
        },
    });
    if let (Some(r), Some(b)) = (report.as_object_mut(), batch_report.as_object()) {
        for (k, v) in b {
            r.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if !chat.is_null() {
            r.insert("chat".into(), chat);
        }
    }
    Ok(report)
}
