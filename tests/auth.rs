#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Legacy signed auth, hardened (API.md 1.2 and issue 2 item 4), from the outside.
mod common;

use std::time::Duration;

use common::{sign_with, spawn_app, spawn_app_with, Signer};
use serde_json::json;

const RULES: &str = "/zhugeleida/admin/access_rules";

#[tokio::test]
async fn login_returns_the_documented_payload_and_a_fresh_token() {
    let app = spawn_app().await;
    let c = app.company("大麦公司", 10).await;
    let id = app.user(c, "zhang", "Passw0rdX", 2).await;
    let r = app
        .post("/zhugeleida/admin/login")
        .form(&[("username", "zhang"), ("password", "Passw0rdX")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "登录成功");
    let d = r.data();
    for key in [
        "token",
        "user_id",
        "set_avatar",
        "company_name",
        "company_id",
        "role_id",
        "role_name",
        "avatar",
        "last_login_date",
        "is_reset_password",
    ] {
        assert!(d.get(key).is_some(), "missing {key} in {d}");
    }
    assert_eq!(d["user_id"], id);
    assert_eq!(d["company_name"], "大麦公司");
    assert_eq!(d["role_name"], "管理员");
    assert_eq!(d["is_reset_password"], false);
    assert_eq!(
        d["last_login_date"],
        serde_json::Value::Null,
        "first login has no previous login"
    );
    let token = d["token"].as_str().unwrap();
    assert_eq!(token.len(), 32);
    assert!(token
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    // the second login reports the first one's time and starts a second session; the first
    // stays signed in (one session per device)
    let r2 = app
        .post("/zhugeleida/admin/login")
        .form(&[("username", "zhang"), ("password", "Passw0rdX")])
        .send()
        .await
        .ok();
    assert!(r2.data()["last_login_date"].as_str().unwrap().len() == 19);
    assert_ne!(r2.data()["token"], d["token"]);
    let first = Signer {
        user_id: id,
        token: token.to_owned(),
    };
    app.get(RULES).signed(&first).send().await.ok();
    // the password is stored as Argon2id, never in clear or md5
    let db = app.db().await;
    let hash: String = db
        .query_one(
            "select password_hash from user_profile where id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

#[tokio::test]
async fn wrong_password_is_401_and_the_sixth_try_is_refused_even_with_the_right_one() {
    let app = spawn_app().await;
    let c = app.company("c", 10).await;
    app.user(c, "li", "Passw0rdX", 2).await;
    app.post("/zhugeleida/admin/login")
        .form(&[("username", "nobody"), ("password", "x")])
        .send()
        .await
        .expect_code(401);
    for _ in 0..5 {
        let r = app
            .post("/zhugeleida/admin/login")
            .form(&[("username", "li"), ("password", "bad")])
            .send()
            .await;
        assert_eq!(r.code(), 401);
        assert_eq!(r.msg(), "账号密码错误");
    }
    let r = app
        .post("/zhugeleida/admin/login")
        .form(&[("username", "li"), ("password", "Passw0rdX")])
        .send()
        .await;
    assert_eq!(r.code(), 401);
    assert!(r.msg().contains("30分钟"), "{}", r.msg());
    // other names are not affected
    app.user(c, "wang", "Passw0rdX", 3).await;
    app.login("wang", "Passw0rdX").await;
}

#[tokio::test]
async fn a_disabled_user_gets_306_at_login_and_on_signed_requests() {
    let app = spawn_app().await;
    let (c, admin, _) = app.tenant("t").await;
    let uid = app.user(c, "bob", "Passw0rdX", 2).await;
    let bob = app.login("bob", "Passw0rdX").await;
    app.post(&format!("/zhugeleida/admin/user/update_status/{uid}"))
        .signed(&admin)
        .form(&[("status", "2")])
        .send()
        .await
        .ok();
    // the session ended with the disable; its token says why (API.md 1.5)
    let r = app.get(RULES).signed(&bob).send().await;
    assert_eq!(
        r.body,
        json!({"code": 306, "msg": "账户未启用", "data": {}})
    );
    let r = app
        .post("/zhugeleida/admin/login")
        .form(&[("username", "bob"), ("password", "Passw0rdX")])
        .send()
        .await;
    assert_eq!(r.code(), 306);
    assert_eq!(r.msg(), "账户未启用");
    // disabled directly in SQL while holding a token: the trigger ends the session, 306
    app.post(&format!("/zhugeleida/admin/user/update_status/{uid}"))
        .signed(&admin)
        .form(&[("status", "1")])
        .send()
        .await
        .ok();
    let bob = app.login("bob", "Passw0rdX").await;
    app.db()
        .await
        .execute("update user_profile set status = 2 where id = $1", &[&uid])
        .await
        .unwrap();
    app.settle_staff(uid).await;
    let r = app.get(RULES).signed(&bob).send().await;
    assert_eq!(
        r.body,
        json!({"code": 306, "msg": "账户未启用", "data": {}})
    );
}

#[tokio::test]
async fn an_expired_company_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let c = app.company("过期公司", 10).await;
    app.user(c, "exp", "Passw0rdX", 2).await;
    let s = app.login("exp", "Passw0rdX").await;
    app.db()
        .await
        .execute(
            "update company set account_expired_time = current_date - 1 where id = $1",
            &[&c],
        )
        .await
        .unwrap();
    app.settle_staff(s.user_id).await;
    let r = app
        .post("/zhugeleida/admin/login")
        .form(&[("username", "exp"), ("password", "Passw0rdX")])
        .send()
        .await;
    assert_eq!(r.code(), 306);
    assert!(r.msg().contains("过期"), "{}", r.msg());
    app.get(RULES).signed(&s).send().await.expect_code(306);
}

#[tokio::test]
async fn bad_signatures_all_answer_404_illegal_request() {
    let app = spawn_app().await;
    let (_, admin, sales) = app.tenant("t").await;
    let ok = app.get(RULES).signed(&admin).send().await;
    assert_eq!(ok.code(), 200);
    let now = chrono::Utc::now().timestamp_millis().to_string();
    let uid = admin.user_id.to_string();
    let cases = [
        (
            "wrong rand_str",
            "0123456789abcdef0123456789abcdef".to_string(),
            now.clone(),
            uid.clone(),
        ),
        (
            "other user's token",
            sign_with(&now, &sales.token),
            now.clone(),
            uid.clone(),
        ),
        (
            "unknown user",
            sign_with(&now, &admin.token),
            now.clone(),
            "999999".into(),
        ),
        (
            "non-numeric user",
            sign_with(&now, &admin.token),
            now.clone(),
            "abc".into(),
        ),
        (
            "stale timestamp",
            sign_with("1528097283000", &admin.token),
            "1528097283000".into(),
            uid.clone(),
        ),
        (
            "future timestamp",
            {
                let t = (chrono::Utc::now().timestamp_millis() + 3_600_000).to_string();
                sign_with(&t, &admin.token)
            },
            (chrono::Utc::now().timestamp_millis() + 3_600_000).to_string(),
            uid.clone(),
        ),
    ];
    for (what, r, ts, u) in cases {
        let resp = app.get(RULES).raw_auth(&r, &ts, &u).send().await;
        assert_eq!(
            resp.body,
            json!({"code": 404, "msg": "非法请求", "data": {}}),
            "{what}"
        );
        let why = match what {
            "unknown user" => "staff 999999 not found",
            "non-numeric user" => "non-numeric user_id",
            "stale timestamp" | "future timestamp" => "stale timestamp",
            _ => "signature matches no session",
        };
        resp.refused(404, why);
    }
    app.get(RULES).send().await.refused(404, "missing rand_str");
    app.get(RULES)
        .query(&[("user_id", &uid)])
        .send()
        .await
        .refused(404, "missing rand_str");
}

#[tokio::test]
async fn a_write_signature_is_single_use_but_reads_may_repeat() {
    let app = spawn_app().await;
    let op = app.operator().await;
    let ts = chrono::Utc::now().timestamp_millis().to_string();
    let r = sign_with(&ts, &op.token);
    let uid = op.user_id.to_string();
    for _ in 0..2 {
        app.get(RULES).raw_auth(&r, &ts, &uid).send().await.ok();
    }
    app.post("/zhugeleida/admin/access_rules/add/0")
        .raw_auth(&r, &ts, &uid)
        .form(&[("name", "a"), ("url_path", "a")])
        .send()
        .await
        .ok();
    let replay = app
        .post("/zhugeleida/admin/access_rules/add/0")
        .raw_auth(&r, &ts, &uid)
        .form(&[("name", "b"), ("url_path", "b")])
        .send()
        .await;
    assert_eq!(
        replay.body,
        json!({"code": 404, "msg": zhugeleida::error::REPLAYED_MSG, "data": {}}),
        "a replay says so (issue 8 defect 4)"
    );
    let n: i64 = app
        .db()
        .await
        .query_one("select count(*) from access_rule", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the replayed write must not land");
}

#[tokio::test]
async fn freshness_window_zero_turns_the_check_off() {
    let app = spawn_app_with(|s| s.auth.signature_window = Duration::ZERO).await;
    let (_, admin, _) = app.tenant("t").await;
    let ts = "1528097283000";
    app.get(RULES)
        .raw_auth(&sign_with(ts, &admin.token), ts, &admin.user_id.to_string())
        .send()
        .await
        .ok();
}

#[tokio::test]
async fn an_idle_token_stops_working() {
    let app = spawn_app_with(|s| s.auth.token_idle = Duration::from_secs(120)).await;
    let (_, admin, _) = app.tenant("t").await;
    app.get(RULES).signed(&admin).send().await.ok();
    app.db()
        .await
        .execute("update auth_session set last_used_at = now() - interval '10 minutes' where user_id = $1", &[&admin.user_id])
        .await
        .unwrap();
    app.settle_staff(admin.user_id).await;
    app.get(RULES)
        .signed(&admin)
        .send()
        .await
        .refused(404, "token idle for too long");
}

#[tokio::test]
async fn a_token_past_its_absolute_lifetime_stops_working() {
    let app = spawn_app_with(|s| s.auth.token_max_age = Duration::from_secs(3600)).await;
    let (_, admin, _) = app.tenant("t").await;
    app.db()
        .await
        .execute(
            "update auth_session set issued_at = now() - interval '2 hours' where user_id = $1",
            &[&admin.user_id],
        )
        .await
        .unwrap();
    app.settle_staff(admin.user_id).await;
    app.get(RULES)
        .signed(&admin)
        .send()
        .await
        .refused(404, "token past its absolute lifetime");
}

#[tokio::test]
async fn password_change_checks_complexity_and_keeps_the_callers_session() {
    let app = spawn_app().await;
    let (_, admin, _) = app.tenant("t").await;
    let url = "/zhugeleida/admin/modify_password";
    let r = app
        .post(url)
        .signed(&admin)
        .form(&[("password1", "short1A"), ("password2", "short1A")])
        .send()
        .await;
    assert_eq!(r.code(), 305);
    assert_eq!(
        r.msg(),
        "密码复杂度检查未通过,请检查最小长度为八位,包含大小写字母和数字"
    );
    let r = app
        .post(url)
        .signed(&admin)
        .form(&[("password1", "NewPassw0rd"), ("password2", "NewPassw0rd2")])
        .send()
        .await;
    assert_eq!(r.code(), 305);
    assert_eq!(r.msg(), "两次密码不一致");
    let r = app
        .post(url)
        .signed(&admin)
        .form(&[("password1", "NewPassw0rd"), ("password2", "NewPassw0rd")])
        .send()
        .await;
    assert_eq!(
        r.body,
        json!({"code": 200, "msg": "修改密码成功", "data": {}})
    );
    app.get(RULES).signed(&admin).send().await.ok();
    app.post("/zhugeleida/admin/login")
        .form(&[("username", "t-admin"), ("password", "Passw0rdX")])
        .send()
        .await
        .expect_code(401);
    let r = app
        .post("/zhugeleida/admin/login")
        .form(&[("username", "t-admin"), ("password", "NewPassw0rd")])
        .send()
        .await
        .ok();
    assert_eq!(r.data()["is_reset_password"], true);
}

#[tokio::test]
async fn a_legacy_md5_password_logs_in_once_and_is_upgraded_to_argon2() {
    let app = spawn_app().await;
    let c = app.company("c", 10).await;
    let id = app.user(c, "old", "unused", 2).await;
    let wrapped = zhugeleida::domain::password::wrap_legacy_md5(
        &zhugeleida::domain::password::md5_hex("oldpass"),
    )
    .unwrap();
    app.db()
        .await
        .execute(
            "update user_profile set password_hash = $2 where id = $1",
            &[&id, &wrapped],
        )
        .await
        .unwrap();
    app.post("/zhugeleida/admin/login")
        .form(&[("username", "old"), ("password", "wrong")])
        .send()
        .await
        .expect_code(401);
    app.login("old", "oldpass").await;
    let hash: String = app
        .db()
        .await
        .query_one(
            "select password_hash from user_profile where id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(hash.starts_with("$argon2id$"), "upgraded: {hash}");
    app.login("old", "oldpass").await;
}

#[tokio::test]
async fn with_redis_a_spent_signature_is_refused_on_every_node() {
    let url = common::redis_url();
    let a = spawn_app_with(|s| s.redis_url = Some(url.clone())).await;
    // a second node on the same database
    let db_url = a.state.settings.database_url.clone();
    let b = spawn_app_with(|s| {
        s.redis_url = Some(url.clone());
        s.database_url = db_url.clone();
    })
    .await;
    let op = a.operator().await;
    let ts = chrono::Utc::now().timestamp_millis().to_string();
    let r = sign_with(&ts, &op.token);
    let uid = op.user_id.to_string();
    a.post("/zhugeleida/admin/access_rules/add/0")
        .raw_auth(&r, &ts, &uid)
        .form(&[("name", "x"), ("url_path", "x")])
        .send()
        .await
        .ok();
    let r2 = b
        .post("/zhugeleida/admin/access_rules/add/0")
        .raw_auth(&r, &ts, &uid)
        .form(&[("name", "y"), ("url_path", "y")])
        .send()
        .await;
    assert_eq!(
        r2.body,
        json!({"code": 404, "msg": zhugeleida::error::REPLAYED_MSG, "data": {}})
    );
}
