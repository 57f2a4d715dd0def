#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The website and its templates (ADM-39..44) and the plugins (ADM-51..63): wire shapes, the
//! customer's sign-up with its phone check, bad input, and another company's ids.
mod common;

use common::{customer, spawn_app, Signer, TestApp};
use serde_json::{json, Value};

const SITE: &str = r#"[{"type":"guntu","data":[{"picture_url":"statics/zhugeleida/imgs/xiaochengxu/website/Website_scroll_1.png"}]},{"type":"content","data":[{"picture_url":"statics/zhugeleida/imgs/xiaochengxu/website/Content_1.png"}]}]"#;
const GOODS: &str = r#"{"goods_data":[{"price":128,"introduce":"林俊杰演唱会","inventory_num":10,"person_limit_num":2}],"cover_data":[{"data":["statics/zhugeleida/imgs/qiyeweixin/product/pbmh_s1.png"],"type":"picture_url"}]}"#;

async fn get(app: &TestApp, who: &Signer, path: &str, q: &[(&str, &str)]) -> common::Resp {
    app.get(path).signed(who).query(q).send().await
}

async fn post(app: &TestApp, who: &Signer, path: &str, f: &[(&str, &str)]) -> common::Resp {
    app.post(path).signed(who).form(f).send().await
}

fn first_id(r: &common::Resp, key: &str) -> i64 {
    r.data()["ret_data"][0][key].as_i64().unwrap()
}

#[tokio::test]
async fn the_website_and_its_templates_are_saved_listed_and_private() {
    let app = spawn_app().await;
    let (company, admin, sales) = app.tenant("官网公司").await;
    let (company_b, admin_b, _) = app.tenant("别家").await;
    let c = company.to_string();

    // Before the first save: the company, an empty website.
    let r = get(
        &app,
        &admin,
        "/zhugeleida/admin/website",
        &[("company_id", &c)],
    )
    .await
    .ok();
    assert_eq!(r.data()["ret_data"][0]["website_content"], json!([]));
    let r = post(
        &app,
        &admin,
        &format!("/zhugeleida/admin/website/edit/{company}"),
        &[("website_content", SITE)],
    )
    .await
    .ok();
    assert_eq!(r.msg(), "保存成功");
    let r = get(
        &app,
        &sales,
        "/zhugeleida/admin/website",
        &[("company_id", &c)],
    )
    .await
    .ok();
    assert_eq!(r.msg(), "");
    assert_eq!(r.data()["data_count"], 1);
    let w = &r.data()["ret_data"][0];
    assert_eq!(
        (w["id"].as_i64(), w["name"].as_str()),
        (Some(company), Some("官网公司"))
    );
    assert_eq!(
        w["website_content"],
        serde_json::from_str::<Value>(SITE).unwrap()
    );
    assert!(w["create_date"].as_str().unwrap().contains('T'));

    // Members do not edit; bad content is 303; another company's website is 302 both ways.
    post(
        &app,
        &sales,
        &format!("/zhugeleida/admin/website/edit/{company}"),
        &[("website_content", "[]")],
    )
    .await
    .refused(404, "admin endpoint called by a member");
    for bad in [
        "",
        "{}",
        "x",
        r#"[{"type":"guntu","data":[{"picture_url":"../x.png"}]}]"#,
        r#"[{"type":"video","data":[]}]"#,
    ] {
        let r = post(
            &app,
            &admin,
            &format!("/zhugeleida/admin/website/edit/{company}"),
            &[("website_content", bad)],
        )
        .await;
        assert_eq!(r.code(), 303, "{bad}");
    }
    post(
        &app,
        &admin_b,
        &format!("/zhugeleida/admin/website/edit/{company}"),
        &[("website_content", "[]")],
    )
    .await
    .expect_code(302);
    get(
        &app,
        &admin_b,
        "/zhugeleida/admin/website",
        &[("company_id", &c)],
    )
    .await
    .expect_code(302);
    get(
        &app,
        &admin,
        "/zhugeleida/admin/website",
        &[("company_id", &company_b.to_string())],
    )
    .await
    .expect_code(302);
    get(&app, &admin, "/zhugeleida/admin/website", &[])
        .await
        .expect_code(303);
    let r = get(
        &app,
        &admin,
        "/zhugeleida/admin/website",
        &[("company_id", &c)],
    )
    .await
    .ok();
    assert_eq!(
        r.data()["ret_data"][0]["website_content"],
        serde_json::from_str::<Value>(SITE).unwrap()
    );

    // Templates.
    let r = post(
        &app,
        &admin,
        "/zhugeleida/admin/website_template/add/0",
        &[("name", "模板一"), ("template_content", SITE)],
    )
    .await
    .ok();
    assert_eq!(r.msg(), "保存成功");
    let l = get(&app, &admin, "/zhugeleida/admin/website_template", &[])
        .await
        .ok();
    assert_eq!(l.data()["data_count"], 1);
    let t = &l.data()["ret_data"][0];
    assert_eq!(t["name"], "模板一");
    assert_eq!(
        t["template_content"],
        serde_json::from_str::<Value>(SITE).unwrap()
    );
    let tid = first_id(&l, "id");
    let r = post(
        &app,
        &admin,
        &format!("/zhugeleida/admin/website_template/update/{tid}"),
        &[("template_content", "[]")],
    )
    .await
    .ok();
    assert_eq!(r.msg(), "修改成功");
    post(
        &app,
        &admin,
        &format!("/zhugeleida/admin/website_template/update/{tid}"),
        &[],
    )
    .await
    .expect_code(303);
    post(
        &app,
        &admin,
        "/zhugeleida/admin/website_template/add/0",
        &[("template_content", "nope")],
    )
    .await
    .expect_code(303);
    // Another company: sees none, changes none.
    assert_eq!(
        get(&app, &admin_b, "/zhugeleida/admin/website_template", &[])
            .await
            .ok()
            .data()["data_count"],
        0
    );
    post(
        &app,
        &admin_b,
        &format!("/zhugeleida/admin/website_template/update/{tid}"),
        &[("template_content", SITE)],
    )
    .await
    .expect_code(302);
    post(
        &app,
        &admin_b,
        &format!("/zhugeleida/admin/website_template/delete/{tid}"),
        &[],
    )
    .await
    .expect_code(302);
    let l = get(&app, &admin, "/zhugeleida/admin/website_template", &[])
        .await
        .ok();
    assert_eq!(
        (
            l.data()["ret_data"][0]["template_content"].clone(),
            l.data()["ret_data"][0]["name"].clone()
        ),
        (json!([]), json!("模板一"))
    );
    let r = post(
        &app,
        &admin,
        &format!("/zhugeleida/admin/website_template/delete/{tid}"),
        &[],
    )
    .await
    .ok();
    assert_eq!(r.msg(), "删除成功");
    assert_eq!(
        get(&app, &admin, "/zhugeleida/admin/website_template", &[])
            .await
            .ok()
            .data()["data_count"],
        0
    );
}

#[tokio::test]
async fn plugin_cards_and_goods_round_trip_and_stay_in_their_company() {
    let app = spawn_app().await;
    let (_, admin, sales) = app.tenant("插件").await;
    let (_, admin_b, _) = app.tenant("插件乙").await;
    let card = [
        ("name", "销售名片"),
        ("avatar", "statics/zhugeleida/imgs/admin/plugin/a.jpg"),
        ("username", "张聪"),
        ("phone", "13020006631"),
        (
            "webchat_code",
            "statics/zhugeleida/imgs/admin/plugin/qr.png",
        ),
        ("position", "运维"),
    ];
    let r = post(
        &app,
        &admin,
        "/zhugeleida/admin/plugin_mingpian/add/0",
        &card,
    )
    .await
    .ok();
    assert_eq!(r.msg(), "添加成功");
    post(
        &app,
        &sales,
        "/zhugeleida/admin/plugin_mingpian/add/0",
        &card,
    )
    .await
    .refused(404, "admin endpoint called by a member");
    for (k, v) in [
        ("avatar", "http://x/a.jpg"),
        ("webchat_code", "statics/../a.png"),
        ("phone", "call me"),
    ] {
        let mut f = card.to_vec();
        f.retain(|(key, _)| *key != k);
        f.push((k, v));
        post(&app, &admin, "/zhugeleida/admin/plugin_mingpian/add/0", &f)
            .await
            .expect_code(303);
    }
    let l = get(&app, &sales, "/zhugeleida/admin/plugin_mingpian", &[])
        .await
        .ok();
    assert_eq!(l.data()["data_count"], 1);
    let row = &l.data()["ret_data"][0];
    for (k, v) in card {
        assert_eq!(row[k], v, "{k}");
    }
    let mid = first_id(&l, "mingpian_id");
    let r = post(
        &app,
        &admin,
        &format!("/zhugeleida/admin/plugin_mingpian/update/{mid}"),
        &[("name", "新分类"), ("username", "李四")],
    )
    .await
    .ok();
    assert_eq!(r.msg(), "添加成功");
    for path in [
        format!("/zhugeleida/admin/plugin_mingpian/update/{mid}"),
        format!("/zhugeleida/admin/plugin_mingpian/delete/{mid}"),
    ] {
        post(&app, &admin_b, &path, &[("name", "偷")])
            .await
            .expect_code(302);
    }
    assert_eq!(
        get(&app, &admin_b, "/zhugeleida/admin/plugin_mingpian", &[])
            .await
            .ok()
            .data()["data_count"],
        0
    );
    let l = get(&app, &admin, "/zhugeleida/admin/plugin_mingpian", &[])
        .await
        .ok();
    assert_eq!(l.data()["ret_data"][0]["username"], "李四");
    post(
        &app,
        &admin,
        &format!("/zhugeleida/admin/plugin_mingpian/delete/{mid}"),
        &[],
    )
    .await
    .ok();
    assert_eq!(
        get(&app, &admin, "/zhugeleida/admin/plugin_mingpian", &[])
            .await
            .ok()
            .data()["data_count"],
        0
    );

    // Goods.
    let r = post(
        &app,
        &admin,
        "/zhugeleida/admin/plugin_goods/add/0",
        &[("title", "林俊杰门票1"), ("content", GOODS)],
    )
    .await
    .ok();
    assert_eq!(r.msg(), "添加成功");
    for bad in [
        "",
        "{}",
        r#"{"goods_data":[]}"#,
        r#"{"goods_data":[{"price":"free"}]}"#,
        r#"{"goods_data":[{"price":1}],"cover_data":[{"type":"picture_url","data":["a.png"]}]}"#,
    ] {
        let r = post(
            &app,
            &admin,
            "/zhugeleida/admin/plugin_goods/add/0",
            &[("title", "x"), ("content", bad)],
        )
        .await;
        assert_eq!(r.code(), 303, "{bad}");
    }
    post(
        &app,
        &admin,
        "/zhugeleida/admin/plugin_goods/add/0",
        &[("content", GOODS)],
    )
    .await
    .expect_code(303);
    let l = get(&app, &admin, "/zhugeleida/admin/plugin_goods", &[])
        .await
        .ok();
    assert_eq!(l.msg(), "查询成功");
    assert_eq!(l.data()["data_count"], 1);
    let g = &l.data()["ret_data"][0];
    assert_eq!(g["title"], "林俊杰门票1");
    assert_eq!(g["content"], serde_json::from_str::<Value>(GOODS).unwrap());
    let gid = first_id(&l, "goods_id");
    post(
        &app,
        &admin_b,
        &format!("/zhugeleida/admin/plugin_goods/update/{gid}"),
        &[("title", "偷"), ("content", GOODS)],
    )
    .await
    .expect_code(302);
    post(
        &app,
        &admin_b,
        &format!("/zhugeleida/admin/plugin_goods/delete/{gid}"),
        &[],
    )
    .await
    .expect_code(302);
    let r = post(
        &app,
        &admin,
        &format!("/zhugeleida/admin/plugin_goods/update/{gid}"),
        &[("title", "门票2"), ("content", GOODS)],
    )
    .await
    .ok();
    assert_eq!(r.msg(), "修改成功");
    let c = customer(&app, sales.user_id, "o_goods").await;
    let r = get(
        &app,
        &c,
        "/zhugeleida/xiaochengxu/plugin_goods/goods_single",
        &[
            ("uid", &sales.user_id.to_string()),
            ("goods_id", &gid.to_string()),
        ],
    )
    .await
    .ok();
    assert_eq!(r.data()["ret_data"][0]["title"], "门票2");
    let r = post(
        &app,
        &admin,
        &format!("/zhugeleida/admin/plugin_goods/delete/{gid}"),
        &[],
    )
    .await
    .ok();
    assert_eq!(r.msg(), "删除成功");
    get(
        &app,
        &c,
        "/zhugeleida/xiaochengxu/plugin_goods/goods_single",
        &[
            ("uid", &sales.user_id.to_string()),
            ("goods_id", &gid.to_string()),
        ],
    )
    .await
    .expect_code(302);
}

#[tokio::test]
async fn customers_sign_up_for_activities_with_a_valid_phone() {
    let app = spawn_app().await;
    let (_, admin, sales) = app.tenant("活动").await;
    let (_, admin_b, sales_b) = app.tenant("活动乙").await;
    let form = [
        ("title", "12131214123"),
        ("ad_slogan", "范德萨发生"),
        ("sign_up_button", "是是是"),
        ("introduce", "SOUI金丰鼓酒行"),
        ("is_get_phone_code", "True"),
        ("leave_message", "请留言"),
        ("skip_link", "http://example.com/x"),
    ];
    let r = post(&app, &admin, "/zhugeleida/admin/plugin_report/add/0", &form)
        .await
        .ok();
    assert_eq!(r.msg(), "添加成功");
    post(
        &app,
        &admin,
        "/zhugeleida/admin/plugin_report/add/0",
        &[("title", "x"), ("is_get_phone_code", "maybe")],
    )
    .await
    .expect_code(301);
    post(
        &app,
        &admin,
        "/zhugeleida/admin/plugin_report/add/0",
        &[("ad_slogan", "no title")],
    )
    .await
    .expect_code(303);
    let l = get(&app, &admin, "/zhugeleida/admin/plugin_report", &[])
        .await
        .ok();
    let a = &l.data()["ret_data"][0];
    let aid = a["id"].as_i64().unwrap();
    assert_eq!(a["belong_user_id"], admin.user_id);
    assert_eq!(a["belong_user"], "活动-admin");
    assert_eq!(a["is_get_phone_code"], true);
    assert_eq!(
        (
            a["read_count"].as_i64(),
            a["join_num"].as_i64(),
            a["convert_pr"].as_i64()
        ),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(
        a["create_date"].as_str().unwrap().len(),
        16,
        "YYYY-MM-DD HH:MM"
    );

    // The customer reads it (read_count +1) and signs up; bad phones are 303 and not stored.
    let c = customer(&app, sales.user_id, "o_activity").await;
    let uid = sales.user_id.to_string();
    let r = get(
        &app,
        &c,
        "/zhugeleida/xiaochengxu/plugin_report/activity_single",
        &[("uid", &uid), ("activity_id", &aid.to_string())],
    )
    .await
    .ok();
    assert_eq!(r.data()["ret_data"][0]["read_count"], 1);
    assert!(r.data()["ret_data"][0].get("name_list").is_none());
    let path = format!("/zhugeleida/admin/plugin_report/sign_up_activity/{aid}");
    for phone in ["1302000663", "23020006631", "1302000663a", ""] {
        let r = post(
            &app,
            &c,
            &path,
            &[
                ("customer_name", "FFFFF"),
                ("phone", phone),
                ("leave_message", "hi"),
            ],
        )
        .await;
        assert_eq!(r.code(), 303, "{phone}");
    }
    post(&app, &c, &path, &[("phone", "13020006631")])
        .await
        .expect_code(303);
    let r = post(
        &app,
        &c,
        &path,
        &[
            ("customer_name", "FFFFF"),
            ("phone", "13020006631"),
            ("phone_verify_code", "1234"),
            ("leave_message", "我要参加"),
        ],
    )
    .await
    .ok();
    assert_eq!(r.msg(), "报名成功");
    // The mini-program alias, and a staff member filling the form in (A-39).
    post(
        &app,
        &c,
        &format!("/zhugeleida/xiaochengxu/plugin_report/sign_up_activity/{aid}"),
        &[
            ("customer_name", "GG"),
            ("phone", "13900000000"),
            ("leave_message", ""),
        ],
    )
    .await
    .ok();
    post(
        &app,
        &sales,
        &path,
        &[
            ("customer_name", "代填"),
            ("phone", "13800000000"),
            ("leave_message", ""),
        ],
    )
    .await
    .ok();
    // Another company's customer or staff: 302; unsigned: 404.
    let cb = customer(&app, sales_b.user_id, "o_activity_b").await;
    post(
        &app,
        &cb,
        &path,
        &[
            ("customer_name", "X"),
            ("phone", "13020006631"),
            ("leave_message", ""),
        ],
    )
    .await
    .expect_code(302);
    post(
        &app,
        &sales_b,
        &path,
        &[
            ("customer_name", "X"),
            ("phone", "13020006631"),
            ("leave_message", ""),
        ],
    )
    .await
    .expect_code(302);
    let r = app
        .post(&path)
        .form(&[("customer_name", "X"), ("phone", "13020006631")])
        .send()
        .await;
    r.refused(404, "missing rand_str");

    let l = get(&app, &admin, "/zhugeleida/admin/plugin_report", &[])
        .await
        .ok();
    let a = &l.data()["ret_data"][0];
    assert_eq!(a["join_num"], 3);
    assert_eq!(a["read_count"], 1);
    assert_eq!(a["convert_pr"], "3.00");
    let names = a["name_list"].as_array().unwrap();
    assert_eq!(names.len(), 3);
    assert_eq!(names[0]["customer_name"], "FFFFF");
    assert_eq!(names[0]["customer_phone"], "13020006631");
    assert_eq!(names[0]["leave_message"], "我要参加");
    assert!(names[0]["sign_up_time"].as_str().unwrap().contains('T'));

    // Another company: sees none, changes none.
    assert_eq!(
        get(&app, &admin_b, "/zhugeleida/admin/plugin_report", &[])
            .await
            .ok()
            .data()["data_count"],
        0
    );
    post(
        &app,
        &admin_b,
        &format!("/zhugeleida/admin/plugin_report/update/{aid}"),
        &[("title", "偷")],
    )
    .await
    .expect_code(302);
    post(
        &app,
        &admin_b,
        &format!("/zhugeleida/admin/plugin_report/delete/{aid}"),
        &[],
    )
    .await
    .expect_code(302);
    get(
        &app,
        &cb,
        "/zhugeleida/xiaochengxu/plugin_report/activity_single",
        &[
            ("uid", &sales_b.user_id.to_string()),
            ("activity_id", &aid.to_string()),
        ],
    )
    .await
    .expect_code(302);
    let r = post(
        &app,
        &admin,
        &format!("/zhugeleida/admin/plugin_report/update/{aid}"),
        &[("title", "新标题"), ("is_get_phone_code", "False")],
    )
    .await
    .ok();
    assert_eq!(r.msg(), "修改成功");
    let l = get(&app, &admin, "/zhugeleida/admin/plugin_report", &[])
        .await
        .ok();
    assert_eq!(
        (
            l.data()["ret_data"][0]["title"].clone(),
            l.data()["ret_data"][0]["read_count"].clone()
        ),
        (json!("新标题"), json!(1))
    );
    let r = post(
        &app,
        &admin,
        &format!("/zhugeleida/admin/plugin_report/delete/{aid}"),
        &[],
    )
    .await
    .ok();
    assert_eq!(r.msg(), "删除成功");
    assert_eq!(
        get(&app, &admin, "/zhugeleida/admin/plugin_report", &[])
            .await
            .ok()
            .data()["data_count"],
        0
    );
}
