#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Sign-up by QR code over HTTP: ADM-09 makes a scannable QR whose triple is a registration
//! credential for ADM-10 only; ADM-05 lists, ADM-36/37 edit and delete, ADM-38 approves the
//! pending users into real users within the card quota.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{spawn_app_with, Resp, Signer, TestApp};
use serde_json::json;

struct StaticRoot(PathBuf);

impl Drop for StaticRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn spawn(ttl: Duration) -> (TestApp, StaticRoot) {
    let root = std::env::temp_dir().join(format!("zgld-signup-{}", uuid::Uuid::new_v4().simple()));
    let dir = root.clone();
    let app = spawn_app_with(move |s| {
        s.static_dir = dir;
        s.signup.qr_ttl = ttl;
        s.signup.page_url = "http://h5.example/#/register".into();
    })
    .await;
    (app, StaticRoot(root))
}

/// Decodes the PNG at `path` and reads its QR code.
fn decode_qr(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).expect("qr file");
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("png info");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("frame");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("decodes").1
}

/// ADM-09 as `admin`: the stored path and the URL its image carries.
async fn scan_code(app: &TestApp, root: &StaticRoot, admin: &Signer) -> (String, String) {
    let r = app
        .get("/zhugeleida/admin/user/create_scan_code/0")
        .signed(admin)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "查询成功");
    let path = r.data()["qrcode_url"]
        .as_str()
        .expect("qrcode_url")
        .to_owned();
    let url = decode_qr(&root.0.join(&path));
    (path, url)
}

/// The triple the registration page would send: `(rand_str, timestamp, user_id)`.
fn triple(url: &str) -> (String, String, String) {
    let u = url::Url::parse(&url.replace("#/", "")).expect("url");
    let get = |k: &str| {
        u.query_pairs()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("{k} in {url}"))
    };
    (get("rand_str"), get("timestamp"), get("user_id"))
}

async fn register(
    app: &TestApp,
    t: &(String, String, String),
    name: &str,
    extra: &[(&str, &str)],
) -> Resp {
    let mut form = vec![
        ("username", name),
        ("position", "销售"),
        ("wechat", "wx_new"),
        ("wechat_phone", "13290563972"),
        ("mingpian_phone", "13290563973"),
    ];
    form.extend_from_slice(extra);
    app.post("/zhugeleida/admin/user/scan_code_to_add_user/0")
        .raw_auth(&t.0, &t.1, &t.2)
        .form(&form)
        .send()
        .await
}

async fn temp_users(app: &TestApp, admin: &Signer) -> Resp {
    app.get("/zhugeleida/admin/user")
        .signed(admin)
        .query(&[("type", "temp_user")])
        .send()
        .await
        .ok()
}

async fn department(app: &TestApp, company: i64, name: &str) -> i64 {
    app.db()
        .await
        .query_one(
            "insert into department (company_id, name) values ($1, $2) returning id",
            &[&company, &name],
        )
        .await
        .expect("department")
        .get(0)
}

#[tokio::test]
async fn the_qr_is_a_scannable_png_at_the_documented_path_carrying_the_registration_url() {
    let (app, root) = spawn(Duration::from_secs(3600)).await;
    let (_, admin, _) = app.tenant("甲").await;
    let (path, url) = scan_code(&app, &root, &admin).await;
    let prefix = format!(
        "statics/zhugeleida/imgs/admin/qrcode/admin_uid_{}_",
        admin.user_id
    );
    assert!(
        path.starts_with(&prefix) && path.ends_with("_qrCode.jpg"),
        "{path}"
    );
    assert!(
        url.starts_with("http://h5.example/#/register?rand_str="),
        "{url}"
    );
    let (rand_str, _, user_id) = triple(&url);
    assert_eq!(user_id, admin.user_id.to_string());
    assert_eq!(rand_str.len(), 32);
    // served under /statics
    let img = reqwest::get(format!("{}/{path}", app.addr))
        .await
        .expect("get");
    assert_eq!(img.status(), 200);
    assert!(img.bytes().await.expect("bytes").starts_with(b"\x89PNG"));
    // a member may not generate one
    let (_, _, sales) = app.tenant("乙").await;
    app.get("/zhugeleida/admin/user/create_scan_code/0")
        .signed(&sales)
        .send()
        .await
        .refused(404, "admin endpoint called by a member");
}

#[tokio::test]
async fn a_qr_sign_up_is_approved_into_a_real_user_who_can_log_in() {
    let (app, root) = spawn(Duration::from_secs(3600)).await;
    let (c, admin, _) = app.tenant("甲").await;
    let sales_dept = department(&app, c, "销售部").await;
    let (_, url) = scan_code(&app, &root, &admin).await;
    let t = triple(&url);
    let dept_list = format!("[{sales_dept}]");
    let r = register(&app, &t, "隔壁老王", &[("department_id", &dept_list)])
        .await
        .ok();
    assert_eq!(r.msg(), "添加成功");
    assert_eq!(r.data(), &json!({}));
    // the same QR serves every new employee: a second registration with the same triple
    register(&app, &t, "新人二", &[]).await.ok();

    let list = temp_users(&app, &admin).await;
    assert_eq!(list.data()["data_count"], 2);
    let wang = list.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "隔壁老王")
        .cloned()
        .expect("listed");
    assert_eq!(wang["position"], "销售");
    assert_eq!(wang["wechat"], "wx_new");
    assert_eq!(wang["wechat_phone"], "13290563972");
    assert_eq!(wang["mingpian_phone"], "13290563973");
    assert_eq!(wang["company_id"], c);
    assert_eq!(wang["department"], "销售部");
    assert_eq!(wang["department_id"], json!([sales_dept]));
    let tid = wang["temp_user_id"].as_i64().unwrap();

    // ADM-36: edit
    let r = app
        .post(&format!("/zhugeleida/admin/user/update/{tid}"))
        .signed(&admin)
        .query(&[("type", "temp_user")])
        .form(&[
            ("position", "销售总监"),
            ("login_user", "ignored"),
            ("password", "ignored"),
        ])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "修改成功");

    // ADM-38: approve
    let r = app
        .post("/zhugeleida/admin/user/approval_storage_user_info/0")
        .signed(&admin)
        .form(&[("user_id_list", &format!("[{tid}]"))])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "添加成功");
    let new_id = r.data()["approved"][0]["user_id"]
        .as_i64()
        .expect("new user id");
    assert_eq!(temp_users(&app, &admin).await.data()["data_count"], 1);
    let users = app
        .get("/zhugeleida/admin/user")
        .signed(&admin)
        .query(&[("username", "隔壁老王")])
        .send()
        .await
        .ok();
    let u = &users.data()["ret_data"][0];
    assert_eq!(u["id"], new_id);
    assert_eq!(u["status"], "启用");
    assert_eq!(u["position"], "销售总监");
    assert_eq!(u["phone"], "13290563972");
    assert_eq!(u["mingpian_phone"], "13290563973");
    assert_eq!(u["department_id"], json!([sales_dept]));
    assert_eq!(
        u["userid"].as_str().map(str::len),
        Some(13 + new_id.to_string().len())
    );

    // the admin gives the new user a login, and the user signs in and works
    app.post(&format!(
        "/zhugeleida/admin/admin_userprofile/update/{new_id}"
    ))
    .signed(&admin)
    .form(&[("login_user", "laowang"), ("password", "Passw0rdX")])
    .send()
    .await
    .ok();
    let wang = app.login("laowang", "Passw0rdX").await;
    assert_eq!(wang.user_id, new_id);
    app.get("/zhugeleida/qiyeweixin/tongxunlu")
        .signed(&wang)
        .send()
        .await
        .ok();

    // ADM-37: delete the other pending user
    let other = temp_users(&app, &admin).await.data()["ret_data"][0]["temp_user_id"]
        .as_i64()
        .unwrap();
    let r = app
        .post(&format!("/zhugeleida/admin/user/delete/{other}"))
        .signed(&admin)
        .query(&[("type", "temp_user")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功");
    assert_eq!(temp_users(&app, &admin).await.data()["data_count"], 0);
}

#[tokio::test]
async fn the_registration_credential_is_refused_on_every_other_endpoint_and_after_expiry() {
    let (app, root) = spawn(Duration::from_secs(2)).await;
    let (_, admin, _) = app.tenant("甲").await;
    let (_, url) = scan_code(&app, &root, &admin).await;
    let t = triple(&url);
    // the triple names the admin, but it is not the admin's signature
    for (path, write) in [
        ("/zhugeleida/admin/user", false),
        ("/zhugeleida/admin/user/create_scan_code/0", true),
        ("/zhugeleida/admin/home_page", false),
        ("/zhugeleida/admin/user/approval_storage_user_info/0", true),
        ("/zhugeleida/qiyeweixin/tongxunlu", false),
    ] {
        let req = if write { app.post(path) } else { app.get(path) };
        req.raw_auth(&t.0, &t.1, &t.2)
            .form(&[("user_id_list", "[1]")])
            .send()
            .await
            .refused(404, "signature matches no session");
    }
    // and the admin's own login signature is not a registration credential
    let (r, ts) = admin.sign();
    register(&app, &(r, ts, admin.user_id.to_string()), "x", &[])
        .await
        .refused(404, "registration: no such QR credential");
    // a tampered triple
    register(&app, &(t.0.clone(), "1".into(), t.2.clone()), "x", &[])
        .await
        .refused(404, "registration: triple does not match its QR");
    register(&app, &t, "在有效期内", &[]).await.ok();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    register(&app, &t, "过期之后", &[])
        .await
        .refused(404, "registration: QR code expired");
    let list = temp_users(&app, &admin).await;
    assert_eq!(list.data()["data_count"], 1);
    assert_eq!(list.data()["ret_data"][0]["username"], "在有效期内");
}

#[tokio::test]
async fn a_disabled_admin_s_qr_stops_working() {
    let (app, root) = spawn(Duration::from_secs(3600)).await;
    let (c, admin, _) = app.tenant("甲").await;
    app.user(c, "甲-admin2", "Passw0rdX", 2).await;
    let second = app.login("甲-admin2", "Passw0rdX").await;
    let (_, url) = scan_code(&app, &root, &second).await;
    let t = triple(&url);
    register(&app, &t, "一号", &[]).await.ok();
    app.post(&format!(
        "/zhugeleida/admin/user/update_status/{}",
        second.user_id
    ))
    .signed(&admin)
    .form(&[("status", "2")])
    .send()
    .await
    .ok();
    register(&app, &t, "二号", &[]).await.refused(
        404,
        "registration: the QR's admin is disabled, moved or no longer an admin",
    );
}

#[tokio::test]
async fn bad_registrations_get_a_documented_code_and_write_nothing() {
    let (app, root) = spawn(Duration::from_secs(3600)).await;
    let (_, admin, _) = app.tenant("甲").await;
    let (c2, _, _) = app.tenant("乙").await;
    let foreign_dept = department(&app, c2, "乙的部门").await;
    let (_, url) = scan_code(&app, &root, &admin).await;
    let t = triple(&url);
    let r = app
        .post("/zhugeleida/admin/user/scan_code_to_add_user/0")
        .raw_auth(&t.0, &t.1, &t.2)
        .form(&[("username", "缺字段")])
        .send()
        .await
        .expect_code(303);
    assert_eq!(r.msg(), "position 不能为空");
    let r = register(&app, &t, "x", &[("wechat_phone", "not a phone")])
        .await
        .expect_code(303);
    assert!(r.msg().contains("wechat_phone"), "{}", r.msg());
    register(&app, &t, &"长".repeat(51), &[])
        .await
        .expect_code(303);
    register(&app, &t, "x", &[("department_id", "abc")])
        .await
        .expect_code(301);
    let other = format!("[{foreign_dept}]");
    register(&app, &t, "x", &[("department_id", &other)])
        .await
        .expect_code(302);
    app.post("/zhugeleida/admin/user/scan_code_to_add_user/0")
        .form(&[("username", "无凭证")])
        .send()
        .await
        .refused(404, "registration: missing rand_str");
    assert_eq!(temp_users(&app, &admin).await.data()["data_count"], 0);
    // update / delete without type=temp_user
    app.post("/zhugeleida/admin/user/update/1")
        .signed(&admin)
        .form(&[("username", "x")])
        .send()
        .await
        .expect_code(303);
    app.post("/zhugeleida/admin/user/approval_storage_user_info/0")
        .signed(&admin)
        .send()
        .await
        .expect_code(303);
    app.post("/zhugeleida/admin/user/approval_storage_user_info/0")
        .signed(&admin)
        .form(&[("user_id_list", "[]")])
        .send()
        .await
        .expect_code(303);
}

#[tokio::test]
async fn another_company_s_pending_users_and_departments_are_out_of_reach() {
    let (app, root) = spawn(Duration::from_secs(3600)).await;
    let (_, admin_a, _) = app.tenant("甲").await;
    let (c_b, admin_b, _) = app.tenant("乙").await;
    let dept_b = department(&app, c_b, "乙部门").await;
    let (_, url_b) = scan_code(&app, &root, &admin_b).await;
    let dl = format!("[{dept_b}]");
    register(&app, &triple(&url_b), "乙的新人", &[("department_id", &dl)])
        .await
        .ok();
    let tid_b = temp_users(&app, &admin_b).await.data()["ret_data"][0]["temp_user_id"]
        .as_i64()
        .unwrap();
    // A sees nothing of B's
    assert_eq!(temp_users(&app, &admin_a).await.data()["data_count"], 0);
    // A's QR registers into A, never into B's departments
    let (_, url_a) = scan_code(&app, &root, &admin_a).await;
    register(&app, &triple(&url_a), "x", &[("department_id", &dl)])
        .await
        .expect_code(302);
    // A cannot edit, delete or approve B's pending user, nor move departments onto it
    app.post(&format!("/zhugeleida/admin/user/update/{tid_b}"))
        .signed(&admin_a)
        .query(&[("type", "temp_user")])
        .form(&[("username", "被改了")])
        .send()
        .await
        .expect_code(302);
    app.post(&format!("/zhugeleida/admin/user/delete/{tid_b}"))
        .signed(&admin_a)
        .query(&[("type", "temp_user")])
        .send()
        .await
        .expect_code(302);
    app.post("/zhugeleida/admin/user/approval_storage_user_info/0")
        .signed(&admin_a)
        .form(&[("user_id_list", &format!("[{tid_b}]"))])
        .send()
        .await
        .expect_code(302);
    let b = temp_users(&app, &admin_b).await;
    assert_eq!(b.data()["data_count"], 1);
    assert_eq!(b.data()["ret_data"][0]["username"], "乙的新人");
    assert_eq!(b.data()["ret_data"][0]["department_id"], json!([dept_b]));
}

#[tokio::test]
async fn approval_stops_at_the_card_quota_and_reports_who_is_left_pending() {
    let (app, root) = spawn(Duration::from_secs(3600)).await;
    // tenant(): quota 10, admin and sales enabled → 8 cards free
    let (c, admin, _) = app.tenant("甲").await;
    app.db()
        .await
        .execute(
            "update company set mingpian_available_num = 4 where id = $1",
            &[&c],
        )
        .await
        .unwrap();
    let (_, url) = scan_code(&app, &root, &admin).await;
    let t = triple(&url);
    for n in ["一", "二", "三"] {
        register(&app, &t, n, &[]).await.ok();
    }
    let mut ids: Vec<i64> = temp_users(&app, &admin).await.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["temp_user_id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    let list = format!("{:?}", ids);
    let r = app
        .post("/zhugeleida/admin/user/approval_storage_user_info/0")
        .signed(&admin)
        .query(&[("user_id_list", list.as_str())])
        .send()
        .await
        .ok();
    assert!(
        r.msg().starts_with("部分审核成功: 已审核入库 2 人"),
        "{}",
        r.msg()
    );
    assert_eq!(r.data()["approved"].as_array().unwrap().len(), 2);
    assert_eq!(r.data()["not_approved"], json!([ids[2]]));
    assert_eq!(r.data()["mingpian_available_num"], 4);
    let pending = temp_users(&app, &admin).await;
    assert_eq!(pending.data()["data_count"], 1);
    assert_eq!(pending.data()["ret_data"][0]["temp_user_id"], ids[2]);
    // no card left at all → 303, nothing changes
    let r = app
        .post("/zhugeleida/admin/user/approval_storage_user_info/0")
        .signed(&admin)
        .form(&[("user_id_list", &format!("[{}]", ids[2]))])
        .send()
        .await
        .expect_code(303);
    assert!(r.msg().contains("名片数量已达上限"), "{}", r.msg());
    assert_eq!(temp_users(&app, &admin).await.data()["data_count"], 1);
    let enabled: i64 = app
        .db()
        .await
        .query_one(
            "select count(*) from user_profile where company_id = $1 and status = 1",
            &[&c],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(enabled, 4);
}
