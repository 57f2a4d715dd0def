#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A NUL byte (`%00`, or `\u0000` inside a JSON text field) in any text input answers 303
//! with a clear msg, never a 5xx (issue 8 defect 8): list filters, writes, WebSocket chat.
mod common;

use common::{customer, spawn_app, ws, Signer};
use serde_json::json;

const NUL: &str = "a\0b";

#[tokio::test]
async fn nul_in_any_text_parameter_is_a_303_never_a_5xx() {
    let app = spawn_app().await;
    let op = app.operator().await;
    let (_, admin, sales) = app.tenant("空字符").await;
    let cust = customer(&app, sales.user_id, "o_nul").await;
    let cid = cust.user_id.to_string();
    let json_nul = r#"{"info_type":1,"msg":"a\u0000b"}"#;
    // (who, GET?, path, field, value)
    let cases: Vec<(&Signer, bool, String, &str, &str)> = vec![
        (
            &admin,
            true,
            "/zhugeleida/admin/user".into(),
            "username",
            NUL,
        ),
        (
            &admin,
            true,
            "/zhugeleida/admin/user".into(),
            "position",
            NUL,
        ),
        (
            &admin,
            true,
            "/zhugeleida/admin/admin_userprofile".into(),
            "username",
            NUL,
        ),
        (
            &admin,
            true,
            "/zhugeleida/admin/admin_userprofile".into(),
            "role__name",
            NUL,
        ),
        (&op, true, "/zhugeleida/admin/company".into(), "order", NUL),
        (
            &op,
            false,
            "/zhugeleida/admin/access_rules/add/0".into(),
            "name",
            NUL,
        ),
        (
            &admin,
            false,
            "/zhugeleida/admin/admin_role/add/0".into(),
            "name",
            NUL,
        ),
        (
            &sales,
            true,
            "/zhugeleida/qiyeweixin/customer".into(),
            "username",
            NUL,
        ),
        (
            &sales,
            true,
            "/zhugeleida/qiyeweixin/customer".into(),
            "belonger__username",
            NUL,
        ),
        (
            &sales,
            false,
            format!("/zhugeleida/qiyeweixin/customer/update_information/{cid}"),
            "username",
            NUL,
        ),
        (
            &sales,
            false,
            "/zhugeleida/qiyeweixin/tag/add/0".into(),
            "name",
            NUL,
        ),
        (
            &sales,
            false,
            "/zhugeleida/qiyeweixin/tag_user/add".into(),
            "name",
            NUL,
        ),
        (
            &sales,
            false,
            "/zhugeleida/qiyeweixin/tag_user/save_phone".into(),
            "phone",
            NUL,
        ),
        (
            &sales,
            false,
            "/zhugeleida/qiyeweixin/follow_language/add/0".into(),
            "custom_language",
            NUL,
        ),
        (
            &sales,
            false,
            "/zhugeleida/qiyeweixin/chat/send_msg/0".into(),
            "msg",
            NUL,
        ),
        (
            &sales,
            false,
            "/zhugeleida/qiyeweixin/chat/send_msg/0".into(),
            "content",
            json_nul,
        ),
        (
            &cust,
            false,
            "/zhugeleida/gongzhonghao/chat/send_msg/0".into(),
            "content",
            json_nul,
        ),
    ];
    for (who, get, path, field, value) in cases {
        let extra: Vec<(&str, &str)> = if path.contains("chat/send_msg") {
            if who.user_id == cust.user_id {
                vec![(
                    "u_id",
                    Box::leak(sales.user_id.to_string().into_boxed_str()),
                )]
            } else {
                vec![("customer_id", Box::leak(cid.clone().into_boxed_str()))]
            }
        } else {
            vec![]
        };
        let mut fields = extra.clone();
        fields.push((field, value));
        let req = if get {
            app.get(&path).signed(who).query(&fields)
        } else {
            app.post(&path).signed(who).form(&fields)
        };
        let r = req.send().await;
        assert!(r.status < 500, "{path} {field}: HTTP {}", r.status);
        assert_eq!(r.code(), 303, "{path} {field}: {}", r.raw);
        assert!(r.msg().contains("NUL"), "{path} {field}: {}", r.msg());
    }
    // Unsigned too: the login form.
    let r = app
        .post("/zhugeleida/admin/login")
        .form(&[("username", NUL), ("password", "x")])
        .send()
        .await;
    assert_eq!(
        (r.code(), r.msg()),
        (303, "username 不能包含 NUL 字符 (%00)")
    );
    // A JSON body is checked the same way.
    let r = app
        .post("/zhugeleida/admin/admin_role/add/0")
        .signed(&admin)
        .json(json!({"name": NUL}))
        .send()
        .await;
    assert_eq!((r.code(), r.msg()), (303, "name 不能包含 NUL 字符 (%00)"));
    // Nothing was stored.
    let n: i64 = app
        .db()
        .await
        .query_one("select count(*) from chat_message", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn nul_in_websocket_chat_is_an_error_frame_and_the_socket_lives_on() {
    let app = spawn_app().await;
    let (_, _, sales) = app.tenant("空字符聊天").await;
    let cust = customer(&app, sales.user_id, "o_nul_ws").await;
    let (mut s, _) = ws::connect(&app, "/zhugeleida/qiyeweixin/ws", &sales).await;
    for frame in [
        json!({"type": "send", "customer_id": cust.user_id, "client_msg_id": "n1", "msg": NUL}),
        json!({"type": "send", "customer_id": cust.user_id, "client_msg_id": "n2",
               "content": {"info_type": 1, "msg": NUL}}),
        json!({"type": "send", "customer_id": cust.user_id, "client_msg_id": NUL, "msg": "hi"}),
    ] {
        ws::send(&mut s, frame).await;
        let e = ws::next_of(&mut s, "error").await;
        assert_eq!(e["code"], 303, "{e}");
        assert!(e["msg"].as_str().unwrap().contains("NUL"), "{e}");
    }
    ws::send(
        &mut s,
        json!({"type": "send", "customer_id": cust.user_id, "client_msg_id": "ok1", "msg": "fine"}),
    )
    .await;
    let sent = ws::next_of(&mut s, "sent").await;
    assert_eq!(sent["client_msg_id"], "ok1");
}
