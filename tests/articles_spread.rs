#![allow(clippy::unwrap_used, clippy::expect_used)]
//! How an article spreads, end to end through the WeChat sandbox: a salesperson shares an
//! article; customer A signs in through the official account (both scopes), reads it (level 1),
//! builds a share link and forwards it; customer B opens the link (the packed `relate` and its
//! 302), reads (level 2) for 95 s; the salesperson's WebSocket sees every event; QYW-52, the
//! tree, reach and reading time show exactly that; the JSSDK signature; foreign ids.
mod common;

use std::collections::HashMap;

use common::{spawn_app, ws, Signer, TestApp};
use serde_json::{json, Value};

const CONTENT: &str = r#"{"cover_data":[{"type":"picture_url","data":["statics/c.png"]}],"article_data":[{"type":"content","data":["短文"]}]}"#;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A browser in WeChat opening `url` as `openid`: the 302's Location.
async fn browse(url: &str, openid: &str) -> String {
    let url = url.trim_end_matches("#wechat_redirect");
    let r = no_redirects()
        .get(format!("{url}&sandbox_user={openid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302, "{url}");
    r.headers()["location"].to_str().unwrap().to_owned()
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The front-end page at `page` calls GZH-07 with what WeChat put in its URL.
async fn sign_in(app: &TestApp, page: &str, article_id: i64) -> Value {
    let q = query_of(page);
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    app.get("/zhugeleida/gongzhonghao/work_gongzhonghao_auth")
        .query(&[
            ("code", &get("code")),
            ("appid", "wxsandboxgzh"),
            ("pid", &get("pid")),
            ("article_id", &article_id.to_string()),
            ("state", &get("state")),
            ("level", &get("level")),
            ("uid", &get("uid")),
            ("company_id", &get("company_id")),
        ])
        .send()
        .await
        .ok()
        .data()
        .clone()
}

/// Both scopes: the silent code first, then the consent page for a customer without a profile.
async fn official_account_login(
    app: &TestApp,
    page: &str,
    article_id: i64,
    openid: &str,
) -> Signer {
    let first = sign_in(app, page, article_id).await;
    assert_eq!(first["is_verify"], false, "{first}");
    let again = first["authorize_url"].as_str().unwrap();
    assert!(
        again.contains("scope=snsapi_userinfo&state=snsapi_userinfo"),
        "{again}"
    );
    let page2 = browse(again, openid).await;
    assert_eq!(query_of(&page2)["state"], "snsapi_userinfo");
    let done = sign_in(app, &page2, article_id).await;
    assert_eq!(done["is_verify"], true, "{done}");
    Signer {
        user_id: done["user_id"].as_i64().unwrap(),
        token: done["token"].as_str().unwrap().to_owned(),
    }
}

async fn next_article_event(s: &mut ws::Socket) -> Value {
    loop {
        let f = ws::next_of(s, "radar").await;
        if f["event"]["kind"] == "article" {
            return f["event"].clone();
        }
    }
}

async fn new_article(app: &TestApp, admin: &Signer, title: &str) -> i64 {
    app.post("/zhugeleida/admin/article/add/0")
        .signed(admin)
        .form(&[("title", title), ("content", CONTENT)])
        .send()
        .await
        .ok();
    app.get("/zhugeleida/admin/article/myarticle_list/")
        .signed(admin)
        .query(&[("title", title)])
        .send()
        .await
        .ok()
        .data()["ret_data"][0]["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn an_article_spreads_from_a_salesperson_through_two_levels_of_customers() {
    let app = spawn_app().await;
    let (company, admin, sales) = app.tenant("传播公司").await;
    let article = new_article(&app, &admin, "装修十问").await;
    let (mut live, _) = ws::connect(&app, "/zhugeleida/qiyeweixin/ws", &sales).await;

    // The salesperson shares the article: GZH-05 with the article lands on its page, level 1.
    let r = app
        .get(&format!(
            "/zhugeleida/gongzhonghao/create_gongzhonghao_auth_url/{company}"
        ))
        .signed(&sales)
        .query(&[("article_id", &article.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "返回成功成功");
    let shared = r.data()["authorize_url"].as_str().unwrap().to_owned();
    let page = format!(
        "http://zhugeleida.zhugeyingxiao.com/yulanwenzhang/{article}?pid=&level=1&uid={}&company_id={company}",
        sales.user_id
    );
    let expected = format!(
        "{}/open/connect/oauth2/authorize?appid=wxsandboxgzh&redirect_uri={}&response_type=code&scope=snsapi_base&state=snsapi_base#wechat_redirect",
        app.sandbox,
        url::form_urlencoded::byte_serialize(page.as_bytes()).collect::<String>()
    );
    assert_eq!(shared, expected);

    // Customer A opens it in WeChat and signs in (silent, then with the profile).
    let landing = browse(&shared, "o_alice").await;
    assert!(landing.starts_with(&page), "{landing}");
    let a = official_account_login(&app, &landing, article, "o_alice").await;

    // A reads: level 1, pushed at once.
    let r = app
        .get(&format!(
            "/zhugeleida/gongzhonghao/article/myarticle/{article}"
        ))
        .signed(&a)
        .query(&[("uid", &sales.user_id.to_string()), ("pid", "")])
        .send()
        .await
        .ok();
    assert_eq!(r.data()["ret_data"][0]["title"], "装修十问");
    assert_eq!(r.data()["ret_data"][0]["content"], CONTENT);
    assert!(r.data().get("data_count").is_none());
    let a_node = r.data()["article_access_log_id"].as_i64().unwrap();
    let e = next_article_event(&mut live).await;
    assert_eq!(
        (
            e["article_event"].as_str(),
            e["customer_id"].as_i64(),
            e["level"].as_i64()
        ),
        (Some("read"), Some(a.user_id), Some(1))
    );
    assert_eq!(
        (
            e["id"].as_i64(),
            e["first_visit"].as_bool(),
            e["customer__username"].as_str()
        ),
        (Some(a_node), Some(true), Some("Alice"))
    );
    assert!(
        e.get("action").is_none(),
        "article events carry no legacy action code"
    );
    assert!(e["ai_pr"].as_i64().unwrap() > 0);

    // A builds the share link (A becomes the pid, level 2) and forwards it to Moments.
    let r = app
        .get("/zhugeleida/gongzhonghao/work_gongzhonghao_auth/create_gongzhonghao_share_auth_url")
        .signed(&a)
        .query(&[
            ("uid", &sales.user_id.to_string()),
            ("level", "1"),
            ("article_id", &article.to_string()),
            ("company_id", &company.to_string()),
        ])
        .send()
        .await
        .ok();
    let share = r.data()["share_url"].as_str().unwrap().to_owned();
    let relate = format!(
        "article_id_{article}|pid_{}|level_2|uid_{}|company_id_{company}",
        a.user_id, sales.user_id
    );
    assert_eq!(
        query_of(share.trim_end_matches("#wechat_redirect"))["redirect_uri"],
        format!(
            "http://127.0.0.1:8000/zhugeleida/gongzhonghao/work_gongzhonghao_auth?relate={relate}"
        )
    );
    let r = app
        .get(&format!(
            "/zhugeleida/gongzhonghao/article/forward_article/{article}"
        ))
        .signed(&a)
        .query(&[
            ("forward_type", "2"),
            ("uid", &sales.user_id.to_string()),
            ("pid", ""),
        ])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "记录转发成功");
    let e = next_article_event(&mut live).await;
    assert_eq!(
        (
            e["article_event"].as_str(),
            e["forward_type"].as_i64(),
            e["id"].as_i64()
        ),
        (Some("forward"), Some(2), Some(a_node))
    );

    // Customer B opens the link: WeChat sends the browser to GZH-07 with `relate`, which
    // answers 302 to the article page without spending the code.
    let back = browse(&share, "o_bob").await;
    let back = url::Url::parse(&back).unwrap();
    let r = no_redirects()
        .get(format!(
            "{}{}?{}",
            app.addr,
            back.path(),
            back.query().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let front = r.headers()["location"].to_str().unwrap().to_owned();
    let q = query_of(&front);
    assert!(
        front.starts_with(&format!(
            "http://zhugeleida.zhugeyingxiao.com/yulanwenzhang/{article}?"
        )),
        "{front}"
    );
    assert_eq!(
        (
            q["pid"].as_str(),
            q["level"].as_str(),
            q["appid"].as_str(),
            q["state"].as_str()
        ),
        (
            a.user_id.to_string().as_str(),
            "2",
            "wxsandboxgzh",
            "snsapi_base"
        )
    );
    let b = official_account_login(&app, &front, article, "o_bob").await;

    // B reads through A's link (level 2) for 95 s.
    let r = app
        .get(&format!(
            "/zhugeleida/gongzhonghao/article/myarticle/{article}"
        ))
        .signed(&b)
        .query(&[("uid", &q["uid"]), ("pid", &q["pid"])])
        .send()
        .await
        .ok();
    let b_node = r.data()["article_access_log_id"].as_i64().unwrap();
    let e = next_article_event(&mut live).await;
    assert_eq!(
        (
            e["customer_id"].as_i64(),
            e["level"].as_i64(),
            e["pid"].as_i64()
        ),
        (Some(b.user_id), Some(2), Some(a.user_id))
    );
    let r = app
        .get(&format!(
            "/zhugeleida/gongzhonghao/article/staytime/{article}"
        ))
        .signed(&b)
        .query(&[
            ("article_access_log_id", &b_node.to_string()),
            ("stay_time", "95"),
            ("uid", &q["uid"]),
            ("pid", &q["pid"]),
        ])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "记录客户查看文章时间成功");
    let e = next_article_event(&mut live).await;
    assert_eq!(
        (
            e["article_event"].as_str(),
            e["stay_time"].as_i64(),
            e["finished"].as_bool()
        ),
        (Some("staytime"), Some(95), Some(true))
    );
    // A shorter report never lowers it.
    app.get(&format!(
        "/zhugeleida/gongzhonghao/article/staytime/{article}"
    ))
    .signed(&b)
    .query(&[
        ("article_access_log_id", &b_node.to_string()),
        ("stay_time", "3"),
    ])
    .send()
    .await
    .ok();
    next_article_event(&mut live).await;

    // QYW-52, as the salesperson sees it.
    let uid = sales.user_id.to_string();
    let level = |l: &'static str| {
        let (app, sales, uid) = (&app, &sales, uid.clone());
        async move {
            app.get(&format!(
                "/zhugeleida/qiyeweixin/article/customer_effect_ranking_by_level/{article}"
            ))
            .signed(sales)
            .query(&[("uid", uid.as_str()), ("level", l)])
            .send()
            .await
            .ok()
        }
    };
    let r0 = level("0").await;
    assert_eq!(r0.msg(), "返回成功");
    let d = r0.data();
    assert_eq!(
        (
            d["level_num"].as_i64(),
            d["count"].as_i64(),
            d["article_id"].as_str()
        ),
        (Some(2), Some(1), Some(article.to_string().as_str()))
    );
    assert_eq!(
        d["ret_data"],
        json!([{"article_id": article, "uid": sales.user_id, "user_name": "传播公司-sales", "customer_id": a.user_id,
                "customer_name": "Alice", "customer_headimgurl": "https://sandbox.example/headimg/o_alice.png",
                "sex": "女", "area": "浙江杭州", "read_count": 1, "stay_time": 0, "level": 1}])
    );
    let r2 = level("2").await;
    assert_eq!(r2.data()["count"], 1);
    let row = &r2.data()["ret_data"][0];
    assert_eq!(
        (
            row["customer_id"].as_i64(),
            row["sex"].as_str(),
            row["area"].as_str(),
            row["stay_time"].as_i64(),
            row["level"].as_i64()
        ),
        (
            Some(b.user_id),
            Some("男"),
            Some("山西运城"),
            Some(95),
            Some(2)
        )
    );
    assert_eq!(level("3").await.data()["ret_data"], json!([]));

    // The tree: A, then B under A.
    let tree = app
        .get(&format!(
            "/zhugeleida/qiyeweixin/article/forward_tree/{article}"
        ))
        .signed(&sales)
        .send()
        .await
        .ok();
    let nodes = tree.data()["ret_data"].as_array().unwrap().clone();
    assert_eq!(tree.data()["data_count"], 2);
    assert_eq!(nodes.len(), 2);
    assert_eq!(
        (
            nodes[0]["id"].as_i64(),
            nodes[0]["parent_id"].clone(),
            nodes[0]["reach"].as_i64(),
            nodes[0]["children"].as_i64(),
            nodes[0]["forward_count"].as_i64()
        ),
        (Some(a_node), Value::Null, Some(1), Some(1), Some(1))
    );
    assert_eq!(
        (
            nodes[1]["id"].as_i64(),
            nodes[1]["parent_id"].as_i64(),
            nodes[1]["level"].as_i64(),
            nodes[1]["stay_time"].as_i64(),
            nodes[1]["reach"].as_i64()
        ),
        (Some(b_node), Some(a_node), Some(2), Some(95), Some(0))
    );

    // Reach: A brought one reader, B none.
    for (who, reach) in [(a.user_id, 1), (b.user_id, 0)] {
        let r = app
            .get(&format!(
                "/zhugeleida/qiyeweixin/article/customer_reach/{who}"
            ))
            .signed(&sales)
            .query(&[("article_id", &article.to_string())])
            .send()
            .await
            .ok();
        assert_eq!(r.data()["reach"], reach);
    }
    // Top spreaders: A, of the article and of the company.
    for id in [article, 0] {
        let r = app
            .get(&format!("/zhugeleida/admin/article/top_spreaders/{id}"))
            .signed(&admin)
            .send()
            .await
            .ok();
        assert_eq!(r.data()["ret_data"][0]["customer_id"], a.user_id);
        assert_eq!(r.data()["data_count"], 1);
    }
    // Reading time: one reader under 10 s, one at 95 s who read to the end.
    let st = app
        .get(&format!(
            "/zhugeleida/qiyeweixin/article/stay_distribution/{article}"
        ))
        .signed(&sales)
        .send()
        .await
        .ok();
    let d = st.data();
    assert_eq!(
        (
            d["reader_count"].as_i64(),
            d["finished"].as_i64(),
            d["read_count"].as_i64(),
            d["forward_count"].as_i64()
        ),
        (Some(2), Some(1), Some(2), Some(1))
    );
    assert_eq!(d["buckets"][0], json!({"bucket": "0-10s", "count": 1}));
    assert_eq!(d["buckets"][3], json!({"bucket": "1-2min", "count": 1}));
    // The library's counters, and every counter against a scan.
    let list = app
        .get("/zhugeleida/admin/article/myarticle_list/")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(
        (
            list.data()["ret_data"][0]["read_count"].as_i64(),
            list.data()["ret_data"][0]["forward_count"].as_i64()
        ),
        (Some(2), Some(1))
    );
    let db = app.db().await;
    assert_eq!(
        zhugeleida::db::article_spread::check(&db, company)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    // The relations were created by the official account (source 2) and carry AI energy.
    let rel = db
        .query("select customer_id, source, ai_energy > 0 from user_customer where user_id = $1 order by customer_id", &[&sales.user_id])
        .await
        .unwrap();
    let rel: Vec<(i64, i16, bool)> = rel.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(rel, vec![(a.user_id, 2, true), (b.user_id, 2, true)]);
}

#[tokio::test]
async fn the_jssdk_signature_uses_one_ticket_fetched_once() {
    let app = spawn_app().await;
    let (company, admin, sales) = app.tenant("签名公司").await;
    let article = new_article(&app, &admin, "签名").await;
    let landing = browse(
        app.get(&format!(
            "/zhugeleida/gongzhonghao/create_gongzhonghao_auth_url/{company}"
        ))
        .signed(&sales)
        .query(&[("article_id", &article.to_string())])
        .send()
        .await
        .ok()
        .data()["authorize_url"]
            .as_str()
            .unwrap(),
        "o_carol",
    )
    .await;
    let c = official_account_login(&app, &landing, article, "o_carol").await;
    let page = "http://zhugeleida.zhugeyingxiao.com/yulanwenzhang/1?pid=&level=1";
    let calls: Vec<_> = (0..12)
        .map(|i| {
            let (app, c) = (&app, &c);
            async move {
                let mut req = app
                    .get("/zhugeleida/gongzhonghao/work_gongzhonghao_auth/gongzhonghao_share_sign")
                    .signed(c)
                    .query(&[("company_id", &company.to_string())]);
                if i % 2 == 0 {
                    req = req.query(&[("url", &format!("{page}#frag"))]);
                } else {
                    req = req.query(&[("url", page)]);
                }
                req.send().await.ok()
            }
        })
        .collect();
    let answers = futures_util::future::join_all(calls).await;
    for r in &answers {
        assert_eq!(r.msg(), "查询成功");
        let d = r.data();
        assert_eq!(d["appid"], "wxsandboxgzh");
        assert_eq!(d["nonceStr"].as_str().unwrap().len(), 16);
        let ts = d["timestamp"].as_i64().unwrap();
        assert!((ts - chrono::Utc::now().timestamp()).abs() < 60);
        let expected = zhugeleida::domain::article::jssdk_signature(
            "ticket@@@sandbox-1",
            d["nonceStr"].as_str().unwrap(),
            ts,
            page,
        );
        assert_eq!(d["signature"].as_str().unwrap(), expected);
    }
    let recorded: Value = reqwest::get(format!(
        "{}/__sandbox/calls?path=/cgi-bin/ticket/getticket",
        app.sandbox
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let n = recorded["calls"].as_array().map(|a| {
        a.iter()
            .filter(|c| c["path"] == "/cgi-bin/ticket/getticket")
            .count()
    });
    assert_eq!(n, Some(1), "{recorded}");
    // No URL at all → 303.
    app.get("/zhugeleida/gongzhonghao/work_gongzhonghao_auth/gongzhonghao_share_sign")
        .signed(&c)
        .query(&[("company_id", &company.to_string())])
        .send()
        .await
        .expect_code(303);
}

#[tokio::test]
async fn foreign_articles_nodes_and_people_reveal_nothing() {
    let app = spawn_app().await;
    let (company_a, admin_a, sales_a) = app.tenant("甲传播").await;
    let (company_b, admin_b, sales_b) = app.tenant("乙传播").await;
    let article_a = new_article(&app, &admin_a, "甲文").await;
    let article_b = new_article(&app, &admin_b, "乙文").await;
    let landing = browse(
        app.get(&format!(
            "/zhugeleida/gongzhonghao/create_gongzhonghao_auth_url/{company_a}"
        ))
        .signed(&sales_a)
        .query(&[("article_id", &article_a.to_string())])
        .send()
        .await
        .ok()
        .data()["authorize_url"]
            .as_str()
            .unwrap(),
        "o_alice",
    )
    .await;
    let a = official_account_login(&app, &landing, article_a, "o_alice").await;
    let node = app
        .get(&format!(
            "/zhugeleida/gongzhonghao/article/myarticle/{article_a}"
        ))
        .signed(&a)
        .query(&[("uid", &sales_a.user_id.to_string())])
        .send()
        .await
        .ok()
        .data()["article_access_log_id"]
        .as_i64()
        .unwrap();

    // A customer of A touches B's article, B's salesperson, another company.
    let (ua, ub) = (sales_a.user_id.to_string(), sales_b.user_id.to_string());
    for (path, q) in [
        (
            format!("/zhugeleida/gongzhonghao/article/myarticle/{article_b}"),
            vec![("uid", ub.as_str())],
        ),
        (
            format!("/zhugeleida/gongzhonghao/article/myarticle/{article_a}"),
            vec![("uid", ub.as_str())],
        ),
        (
            format!("/zhugeleida/gongzhonghao/article/forward_article/{article_b}"),
            vec![("uid", ub.as_str())],
        ),
        (
            format!("/zhugeleida/gongzhonghao/article/staytime/{article_b}"),
            vec![("article_access_log_id", &*node.to_string().leak())],
        ),
        (
            format!("/zhugeleida/gongzhonghao/create_gongzhonghao_auth_url/{company_b}"),
            vec![],
        ),
        (
            "/zhugeleida/gongzhonghao/work_gongzhonghao_auth/create_gongzhonghao_share_auth_url"
                .to_owned(),
            vec![
                ("uid", ua.as_str()),
                ("level", "1"),
                ("article_id", &*article_b.to_string().leak()),
            ],
        ),
        (
            "/zhugeleida/gongzhonghao/work_gongzhonghao_auth/gongzhonghao_share_sign".to_owned(),
            vec![
                ("company_id", &*company_b.to_string().leak()),
                ("url", "http://x/"),
            ],
        ),
    ] {
        app.get(&path)
            .signed(&a)
            .query(&q)
            .send()
            .await
            .expect_code(302);
    }
    // B's salesperson and admin look at A's article, A's customer, A's salesperson.
    for path in [
        format!("/zhugeleida/qiyeweixin/article/customer_effect_ranking_by_level/{article_a}?level=0"),
        format!("/zhugeleida/qiyeweixin/article/forward_tree/{article_a}"),
        format!("/zhugeleida/qiyeweixin/article/top_spreaders/{article_a}"),
        format!("/zhugeleida/qiyeweixin/article/stay_distribution/{article_a}"),
        format!("/zhugeleida/qiyeweixin/article/customer_reach/{}", a.user_id),
        format!("/zhugeleida/qiyeweixin/article/customer_effect_ranking_by_level/{article_b}?level=0&uid={ua}"),
    ] {
        app.get(&path).signed(&sales_b).send().await.expect_code(302);
    }
    for path in [
        format!("/zhugeleida/admin/article/forward_tree/{article_a}"),
        format!("/zhugeleida/admin/article/customer_reach/{}", a.user_id),
    ] {
        app.get(&path)
            .signed(&admin_b)
            .send()
            .await
            .expect_code(302);
    }
    // The company-wide top list of B is empty; A's tree is unchanged.
    let top = app
        .get("/zhugeleida/admin/article/top_spreaders/0")
        .signed(&admin_b)
        .send()
        .await
        .ok();
    assert_eq!(top.data()["data_count"], 0);
    let tree = app
        .get(&format!(
            "/zhugeleida/qiyeweixin/article/forward_tree/{article_a}"
        ))
        .signed(&sales_a)
        .send()
        .await
        .ok();
    assert_eq!(tree.data()["data_count"], 1);
    assert_eq!(tree.data()["ret_data"][0]["read_count"], 1);
    // Members do not get the admin views.
    app.get(&format!(
        "/zhugeleida/admin/article/forward_tree/{article_a}"
    ))
    .signed(&sales_a)
    .send()
    .await
    .refused(404, "admin endpoint called by a member");
}

const REPLAYED: &str = "签名已使用，请为每次写请求使用新的 timestamp";

/// GZH-06 signed with `sig` (as an attacker, or a client, would send it again).
async fn read_signed(
    app: &TestApp,
    article: i64,
    sig: &(String, String, String),
    uid: i64,
) -> common::Resp {
    app.get(&format!(
        "/zhugeleida/gongzhonghao/article/myarticle/{article}"
    ))
    .raw_auth(&sig.0, &sig.1, &sig.2)
    .query(&[("uid", &uid.to_string())])
    .send()
    .await
}

/// Every counter `zhugeleida check-counters` compares agrees with its scan.
async fn counters_agree(app: &TestApp, company: i64, users: &[i64], when: &str) {
    let db = app.db().await;
    let today = zhugeleida::domain::time::today();
    for &uid in users {
        let counted = zhugeleida::db::dashboard::windows(&db, company, uid, today)
            .await
            .unwrap();
        let scanned = zhugeleida::db::dashboard::windows_by_scan(&db, company, uid, today)
            .await
            .unwrap();
        assert_eq!(counted, scanned, "{when}: user {uid}");
    }
    let spread = zhugeleida::db::article_spread::check(&db, company)
        .await
        .unwrap();
    assert_eq!(spread, Vec::<String>::new(), "{when}");
    let dangling = zhugeleida::db::radar::dangling(&db, company).await.unwrap();
    assert_eq!(dangling, Vec::<String>::new(), "{when}");
}

/// GZH-06 records an access (a node, its counters, an article event, a push): like a content
/// view (`auth::CustomerEvent`) its signature is single-use, spent by the radar writer in the
/// access's own transaction. One signed read sent eight times to two nodes at once records one
/// access; the copies answer 404 签名已使用 and record nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replayed_article_read_records_no_second_access_on_any_node() {
    let a = spawn_app().await;
    let b = common::second_node(&a).await;
    let (company, admin, sales) = a.tenant("重放文章").await;
    let article = new_article(&a, &admin, "只记一次").await;
    let c = common::customer(&a, sales.user_id, "o_read_once").await;
    let ts = chrono::Utc::now().timestamp_millis().to_string();
    let sig = (common::sign_with(&ts, &c.token), ts, c.user_id.to_string());
    let tries = (0..8).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        read_signed(node, article, &sig, sales.user_id)
    });
    let results = futures_util::future::join_all(tries).await;
    let ok: Vec<_> = results.iter().filter(|r| r.code() == 200).collect();
    assert_eq!(ok.len(), 1, "{results:?}");
    assert_eq!(ok[0].data()["ret_data"][0]["title"], "只记一次");
    for r in results.iter().filter(|r| r.code() != 200) {
        assert_eq!(r.body, json!({"code": 404, "msg": REPLAYED, "data": {}}));
    }
    let db = a.db().await;
    let one = |sql: &'static str| {
        let db = &db;
        async move { db.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(one("select count(*) from article_event").await, 1);
    assert_eq!(
        one("select sum(read_count)::int8 from article_access").await,
        1
    );
    assert_eq!(one("select read_count from article_stat").await, 1);
    counters_agree(&a, company, &[0, sales.user_id], "after the replays").await;
    // A fresh signature reads again: a second read of the same node.
    let ts = (chrono::Utc::now().timestamp_millis() + 1).to_string();
    let sig = (common::sign_with(&ts, &c.token), ts, c.user_id.to_string());
    read_signed(&b, article, &sig, sales.user_id).await.ok();
    assert_eq!(one("select count(*) from article_event").await, 2);
    assert_eq!(one("select read_count from article_stat").await, 2);
    counters_agree(&a, company, &[0, sales.user_id], "after a fresh read").await;
}

/// A customer deleted in plain SQL (an operator's delete; a company's delete takes its customers
/// the same way, by cascade) takes their nodes and forwards along, and every article counter
/// still equals a scan (sql/021): the article's reads, readers, deepest level, reading time and
/// forwards, the readers per level and per reading-time bucket, and the reach and children of
/// the ancestors that remain.
#[tokio::test]
async fn deleting_a_customer_in_sql_keeps_the_article_counters_true() {
    let app = spawn_app().await;
    let (company, admin, sales) = app.tenant("删读者").await;
    let article = new_article(&app, &admin, "传下去").await;
    let uid = sales.user_id.to_string();
    let read = |who: &Signer, pid: Option<i64>| {
        let (app, uid) = (&app, uid.clone());
        let who = who.clone();
        async move {
            let pid = pid.map(|p| p.to_string()).unwrap_or_default();
            app.get(&format!(
                "/zhugeleida/gongzhonghao/article/myarticle/{article}"
            ))
            .signed(&who)
            .query(&[("uid", uid.as_str()), ("pid", pid.as_str())])
            .send()
            .await
            .ok()
            .data()["article_access_log_id"]
                .as_i64()
                .unwrap()
        }
    };
    let forward = |who: &Signer| {
        let (app, uid) = (&app, uid.clone());
        let who = who.clone();
        async move {
            app.get(&format!(
                "/zhugeleida/gongzhonghao/article/forward_article/{article}"
            ))
            .signed(&who)
            .query(&[("uid", uid.as_str()), ("forward_type", "1")])
            .send()
            .await
            .ok();
        }
    };
    // A (level 1) → B, D (level 2); B → C (level 3); A and B forward; A reads twice; C reads
    // to the end.
    let [a, b, c, d] = [
        common::customer(&app, sales.user_id, "o_sp_a").await,
        common::customer(&app, sales.user_id, "o_sp_b").await,
        common::customer(&app, sales.user_id, "o_sp_c").await,
        common::customer(&app, sales.user_id, "o_sp_d").await,
    ];
    let a_node = read(&a, None).await;
    read(&a, None).await;
    forward(&a).await;
    read(&b, Some(a.user_id)).await;
    forward(&b).await;
    let c_node = read(&c, Some(b.user_id)).await;
    read(&d, Some(a.user_id)).await;
    app.get(&format!(
        "/zhugeleida/gongzhonghao/article/staytime/{article}"
    ))
    .signed(&c)
    .query(&[
        ("article_access_log_id", c_node.to_string().as_str()),
        ("stay_time", "95"),
    ])
    .send()
    .await
    .ok();
    let users = [0, sales.user_id];
    counters_agree(&app, company, &users, "before the deletes").await;
    let db = app.db().await;
    let node = |id: i64| {
        let db = &db;
        async move {
            let r = db
                .query_one(
                    "select reach, children from article_access where id = $1",
                    &[&id],
                )
                .await
                .unwrap();
            (r.get::<_, i32>(0), r.get::<_, i32>(1))
        }
    };
    let stat = || {
        let db = &db;
        async move {
            let r = db
                .query_one(
                    "select read_count, reader_count, forward_count, level_num::int8, finished
                     from article_stat where article_id = $1",
                    &[&article],
                )
                .await
                .unwrap();
            (0..5).map(|i| r.get::<_, i64>(i)).collect::<Vec<_>>()
        }
    };
    assert_eq!(node(a_node).await, (3, 2));
    assert_eq!(stat().await, vec![5, 4, 2, 3, 1]);

    // B, in the middle of the tree: A loses a reader below and a child; C keeps level 3.
    db.execute("delete from customer where id = $1", &[&b.user_id])
        .await
        .unwrap();
    counters_agree(&app, company, &users, "after B's delete").await;
    assert_eq!(node(a_node).await, (2, 1));
    assert_eq!(stat().await, vec![4, 3, 1, 3, 1]);
    // C, the only reader at level 3: the deepest level read is 2 again.
    db.execute("delete from customer where id = $1", &[&c.user_id])
        .await
        .unwrap();
    counters_agree(&app, company, &users, "after C's delete").await;
    assert_eq!(stat().await, vec![3, 2, 1, 2, 0]);
    // A and D in one statement: nothing of the tree is left.
    db.execute(
        "delete from customer where id = any($1)",
        &[&vec![a.user_id, d.user_id]],
    )
    .await
    .unwrap();
    counters_agree(&app, company, &users, "after A's and D's delete").await;
    assert_eq!(stat().await, vec![0, 0, 0, 0, 0]);
}

/// The radar writer's plan (generic, sequential scans priced out: `db::radar::BEGIN`) of a
/// statement of `params`, run with `args`. The connection is the server's pool's: only the
/// probe's own prepared statement is dropped after it (a `rollback` does not drop it), so the
/// server's statements cached on the connection stay valid.
async fn writer_plan(app: &TestApp, sql: &str, params: &str, args: &str) -> String {
    let db = app.db().await;
    let sql = format!(
        "{}; prepare zgld_plan_probe({params}) as {sql}; explain execute zgld_plan_probe({args})",
        zhugeleida::db::radar::BEGIN
    );
    let mut plan = String::new();
    for m in db.simple_query(&sql).await.unwrap() {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            plan.push_str(r.get(0).unwrap_or_default());
            plan.push('\n');
        }
    }
    db.batch_execute("rollback; deallocate zgld_plan_probe")
        .await
        .unwrap();
    plan
}

/// Statistics taken while the tree was empty (as on an installation analyzed before its
/// readers came), then 400 readers of one salesperson's article: the writer still finds a
/// batch's readers by the whole reader key, one index entry each, not by reading every node of
/// the salesperson's article (or of the customer) and filtering.
#[tokio::test]
async fn the_writer_finds_a_batchs_readers_by_the_reader_key() {
    let app = spawn_app().await;
    let (company, admin, sales) = app.tenant("读者键").await;
    let article = new_article(&app, &admin, "读者多").await;
    let user = sales.user_id;
    app.db()
        .await
        .batch_execute(&format!(
            "analyze article_access;
             insert into customer (id, company_id, openid, username)
               select 900000 + g, {company}, 'o_rk' || g, 'r' || g from generate_series(1, 400) g;
             insert into article_access (id, company_id, article_id, user_id, customer_id, level, path)
               select 900000 + g, {company}, {article}, {user}, 900000 + g, 1, array[900000 + g]
               from generate_series(1, 400) g;"
        ))
        .await
        .unwrap();
    let args = format!("'{{{article},{article}}}', '{{{user},{user}}}', '{{900001,900002}}'");
    let load = writer_plan(
        &app,
        zhugeleida::db::article_spread::LOAD,
        "int8[], int8[], int8[], int8[]",
        &format!("{args}, '{{}}'"),
    )
    .await;
    let new_ids = writer_plan(
        &app,
        zhugeleida::db::article_spread::NODE_IDS,
        "int8[], int8[], int8[]",
        &args,
    )
    .await;
    for (name, plan) in [("load", &load), ("new ids", &new_ids)] {
        let lines: Vec<&str> = plan.lines().collect();
        let by_key = lines.windows(2).any(|w| {
            w[0].contains("using article_access_reader_key on article_access")
                && ["customer_id = ", "article_id = ", "user_id = "]
                    .iter()
                    .all(|c| w[1].contains("Index Cond: (") && w[1].contains(c))
        });
        assert!(by_key, "{name}: not by the whole reader key:\n{plan}");
        assert!(!plan.contains("Filter"), "{name} filters rows:\n{plan}");
    }
}
