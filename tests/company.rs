#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Companies and WeCom configuration: ADM-45..50 and QYW-20..23, with WeCom validation
//! through the sandbox over real HTTP.
mod common;

use common::{spawn_app, Signer, TestApp};
use serde_json::json;

async fn company_row(app: &TestApp, op: &Signer, name: &str) -> serde_json::Value {
    let list = app
        .get("/zhugeleida/admin/company")
        .signed(op)
        .send()
        .await
        .ok();
    list.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .expect("company listed")
}

#[tokio::test]
async fn the_operator_adds_and_updates_companies_with_their_billing_period() {
    let app = spawn_app().await;
    let op = app.operator().await;
    let r = app
        .post("/zhugeleida/admin/company/add_company/0")
        .signed(&op)
        .form(&[
            ("name", "大麦公司11"),
            ("charging_start_time", "2018-8-13"),
            ("open_length_time", "3"),
            ("mingpian_available_num", "500"),
        ])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "添加成功");
    let c = company_row(&app, &op, "大麦公司11").await;
    assert_eq!(c["charging_start_time"], "2018-08-13");
    assert_eq!(c["account_expired_time"], "2018-11-13");
    assert_eq!(c["open_length_time"], 3);
    assert_eq!(c["mingpian_available_num"], 500);
    assert_eq!(c["available_days"], 0, "expired long ago");
    assert!(c["used_days"].as_i64().unwrap() > 2000);
    assert_eq!(c["user_count"], 0);
    assert_eq!(c["customer_num"], 0);
    assert_eq!(c["create_date"].as_str().unwrap().len(), 10);
    let id = c["company_id"].as_i64().unwrap();
    app.post("/zhugeleida/admin/company/add_company/0")
        .signed(&op)
        .form(&[
            ("name", "大麦公司11"),
            ("charging_start_time", "2018-8-13"),
            ("open_length_time", "3"),
            ("mingpian_available_num", "5"),
        ])
        .send()
        .await
        .expect_code(300);
    app.post("/zhugeleida/admin/company/add_company/0")
        .signed(&op)
        .form(&[
            ("name", "x"),
            ("charging_start_time", "2018-8-13"),
            ("open_length_time", "9"),
            ("mingpian_available_num", "5"),
        ])
        .send()
        .await
        .expect_code(303);
    app.post("/zhugeleida/admin/company/add_company/0")
        .signed(&op)
        .form(&[
            ("name", "x"),
            ("charging_start_time", "yesterday"),
            ("open_length_time", "1"),
            ("mingpian_available_num", "5"),
        ])
        .send()
        .await
        .expect_code(301);
    let today = zhugeleida::domain::time::today();
    let start = zhugeleida::domain::time::ymd(today);
    app.post(&format!("/zhugeleida/admin/company/update_company/{id}"))
        .signed(&op)
        .form(&[
            ("name", "大麦公司12"),
            ("charging_start_time", &start),
            ("open_length_time", "4"),
        ])
        .send()
        .await
        .ok();
    let c = company_row(&app, &op, "大麦公司12").await;
    assert_eq!(c["used_days"], 0);
    assert!(
        (365..=366).contains(&c["available_days"].as_i64().unwrap()),
        "{c}"
    );
    app.post("/zhugeleida/admin/company/update_company/99999")
        .signed(&op)
        .form(&[("name", "q")])
        .send()
        .await
        .expect_code(302);
    // paging and order
    let page = app
        .get("/zhugeleida/admin/company")
        .signed(&op)
        .query(&[("order", "-create_date"), ("length", "1")])
        .send()
        .await
        .ok();
    assert_eq!(page.data()["ret_data"].as_array().unwrap().len(), 1);
    assert_eq!(page.data()["ret_data"][0]["name"], "大麦公司12");
    assert_eq!(page.data()["data_count"], 2);
}

#[tokio::test]
async fn a_company_admin_sees_only_its_company_and_cannot_touch_billing() {
    let app = spawn_app().await;
    let _op = app.operator().await;
    let (c, admin, _) = app.tenant("甲").await;
    let list = app
        .get("/zhugeleida/admin/company")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(list.data()["data_count"], 1);
    assert_eq!(list.data()["ret_data"][0]["company_id"], c);
    assert_eq!(list.data()["ret_data"][0]["user_count"], 2);
    app.post(&format!("/zhugeleida/admin/company/update_company/{c}"))
        .signed(&admin)
        .form(&[("mingpian_available_num", "9999")])
        .send()
        .await
        .refused(404, "operator endpoint called by a non-operator");
    app.post("/zhugeleida/admin/company/add_company/0")
        .signed(&admin)
        .form(&[
            ("name", "x"),
            ("charging_start_time", "2018-8-13"),
            ("open_length_time", "3"),
            ("mingpian_available_num", "5"),
        ])
        .send()
        .await
        .refused(404, "operator endpoint called by a non-operator");
}

#[tokio::test]
async fn wecom_credentials_are_verified_with_wecom_stored_and_never_returned() {
    let app = spawn_app().await;
    let (c, admin, _) = app.tenant("甲").await;
    let url = format!("/zhugeleida/admin/company/update_tongxunlu/{c}");
    // an agent before the address book → 303
    app.post(&format!("/zhugeleida/admin/company/update_agent/{c}"))
        .signed(&admin)
        .form(&[
            ("app_type", "1"),
            ("agent_id", "1000002"),
            ("app_secret", "sandbox-ai-radar-secret"),
        ])
        .send()
        .await
        .expect_code(303);
    // a wrong secret: WeCom's errcode passes through, nothing is stored
    let bad = app
        .post(&url)
        .signed(&admin)
        .form(&[("corp_id", "wwsandbox"), ("tongxunlu_secret", "wrong")])
        .send()
        .await;
    assert_eq!(bad.code(), 40001, "{}", bad.raw);
    assert!(
        bad.msg().starts_with("保存通讯录报错: 40001 : "),
        "{}",
        bad.msg()
    );
    let st = app
        .get("/zhugeleida/admin/company/author_status")
        .signed(&admin)
        .query(&[("company_id", &c.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(
        st.data()["ret_data"][0],
        json!({"name": "通讯录", "is_validate": false})
    );
    let r = app
        .post(&url)
        .signed(&admin)
        .form(&[
            ("corp_id", "wwsandbox"),
            ("tongxunlu_secret", "sandbox-tongxunlu-secret"),
        ])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "保存成功");
    let r = app
        .post(&format!("/zhugeleida/admin/company/update_agent/{c}"))
        .signed(&admin)
        .form(&[
            ("app_type", "1"),
            ("agent_id", "1000002"),
            ("app_secret", "sandbox-ai-radar-secret"),
        ])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "保存成功");
    app.post(&format!("/zhugeleida/admin/company/update_agent/{c}"))
        .signed(&admin)
        .form(&[("app_type", "3"), ("agent_id", "1"), ("app_secret", "s")])
        .send()
        .await
        .expect_code(303);
    let st = app
        .get("/zhugeleida/admin/company/author_status")
        .signed(&admin)
        .query(&[("company_id", &c.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(
        st.data()["ret_data"],
        json!([
            {"name": "通讯录", "is_validate": true},
            {"name": "AI雷达", "is_validate": true, "app_type": 1},
            {"name": "Boss雷达", "is_validate": false, "app_type": 2},
        ])
    );
    let list = app
        .get("/zhugeleida/admin/company")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(list.data()["ret_data"][0]["corp_id"], "wwsandbox");
    for body in [list.raw, st.raw] {
        assert!(
            !body.contains("sandbox-tongxunlu-secret") && !body.contains("sandbox-ai-radar-secret"),
            "secret leaked: {body}"
        );
    }
}

#[tokio::test]
async fn the_qiyeweixin_company_forms_act_on_the_same_table() {
    let app = spawn_app().await;
    let op = app.operator().await;
    let r = app
        .post("/zhugeleida/qiyeweixin/company/add/0")
        .signed(&op)
        .form(&[("name", "合众康桥")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "添加成功");
    let list = app
        .get("/zhugeleida/qiyeweixin/company")
        .signed(&op)
        .send()
        .await
        .ok();
    let row = list.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "合众康桥")
        .unwrap()
        .clone();
    assert_eq!(row["id"], row["company_id"]);
    assert!(row["create_date"].as_str().unwrap().contains('T'));
    let id = row["id"].as_i64().unwrap();
    // `name` in the query is the fallback
    app.post(&format!("/zhugeleida/qiyeweixin/company/update/{id}"))
        .signed(&op)
        .query(&[("name", "合众康桥2")])
        .send()
        .await
        .ok();
    company_row(&app, &op, "合众康桥2").await;
    app.post("/zhugeleida/qiyeweixin/company/add/0")
        .signed(&op)
        .form(&[("name", "合众康桥2")])
        .send()
        .await
        .expect_code(300);
    // a company with users cannot be deleted (304); an empty one can
    app.post(&format!("/zhugeleida/qiyeweixin/company/delete/{}", 1))
        .signed(&op)
        .send()
        .await
        .expect_code(304);
    let r = app
        .post(&format!("/zhugeleida/qiyeweixin/company/delete/{id}"))
        .signed(&op)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功");
    app.post(&format!("/zhugeleida/qiyeweixin/company/delete/{id}"))
        .signed(&op)
        .send()
        .await
        .expect_code(302);
}
