#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Tenants never see each other: a company admin tries another company's ids on every
//! endpoint that takes one, and no response carries the other company's data.
mod common;

use common::{spawn_app, Resp};

#[tokio::test]
async fn foreign_ids_are_invisible_on_every_id_taking_endpoint() {
    let app = spawn_app().await;
    let _op = app.operator().await;
    let (ca, a, _) = app.tenant("甲方公司").await;
    let (cb, b, b_sales) = app.tenant("乙方机密公司").await;
    let bu = b_sales.user_id;
    // company B has a custom role and WeCom secrets
    app.post("/zhugeleida/admin/admin_role/add/0")
        .signed(&b)
        .form(&[("name", "乙方秘密角色"), ("rules_list", "[]")])
        .send()
        .await
        .ok();
    let b_roles = app
        .get("/zhugeleida/admin/admin_role")
        .signed(&b)
        .send()
        .await
        .ok();
    let b_role = b_roles.data()["ret_data"][0]["role_id"].as_i64().unwrap();
    app.post(&format!("/zhugeleida/admin/company/update_tongxunlu/{cb}"))
        .signed(&b)
        .form(&[
            ("corp_id", "wwsandbox"),
            ("tongxunlu_secret", "sandbox-tongxunlu-secret"),
        ])
        .send()
        .await
        .ok();
    let (cb_s, b_role_s) = (cb.to_string(), b_role.to_string());

    let mut seen: Vec<Resp> = Vec::new();
    // writes with a foreign id: 302, never a change
    let writes: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/zhugeleida/admin/user/update_status/{bu}"),
            vec![("status", "2")],
        ),
        (
            format!("/zhugeleida/admin/admin_userprofile/update/{bu}"),
            vec![("username", "hacked")],
        ),
        (
            format!("/zhugeleida/admin/admin_userprofile/update_status/{bu}"),
            vec![("status", "2")],
        ),
        (
            format!("/zhugeleida/admin/admin_userprofile/delete/{bu}"),
            vec![],
        ),
        (
            "/zhugeleida/admin/admin_userprofile/add/0".into(),
            vec![
                ("login_user", "x1"),
                ("password", "Passw0rdX"),
                ("role_id", "3"),
                ("company_id", &cb_s),
            ],
        ),
        (
            "/zhugeleida/admin/admin_userprofile/add/0".into(),
            vec![
                ("login_user", "x2"),
                ("password", "Passw0rdX"),
                ("role_id", &b_role_s),
                ("company_id", "0"),
            ],
        ),
        (
            format!("/zhugeleida/admin/admin_userprofile/update/{}", a.user_id),
            vec![("company_id", &cb_s)],
        ),
        (
            format!("/zhugeleida/admin/admin_role/update/{b_role}"),
            vec![("name", "hacked"), ("rules_list", "[]")],
        ),
        (
            format!("/zhugeleida/admin/admin_role/delete/{b_role}"),
            vec![],
        ),
        (
            format!("/zhugeleida/admin/company/update_tongxunlu/{cb}"),
            vec![("corp_id", "x"), ("tongxunlu_secret", "y")],
        ),
        (
            format!("/zhugeleida/admin/company/update_agent/{cb}"),
            vec![("app_type", "1"), ("agent_id", "1"), ("app_secret", "z")],
        ),
        (
            format!("/zhugeleida/qiyeweixin/user/update/{bu}"),
            vec![("username", "hacked")],
        ),
        (format!("/zhugeleida/qiyeweixin/user/delete/{bu}"), vec![]),
        (
            "/zhugeleida/qiyeweixin/user/add/0".into(),
            vec![
                ("username", "x3"),
                ("password", "Passw0rdX"),
                ("role_id", "3"),
                ("company_id", &cb_s),
            ],
        ),
        (
            format!("/zhugeleida/qiyeweixin/role/update/{b_role}"),
            vec![("name", "hacked")],
        ),
        (
            format!("/zhugeleida/qiyeweixin/role/delete/{b_role}"),
            vec![],
        ),
    ];
    for (path, form) in &writes {
        let mut form = form.clone();
        if form.iter().any(|(k, v)| *k == "company_id" && *v == "0") {
            form.retain(|(k, _)| *k != "company_id");
            form.push(("company_id", Box::leak(ca.to_string().into_boxed_str())));
        }
        let r = app.post(path).signed(&a).form(&form).send().await;
        assert_eq!(r.code(), 302, "{path}: {}", r.raw);
        seen.push(r);
    }
    // operator-only endpoints stay closed to a company admin
    for path in [
        format!("/zhugeleida/admin/company/update_company/{cb}"),
        format!("/zhugeleida/qiyeweixin/company/update/{cb}"),
        format!("/zhugeleida/qiyeweixin/company/delete/{cb}"),
        format!("/zhugeleida/admin/admin_userprofile/switch_admin_user/{bu}"),
    ] {
        let r = app
            .post(&path)
            .signed(&a)
            .form(&[("name", "hacked")])
            .send()
            .await;
        r.refused(404, "operator endpoint called by a non-operator");
    }
    let r = app
        .get("/zhugeleida/admin/company/author_status")
        .signed(&a)
        .query(&[("company_id", &cb_s)])
        .send()
        .await;
    assert_eq!(r.code(), 302);
    seen.push(r);
    // lists and reads: only company A
    for path in [
        "/zhugeleida/admin/user",
        "/zhugeleida/admin/admin_userprofile",
        "/zhugeleida/admin/admin_role",
        "/zhugeleida/admin/company",
        "/zhugeleida/qiyeweixin/user",
        "/zhugeleida/qiyeweixin/role",
        "/zhugeleida/qiyeweixin/company",
    ] {
        let r = app
            .get(path)
            .signed(&a)
            .query(&[("company_id", &cb_s), ("username", "乙方")])
            .send()
            .await
            .ok();
        seen.push(r);
    }
    let r = app
        .get("/zhugeleida/admin/user")
        .signed(&a)
        .query(&[("type", "temp_user")])
        .send()
        .await
        .ok();
    seen.push(r);
    for r in &seen {
        let body: String = serde_json::to_string(&r.body).unwrap();
        assert!(!body.contains("乙方"), "leak of company B's names: {body}");
        assert!(
            !mentions(&r.body, "company_id", cb),
            "leak of company B's rows: {body}"
        );
    }
    // and nothing of B changed
    let db = app.db().await;
    let row = db
        .query_one(
            "select username, status from user_profile where id = $1",
            &[&bu],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "乙方机密公司-sales");
    assert_eq!(row.get::<_, i16>(1), 1);
    let role: String = db
        .query_one("select name from role where id = $1", &[&b_role])
        .await
        .unwrap()
        .get(0);
    assert_eq!(role, "乙方秘密角色");
    let corp: Option<String> = db
        .query_one("select corp_id from company where id = $1", &[&cb])
        .await
        .unwrap()
        .get(0);
    assert_eq!(corp.as_deref(), Some("wwsandbox"));
    let users_in_b: i64 = db
        .query_one(
            "select count(*) from user_profile where company_id = $1",
            &[&cb],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(users_in_b, 2);
    let _ = ca;
}

/// Whether any object inside `v` has `key == id`.
fn mentions(v: &serde_json::Value, key: &str, id: i64) -> bool {
    match v {
        serde_json::Value::Object(m) => {
            m.get(key).and_then(|x| x.as_i64()) == Some(id)
                || m.values().any(|x| mentions(x, key, id))
        }
        serde_json::Value::Array(a) => a.iter().any(|x| mentions(x, key, id)),
        _ => false,
    }
}
