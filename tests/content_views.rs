#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 11, "How it is checked" (products, website, customer pages): an admin creates a
//! product and puts it on the shelf; a customer signed in through the mini program opens the
//! product and the website; the salesperson's WebSocket receives the two radar frames;
//! QYW-37..40 and the dashboards move by exactly those amounts and agree with a scan; foreign
//! ids reveal nothing and write nothing.
mod common;

use std::time::Duration;

use common::{customer, spawn_app, ws, Signer, TestApp};
use serde_json::{json, Value};

const COVER: &str = "statics/zhugeleida/imgs/qiyeweixin/product/cover_1.png";
const WEBSITE: &str = r#"[{"type":"guntu","data":[{"picture_url":"statics/zhugeleida/imgs/xiaochengxu/website/Website_scroll_1.png"}]},{"type":"content","data":[{"picture_url":"statics/zhugeleida/imgs/xiaochengxu/website/Content_1.png"}]}]"#;

async fn add_product(app: &TestApp, admin: &Signer, t: &str, name: &str) -> i64 {
    let content = json!({"cover_data":[{"type":"picture_url","data":[COVER]}],
        "article_data":[{"type":"content","data":["介绍"]}]})
    .to_string();
    app.post("/zhugeleida/admin/product/add/0")
        .signed(admin)
        .query(&[("product_type", t)])
        .form(&[
            ("name", name),
            ("price", "128"),
            ("reason", "好"),
            ("content", &content),
        ])
        .send()
        .await
        .ok();
    app.get("/zhugeleida/admin/product/product_list")
        .signed(admin)
        .query(&[("product_type", t), ("product_name", name), ("status", "1")])
        .send()
        .await
        .ok()
        .data()["ret_data"][0]["product_id"]
        .as_i64()
        .unwrap()
}

async fn overview(app: &TestApp, who: &Signer) -> Value {
    app.get("/zhugeleida/admin/home_page/acount_data")
        .signed(who)
        .send()
        .await
        .ok()
        .data()["ret_data"]
        .clone()
}

async fn radar_views(app: &TestApp, rep: &Signer) -> (i64, Value, Value) {
    let t = app
        .get("/zhugeleida/qiyeweixin/action/time")
        .signed(rep)
        .send()
        .await
        .ok();
    let per = app
        .get("/zhugeleida/qiyeweixin/action/customer")
        .signed(rep)
        .send()
        .await
        .ok();
    let count = app
        .get("/zhugeleida/qiyeweixin/action/count")
        .signed(rep)
        .send()
        .await
        .ok();
    (
        t.data()["data_count"].as_i64().unwrap(),
        per.data().clone(),
        count.data()[0]["detail"].clone(),
    )
}

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

#[tokio::test]
async fn a_customer_opening_a_product_and_the_website_is_two_live_radar_events() {
    let app = spawn_app().await;
    let (company, admin, rep) = app.tenant("官网").await;
    let pid = add_product(&app, &admin, "1", "门票").await;
    // Off the shelf, then on again (ADM-16).
    for s in ["2", "1"] {
        app.post(&format!("/zhugeleida/admin/product/change_status/{pid}"))
            .signed(&admin)
            .form(&[("status", s)])
            .send()
            .await
            .ok();
    }
    app.post(&format!("/zhugeleida/admin/website/edit/{company}"))
        .signed(&admin)
        .form(&[("website_content", WEBSITE)])
        .send()
        .await
        .ok();
    let c = customer(&app, rep.user_id, "o_views").await;
    let (mut sock, _) = ws::connect(&app, "/zhugeleida/qiyeweixin/ws", &rep).await;
    let before_company = overview(&app, &admin).await;
    let before_mine = overview(&app, &rep).await;
    let (t0, per0, count0) = radar_views(&app, &rep).await;
    // Drain QYW-40's unread logs so only the new ones show.
    app.get("/zhugeleida/qiyeweixin/action/get_new_log")
        .signed(&rep)
        .send()
        .await
        .ok();

    // The customer opens the product...
    let uid = rep.user_id.to_string();
    let r = app
        .get("/zhugeleida/xiaochengxu/product/product_single")
        .signed(&c)
        .query(&[("uid", &uid), ("product_id", &pid.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(r.data()["data_count"], 1);
    let p = &r.data()["ret_data"][0];
    assert_eq!(p["id"], pid);
    assert_eq!(p["name"], "门票");
    assert_eq!(p["content"]["cover_data"][0]["data"][0], COVER);
    // ...the frame was pushed before the answer: it is already there.
    let ev = ws::next(&mut sock, Duration::from_millis(500))
        .await
        .expect("the product view's radar frame");
    assert_eq!(ev["type"], "radar");
    assert_eq!(ev["event"]["action"], 2);
    assert_eq!(ev["event"]["action_name"], "查看产品");
    assert_eq!(ev["event"]["customer_id"], c.user_id);
    assert!(ev["event"]["log"]
        .as_str()
        .unwrap()
        .ends_with("查看您的产品"));

    // ...and the website (official-account path, same customer).
    let r = app
        .get("/zhugeleida/gongzhonghao/website")
        .signed(&c)
        .query(&[("uid", &uid)])
        .send()
        .await
        .ok();
    let w = &r.data()["ret_data"][0];
    assert_eq!(w["id"], company);
    assert_eq!(w["name"], "官网");
    assert_eq!(
        w["website_content"],
        serde_json::from_str::<Value>(WEBSITE).unwrap()
    );
    let ev = ws::next(&mut sock, Duration::from_millis(500))
        .await
        .expect("the website view's radar frame");
    assert_eq!(ev["event"]["action"], 4);
    assert!(ev["event"]["log"]
        .as_str()
        .unwrap()
        .ends_with("查看了您的官网"));
    assert!(
        ws::next(&mut sock, Duration::from_millis(300))
            .await
            .is_none(),
        "exactly two frames"
    );

    // QYW-37..40 moved by exactly those two events.
    let (t1, per1, count1) = radar_views(&app, &rep).await;
    assert_eq!(t1 - t0, 2);
    let total = |v: &Value| n(&v[0]["totalCount"]);
    assert_eq!(total(&per1) - total(&per0), 2);
    for a in ["2", "4"] {
        assert_eq!(n(&count1[a]) - n(&count0[a]), 1, "action {a}");
    }
    assert_eq!(n(&count1["1"]), n(&count0["1"]));
    let new = app
        .get("/zhugeleida/qiyeweixin/action/get_new_log")
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(new.data()["data_count"], 2);
    let actions: Vec<&str> = new.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"查看产品") && actions.contains(&"查看官网"),
        "{actions:?}"
    );

    // Dashboards: browse +2, nothing else moved; counters agree with a scan of the log.
    let after_company = overview(&app, &admin).await;
    let after_mine = overview(&app, &rep).await;
    for (before, after) in [
        (&before_company, &after_company),
        (&before_mine, &after_mine),
    ] {
        for w in ["count_data", "today_data"] {
            assert_eq!(
                n(&after[w]["browse_num"]) - n(&before[w]["browse_num"]),
                2,
                "{w}"
            );
            for k in [
                "forward_num",
                "saved_total_num",
                "praise_sum",
                "customer_num",
            ] {
                assert_eq!(after[w][k], before[w][k], "{w}.{k}");
            }
        }
    }
    let db = app.db().await;
    let today = zhugeleida::domain::time::today();
    for u in [0, rep.user_id] {
        assert_eq!(
            zhugeleida::db::dashboard::windows(&db, company, u, today)
                .await
                .unwrap(),
            zhugeleida::db::dashboard::windows_by_scan(&db, company, u, today)
                .await
                .unwrap()
        );
    }

    // The product list, activities (company news) and goods pages are events too.
    let l = app
        .get("/zhugeleida/xiaochengxu/product")
        .signed(&c)
        .query(&[("uid", &uid)])
        .send()
        .await
        .ok();
    assert_eq!(l.data()["data_count"], 1);
    assert_eq!(l.data()["ret_data"][0]["product_id"], pid);
    assert_eq!(ws::next_of(&mut sock, "radar").await["event"]["action"], 2);
    let l = app
        .get("/zhugeleida/xiaochengxu/company_news")
        .signed(&c)
        .query(&[("uid", &uid)])
        .send()
        .await
        .ok();
    assert_eq!(l.data()["data_count"], 0);
    assert_eq!(ws::next_of(&mut sock, "radar").await["event"]["action"], 3);
}

#[tokio::test]
async fn customers_see_only_shelved_products_of_their_company_and_their_salesperson() {
    let app = spawn_app().await;
    let (_, admin_a, rep_a) = app.tenant("甲店").await;
    let (_, admin_b, rep_b) = app.tenant("乙店").await;
    let shelved = add_product(&app, &admin_a, "1", "上架").await;
    let off = add_product(&app, &admin_a, "1", "下架").await;
    app.post(&format!("/zhugeleida/admin/product/change_status/{off}"))
        .signed(&admin_a)
        .form(&[("status", "2")])
        .send()
        .await
        .ok();
    let admins_personal = add_product(&app, &admin_a, "2", "管理员个人").await;
    let reps_personal = add_product(&app, &rep_a, "2", "销售个人").await;
    let foreign = add_product(&app, &admin_b, "1", "乙的产品").await;
    let ca = customer(&app, rep_a.user_id, "o_shop_a").await;
    let (mut sock_b, _) = ws::connect(&app, "/zhugeleida/qiyeweixin/ws", &rep_b).await;
    let (t_b, _, _) = radar_views(&app, &rep_b).await;
    let (t_a, _, _) = radar_views(&app, &rep_a).await;

    let ua = rep_a.user_id.to_string();
    let l = app
        .get("/zhugeleida/xiaochengxu/product")
        .signed(&ca)
        .query(&[("uid", &ua)])
        .send()
        .await
        .ok();
    let mut seen: Vec<i64> = l.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["product_id"].as_i64().unwrap())
        .collect();
    seen.sort();
    let mut want = vec![shelved, reps_personal];
    want.sort();
    assert_eq!(seen, want);

    // Off-shelf, another salesperson's personal product, another company's product: 302.
    for id in [off, admins_personal, foreign] {
        let r = app
            .get("/zhugeleida/xiaochengxu/product/product_single")
            .signed(&ca)
            .query(&[("uid", &ua), ("product_id", &id.to_string())])
            .send()
            .await;
        assert_eq!(r.code(), 302, "product {id}");
        assert_eq!(r.data(), &json!({}));
    }
    // Another company's salesperson as `uid`: 302 on every page, no event for anyone.
    let ub = rep_b.user_id.to_string();
    for path in [
        "product",
        "website",
        "company_news",
        "plugin_report",
        "plugin_goods",
    ] {
        let r = app
            .get(&format!("/zhugeleida/xiaochengxu/{path}"))
            .signed(&ca)
            .query(&[("uid", &ub)])
            .send()
            .await;
        assert_eq!(r.code(), 302, "{path}");
    }
    let r = app
        .get("/zhugeleida/xiaochengxu/product/product_single")
        .signed(&ca)
        .query(&[("uid", &ub), ("product_id", &foreign.to_string())])
        .send()
        .await;
    assert_eq!(r.code(), 302);
    // Bad input.
    for (path, q, code) in [
        ("product", vec![], 303),
        ("product", vec![("uid", "x")], 301),
        ("product/product_single", vec![("uid", ua.as_str())], 303),
    ] {
        let r = app
            .get(&format!("/zhugeleida/xiaochengxu/{path}"))
            .signed(&ca)
            .query(&q)
            .send()
            .await;
        assert_eq!(r.code(), code, "{path} {q:?}");
    }
    assert!(ws::next(&mut sock_b, Duration::from_millis(300))
        .await
        .is_none());
    assert_eq!(radar_views(&app, &rep_b).await.0, t_b);
    // Only the one good list view was logged for A.
    assert_eq!(radar_views(&app, &rep_a).await.0, t_a + 1);
}

/// Pages customers open are cached per node (src/service/content_cache.rs): a change by the
/// admin shows at the customer's very next view on this node (the staff write empties the
/// node's cache when it answers), and a change made in PostgreSQL directly shows as soon as
/// its NOTIFY arrives.
#[tokio::test]
async fn a_changed_product_or_website_shows_at_the_next_view() {
    let app = spawn_app().await;
    let (company, admin, rep) = app.tenant("缓存").await;
    let pid = add_product(&app, &admin, "1", "旧名").await;
    let c = customer(&app, rep.user_id, "o_cache").await;
    let uid = rep.user_id.to_string();
    let pid_s = pid.to_string();
    let product_q = [("uid", uid.as_str()), ("product_id", pid_s.as_str())];
    let website_q = [("uid", uid.as_str())];
    let product = || {
        app.get("/zhugeleida/xiaochengxu/product/product_single")
            .signed(&c)
            .query(&product_q)
    };
    let website = || {
        app.get("/zhugeleida/xiaochengxu/website")
            .signed(&c)
            .query(&website_q)
    };
    // The cache is trusted only once the node hears changes.
    for _ in 0..200 {
        if app.state.content.is_live() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(app.state.content.is_live());
    // Twice: the second view is served from the cache.
    for _ in 0..2 {
        assert_eq!(
            product().send().await.ok().data()["ret_data"][0]["name"],
            "旧名"
        );
    }
    // Off the shelf: the next view is 302.
    app.post(&format!("/zhugeleida/admin/product/change_status/{pid}"))
        .signed(&admin)
        .form(&[("status", "2")])
        .send()
        .await
        .ok();
    assert_eq!(product().send().await.code(), 302);
    // Back on the shelf and renamed.
    app.post(&format!("/zhugeleida/admin/product/change_status/{pid}"))
        .signed(&admin)
        .form(&[("status", "1")])
        .send()
        .await
        .ok();
    assert_eq!(
        product().send().await.ok().data()["ret_data"][0]["name"],
        "旧名"
    );
    app.post(&format!("/zhugeleida/admin/product/update/{pid}"))
        .signed(&admin)
        .form(&[("name", "新名"), ("price", "1"), ("reason", "好")])
        .send()
        .await
        .ok();
    assert_eq!(
        product().send().await.ok().data()["ret_data"][0]["name"],
        "新名"
    );
    // The website, edited by the admin.
    let before = website().send().await.ok().data()["ret_data"][0].clone();
    app.post(&format!("/zhugeleida/admin/website/edit/{company}"))
        .signed(&admin)
        .form(&[("website_content", WEBSITE)])
        .send()
        .await
        .ok();
    let after = website().send().await.ok().data()["ret_data"][0].clone();
    assert_ne!(before, after);
    assert_eq!(website().send().await.ok().data()["ret_data"][0], after);
    // Changed in PostgreSQL behind the server's back: shown once the NOTIFY has arrived.
    app.db()
        .await
        .execute(
            "update product set name = '库里改的' where id = $1",
            &[&pid],
        )
        .await
        .unwrap();
    let mut name = Value::Null;
    for _ in 0..100 {
        name = product().send().await.ok().data()["ret_data"][0]["name"].clone();
        if name == "库里改的" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(name, "库里改的");
}
