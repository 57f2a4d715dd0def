#![allow(clippy::unwrap_used, clippy::expect_used)]
//! One session per device (issue 8 "Sessions on several devices") and WebSockets that end
//! with their session on every node (issue 9 item 12), from the outside.
mod common;

use std::time::Duration;

use common::{customer, second_node, spawn_app, spawn_app_with, ws, Signer, TestApp};
use serde_json::json;

const RULES: &str = "/zhugeleida/admin/login_rules";
const REP_WS: &str = "/zhugeleida/qiyeweixin/ws";
const CUST_WS: &str = "/zhugeleida/xiaochengxu/ws";
const ILLEGAL: &str = "非法请求";

/// A signed read that must be refused as unsigned (404 非法请求), not for any other reason.
async fn assert_signed_out(app: &TestApp, who: &Signer, why: &str) {
    let r = app.get(RULES).signed(who).send().await;
    assert_eq!(
        r.body,
        json!({"code": 404, "msg": ILLEGAL, "data": {}}),
        "expected a refused signature"
    );
    r.refused(404, why);
}

/// The close code of a socket the server should be closing now.
async fn closed_with(s: &mut ws::Socket) -> Option<u16> {
    ws::close_code(s, Duration::from_secs(5)).await
}

#[tokio::test]
async fn each_login_is_its_own_session_and_the_others_stay_signed_in() {
    let app = spawn_app().await;
    let c = app.company("多端", 10).await;
    app.user(c, "duo", "Passw0rdX", 3).await;
    let phone = app.login("duo", "Passw0rdX").await;
    let web = app.login("duo", "Passw0rdX").await;
    let tablet = app.login("duo", "Passw0rdX").await;
    assert_ne!(phone.token, web.token);
    assert_ne!(web.token, tablet.token);
    for who in [&phone, &web, &tablet, &phone] {
        app.get(RULES).signed(who).send().await.ok();
    }
    let n: i64 = app
        .db()
        .await
        .query_one(
            "select count(*) from auth_session where user_id = $1",
            &[&phone.user_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3, "one session row per login");
}

#[tokio::test]
async fn a_customers_second_device_does_not_log_out_the_first() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("顾客多端").await;
    let first = customer(&app, rep.user_id, "o_two_phones").await;
    let second = customer(&app, rep.user_id, "o_two_phones").await;
    assert_eq!(first.user_id, second.user_id, "the same customer");
    assert_ne!(first.token, second.token);
    let (mut s1, _) = ws::connect(&app, CUST_WS, &first).await;
    for who in [&first, &second] {
        app.get("/zhugeleida/xiaochengxu/mingpian")
            .signed(who)
            .query(&[("uid", &rep.user_id.to_string())])
            .send()
            .await
            .ok();
    }
    ws::send(&mut s1, json!({"type": "ping"})).await;
    ws::next_of(&mut s1, "pong").await;
}

#[tokio::test]
async fn an_idle_session_expires_alone() {
    let app = spawn_app_with(|s| s.auth.token_idle = Duration::from_secs(120)).await;
    let c = app.company("闲置", 10).await;
    app.user(c, "idle", "Passw0rdX", 3).await;
    let old = app.login("idle", "Passw0rdX").await;
    let fresh = app.login("idle", "Passw0rdX").await;
    app.get(RULES).signed(&old).send().await.ok();
    app.db()
        .await
        .execute(
            "update auth_session set last_used_at = now() - interval '10 minutes'
             where user_id = $1 and token = $2",
            &[&old.user_id, &old.token],
        )
        .await
        .unwrap();
    app.settle_staff(old.user_id).await;
    assert_signed_out(&app, &old, "token idle for too long").await;
    app.get(RULES).signed(&fresh).send().await.ok();
}

#[tokio::test]
async fn a_password_change_keeps_the_callers_session_answers_empty_data_and_ends_the_others_on_every_node(
) {
    let a = spawn_app().await;
    let b = second_node(&a).await;
    let c = a.company("改密", 10).await;
    a.user(c, "pw", "Passw0rdX", 2).await;
    let me = a.login("pw", "Passw0rdX").await;
    let other = a.login("pw", "Passw0rdX").await;
    let (mut mine_on_b, _) = ws::connect(&b, REP_WS, &me).await;
    let (mut other_on_b, _) = ws::connect(&b, REP_WS, &other).await;
    let (mut other_on_a, _) = ws::connect(&a, REP_WS, &other).await;

    let r = a
        .post("/zhugeleida/admin/modify_password")
        .signed(&me)
        .form(&[("password1", "NewPassw0rd"), ("password2", "NewPassw0rd")])
        .send()
        .await;
    assert_eq!(
        r.body,
        json!({"code": 200, "msg": "修改密码成功", "data": {}}),
        "ADM-02 answers {{}} (API.md A-18)"
    );

    assert_eq!(closed_with(&mut other_on_b).await, Some(4003));
    assert_eq!(closed_with(&mut other_on_a).await, Some(4003));
    b.settle_staff(me.user_id).await;
    assert_signed_out(&b, &other, "signature matches no session").await;
    assert_signed_out(&a, &other, "signature matches no session").await;
    // The caller keeps its session, on both nodes, and its socket stays open.
    a.get(RULES).signed(&me).send().await.ok();
    b.get(RULES).signed(&me).send().await.ok();
    ws::send(&mut mine_on_b, json!({"type": "ping"})).await;
    ws::next_of(&mut mine_on_b, "pong").await;
    // The new password works and gives a new session; the old one does not.
    let r = a
        .post("/zhugeleida/admin/login")
        .form(&[("username", "pw"), ("password", "Passw0rdX")])
        .send()
        .await;
    assert_eq!((r.code(), r.msg()), (401, "账号密码错误"));
    let again = a.login("pw", "NewPassw0rd").await;
    a.get(RULES).signed(&again).send().await.ok();
    a.get(RULES).signed(&me).send().await.ok();
}

#[tokio::test]
async fn disabling_a_user_ends_all_sessions_closes_their_sockets_on_every_node_and_answers_306() {
    let a = spawn_app().await;
    let b = second_node(&a).await;
    let (_, admin, rep) = a.tenant("停用").await;
    let rep2 = a.login("停用-sales", "Passw0rdX").await;
    let (mut on_a, _) = ws::connect(&a, REP_WS, &rep).await;
    let (mut on_b, _) = ws::connect(&b, REP_WS, &rep2).await;
    b.get(RULES).signed(&rep).send().await.ok(); // node b caches the record
    a.post(&format!(
        "/zhugeleida/admin/user/update_status/{}",
        rep.user_id
    ))
    .signed(&admin)
    .form(&[("status", "2")])
    .send()
    .await
    .ok();
    assert_eq!(closed_with(&mut on_a).await, Some(4003));
    assert_eq!(closed_with(&mut on_b).await, Some(4003));
    b.settle_staff(rep.user_id).await;
    for (node, who) in [(&a, &rep), (&b, &rep), (&b, &rep2)] {
        let r = node.get(RULES).signed(who).send().await;
        assert_eq!(
            r.body,
            json!({"code": 306, "msg": "账户未启用", "data": {}}),
            "a disabled user's token answers 306 (API.md 1.5)"
        );
    }
    // A new socket is refused too.
    let mut s = ws::connect_raw(&b, REP_WS, &rep).await;
    assert_eq!(closed_with(&mut s).await, Some(4003));
    // Enabled again: the ended sessions stay ended; a new login works.
    a.post(&format!(
        "/zhugeleida/admin/user/update_status/{}",
        rep.user_id
    ))
    .signed(&admin)
    .form(&[("status", "1")])
    .send()
    .await
    .ok();
    b.settle_staff(rep.user_id).await;
    assert_signed_out(&b, &rep, "signature matches no session").await;
    assert_signed_out(&a, &rep2, "signature matches no session").await;
    let back = a.login("停用-sales", "Passw0rdX").await;
    b.get(RULES).signed(&back).send().await.ok();
}

#[tokio::test]
async fn an_admin_setting_a_new_password_ends_every_session_of_that_user() {
    let app = spawn_app().await;
    let (_, admin, rep) = app.tenant("重置").await;
    let rep2 = app.login("重置-sales", "Passw0rdX").await;
    let (mut s, _) = ws::connect(&app, REP_WS, &rep2).await;
    app.post(&format!(
        "/zhugeleida/admin/admin_userprofile/update/{}",
        rep.user_id
    ))
    .signed(&admin)
    .form(&[("password", "Reset0Passw")])
    .send()
    .await
    .ok();
    assert_eq!(closed_with(&mut s).await, Some(4003));
    assert_signed_out(&app, &rep, "signature matches no session").await;
    assert_signed_out(&app, &rep2, "signature matches no session").await;
    app.get(RULES).signed(&admin).send().await.ok();
}

#[tokio::test]
async fn deleting_a_user_closes_its_sockets() {
    let app = spawn_app().await;
    let (_, admin, rep) = app.tenant("删除").await;
    let (mut s, _) = ws::connect(&app, REP_WS, &rep).await;
    app.post(&format!(
        "/zhugeleida/admin/admin_userprofile/delete/{}",
        rep.user_id
    ))
    .signed(&admin)
    .send()
    .await
    .ok();
    assert_eq!(closed_with(&mut s).await, Some(4003));
    assert_signed_out(&app, &rep, "not found").await;
}

#[tokio::test]
async fn switching_user_adds_a_session_and_leaves_the_users_own_alone() {
    let app = spawn_app().await;
    let op = app.operator().await;
    let (_, admin, _) = app.tenant("切换").await;
    let (mut s, _) = ws::connect(&app, REP_WS, &admin).await;
    let r = app
        .post(&format!(
            "/zhugeleida/admin/admin_userprofile/switch_admin_user/{}",
            admin.user_id
        ))
        .signed(&op)
        .send()
        .await
        .ok();
    let as_admin = Signer {
        user_id: admin.user_id,
        token: r.data()["token"].as_str().unwrap().into(),
    };
    assert_ne!(as_admin.token, admin.token);
    app.get(RULES).signed(&as_admin).send().await.ok();
    app.get(RULES).signed(&admin).send().await.ok();
    ws::send(&mut s, json!({"type": "ping"})).await;
    ws::next_of(&mut s, "pong").await;
}
