#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Organisation endpoints: ADM-03..05, ADM-20..32, ADM-35 and the qiyeweixin forms QYW-02..05,
//! QYW-13..19, on their happy paths and documented error codes.
mod common;

use common::{spawn_app, Signer, TestApp};
use serde_json::Value;

async fn rule(app: &TestApp, op: &Signer, name: &str, parent: Option<i64>) -> i64 {
    let mut form = vec![("name", name), ("url_path", name)];
    let p = parent.map(|p| p.to_string());
    if let Some(p) = &p {
        form.push(("super_id_id", p));
    }
    app.post("/zhugeleida/admin/access_rules/add/0/")
        .signed(op)
        .form(&form)
        .send()
        .await
        .ok();
    let list = app
        .get("/zhugeleida/admin/access_rules")
        .signed(op)
        .send()
        .await
        .ok();
    list.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

fn ids(v: &Value, key: &str) -> Vec<i64> {
    v["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn access_rules_crud_with_parents_duplicates_children_and_missing_ids() {
    let app = spawn_app().await;
    let op = app.operator().await;
    let parent = rule(&app, &op, "用户管理", None).await;
    let child = rule(&app, &op, "用户增加", Some(parent)).await;
    let list = app
        .get("/zhugeleida/admin/access_rules")
        .signed(&op)
        .send()
        .await
        .ok();
    assert_eq!(list.msg(), "查询成功");
    assert_eq!(
        ids(list.data(), "id"),
        vec![child, parent],
        "sorted by id descending"
    );
    let c = &list.data()["ret_data"][0];
    assert_eq!(c["super_id"], parent);
    assert_eq!(c["super_name"], "用户管理");
    assert_eq!(c["url_path"], "用户增加");
    assert_eq!(
        c["create_date"].as_str().unwrap().len(),
        19,
        "YYYY-MM-DD HH:MM:SS"
    );
    assert_eq!(list.data()["ret_data"][1]["super_name"], "");
    let top = app
        .get("/zhugeleida/admin/access_rules")
        .signed(&op)
        .query(&[("super_id_id__isnull", "True")])
        .send()
        .await
        .ok();
    assert_eq!(ids(top.data(), "id"), vec![parent]);
    // duplicate name → 300, missing parent → 302, children → 304, missing id → 302
    app.post("/zhugeleida/admin/access_rules/add/0")
        .signed(&op)
        .form(&[("name", "用户管理"), ("url_path", "x")])
        .send()
        .await
        .expect_code(300);
    app.post("/zhugeleida/admin/access_rules/add/0")
        .signed(&op)
        .form(&[("name", "x"), ("url_path", "x"), ("super_id", "99999")])
        .send()
        .await
        .expect_code(302);
    app.post(&format!("/zhugeleida/admin/access_rules/delete/{parent}"))
        .signed(&op)
        .send()
        .await
        .expect_code(304);
    app.post("/zhugeleida/admin/access_rules/delete/99999")
        .signed(&op)
        .send()
        .await
        .expect_code(302);
    app.post("/zhugeleida/admin/access_rules/update/99999")
        .signed(&op)
        .form(&[("name", "q"), ("url_path", "q")])
        .send()
        .await
        .expect_code(302);
    let r = app
        .post(&format!("/zhugeleida/admin/access_rules/update/{child}"))
        .signed(&op)
        .form(&[
            ("name", "用户添加"),
            ("url_path", "add"),
            ("super_id_id", &parent.to_string()),
        ])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "修改成功");
    let r = app
        .post(&format!("/zhugeleida/admin/access_rules/delete/{child}"))
        .signed(&op)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功");
    app.post(&format!("/zhugeleida/admin/access_rules/delete/{parent}"))
        .signed(&op)
        .send()
        .await
        .ok();
}

#[tokio::test]
async fn only_the_operator_changes_access_rules_and_members_see_no_admin_endpoint() {
    let app = spawn_app().await;
    let (_, admin, sales) = app.tenant("t").await;
    app.post("/zhugeleida/admin/access_rules/add/0")
        .signed(&admin)
        .form(&[("name", "x"), ("url_path", "x")])
        .send()
        .await
        .refused(404, "operator endpoint called by a non-operator");
    app.get("/zhugeleida/admin/access_rules")
        .signed(&admin)
        .send()
        .await
        .ok();
    for path in [
        "/zhugeleida/admin/access_rules",
        "/zhugeleida/admin/admin_role",
        "/zhugeleida/admin/user",
        "/zhugeleida/admin/admin_userprofile",
        "/zhugeleida/admin/company",
    ] {
        app.get(path)
            .signed(&sales)
            .send()
            .await
            .refused(404, "admin endpoint called by a member");
    }
}

#[tokio::test]
async fn roles_carry_the_whole_rule_tree_and_login_rules_follow_the_role() {
    let app = spawn_app().await;
    let op = app.operator().await;
    let p1 = rule(&app, &op, "角色管理", None).await;
    let c1 = rule(&app, &op, "角色增加", Some(p1)).await;
    let p2 = rule(&app, &op, "公司管理", None).await;
    let (c, admin, _) = app.tenant("t").await;
    let r = app
        .post("/zhugeleida/admin/admin_role/add/0/")
        .signed(&admin)
        .form(&[
            ("name", "销售经理"),
            ("rules_list", &format!(r#"["{c1}"]"#)),
        ])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "增加成功");
    app.post("/zhugeleida/admin/admin_role/add/0")
        .signed(&admin)
        .form(&[("name", "销售经理"), ("rules_list", "[]")])
        .send()
        .await
        .expect_code(300);
    app.post("/zhugeleida/admin/admin_role/add/0")
        .signed(&admin)
        .form(&[("name", "坏"), ("rules_list", "[99999]")])
        .send()
        .await
        .expect_code(302);
    let list = app
        .get("/zhugeleida/admin/admin_role")
        .signed(&admin)
        .send()
        .await
        .ok();
    let roles = list.data()["ret_data"].as_array().unwrap();
    assert_eq!(list.data()["data_count"], 4, "3 system roles + 1: {list:?}");
    let mgr = &roles[0];
    assert_eq!(mgr["role_name"], "销售经理");
    let tree = mgr["rules_data"].as_array().unwrap();
    assert_eq!(tree.len(), 2, "two parents");
    assert_eq!(tree[0]["parent_rule_id"], p1);
    assert_eq!(
        tree[0]["selected"], false,
        "parent and child are independent"
    );
    assert_eq!(tree[0]["children_rule_list"][0]["children_rule_id"], c1);
    assert_eq!(tree[0]["children_rule_list"][0]["selected"], true);
    assert_eq!(
        tree[0]["children_rule_list"][0]["children_rule_name"],
        "角色增加"
    );
    assert_eq!(tree[1]["parent_rule_id"], p2);
    let role_id = mgr["role_id"].as_i64().unwrap();
    // a user with that role sees exactly its rules
    let uid = app.user(c, "mgr", "Passw0rdX", role_id).await;
    let mgr_signer = app.login("mgr", "Passw0rdX").await;
    assert_eq!(mgr_signer.user_id, uid);
    let lr = app
        .get("/zhugeleida/admin/login_rules")
        .signed(&mgr_signer)
        .send()
        .await
        .ok();
    assert_eq!(lr.data()["rules_list"], serde_json::json!(["角色增加"]));
    // update replaces the set
    app.post(&format!("/zhugeleida/admin/admin_role/update/{role_id}"))
        .signed(&admin)
        .form(&[
            ("name", "销售总监"),
            ("rules_list", &format!("[{p1},{p2}]")),
        ])
        .send()
        .await
        .ok();
    let lr = app
        .get("/zhugeleida/admin/login_rules")
        .signed(&mgr_signer)
        .send()
        .await
        .ok();
    assert_eq!(
        lr.data()["rules_list"],
        serde_json::json!(["角色管理", "公司管理"])
    );
    // a role in use cannot be deleted (304); system roles belong to the operator
    app.post(&format!("/zhugeleida/admin/admin_role/delete/{role_id}"))
        .signed(&admin)
        .send()
        .await
        .expect_code(304);
    app.post("/zhugeleida/admin/admin_role/update/3")
        .signed(&admin)
        .form(&[("name", "x")])
        .send()
        .await
        .refused(404, "system roles are the operator's");
    app.post("/zhugeleida/admin/admin_role/delete/3")
        .signed(&admin)
        .send()
        .await
        .refused(404, "system roles are the operator's");
    app.post("/zhugeleida/admin/admin_role/delete/99999")
        .signed(&admin)
        .send()
        .await
        .expect_code(302);
    app.post(&format!("/zhugeleida/admin/admin_userprofile/delete/{uid}"))
        .signed(&admin)
        .send()
        .await
        .ok();
    let r = app
        .post(&format!("/zhugeleida/admin/admin_role/delete/{role_id}"))
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功");
}

#[tokio::test]
async fn backend_users_crud_quota_self_delete_and_status() {
    let app = spawn_app().await;
    let op = app.operator().await;
    // the operator creates a tenant and its first admin
    app.post("/zhugeleida/admin/company/add_company/0")
        .signed(&op)
        .form(&[
            ("name", "新公司"),
            ("charging_start_time", "2030-1-5"),
            ("open_length_time", "4"),
            ("mingpian_available_num", "2"),
        ])
        .send()
        .await
        .ok();
    let companies = app
        .get("/zhugeleida/admin/company")
        .signed(&op)
        .send()
        .await
        .ok();
    let cid = companies.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "新公司")
        .unwrap()["company_id"]
        .as_i64()
        .unwrap();
    let cid_s = cid.to_string();
    let r = app
        .post("/zhugeleida/admin/admin_userprofile/add/0")
        .signed(&op)
        .form(&[
            ("login_user", "boss"),
            ("password", "Passw0rdX"),
            ("role_id", "2"),
            ("company_id", &cid_s),
            ("username", "老板"),
            ("position", "CEO"),
        ])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "增加成功");
    let boss = app.login("boss", "Passw0rdX").await;
    // duplicate login → 300; a company admin cannot hand out the operator role
    app.post("/zhugeleida/admin/admin_userprofile/add/0")
        .signed(&boss)
        .form(&[
            ("login_user", "boss"),
            ("password", "x"),
            ("role_id", "3"),
            ("company_id", &cid_s),
        ])
        .send()
        .await
        .expect_code(300);
    app.post("/zhugeleida/admin/admin_userprofile/add/0")
        .signed(&boss)
        .form(&[
            ("login_user", "evil"),
            ("password", "x"),
            ("role_id", "1"),
            ("company_id", &cid_s),
        ])
        .send()
        .await
        .refused(404, "only the operator grants the operator role");
    app.post("/zhugeleida/admin/admin_userprofile/add/0")
        .signed(&boss)
        .form(&[("login_user", "x")])
        .send()
        .await
        .expect_code(303);
    // quota 2: boss + one more, the third is refused with 303
    app.post("/zhugeleida/admin/admin_userprofile/add/0")
        .signed(&boss)
        .form(&[
            ("login_user", "s1"),
            ("password", "Passw0rdX"),
            ("role_id", "3"),
            ("company_id", &cid_s),
        ])
        .send()
        .await
        .ok();
    let full = app
        .post("/zhugeleida/admin/admin_userprofile/add/0")
        .signed(&boss)
        .form(&[
            ("login_user", "s2"),
            ("password", "Passw0rdX"),
            ("role_id", "3"),
            ("company_id", &cid_s),
        ])
        .send()
        .await;
    assert_eq!(full.code(), 303);
    assert!(full.msg().contains("上限"), "{}", full.msg());
    let list = app
        .get("/zhugeleida/admin/admin_userprofile")
        .signed(&boss)
        .send()
        .await
        .ok();
    assert_eq!(list.data()["data_count"], 2);
    let s1 = &list.data()["ret_data"][0];
    assert_eq!(s1["username"], "s1");
    assert_eq!(s1["status"], 1);
    assert_eq!(s1["status_text"], "启用");
    assert_eq!(s1["role_name"], "普通用户");
    assert_eq!(s1["company_name"], "新公司");
    let s1_id = s1["id"].as_i64().unwrap();
    // disable s1 frees a card; enabling again needs one
    app.post(&format!(
        "/zhugeleida/admin/admin_userprofile/update_status/{s1_id}"
    ))
    .signed(&boss)
    .form(&[("status", "2")])
    .send()
    .await
    .ok();
    app.post("/zhugeleida/admin/admin_userprofile/add/0")
        .signed(&boss)
        .form(&[
            ("login_user", "s2"),
            ("password", "Passw0rdX"),
            ("role_id", "3"),
            ("company_id", &cid_s),
        ])
        .send()
        .await
        .ok();
    app.post(&format!(
        "/zhugeleida/admin/admin_userprofile/update_status/{s1_id}"
    ))
    .signed(&boss)
    .form(&[("status", "1")])
    .send()
    .await
    .expect_code(303);
    app.post(&format!(
        "/zhugeleida/admin/admin_userprofile/update_status/{s1_id}"
    ))
    .signed(&boss)
    .form(&[("status", "7")])
    .send()
    .await
    .expect_code(303);
    // update: new name and password; an empty password keeps the old one
    app.post(&format!(
        "/zhugeleida/admin/admin_userprofile/update/{s1_id}"
    ))
    .signed(&boss)
    .form(&[("username", "小王"), ("password", "")])
    .send()
    .await
    .ok();
    let u = app
        .db()
        .await
        .query_one("select username from user_profile where id = $1", &[&s1_id])
        .await
        .unwrap();
    assert_eq!(u.get::<_, String>(0), "小王");
    // self-delete 305, missing 302, delete works
    app.post(&format!(
        "/zhugeleida/admin/admin_userprofile/delete/{}",
        boss.user_id
    ))
    .signed(&boss)
    .send()
    .await
    .expect_code(305);
    app.post("/zhugeleida/admin/admin_userprofile/delete/99999")
        .signed(&boss)
        .send()
        .await
        .expect_code(302);
    app.post(&format!(
        "/zhugeleida/admin/admin_userprofile/delete/{s1_id}"
    ))
    .signed(&boss)
    .send()
    .await
    .ok();
    // the operator's list spans companies
    let all = app
        .get("/zhugeleida/admin/admin_userprofile")
        .signed(&op)
        .send()
        .await
        .ok();
    assert_eq!(all.data()["data_count"], 3, "op + boss + s2");
}

#[tokio::test]
async fn radar_user_list_shows_departments_quota_and_filters() {
    let app = spawn_app().await;
    let (c, admin, _) = app.tenant("t").await;
    let db = app.db().await;
    let d1 = zhugeleida::db::company::upsert_department(&db, c, 2, "销售部")
        .await
        .unwrap();
    let _d2 = zhugeleida::db::company::upsert_department(&db, c, 3, "技术部")
        .await
        .unwrap();
    let sales_id: i64 = db
        .query_one(
            "select id from user_profile where login_user = 't-sales'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    zhugeleida::db::user::link_wecom_departments(&db, sales_id, c, &[2, 3])
        .await
        .unwrap();
    let r = app
        .get("/zhugeleida/admin/user")
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "查询成功");
    let d = r.data();
    assert_eq!(d["mingpian_available_num"], 10);
    assert_eq!(d["data_count"], 2);
    assert_eq!(d["department_list"].as_array().unwrap().len(), 2);
    let sales = d["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == sales_id)
        .unwrap();
    assert_eq!(sales["department"], "销售部,技术部");
    assert_eq!(sales["status"], "启用");
    assert_eq!(sales["company_id"], c);
    for key in [
        "userid",
        "create_date",
        "last_login_date",
        "position",
        "mingpian_phone",
        "phone",
        "avatar",
        "qr_code",
        "company",
        "department_id",
        "gender",
    ] {
        assert!(sales.get(key).is_some(), "missing {key}");
    }
    let by_dept = app
        .get("/zhugeleida/admin/user")
        .signed(&admin)
        .query(&[("department", &d1.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(ids(by_dept.data(), "id"), vec![sales_id]);
    let by_name = app
        .get("/zhugeleida/admin/user")
        .signed(&admin)
        .query(&[("username", "SALES")])
        .send()
        .await
        .ok();
    assert_eq!(
        ids(by_name.data(), "id"),
        vec![sales_id],
        "fuzzy and case-insensitive"
    );
    app.post(&format!("/zhugeleida/admin/user/update_status/{sales_id}"))
        .signed(&admin)
        .form(&[("status", "2")])
        .send()
        .await
        .ok();
    let off = app
        .get("/zhugeleida/admin/user")
        .signed(&admin)
        .query(&[("status", "2")])
        .send()
        .await
        .ok();
    assert_eq!(off.data()["ret_data"][0]["status"], "未启用");
    let paged = app
        .get("/zhugeleida/admin/user")
        .signed(&admin)
        .query(&[("current_page", "2"), ("length", "1")])
        .send()
        .await
        .ok();
    assert_eq!(paged.data()["ret_data"].as_array().unwrap().len(), 1);
    assert_eq!(paged.data()["data_count"], 2);
    // pending users: department_list both beside data and inside it
    let t = app
        .get("/zhugeleida/admin/user")
        .signed(&admin)
        .query(&[("type", "temp_user")])
        .send()
        .await
        .ok();
    assert_eq!(t.body["department_list"].as_array().unwrap().len(), 2);
    assert_eq!(t.data()["department_list"].as_array().unwrap().len(), 2);
    assert_eq!(t.data()["data_count"], 0);
}

#[tokio::test]
async fn switch_user_is_for_the_operator_and_hands_over_a_working_token() {
    let app = spawn_app().await;
    let op = app.operator().await;
    let (_, admin, sales) = app.tenant("t").await;
    app.post(&format!(
        "/zhugeleida/admin/admin_userprofile/switch_admin_user/{}",
        sales.user_id
    ))
    .signed(&admin)
    .send()
    .await
    .refused(404, "operator endpoint called by a non-operator");
    let r = app
        .post(&format!(
            "/zhugeleida/admin/admin_userprofile/switch_admin_user/{}",
            admin.user_id
        ))
        .signed(&op)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "获取成功");
    assert_eq!(r.data()["user_id"], admin.user_id);
    assert_eq!(r.data()["role_name"], "管理员");
    let as_admin = Signer {
        user_id: admin.user_id,
        token: r.data()["token"].as_str().unwrap().into(),
    };
    app.get("/zhugeleida/admin/admin_role")
        .signed(&as_admin)
        .send()
        .await
        .ok();
    app.get("/zhugeleida/admin/admin_role")
        .signed(&admin)
        .send()
        .await
        .ok(); // not logged out
    app.post("/zhugeleida/admin/admin_userprofile/switch_admin_user/99999")
        .signed(&op)
        .send()
        .await
        .expect_code(302);
}

#[tokio::test]
async fn the_qiyeweixin_forms_manage_the_same_users_roles_and_permissions() {
    let app = spawn_app().await;
    let op = app.operator().await;
    let (c, admin, _) = app.tenant("t").await;
    let cs = c.to_string();
    // QYW-03 add with `usedid`, QYW-02 list, QYW-05 update, QYW-04 delete
    app.post("/zhugeleida/qiyeweixin/user/add/0")
        .signed(&admin)
        .form(&[
            ("usedid", "wx-zhangju"),
            ("username", "zhangju"),
            ("password", "Passw0rdX"),
            ("role_id", "3"),
            ("company_id", &cs),
        ])
        .send()
        .await
        .ok();
    let list = app
        .get("/zhugeleida/qiyeweixin/user")
        .signed(&admin)
        .query(&[("username", "zhang")])
        .send()
        .await
        .ok();
    let row = &list.data()["ret_data"][0];
    assert_eq!(row["username"], "zhangju");
    assert_eq!(row["role_name"], "普通用户");
    assert_eq!(row["status"], "启用");
    assert!(row["create_date"].as_str().unwrap().contains('T'));
    let uid = row["id"].as_i64().unwrap();
    let userid: String = app
        .db()
        .await
        .query_one("select userid from user_profile where id = $1", &[&uid])
        .await
        .unwrap()
        .get(0);
    assert_eq!(userid, "wx-zhangju");
    app.login("zhangju", "Passw0rdX").await;
    let by_role = app
        .get("/zhugeleida/qiyeweixin/user")
        .signed(&admin)
        .query(&[("role__name", "管理")])
        .send()
        .await
        .ok();
    assert_eq!(by_role.data()["data_count"], 1);
    app.post(&format!("/zhugeleida/qiyeweixin/user/update/{uid}"))
        .signed(&admin)
        .form(&[("password", "Other0neX")])
        .send()
        .await
        .ok();
    app.login("zhangju", "Other0neX").await;
    app.post(&format!(
        "/zhugeleida/qiyeweixin/user/delete/{}",
        admin.user_id
    ))
    .signed(&admin)
    .send()
    .await
    .expect_code(305);
    let r = app
        .post(&format!("/zhugeleida/qiyeweixin/user/delete/{uid}"))
        .signed(&admin)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功");
    // roles: POST to the list path adds (A-57), GET lists, update and delete
    app.post("/zhugeleida/qiyeweixin/role")
        .signed(&admin)
        .form(&[("name", "客服")])
        .send()
        .await
        .ok();
    app.post("/zhugeleida/qiyeweixin/role/add/0")
        .signed(&admin)
        .form(&[("name", "客服")])
        .send()
        .await
        .expect_code(300);
    let roles = app
        .get("/zhugeleida/qiyeweixin/role")
        .signed(&admin)
        .send()
        .await
        .ok();
    let kefu = roles.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "客服")
        .unwrap()
        .clone();
    assert_eq!(kefu["role_id"], kefu["id"]);
    let rid = kefu["id"].as_i64().unwrap();
    app.post(&format!("/zhugeleida/qiyeweixin/role/update/{rid}"))
        .signed(&admin)
        .form(&[("name", "售后")])
        .send()
        .await
        .ok();
    app.post(&format!("/zhugeleida/qiyeweixin/role/delete/{rid}"))
        .signed(&admin)
        .send()
        .await
        .ok();
    // permission entries through the role URLs (A-58), operator only
    app.post("/zhugeleida/qiyeweixin/role/add/0")
        .signed(&op)
        .form(&[
            ("path", "/admin/zhugeleida/quanxian/1111/"),
            ("icon", "i"),
            ("title", "访问admin后台"),
            ("order_num", "1"),
        ])
        .send()
        .await
        .ok();
    let rules = app
        .get("/zhugeleida/admin/access_rules")
        .signed(&op)
        .send()
        .await
        .ok();
    let pid = rules.data()["ret_data"][0]["id"].as_i64().unwrap();
    assert_eq!(rules.data()["ret_data"][0]["name"], "访问admin后台");
    assert_eq!(
        rules.data()["ret_data"][0]["url_path"],
        "/admin/zhugeleida/quanxian/1111/"
    );
    app.post(&format!("/zhugeleida/qiyeweixin/role/update/{pid}"))
        .signed(&op)
        .form(&[("title", "后台"), ("path", "/x/")])
        .send()
        .await
        .ok();
    app.post("/zhugeleida/qiyeweixin/role/add/0")
        .signed(&admin)
        .form(&[("title", "t"), ("path", "/p/")])
        .send()
        .await
        .refused(404, "operator endpoint called by a non-operator");
    app.post(&format!("/zhugeleida/qiyeweixin/delete/{pid}"))
        .signed(&op)
        .send()
        .await
        .ok();
    let rules = app
        .get("/zhugeleida/admin/access_rules")
        .signed(&op)
        .send()
        .await
        .ok();
    assert_eq!(rules.data()["data_count"], 0);
    app.post("/zhugeleida/qiyeweixin/role/add/0")
        .signed(&admin)
        .send()
        .await
        .expect_code(303);
}

#[tokio::test]
async fn locally_created_users_get_unique_timestamp_like_wecom_ids() {
    let app = spawn_app().await;
    let c = app.company("批量", 100).await;
    for i in 0..50 {
        app.user(c, &format!("bulk{i}"), "Passw0rdX", 3).await;
    }
    let rows = app
        .db()
        .await
        .query(
            "select userid from user_profile where company_id = $1",
            &[&c],
        )
        .await
        .unwrap();
    let mut ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert!(
        ids.iter()
            .all(|u| u.len() > 13 && u.chars().all(|ch| ch.is_ascii_digit())),
        "{ids:?}"
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
}
