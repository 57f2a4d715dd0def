//! The simulated token run (issue 13): two server nodes (separate processes, one PostgreSQL
//! database, one Redis) against one sandbox whose clock runs `--factor` times faster than the
//! wall clock. WeChat tokens live two simulated hours; the sandbox reports `expires_in` in real
//! seconds (`7200 / factor`), so the unmodified server renews them on its own schedule
//! (docs/wechat-sandbox.md "Scaled clock").
//!
//! Timeline in sandbox time: during a warm-up of one token lifetime the `--apps` companies
//! authorize their mini programs one after another (evenly staggered), so their tokens' deaths
//! are spread like an installation's in steady state; then the measured window of `--sim-hours`.
//! Traffic runs the whole time on both nodes: customer logins through a company's mini program
//! (XCX-01 → `sns/component/jscode2session`, component token) and salespeople's mini-program
//! codes (QYW-46 → `wxa/getwxacodeunlimit`, the company's authorizer token). At the end the
//! sandbox's token report (`GET /__sandbox/tokens/report`) gives the calls that arrived with a
//! dead token (must be 0) and how each token's successor came: once and in time, a second
//! renewal within one lifetime (double), or after it died (late). Exit status 1 when any is
//! off.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use md5::Digest;
use serde_json::{json, Value};
use tokio::process::Command;

use super::{loadavg, pct_ms, prepare, round, token, Env, Node, DB};

/// WeChat's token lifetime, sandbox seconds.
const TTL: i64 = 7200;

#[derive(clap::Args, Debug, Clone)]
pub struct TokenSimArgs {
    /// Simulated length of the measured window, hours (after a warm-up of one token lifetime).
    #[arg(long, default_value_t = 1.0)]
    sim_hours: f64,
    /// Sandbox seconds per real second (120: the 3 simulated hours take 90 s).
    #[arg(long, default_value_t = 120.0)]
    factor: f64,
    /// Companies, each authorizing one mini program.
    #[arg(long, default_value_t = 100)]
    apps: usize,
    /// Requests per second offered to the two nodes (half logins, half mini-program codes).
    #[arg(long, default_value_t = 40)]
    rate: u64,
    /// The nodes' `ZGLD_TOKEN_RENEWER_MS`; default a tenth of the renewal margin
    /// (10 simulated minutes, in real time), at most 20 s.
    #[arg(long)]
    renewer_ms: Option<u64>,
    #[arg(long, default_value_t = 9160)]
    sandbox_port: u16,
    /// Node 1 listens here, node 2 on the next port.
    #[arg(long, default_value_t = 18_210)]
    port: u16,
}

async fn sandbox(env: &Env, a: &TokenSimArgs) -> anyhow::Result<tokio::process::Child> {
    let authorizers: Vec<Value> = (1..=a.apps)
        .map(|n| {
            json!({"appid": format!("wxsbxma{n:010}"), "kind": "miniprogram",
                   "nick_name": format!("沙盒小程序{n}"), "principal_name": format!("沙盒公司{n}"),
                   "func_ids": [17, 18]})
        })
        .collect();
    let seed = json!({
        "clock": {"mode": "scaled", "factor": a.factor},
        "allow_unknown_openid": true,
        "component": {},
        "authorizers": authorizers,
    });
    let path = std::env::temp_dir().join(format!("zgld-token-sim-seed-{}.json", a.sandbox_port));
    std::fs::write(&path, serde_json::to_vec(&seed)?)?;
    let child = Command::new(&env.server)
        .arg("wechat-sandbox")
        .arg("--bind")
        .arg(format!("127.0.0.1:{}", a.sandbox_port))
        .arg("--seed")
        .arg(&path)
        .env("ZGLD_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .context("starting the sandbox")?;
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http
            .get(format!(
                "http://127.0.0.1:{}/__sandbox/clock",
                a.sandbox_port
            ))
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

async fn sandbox_now(http: &reqwest::Client, sb: &str) -> anyhow::Result<i64> {
    let v: Value = http
        .get(format!("{sb}/__sandbox/clock"))
        .send()
        .await?
        .json()
        .await?;
    v["now"].as_i64().context("clock answer")
}

/// The signed triple of bench user `id` with a timestamp (ms) no other request of this run
/// used: requests that queue up on a busy machine leave in bursts, and two of one salesperson
/// in the same millisecond would carry the same signature, which the replay guard refuses.
fn signed_unique(id: usize) -> String {
    static LAST_MS: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let prev = LAST_MS
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(now);
    let ts = now.max(prev + 1).to_string();
    let sig = hex::encode(md5::Md5::digest(
        format!("{ts}{}", token('u', id)).as_bytes(),
    ));
    format!("rand_str={sig}&timestamp={ts}&user_id={id}")
}

/// Real time until sandbox time `at`.
fn real_until(at: i64, now: i64, factor: f64) -> Duration {
    Duration::from_secs_f64((at - now).max(0) as f64 / factor)
}

#[derive(Default)]
struct Tally {
    login_ok: AtomicU64,
    code_ok: AtomicU64,
    failed: AtomicU64,
}

pub async fn run(env: &Env, a: &TokenSimArgs) -> anyhow::Result<(bool, Value)> {
    let n = a.apps.max(1);
    let window = (a.sim_hours * 3600.0).round() as i64;
    // The renewal margin is a twelfth of the lifetime: 600 simulated seconds.
    let margin_real = 600.0 / a.factor;
    let renewer_ms = a
        .renewer_ms
        .unwrap_or_else(|| ((margin_real * 100.0) as u64).clamp(20, 20_000));
    prepare(env, 1, 1).await?;
    let (db, conn) =
        tokio_postgres::connect(&format!("{}/{DB}", env.pg), tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    // One company per mini program (appid entered: step 2) with one salesperson signed in.
    db.batch_execute(&format!(
        "select setval(pg_get_serial_sequence('company', 'id'), (select max(id) from company));
         insert into company (name, mingpian_available_num)
           select '模拟公司' || g, 10 from generate_series(1, {n}) g;
         insert into wx_authorizer (company_id, kind, appid, step)
           select c.id, 1, 'wxsbxma' || lpad(g::text, 10, '0'), 2
           from generate_series(1, {n}) g join company c on c.name = '模拟公司' || g;
         insert into user_profile (company_id, role_id, userid, login_user, username)
           select c.id, 3, 'sim' || g, 'sim' || g, 'sim' || g
           from generate_series(1, {n}) g join company c on c.name = '模拟公司' || g;
         insert into auth_session (user_id, token)
           select id, md5('bench-u' || id) from user_profile where userid like 'sim%';"
    ))
    .await?;
    let reps: Vec<(String, i64)> = db
        .query(
            "select w.appid, u.id from wx_authorizer w join user_profile u on u.company_id = w.company_id
             order by w.appid",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let static_dir = std::env::temp_dir().join(format!("zgld-token-sim-{}", a.port));
    let _ = std::fs::remove_dir_all(&static_dir);
    std::fs::create_dir_all(&static_dir)?;
    let mut sandbox = sandbox(env, a).await?;
    let sb = format!("http://127.0.0.1:{}", a.sandbox_port);
    let renewer = renewer_ms.to_string();
    let static_str = static_dir.to_string_lossy().into_owned();
    let extra = [
        ("ZGLD_WECHAT_SANDBOX", sb.as_str()),
        ("ZGLD_TOKEN_RENEWER_MS", renewer.as_str()),
        ("ZGLD_STATIC_DIR", static_str.as_str()),
    ];
    let node1 = Node::start(env, a.port, true, &extra).await?;
    let node2 = Node::start(env, a.port + 1, true, &extra).await?;
    let bases = [
        format!("http://127.0.0.1:{}", node1.port),
        format!("http://127.0.0.1:{}", node2.port),
    ];
    let http = reqwest::Client::new();
    http.post(format!("{sb}/__sandbox/component/target"))
        .json(&json!({
            "event_url": format!("{}/zhugeleida/admin/open_weixin/component_event", bases[0]),
            "message_url_template": format!("{}/zhugeleida/admin/open_weixin/message/$APPID$", bases[0]),
        }))
        .send()
        .await?;
    let push: Value = http
        .post(format!("{sb}/__sandbox/component/push_ticket"))
        .json(&json!({}))
        .send()
        .await?
        .json()
        .await?;
    if push["push"]["reply"] != "success" {
        bail!("ticket push refused: {push}");
    }
    let start = sandbox_now(&http, &sb).await?;
    let window_start = start + TTL;
    let end = window_start + window;
    let t_real = Instant::now();
    eprintln!(
        "[token-sim] {n} apps, factor {}, warm-up {TTL} + window {window} sandbox s ≈ {:.0} s real, renewer {renewer_ms} ms",
        a.factor,
        (TTL + window) as f64 / a.factor
    );

    // WeChat pushes a fresh verify ticket every 10 minutes; once a simulated hour is plenty
    // (a ticket buys tokens for 12 hours).
    let tickets = {
        let (http, sb, factor) = (http.clone(), sb.clone(), a.factor);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs_f64(3600.0 / factor)).await;
                let _ = http
                    .post(format!("{sb}/__sandbox/component/push_ticket"))
                    .json(&json!({}))
                    .send()
                    .await;
            }
        })
    };
    // Staggered authorizations over the warm-up, each on its own.
    let authorized = Arc::new(AtomicU64::new(0));
    let grant_failures = Arc::new(AtomicU64::new(0));
    let grants: Vec<_> = (1..=n)
        .map(|i| {
            let (http, sb, authorized, failures, factor) = (
                http.clone(),
                sb.clone(),
                authorized.clone(),
                grant_failures.clone(),
                a.factor,
            );
            tokio::spawn(async move {
                let at = start + TTL * (i as i64 - 1) / n as i64;
                tokio::time::sleep(real_until(at, start, factor)).await;
                let ok = match http
                    .post(format!("{sb}/__sandbox/component/authorize"))
                    .json(&json!({"authorizer_appid": format!("wxsbxma{i:010}")}))
                    .send()
                    .await
                {
                    Ok(r) => r
                        .json::<Value>()
                        .await
                        .is_ok_and(|v| v["auth_code"].is_string()),
                    Err(_) => false,
                };
                if ok {
                    authorized.fetch_add(1, Ordering::SeqCst);
                } else {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    // Open-loop traffic at `rate`, alternating nodes and kinds, only for apps granted already
    // (grants finish in order, give or take the newest).
    let tally = Arc::new(Tally::default());
    let hist = Arc::new(std::sync::Mutex::new(Histogram::<u64>::new_with_bounds(
        1_000,
        60_000_000_000,
        3,
    )?));
    let first_failure = Arc::new(std::sync::Mutex::new(None::<String>));
    let reps = Arc::new(reps);
    let stop_at = t_real + real_until(end, start, a.factor);
    let mut sent = 0u64;
    let mut inflight = tokio::task::JoinSet::new();
    let period = Duration::from_secs_f64(1.0 / a.rate.max(1) as f64);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while Instant::now() < stop_at {
        tick.tick().await;
        while inflight.try_join_next().is_some() {}
        let live = authorized.load(Ordering::SeqCst) as usize;
        if live < 2 {
            continue;
        }
        sent += 1;
        // Leave out the newest grant: it may still be being finished on the server.
        let app = sent as usize % (live - 1);
        let base = bases[(sent % 2) as usize].clone();
        let (http, tally, hist, first_failure, reps) = (
            http.clone(),
            tally.clone(),
            hist.clone(),
            first_failure.clone(),
            reps.clone(),
        );
        let login = (sent / 2).is_multiple_of(2);
        inflight.spawn(async move {
            let Some((appid, rep)) = reps.get(app).cloned() else {
                return;
            };
            let t0 = Instant::now();
            let answer = if login {
                http.get(format!("{base}/zhugeleida/xiaochengxu/login"))
                    .query(&[
                        ("code", format!("sandbox-o_sim{}.{sent}", sent % 50)),
                        ("user_type", "2".into()),
                        ("source", "1".into()),
                        ("appid", appid),
                    ])
                    .send()
                    .await
            } else {
                http.get(format!(
                    "{base}/zhugeleida/qiyeweixin/qr_code_auth?{}",
                    signed_unique(rep as usize)
                ))
                .send()
                .await
            };
            let v: Value = match answer {
                Ok(r) => r.json().await.unwrap_or(Value::Null),
                Err(e) => json!({"transport": e.to_string()}),
            };
            if let Ok(mut h) = hist.lock() {
                let _ = h.record((t0.elapsed().as_nanos() as u64).max(1_000));
            }
            if v["code"] == 200 {
                let c = if login {
                    &tally.login_ok
                } else {
                    &tally.code_ok
                };
                c.fetch_add(1, Ordering::Relaxed);
            } else {
                tally.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut f) = first_failure.lock() {
                    f.get_or_insert(v.to_string());
                }
            }
        });
    }
    while inflight.join_next().await.is_some() {}
    for g in grants {
        let _ = g.await;
    }
    tickets.abort();
    let real_secs = t_real.elapsed().as_secs_f64();
    let report: Value = http
        .get(format!("{sb}/__sandbox/tokens/report"))
        .query(&[("kinds", "component,authorizer"), ("detail", "1")])
        .send()
        .await?
        .json()
        .await?;
    let stored: i64 = db
        .query_one(
            "select ((select coalesce(sum(renewals), 0) from wx_authorizer)
                  + (select coalesce(sum(renewals), 0) from wx_component))::int8",
            &[],
        )
        .await?
        .get::<_, i64>(0);
    // Renewals inside the measured window: issues in it that had a predecessor.
    let mut renewals_in_window = json!({"component": 0, "authorizer": 0});
    let mut issued_total = 0i64;
    let mut renewed_tokens = 0;
    for t in report["tokens"].as_array().into_iter().flatten() {
        let issued: Vec<i64> = t["issued"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
            .collect();
        issued_total += issued.len() as i64;
        let in_window = issued
            .iter()
            .skip(1)
            .filter(|s| (window_start..end).contains(*s))
            .count() as i64;
        renewed_tokens += usize::from(in_window > 0);
        let kind = t["kind"].as_str().unwrap_or("other").to_owned();
        renewals_in_window[&kind] =
            json!(renewals_in_window[&kind].as_i64().unwrap_or(0) + in_window);
    }
    let least_left = report["least_life_left_at_renewal_secs"].as_i64();
    let failed = tally.failed.load(Ordering::Relaxed);
    let ok = report["ok"] == true
        && failed == 0
        && grant_failures.load(Ordering::SeqCst) == 0
        && stored == issued_total
        && report["now"].as_i64().unwrap_or(0) >= end;
    let latency = hist.lock().map(|h| pct_ms(&h)).unwrap_or(Value::Null);
    let _ = sandbox.kill().await;
    drop((node1, node2));
    let _ = std::fs::remove_dir_all(&static_dir);
    Ok((
        ok,
        json!({
            "bench": "token_sim",
            "nodes": 2,
            "apps": n,
            "factor": a.factor,
            "token_lifetime_sim_secs": TTL,
            "expires_in_reported_real_secs": (TTL as f64 / a.factor).floor().max(1.0),
            "renewer_ms": renewer_ms,
            "warmup_sim_secs": TTL,
            "window_sim_secs": window,
            "real_secs": round(real_secs),
            "requests": {
                "offered": sent,
                "login_ok": tally.login_ok.load(Ordering::Relaxed),
                "wxacode_ok": tally.code_ok.load(Ordering::Relaxed),
                "failed": failed,
                "first_failure": *first_failure.lock().map_err(|_| anyhow::anyhow!("lock"))?,
                "latency_ms": latency,
            },
            "grants_failed": grant_failures.load(Ordering::SeqCst),
            "expired_token_uses": report["expired_uses"],
            "expired_samples": report["expired_samples"],
            "token_issues": issued_total,
            "server_counted_issues": stored,
            "renewals_in_window": renewals_in_window,
            "tokens_renewed_in_window": renewed_tokens,
            "renewed_once": report["renewed_once"],
            "double_renewals": report["double_renewals"],
            "late_renewals": report["late_renewals"],
            "dead_at_end": report["dead_at_end"],
            "least_life_left_at_renewal": {
                "sim_secs": least_left,
                "real_secs": least_left.map(|s| round(s as f64 / a.factor)),
            },
            "problems": report["problems"],
            "ok": ok,
            "target": "expired_token_uses == 0, double_renewals == 0, late_renewals == 0, dead_at_end == 0 (each token renewed exactly once per lifetime)",
            "loadavg": loadavg(),
        }),
    ))
}
