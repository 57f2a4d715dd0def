#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Code release to the companies' mini programs (issue 13, ADM-79..86 and ADM-33) over HTTP
//! through the WeChat sandbox: batches, the statuses and buttons of API.md 1.10, audit results
//! pushed by WeChat and polled, rate limits and dead tokens recovered, idempotent retries,
//! resumption of an abandoned batch, and the company scope.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// A temporary static root, removed when dropped.
struct StaticRoot(PathBuf);

impl Drop for StaticRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn spawn() -> (TestApp, StaticRoot) {
    spawn_with(|_| {}).await
}

async fn spawn_with(
    tweak: impl FnOnce(&mut zhugeleida::config::Settings),
) -> (TestApp, StaticRoot) {
    let root = std::env::temp_dir().join(format!("zgld-release-{}", uuid::Uuid::new_v4().simple()));
    let dir = root.clone();
    let app = spawn_app_with(move |s| {
        s.static_dir = dir;
        s.wechat.release.backoff = Duration::from_millis(5);
        s.wechat.release.wait = Duration::from_secs(60);
        tweak(s);
    })
    .await;
    app.platform_ready().await;
    (app, StaticRoot(root))
}

/// A company whose admin authorized sandbox mini program `n`: `(company, admin, app id)`.
async fn authorized(app: &TestApp, name: &str, n: usize) -> (i64, Signer, i64) {
    let (company, admin, _) = app.tenant(name).await;
    let appid = format!("wxsbxma{n:010}");
    app.post("/zhugeleida/admin/xcx_auth_process/update/app_id")
        .signed(&admin)
        .form(&[("authorization_appid", appid.as_str())])
        .send()
        .await
        .ok();
    let granted = app
        .sandbox_admin("component/authorize", json!({"authorizer_appid": appid}))
        .await;
    assert!(granted["auth_code"].is_string(), "{granted}");
    let id: i64 = app
        .db()
        .await
        .query_one(
            "select id from wx_authorizer where appid = $1 and authorized",
            &[&appid],
        )
        .await
        .expect("authorized app")
        .get(0);
    (company, admin, id)
}

fn ids(list: &[i64]) -> String {
    serde_json::to_string(list).unwrap()
}

/// The ADM-79 rows by app id.
async fn apps(app: &TestApp, who: &Signer) -> Vec<Value> {
    let r = app
        .get("/zhugeleida/admin/xcx_app")
        .signed(who)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "查询成功");
    r.data()["ret_data"].as_array().cloned().unwrap_or_default()
}

async fn row(app: &TestApp, who: &Signer, id: i64) -> Value {
    apps(app, who)
        .await
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap_or(Value::Null)
}

async fn op(app: &TestApp, who: &Signer, path: &str, form: &[(&str, &str)]) -> Resp {
    let r = app
        .post(&format!("/zhugeleida/admin/dai_xcx/{path}"))
        .signed(who)
        .form(form)
        .send()
        .await;
    assert_eq!(r.data()["running"], false, "{}", r.raw);
    r
}

async fn commit(app: &TestApp, who: &Signer, list: &[i64], version: &str) -> Resp {
    op(
        app,
        who,
        "upload_code",
        &[
            ("app_ids_list", &ids(list)),
            ("template_id", "1"),
            ("user_version", version),
            ("user_desc", "张聪 提交上传"),
        ],
    )
    .await
}

async fn simple(app: &TestApp, who: &Signer, path: &str, list: &[i64]) -> Resp {
    op(app, who, path, &[("app_ids_list", &ids(list))]).await
}

fn buttons(r: &Value) -> Vec<String> {
    r["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_operator_releases_to_three_companies_one_rejected_one_rolled_back() {
    let (app, _root) = spawn().await;
    let (ca, _, a) = authorized(&app, "甲公司", 1).await;
    let (_cb, _, b) = authorized(&app, "乙公司", 2).await;
    let (_cc, _, c) = authorized(&app, "丙公司", 3).await;
    let op_user = app.operator().await;

    // ADM-79: three apps, never released; only 【提交代码】.
    let rows = apps(&app, &op_user).await;
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r["status"], 0);
        assert_eq!(r["status_text"], "未上线过");
        assert_eq!(buttons(r), ["提交代码"]);
    }
    let ra = row(&app, &op_user, a).await;
    assert_eq!(ra["company_id"], ca);
    assert_eq!(ra["company_name"], "甲公司");
    assert_eq!(ra["belong_user"], "甲公司-admin");

    // ADM-80: WeChat's template list passed through.
    let t = app
        .get("/zhugeleida/admin/dai_xcx/template_list")
        .signed(&op_user)
        .send()
        .await
        .ok();
    assert_eq!(t.msg(), "获取成功");
    assert_eq!(t.data()["template_list"][0]["template_id"], 1);
    assert_eq!(t.data()["template_list"][0]["user_version"], "1.0.1");

    // Submitting before any commit: refused by the button rules, nothing sent to WeChat.
    let r = simple(&app, &op_user, "submit_audit", &[a]).await;
    assert_eq!(r.code(), 303, "{}", r.raw);
    assert!(r.msg().starts_with("提交审核代码报错: 303 : "), "{}", r.raw);
    assert!(app.sandbox_calls("/wxa/submit_audit").await.is_empty());

    // ADM-81 to all three: committed with each company's ext_json, experience QR stored.
    let r = commit(&app, &op_user, &[a, b, c], "v1.0.1").await.ok();
    assert_eq!(r.msg(), "小程序帐号上传小程序代码成功");
    let commits = app.sandbox_calls("/wxa/commit").await;
    assert_eq!(commits.len(), 3);
    let ext: Value = serde_json::from_str(commits[0]["body_json"]["ext_json"].as_str().unwrap())
        .expect("ext_json is a JSON string");
    assert!(ext["ext"]["company_id"].is_i64());
    assert!(ext["extAppid"].as_str().unwrap().starts_with("wxsbxma"));
    for id in [a, b, c] {
        let r = row(&app, &op_user, id).await;
        assert_eq!(r["status"], 1);
        assert_eq!(r["status_text"], "代码上传成功");
        assert_eq!(r["version_num"], "v1.0.1");
        assert_eq!(r["template_id"], 1);
        assert_eq!(buttons(&r), ["在线体验", "提交代码", "提交审核"]);
        let qr = r["experience_qrcode"].as_str().unwrap();
        assert!(
            qr.starts_with("statics/zhugeleida/imgs/admin/qr_code/wxsbxma")
                && qr.ends_with("_QRCode.jpg"),
            "{qr}"
        );
        assert!(_root.0.join(qr).exists(), "{qr} not stored");
    }

    // Audits decided by hand, results pushed by WeChat (encrypted) to our message URL.
    app.sandbox_admin(
        "audit/config",
        json!({"mode": "manual", "push_events": true}),
    )
    .await;
    let r = simple(&app, &op_user, "submit_audit", &[a, b, c])
        .await
        .ok();
    assert_eq!(r.msg(), "提交审核成功");
    for id in [a, b, c] {
        let r = row(&app, &op_user, id).await;
        assert_eq!(r["status"], 4);
        assert_eq!(buttons(&r), ["在线体验", "审核撤回"]);
    }
    // Submitting again is a retry: nothing is sent twice.
    simple(&app, &op_user, "submit_audit", &[a, b, c])
        .await
        .ok();
    assert_eq!(app.sandbox_calls("/wxa/submit_audit").await.len(), 3);

    // a approved now; b rejected after 60 s of sandbox time.
    app.sandbox_admin("audit/wxsbxma0000000001", json!({"status": 0}))
        .await;
    let r = row(&app, &op_user, a).await;
    assert_eq!(r["status"], 5);
    assert_eq!(buttons(&r), ["提交代码", "发布按钮"]);
    app.sandbox_admin(
        "audit/wxsbxma0000000002",
        json!({"status": 1, "reason": "名称不符合规范", "after_secs": 60}),
    )
    .await;
    assert_eq!(row(&app, &op_user, b).await["status"], 4);
    app.sandbox_admin("clock", json!({"advance_secs": 60}))
        .await;
    let r = row(&app, &op_user, b).await;
    assert_eq!(r["status"], 6);
    assert_eq!(r["status_text"], "审核未通过");
    assert_eq!(r["reason"], "名称不符合规范");
    assert_eq!(buttons(&r), ["在线体验", "提交代码", "版本回退"]);
    let pushes: Value = app
        .http
        .get(format!("{}/__sandbox/pushes", app.sandbox))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let audit_pushes: Vec<&Value> = pushes["pushes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["url"].as_str().unwrap().contains("/open_weixin/message/"))
        .collect();
    assert_eq!(audit_pushes.len(), 2);
    assert!(audit_pushes.iter().all(|p| p["reply"] == "success"));

    // c approved without a push: ADM-83 polls it.
    app.sandbox_admin("audit/config", json!({"push_events": false}))
        .await;
    app.sandbox_admin("audit/wxsbxma0000000003", json!({"status": 0}))
        .await;
    assert_eq!(row(&app, &op_user, c).await["status"], 4);
    let r = app
        .get("/zhugeleida/admin/dai_xcx/get_latest_audit_status")
        .signed(&op_user)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "查询最新一次提交的审核状态-执行完成");
    assert_eq!(row(&app, &op_user, c).await["status"], 5);

    // ADM-85 to all three: b (rejected) has no release button and fails alone.
    let r = simple(&app, &op_user, "relase_code", &[a, b, c]).await;
    assert_eq!(r.code(), 303, "{}", r.raw);
    assert!(r.msg().starts_with("小程序发布报错: 303 : "), "{}", r.raw);
    for id in [a, c] {
        let r = row(&app, &op_user, id).await;
        assert_eq!(r["status"], 7);
        assert_eq!(r["status_text"], "上线成功");
        assert_eq!(buttons(&r), ["在线体验", "提交代码", "版本回退"]);
    }
    assert_eq!(row(&app, &op_user, b).await["status"], 6);
    let state: Value = app
        .http
        .get(format!("{}/__sandbox/state/wxsbxma0000000001", app.sandbox))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["state"]["released"]["user_version"], "v1.0.1");

    // a's first release has nothing to roll back to: WeChat's 87012 passes through.
    let r = simple(&app, &op_user, "revert_code_release", &[a]).await;
    assert_eq!(r.code(), 87012, "{}", r.raw);
    assert!(r.msg().starts_with("小程序回退报错: 87012 : "), "{}", r.raw);
    let r = row(&app, &op_user, a).await;
    assert_eq!(r["status"], 12);
    assert_eq!(r["status_text"], "版本回退失败");

    // c gets v1.0.2 live, then rolls back to v1.0.1.
    app.sandbox_admin(
        "audit/config",
        json!({"mode": "auto", "auto_delay_secs": 0}),
    )
    .await;
    commit(&app, &op_user, &[c], "v1.0.2").await.ok();
    simple(&app, &op_user, "submit_audit", &[c]).await.ok();
    app.get("/zhugeleida/admin/dai_xcx/get_latest_audit_status")
        .signed(&op_user)
        .send()
        .await
        .ok();
    assert_eq!(row(&app, &op_user, c).await["status"], 5);
    simple(&app, &op_user, "relase_code", &[c]).await.ok();
    let r = row(&app, &op_user, c).await;
    assert_eq!(
        (r["status"].as_i64(), r["version_num"].as_str()),
        (Some(7), Some("v1.0.2"))
    );
    let r = simple(&app, &op_user, "revert_code_release", &[c])
        .await
        .ok();
    assert_eq!(r.msg(), "小程序回退成功");
    let r = row(&app, &op_user, c).await;
    assert_eq!(r["status"], 11);
    assert_eq!(r["status_text"], "版本回退成功");
    assert_eq!(r["version_num"], "v1.0.1");
    assert_eq!(buttons(&r), ["在线体验", "提交代码"]);

    // The batch endpoint shows each app's step.
    let batch_id = r["batch_id"].as_i64().unwrap();
    let b = app
        .get(&format!("/zhugeleida/admin/dai_xcx/batch/{batch_id}"))
        .signed(&op_user)
        .send()
        .await
        .ok();
    assert_eq!(b.data()["op"], "revert");
    assert_eq!(b.data()["status"], "done");
    assert_eq!(b.data()["apps"][0]["state"], "done");
    assert_eq!(b.data()["apps"][0]["status"], 11);
}

#[tokio::test]
async fn withdrawing_an_audit_and_the_audit_delay_push() {
    let (app, _root) = spawn().await;
    let (_c, admin, a) = authorized(&app, "甲公司", 1).await;
    app.sandbox_admin(
        "audit/config",
        json!({"mode": "manual", "push_events": true}),
    )
    .await;
    commit(&app, &admin, &[a], "v2").await.ok();
    simple(&app, &admin, "submit_audit", &[a]).await.ok();
    app.sandbox_admin(
        "audit/wxsbxma0000000001",
        json!({"status": 4, "reason": "审核延后"}),
    )
    .await;
    let r = row(&app, &admin, a).await;
    assert_eq!(
        (r["status"].as_i64(), r["reason"].as_str()),
        (Some(4), Some("审核延后"))
    );
    let r = simple(&app, &admin, "undocode_audit", &[a]).await.ok();
    assert_eq!(r.msg(), "小程序审核撤回成功");
    let r = row(&app, &admin, a).await;
    assert_eq!(r["status"], 9);
    assert_eq!(buttons(&r), ["在线体验", "提交代码", "版本回退"]);
    // Withdrawing again: already done, skipped.
    simple(&app, &admin, "undocode_audit", &[a]).await.ok();
    assert_eq!(app.sandbox_calls("/wxa/undocodeaudit").await.len(), 1);
}

#[tokio::test]
async fn progress_is_pushed_to_the_starters_websocket_and_a_lost_qr_is_fetched_again() {
    let (app, _root) = spawn().await;
    let (_c, admin, a) = authorized(&app, "甲公司", 1).await;
    let (mut sock, _) = ws::connect(&app, "/zhugeleida/qiyeweixin/ws", &admin).await;
    // The commit goes through, the experience QR fails (WeChat busy on every try).
    app.sandbox_admin(
        "faults",
        json!({"path": "/wxa/get_qrcode", "errcode": -1, "times": 5}),
    )
    .await;
    let r = commit(&app, &admin, &[a], "v5").await;
    assert_eq!(r.code(), -1, "{}", r.raw);
    let f = ws::next_of(&mut sock, "code_release").await;
    assert_eq!(f["id"], a);
    assert_eq!(f["op"], "commit");
    assert_eq!(f["state"], "failed");
    assert_eq!(f["status"], 1);
    let done = ws::next_of(&mut sock, "code_release_batch").await;
    assert_eq!(done["failed"], 1);
    let r = row(&app, &admin, a).await;
    assert_eq!(
        (r["status"].as_i64(), r["experience_qrcode"].as_str()),
        (Some(1), Some(""))
    );
    // The retry only fetches the QR: no second commit.
    commit(&app, &admin, &[a], "v5").await.ok();
    assert_eq!(app.sandbox_calls("/wxa/commit").await.len(), 1);
    let r = row(&app, &admin, a).await;
    assert!(r["experience_qrcode"]
        .as_str()
        .unwrap()
        .ends_with("_QRCode.jpg"));
    let f = ws::next_of(&mut sock, "code_release").await;
    assert_eq!(f["state"], "done");
    // A third time: nothing left to do.
    commit(&app, &admin, &[a], "v5").await.ok();
    assert_eq!(app.sandbox_calls("/wxa/get_qrcode").await.len(), 6);
}

#[tokio::test]
async fn rate_limits_back_off_and_dead_tokens_are_renewed() {
    let (app, _root) = spawn().await;
    let (_c, admin, a) = authorized(&app, "甲公司", 1).await;

    // 45009 twice on commit: backed off, tried again, committed.
    app.sandbox_admin(
        "faults",
        json!({"path": "/wxa/commit", "errcode": 45009, "times": 2}),
    )
    .await;
    commit(&app, &admin, &[a], "v1").await.ok();
    let calls = app.sandbox_calls("/wxa/commit").await;
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0]["response"]["errcode"], 45009);
    assert_eq!(calls[2]["response"]["errcode"], 0);
    let batch = row(&app, &admin, a).await["batch_id"].as_i64().unwrap();
    let b = app
        .get(&format!("/zhugeleida/admin/dai_xcx/batch/{batch}"))
        .signed(&admin)
        .send()
        .await
        .ok();
    assert!(b.data()["apps"][0]["attempts"].as_i64().unwrap() >= 4);

    // The authorizer token dies early (42001), then one is refused (40001): each time the
    // token is renewed and the call repeated once.
    let renewals = app
        .sandbox_calls("/cgi-bin/component/api_authorizer_token")
        .await
        .len();
    let expired = app
        .sandbox_admin(
            "tokens/expire",
            json!({"kind": "authorizer", "id": "wxsbxma0000000001"}),
        )
        .await;
    assert!(expired["affected"].as_i64().unwrap() >= 1);
    app.sandbox_admin(
        "faults",
        json!({"path": "/wxa/get_page", "errcode": 40001, "times": 1}),
    )
    .await;
    simple(&app, &admin, "submit_audit", &[a]).await.ok();
    assert_eq!(row(&app, &admin, a).await["status"], 4);
    let after = app
        .sandbox_calls("/cgi-bin/component/api_authorizer_token")
        .await
        .len();
    assert_eq!(after, renewals + 2);
    let cats = app.sandbox_calls("/wxa/get_category").await;
    assert_eq!(cats[0]["response"]["errcode"], 42001);

    // A rate limit that does not go away fails the step with WeChat's errcode.
    app.sandbox_admin(
        "faults",
        json!({"path": "/wxa/undocodeaudit", "errcode": 45009, "times": 100}),
    )
    .await;
    let r = simple(&app, &admin, "undocode_audit", &[a]).await;
    assert_eq!(r.code(), 45009, "{}", r.raw);
    assert!(r.msg().starts_with("小程序审核撤回报错: 45009 : "));
    let r = row(&app, &admin, a).await;
    assert_eq!(r["status"], 10);
    assert_eq!(r["errcode"], 45009);
}

#[tokio::test]
async fn a_retried_batch_does_not_redo_done_steps() {
    let (app, _root) = spawn().await;
    let op_user = app.operator().await;
    let (_ca, _, a) = authorized(&app, "甲公司", 1).await;
    let (_cb, _, b) = authorized(&app, "乙公司", 2).await;

    // b's commit fails (85044 package too big, once); a's goes through. One failure never
    // stops the batch.
    app.sandbox_admin(
        "faults",
        json!({"path": "/wxa/commit", "app": "wxsbxma0000000002", "errcode": 85044}),
    )
    .await;
    let r = commit(&app, &op_user, &[a, b], "v3").await;
    assert_eq!(r.code(), 85044, "{}", r.raw);
    assert!(r.msg().starts_with("上传小程序代码报错: 85044 : "));
    assert_eq!(row(&app, &op_user, a).await["status"], 1);
    let rb = row(&app, &op_user, b).await;
    assert_eq!(rb["status"], 2);
    assert_eq!(rb["status_text"], "代码上传失败");
    assert_eq!(buttons(&rb), ["在线体验", "提交代码", "版本回退"]);

    // The same request again: a is skipped, only b is committed.
    let r = commit(&app, &op_user, &[a, b], "v3").await.ok();
    let batch = r.data()["batch_id"].as_i64().unwrap();
    let commits = app.sandbox_calls("/wxa/commit").await;
    let for_a = commits
        .iter()
        .filter(|c| c["identity"].to_string().contains("wxsbxma0000000001"))
        .count();
    assert_eq!(for_a, 1);
    assert_eq!(commits.len(), 3);
    assert_eq!(row(&app, &op_user, b).await["status"], 1);
    let detail = app
        .get(&format!("/zhugeleida/admin/dai_xcx/batch/{batch}"))
        .signed(&op_user)
        .send()
        .await
        .ok();
    assert_eq!(detail.data()["skipped"], 1);
    assert_eq!(detail.data()["done"], 1);
    assert_eq!(detail.data()["failed"], 0);
}

#[tokio::test]
async fn an_abandoned_batch_is_resumed_from_the_database() {
    let (app, _root) = spawn_with(|s| s.wechat.release.lease = Duration::from_secs(3)).await;
    let op_user = app.operator().await;
    let (_ca, _, a) = authorized(&app, "甲公司", 1).await;
    let (_cb, _, b) = authorized(&app, "乙公司", 2).await;
    // A node started a commit batch, did a, and died: its lease ran out long ago.
    let db = app.db().await;
    let company: i64 = db
        .query_one(
            "select company_id from user_profile where id = $1",
            &[&op_user.user_id],
        )
        .await
        .unwrap()
        .get(0);
    let batch: i64 = db
        .query_one(
            "insert into wx_release_batch (op, started_by, company_id, template_id, user_version,
                user_desc, total, done, runner_until)
             values ('commit', $1, $2, 1, 'v9', 'd', 2, 1, now() - interval '1 hour') returning id",
            &[&op_user.user_id, &company],
        )
        .await
        .unwrap()
        .get(0);
    for (seq, (id, state)) in [(a, "done"), (b, "pending")].into_iter().enumerate() {
        db.execute(
            "insert into wx_release_item (batch_id, authorizer_id, company_id, seq, state)
             select $1, id, company_id, $3, $4 from wx_authorizer where id = $2",
            &[&batch, &id, &(seq as i32), &state],
        )
        .await
        .unwrap();
    }
    // Another node's resumer takes it over and finishes b only.
    let mut finished = Value::Null;
    for _ in 0..300 {
        let r = app
            .get(&format!("/zhugeleida/admin/dai_xcx/batch/{batch}"))
            .signed(&op_user)
            .send()
            .await
            .ok();
        if r.data()["status"] == "done" {
            finished = r.data().clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(finished["done"], 2, "{finished}");
    assert_eq!(finished["resumed"], 1);
    let commits = app.sandbox_calls("/wxa/commit").await;
    assert_eq!(commits.len(), 1);
    assert!(commits[0]["identity"]
        .to_string()
        .contains("wxsbxma0000000002"));
    assert_eq!(row(&app, &op_user, b).await["version_num"], "v9");
}

#[tokio::test]
async fn foreign_company_ids_are_refused_and_admins_see_their_own_app() {
    let (app, _root) = spawn().await;
    let (ca, admin_a, a) = authorized(&app, "甲公司", 1).await;
    let (_cb, admin_b, b) = authorized(&app, "乙公司", 2).await;
    let sales_a = app.login("甲公司-sales", "Passw0rdX").await;

    let rows = apps(&app, &admin_a).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], a);
    assert_eq!(rows[0]["company_id"], ca);

    // Another company's app, alone or among one's own: refused as a whole, nothing runs.
    for list in [vec![b], vec![a, b], vec![999_999]] {
        let r = app
            .post("/zhugeleida/admin/dai_xcx/upload_code")
            .signed(&admin_a)
            .form(&[
                ("app_ids_list", ids(&list).as_str()),
                ("template_id", "0"),
                ("user_version", "v1"),
                ("user_desc", "d"),
            ])
            .send()
            .await;
        r.expect_code(302);
    }
    for path in [
        "submit_audit",
        "undocode_audit",
        "relase_code",
        "revert_code_release",
    ] {
        app.post(&format!("/zhugeleida/admin/dai_xcx/{path}"))
            .signed(&admin_a)
            .form(&[("app_ids_list", ids(&[b]).as_str())])
            .send()
            .await
            .expect_code(302);
    }
    assert!(app.sandbox_calls("/wxa/commit").await.is_empty());
    // Missing fields: the documented 303; template_id 0 is present.
    app.post("/zhugeleida/admin/dai_xcx/upload_code")
        .signed(&admin_a)
        .form(&[
            ("app_ids_list", ids(&[a]).as_str()),
            ("user_version", "v1"),
            ("user_desc", "d"),
        ])
        .send()
        .await
        .expect_code(303);
    // A salesperson may not.
    app.get("/zhugeleida/admin/xcx_app")
        .signed(&sales_a)
        .send()
        .await
        .refused(404, "admin endpoint called by a member");
    app.post("/zhugeleida/admin/dai_xcx/submit_audit")
        .signed(&sales_a)
        .form(&[("app_ids_list", ids(&[a]).as_str())])
        .send()
        .await
        .refused(404, "admin endpoint called by a member");

    // b's own batch is not a's to read.
    let r = commit(&app, &admin_b, &[b], "v1").await.ok();
    let batch = r.data()["batch_id"].as_i64().unwrap();
    app.get(&format!("/zhugeleida/admin/dai_xcx/batch/{batch}"))
        .signed(&admin_a)
        .send()
        .await
        .expect_code(302);

    // ADM-33 with the company's authorizer token; another company's rep is refused.
    let sales_b: i64 = app
        .db()
        .await
        .query_one(
            "select id from user_profile where login_user = '乙公司-sales'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    app.post("/zhugeleida/admin/user/create_small_program_qr_code/0")
        .signed(&admin_a)
        .form(&[("user_id", sales_b.to_string().as_str())])
        .send()
        .await
        .expect_code(302);
    let r = app
        .post("/zhugeleida/admin/user/create_small_program_qr_code/0")
        .signed(&admin_a)
        .form(&[("user_id", sales_a.user_id.to_string().as_str())])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "生成用户二维码成功");
    let path = r.data()["qr_code"].as_str().unwrap();
    assert!(
        path.starts_with(&format!(
            "statics/zhugeleida/imgs/xiaochengxu/qr_code/{}_",
            sales_a.user_id
        )),
        "{path}"
    );
    let calls = app.sandbox_calls("/wxa/getwxacodeunlimit").await;
    assert_eq!(calls.len(), 1);
    assert!(calls[0]["query"]["access_token"]
        .as_str()
        .unwrap()
        .starts_with("sbx_aat_wxsbxma0000000001_"));
    assert_eq!(
        calls[0]["body_json"]["scene"],
        format!("uid={}", sales_a.user_id)
    );
}

/// A batch is background work: a node's release calls to WeChat keep to `ZGLD_RELEASE_RATE`
/// (here 4 a second, a burst of one), however many apps run at once, so a release to a
/// thousand apps cannot take the cores from chat (docs/wechat-platform.md "Batches").
#[tokio::test]
async fn release_calls_to_wechat_keep_to_the_nodes_pace() {
    let (app, _root) = spawn_with(|s| {
        s.wechat.release.rate = 4;
        s.wechat.release.concurrency = 8;
    })
    .await;
    let op_user = app.operator().await;
    let mut ids = Vec::new();
    for (i, name) in ["甲公司", "乙公司", "丙公司"].iter().enumerate() {
        ids.push(authorized(&app, name, i + 1).await.2);
    }
    let r = commit(&app, &op_user, &ids, "v9").await.ok();
    assert_eq!(r.data()["running"], false, "{}", r.raw);
    // Each app: wxa/commit, then wxa/get_qrcode: six calls, at most four a second after the
    // first, so the last comes at least 5 × 250 ms after the first.
    let mut at: Vec<i64> = Vec::new();
    for path in ["/wxa/commit", "/wxa/get_qrcode"] {
        let calls = app.sandbox_calls(path).await;
        assert_eq!(calls.len(), 3, "{path}: {calls:?}");
        at.extend(calls.iter().map(|c| c["real_time_ms"].as_i64().unwrap()));
    }
    at.sort_unstable();
    let span = at[5] - at[0];
    assert!(
        span >= 1_150,
        "six paced calls spanned only {span} ms: {at:?}"
    );
    for id in &ids {
        assert_eq!(row(&app, &op_user, *id).await["status"], 1);
    }
}

/// A batch writes its apps' outcomes in groups (one transaction for the outcomes of 100 ms),
/// not one transaction per app: a 1,000-app release made 150 commits a second beside the chat
/// on the same node and database (docs/BENCHMARKS.md). Items written together share their
/// transaction's time; every outcome is still recorded, counted and pushed once.
#[tokio::test]
async fn a_batch_records_its_outcomes_in_groups() {
    let (app, _root) = spawn_with(|s| {
        s.wechat.release.concurrency = 8;
    })
    .await;
    let op_user = app.operator().await;
    let (mut sock, _) = ws::connect(&app, "/zhugeleida/qiyeweixin/ws", &op_user).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(authorized(&app, &format!("分组{i}"), i + 1).await.2);
    }
    let r = commit(&app, &op_user, &ids, "v3").await.ok();
    let batch = r.data()["batch_id"].as_i64().expect("batch id");
    let db = app.db().await;
    let row = db
        .query_one(
            "select count(*), count(distinct updated_at), count(*) filter (where state = 'done')
             from wx_release_item where batch_id = $1",
            &[&batch],
        )
        .await
        .unwrap();
    let (items, times, done): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((items, done), (3, 3));
    // The three apps are worked on at once (concurrency 8, 150 calls/s): their outcomes
    // come within the recorder's 100 ms.
    assert!(
        times < items,
        "{items} outcomes written in {times} transactions: one per app"
    );
    let b = db
        .query_one(
            "select done, skipped, failed from wx_release_batch where id = $1",
            &[&batch],
        )
        .await
        .unwrap();
    assert_eq!(
        (b.get::<_, i32>(0), b.get::<_, i32>(1), b.get::<_, i32>(2)),
        (3, 0, 0)
    );
    let mut pushed = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let f = ws::next_of(&mut sock, "code_release").await;
        assert_eq!(f["state"], "done");
        pushed.insert(f["id"].as_i64().unwrap());
    }
    assert_eq!(pushed, ids.iter().copied().collect());
}
