#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The README's first command: the demo tenant loads (twice, harmlessly), its admin logs in
//! and lists roles, and its salespeople can log in through the sandbox's WeCom.
mod common;

use common::{spawn_app, Signer};
use zhugeleida::demo;

#[tokio::test]
async fn the_demo_admin_logs_in_and_lists_roles_and_a_demo_rep_logs_in_through_wecom() {
    let app = spawn_app().await;
    let printed = demo::load(&app.state).await.unwrap();
    demo::load(&app.state).await.unwrap();
    assert_eq!(printed["company_admin"]["username"], demo::ADMIN.0);
    let admin = app.login(demo::ADMIN.0, demo::ADMIN.1).await;
    let roles = app
        .get("/zhugeleida/admin/admin_role")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(roles.data()["data_count"], 3);
    let users = app
        .get("/zhugeleida/admin/user")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(users.data()["data_count"], 4, "admin + three salespeople");
    let company = printed["company_admin"]["company_id"].as_i64().unwrap();
    let r = app
        .get(&format!(
            "/zhugeleida/qiyeweixin/work_weixin_auth/{company}"
        ))
        .query(&[("code", "sandbox-rep01")])
        .send()
        .await
        .ok();
    let rep = Signer {
        user_id: r.data()["user_id"].as_i64().unwrap(),
        token: r.data()["token"].as_str().unwrap().into(),
    };
    let sales1: i64 = app
        .db()
        .await
        .query_one(
            "select id from user_profile where login_user = 'sales1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        rep.user_id, sales1,
        "WeCom login finds the demo rep by UserID"
    );
    let op = app.login(demo::OPERATOR.0, demo::OPERATOR.1).await;
    let companies = app
        .get("/zhugeleida/admin/company")
        .signed(&op)
        .send()
        .await
        .ok();
    assert_eq!(companies.data()["data_count"], 2);
    let n: i64 = app
        .db()
        .await
        .query_one("select count(*) from user_customer", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
}
