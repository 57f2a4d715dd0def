#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Products and feedback (ADM-11..19, feedback creation from the salesperson app and the mini
//! program): wire shapes, shelf status, recommend order, the delete rule of A-11, bad input,
//! and another company's ids.
mod common;

use common::{customer, spawn_app, Signer, TestApp};
use serde_json::{json, Value};

const CONTENT: &str = r#"{"cover_data":[{"type":"picture_url","data":["statics/zhugeleida/imgs/qiyeweixin/product/cover_1.png"]}],"article_data":[{"type":"title","data":["xx我是标题1"]},{"type":"picture_url","data":["statics/zhugeleida/imgs/qiyeweixin/product/Content_1.png"]},{"type":"content","data":["我是内容1"]}]}"#;

async fn add(app: &TestApp, who: &Signer, t: &str, name: &str) -> common::Resp {
    app.post("/zhugeleida/admin/product/add/0")
        .signed(who)
        .query(&[("product_type", t)])
        .form(&[
            ("name", name),
            ("price", "228"),
            ("reason", "有理想-不讲究"),
            ("content", CONTENT),
        ])
        .send()
        .await
}

async fn list(app: &TestApp, who: &Signer, q: &[(&str, &str)]) -> Value {
    app.get("/zhugeleida/admin/product/product_list/")
        .signed(who)
        .query(q)
        .send()
        .await
        .ok()
        .data()
        .clone()
}

fn names(v: &Value) -> Vec<String> {
    v["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(v: &Value) -> Vec<i64> {
    v["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["product_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn products_are_listed_shelved_ordered_and_deleted_by_the_rules() {
    let app = spawn_app().await;
    let (company, admin, sales) = app.tenant("产品").await;

    // ADM-13: a company product by the admin; product_type defaults to 1.
    let r = add(&app, &admin, "1", "门票1").await.ok();
    assert_eq!(r.msg(), "添加成功");
    assert_eq!(r.data(), &json!({}));
    app.post("/zhugeleida/admin/product/add/0")
        .signed(&admin)
        .form(&[("name", "门票2"), ("price", "280-1280"), ("reason", "r")])
        .send()
        .await
        .ok();
    let l = list(&app, &admin, &[("product_type", "1")]).await;
    assert_eq!(l["data_count"], 2);
    assert_eq!(names(&l), ["门票2", "门票1"], "newest first");
    let row = &l["ret_data"][1];
    assert_eq!(row["status"], "已发布");
    assert_eq!(row["status_code"], 1);
    assert_eq!(row["price"], "228");
    assert_eq!(row["publisher"], "产品-admin");
    assert!(row["publisher_date"].as_str().unwrap().len() == 19);
    assert_eq!(
        row["content"],
        json!({"cover_data":[{"type":"picture_url","data":["statics/zhugeleida/imgs/qiyeweixin/product/cover_1.png"]}]}),
        "the list carries only cover_data"
    );
    let (p2, p1) = (ids(&l)[0], ids(&l)[1]);

    // ADM-12: the full content, ISO publisher_date, date create_date.
    let s = app
        .get("/zhugeleida/admin/product/product_single/")
        .signed(&admin)
        .query(&[("product_id", &p1.to_string()), ("product_type", "1")])
        .send()
        .await
        .ok();
    let one = &s.data()["ret_data"][0];
    assert_eq!(s.data()["data_count"], 1);
    assert_eq!(one["id"], p1);
    assert_eq!(one["reason"], "有理想-不讲究");
    assert_eq!(
        one["content"],
        serde_json::from_str::<Value>(CONTENT).unwrap()
    );
    assert!(one["publisher_date"].as_str().unwrap().contains('T'));
    assert_eq!(one["create_date"].as_str().unwrap().len(), 10);
    assert_eq!(one["user_avatar"], "statics/imgs/setAvator.jpg");

    // ADM-19: the recommend index leads the order.
    let r = app
        .post(&format!("/zhugeleida/admin/product/recommend_index/{p1}"))
        .signed(&admin)
        .form(&[("index", "10")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "修改成功");
    assert_eq!(
        ids(&list(&app, &admin, &[("product_type", "1")]).await),
        [p1, p2]
    );

    // ADM-16: off the shelf leaves the default list; status=2 finds it.
    let r = app
        .post(&format!("/zhugeleida/admin/product/change_status/{p1}"))
        .signed(&admin)
        .form(&[("status", "2")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "修改下架状态成功");
    assert_eq!(
        r.data(),
        &json!({"product_id": p1, "status": "已下架", "status_code": 2})
    );
    assert_eq!(
        ids(&list(&app, &admin, &[("product_type", "1")]).await),
        [p2]
    );
    let off = list(&app, &admin, &[("product_type", "1"), ("status", "2")]).await;
    assert_eq!((ids(&off), off["data_count"].as_i64()), (vec![p1], Some(1)));
    // A featured product (3, set by data only) counts as on the shelf.
    app.db()
        .await
        .execute("update product set status = 3 where id = $1", &[&p1])
        .await
        .unwrap();
    let l = list(&app, &admin, &[("product_type", "1")]).await;
    assert_eq!(ids(&l), [p1, p2]);
    assert_eq!(l["ret_data"][0]["status"], "推荐");
    // Keyword filter (fuzzy), and paging with the total.
    let l = list(
        &app,
        &admin,
        &[("product_type", "1"), ("product_name", "票2")],
    )
    .await;
    assert_eq!(ids(&l), [p2]);
    let l = list(
        &app,
        &admin,
        &[
            ("product_type", "1"),
            ("length", "1"),
            ("current_page", "2"),
        ],
    )
    .await;
    assert_eq!((ids(&l), l["data_count"].as_i64()), (vec![p2], Some(2)));
    let l = list(
        &app,
        &admin,
        &[("product_type", "1"), ("company_id", &company.to_string())],
    )
    .await;
    assert_eq!(l["data_count"], 2);

    // ADM-14: update keeps the content when none is sent (A-25), "添加成功" (sic).
    let r = app
        .post(&format!("/zhugeleida/admin/product/update/{p1}"))
        .signed(&admin)
        .form(&[("name", "门票1改"), ("price", "300"), ("reason", "新理由")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "添加成功");
    let s = app
        .get("/zhugeleida/admin/product/product_single")
        .signed(&admin)
        .query(&[("product_id", &p1.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(s.data()["ret_data"][0]["name"], "门票1改");
    assert_eq!(
        s.data()["ret_data"][0]["content"],
        serde_json::from_str::<Value>(CONTENT).unwrap()
    );

    // A member: adds personal products, sees company products and only their own personal ones.
    add(&app, &sales, "2", "我的产品").await.ok();
    add(&app, &admin, "2", "管理员的个人产品").await.ok();
    add(&app, &sales, "1", "成员不能加公司产品")
        .await
        .refused(404, "admin endpoint called by a member");
    assert_eq!(
        names(&list(&app, &sales, &[("product_type", "2")]).await),
        ["我的产品"]
    );
    assert_eq!(
        names(&list(&app, &admin, &[("product_type", "2")]).await),
        ["管理员的个人产品", "我的产品"]
    );
    assert_eq!(
        list(&app, &sales, &[("product_type", "1")]).await["data_count"],
        2
    );
    let mine = ids(&list(&app, &sales, &[("product_type", "2")]).await)[0];
    let admins_personal = ids(&list(&app, &admin, &[("product_type", "2")]).await)[0];

    // ADM-15 (A-11): a member cannot delete a company product (404) nor see another's
    // personal product (302); they delete their own; an admin deletes anything.
    for (id, code, why) in [
        (
            p1,
            404,
            "a member may only change their own personal products",
        ),
        (admins_personal, 302, "对应ID不存在"),
    ] {
        app.post(&format!("/zhugeleida/admin/product/delete/{id}"))
            .signed(&sales)
            .send()
            .await
            .refused(code, why);
    }
    app.post(&format!("/zhugeleida/admin/product/change_status/{p1}"))
        .signed(&sales)
        .form(&[("status", "2")])
        .send()
        .await
        .refused(404, "a member may only change their own personal products");
    let r = app
        .post(&format!("/zhugeleida/admin/product/delete/{mine}"))
        .signed(&sales)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功");
    add(&app, &sales, "2", "又一个").await.ok();
    let again = ids(&list(&app, &sales, &[("product_type", "2")]).await)[0];
    for id in [again, p2] {
        app.post(&format!("/zhugeleida/admin/product/delete/{id}"))
            .signed(&admin)
            .send()
            .await
            .ok();
    }
    assert_eq!(
        list(&app, &sales, &[("product_type", "2")]).await["data_count"],
        0
    );
    assert_eq!(
        ids(&list(&app, &admin, &[("product_type", "1")]).await),
        [p1]
    );
}

#[tokio::test]
async fn bad_product_input_gets_documented_codes_and_writes_nothing() {
    let app = spawn_app().await;
    let (_, admin, _) = app.tenant("坏输入").await;
    add(&app, &admin, "1", "好的").await.ok();
    let id = ids(&list(&app, &admin, &[("product_type", "1")]).await)[0];
    let bad_contents = [
        "not json",
        "[]",
        r#"{"cover_data":[{"type":"picture_url","data":["../../etc/passwd.png"]}]}"#,
        r#"{"cover_data":[{"type":"picture_url","data":["http://evil.example/x.png"]}]}"#,
        r#"{"cover_data":[{"type":"picture_url","data":["statics/a/x.exe"]}]}"#,
        r#"{"article_data":[{"type":"video","data":["x"]}]}"#,
        r#"{"cover_data":"x"}"#,
    ];
    for c in bad_contents {
        let r = app
            .post("/zhugeleida/admin/product/add/0")
            .signed(&admin)
            .form(&[
                ("name", "x"),
                ("price", "1"),
                ("reason", "r"),
                ("content", c),
            ])
            .send()
            .await;
        assert_eq!(r.code(), 303, "{c}: {}", r.msg());
        let r = app
            .post(&format!("/zhugeleida/admin/product/update/{id}"))
            .signed(&admin)
            .form(&[
                ("name", "x"),
                ("price", "1"),
                ("reason", "r"),
                ("content", c),
            ])
            .send()
            .await;
        assert_eq!(r.code(), 303, "{c}");
    }
    for (path, form, code) in [
        (
            "/zhugeleida/admin/product/add/0",
            vec![("price", "1"), ("reason", "r")],
            303,
        ),
        (
            "/zhugeleida/admin/product/add/0?product_type=3",
            vec![("name", "x"), ("price", "1"), ("reason", "r")],
            303,
        ),
        (
            &*format!("/zhugeleida/admin/product/recommend_index/{id}"),
            vec![("index", "11")],
            303,
        ),
        (
            &*format!("/zhugeleida/admin/product/recommend_index/{id}"),
            vec![("index", "x")],
            301,
        ),
        (
            &*format!("/zhugeleida/admin/product/change_status/{id}"),
            vec![("status", "3")],
            303,
        ),
        (
            &*format!("/zhugeleida/admin/product/change_status/{id}"),
            vec![],
            303,
        ),
        ("/zhugeleida/admin/product/delete/abc", vec![], 404),
    ] {
        let r = app.post(path).signed(&admin).form(&form).send().await;
        assert_eq!(r.code(), code, "{path} {form:?}: {}", r.msg());
    }
    for q in [
        vec![],
        vec![("product_type", "9")],
        vec![("product_type", "1"), ("status", "7")],
    ] {
        let r = app
            .get("/zhugeleida/admin/product/product_list")
            .signed(&admin)
            .query(&q)
            .send()
            .await;
        assert_eq!(r.code(), 303, "{q:?}");
    }
    let r = app
        .get("/zhugeleida/admin/product/product_single")
        .signed(&admin)
        .query(&[("product_id", "x")])
        .send()
        .await;
    assert_eq!(r.code(), 301);
    // Nothing changed.
    let l = list(&app, &admin, &[("product_type", "1")]).await;
    assert_eq!(
        (names(&l), l["data_count"].as_i64()),
        (vec!["好的".to_owned()], Some(1))
    );
    assert_eq!(l["ret_data"][0]["status_code"], 1);
}

#[tokio::test]
async fn another_companys_products_and_feedback_are_unreachable() {
    let app = spawn_app().await;
    let (company_a, admin_a, sales_a) = app.tenant("甲").await;
    let (_, admin_b, _) = app.tenant("乙").await;
    add(&app, &admin_a, "1", "甲的产品").await.ok();
    let pid = ids(&list(&app, &admin_a, &[("product_type", "1")]).await)[0];
    app.post("/zhugeleida/qiyeweixin/feedback/add/0")
        .signed(&sales_a)
        .form(&[("content", r#"[{"type":"content","data":"甲的意见"}]"#)])
        .send()
        .await
        .ok();
    let fid = app
        .get("/zhugeleida/admin/product/feedback_list")
        .signed(&admin_a)
        .send()
        .await
        .ok()
        .data()["ret_data"][0]["id"]
        .as_i64()
        .unwrap();

    let pid_s = pid.to_string();
    let ca = company_a.to_string();
    let r = app
        .get("/zhugeleida/admin/product/product_single")
        .signed(&admin_b)
        .query(&[("product_id", &pid_s)])
        .send()
        .await;
    assert_eq!(r.code(), 302);
    for q in [vec![("product_type", "1"), ("company_id", ca.as_str())]] {
        let r = app
            .get("/zhugeleida/admin/product/product_list")
            .signed(&admin_b)
            .query(&q)
            .send()
            .await;
        assert_eq!(r.code(), 302);
    }
    assert_eq!(
        list(&app, &admin_b, &[("product_type", "1")]).await["data_count"],
        0
    );
    for (path, form) in [
        (
            format!("/zhugeleida/admin/product/update/{pid}"),
            vec![("name", "偷改"), ("price", "1"), ("reason", "r")],
        ),
        (
            format!("/zhugeleida/admin/product/change_status/{pid}"),
            vec![("status", "2")],
        ),
        (
            format!("/zhugeleida/admin/product/recommend_index/{pid}"),
            vec![("index", "5")],
        ),
        (format!("/zhugeleida/admin/product/delete/{pid}"), vec![]),
        (
            format!("/zhugeleida/admin/product/change_feedback_status/{fid}"),
            vec![("status", "2")],
        ),
    ] {
        let r = app.post(&path).signed(&admin_b).form(&form).send().await;
        assert_eq!(r.code(), 302, "{path}");
    }
    let r = app
        .get("/zhugeleida/admin/product/feedback_list")
        .signed(&admin_b)
        .query(&[("company_id", ca.as_str())])
        .send()
        .await;
    assert_eq!(r.code(), 302);
    let r = app
        .get("/zhugeleida/admin/product/feedback_list")
        .signed(&admin_b)
        .send()
        .await
        .ok();
    assert_eq!(r.data()["data_count"], 0);
    // Nothing changed in company A.
    let l = list(&app, &admin_a, &[("product_type", "1")]).await;
    assert_eq!(names(&l), ["甲的产品"]);
    assert_eq!(l["ret_data"][0]["status_code"], 1);
    assert_eq!(l["ret_data"][0]["recommend_index"], 0);
    let f = app
        .get("/zhugeleida/admin/product/feedback_list")
        .signed(&admin_a)
        .query(&[("status", "1")])
        .send()
        .await
        .ok();
    assert_eq!(f.data()["ret_data"][0]["id"], fid);
}

#[tokio::test]
async fn feedback_from_the_app_and_the_mini_program_is_listed_and_handled() {
    let app = spawn_app().await;
    let (company, admin, sales) = app.tenant("反馈").await;
    let c = customer(&app, sales.user_id, "o_feedback").await;
    let content = r#"[{"type":"phone","data":"13020006631"},{"type":"picture_url","data":["statics/zhugeleida/imgs/xiaochengxu/feedback/1.png"]},{"type":"content","data":"孙贼，用户体验不够好，请你们费心优化"}]"#;
    let r = app
        .post("/zhugeleida/qiyeweixin/feedback/add/0")
        .signed(&sales)
        .form(&[("problem_type", "1"), ("content", content)])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "提交成功");
    app.post("/zhugeleida/xiaochengxu/feedback/add/0")
        .signed(&c)
        .form(&[
            ("problem_type", "2"),
            ("content", r#"[{"type":"content","data":"客户的意见"}]"#),
        ])
        .send()
        .await
        .ok();
    // Bad feedback: 303, nothing stored.
    for bad in [
        "",
        "[]",
        "{}",
        r#"[{"type":"phone","data":"not a phone"}]"#,
        r#"[{"type":"picture_url","data":["/etc/passwd"]}]"#,
        r#"[{"type":"sound","data":"x"}]"#,
    ] {
        let r = app
            .post("/zhugeleida/gongzhonghao/feedback/add/0")
            .signed(&c)
            .form(&[("content", bad)])
            .send()
            .await;
        assert_eq!(r.code(), 303, "{bad}");
    }
    let r = app
        .post("/zhugeleida/qiyeweixin/feedback/add/0")
        .signed(&sales)
        .form(&[("problem_type", "9"), ("content", content)])
        .send()
        .await;
    assert_eq!(r.code(), 303);

    // ADM-17: newest first, the documented fields.
    let l = app
        .get("/zhugeleida/admin/product/feedback_list/")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(l.msg(), "查询成功");
    assert_eq!(l.data()["data_count"], 2);
    let rows = l.data()["ret_data"].as_array().unwrap();
    assert_eq!(rows[0]["customer_id"], c.user_id);
    assert_eq!(rows[0]["problem_type"], 2);
    let f = &rows[1];
    assert_eq!(f["user_id"], sales.user_id);
    assert_eq!(f["user_name"], "反馈-sales");
    assert_eq!(f["problem_type_text"], "客户服务");
    assert_eq!(
        f["content"],
        serde_json::from_str::<Value>(content).unwrap()
    );
    assert_eq!(f["company_id"], company);
    assert_eq!(f["company_name"], "反馈");
    assert_eq!(
        (f["status"].as_i64(), f["status_text"].as_str()),
        (Some(1), Some("未处理"))
    );
    // Members do not read feedback.
    app.get("/zhugeleida/admin/product/feedback_list")
        .signed(&sales)
        .send()
        .await
        .refused(404, "admin endpoint called by a member");

    // ADM-18.
    let fid = f["id"].as_i64().unwrap();
    let r = app
        .post(&format!(
            "/zhugeleida/admin/product/change_feedback_status/{fid}"
        ))
        .signed(&admin)
        .form(&[("status", "2")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "修改状态成功");
    app.post(&format!(
        "/zhugeleida/admin/product/change_feedback_status/{fid}"
    ))
    .signed(&admin)
    .form(&[("status", "5")])
    .send()
    .await
    .expect_code(303);
    let handled = app
        .get("/zhugeleida/admin/product/feedback_list")
        .signed(&admin)
        .query(&[("status", "2")])
        .send()
        .await
        .ok();
    assert_eq!(handled.data()["data_count"], 1);
    assert_eq!(handled.data()["ret_data"][0]["status_text"], "已处理");

    // The platform operator reads every company's feedback.
    let op = app.operator().await;
    let all = app
        .get("/zhugeleida/admin/product/feedback_list")
        .signed(&op)
        .query(&[("company_id", &company.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(all.data()["data_count"], 2);
}
