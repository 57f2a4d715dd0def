#![allow(clippy::unwrap_used, clippy::expect_used)]
//! ADM-34 over HTTP through the WeChat sandbox: the contacts sync adds, updates and disables
//! users, a second run changes nothing, the card quota holds, progress is visible, and
//! another company's ids are out of reach.

mod common;

use std::time::Duration;

use common::{spawn_app, ws, Resp, Signer, TestApp};
use serde_json::{json, Value};

async fn configure(app: &TestApp, admin: &Signer, company: i64) {
    app.post(&format!(
        "/zhugeleida/admin/company/update_tongxunlu/{company}"
    ))
    .signed(admin)
    .form(&[
        ("corp_id", "wwsandbox"),
        ("tongxunlu_secret", "sandbox-tongxunlu-secret"),
    ])
    .send()
    .await
    .ok();
}

async fn sync(app: &TestApp, admin: &Signer, company: i64) -> Resp {
    app.post(&format!(
        "/zhugeleida/admin/user/sync_user_tongxunlu/{company}"
    ))
    .signed(admin)
    .send()
    .await
}

async fn sandbox(app: &TestApp, path: &str, body: Value) {
    let r = app
        .http
        .post(format!("{}/__sandbox{path}", app.sandbox))
        .json(&body)
        .send()
        .await
        .expect("sandbox admin");
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

fn member(userid: &str, name: &str, dept: &[i64], mobile: &str) -> Value {
    json!({"userid": userid, "name": name, "department": dept, "position": "销售经理",
           "mobile": mobile, "gender": 1, "email": format!("{userid}@sandbox.example"),
           "avatar": format!("https://sandbox.example/avatar/{userid}.png")})
}

/// Everything the sync may write for `company`, as one comparable text.
async fn snapshot(app: &TestApp, company: i64) -> String {
    let db = app.db().await;
    let rows = db
        .query(
            "select coalesce(json_agg(t order by t.id)::text, '') from (
                select u.id, u.userid, u.username, u.status, u.position, u.gender, u.phone, u.mingpian_phone,
                    u.email, u.avatar, u.from_wecom, u.wecom_left,
                    (select array_agg(d.name order by d.name) from user_department ud join department d on d.id = ud.department_id where ud.user_id = u.id) as depts
                from user_profile u where u.company_id = $1) t
             union all
             select coalesce(json_agg(d order by d.id)::text, '') from (
                select id, name, wecom_dept_id, parent_id from department where company_id = $1) d",
            &[&company],
        )
        .await
        .expect("snapshot");
    rows.iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn users_by_userid(app: &TestApp, admin: &Signer) -> Vec<Value> {
    let r = app
        .get("/zhugeleida/admin/user")
        .signed(admin)
        .send()
        .await
        .ok();
    r.data()["ret_data"].as_array().expect("rows").clone()
}

fn find<'a>(rows: &'a [Value], userid: &str) -> &'a Value {
    rows.iter()
        .find(|u| u["userid"] == userid)
        .unwrap_or_else(|| panic!("{userid} not listed"))
}

#[tokio::test]
async fn contacts_sync_adds_updates_and_disables_users_and_twice_changes_nothing() {
    let app = spawn_app().await;
    let (c, admin, _) = app.tenant("甲").await;
    configure(&app, &admin, c).await;

    let r = sync(&app, &admin, c).await.ok();
    assert_eq!(r.msg(), "同步成功");
    let d = r.data();
    assert_eq!(d["status"], "done");
    assert_eq!(
        (
            d["created"].clone(),
            d["updated"].clone(),
            d["disabled"].clone()
        ),
        (json!(3), json!(0), json!(0))
    );
    // department row changes: 3 inserted, 2 of them given their parent
    assert_eq!(d["departments"], 5);
    assert_eq!(
        (d["total"].clone(), d["processed"].clone()),
        (json!(3), json!(3))
    );
    let rows = users_by_userid(&app, &admin).await;
    let rep1 = find(&rows, "rep01");
    assert_eq!(rep1["username"], "销售一");
    assert_eq!(rep1["status"], "启用");
    assert_eq!(rep1["phone"], "13800000001");
    assert_eq!(rep1["mingpian_phone"], "13800000001");
    assert_eq!(rep1["position"], "销售经理");
    assert_eq!(rep1["department"], "销售部");
    assert_eq!(rep1["gender"], 1);
    assert_eq!(rep1["avatar"], "https://sandbox.example/avatar/rep01.png");

    // twice = no change, counted and in the rows
    let before = snapshot(&app, c).await;
    let d = sync(&app, &admin, c).await.ok().data().clone();
    assert_eq!(
        (
            d["created"].clone(),
            d["updated"].clone(),
            d["disabled"].clone(),
            d["enabled"].clone(),
            d["departments"].clone(),
            d["unchanged"].clone()
        ),
        (json!(0), json!(0), json!(0), json!(0), json!(0), json!(3))
    );
    assert_eq!(snapshot(&app, c).await, before);

    // the directory changes: rep02 renamed and moved, rep03 leaves, rep04 joins, a new
    // department, 技术部 renamed
    sandbox(
        &app,
        "/wecom/directory",
        json!({
            "departments": [
                {"id": 1, "name": "公司", "parentid": 0},
                {"id": 2, "name": "销售部", "parentid": 1},
                {"id": 3, "name": "研发部", "parentid": 1},
                {"id": 4, "name": "市场部", "parentid": 1}
            ],
            "users": [
                member("rep01", "销售一", &[2], "13800000001"),
                member("rep02", "销售二改名", &[3, 4], "13900000002"),
                member("rep04", "新同事", &[4], "13800000004")
            ]
        }),
    )
    .await;
    let d = sync(&app, &admin, c).await.ok().data().clone();
    assert_eq!(
        (
            d["created"].clone(),
            d["updated"].clone(),
            d["disabled"].clone(),
            d["unchanged"].clone(),
            d["departments"].clone()
        ),
        // departments: 技术部 renamed, 市场部 inserted and given its parent
        (json!(1), json!(1), json!(1), json!(1), json!(3))
    );
    let rows = users_by_userid(&app, &admin).await;
    let rep2 = find(&rows, "rep02");
    assert_eq!(rep2["username"], "销售二改名");
    assert_eq!(rep2["phone"], "13900000002");
    assert_eq!(rep2["department"], "研发部,市场部");
    assert_eq!(find(&rows, "rep03")["status"], "未启用");
    assert_eq!(find(&rows, "rep04")["status"], "启用");
    // the admin's own users (not from the address book) are untouched
    assert_eq!(rows.iter().filter(|u| u["status"] == "启用").count(), 5);

    let before = snapshot(&app, c).await;
    let d = sync(&app, &admin, c).await.ok().data().clone();
    assert_eq!(
        (
            d["created"].clone(),
            d["updated"].clone(),
            d["disabled"].clone()
        ),
        (json!(0), json!(0), json!(0))
    );
    assert_eq!(snapshot(&app, c).await, before);

    // rep03 comes back: enabled again by the sync that had disabled it
    sandbox(
        &app,
        "/wecom/directory",
        json!({"users": [
            member("rep01", "销售一", &[2], "13800000001"),
            member("rep02", "销售二改名", &[3, 4], "13900000002"),
            member("rep03", "销售三", &[2], "13800000003"),
            member("rep04", "新同事", &[4], "13800000004")
        ]}),
    )
    .await;
    let d = sync(&app, &admin, c).await.ok().data().clone();
    assert_eq!(
        (d["enabled"].clone(), d["created"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(
        find(&users_by_userid(&app, &admin).await, "rep03")["status"],
        "启用"
    );
}

#[tokio::test]
async fn members_past_the_card_quota_are_created_disabled_and_reported() {
    let app = spawn_app().await;
    let (c, admin, _) = app.tenant("甲").await;
    // admin + sales use 2 of 4 cards
    app.db()
        .await
        .execute(
            "update company set mingpian_available_num = 4 where id = $1",
            &[&c],
        )
        .await
        .unwrap();
    configure(&app, &admin, c).await;
    let d = sync(&app, &admin, c).await.ok().data().clone();
    assert_eq!(d["created"], 3);
    assert_eq!(
        d["over_quota"],
        json!([{"userid": "rep03", "name": "销售三"}])
    );
    let rows = users_by_userid(&app, &admin).await;
    assert_eq!(find(&rows, "rep01")["status"], "启用");
    assert_eq!(find(&rows, "rep02")["status"], "启用");
    assert_eq!(find(&rows, "rep03")["status"], "未启用");
    let before = snapshot(&app, c).await;
    let d = sync(&app, &admin, c).await.ok().data().clone();
    assert_eq!(
        (
            d["created"].clone(),
            d["updated"].clone(),
            d["unchanged"].clone()
        ),
        (json!(0), json!(0), json!(3))
    );
    assert_eq!(snapshot(&app, c).await, before);
    // a leaver frees a card; a returning member the sync disabled gets it back only if one is free
    sandbox(
        &app,
        "/wecom/directory",
        json!({"users": [member("rep01", "销售一", &[2], "13800000001")]}),
    )
    .await;
    let d = sync(&app, &admin, c).await.ok().data().clone();
    assert_eq!(d["disabled"], 1);
    let enabled: i64 = app
        .db()
        .await
        .query_one(
            "select count(*) from user_profile where company_id = $1 and status = 1",
            &[&c],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(enabled, 3);
}

#[tokio::test]
async fn progress_is_visible_while_the_sync_runs_and_pushed_to_the_admin_s_websocket() {
    let app = spawn_app().await;
    let (c, admin, _) = app.tenant("甲").await;
    configure(&app, &admin, c).await;
    let status_path = format!("/zhugeleida/admin/user/sync_user_tongxunlu_status/{c}");
    // no run yet
    app.get(&status_path)
        .signed(&admin)
        .send()
        .await
        .expect_code(302);
    let (mut sock, _) = ws::connect(&app, "/zhugeleida/qiyeweixin/ws", &admin).await;
    sandbox(
        &app,
        "/faults",
        json!({"host": "qyapi", "path": "/cgi-bin/user/list", "delay_ms": 1500}),
    )
    .await;
    let running = {
        let app = &app;
        let admin = admin.clone();
        async move { sync(app, &admin, c).await }
    };
    let watcher = async {
        let mut seen = None;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let s = app.get(&status_path).signed(&admin).send().await;
            if s.code() == 200 && s.data()["status"] == "running" {
                seen = Some(s.data().clone());
                break;
            }
        }
        // a second sync while one runs is refused
        let second = sync(&app, &admin, c).await;
        (seen, second)
    };
    let (done, (seen, second)) = tokio::join!(running, watcher);
    let seen = seen.expect("status showed the run while it ran");
    assert_eq!(seen["phase"], "fetching");
    assert_eq!(seen["processed"], 0);
    second.expect_code(303);
    let done = done.ok();
    assert_eq!(done.data()["status"], "done");
    let s = app.get(&status_path).signed(&admin).send().await.ok();
    assert_eq!(s.data()["sync_id"], done.data()["sync_id"]);
    assert_eq!(s.data()["processed"], 3);
    // frames: one per committed step, the last one finished
    let mut frames = vec![];
    loop {
        let f = ws::next_of(&mut sock, "tongxunlu_sync").await;
        let finished = f["status"] == "done";
        frames.push(f);
        if finished {
            break;
        }
    }
    let processed: Vec<i64> = frames
        .iter()
        .map(|f| f["processed"].as_i64().unwrap())
        .collect();
    assert!(processed.windows(2).all(|w| w[0] <= w[1]), "{processed:?}");
    assert!(frames
        .iter()
        .any(|f| f["status"] == "running" && f["phase"] == "users"));
    assert_eq!(frames.last().unwrap()["created"], 3);
}

#[tokio::test]
async fn a_wecom_error_passes_through_and_leaves_the_users_as_they_were() {
    let app = spawn_app().await;
    let (c, admin, _) = app.tenant("甲").await;
    // no credentials yet → 303
    let r = sync(&app, &admin, c).await.expect_code(303);
    assert!(r.msg().contains("corp_id"), "{}", r.msg());
    configure(&app, &admin, c).await;
    let before = snapshot(&app, c).await;
    sandbox(
        &app,
        "/faults",
        json!({"host": "qyapi", "path": "/cgi-bin/user/list", "errcode": 60011, "errmsg": "no privilege to access/modify contact/party/agent"}),
    )
    .await;
    let r = sync(&app, &admin, c).await.expect_code(60011);
    assert!(
        r.msg().starts_with("同步通讯录报错: 60011 : "),
        "{}",
        r.msg()
    );
    assert_eq!(snapshot(&app, c).await, before);
    let s = app
        .get(&format!(
            "/zhugeleida/admin/user/sync_user_tongxunlu_status/{c}"
        ))
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(s.data()["status"], "failed");
    assert!(s.data()["error"].as_str().unwrap().contains("60011"));
    // the fault fired once: the next run works
    sync(&app, &admin, c).await.ok();
}

#[tokio::test]
async fn another_company_s_sync_and_status_are_out_of_reach() {
    let app = spawn_app().await;
    let (a, admin_a, _) = app.tenant("甲").await;
    let (b, admin_b, sales_b) = app.tenant("乙").await;
    configure(&app, &admin_a, a).await;
    let before_b = snapshot(&app, b).await;
    sync(&app, &admin_b, a).await.expect_code(302);
    app.get(&format!(
        "/zhugeleida/admin/user/sync_user_tongxunlu_status/{a}"
    ))
    .signed(&admin_b)
    .send()
    .await
    .expect_code(302);
    // a member cannot sync its own company
    sync(&app, &sales_b, b)
        .await
        .refused(404, "admin endpoint called by a member");
    sync(&app, &admin_a, a).await.ok();
    assert_eq!(snapshot(&app, b).await, before_b);
    app.get(&format!(
        "/zhugeleida/admin/user/sync_user_tongxunlu_status/{a}"
    ))
    .signed(&admin_b)
    .send()
    .await
    .expect_code(302);
    // the operator may sync any company
    let op = app.operator().await;
    let d = sync(&app, &op, a).await.ok().data().clone();
    assert_eq!(d["unchanged"], 3);
}

#[tokio::test]
async fn a_qr_sign_up_is_adopted_by_its_wecom_member_and_then_logs_in_through_wecom() {
    let root = std::env::temp_dir().join(format!("zgld-sync-{}", uuid::Uuid::new_v4().simple()));
    let dir = root.clone();
    let app = common::spawn_app_with(move |s| s.static_dir = dir).await;
    let (c, admin, _) = app.tenant("甲").await;
    configure(&app, &admin, c).await;
    app.post(&format!("/zhugeleida/admin/company/update_agent/{c}"))
        .signed(&admin)
        .form(&[
            ("app_type", "1"),
            ("agent_id", "1000002"),
            ("app_secret", "sandbox-ai-radar-secret"),
        ])
        .send()
        .await
        .ok();
    // rep03 signs up by QR before the address book is synced
    app.get("/zhugeleida/admin/user/create_scan_code/0")
        .signed(&admin)
        .send()
        .await
        .ok();
    let row = app
        .db()
        .await
        .query_one("select rand_str, timestamp, creator_id from registration_code order by id desc limit 1", &[])
        .await
        .unwrap();
    let (rand_str, ts, creator): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
    app.post("/zhugeleida/admin/user/scan_code_to_add_user/0")
        .raw_auth(&rand_str, &ts, &creator.to_string())
        .form(&[
            ("username", "小三"),
            ("position", "实习"),
            ("wechat", "wx3"),
            ("wechat_phone", "13800000003"),
            ("mingpian_phone", "13800000003"),
        ])
        .send()
        .await
        .ok();
    let tid = app
        .get("/zhugeleida/admin/user")
        .signed(&admin)
        .query(&[("type", "temp_user")])
        .send()
        .await
        .ok()
        .data()["ret_data"][0]["temp_user_id"]
        .as_i64()
        .unwrap();
    let r = app
        .post("/zhugeleida/admin/user/approval_storage_user_info/0")
        .signed(&admin)
        .form(&[("user_id_list", &format!("[{tid}]"))])
        .send()
        .await
        .ok();
    let new_id = r.data()["approved"][0]["user_id"].as_i64().unwrap();
    // the sync adopts the approved user for rep03 (same mobile) instead of adding a second one
    let d = sync(&app, &admin, c).await.ok().data().clone();
    assert_eq!(
        (d["created"].clone(), d["updated"].clone()),
        (json!(2), json!(1))
    );
    let rows = users_by_userid(&app, &admin).await;
    let rep3 = find(&rows, "rep03");
    assert_eq!(rep3["id"], new_id);
    assert_eq!(rep3["username"], "销售三");
    assert_eq!(
        rows.iter().filter(|u| u["phone"] == "13800000003").count(),
        1
    );
    // and the member signs in through WeCom as that user
    let login = app
        .get(&format!("/zhugeleida/qiyeweixin/work_weixin_auth/{c}"))
        .query(&[("code", "sandbox-rep03.first")])
        .send()
        .await
        .ok();
    assert_eq!(login.data()["user_id"], new_id);
    let before = snapshot(&app, c).await;
    let d = sync(&app, &admin, c).await.ok().data().clone();
    assert_eq!(
        (
            d["created"].clone(),
            d["updated"].clone(),
            d["unchanged"].clone()
        ),
        (json!(0), json!(0), json!(3))
    );
    // QYW-01 may have refreshed last_login_date and the token only: the synced columns agree
    assert_eq!(snapshot(&app, c).await, before);
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn a_new_corp_makes_the_app_secrets_unverified_until_they_are_saved_again() {
    let app = spawn_app().await;
    let (c, admin, _) = app.tenant("甲").await;
    configure(&app, &admin, c).await;
    app.post(&format!("/zhugeleida/admin/company/update_agent/{c}"))
        .signed(&admin)
        .form(&[
            ("app_type", "1"),
            ("agent_id", "1000002"),
            ("app_secret", "sandbox-ai-radar-secret"),
        ])
        .send()
        .await
        .ok();
    let status = || async {
        app.get("/zhugeleida/admin/company/author_status")
            .signed(&admin)
            .query(&[("company_id", &c.to_string())])
            .send()
            .await
            .ok()
            .data()["ret_data"]
            .clone()
    };
    assert_eq!(status().await[1]["is_validate"], true);
    // the same corp saved again keeps the app verified
    configure(&app, &admin, c).await;
    assert_eq!(status().await[1]["is_validate"], true);
    // WeCom now knows the corp as wwother
    let mut seed: Value = app
        .http
        .get(format!("{}/__sandbox/config", app.sandbox))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    seed["wecom"]["corpid"] = json!("wwother");
    sandbox(&app, "/reset", seed).await;
    app.post(&format!("/zhugeleida/admin/company/update_tongxunlu/{c}"))
        .signed(&admin)
        .form(&[
            ("corp_id", "wwother"),
            ("tongxunlu_secret", "sandbox-tongxunlu-secret"),
        ])
        .send()
        .await
        .ok();
    let s = status().await;
    assert_eq!(s[0]["is_validate"], true);
    assert_eq!(s[1]["is_validate"], false);
}
