//! Code release benchmark (issue 13): one operator releases to N sandbox mini programs
//! (ADM-81 commit, ADM-82 submit, ADM-83 poll with audits approved at once, ADM-85 release),
//! each a background batch polled through `GET /zhugeleida/admin/dai_xcx/batch/{id}` until done.
//! The sandbox runs as a child process on a real clock with N authorizers; every company
//! authorizes its mini program through the sandbox's headless grant (the `authorized` push to
//! the server's receiver) before the clock starts.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::process::Command;

use super::{loadavg, prepare, round, signed, Env, Node, DB};

#[derive(clap::Args, Debug, Clone)]
pub struct ReleaseArgs {
    /// Mini programs (one company each).
    #[arg(long, default_value_t = 1_000)]
    apps: usize,
    /// Apps worked on at once per batch (`ZGLD_RELEASE_CONCURRENCY`).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Port of the sandbox child process.
    #[arg(long, default_value_t = 9150)]
    sandbox_port: u16,
    /// Port of the server node.
    #[arg(long, default_value_t = 18_200)]
    port: u16,
}

async fn db(env: &Env) -> anyhow::Result<tokio_postgres::Client> {
    let (db, conn) =
        tokio_postgres::connect(&format!("{}/{DB}", env.pg), tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(db)
}

/// Starts the sandbox with `apps` authorizers, a real clock and audits approved at once.
async fn sandbox(env: &Env, apps: usize, port: u16) -> anyhow::Result<tokio::process::Child> {
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
    let path = std::env::temp_dir().join(format!("zgld-release-seed-{port}.json"));
    std::fs::write(&path, serde_json::to_vec(&seed)?)?;
    let child = Command::new(&env.server)
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
    path: &str,
    form: &[(&str, String)],
) -> anyhow::Result<(f64, Value)> {
    let t0 = Instant::now();
    // Distinct timestamps: a write's signature is spent once.
    tokio::time::sleep(Duration::from_millis(3)).await;
    let r: Value = http
        .post(format!(
            "{base}/zhugeleida/admin/dai_xcx/{path}?{}",
            signed('u', 1)
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
                signed('u', 1)
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
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn run(env: &Env, a: &ReleaseArgs) -> anyhow::Result<Value> {
    prepare(env, 1, 1).await?;
    let n = a.apps;
    let db = db(env).await?;
    // user 1 becomes the platform operator; one company per mini program, appid entered (step 2).
    db.batch_execute(&format!(
        "update user_profile set role_id = 1 where id = 1;
         select setval(pg_get_serial_sequence('company', 'id'), (select max(id) from company));
         insert into company (name, mingpian_available_num)
           select '公司' || g, 10 from generate_series(1, {n}) g;
         insert into wx_authorizer (company_id, kind, appid, step)
           select c.id, 1, 'wxsbxma' || lpad(g::text, 10, '0'), 2
           from generate_series(1, {n}) g join company c on c.name = '公司' || g;"
    ))
    .await?;
    let mut sandbox = sandbox(env, n, a.sandbox_port).await?;
    let sb = format!("http://127.0.0.1:{}", a.sandbox_port);
    let concurrency = a.concurrency.to_string();
    let node = Node::start(
        env,
        a.port,
        false,
        &[
            ("ZGLD_WECHAT_SANDBOX", sb.as_str()),
            ("ZGLD_RELEASE_CONCURRENCY", concurrency.as_str()),
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

    let t0 = Instant::now();
    let load0 = loadavg();
    let (commit_s, commit) = batch(
        &http,
        &base,
        "upload_code",
        &[
            ("app_ids_list", list.clone()),
            ("template_id", "1".into()),
            ("user_version", "v1.0.1".into()),
            ("user_desc", "bench".into()),
        ],
    )
    .await?;
    let (submit_s, submit) = batch(
        &http,
        &base,
        "submit_audit",
        &[("app_ids_list", list.clone())],
    )
    .await?;
    let (poll_s, poll) = batch(&http, &base, "get_latest_audit_status", &[]).await?;
    let (release_s, release) = batch(
        &http,
        &base,
        "relase_code",
        &[("app_ids_list", list.clone())],
    )
    .await?;
    let total = t0.elapsed().as_secs_f64();
    let live: i64 = db
        .query_one("select count(*) from wx_release where status = 7", &[])
        .await?
        .get(0);
    let _ = sandbox.kill().await;
    Ok(json!({
        "bench": "code_release",
        "apps": n,
        "concurrency": a.concurrency,
        "authorize_secs": round(auth_secs),
        "commit_secs": round(commit_s),
        "submit_secs": round(submit_s),
        "poll_secs": round(poll_s),
        "release_secs": round(release_s),
        "total_secs": round(total),
        "released": live,
        "target": "total_secs <= 60 with released == apps",
        "batches": {"commit": commit, "submit": submit, "poll": poll, "release": release},
        "loadavg_before": load0,
        "loadavg_after": loadavg(),
    }))
}
