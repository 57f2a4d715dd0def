#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The newcomer tools against a running server: `call` logs in, signs each call afresh and
//! returns the reply; `watch` opens the caller's WebSocket and sees frames as they come. And the
//! production switch: a production node refuses the sandbox, `/readyz` says which WeChat.
mod common;

use std::time::Duration;

use common::spawn_app;
use serde_json::Value;
use zhugeleida::{client::Session, startup::Application};

#[tokio::test]
async fn call_signs_every_write_afresh_and_prints_chinese_readable() {
    let app = spawn_app().await;
    let (_, _, _) = app.tenant("工具公司").await;
    let s = Session::login(&app.addr, "工具公司-admin", Some("Passw0rdX"))
        .await
        .unwrap();
    // Two writes back to back: each gets its own timestamp, so neither is a replay.
    for name in ["角色一", "角色二"] {
        let r = s
            .call(
                "POST",
                "/zhugeleida/admin/admin_role/add/0",
                &[
                    ("name".into(), name.into()),
                    ("rules_list".into(), "[]".into()),
                ],
            )
            .await
            .unwrap();
        assert_eq!(r["code"], 200, "{r}");
    }
    let r = s
        .call("GET", "zhugeleida/admin/admin_role", &[])
        .await
        .unwrap();
    let printed = zhugeleida::client::pretty(&r);
    assert!(printed.contains("角色二"), "{printed}");
    assert!(!printed.contains("\\u"), "no escapes: {printed}");
    let bad = Session::login(&app.addr, "工具公司-admin", Some("wrong")).await;
    assert!(bad.unwrap_err().to_string().contains("401"));
    assert!(
        Session::login(&app.addr, "nobody", None).await.is_err(),
        "no demo password for a stranger"
    );
}

#[tokio::test]
async fn watch_prints_the_frames_a_customer_action_pushes_to_the_salesperson() {
    let app = spawn_app().await;
    let (_, _, sales) = app.tenant("观察公司").await;
    let rep = Session::login(&app.addr, "观察公司-sales", Some("Passw0rdX"))
        .await
        .unwrap();
    assert_eq!(rep.ws_path(), "/zhugeleida/qiyeweixin/ws");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let watcher = tokio::spawn(async move { rep.watch(move |f| tx.send(f).is_ok()).await });
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first["type"], "hello", "{first}");
    // A customer (through the sandbox login the tool also offers) views the card.
    let customer = Session::login(
        &app.addr,
        &format!("customer:o_watch@{}", sales.user_id),
        None,
    )
    .await
    .unwrap();
    assert_eq!(customer.ws_path(), "/zhugeleida/xiaochengxu/ws");
    let r = customer
        .call(
            "GET",
            "/zhugeleida/xiaochengxu/mingpian",
            &[("uid".into(), sales.user_id.to_string())],
        )
        .await
        .unwrap();
    assert_eq!(r["code"], 200, "{r}");
    loop {
        let f = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        if f["type"] == "radar" {
            break;
        }
    }
    watcher.abort();
}

#[tokio::test]
async fn readyz_says_which_wechat_and_production_refuses_the_sandbox() {
    let app = spawn_app().await;
    let r = app.get("/readyz").send().await.ok();
    assert_eq!(r.data()["wechat"]["mode"], "sandbox");
    assert_eq!(r.data()["wechat"]["api"], app.sandbox.as_str());
    assert_eq!(r.data()["environment"], "development");

    let mut s = common::test_settings();
    s.production = true;
    s.wechat.hosts = zhugeleida::wechat::WechatHosts::sandbox(&app.sandbox);
    // Refused before anything is touched (this database URL is never used).
    s.database_url = "postgres://nobody@127.0.0.1:1/none".into();
    let e = Application::build(s.clone()).await.err().expect("refused");
    assert!(format!("{e:#}").contains("sandbox"), "{e:#}");
    s.wechat.hosts = zhugeleida::wechat::WechatHosts::production();
    let e = Application::build(s).await.err().expect("refused");
    assert!(
        format!("{e:#}").contains("demo"),
        "the sandbox's demo mini program: {e:#}"
    );
}
