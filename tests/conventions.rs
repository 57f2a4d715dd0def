#![allow(clippy::unwrap_used, clippy::expect_used)]
//! API.md §1 wire conventions, from the outside.
mod common;

use common::spawn_app;

#[tokio::test]
async fn unknown_paths_and_opers_answer_404_inside_the_envelope() {
    let app = spawn_app().await;
    for path in [
        "/nope",
        "/zhugeleida/admin/nothing",
        "/zhugeleida/admin/admin_role/frobnicate/1",
    ] {
        let r = app.get(path).send().await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(
            r.body,
            serde_json::json!({"code": 404, "msg": "非法请求", "data": {}}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn responses_escape_chinese_like_django() {
    let app = spawn_app().await;
    let r = app.get("/nope").send().await;
    assert!(r.raw.contains(r#""\u975e\u6cd5\u8bf7\u6c42""#), "{}", r.raw);
}

#[tokio::test]
async fn get_and_post_with_any_body_encoding_and_sloppy_slashes_all_work() {
    let app = spawn_app().await;
    let op = app.operator().await;
    // form, JSON and multipart bodies; GET with the fields in the query
    app.post("/zhugeleida/admin/access_rules/add/0/")
        .signed(&op)
        .form(&[("name", "表单"), ("url_path", "a")])
        .send()
        .await
        .ok();
    app.post("/zhugeleida/admin/access_rules/add/0")
        .signed(&op)
        .json(serde_json::json!({"name": "JSON", "url_path": "b"}))
        .send()
        .await
        .ok();
    app.post("//zhugeleida/admin/access_rules/add/0")
        .signed(&op)
        .form(&[("name", "multipart"), ("url_path", "c")])
        .multipart()
        .send()
        .await
        .ok();
    app.get("/zhugeleida//admin/access_rules/add/0/")
        .signed(&op)
        .query(&[("name", "GET"), ("url_path", "d")])
        .send()
        .await
        .ok();
    let list = app
        .post("/zhugeleida/admin/access_rules/")
        .signed(&op)
        .send()
        .await
        .ok();
    let names: Vec<&str> = list.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["GET", "multipart", "JSON", "表单"]);
    assert_eq!(list.data()["data_count"], 4);
}

#[tokio::test]
async fn bad_types_and_missing_fields_get_301_and_303_never_a_5xx() {
    let app = spawn_app().await;
    let op = app.operator().await;
    let r = app
        .post("/zhugeleida/admin/access_rules/add/0")
        .signed(&op)
        .form(&[("url_path", "x")])
        .send()
        .await;
    r.expect_code(303);
    let r = app
        .post("/zhugeleida/admin/access_rules/add/0")
        .signed(&op)
        .form(&[("name", "n"), ("url_path", "x"), ("super_id_id", "abc")])
        .send()
        .await;
    r.expect_code(301);
    let r = app
        .post("/zhugeleida/admin/admin_role/add/0")
        .signed(&op)
        .form(&[("name", "r"), ("rules_list", "[1,oops]")])
        .send()
        .await;
    r.expect_code(301);
    let r = app
        .post("/zhugeleida/admin/access_rules/add/0")
        .signed(&op)
        .query(&[("x", "1")])
        .json(serde_json::json!(["not", "an", "object"]))
        .send()
        .await;
    r.expect_code(303);
    let r = app
        .post("/zhugeleida/admin/access_rules/update/abc")
        .signed(&op)
        .send()
        .await;
    r.refused(404, "o_id \"abc\" is not a number");
}

#[tokio::test]
async fn tolerant_lists_in_every_shape_reach_the_role() {
    let app = spawn_app().await;
    let op = app.operator().await;
    for (name, url) in [("父", "p"), ("子1", "c1"), ("子2", "c2")] {
        app.post("/zhugeleida/admin/access_rules/add/0")
            .signed(&op)
            .form(&[("name", name), ("url_path", url)])
            .send()
            .await
            .ok();
    }
    let rules = app
        .get("/zhugeleida/admin/access_rules")
        .signed(&op)
        .send()
        .await
        .ok();
    let ids: Vec<String> = rules.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap().to_string())
        .collect();
    let (a, b) = (&ids[0], &ids[1]);
    let shapes = [
        vec![("rules_list".to_string(), format!("[{a},{b}]"))],
        vec![("rules_list".to_string(), format!(r#"["{a}","{b}"]"#))],
        vec![("rules_list".to_string(), format!("[{a}，{b} ]"))],
        vec![
            ("rules_list".to_string(), a.clone()),
            ("rules_list".to_string(), b.clone()),
        ],
        vec![
            ("rules_list[]".to_string(), a.clone()),
            ("rules_list[]".to_string(), b.clone()),
        ],
    ];
    for (i, shape) in shapes.iter().enumerate() {
        let name = format!("角色{i}");
        let mut form: Vec<(&str, &str)> = vec![("name", name.as_str())];
        form.extend(shape.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        app.post("/zhugeleida/admin/admin_role/add/0")
            .signed(&op)
            .form(&form)
            .send()
            .await
            .ok();
    }
    let roles = app
        .get("/zhugeleida/admin/admin_role")
        .signed(&op)
        .send()
        .await
        .ok();
    for role in roles.data()["ret_data"].as_array().unwrap() {
        if !role["role_name"].as_str().unwrap().starts_with("角色") {
            continue;
        }
        let mut selected: Vec<i64> = vec![];
        for parent in role["rules_data"].as_array().unwrap() {
            if parent["selected"] == true {
                selected.push(parent["parent_rule_id"].as_i64().unwrap());
            }
        }
        selected.sort();
        let mut want: Vec<i64> = vec![a.parse().unwrap(), b.parse().unwrap()];
        want.sort();
        assert_eq!(selected, want, "{role}");
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(format!("{}/healthz", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app.get("/readyz").send().await.ok();
    assert_eq!(r.code(), 200);
    let rid = app
        .http
        .get(format!("{}/healthz", app.addr))
        .send()
        .await
        .unwrap();
    assert!(rid.headers().get("x-request-id").is_some());
}
