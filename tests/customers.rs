#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Customers (QYW-06..12), 通讯录 (QYW-41) and follow-up records (QYW-45 + free text).
mod common;

use common::{customer, spawn_app, Signer, TestApp};
use serde_json::Value;

async fn one(app: &TestApp, rep: &Signer, id: i64) -> Value {
    let r = app
        .get("/zhugeleida/qiyeweixin/customer")
        .signed(rep)
        .query(&[("customer_id", &id.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "查询成功");
    r.data()["ret_data"][0].clone()
}

async fn follow_infos(app: &TestApp, rep: &Signer, id: i64) -> Vec<String> {
    let r = app
        .get("/zhugeleida/qiyeweixin/follow_info")
        .signed(rep)
        .query(&[("customer_id", &id.to_string())])
        .send()
        .await
        .ok();
    let rows = r.data()["ret_data"].as_array().unwrap().clone();
    assert_eq!(
        r.data()["data_count"].as_u64().unwrap() as usize,
        rows.len()
    );
    rows.iter()
        .map(|r| r["follow_info"].as_str().unwrap().to_owned())
        .collect()
}

async fn tongxunlu(app: &TestApp, rep: &Signer, q: &[(&str, &str)]) -> Value {
    app.get("/zhugeleida/qiyeweixin/tongxunlu")
        .signed(rep)
        .query(q)
        .send()
        .await
        .ok()
        .data()
        .clone()
}

#[tokio::test]
async fn updates_write_follow_up_records_and_show_in_lists() {
    let app = spawn_app().await;
    let (_, admin, rep) = app.tenant("客户").await;
    let c = customer(&app, rep.user_id, "o_c1").await;
    let c2 = customer(&app, rep.user_id, "o_c2").await;
    let path = |op: &str, id: i64| format!("/zhugeleida/qiyeweixin/customer/{op}/{id}");

    // QYW-10 / QYW-11 (both names, '80%').
    let r = app
        .post(&path("update_expected_time", c.user_id))
        .signed(&rep)
        .form(&[("expected_time", "2018-06-14")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "添加成功");
    app.post(&path("update_expected_pr", c.user_id))
        .signed(&rep)
        .form(&[("update_expected_pr", "80%")])
        .send()
        .await
        .ok();
    app.post(&path("update_expected_pr", c2.user_id))
        .signed(&rep)
        .form(&[("expedted_pr", "30")])
        .send()
        .await
        .ok();
    app.post(&path("update_expected_pr", c.user_id))
        .signed(&rep)
        .form(&[("expedted_pr", "180")])
        .send()
        .await
        .expect_code(301);
    // QYW-12 with a seeded tag, QYW-07 profile (and the surface-less alias), free text.
    let tags = app
        .get("/zhugeleida/qiyeweixin/tag")
        .signed(&rep)
        .send()
        .await
        .ok();
    let tag = tags.data()["ret_data"][0].clone();
    app.post(&path("update_tag", c.user_id))
        .signed(&rep)
        .form(&[("tag_list", &format!("[{}]", tag["id"]))])
        .send()
        .await
        .ok();
    app.post(&path("update_information", c.user_id))
        .signed(&rep)
        .form(&[
            ("phone", "13800000000"),
            ("memo_name", "王总"),
            ("sex", "1"),
            ("birthday", "1990-01-02"),
        ])
        .send()
        .await
        .ok();
    app.post(&format!(
        "/zhugeleida/customer/update_information/{}",
        c.user_id
    ))
    .signed(&rep)
    .form(&[("company", "合众"), ("superior", &c2.user_id.to_string())])
    .send()
    .await
    .ok();
    app.post(&format!(
        "/zhugeleida/qiyeweixin/follow_info/add/{}",
        c.user_id
    ))
    .signed(&rep)
    .form(&[("follow_info", "这个客户我惹不起！！！！")])
    .send()
    .await
    .ok();
    app.post(&format!(
        "/zhugeleida/qiyeweixin/follow_info/add/{}",
        c.user_id
    ))
    .signed(&rep)
    .form(&[("follow_info", "   ")])
    .send()
    .await
    .expect_code(303);

    let infos = follow_infos(&app, &rep, c.user_id).await;
    assert_eq!(
        infos,
        vec![
            "更新预计成交日期: 2018-06-14".to_owned(),
            "更新预计成交率为: 80%".to_owned(),
            format!("更新客户标签: {}", tag["name"].as_str().unwrap()),
            "更新客户信息: 备注名、电话、生日、性别".to_owned(),
            "更新客户信息: 公司、上级".to_owned(),
            "这个客户我惹不起！！！！".to_owned(),
        ]
    );
    // The admin of the company sees the same timeline.
    assert_eq!(follow_infos(&app, &admin, c.user_id).await.len(), 6);

    let row = one(&app, &rep, c.user_id).await;
    assert_eq!(row["expected_time"], "2018-06-14");
    assert_eq!(row["expedted_pr"], "80");
    assert_eq!(row["memo_name"], "王总");
    assert_eq!(row["phone"], "13800000000");
    assert_eq!(row["company"], "合众");
    assert_eq!(row["birthday"], "1990-01-02");
    assert_eq!(row["source"], "扫码");
    assert_eq!(row["tag"], serde_json::json!([tag["name"]]));
    assert!(row["superior"].is_string());

    // QYW-06 list: own customers for a member, everything for an admin; fuzzy filters.
    let list = app
        .get("/zhugeleida/qiyeweixin/customer")
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(list.data()["data_count"], 2);
    let first = &list.data()["ret_data"][0];
    assert_eq!(first["source"], 1);
    assert!(first["openid"].is_string());
    let filtered = app
        .get("/zhugeleida/qiyeweixin/customer")
        .signed(&admin)
        .query(&[("username", "王"), ("belonger__username", "客户-sales")])
        .send()
        .await
        .ok();
    assert_eq!(filtered.data()["data_count"], 1);
    assert_eq!(filtered.data()["ret_data"][0]["id"], c.user_id);
    assert_eq!(filtered.data()["ret_data"][0]["expedted_pr"], "80");

    // QYW-41: every spelling of the sort, relative times, follow status.
    for order in ["", "-expedted_pr", "customer__expedted_pr"] {
        let t = tongxunlu(&app, &rep, &[("order", order)]).await;
        assert_eq!(t["data_count"], 2);
        assert_eq!(t["ret_data"][0]["customer_id"], c.user_id, "order {order}");
        assert_eq!(t["ret_data"][0]["expedted_pr"], 80);
        assert_eq!(t["ret_data"][0]["last_follow_time"], "今天");
        assert_eq!(t["ret_data"][0]["follow_status"], "今天跟进");
        assert_eq!(t["ret_data"][0]["last_activity_time"], "今天");
    }
    // c's free-text follow-up was the last one.
    let t = tongxunlu(&app, &rep, &[("order", "-last_follow_time")]).await;
    assert_eq!(t["ret_data"][0]["customer_id"], c.user_id);
    let t = tongxunlu(
        &app,
        &rep,
        &[("order", "last_activity_time"), ("length", "1")],
    )
    .await;
    assert_eq!(t["ret_data"].as_array().unwrap().len(), 1);
    assert_eq!(t["data_count"], 2);
    let t = tongxunlu(&app, &rep, &[("customer__source", "2")]).await;
    assert_eq!(t["data_count"], 0);
    app.get("/zhugeleida/qiyeweixin/tongxunlu")
        .signed(&rep)
        .query(&[("order", "-nonsense")])
        .send()
        .await
        .expect_code(303);

    // QYW-09: the customer leaves the list; counts follow.
    let r = app
        .post(&path("delete", c2.user_id))
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功");
    assert_eq!(tongxunlu(&app, &rep, &[]).await["data_count"], 1);
    app.post(&path("delete", c2.user_id))
        .signed(&rep)
        .send()
        .await
        .expect_code(302);
}

#[tokio::test]
async fn a_member_cannot_touch_another_members_or_companys_customers() {
    let app = spawn_app().await;
    let (company_a, _, rep_a) = app.tenant("甲客").await;
    let (_, admin_b, rep_b) = app.tenant("乙客").await;
    app.user(company_a, "甲客-sales2", "Passw0rdX", 3).await;
    let other = app.login("甲客-sales2", "Passw0rdX").await;
    let cb = customer(&app, rep_b.user_id, "o_foreign").await;
    let ca_other = customer(&app, other.user_id, "o_colleague").await;
    let b_tags = app
        .get("/zhugeleida/qiyeweixin/tag")
        .signed(&admin_b)
        .send()
        .await
        .ok();
    let b_tag = b_tags.data()["ret_data"][0]["id"].to_string();
    let ca = customer(&app, rep_a.user_id, "o_mine").await;

    for id in [cb.user_id, ca_other.user_id] {
        let id_s = id.to_string();
        app.get("/zhugeleida/qiyeweixin/customer")
            .signed(&rep_a)
            .query(&[("customer_id", &id_s)])
            .send()
            .await
            .expect_code(302);
        app.get("/zhugeleida/qiyeweixin/follow_info")
            .signed(&rep_a)
            .query(&[("customer_id", &id_s)])
            .send()
            .await
            .expect_code(302);
        for (op, form) in [
            ("update_information", ("phone", "1")),
            ("update_customer", ("expedted_pr", "50")),
            ("update_expected_time", ("expected_time", "2020-01-01")),
            ("update_expected_pr", ("expedted_pr", "50")),
            ("update_tag", ("tag_list", "[]")),
            ("delete", ("x", "y")),
        ] {
            app.post(&format!("/zhugeleida/qiyeweixin/customer/{op}/{id}"))
                .signed(&rep_a)
                .form(&[form])
                .send()
                .await
                .expect_code(302);
        }
        app.post(&format!("/zhugeleida/qiyeweixin/follow_info/add/{id}"))
            .signed(&rep_a)
            .form(&[("follow_info", "x")])
            .send()
            .await
            .expect_code(302);
    }
    // Own customer, foreign tag or foreign superior.
    app.post(&format!(
        "/zhugeleida/qiyeweixin/customer/update_tag/{}",
        ca.user_id
    ))
    .signed(&rep_a)
    .form(&[("tag_list", &format!("[{b_tag}]"))])
    .send()
    .await
    .expect_code(302);
    app.post(&format!(
        "/zhugeleida/qiyeweixin/customer/update_information/{}",
        ca.user_id
    ))
    .signed(&rep_a)
    .form(&[("superior", &cb.user_id.to_string())])
    .send()
    .await
    .expect_code(302);
    // Nothing was written anywhere.
    let b = app
        .get("/zhugeleida/qiyeweixin/customer")
        .signed(&rep_b)
        .query(&[("customer_id", &cb.user_id.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(b.data()["ret_data"][0]["phone"], "");
    assert_eq!(b.data()["ret_data"][0]["expedted_pr"], Value::Null);
    let infos = app
        .get("/zhugeleida/qiyeweixin/follow_info")
        .signed(&rep_a)
        .query(&[("customer_id", &ca.user_id.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(infos.data()["data_count"], 0);
    // Lists hold only the caller's own customers.
    let list = app
        .get("/zhugeleida/qiyeweixin/customer")
        .signed(&rep_a)
        .send()
        .await
        .ok();
    assert_eq!(list.data()["data_count"], 1);
    let t = app
        .get("/zhugeleida/qiyeweixin/tongxunlu")
        .signed(&rep_a)
        .send()
        .await
        .ok();
    assert_eq!(t.data()["data_count"], 1);
}
