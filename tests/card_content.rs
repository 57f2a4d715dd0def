#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The card's own content (API.md §8 gap 9, docs/card.md): the salesperson uploads and removes
//! photos and edits `sign`, `wechat`, `email`, `address`; XCX-02 shows them, on every node at
//! once (its cached card is dropped through NOTIFY); other companies' photos are out of reach.
mod common;

use std::{path::PathBuf, time::Duration};

use common::{
    customer, spawn_app_with,
    upload::{fake_image, fetch, upload_image},
    Resp, Signer, TestApp,
};
use serde_json::{json, Value};

const SHOW: &str = "/zhugeleida/qiyeweixin/mingpian";
const UPLOAD_PHOTO: &str = "/zhugeleida/qiyeweixin/mingpian/upload_photo";
const DELETE_PHOTO: &str = "/zhugeleida/qiyeweixin/mingpian/delete_photo";
const UPDATE_INFO: &str = "/zhugeleida/qiyeweixin/mingpian/update_info";
const XCX02: &str = "/zhugeleida/xiaochengxu/mingpian";

struct Root(PathBuf);
impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Two nodes on one database and one static directory.
async fn two_nodes() -> (TestApp, TestApp, Root) {
    let root = std::env::temp_dir().join(format!("zgld-card-{}", uuid::Uuid::new_v4().simple()));
    let dir = root.clone();
    let a = spawn_app_with(move |s| s.static_dir = dir).await;
    let db = a.state.settings.database_url.clone();
    let dir = root.clone();
    let b = spawn_app_with(move |s| {
        s.static_dir = dir;
        s.database_url = db;
    })
    .await;
    (a, b, Root(root))
}

async fn upload_photo(app: &TestApp, who: &Signer, bytes: Vec<u8>) -> Resp {
    let form = reqwest::multipart::Form::new().part(
        "img_data",
        reqwest::multipart::Part::bytes(bytes).file_name("me.jpg"),
    );
    let r = app
        .http
        .post(format!("{}{UPLOAD_PHOTO}", app.addr))
        .query(&who.query())
        .multipart(form)
        .send()
        .await
        .unwrap();
    Resp::read(r).await
}

async fn card_seen_by(app: &TestApp, customer: &Signer, rep: i64) -> Value {
    let r = app
        .get(XCX02)
        .signed(customer)
        .query(&[("uid", &rep.to_string()), ("action", "1")])
        .send()
        .await
        .ok();
    r.data()["ret_data"][0].clone()
}

/// XCX-02 on `app` until `check` holds (a NOTIFY from another node is asynchronous).
async fn eventually(
    app: &TestApp,
    customer: &Signer,
    rep: i64,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = card_seen_by(app, customer, rep).await;
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the card never showed the change: {last}");
}

async fn wait_live(app: &TestApp) {
    for _ in 0..200 {
        if app.state.people.cards_live() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("card cache never heard PostgreSQL");
}

#[tokio::test]
async fn card_edits_and_photos_show_in_xcx02_on_every_node() {
    let (a, b, _root) = two_nodes().await;
    wait_live(&a).await;
    wait_live(&b).await;
    let (_, _, rep) = a.tenant("甲").await;
    let cust = customer(&a, rep.user_id, "o_alice").await;

    // Node B caches the card as it is.
    let before = card_seen_by(&b, &cust, rep.user_id).await;
    assert_eq!(before["sign"], "");
    assert_eq!(before["photo"], json!([]));
    assert!(b.state.people.holds_card(rep.user_id));

    // Edited on node A: B shows it without waiting out its cache.
    let r = a
        .post(UPDATE_INFO)
        .signed(&rep)
        .form(&[
            ("sign", "诚信为本"),
            ("wechat", "zhang_san-88"),
            ("email", "zs@example.cn"),
            ("address", "北京市海淀区"),
        ])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "修改成功");
    assert_eq!(r.data(), &json!({}));
    let seen = eventually(&b, &cust, rep.user_id, |c| c["sign"] == "诚信为本").await;
    assert_eq!(seen["wechat"], "zhang_san-88");
    assert_eq!(seen["email"], "zs@example.cn");
    assert_eq!(seen["address"], "北京市海淀区");

    // A field sent empty is cleared, one not sent is kept; the trailing /{o_id} is accepted.
    a.post(&format!("{UPDATE_INFO}/0"))
        .signed(&rep)
        .form(&[("address", "")])
        .send()
        .await
        .ok();
    let seen = eventually(&b, &cust, rep.user_id, |c| c["address"] == "").await;
    assert_eq!(seen["sign"], "诚信为本");

    // A photo uploaded on A (multipart), another picked from a PUB-02 upload.
    let bytes = fake_image("jpeg", 50_000, 1);
    let r = upload_photo(&a, &rep, bytes.clone()).await.ok();
    assert_eq!(r.msg(), "上传成功");
    let id1 = r.data()["id"].as_i64().unwrap();
    let url1 = r.data()["photo_url"].as_str().unwrap().to_owned();
    let prefix = format!(
        "statics/zhugeleida/imgs/xiaochengxu/qr_code/{}_",
        rep.user_id
    );
    assert!(
        url1.starts_with(&prefix) && url1.ends_with("_photo.jpg"),
        "{url1}"
    );
    assert_eq!(r.data()["photo"], json!([[id1, url1]]));
    let uploaded = upload_image(&a, &rep, &fake_image("png", 9000, 2), 3).await;
    let r = a
        .post(UPLOAD_PHOTO)
        .signed(&rep)
        .form(&[("photo_url", &format!("/{uploaded}"))])
        .send()
        .await
        .ok();
    let id2 = r.data()["id"].as_i64().unwrap();
    assert_eq!(r.data()["photo_url"], uploaded);

    let seen = eventually(&b, &cust, rep.user_id, |c| {
        c["photo"].as_array().is_some_and(|p| p.len() == 2)
    })
    .await;
    assert_eq!(seen["photo"], json!([[id1, url1], [id2, uploaded]]));
    let (status, _, body) = fetch(&b, &url1, &[]).await;
    assert_eq!((status, body), (200, bytes));

    // The salesperson's own view.
    let mine = a.get(SHOW).signed(&rep).send().await.ok();
    assert_eq!(mine.msg(), "查询成功");
    assert_eq!(mine.data()["data_count"], 1);
    let row = &mine.data()["ret_data"][0];
    assert_eq!(row["sign"], "诚信为本");
    assert_eq!(row["photo"], json!([[id1, url1], [id2, uploaded]]));

    // Removed on B: gone from the card on A; the uploaded photo file goes, the PUB-02
    // image (which a product may use) stays.
    let r = b
        .post(DELETE_PHOTO)
        .signed(&rep)
        .form(&[("id", &id1.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功");
    b.post(&format!("{DELETE_PHOTO}/{id2}"))
        .signed(&rep)
        .send()
        .await
        .ok();
    let seen = eventually(&a, &cust, rep.user_id, |c| c["photo"] == json!([])).await;
    assert_eq!(seen["sign"], "诚信为本");
    assert_eq!(fetch(&a, &url1, &[]).await.0, 404);
    assert_eq!(fetch(&a, &uploaded, &[]).await.0, 200);

    // QYW-51's phone change reaches the other node's cache too.
    a.post("/zhugeleida/qiyeweixin/tag_user/save_phone")
        .signed(&rep)
        .form(&[("mingpian_phone", "13800138000")])
        .send()
        .await
        .ok();
    eventually(&b, &cust, rep.user_id, |c| {
        c["mingpian_phone"] == "13800138000"
    })
    .await;
}

#[tokio::test]
async fn bad_card_input_is_refused_and_changes_nothing() {
    let (a, _b, root) = two_nodes().await;
    let (_, _, rep) = a.tenant("甲").await;
    a.post(UPDATE_INFO)
        .signed(&rep)
        .form(&[("sign", "原来的")])
        .send()
        .await
        .ok();
    for (field, value, msg) in [
        ("email", "not-an-email", "邮箱格式不正确"),
        ("email", "a@b", "邮箱格式不正确"),
        (
            "wechat",
            "微信号",
            "微信号只能包含字母、数字、_ 和 -，不超过32个字符",
        ),
        ("sign", "长".repeat(101).as_str(), "签名不能超过100个字"),
        ("address", "址".repeat(201).as_str(), "地址不能超过200个字"),
    ] {
        let r = a
            .post(UPDATE_INFO)
            .signed(&rep)
            .form(&[("sign", "新的"), (field, value)])
            .send()
            .await
            .expect_code(303);
        assert_eq!(r.msg(), msg, "{field}");
    }
    let r = a
        .post(UPDATE_INFO)
        .signed(&rep)
        .form(&[("name", "x")])
        .send()
        .await
        .expect_code(303);
    assert_eq!(r.msg(), "sign、wechat、email、address 至少填写一项");
    let mine = a.get(SHOW).signed(&rep).send().await.ok();
    assert_eq!(mine.data()["ret_data"][0]["sign"], "原来的");

    // Photos: not an image, too large, not stored, none given, ten of them.
    let r = upload_photo(&a, &rep, fake_image("text", 100, 1))
        .await
        .expect_code(303);
    assert_eq!(r.msg(), "只能上传 JPEG、PNG、GIF 或 WebP 图片");
    let r = upload_photo(&a, &rep, fake_image("jpeg", 10 * 1024 * 1024 + 1, 1))
        .await
        .expect_code(303);
    assert_eq!(r.msg(), "图片不能超过 10485760 字节");
    for url in [
        "statics/zhugeleida/imgs/qiyeweixin/product/nothing.jpg",
        "../../etc/passwd",
        "http://x.cn/a.jpg",
    ] {
        let r = a
            .post(UPLOAD_PHOTO)
            .signed(&rep)
            .form(&[("photo_url", url)])
            .send()
            .await
            .expect_code(303);
        assert_eq!(r.msg(), "图片地址无效");
    }
    let r = a
        .post(UPLOAD_PHOTO)
        .signed(&rep)
        .form(&[("x", "1")])
        .send()
        .await
        .expect_code(303);
    assert_eq!(r.msg(), "img_data 或 photo_url 不能为空");
    for i in 0..9 {
        upload_photo(&a, &rep, fake_image("gif", 100, i)).await.ok();
    }
    let r = upload_photo(&a, &rep, fake_image("gif", 100, 99))
        .await
        .expect_code(303);
    assert_eq!(r.msg(), "名片照片最多 9 张");
    // Exactly the nine photo files were written: nothing of the refusals.
    let dir = root.0.join("statics/zhugeleida/imgs/xiaochengxu/qr_code");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 9);
    let staged = root.0.join("uploads/tmp");
    assert!(!staged.exists() || std::fs::read_dir(&staged).unwrap().count() == 0);

    let r = a
        .post(DELETE_PHOTO)
        .signed(&rep)
        .send()
        .await
        .expect_code(303);
    assert_eq!(r.msg(), "id 不能为空");
    a.post(DELETE_PHOTO)
        .signed(&rep)
        .form(&[("id", "x")])
        .send()
        .await
        .expect_code(301);
}

#[tokio::test]
async fn nobody_else_can_remove_a_card_photo_or_edit_the_card() {
    let (a, _b, _root) = two_nodes().await;
    let (_, admin_a, rep_a) = a.tenant("甲").await;
    let (_, admin_b, rep_b) = a.tenant("乙").await;
    let r = upload_photo(&a, &rep_a, fake_image("jpeg", 500, 1))
        .await
        .ok();
    let id = r.data()["id"].as_i64().unwrap();
    let url = r.data()["photo_url"].as_str().unwrap().to_owned();

    // Another company (salesperson or admin), and a colleague: 302, nothing changes.
    for other in [&rep_b, &admin_b, &admin_a] {
        a.post(DELETE_PHOTO)
            .signed(other)
            .form(&[("id", &id.to_string())])
            .send()
            .await
            .expect_code(302);
        a.post(&format!("{DELETE_PHOTO}/{id}"))
            .signed(other)
            .send()
            .await
            .expect_code(302);
    }
    // A customer's signature is no salesperson's.
    let cust = customer(&a, rep_a.user_id, "o_bob").await;
    a.post(DELETE_PHOTO)
        .signed(&cust)
        .form(&[("id", &id.to_string())])
        .send()
        .await
        .refused(404, "signature matches no session");
    a.post(UPDATE_INFO)
        .signed(&cust)
        .form(&[("sign", "x")])
        .send()
        .await
        .refused(404, "signature matches no session");
    a.get(SHOW)
        .signed(&cust)
        .send()
        .await
        .refused(404, "signature matches no session");

    let mine = a.get(SHOW).signed(&rep_a).send().await.ok();
    assert_eq!(mine.data()["ret_data"][0]["photo"], json!([[id, url]]));
    assert_eq!(fetch(&a, &url, &[]).await.0, 200);
    // B's card is B's own.
    let theirs = a.get(SHOW).signed(&rep_b).send().await.ok();
    assert_eq!(theirs.data()["ret_data"][0]["photo"], json!([]));
    assert_eq!(theirs.data()["ret_data"][0]["id"], rep_b.user_id);
}
