#![allow(clippy::unwrap_used, clippy::expect_used)]
//! WeChat sign-in through the sandbox over real HTTP: QYW-01 (WeCom) and XCX-01 (mini program).
mod common;

use common::{spawn_app, Signer, TestApp};

/// A company wired to the sandbox's demo corp through ADM-49/50 (the real admin flow).
async fn wecom_company(app: &TestApp, quota: i32) -> (i64, Signer) {
    let c = app.company("企微公司", quota).await;
    app.user(c, "qadmin", "Passw0rdX", 2).await;
    let admin = app.login("qadmin", "Passw0rdX").await;
    app.post(&format!("/zhugeleida/admin/company/update_tongxunlu/{c}"))
        .signed(&admin)
        .form(&[
            ("corp_id", "wwsandbox"),
            ("tongxunlu_secret", "sandbox-tongxunlu-secret"),
        ])
        .send()
        .await
        .ok();
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
    (c, admin)
}

#[tokio::test]
async fn a_salesperson_logs_in_through_wecom_and_gets_a_working_token() {
    let app = spawn_app().await;
    let (c, _) = wecom_company(&app, 10).await;
    let r = app
        .get(&format!("/zhugeleida/qiyeweixin/work_weixin_auth/{c}"))
        .query(&[
            ("code", "sandbox-rep01"),
            ("user_type", "1"),
            ("source", "2"),
        ])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "登录成功");
    let d = r.data();
    assert_eq!(d["company_id"], c);
    assert_eq!(d["role_id"], 3);
    let s = Signer {
        user_id: d["user_id"].as_i64().unwrap(),
        token: d["token"].as_str().unwrap().into(),
    };
    // profile from user/get
    let row = app
        .db()
        .await
        .query_one(
            "select userid, username, position from user_profile where id = $1",
            &[&s.user_id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "rep01");
    assert_eq!(row.get::<_, String>(1), "销售一");
    // the token signs requests on the qiyeweixin surface
    app.get("/zhugeleida/qiyeweixin/role")
        .signed(&s)
        .send()
        .await
        .refused(404, "admin endpoint called by a member"); // member: no admin list
    app.get("/zhugeleida/admin/login_rules")
        .signed(&s)
        .send()
        .await
        .ok();
    // the same code twice: WeCom's 40029 passes through
    let again = app
        .get(&format!("/zhugeleida/qiyeweixin/work_weixin_auth/{c}"))
        .query(&[("code", "sandbox-rep01")])
        .send()
        .await;
    assert_eq!(again.code(), 40029, "{}", again.raw);
    assert!(
        again.msg().starts_with("企业微信登录报错: 40029 : "),
        "{}",
        again.msg()
    );
    // logging in again finds the same user
    let r2 = app
        .get(&format!("/zhugeleida/qiyeweixin/work_weixin_auth/{c}"))
        .query(&[("code", "sandbox-rep01.2")])
        .send()
        .await
        .ok();
    assert_eq!(r2.data()["user_id"], s.user_id);
    assert_ne!(r2.data()["token"], r.data()["token"]);
}

#[tokio::test]
async fn wecom_login_respects_quota_status_and_configuration() {
    let app = spawn_app().await;
    let (c, admin) = wecom_company(&app, 1).await;
    // quota 1 is taken by the admin: a new member is provisioned disabled → 306
    let r = app
        .get(&format!("/zhugeleida/qiyeweixin/work_weixin_auth/{c}"))
        .query(&[("code", "sandbox-rep02")])
        .send()
        .await;
    assert_eq!(r.code(), 306);
    let n: i64 = app
        .db()
        .await
        .query_one(
            "select count(*) from user_profile where userid = 'rep02' and status = 2",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    let _ = admin;
    // non-member (external) code → 401; missing code → 303; unknown company → 302; bad path → 404
    app.get(&format!("/zhugeleida/qiyeweixin/work_weixin_auth/{c}"))
        .query(&[("code", "sandbox-ext-o_x")])
        .send()
        .await
        .expect_code(401);
    app.get(&format!("/zhugeleida/qiyeweixin/work_weixin_auth/{c}"))
        .send()
        .await
        .expect_code(303);
    app.get("/zhugeleida/qiyeweixin/work_weixin_auth/99999")
        .query(&[("code", "sandbox-rep01")])
        .send()
        .await
        .expect_code(302);
    app.get("/zhugeleida/qiyeweixin/work_weixin_auth/abc")
        .query(&[("code", "sandbox-rep01")])
        .send()
        .await
        .refused(404, "company_id is not a number");
    // a company without WeCom configured → 303
    let other = app.company("未配置", 5).await;
    app.get(&format!("/zhugeleida/qiyeweixin/work_weixin_auth/{other}"))
        .query(&[("code", "sandbox-rep01")])
        .send()
        .await
        .expect_code(303);
}

#[tokio::test]
async fn a_customer_logs_in_from_the_mini_program_and_is_related_to_the_scanned_salesperson() {
    let app = spawn_app().await;
    let (c, _, sales) = app.tenant("甲").await;
    let uid = sales.user_id.to_string();
    let cs = c.to_string();
    let r = app
        .get("/zhugeleida/xiaochengxu/login")
        .query(&[
            ("code", "\"sandbox-o_alice\""),
            ("user_type", "2"),
            ("source", "2"),
            ("uid", &uid),
            ("company_id", &cs),
        ])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "登录成功");
    let cust = Signer {
        user_id: r.data()["user_id"].as_i64().unwrap(),
        token: r.data()["token"].as_str().unwrap().into(),
    };
    assert_eq!(cust.token.len(), 32);
    let db = app.db().await;
    let row = db
        .query_one(
            "select k.company_id, k.openid, k.session_key is not null, uc.source, uc.user_id
             from customer k join user_customer uc on uc.customer_id = k.id where k.id = $1",
            &[&cust.user_id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), c);
    assert_eq!(row.get::<_, String>(1), "o_alice");
    assert!(row.get::<_, bool>(2));
    assert_eq!(row.get::<_, i16>(3), 2);
    assert_eq!(row.get::<_, i64>(4), sales.user_id);
    // the other documented path, same customer, new token, relation unchanged
    let r2 = app
        .get("/zhugeleida/xiaochengxu/small_program_auth")
        .query(&[
            ("code", "sandbox-o_alice.2"),
            ("user_type", "2"),
            ("source", "1"),
            ("uid", &uid),
        ])
        .send()
        .await
        .ok();
    assert_eq!(r2.data()["user_id"], cust.user_id);
    assert_ne!(r2.data()["token"], r.data()["token"]);
    let n: i64 = db
        .query_one(
            "select count(*) from user_customer where customer_id = $1",
            &[&cust.user_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    // WeChat errors pass through: reused code 40163, garbage 40029
    let reused = app
        .get("/zhugeleida/xiaochengxu/login")
        .query(&[("code", "sandbox-o_alice.2"), ("uid", &uid)])
        .send()
        .await;
    assert_eq!(reused.code(), 40163, "{}", reused.raw);
    assert!(reused.msg().starts_with("小程序登录报错: 40163 : "));
    app.get("/zhugeleida/xiaochengxu/login")
        .query(&[("code", "garbage"), ("uid", &uid)])
        .send()
        .await
        .expect_code(40029);
    // missing company and uid → 303; unknown uid → 302; uid of another company → 302; bad source → 303
    app.get("/zhugeleida/xiaochengxu/login")
        .query(&[("code", "sandbox-o_bob")])
        .send()
        .await
        .expect_code(303);
    app.get("/zhugeleida/xiaochengxu/login")
        .query(&[("code", "sandbox-o_bob"), ("uid", "99999")])
        .send()
        .await
        .expect_code(302);
    let (c2, _, _) = app.tenant("乙").await;
    app.get("/zhugeleida/xiaochengxu/login")
        .query(&[
            ("code", "sandbox-o_bob"),
            ("uid", &uid),
            ("company_id", &c2.to_string()),
        ])
        .send()
        .await
        .expect_code(302);
    app.get("/zhugeleida/xiaochengxu/login")
        .query(&[("code", "sandbox-o_bob"), ("uid", &uid), ("source", "5")])
        .send()
        .await
        .expect_code(303);
    // a customer token does not sign staff requests (A-01: surfaces decide the table)
    app.get("/zhugeleida/admin/login_rules")
        .signed(&cust)
        .send()
        .await
        .refused(404, "signature matches no session");
}

#[tokio::test]
async fn the_same_wechat_user_is_a_separate_customer_in_each_company() {
    let app = spawn_app().await;
    let (c1, _, _) = app.tenant("甲").await;
    let (c2, _, _) = app.tenant("乙").await;
    let a = app
        .get("/zhugeleida/xiaochengxu/login")
        .query(&[
            ("code", "sandbox-o_carol.1"),
            ("company_id", &c1.to_string()),
        ])
        .send()
        .await
        .ok();
    let b = app
        .get("/zhugeleida/xiaochengxu/login")
        .query(&[
            ("code", "sandbox-o_carol.2"),
            ("company_id", &c2.to_string()),
        ])
        .send()
        .await
        .ok();
    assert_ne!(a.data()["user_id"], b.data()["user_id"]);
}
