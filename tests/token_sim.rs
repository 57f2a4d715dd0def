#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The simulated token run of issue 13, short: two server nodes on one database against one
//! sandbox whose clock runs 600 times faster than the wall clock, so the WeChat tokens
//! (2 simulated hours) die every 12 real seconds and the server's 10-minute renewal margin is
//! one real second. Companies authorize their mini programs at
//! staggered times during the first simulated half hour; logins (XCX-01, component token) and
//! mini-program codes (QYW-46, authorizer tokens) go to both nodes the whole time. After two and a
//! half simulated hours the sandbox's token report must show no call with a dead token and every
//! token renewed exactly once per lifetime, by one node. `loadtest token-sim` is the long run.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use zhugeleida::wechat::sandbox::{self, SandboxConfig};

const FACTOR: f64 = 600.0;
const APPS: usize = 24;
/// Authorizations spread over the first simulated half hour; the run ends at two and a half
/// hours (15 s of real time).
const STAGGER_SECS: i64 = 1800;
const RUN_SECS: i64 = 9000;

fn seed() -> SandboxConfig {
    let authorizers: Vec<Value> = (1..=APPS)
        .map(|n| {
            json!({"appid": format!("wxsbxma{n:010}"), "kind": "miniprogram",
                   "nick_name": format!("沙盒小程序{n}"), "principal_name": format!("沙盒公司{n}"),
                   "func_ids": [17, 18]})
        })
        .collect();
    serde_json::from_value(json!({
        "clock": {"mode": "scaled", "factor": FACTOR},
        "allow_unknown_openid": true,
        "component": {},
        "authorizers": authorizers,
    }))
    .unwrap()
}

/// Milliseconds since the epoch, never the same twice in this process.
fn unique_ms() -> i64 {
    static LAST: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let now = chrono::Utc::now().timestamp_millis();
    let prev = LAST
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(now);
    now.max(prev + 1)
}

async fn sandbox_now(http: &reqwest::Client, sb: &str) -> i64 {
    let v: Value = http
        .get(format!("{sb}/__sandbox/clock"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["now"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_renew_each_token_once_per_lifetime_and_never_use_a_dead_one() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sb = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sandbox::serve(listener, seed()));
    let root =
        std::env::temp_dir().join(format!("zgld-tokensim-{}", uuid::Uuid::new_v4().simple()));
    let tweak = |s: &mut zhugeleida::config::Settings| {
        s.wechat.hosts = zhugeleida::wechat::WechatHosts::sandbox(&sb);
        s.wechat.token_renewer = Duration::from_millis(100);
        s.static_dir = root.clone();
    };
    let a = spawn_app_with(tweak).await;
    let db_url = a.state.settings.database_url.clone();
    let b = spawn_app_with(|s| {
        tweak(s);
        s.database_url = db_url.clone();
    })
    .await;
    let http = reqwest::Client::new();
    http.post(format!("{sb}/__sandbox/component/target"))
        .json(&json!({
            "event_url": format!("{}/zhugeleida/admin/open_weixin/component_event", a.addr),
            "message_url_template": format!("{}/zhugeleida/admin/open_weixin/message/$APPID$", a.addr),
        }))
        .send()
        .await
        .unwrap();
    let push: Value = http
        .post(format!("{sb}/__sandbox/component/push_ticket"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(push["push"]["reply"], "success", "{push}");

    // One company per mini program, its appid entered (step 2), one salesperson each.
    let mut reps = Vec::new();
    {
        let db = a.db().await;
        for n in 1..=APPS {
            let company = a.company(&format!("模拟{n}"), 10).await;
            db.execute(
                "insert into wx_authorizer (company_id, kind, appid, step) values ($1, 1, $2, 2)",
                &[&company, &format!("wxsbxma{n:010}")],
            )
            .await
            .unwrap();
            let rep: i64 = db
                .query_one(
                    "insert into user_profile (company_id, role_id, userid, login_user, username)
                     values ($1, 3, $2, $2, $2) returning id",
                    &[&company, &format!("sim-rep{n}")],
                )
                .await
                .unwrap()
                .get(0);
            let token = format!("sim-token-{n}-{}", uuid::Uuid::new_v4().simple());
            db.execute(
                "insert into auth_session (user_id, token) values ($1, $2)",
                &[&rep, &token],
            )
            .await
            .unwrap();
            reps.push(Signer {
                user_id: rep,
                token,
            });
        }
    }

    let start = sandbox_now(&http, &sb).await;
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let authorized = Arc::new(AtomicU64::new(0));
    let first_failure = Arc::new(std::sync::Mutex::new(None::<String>));
    let nodes = [a.addr.clone(), b.addr.clone()];
    let deadline = Instant::now() + Duration::from_secs_f64(RUN_SECS as f64 / FACTOR + 5.0);

    // Companies authorize at staggered times over the first simulated half hour (each grant
    // on its own, so a slow one does not delay the next).
    let grants: Vec<_> = (1..=APPS)
        .map(|n| {
            let (http, sb, authorized) = (http.clone(), sb.clone(), authorized.clone());
            tokio::spawn(async move {
                let at = start + STAGGER_SECS * (n as i64 - 1) / APPS as i64;
                let wait = (at - sandbox_now(&http, &sb).await).max(0) as f64 / FACTOR;
                tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                let r: Value = http
                    .post(format!("{sb}/__sandbox/component/authorize"))
                    .json(&json!({"authorizer_appid": format!("wxsbxma{n:010}")}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert!(r["auth_code"].is_string(), "{r}");
                authorized.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();

    // Traffic on both nodes until the end: logins through the company's mini program
    // (component token) and the salespeople's mini-program codes (authorizer tokens).
    let mut workers = Vec::new();
    for w in 0..4usize {
        let (http, sb, nodes, reps) = (http.clone(), sb.clone(), nodes.clone(), reps.clone());
        let (ok, failed, authorized, first_failure) = (
            ok.clone(),
            failed.clone(),
            authorized.clone(),
            first_failure.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut i = w;
            loop {
                if sandbox_now(&http, &sb).await >= start + RUN_SECS || Instant::now() > deadline {
                    break;
                }
                let live = authorized.load(Ordering::SeqCst) as usize;
                if live == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                i += 4;
                // Grants finish roughly in order; an app not authorized yet answers 302, which
                // is counted apart (`not_yet`), not as a failure.
                let n = i % live;
                let node = &nodes[i % 2];
                let v: Value = if (i / 2) % 2 == 0 {
                    http.get(format!("{node}/zhugeleida/xiaochengxu/login"))
                        .query(&[
                            ("code", format!("sandbox-o_sim{}.{i}", i % 7).as_str()),
                            ("user_type", "2"),
                            ("source", "1"),
                            ("appid", format!("wxsbxma{:010}", n + 1).as_str()),
                        ])
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap()
                } else {
                    // Each request its own timestamp: two of one salesperson in the same
                    // millisecond would repeat a signature, which the replay guard refuses.
                    let ts = unique_ms().to_string();
                    let rep = &reps[n];
                    http.get(format!("{node}/zhugeleida/qiyeweixin/qr_code_auth"))
                        .query(&[
                            ("rand_str", sign_with(&ts, &rep.token)),
                            ("timestamp", ts),
                            ("user_id", rep.user_id.to_string()),
                        ])
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap()
                };
                if v["code"] == 200 {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else if v["code"] == 302 && n + 1 + 2 >= live {
                    // a neighbour of the newest grant that is still being finished
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    first_failure.lock().unwrap().get_or_insert(v.to_string());
                }
            }
        }));
    }
    for g in grants {
        g.await.unwrap();
    }
    for w in workers {
        w.await.unwrap();
    }
    let report: Value = http
        .get(format!("{sb}/__sandbox/tokens/report"))
        .query(&[("kinds", "component,authorizer"), ("detail", "1")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&root);
    let summary = json!({"requests_ok": ok.load(Ordering::Relaxed), "requests_failed": failed.load(Ordering::Relaxed),
                         "first_failure": *first_failure.lock().unwrap(), "now": report["now"],
                         "end": start + RUN_SECS, "expired_uses": report["expired_uses"],
                         "renewals": report["renewals_per_kind"], "double": report["double_renewals"],
                         "late": report["late_renewals"], "dead_at_end": report["dead_at_end"],
                         "least_life_left_at_renewal_secs": report["least_life_left_at_renewal_secs"],
                         "problems": report["problems"], "samples": report["expired_samples"]});
    eprintln!("token sim: {summary}");
    let firsts: Vec<i64> = report["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["issued"][0].as_i64().unwrap() - start)
        .collect();
    eprintln!("first issues (sandbox seconds after the start): {firsts:?}");
    assert!(
        report["now"].as_i64().unwrap() >= start + RUN_SECS,
        "the run was cut short by the real-time deadline: {summary}"
    );
    assert_eq!(report["expired_uses"], 0, "{summary}");
    assert_eq!(report["double_renewals"], 0, "{summary}");
    assert_eq!(report["late_renewals"], 0, "{summary}");
    assert_eq!(report["dead_at_end"], 0, "{summary}");
    assert_eq!(failed.load(Ordering::Relaxed), 0, "{summary}");
    assert!(ok.load(Ordering::Relaxed) > 100, "{summary}");
    // Tokens lived through renewals: the component token (issued at the start) and nearly
    // every authorizer's (issued in the first half hour, unless this busy machine made the
    // grants lag; `dead_at_end` 0 above says none died unrenewed).
    let tokens = report["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), APPS + 1, "{summary}");
    let mut renewed = 0;
    for t in tokens {
        let issued = t["issued"].as_array().unwrap().len();
        assert!((1..=3).contains(&issued), "{t} {summary}");
        renewed += usize::from(issued >= 2);
    }
    assert!(renewed > APPS * 3 / 4, "{summary}");
    // The server counted the same issues (its `renewals` column counts the first token too).
    let db = a.db().await;
    let stored: i64 = db
        .query_one(
            "select coalesce(sum(renewals), 0)::int8 from wx_authorizer",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let issued: i64 = tokens
        .iter()
        .filter(|t| t["kind"] == "authorizer")
        .map(|t| t["issued"].as_array().unwrap().len() as i64)
        .sum();
    assert_eq!(stored, issued, "{summary}");
}
