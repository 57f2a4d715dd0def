#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Radar events from the mini program (XCX-02..06 and `mingpian/action`): each one logged,
//! counted, pushed live to the salesperson, visible in QYW-37..40, moving the dashboards
//! (ADM-07/08) and the AI close rate.
mod common;

use std::time::Duration;

use common::{customer, spawn_app, ws, Signer, TestApp};
use serde_json::Value;

async fn card(app: &TestApp, c: &Signer, rep: i64) -> Value {
    let r = app
        .get("/zhugeleida/xiaochengxu/mingpian")
        .signed(c)
        .query(&[("uid", &rep.to_string()), ("action", "1")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "查询成功");
    assert_eq!(r.data()["data_count"], 1);
    r.data()["ret_data"][0].clone()
}

async fn act(app: &TestApp, c: &Signer, path: &str, rep: i64, action: &str) -> String {
    app.get(&format!("/zhugeleida/xiaochengxu/mingpian{path}"))
        .signed(c)
        .query(&[("uid", &rep.to_string()), ("action", action)])
        .send()
        .await
        .ok()
        .msg()
        .to_owned()
}

async fn overview(app: &TestApp, who: &Signer, uid: Option<i64>) -> Value {
    let mut q = vec![];
    let u = uid.map(|u| u.to_string());
    if let Some(u) = &u {
        q.push(("uid", u.as_str()));
    }
    app.get("/zhugeleida/admin/home_page/acount_data")
        .signed(who)
        .query(&q)
        .send()
        .await
        .ok()
        .data()["ret_data"]
        .clone()
}

async fn ai_pr(app: &TestApp, rep: &Signer, customer_id: i64) -> (i64, Value) {
    let r = app
        .get("/zhugeleida/qiyeweixin/customer")
        .signed(rep)
        .query(&[("customer_id", &customer_id.to_string())])
        .send()
        .await
        .ok();
    let row = r.data()["ret_data"][0].clone();
    (row["ai_pr"].as_str().unwrap().parse().unwrap(), row)
}

#[tokio::test]
async fn customer_actions_are_logged_counted_pushed_and_scored() {
    let app = spawn_app().await;
    let (_, admin, rep) = app.tenant("雷达").await;
    let c = customer(&app, rep.user_id, "o_radar").await;
    let (mut sock, _) = ws::connect(&app, "/zhugeleida/qiyeweixin/ws", &rep).await;
    let before_company = overview(&app, &admin, None).await;
    let (pr0, _) = ai_pr(&app, &rep, c.user_id).await;

    // View the card: counters after the view.
    let v = card(&app, &c, rep.user_id).await;
    assert_eq!(v["popularity"], 1);
    assert_eq!(v["praise"], 0);
    assert_eq!(v["is_up_down"], false);
    let ev = ws::next_of(&mut sock, "radar").await;
    assert_eq!(ev["event"]["action"], 1);
    assert_eq!(ev["event"]["customer_id"], c.user_id);
    assert!(ev["event"]["log"]
        .as_str()
        .unwrap()
        .ends_with("查看你的名片"));
    let (pr1, _) = ai_pr(&app, &rep, c.user_id).await;
    assert!(pr1 > pr0, "ai_pr {pr0} -> {pr1}");

    // Praise on, then off.
    assert_eq!(
        act(&app, &c, "/praise", rep.user_id, "9").await,
        "记录日志成功"
    );
    let ev = ws::next_of(&mut sock, "radar").await;
    assert!(ev["event"]["log"].as_str().unwrap().ends_with("觉得靠谱"));
    let v = card(&app, &c, rep.user_id).await;
    ws::next_of(&mut sock, "radar").await;
    assert_eq!(
        (v["praise"].as_i64(), v["is_up_down"].as_bool()),
        (Some(1), Some(true))
    );
    act(&app, &c, "/praise", rep.user_id, "9").await;
    let ev = ws::next_of(&mut sock, "radar").await;
    assert!(ev["event"]["log"]
        .as_str()
        .unwrap()
        .ends_with("取消对你的靠谱评价"));
    let (pr2, _) = ai_pr(&app, &rep, c.user_id).await;
    // Forward (the `action` given is ignored: the endpoint decides), call, save the phone.
    act(&app, &c, "/forward", rep.user_id, "6").await;
    assert_eq!(ws::next_of(&mut sock, "radar").await["event"]["action"], 6);
    act(&app, &c, "/calling", rep.user_id, "1").await;
    assert_eq!(ws::next_of(&mut sock, "radar").await["event"]["action"], 10);
    act(&app, &c, "/action", rep.user_id, "8").await;
    let ev = ws::next_of(&mut sock, "radar").await;
    assert_eq!(ev["event"]["action_name"], "保存电话");
    let (pr3, row) = ai_pr(&app, &rep, c.user_id).await;
    assert!(pr3 > pr2, "ai_pr {pr2} -> {pr3}");
    let factors = row["ai_factors"].as_array().unwrap();
    assert_eq!(factors[0]["factor"], "action_10", "{factors:?}");
    assert_eq!(factors[0]["text"], "本周拨打电话1次");

    let v = card(&app, &c, rep.user_id).await;
    assert_eq!(
        (
            v["popularity"].as_i64(),
            v["praise"].as_i64(),
            v["forward"].as_i64()
        ),
        (Some(3), Some(0), Some(1))
    );
    ws::next_of(&mut sock, "radar").await;

    // QYW-37: 8 events, newest first, paged; filters.
    let t = app
        .get("/zhugeleida/qiyeweixin/action/time")
        .signed(&rep)
        .query(&[("length", "5")])
        .send()
        .await
        .ok();
    assert_eq!(t.msg(), "查询日志记录成功");
    assert_eq!(t.data()["data_count"], 8);
    assert_eq!(t.data()["ret_data"].as_array().unwrap().len(), 5);
    assert!(t.data()["ret_data"][0]["log"]
        .as_str()
        .unwrap()
        .ends_with("查看你的名片"));
    let t = app
        .get("/zhugeleida/qiyeweixin/action/time")
        .signed(&rep)
        .query(&[("action", "9"), ("customer_id", &c.user_id.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(t.data()["data_count"], 2);
    // QYW-38 / 39.
    let per = app
        .get("/zhugeleida/qiyeweixin/action/customer")
        .signed(&rep)
        .send()
        .await
        .ok();
    let row = &per.data()[0];
    assert_eq!(row["totalCount"], 8);
    assert_eq!(row["user_id"], rep.user_id.to_string());
    assert_eq!(row["detail"]["1"]["count"], 3);
    assert_eq!(row["detail"]["9"]["name"], "觉得靠谱");
    let count = app
        .get("/zhugeleida/qiyeweixin/action/count")
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(count.data()[0]["action"]["12"], "复制邮箱");
    assert_eq!(count.data()[0]["detail"]["9"], 2);
    assert!(count.data()[0]["detail"].get("2").is_none());
    // QYW-40: new logs once, then nothing new.
    let new = app
        .get("/zhugeleida/qiyeweixin/action/get_new_log")
        .signed(&rep)
        .query(&[("action", "6")])
        .send()
        .await
        .ok();
    assert_eq!(new.data()["data_count"], 1);
    assert_eq!(new.data()["ret_data"][0]["action"], "转发名片");
    let again = app
        .get("/zhugeleida/qiyeweixin/action/get_new_log")
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(again.data()["data_count"], 7);
    let empty = app
        .get("/zhugeleida/qiyeweixin/action/get_new_log")
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(empty.data()["data_count"], 0);

    // Dashboards moved by exactly those amounts, company-wide and for the salesperson.
    let after_company = overview(&app, &admin, None).await;
    let mine = overview(&app, &rep, None).await;
    let as_admin = overview(&app, &admin, Some(rep.user_id)).await;
    assert_eq!(mine, as_admin);
    for (k, delta) in [
        ("browse_num", 3),
        ("forward_num", 1),
        ("saved_total_num", 1),
        ("praise_sum", 0),
    ] {
        for w in [
            "count_data",
            "today_data",
            "nearly_seven_days",
            "nearly_thirty_days",
        ] {
            assert_eq!(
                after_company[w][k].as_i64().unwrap() - before_company[w][k].as_i64().unwrap(),
                delta,
                "{w}.{k}"
            );
            assert_eq!(mine[w][k].as_i64().unwrap(), delta, "{w}.{k}");
        }
        assert_eq!(mine["yesterday_data"][k], 0);
    }
    assert_eq!(mine["count_data"]["customer_num"], 1);
    // The counters agree with a scan of the log.
    let db = app.db().await;
    let today = zhugeleida::domain::time::today();
    let company_id = app
        .state
        .people
        .user(&app.state, rep.user_id)
        .await
        .unwrap()
        .company_id;
    for uid in [0, rep.user_id] {
        assert_eq!(
            zhugeleida::db::dashboard::windows(&db, company_id, uid, today)
                .await
                .unwrap(),
            zhugeleida::db::dashboard::windows_by_scan(&db, company_id, uid, today)
                .await
                .unwrap()
        );
    }
    // ADM-08: 7 days ending yesterday, oldest first; today's events are not on it.
    let line = app
        .post("/zhugeleida/admin/home_page/line_info")
        .signed(&admin)
        .form(&[("days", "7"), ("index_type", "3")])
        .send()
        .await
        .ok();
    let days = line.data()["ret_data"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    let yesterday = today.pred_opt().unwrap().format("%Y-%m-%d").to_string();
    assert_eq!(days[6]["statics_date"], yesterday.as_str());
    assert!(days.iter().all(|d| d["value"] == 0));
    app.post("/zhugeleida/admin/home_page/line_info")
        .signed(&admin)
        .form(&[("days", "8"), ("index_type", "3")])
        .send()
        .await
        .expect_code(303);
    // ADM-06.
    let home = app
        .get("/zhugeleida/admin/home_page")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(home.data()["ret_data"]["customer_num"], 1);
    assert_eq!(home.data()["ret_data"]["user_count"], 2);
}

#[tokio::test]
async fn yesterdays_events_land_on_the_line_chart() {
    let app = spawn_app().await;
    let (company, admin, rep) = app.tenant("昨日").await;
    let c = customer(&app, rep.user_id, "o_y").await;
    let db = app.db().await;
    // Two views written yesterday (as another writer of the log would): the triggers count them.
    db.execute(
        "insert into action_log (company_id, user_id, customer_id, action, log, create_date)
         select $1, $2, $3, 1, 'x', now() - interval '1 day' from generate_series(1, 2)",
        &[&company, &rep.user_id, &c.user_id],
    )
    .await
    .unwrap();
    let line = app
        .post("/zhugeleida/admin/home_page/line_info")
        .signed(&admin)
        .form(&[("days", "15"), ("index_type", "3")])
        .send()
        .await
        .ok();
    let days = line.data()["ret_data"].as_array().unwrap();
    assert_eq!(days.len(), 15);
    assert_eq!(days[14]["value"], 2);
    let o = overview(&app, &admin, None).await;
    assert_eq!(o["yesterday_data"]["browse_num"], 2);
    assert_eq!(o["today_data"]["browse_num"], 0);
}

#[tokio::test]
async fn a_customers_chat_messages_raise_the_close_rate() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("聊天率").await;
    let c = customer(&app, rep.user_id, "o_chat").await;
    let (before, _) = ai_pr(&app, &rep, c.user_id).await;
    assert_eq!(before, 0);
    let content = serde_json::json!({"info_type": 1, "msg": "在吗"}).to_string();
    app.post("/zhugeleida/gongzhonghao/chat/send_msg/0")
        .signed(&c)
        .form(&[("u_id", &rep.user_id.to_string()), ("content", &content)])
        .send()
        .await
        .ok();
    let (after, _) = ai_pr(&app, &rep, c.user_id).await;
    assert!(after > before, "{before} -> {after}");
    // The salesperson's own messages are not the customer's engagement.
    app.post("/zhugeleida/qiyeweixin/chat/send_msg/0")
        .signed(&rep)
        .form(&[("customer_id", &c.user_id.to_string()), ("msg", "您好")])
        .send()
        .await
        .ok();
    assert_eq!(ai_pr(&app, &rep, c.user_id).await.0, after);
}

#[tokio::test]
async fn ai_close_rate_falls_with_silence() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("沉默").await;
    let c = customer(&app, rep.user_id, "o_s").await;
    for _ in 0..3 {
        act(&app, &c, "/forward", rep.user_id, "6").await;
    }
    let (fresh, _) = ai_pr(&app, &rep, c.user_id).await;
    // Fourteen days pass without activity.
    let db = app.db().await;
    db.execute(
        "update user_customer set ai_energy_at = ai_energy_at - interval '14 days',
            last_activity_time = last_activity_time - interval '14 days'
         where user_id = $1 and customer_id = $2",
        &[&rep.user_id, &c.user_id],
    )
    .await
    .unwrap();
    let (stale, row) = ai_pr(&app, &rep, c.user_id).await;
    assert!(stale < fresh, "{fresh} -> {stale}");
    let factors = row["ai_factors"].as_array().unwrap();
    assert_eq!(factors.last().unwrap()["factor"], "silence");
    assert_eq!(factors.last().unwrap()["text"], "已14天没有互动");
    // New engagement raises it again.
    act(&app, &c, "/calling", rep.user_id, "10").await;
    let (back, _) = ai_pr(&app, &rep, c.user_id).await;
    assert!(back > stale);
}

#[tokio::test]
async fn bad_events_are_refused_and_missed_events_replay() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("外链").await;
    let c = customer(&app, rep.user_id, "o_n").await;
    let (mut sock, _) = ws::connect(&app, "/zhugeleida/qiyeweixin/ws", &rep).await;
    // Bad input: no uid, an unknown action, a salesperson id that does not exist.
    app.get("/zhugeleida/xiaochengxu/mingpian/action")
        .signed(&c)
        .query(&[("action", "2")])
        .send()
        .await
        .expect_code(303);
    app.get("/zhugeleida/xiaochengxu/mingpian/action")
        .signed(&c)
        .query(&[("uid", &rep.user_id.to_string()), ("action", "13")])
        .send()
        .await
        .expect_code(303);
    app.get("/zhugeleida/xiaochengxu/mingpian/action")
        .signed(&c)
        .query(&[("uid", "999999"), ("action", "2")])
        .send()
        .await
        .expect_code(302);
    assert!(ws::next(&mut sock, Duration::from_millis(200))
        .await
        .is_none_or(|f| f["type"] != "radar"));
    // Events while the salesperson was away come back with radar_resume, exactly once.
    ws::send(
        &mut sock,
        serde_json::json!({"type": "radar_resume", "after_id": 0}),
    )
    .await;
    let done = ws::next_of(&mut sock, "radar_resumed").await;
    assert_eq!(done["last_id"], 0);
    drop(sock);
    for a in ["2", "4", "11"] {
        act(&app, &c, "/action", rep.user_id, a).await;
    }
    let (mut sock, _) = ws::connect(&app, "/zhugeleida/qiyeweixin/ws", &rep).await;
    ws::send(
        &mut sock,
        serde_json::json!({"type": "radar_resume", "after_id": 0}),
    )
    .await;
    let mut ids = vec![];
    loop {
        let f = ws::next(&mut sock, Duration::from_secs(5)).await.unwrap();
        if f["type"] == "radar_resumed" {
            assert_eq!(f["last_id"], *ids.last().unwrap());
            break;
        }
        assert_eq!(f["type"], "radar");
        assert_eq!(f["replay"], true);
        ids.push(f["event"]["id"].clone());
    }
    assert_eq!(ids.len(), 3);
    ws::send(
        &mut sock,
        serde_json::json!({"type": "radar_resume", "after_id": ids[1]}),
    )
    .await;
    let f = ws::next_of(&mut sock, "radar").await;
    assert_eq!(f["event"]["id"], ids[2]);
    assert_eq!(f["event"]["action_name"], "播放语音");
    // A customer cannot ask for radar events.
    let (mut csock, _) = ws::connect(&app, "/zhugeleida/xiaochengxu/ws", &c).await;
    ws::send(
        &mut csock,
        serde_json::json!({"type": "radar_resume", "after_id": 0}),
    )
    .await;
    assert_eq!(ws::next_of(&mut csock, "error").await["code"], 303);
    // XCX-03: the cards this customer knows.
    let all = app
        .get("/zhugeleida/xiaochengxu/mingpian/all")
        .signed(&c)
        .send()
        .await
        .ok();
    assert_eq!(all.data()["data_count"], 1);
    assert_eq!(all.data()["ret_data"][0]["source"], "扫码");
}

#[tokio::test]
async fn another_companys_customers_and_salespeople_are_unreachable() {
    let app = spawn_app().await;
    let (_, admin_a, rep_a) = app.tenant("甲方").await;
    let (_, admin_b, rep_b) = app.tenant("乙方").await;
    let ca = customer(&app, rep_a.user_id, "o_a").await;
    let cb = customer(&app, rep_b.user_id, "o_b").await;
    act(&app, &cb, "/forward", rep_b.user_id, "6").await;
    // A customer of A acting on B's salesperson.
    for path in ["", "/calling", "/praise", "/forward"] {
        app.get(&format!("/zhugeleida/xiaochengxu/mingpian{path}"))
            .signed(&ca)
            .query(&[("uid", &rep_b.user_id.to_string()), ("action", "1")])
            .send()
            .await
            .expect_code(302);
    }
    app.get("/zhugeleida/xiaochengxu/mingpian/action")
        .signed(&ca)
        .query(&[("id", &rep_b.user_id.to_string()), ("action", "2")])
        .send()
        .await
        .expect_code(302);
    // A's salesperson filtering the radar by B's customer sees nothing.
    let t = app
        .get("/zhugeleida/qiyeweixin/action/time")
        .signed(&rep_a)
        .query(&[("customer_id", &cb.user_id.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(t.data()["data_count"], 0);
    // A's admin asking for B's salesperson's dashboard.
    app.get("/zhugeleida/admin/home_page/acount_data")
        .signed(&admin_a)
        .query(&[("uid", &rep_b.user_id.to_string())])
        .send()
        .await
        .expect_code(302);
    // A member asking for someone else's numbers.
    app.get("/zhugeleida/admin/home_page/acount_data")
        .signed(&rep_a)
        .query(&[("uid", &admin_a.user_id.to_string())])
        .send()
        .await
        .expect_code(302);
    // B's numbers are untouched by A and vice versa.
    let b = overview(&app, &admin_b, None).await;
    assert_eq!(b["count_data"]["forward_num"], 1);
    let a = overview(&app, &admin_a, None).await;
    assert_eq!(a["count_data"]["forward_num"], 0);
}

/// The dashboard counters of the company and of each salesperson equal a scan of the rows.
async fn counters_agree(app: &TestApp, company_id: i64, users: &[i64], when: &str) {
    let db = app.db().await;
    let today = zhugeleida::domain::time::today();
    for &uid in users {
        let counted = zhugeleida::db::dashboard::windows(&db, company_id, uid, today)
            .await
            .unwrap();
        let scanned = zhugeleida::db::dashboard::windows_by_scan(&db, company_id, uid, today)
            .await
            .unwrap();
        assert_eq!(counted, scanned, "{when}: user {uid}");
    }
}

#[tokio::test]
async fn deletes_keep_the_dashboard_counters_true() {
    // Issue 8 defect 11: after QYW-09 the salesperson's "new customers" stayed counted, and
    // deleting a salesperson left the company's follow-up count with their records.
    let app = spawn_app().await;
    let (company_id, admin, rep) = app.tenant("计数").await;
    app.user(company_id, "计数-sales2", "Passw0rdX", 3).await;
    let rep2 = app.login("计数-sales2", "Passw0rdX").await;
    let c1 = customer(&app, rep.user_id, "o_count1").await;
    let c2 = customer(&app, rep.user_id, "o_count2").await;
    let c3 = customer(&app, rep2.user_id, "o_count3").await;
    for (who, c) in [(&rep, &c1), (&rep, &c2), (&rep2, &c3)] {
        card(&app, c, who.user_id).await;
        app.post(&format!(
            "/zhugeleida/qiyeweixin/follow_info/add/{}",
            c.user_id
        ))
        .signed(who)
        .form(&[("follow_info", "回访过了")])
        .send()
        .await
        .ok();
    }
    let all = [0, rep.user_id, rep2.user_id];
    counters_agree(&app, company_id, &all, "before the deletes").await;
    let mine = overview(&app, &rep, None).await;
    assert_eq!(mine["count_data"]["customer_num"], 2);

    app.post(&format!(
        "/zhugeleida/qiyeweixin/customer/delete/{}",
        c1.user_id
    ))
    .signed(&rep)
    .send()
    .await
    .ok();
    counters_agree(&app, company_id, &all, "after QYW-09").await;
    let mine = overview(&app, &rep, None).await;
    assert_eq!(mine["count_data"]["customer_num"], 1);

    let r = app
        .post(&format!(
            "/zhugeleida/qiyeweixin/user/delete/{}",
            rep2.user_id
        ))
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功");
    counters_agree(
        &app,
        company_id,
        &[0, rep.user_id],
        "after a salesperson's delete",
    )
    .await;
}

#[tokio::test]
async fn two_salespeoples_events_do_not_wait_for_each_others_commit() {
    // The radar writer's lanes own disjoint salespeople, but every batch also moved the
    // company's one daily row, so a lane waited for the other's commit (sql/023): the log of
    // two salespeople of one company must not share a row to lock.
    let app = spawn_app().await;
    let (company_id, admin, rep) = app.tenant("槽位").await;
    app.user(company_id, "槽位-sales2", "Passw0rdX", 3).await;
    let rep2 = app.login("槽位-sales2", "Passw0rdX").await;
    assert_ne!(rep.user_id % 16, rep2.user_id % 16);
    let c1 = customer(&app, rep.user_id, "o_slot1").await;
    let c2 = customer(&app, rep2.user_id, "o_slot2").await;
    card(&app, &c1, rep.user_id).await;
    card(&app, &c2, rep2.user_id).await;
    let log = "insert into action_log (company_id, user_id, customer_id, action, log)
               values ($1, $2, $3, 1, 'x')";
    let mut a = app.db().await;
    let mut b = app.db().await;
    let ta = a.transaction().await.unwrap();
    ta.execute(log, &[&company_id, &rep.user_id, &c1.user_id])
        .await
        .unwrap();
    let tb = b.transaction().await.unwrap();
    tb.batch_execute("set local lock_timeout = '2s'")
        .await
        .unwrap();
    tb.execute(log, &[&company_id, &rep2.user_id, &c2.user_id])
        .await
        .expect("the second salesperson's event waited for the first's transaction");
    tb.commit().await.unwrap();
    ta.commit().await.unwrap();
    counters_agree(
        &app,
        company_id,
        &[0, rep.user_id, rep2.user_id],
        "after both",
    )
    .await;
    let all = overview(&app, &admin, None).await;
    assert_eq!(all["count_data"]["browse_num"], 4, "{all}");
}
