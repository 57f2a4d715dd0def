#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Customer tags (QYW-24..32): seeded groups, tagging customers, and another company's tag
//! and customer ids tried on every endpoint.
mod common;

use common::{customer, spawn_app};
use serde_json::Value;

fn tag_id(v: &Value, name: &str) -> i64 {
    v["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn tags_are_grouped_created_bound_and_listed() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("甲").await;
    let c1 = customer(&app, rep.user_id, "o_1").await;
    let c2 = customer(&app, rep.user_id, "o_2").await;
    let grouped = app
        .get("/zhugeleida/qiyeweixin/tag_list")
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(grouped.msg(), "请求成功");
    assert_eq!(grouped.data()["tag_count"], 4);
    let names: Vec<&str> = grouped.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["基本功能", "关注点", "级别", "自定义"]);
    // QYW-29: a tag bound to two customers; QYW-31: a custom tag for one customer
    let list = format!("[{},{}]", c1.user_id, c2.user_id);
    app.post("/zhugeleida/qiyeweixin/tag_customer/add/0")
        .signed(&rep)
        .form(&[("name", "老客户"), ("customer_list", &list)])
        .send()
        .await
        .ok();
    app.post(&format!(
        "/zhugeleida/qiyeweixin/tag_list/add_tag/{}",
        c1.user_id
    ))
    .signed(&rep)
    .form(&[("name", "爱砍价")])
    .send()
    .await
    .ok();
    app.post("/zhugeleida/qiyeweixin/tag_customer/add/0")
        .signed(&rep)
        .form(&[("name", "老客户"), ("customer_list", "[]")])
        .send()
        .await
        .expect_code(300);
    let grouped = app
        .get("/zhugeleida/qiyeweixin/tag_list")
        .signed(&rep)
        .send()
        .await
        .ok();
    let custom = &grouped.data()["ret_data"][3]["tags"];
    assert_eq!(custom.as_array().unwrap().len(), 2);
    // QYW-24: customer ids per tag
    let all = app
        .get("/zhugeleida/qiyeweixin/tag")
        .signed(&rep)
        .send()
        .await
        .ok();
    let old = all.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "老客户")
        .unwrap()
        .clone();
    assert_eq!(
        old["customer_list"],
        serde_json::json!([c1.user_id, c2.user_id])
    );
    assert_eq!(old["tag_id"], old["id"]);
    // QYW-28: only tags with customers, most used first, with `ret_count`
    let with = app
        .get("/zhugeleida/qiyeweixin/tag_customer")
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(with.data()["ret_count"], 2);
    assert_eq!(with.data()["ret_data"][0]["name"], "老客户");
    assert_eq!(with.data()["ret_data"][0]["customer_num"], 2);
    assert!(with.data()["ret_data"][0]["customer_list"][0]
        .get("headimgurl")
        .is_some());
    // QYW-32 replaces a customer's tags; QYW-26 renames and replaces members; QYW-27 deletes
    let married = tag_id(all.data(), "已婚");
    let old_id = old["id"].as_i64().unwrap();
    app.post(&format!(
        "/zhugeleida/qiyeweixin/tag_list/customer_tag/{}",
        c2.user_id
    ))
    .signed(&rep)
    .form(&[("tag_list", &format!("[{married}]"))])
    .send()
    .await
    .ok();
    let all = app
        .get("/zhugeleida/qiyeweixin/tag")
        .signed(&rep)
        .send()
        .await
        .ok();
    let find = |v: &Value, id: i64| {
        v["ret_data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()["customer_list"]
            .clone()
    };
    assert_eq!(find(all.data(), married), serde_json::json!([c2.user_id]));
    assert_eq!(find(all.data(), old_id), serde_json::json!([c1.user_id]));
    app.post(&format!("/zhugeleida/qiyeweixin/tag/update/{old_id}"))
        .signed(&rep)
        .form(&[("name", "VIP"), ("user_list", &format!("[{}]", c2.user_id))])
        .send()
        .await
        .ok();
    let all = app
        .get("/zhugeleida/qiyeweixin/tag")
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(find(all.data(), old_id), serde_json::json!([c2.user_id]));
    assert_eq!(tag_id(all.data(), "VIP"), old_id);
    app.post("/zhugeleida/qiyeweixin/tag/add/0")
        .signed(&rep)
        .form(&[("name", "新标签")])
        .send()
        .await
        .ok();
    let r = app
        .post(&format!("/zhugeleida/qiyeweixin/tag/delete/{old_id}"))
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功");
    app.post(&format!("/zhugeleida/qiyeweixin/tag/delete/{old_id}"))
        .signed(&rep)
        .send()
        .await
        .expect_code(302);
}

#[tokio::test]
async fn another_companys_tags_and_customers_are_invisible() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("甲").await;
    let (_, _, other) = app.tenant("乙").await;
    let mine = customer(&app, rep.user_id, "o_m").await;
    let theirs = customer(&app, other.user_id, "o_t").await;
    app.post(&format!(
        "/zhugeleida/qiyeweixin/tag_list/add_tag/{}",
        theirs.user_id
    ))
    .signed(&other)
    .form(&[("name", "乙方秘密")])
    .send()
    .await
    .ok();
    let their_tags = app
        .get("/zhugeleida/qiyeweixin/tag")
        .signed(&other)
        .send()
        .await
        .ok();
    let secret = tag_id(their_tags.data(), "乙方秘密");
    let t = theirs.user_id.to_string();
    let calls: Vec<(String, Vec<(&str, String)>)> = vec![
        (
            format!("/zhugeleida/qiyeweixin/tag/update/{secret}"),
            vec![("name", "x".into())],
        ),
        (
            format!("/zhugeleida/qiyeweixin/tag/delete/{secret}"),
            vec![],
        ),
        (
            "/zhugeleida/qiyeweixin/tag/add/0".into(),
            vec![("name", "a".into()), ("customer_list", format!("[{t}]"))],
        ),
        (
            "/zhugeleida/qiyeweixin/tag_customer/add/0".into(),
            vec![("name", "b".into()), ("customer_list", format!("[{t}]"))],
        ),
        (
            format!("/zhugeleida/qiyeweixin/tag_list/add_tag/{t}"),
            vec![("name", "c".into())],
        ),
        (
            format!("/zhugeleida/qiyeweixin/tag_list/customer_tag/{t}"),
            vec![("tag_list", "[]".into())],
        ),
        (
            format!(
                "/zhugeleida/qiyeweixin/tag_list/customer_tag/{}",
                mine.user_id
            ),
            vec![("tag_list", format!("[{secret}]"))],
        ),
    ];
    for (path, form) in &calls {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = app.post(path).signed(&rep).form(&form).send().await;
        assert_eq!(r.code(), 302, "{path}: {}", r.raw);
    }
    for path in [
        "/zhugeleida/qiyeweixin/tag",
        "/zhugeleida/qiyeweixin/tag_customer",
        "/zhugeleida/qiyeweixin/tag_list",
    ] {
        let r = app.get(path).signed(&rep).send().await.ok();
        assert!(!r.raw.contains("\\u4e59\\u65b9"), "{path} leaks: {}", r.raw);
    }
    let still = app
        .get("/zhugeleida/qiyeweixin/tag")
        .signed(&other)
        .send()
        .await
        .ok();
    let row = still.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == secret)
        .unwrap()
        .clone();
    assert_eq!(row["customer_list"], serde_json::json!([theirs.user_id]));
}
