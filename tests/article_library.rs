#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The article library (ADM-64..72, publishing) and talk scripts (ADM-89..96, the
//! salesperson's phrase search and send), company-scoped, over real HTTP.

mod common;

use common::{spawn_app, Signer, TestApp};
use serde_json::{json, Value};

async fn add_tag(app: &TestApp, admin: &Signer, name: &str) -> i64 {
    let r = app
        .post("/zhugeleida/admin/article_tag/add/0")
        .signed(admin)
        .form(&[("tag_name", name)])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "添加成功");
    assert_eq!(r.data()[0]["tag_name"], name);
    r.data()[0]["tag_id"].as_i64().expect("tag_id")
}

async fn articles(app: &TestApp, who: &Signer, q: &[(&str, &str)]) -> Value {
    app.get("/zhugeleida/admin/article/myarticle_list/")
        .signed(who)
        .query(q)
        .send()
        .await
        .ok()
        .data()
        .clone()
}

const CONTENT: &str = r#"{"cover_data":[{"type":"picture_url","data":["statics/a.png"]}],"article_data":[{"type":"title","data":["xx我是标题1"]},{"type":"content","data":["我是内容1"]}]}"#;

#[tokio::test]
async fn an_admin_builds_the_library_and_staff_read_it() {
    let app = spawn_app().await;
    let (_c, admin, sales) = app.tenant("文章公司").await;
    let home = add_tag(&app, &admin, "家装知识").await;
    let car = add_tag(&app, &admin, "汽车保养").await;
    app.post("/zhugeleida/admin/article_tag/add/0")
        .signed(&admin)
        .form(&[("tag_name", "家装知识")])
        .send()
        .await
        .expect_code(300);

    let r = app
        .post("/zhugeleida/admin/article/add/0")
        .signed(&admin)
        .form(&[
            ("title", "装修指南"),
            ("summary", "摘要"),
            ("cover_picture", "statics/zhugeleida/imgs/a.png"),
            ("content", CONTENT),
            ("tags_id_list", &format!("[{home}，{car} ]")),
            ("insert_ads", "广告"),
        ])
        .send()
        .await
        .ok();
    assert_eq!((r.msg(), r.data()), ("添加成功", &json!([])));
    app.post("/zhugeleida/admin/article/add/0")
        .signed(&admin)
        .form(&[
            ("title", "保养手册"),
            ("content", "纯文本"),
            ("tags_id_list", &format!("[{car}]")),
        ])
        .send()
        .await
        .ok();

    // A member reads the list; newest first by default.
    let list = articles(&app, &sales, &[]).await;
    assert_eq!(list["data_count"], 2);
    let first = &list["ret_data"][0];
    assert_eq!(first["title"], "保养手册");
    assert_eq!(
        (first["status_code"].as_i64(), first["status"].as_str()),
        (Some(2), Some("未发"))
    );
    assert_eq!(
        (first["source_code"].as_i64(), first["source"].as_str()),
        (Some(1), Some("原创"))
    );
    assert_eq!(first["author"], "文章公司-admin");
    assert_eq!(
        (
            first["read_count"].as_i64(),
            first["forward_count"].as_i64()
        ),
        (Some(0), Some(0))
    );
    assert!(first.get("content").is_none());
    let guide = &list["ret_data"][1];
    assert_eq!(guide["cover_url"], "statics/zhugeleida/imgs/a.png");
    assert_eq!(guide["insert_ads"], "广告");
    assert_eq!(
        guide["tag_list"],
        json!([{"id": home, "name": "家装知识"}, {"id": car, "name": "汽车保养"}])
    );
    let guide_id = guide["id"].as_i64().unwrap();

    // Filters: tags (any of), title (contains), status; order.
    let by_tag = articles(&app, &sales, &[("tags_list", &format!("[{home}]"))]).await;
    assert_eq!(by_tag["data_count"], 1);
    assert_eq!(
        articles(&app, &sales, &[("title", "手册")]).await["data_count"],
        1
    );
    assert_eq!(
        articles(&app, &sales, &[("status", "1")]).await["data_count"],
        0
    );
    let asc = articles(&app, &sales, &[("order", "create_date"), ("length", "1")]).await;
    assert_eq!(
        (
            asc["data_count"].as_i64(),
            asc["ret_data"][0]["id"].as_i64()
        ),
        (Some(2), Some(guide_id))
    );

    // ADM-65: content is a JSON string, verbatim.
    let one = app
        .get(&format!("/zhugeleida/admin/article/myarticle/{guide_id}"))
        .signed(&sales)
        .send()
        .await
        .ok();
    assert_eq!(one.data()["data_count"], 1);
    assert_eq!(one.data()["ret_data"][0]["content"], CONTENT);

    // ADM-67 with status (A-41), then publishing (gap 8).
    let r = app
        .post(&format!("/zhugeleida/admin/article/update/{guide_id}"))
        .signed(&admin)
        .form(&[("title", "装修指南2"), ("tags_id_list", "[]")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "添加成功");
    app.post(&format!("/zhugeleida/admin/article/publish/{guide_id}"))
        .signed(&admin)
        .send()
        .await
        .ok();
    let published = articles(&app, &sales, &[("status", "1")]).await;
    assert_eq!(published["data_count"], 1);
    assert_eq!(published["ret_data"][0]["title"], "装修指南2");
    assert_eq!(published["ret_data"][0]["status"], "已发");
    assert_eq!(published["ret_data"][0]["tag_list"], json!([]));
    app.post(&format!("/zhugeleida/admin/article/update/{guide_id}"))
        .signed(&admin)
        .form(&[("status", "3")])
        .send()
        .await
        .expect_code(303);

    // Tags: rename, delete (links go), bad input.
    let r = app
        .post(&format!("/zhugeleida/admin/article_tag/update/{car}"))
        .signed(&admin)
        .form(&[("tag_name", "汽车")])
        .send()
        .await
        .ok();
    assert_eq!(r.data(), &json!([{"tag_id": car, "tag_name": "汽车"}]));
    let r = app
        .post(&format!("/zhugeleida/admin/article_tag/delete/{car}"))
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!((r.msg(), r.data()), ("删除成功", &json!([])));
    let tags = app
        .get("/zhugeleida/admin/article_tag")
        .signed(&sales)
        .send()
        .await
        .ok();
    assert_eq!(
        tags.data(),
        &json!({"ret_data": [{"id": home, "name": "家装知识"}], "data_count": 1})
    );
    app.post("/zhugeleida/admin/article/add/0")
        .signed(&admin)
        .form(&[("title", "x"), ("tags_id_list", "[a]")])
        .send()
        .await
        .expect_code(301);
    app.post("/zhugeleida/admin/article/add/0")
        .signed(&admin)
        .form(&[("summary", "no title")])
        .send()
        .await
        .expect_code(303);

    // Members do not write.
    app.post("/zhugeleida/admin/article/add/0")
        .signed(&sales)
        .form(&[("title", "x")])
        .send()
        .await
        .refused(404, "admin endpoint called by a member");

    let r = app
        .post(&format!("/zhugeleida/admin/article/delete/{guide_id}"))
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功");
    assert_eq!(articles(&app, &sales, &[]).await["data_count"], 1);
}

#[tokio::test]
async fn another_companys_articles_tags_and_talk_scripts_are_out_of_reach() {
    let app = spawn_app().await;
    let (_a, admin_a, _) = app.tenant("甲公司").await;
    let (_b, admin_b, sales_b) = app.tenant("乙公司").await;
    let tag = add_tag(&app, &admin_a, "甲标签").await;
    app.post("/zhugeleida/admin/article/add/0")
        .signed(&admin_a)
        .form(&[("title", "甲文章"), ("tags_id_list", &format!("[{tag}]"))])
        .send()
        .await
        .ok();
    let article = articles(&app, &admin_a, &[]).await["ret_data"][0]["id"]
        .as_i64()
        .unwrap();
    app.post("/zhugeleida/admin/talkGroupManageOper/add/0")
        .signed(&admin_a)
        .form(&[
            ("groupName", "甲分组"),
            ("userProfile", &admin_a.user_id.to_string()),
        ])
        .send()
        .await
        .ok();
    let groups = app
        .get("/zhugeleida/admin/talkGroupManageShow")
        .signed(&admin_a)
        .send()
        .await
        .ok();
    let group = groups.data()["otherList"][0]["id"].as_i64().unwrap();
    app.post("/zhugeleida/admin/speechDetailsManageOper/add/0")
        .signed(&admin_a)
        .form(&[("contentWords", "您好"), ("talkGroupName", "甲分组")])
        .send()
        .await
        .ok();
    let phrase = app
        .get("/zhugeleida/admin/speechDetailsManageShow")
        .signed(&admin_a)
        .send()
        .await
        .ok()
        .data()["otherList"][0]["id"]
        .as_i64()
        .unwrap();

    // B sees nothing of A and changes nothing.
    assert_eq!(articles(&app, &sales_b, &[]).await["data_count"], 0);
    for path in [format!("/zhugeleida/admin/article/myarticle/{article}")] {
        app.get(&path)
            .signed(&sales_b)
            .send()
            .await
            .expect_code(302);
    }
    for (path, form) in [
        (
            format!("/zhugeleida/admin/article/update/{article}"),
            vec![("title", "x")],
        ),
        (
            format!("/zhugeleida/admin/article/publish/{article}"),
            vec![],
        ),
        (
            format!("/zhugeleida/admin/article/delete/{article}"),
            vec![],
        ),
        (
            format!("/zhugeleida/admin/article_tag/update/{tag}"),
            vec![("tag_name", "x")],
        ),
        (
            format!("/zhugeleida/admin/article_tag/delete/{tag}"),
            vec![],
        ),
        (
            format!("/zhugeleida/admin/talkGroupManageOper/update/{group}"),
            vec![("groupName", "x")],
        ),
        (
            format!("/zhugeleida/admin/talkGroupManageOper/delete/{group}"),
            vec![],
        ),
        (
            format!("/zhugeleida/admin/speechDetailsManageOper/update/{phrase}"),
            vec![("contentWords", "x")],
        ),
        (
            format!("/zhugeleida/admin/speechDetailsManageOper/delete/{phrase}"),
            vec![],
        ),
    ] {
        app.post(&path)
            .signed(&admin_b)
            .form(&form)
            .send()
            .await
            .expect_code(302);
    }
    // A's tag and group cannot be borrowed by B, by id or by name.
    app.post("/zhugeleida/admin/article/add/0")
        .signed(&admin_b)
        .form(&[("title", "乙文章"), ("tags_id_list", &format!("[{tag}]"))])
        .send()
        .await
        .expect_code(302);
    for g in [group.to_string(), "甲分组".to_owned()] {
        app.post("/zhugeleida/admin/speechDetailsManageOper/add/0")
            .signed(&admin_b)
            .form(&[("contentWords", "x"), ("talkGroupName", &g)])
            .send()
            .await
            .expect_code(302);
    }
    app.post("/zhugeleida/admin/talkGroupManageOper/add/0")
        .signed(&admin_b)
        .form(&[
            ("groupName", "乙分组"),
            ("userProfile", &admin_a.user_id.to_string()),
        ])
        .send()
        .await
        .expect_code(302);
    app.post("/zhugeleida/admin/talkGroupManageOper/add/0")
        .signed(&admin_b)
        .form(&[("groupName", "乙分组"), ("companyName", "甲公司")])
        .send()
        .await
        .expect_code(302);
    let talk = app
        .get("/zhugeleida/qiyeweixin/talk")
        .signed(&sales_b)
        .send()
        .await
        .ok();
    assert_eq!(talk.data()["data_count"], 0);
    app.post(&format!("/zhugeleida/qiyeweixin/talk/send_msg/{phrase}"))
        .signed(&sales_b)
        .form(&[("customer_id", "1")])
        .send()
        .await
        .expect_code(302);

    // Everything of A is still there, unchanged.
    let a = articles(&app, &admin_a, &[]).await;
    assert_eq!(a["ret_data"][0]["title"], "甲文章");
    assert_eq!(a["ret_data"][0]["tag_list"][0]["name"], "甲标签");
    let p = app
        .get("/zhugeleida/admin/speechDetailsManageShow")
        .signed(&admin_a)
        .send()
        .await
        .ok();
    assert_eq!(p.data()["otherList"][0]["contentWords"], "您好");
}

#[tokio::test]
async fn talk_scripts_are_grouped_searched_and_counted_when_sent() {
    let app = spawn_app().await;
    let (company, admin, sales) = app.tenant("话术公司").await;
    let r = app
        .post("/zhugeleida/admin/talkGroupManageOper/add/0")
        .signed(&admin)
        .form(&[
            ("groupName", "开场白"),
            ("userProfile", "话术公司-admin"),
            ("companyName", "话术公司"),
        ])
        .send()
        .await
        .ok();
    assert_eq!((r.msg(), r.data()), ("添加成功", &json!({})));
    app.post("/zhugeleida/admin/talkGroupManageOper/add/0")
        .signed(&admin)
        .form(&[("groupName", "开场白")])
        .send()
        .await
        .expect_code(300);
    let g = app
        .get("/zhugeleida/admin/talkGroupManageShow")
        .signed(&sales)
        .send()
        .await
        .ok();
    assert_eq!(g.msg(), "查询成功");
    assert_eq!(g.data()["objsCount"], 1);
    let row = &g.data()["otherList"][0];
    assert_eq!(
        (
            row["groupName"].as_str(),
            row["userProfile"].as_str(),
            row["companyName"].as_str()
        ),
        (Some("开场白"), Some("话术公司-admin"), Some("话术公司"))
    );
    assert_eq!(row["createDate"].as_str().map(str::len), Some(19));
    let group = row["id"].as_i64().unwrap();

    for (words, g) in [
        ("您好,我是小诸葛", "开场白".to_owned()),
        ("请问您需要报价吗", group.to_string()),
    ] {
        let r = app
            .post("/zhugeleida/admin/speechDetailsManageOper/add/0")
            .signed(&admin)
            .form(&[("contentWords", words), ("talkGroupName", &g)])
            .send()
            .await
            .ok();
        assert_eq!(r.msg(), "添加成功");
    }
    let list = app
        .get("/zhugeleida/admin/speechDetailsManageShow")
        .signed(&sales)
        .send()
        .await
        .ok();
    assert_eq!(list.data()["objsCount"], 2);
    let first = &list.data()["otherList"][0];
    assert_eq!(
        (
            first["contentWords"].as_str(),
            first["sendNum"].as_i64(),
            first["talkGroupName"].as_str(),
            first["talkGroupId"].as_i64()
        ),
        (
            Some("您好,我是小诸葛"),
            Some(0),
            Some("开场白"),
            Some(group)
        )
    );
    let quote = list.data()["otherList"][1]["id"].as_i64().unwrap();

    // The group cannot go while it has phrases (304); the documented GET delete works.
    app.get(&format!(
        "/zhugeleida/admin/talkGroupManageOper/delete/{group}"
    ))
    .signed(&admin)
    .send()
    .await
    .expect_code(304);

    // The salesperson searches while chatting and sends one: a chat message with info_type 1.
    let found = app
        .get("/zhugeleida/qiyeweixin/talk")
        .signed(&sales)
        .query(&[("keyword", "报价")])
        .send()
        .await
        .ok();
    assert_eq!(found.data()["data_count"], 1);
    assert_eq!(found.data()["ret_data"][0]["id"], quote);
    let customer = common::customer(&app, sales.user_id, "o_alice").await;
    let r = send_phrase(&app, &sales, quote, customer.user_id, "t-1").await;
    assert_eq!(r.msg(), "send msg successful");
    // A retry with the same client id sends and counts nothing more.
    send_phrase(&app, &sales, quote, customer.user_id, "t-1").await;
    let got = app
        .get("/zhugeleida/gongzhonghao/chat/getmsg/0")
        .signed(&customer)
        .query(&[("u_id", &sales.user_id.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(got.data()["ret_data"].as_array().map(Vec::len), Some(1));
    assert_eq!(got.data()["ret_data"][0]["info_type"], 1);
    assert_eq!(got.data()["ret_data"][0]["msg"], "请问您需要报价吗");
    let most_used = most_used_phrase(&app, &sales).await;
    assert_eq!(most_used["id"], quote);
    assert_eq!(most_used["sendNum"], 1);

    // A send whose count was lost (the message committed, the server gone before the count:
    // the use row and the count undone by hand) is counted by its retry, once, and only once
    // however often it is retried; check-counters' comparison agrees throughout.
    let db = app.db().await;
    db.execute(
        "with gone as (delete from talk_phrase_use where phrase_id = $1 returning phrase_id)
         update talk_phrase set send_num = send_num - (select count(*) from gone) where id = $1",
        &[&quote],
    )
    .await
    .unwrap();
    assert_eq!(
        zgld_talk_check(&app, company).await.len(),
        0,
        "an undone use and its undone count still agree"
    );
    for _ in 0..2 {
        send_phrase(&app, &sales, quote, customer.user_id, "t-1").await;
        assert_eq!(most_used_phrase(&app, &sales).await["sendNum"], 1);
    }
    // A client id first used by a plain message does not count for the phrase.
    app.post("/zhugeleida/qiyeweixin/chat/send_msg/0")
        .signed(&sales)
        .form(&[
            ("customer_id", customer.user_id.to_string().as_str()),
            ("msg", "你好"),
            ("client_msg_id", "t-plain"),
        ])
        .send()
        .await
        .ok();
    send_phrase(&app, &sales, quote, customer.user_id, "t-plain").await;
    assert_eq!(most_used_phrase(&app, &sales).await["sendNum"], 1);
    assert_eq!(zgld_talk_check(&app, company).await, Vec::<String>::new());

    // Update and delete phrases, then the group.
    let r = app
        .post(&format!(
            "/zhugeleida/admin/speechDetailsManageOper/update/{quote}"
        ))
        .signed(&admin)
        .form(&[("contentWords", "改过的"), ("talkGroupName", "开场白")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "修改成功");
    for p in list.data()["otherList"].as_array().unwrap() {
        let r = app
            .get(&format!(
                "/zhugeleida/admin/speechDetailsManageOper/delete/{}",
                p["id"]
            ))
            .signed(&admin)
            .send()
            .await
            .ok();
        assert_eq!(r.msg(), "删除成功");
    }
    let r = app
        .post(&format!(
            "/zhugeleida/admin/talkGroupManageOper/update/{group}"
        ))
        .signed(&admin)
        .form(&[("groupName", "新名字")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "修改成功");
    app.get(&format!(
        "/zhugeleida/admin/talkGroupManageOper/delete/{group}"
    ))
    .signed(&admin)
    .send()
    .await
    .ok();
    let g = app
        .get("/zhugeleida/admin/talkGroupManageShow")
        .signed(&sales)
        .send()
        .await
        .ok();
    assert_eq!(g.data(), &json!({"otherList": [], "objsCount": 0}));
}

/// Retries of one phrase send racing on two nodes store one message and count it once; fresh
/// sends racing with them each count.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_retries_of_a_phrase_send_count_it_once() {
    let a = spawn_app().await;
    let b = common::second_node(&a).await;
    let (company, admin, sales) = a.tenant("话术竞争").await;
    for body in [
        vec![("groupName", "开场白")],
        vec![("contentWords", "您好"), ("talkGroupName", "开场白")],
    ] {
        let path = if body.len() == 1 {
            "/zhugeleida/admin/talkGroupManageOper/add/0"
        } else {
            "/zhugeleida/admin/speechDetailsManageOper/add/0"
        };
        a.post(path).signed(&admin).form(&body).send().await.ok();
    }
    let phrase = most_used_phrase(&a, &sales).await["id"].as_i64().unwrap();
    let customer = common::customer(&a, sales.user_id, "o_race").await;
    let sends = (0..12).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        // Eight retries of one send, four fresh sends.
        let client = if i < 8 {
            "same".to_owned()
        } else {
            format!("fresh-{i}")
        };
        let (sales, customer) = (&sales, customer.user_id);
        async move { send_phrase(node, sales, phrase, customer, &client).await }
    });
    for r in futures_util::future::join_all(sends).await {
        assert_eq!(r.msg(), "send msg successful");
    }
    assert_eq!(most_used_phrase(&a, &sales).await["sendNum"], 5);
    assert_eq!(zgld_talk_check(&a, company).await, Vec::<String>::new());
}

/// The salesperson sends phrase `phrase` to customer `customer` under client id `client`.
async fn send_phrase(
    app: &TestApp,
    sales: &Signer,
    phrase: i64,
    customer: i64,
    client: &str,
) -> common::Resp {
    app.post(&format!("/zhugeleida/qiyeweixin/talk/send_msg/{phrase}"))
        .signed(sales)
        .form(&[
            ("customer_id", customer.to_string().as_str()),
            ("client_msg_id", client),
        ])
        .send()
        .await
        .ok()
}

/// The first phrase of the salesperson's search, most sent first.
async fn most_used_phrase(app: &TestApp, sales: &Signer) -> Value {
    let r = app
        .get("/zhugeleida/qiyeweixin/talk")
        .signed(sales)
        .send()
        .await
        .ok();
    r.data()["ret_data"][0].clone()
}

/// `check-counters`' comparison of the phrases' `sendNum` with their recorded uses.
async fn zgld_talk_check(app: &TestApp, company: i64) -> Vec<String> {
    let db = app.db().await;
    zhugeleida::db::talk::check(&db, company).await.unwrap()
}
