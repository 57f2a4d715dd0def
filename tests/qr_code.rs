#![allow(clippy::unwrap_used, clippy::expect_used)]
//! QYW-46 `qr_code_auth`: the salesperson's mini-program code, fetched from the sandbox's
//! `wxa/getwxacodeunlimit`, written under the static root, recorded in `qr_code` and served at
//! `/statics/...`; WeChat errors pass through and leave `qr_code` alone.
mod common;

use std::path::{Path, PathBuf};

use common::{spawn_app_with, Signer, TestApp};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const QR: &str = "/zhugeleida/qiyeweixin/qr_code_auth";
const WXACODE: &str = "/wxa/getwxacodeunlimit";
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A temporary static root, removed when dropped.
struct StaticRoot(PathBuf);

impl Drop for StaticRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn spawn() -> (TestApp, StaticRoot) {
    let root = std::env::temp_dir().join(format!("zgld-statics-{}", uuid::Uuid::new_v4().simple()));
    let dir = root.clone();
    let app = spawn_app_with(move |s| s.static_dir = dir).await;
    (app, StaticRoot(root))
}

async fn qr_code_of(app: &TestApp, user_id: i64) -> Option<String> {
    app.db()
        .await
        .query_one(
            "select qr_code from user_profile where id = $1",
            &[&user_id],
        )
        .await
        .unwrap()
        .get(0)
}

/// The sandbox's record of calls to one upstream path.
async fn calls(app: &TestApp, path: &str) -> Vec<Value> {
    let body: Value = app
        .http
        .get(format!("{}/__sandbox/calls", app.sandbox))
        .query(&[("path", path)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["calls"].as_array().cloned().unwrap()
}

async fn sandbox_admin(app: &TestApp, path: &str, body: Value) {
    let r = app
        .http
        .post(format!("{}/__sandbox{path}", app.sandbox))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "sandbox admin {path}");
}

async fn generate(app: &TestApp, rep: &Signer) -> common::Resp {
    app.get(QR).signed(rep).send().await
}

/// `statics/zhugeleida/imgs/xiaochengxu/qr_code/<uid>_<YYYYMMDD>_<HHMMSS>_qrcode.jpg`.
fn assert_documented_path(path: &str, user_id: i64) {
    let prefix = format!("statics/zhugeleida/imgs/xiaochengxu/qr_code/{user_id}_");
    let stamp = path
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix("_qrcode.jpg"))
        .unwrap_or_else(|| panic!("unexpected path {path}"));
    let (day, time) = stamp.split_once('_').unwrap();
    assert!(
        day.len() == 8 && time.len() == 6,
        "unexpected stamp {stamp}"
    );
    assert!(day.chars().chain(time.chars()).all(|c| c.is_ascii_digit()));
}

#[tokio::test]
async fn the_rep_gets_a_code_that_is_stored_recorded_and_served() {
    let (app, root) = spawn().await;
    let (_, _, rep) = app.tenant("甲").await;
    assert_eq!(qr_code_of(&app, rep.user_id).await, None);

    let r = generate(&app, &rep).await.ok();
    assert_eq!(r.msg(), "生成小程序二维码成功");
    assert_eq!(r.data(), &json!({}));

    // The sandbox saw one code request for this rep, with a mini-program token.
    let wx = calls(&app, WXACODE).await;
    assert_eq!(wx.len(), 1);
    let call = &wx[0];
    assert_eq!(call["method"], "POST");
    let scene = call["body_json"]["scene"].as_str().unwrap();
    assert_eq!(scene, format!("uid={}", rep.user_id));
    assert!(scene.contains(&rep.user_id.to_string()));
    assert!(call["query"]["access_token"]
        .as_str()
        .unwrap()
        .starts_with("sbx_at_wxsandboxminiapp_"));
    assert_eq!(call["response"]["content_type"], "image/png");
    assert!(call["response"]["bytes_len"].as_u64().unwrap() > 100);

    // The documented path is stored, the file is there, and it is served as a PNG.
    let path = qr_code_of(&app, rep.user_id).await.unwrap();
    assert_documented_path(&path, rep.user_id);
    let on_disk = std::fs::read(root.0.join(&path)).unwrap();
    assert!(on_disk.starts_with(PNG_SIGNATURE));
    let served = app
        .http
        .get(format!("{}/{path}", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let bytes = served.bytes().await.unwrap();
    assert!(bytes.starts_with(PNG_SIGNATURE), "not a PNG");
    assert_eq!(bytes.as_ref(), on_disk.as_slice());

    // A second code reuses the cached mini-program token.
    generate(&app, &rep).await.ok();
    assert_eq!(calls(&app, WXACODE).await.len(), 2);
    assert_eq!(calls(&app, "/cgi-bin/token").await.len(), 1);
}

#[tokio::test]
async fn a_wechat_error_passes_through_and_keeps_the_previous_code() {
    let (app, _root) = spawn().await;
    let (_, _, rep) = app.tenant("甲").await;
    generate(&app, &rep).await.ok();
    let before = qr_code_of(&app, rep.user_id).await;
    assert!(before.is_some());

    sandbox_admin(
        &app,
        "/faults",
        json!({"path": WXACODE, "errcode": 45009, "times": 1}),
    )
    .await;
    let r = generate(&app, &rep).await.expect_code(45009);
    assert!(
        r.msg().starts_with("生成小程序二维码报错: 45009 : "),
        "{}",
        r.raw
    );
    assert_eq!(qr_code_of(&app, rep.user_id).await, before);
    // 45009 is not retried.
    let wx = calls(&app, WXACODE).await;
    assert_eq!(wx.len(), 2);
    assert_eq!(wx[1]["fault"], "errcode");

    // An unreadable answer is a server error, and changes nothing either.
    sandbox_admin(
        &app,
        "/faults",
        json!({"path": WXACODE, "raw_body": "oops"}),
    )
    .await;
    let r = generate(&app, &rep).await.expect_code(500);
    assert_eq!(r.status, 500);
    assert_eq!(qr_code_of(&app, rep.user_id).await, before);
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_and_the_call_repeated_once() {
    let (app, _root) = spawn().await;
    let (_, _, rep) = app.tenant("甲").await;
    generate(&app, &rep).await.ok();
    sandbox_admin(
        &app,
        "/tokens/revoke",
        json!({"kind": "access_token", "id": "wxsandboxminiapp"}),
    )
    .await;

    generate(&app, &rep).await.ok();
    let codes: Vec<Option<i64>> = calls(&app, WXACODE)
        .await
        .iter()
        .map(|c| c["response"]["errcode"].as_i64())
        .collect();
    assert_eq!(codes, vec![None, Some(40001), None]);
    assert_eq!(calls(&app, "/cgi-bin/token").await.len(), 2);
}

#[tokio::test]
async fn unsigned_and_foreign_requests_are_refused() {
    let (app, _root) = spawn().await;
    let (_, admin, rep) = app.tenant("甲").await;
    let customer = common::customer(&app, rep.user_id, "o_alice").await;

    app.get(QR).send().await.refused(404, "missing rand_str");
    // Another caller's token under the rep's id.
    let (rand_str, ts) = Signer {
        user_id: rep.user_id,
        token: admin.token.clone(),
    }
    .sign();
    app.get(QR)
        .raw_auth(&rand_str, &ts, &rep.user_id.to_string())
        .send()
        .await
        .refused(404, "signature matches no session");
    // A customer's signature is no salesperson's.
    generate(&app, &customer)
        .await
        .refused(404, "signature matches no session");
    // The same signature twice: the second is refused.
    let (rand_str, ts) = rep.sign();
    let uid = rep.user_id.to_string();
    app.get(QR).raw_auth(&rand_str, &ts, &uid).send().await.ok();
    app.get(QR)
        .raw_auth(&rand_str, &ts, &uid)
        .send()
        .await
        .refused(404, "签名已使用");

    assert_eq!(calls(&app, WXACODE).await.len(), 1);
    assert_eq!(qr_code_of(&app, admin.user_id).await, None);
}

/// One raw HTTP/1.1 GET, so the path reaches the server byte for byte (no client-side
/// normalisation of `..` or `%2e%2e`); returns the status line and the whole answer.
async fn raw_get(app: &TestApp, path: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.lines().next().unwrap_or_default().to_owned();
    (status, answer)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn static_files_cannot_be_read_outside_the_statics_folder() {
    let (app, root) = spawn().await;
    write(&root.0.join("statics/imgs/hello.txt"), "hello");
    write(&root.0.join("private.txt"), "top secret");

    let (status, answer) = raw_get(&app, "/statics/imgs/hello.txt").await;
    assert!(status.contains(" 200 "), "{answer}");
    assert!(answer.ends_with("hello"));
    let (status, _) = raw_get(&app, "/statics/imgs/missing.jpg").await;
    assert!(status.contains(" 404 "), "{status}");

    for path in [
        "/statics/../private.txt",
        "/statics/%2e%2e/private.txt",
        "/statics/imgs/..%2f..%2fprivate.txt",
        "/statics/%2e%2e%2fprivate.txt",
        "/statics/..\\private.txt",
        "/statics//private.txt",
    ] {
        let (status, answer) = raw_get(&app, path).await;
        assert!(!status.contains(" 200 "), "{path}: {answer}");
        assert!(!answer.contains("top secret"), "{path}: {answer}");
    }
}
