#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The WeChat third-party platform (issue 13): the receiver of WeChat's encrypted pushes, the
//! shared `component_access_token` (one renewal at a time across nodes), company
//! authorization of mini programs and official accounts, customer login through the
//! company's mini program.

mod common;

use common::Resp;
use common::*;
use serde_json::{json, Value};
use zhugeleida::wechat::component;

async fn fetches(app: &TestApp) -> usize {
    app.sandbox_calls("/cgi-bin/component/api_component_token")
        .await
        .len()
}

async fn renewals(app: &TestApp) -> i64 {
    let db = app.db().await;
    zhugeleida::db::wx_platform::component_renewals(&db, "wx0000000000c0ffee")
        .await
        .expect("renewals")
}

#[tokio::test]
async fn without_a_pushed_ticket_there_is_no_component_token() {
    let app = spawn_app().await;
    let err = component::access_token(&app.state).await.err();
    assert_eq!(err.and_then(|e| e.errcode()), Some(61006));
    assert!(app
        .sandbox_calls("/cgi-bin/component/api_component_token")
        .await
        .is_empty());
}

#[tokio::test]
async fn a_pushed_verify_ticket_is_stored_and_buys_one_cached_component_token() {
    let app = spawn_app().await;
    app.platform_ready().await;
    let db = app.db().await;
    let ticket: String = db
        .query_one("select verify_ticket from wx_component", &[])
        .await
        .expect("row")
        .get(0);
    assert_eq!(ticket, "ticket@@@sandbox-0001");

    let a = component::access_token(&app.state).await.expect("token");
    let b = component::access_token(&app.state).await.expect("token");
    assert_eq!(a, b);
    assert!(a.starts_with("sbx_cat_"));
    let calls = app
        .sandbox_calls("/cgi-bin/component/api_component_token")
        .await;
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0]["body_json"]["component_verify_ticket"],
        "ticket@@@sandbox-0001"
    );
    assert_eq!(renewals(&app).await, 1);
}

#[tokio::test]
async fn the_golden_ticket_push_of_worked_example_3_is_accepted_byte_for_byte() {
    let app = spawn_app().await;
    app.platform_ready().await;
    let push = app
        .sandbox_admin(
            "component/push_ticket",
            json!({"timestamp": "1413192605", "nonce": "1320562132",
                   "random16": "1234567890123456", "ticket": "ticket@@@sandbox-0001"}),
        )
        .await;
    let p = &push["push"];
    assert_eq!(p["reply"], "success", "{push}");
    assert_eq!(
        p["query"]["msg_signature"],
        "abee921e50320620ceee984258c57a89e910a884"
    );
    assert_eq!(
        p["query"]["signature"],
        "ce5efa29548a04a26cc2158f9e0d4f9e8c68ef4a"
    );
    assert!(p["ciphertext"]
        .as_str()
        .unwrap_or_default()
        .starts_with("9s4gMv99m88kKTh/H8IdkORlbUdRfIFPWnF+yYIOqYA/"));
}

#[tokio::test]
async fn a_forged_or_tampered_push_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let url = format!("{}/zhugeleida/admin/open_weixin/component_event", app.addr);
    let body = "<xml><AppId><![CDATA[wx0000000000c0ffee]]></AppId><Encrypt><![CDATA[9s4gMv99m88kKTh/H8IdkORlbUdRfIFPWnF+yYIOqYA/OK9CRjxss/Wze3IKizFO6kl0gAHBAfzDuq7dMcYmr7JzmbaRdgsvsEZgbns42p6th3ozoPgIf33HRSNOKWVjQyAN0JEFNUVUMGhCZeoyx4GWkKYKMjZeQAJl5lENu4RzDHHUy/QLfQHYvgWMqBc/Ram5bWvkcaemc9QDy3NX4q2pZgVevfoBAqekUiLyImPWERnEVy99ce2bx5JL6QKQLAPJ3HouP5E0J3wvdGxsvPfxy9CQMkDp8Bu4XQV0h9BWANDA/Uyowzr80eX16rUXx9ZS8gNRQuktb+ZwXx8IRz+6vaBnuX5FMPMVHfsiykI9RAcWZWMWvU0AZaOIHHGE]]></Encrypt></xml>";
    let send = |sig: &'static str, body: &'static str| {
        let http = app.http.clone();
        let url = url.clone();
        async move {
            let r = http
                .post(url)
                .query(&[
                    ("timestamp", "1413192605"),
                    ("nonce", "1320562132"),
                    ("encrypt_type", "aes"),
                    ("msg_signature", sig),
                ])
                .body(body)
                .send()
                .await
                .expect("post");
            (r.status().as_u16(), r.text().await.expect("text"))
        }
    };
    // A wrong signature, garbage XML, a missing Encrypt: the documented 404, never a 5xx.
    for (sig, body) in [
        ("0000000000000000000000000000000000000000", body),
        ("abee921e50320620ceee984258c57a89e910a884", "not xml <<"),
        (
            "abee921e50320620ceee984258c57a89e910a884",
            "<xml><AppId>x</AppId></xml>",
        ),
    ] {
        let (status, text) = send(sig, body).await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&text).expect("envelope");
        assert_eq!(v["code"], 404, "{text}");
    }
    let db = app.db().await;
    let rows = db
        .query(
            "select 1 from wx_component where verify_ticket is not null",
            &[],
        )
        .await
        .expect("q");
    assert!(rows.is_empty());
    // The genuine push of worked example 3 is taken.
    let (status, text) = send("abee921e50320620ceee984258c57a89e910a884", body).await;
    assert_eq!((status, text.as_str()), (200, "success"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_never_renew_one_token_at_the_same_time() {
    let app = spawn_app().await;
    app.platform_ready().await;
    // A second node: its own process state (caches, pool), the same database and WeChat.
    let node2 = zhugeleida::startup::build_state((*app.state.settings).clone())
        .await
        .expect("node 2");
    let nodes = [app.state.clone(), node2.clone()];

    let mut tasks = Vec::new();
    for i in 0..40 {
        let state = nodes[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            component::access_token(&state).await
        }));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.expect("join").expect("token"));
    }
    tokens.dedup();
    assert_eq!(
        tokens.len(),
        1,
        "every caller on both nodes got the one token"
    );
    assert_eq!(fetches(&app).await, 1);
    assert_eq!(renewals(&app).await, 1);

    // WeChat kills the token early: both nodes hit 42001 at once, one renews, all recover.
    app.sandbox_admin("tokens/expire", json!({"kind": "component"}))
        .await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let state = nodes[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let wechat = state.wechat.clone();
            component::call(&state, |token| {
                let wechat = wechat.clone();
                async move {
                    wechat
                        .create_preauthcode(&token, "wx0000000000c0ffee")
                        .await
                }
            })
            .await
        }));
    }
    for t in tasks {
        let code = t.await.expect("join").expect("recovered");
        assert!(code.pre_auth_code.starts_with("preauthcode@@@sandbox-"));
    }
    assert_eq!(
        fetches(&app).await,
        2,
        "exactly one renewal for the one expiry"
    );
    assert_eq!(renewals(&app).await, 2);
    let refused: Vec<Value> = app
        .sandbox_calls("/cgi-bin/component/api_create_preauthcode")
        .await
        .into_iter()
        .filter(|c| c["response"]["errcode"] == 42001)
        .collect();
    assert!(!refused.is_empty(), "the expiry was really seen");
}

/// Follows a grant link like the admin's browser: the sandbox's authorization page answers
/// 302 to our callback with `auth_code`; returns the callback's answer.
async fn authorize_via(app: &TestApp, grant_url: &str) -> Resp {
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = grant_url.split('#').next().unwrap();
    let r = no_redirect.get(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 302, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let location = url::Url::parse(&location).unwrap();
    assert_eq!(location.path(), "/zhugeleida/admin/open_weixin/auth_code");
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "auth_code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    app.get("/zhugeleida/admin/open_weixin/auth_code")
        .query(&[("auth_code", code.as_str()), ("expires_in", "600")])
        .send()
        .await
}

#[tokio::test]
async fn a_company_authorizes_its_mini_program_and_official_account_and_customers_sign_in_with_only_a_code(
) {
    let app = spawn_app().await;
    app.platform_ready().await;
    let (company, admin, sales) = app.tenant("甲公司").await;
    let (_other, other_admin, _) = app.tenant("乙公司").await;

    let r = app
        .get("/zhugeleida/admin/xcx_auth_process")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(r.data()["step"], 1);

    // Step 1.
    app.post("/zhugeleida/admin/xcx_auth_process/update/app_id")
        .signed(&admin)
        .form(&[("authorization_appid", "wxsbxma0000000001")])
        .send()
        .await
        .ok();
    let r = app
        .get("/zhugeleida/admin/xcx_auth_process")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "请求成功.请先进行步骤2");
    assert_eq!(
        r.data(),
        &json!({"step": 2, "ret_data": {"authorization_appid": "wxsbxma0000000001"}})
    );
    // Another company cannot take the same mini program, and sees nothing of it.
    app.post("/zhugeleida/admin/xcx_auth_process/update/app_id")
        .signed(&other_admin)
        .form(&[("authorization_appid", "wxsbxma0000000001")])
        .send()
        .await
        .expect_code(300);
    let r = app
        .get("/zhugeleida/admin/xcx_auth_process")
        .signed(&other_admin)
        .send()
        .await
        .ok();
    assert_eq!(r.data()["step"], 1);
    // A salesperson may not run the flow.
    app.post("/zhugeleida/admin/open_weixin/create_grant_url")
        .signed(&sales)
        .send()
        .await
        .refused(404, "admin endpoint called by a member");

    // Step 2: the grant link, then the browser round trip to the callback.
    let r = app
        .post("/zhugeleida/admin/open_weixin/create_grant_url")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "生成【授权链接】成功");
    let url = r.data().as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("{}/mp/safe/bindcomponent?", app.sandbox)),
        "{url}"
    );
    assert!(url.contains("auth_type=2") && url.contains("biz_appid=wxsbxma0000000001"));
    assert!(
        url.contains("redirect_uri=http%3A%2F%2F")
            && url.contains("%2Fzhugeleida%2Fadmin%2Fopen_weixin%2Fauth_code")
    );
    let done = authorize_via(&app, &url).await.ok();
    assert_eq!(done.data()["authorization_appid"], "wxsbxma0000000001");
    assert_eq!(done.data()["step"], 3);

    // Step 3, then the details.
    app.post("/zhugeleida/admin/xcx_auth_process/update/info")
        .signed(&admin)
        .form(&[("name", "甲的名片"), ("introduce", "介绍")])
        .send()
        .await
        .ok();
    let r = app
        .get("/zhugeleida/admin/xcx_auth_process")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "请求成功");
    let d = r.data();
    assert_eq!(d["step"], "");
    assert_eq!(d["ret_data"]["name"], "甲的名片");
    assert_eq!(d["ret_data"]["principal_name"], "沙盒公司1");
    assert_eq!(d["ret_data"]["verify_type_info"], true);
    assert_eq!(d["ret_data"]["service_category"], "工具\\效率");
    assert!(d["ret_data"].get("version_num").is_some());
    app.get("/zhugeleida/admin/xcx_auth_process/update/xcx_get_authorizer_info")
        .signed(&admin)
        .send()
        .await
        .ok();

    // The official account, through its own grant link (auth_type=1).
    app.post("/zhugeleida/admin/gzh_auth_process/update/app_id")
        .signed(&admin)
        .form(&[("authorization_appid", "wxsbxoa0000000001")])
        .send()
        .await
        .ok();
    let r = app
        .post("/zhugeleida/admin/open_weixin_gongzhonghao/create_grant_url")
        .signed(&admin)
        .send()
        .await
        .ok();
    let url = r.data().as_str().unwrap().to_owned();
    assert!(url.contains("auth_type=1"));
    let done = authorize_via(&app, &url).await.ok();
    assert_eq!(done.data()["step"], "");
    let r = app
        .get("/zhugeleida/admin/gzh_auth_process")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(r.data()["ret_data"]["principal_name"], "沙盒公司1");
    assert!(r.data()["ret_data"].get("version_num").is_none());

    // A customer signs in with only code, user_type and source: the company comes from the
    // mini program's appid in the Referer WeChat sends.
    let r = app
        .http
        .get(format!("{}/zhugeleida/xiaochengxu/login", app.addr))
        .query(&[
            ("code", "sandbox-o_alice.1"),
            ("user_type", "2"),
            ("source", "1"),
        ])
        .header(
            "referer",
            "https://servicewechat.com/wxsbxma0000000001/7/page-frame.html",
        )
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 200, "{v}");
    let customer_id = v["data"]["user_id"].as_i64().unwrap();
    let db = app.db().await;
    let owner: i64 = db
        .query_one(
            "select company_id from customer where id = $1",
            &[&customer_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(owner, company);
    let login_calls = app.sandbox_calls("/sns/component/jscode2session").await;
    assert_eq!(login_calls.len(), 1);
    assert_eq!(login_calls[0]["query"]["appid"], "wxsbxma0000000001");
    // The explicit appid parameter works too.
    app.get("/zhugeleida/xiaochengxu/login")
        .query(&[
            ("code", "sandbox-o_bob.1"),
            ("user_type", "2"),
            ("source", "2"),
            ("appid", "wxsbxma0000000001"),
        ])
        .send()
        .await
        .ok();

    // The salesperson's card code is made with the company's authorizer token.
    app.get("/zhugeleida/qiyeweixin/qr_code_auth")
        .signed(&sales)
        .send()
        .await
        .ok();
    let codes = app.sandbox_calls("/wxa/getwxacodeunlimit").await;
    assert!(codes[0]["query"]["access_token"]
        .as_str()
        .unwrap()
        .starts_with("sbx_aat_wxsbxma0000000001_"));

    // The mini program withdraws its authorization: the app is marked, logins through it stop.
    let r = app
        .sandbox_admin(
            "component/unauthorize",
            json!({"authorizer_appid": "wxsbxma0000000001"}),
        )
        .await;
    assert_eq!(r["unauthorized"], true);
    let r = app
        .get("/zhugeleida/admin/xcx_auth_process")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(r.data()["step"], 2);
    app.get("/zhugeleida/xiaochengxu/login")
        .query(&[
            ("code", "sandbox-o_carol.1"),
            ("user_type", "2"),
            ("source", "1"),
            ("appid", "wxsbxma0000000001"),
        ])
        .send()
        .await
        .expect_code(302);
}
