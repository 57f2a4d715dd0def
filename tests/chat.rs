#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Chat over the legacy polling endpoints and the WebSocket, on one node: both see the same
//! conversation, sends are idempotent, resume is exact, a slow reader is closed alone.
mod common;

use std::time::Duration;

use common::{customer, spawn_app, spawn_app_with, ws};
use serde_json::json;

const REP_WS: &str = "/zhugeleida/qiyeweixin/ws";
const CUST_WS: &str = "/zhugeleida/xiaochengxu/ws";

#[tokio::test]
async fn polling_and_websocket_see_the_same_conversation() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("甲").await;
    let cust = customer(&app, rep.user_id, "o_alice").await;
    let (mut rep_ws, hello) = ws::connect(&app, REP_WS, &rep).await;
    assert_eq!(hello["conversations"], json!([]));
    let (u, c) = (rep.user_id.to_string(), cust.user_id.to_string());

    // customer → rep by polling (GZH-01), pushed live to the rep
    let content = json!({"info_type": 1, "msg": "你好, 这个产品多少钱?"}).to_string();
    let r = app
        .post("/zhugeleida/gongzhonghao/chat/send_msg/0")
        .signed(&cust)
        .form(&[("u_id", &u), ("content", &content), ("customer_id", "999")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "send msg successful");
    let live = ws::next_of(&mut rep_ws, "message").await["message"].clone();
    assert_eq!(live["seq"], 1);
    assert_eq!(live["send_type"], 2);
    assert_eq!(live["msg"], "你好, 这个产品多少钱?");
    assert_eq!(live["customer_id"], cust.user_id);
    assert_eq!(live["is_first_info"], true);
    let conv = live["conversation_id"].as_i64().unwrap();

    // the legacy getmsg returns it once (QYW-36), then nothing
    let got = app
        .get("/zhugeleida/qiyeweixin/chat/getmsg/0")
        .signed(&rep)
        .query(&[("customer_id", &c)])
        .send()
        .await
        .ok();
    assert_eq!(got.msg(), "实时获取-最新聊天记录成功");
    let rows = got.data().as_array().unwrap();
    assert_eq!(rows.len(), 1);
    for key in [
        "customer_id",
        "user_id",
        "src",
        "name",
        "dateTime",
        "send_type",
        "msg",
    ] {
        assert!(rows[0].get(key).is_some(), "QYW-36 row lacks {key}");
    }
    let again = app
        .get("/zhugeleida/qiyeweixin/chat/getmsg/0")
        .signed(&rep)
        .query(&[("customer_id", &c)])
        .send()
        .await
        .ok();
    assert_eq!(again.data(), &json!([]));

    // rep → customer over the WebSocket; the customer polls it (GZH-04 then GZH-02)
    ws::send(&mut rep_ws, json!({"type": "send", "client_msg_id": "r-1", "customer_id": cust.user_id, "msg": "您好, 128元"})).await;
    let sent = ws::next_of(&mut rep_ws, "sent").await;
    assert_eq!(sent["message"]["seq"], 2);
    assert_eq!(sent["duplicate"], false);
    let n = app
        .get("/zhugeleida/gongzhonghao/chat/query_num/0")
        .signed(&cust)
        .query(&[("u_id", &u)])
        .send()
        .await
        .ok();
    assert_eq!(n.data(), &json!({"chatinfo_count": 1}));
    let got = app
        .get("/zhugeleida/gongzhonghao/chat/getmsg/0")
        .signed(&cust)
        .query(&[("u_id", &u)])
        .send()
        .await
        .ok();
    assert_eq!(got.msg(), "实时获取-最新聊天信息成功");
    assert_eq!(got.data()["data_count"], 1);
    let row = &got.data()["ret_data"][0];
    assert_eq!(row["msg"], "您好, 128元");
    assert_eq!(row["is_first_info"], false);
    assert!(row.get("user_avator").is_some() && row.get("customer_headimgurl").is_some());
    let n = app
        .get("/zhugeleida/gongzhonghao/chat/query_num/0")
        .signed(&cust)
        .query(&[("u_id", &u)])
        .send()
        .await
        .ok();
    assert_eq!(n.data(), &json!({"chatinfo_count": 0}));

    // a product consultation (info_type 2) keeps its fields
    let product = json!({"info_type": 2, "product_cover_url": "statics/zhugeleida/imgs/chat/x.png", "product_name": "产品名字", "product_price": "99"}).to_string();
    app.post("/zhugeleida/xiaochengxu/chat/send_msg/0")
        .signed(&cust)
        .form(&[("u_id", &u), ("content", &product)])
        .send()
        .await
        .ok();
    // (the rep's own message 2 is echoed to its socket first)
    let echo = ws::next_of(&mut rep_ws, "message").await["message"].clone();
    assert_eq!(echo["seq"], 2);
    let live = ws::next_of(&mut rep_ws, "message").await["message"].clone();
    assert_eq!(live["product_name"], "产品名字");
    assert_eq!(live["info_type"], 2);

    // histories: newest first, same seqs (QYW-34, GZH-03 both forms)
    let h = app
        .get("/zhugeleida/qiyeweixin/chat")
        .signed(&rep)
        .query(&[("customer_id", &c)])
        .send()
        .await
        .ok();
    assert_eq!(h.msg(), "分页获取聊天消息成功");
    let seqs: Vec<i64> = h
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![3, 2, 1]);
    let h = app
        .get("/zhugeleida/gongzhonghao/chat")
        .signed(&cust)
        .query(&[("u_id", &u), ("length", "2")])
        .send()
        .await
        .ok();
    assert_eq!(h.msg(), "分页获取-全部聊天消息成功");
    assert_eq!(h.data()["data_count"], 3);
    assert_eq!(h.data()["ret_data"].as_array().unwrap().len(), 2);
    assert!(h.data().get("mingpian_phone").is_some() && h.data().get("wechat").is_some());
    let h = app
        .get("/zhugeleida//gongzhonghao/chat/")
        .signed(&rep)
        .query(&[("customer_id", &c)])
        .send()
        .await
        .ok();
    assert_eq!(
        h.data()["data_count"],
        3,
        "A-80: without u_id the caller is the salesperson"
    );
    // contacts (QYW-33)
    let contacts = app
        .get("/zhugeleida/qiyeweixin/contact")
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(contacts.data()["data_count"], 1);
    let row = &contacts.data()["ret_data"][0];
    assert_eq!(row["customer_id"], cust.user_id);
    assert_eq!(row["dateTime"].as_str().unwrap().len(), 5);
    assert_eq!(row["unread"], 1);
    // read over the WebSocket clears the unread count everywhere
    ws::send(
        &mut rep_ws,
        json!({"type": "read", "conversation_id": conv, "seq": 3}),
    )
    .await;
    assert_eq!(ws::next_of(&mut rep_ws, "unread").await["unread"], 0);
    let got = app
        .get("/zhugeleida/qiyeweixin/chat/getmsg/0")
        .signed(&rep)
        .query(&[("customer_id", &c)])
        .send()
        .await
        .ok();
    assert_eq!(
        got.data(),
        &json!([]),
        "read on the WebSocket is read for polling too"
    );
}

#[tokio::test]
async fn a_retried_send_with_the_same_client_id_stores_one_message() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("甲").await;
    let cust = customer(&app, rep.user_id, "o_bob").await;
    let (mut cws, _) = ws::connect(&app, CUST_WS, &cust).await;
    for _ in 0..2 {
        ws::send(&mut cws, json!({"type": "send", "client_msg_id": "c-42", "u_id": rep.user_id, "content": {"info_type": 1, "msg": "hi"}})).await;
    }
    let first = ws::next_of(&mut cws, "sent").await;
    let second = ws::next_of(&mut cws, "sent").await;
    assert_eq!(first["duplicate"], false);
    assert_eq!(second["duplicate"], true);
    assert_eq!(first["message"]["id"], second["message"]["id"]);
    let c = cust.user_id.to_string();
    for _ in 0..2 {
        app.post("/zhugeleida/qiyeweixin/chat/send_msg/0")
            .signed(&rep)
            .form(&[
                ("customer_id", &c),
                ("msg", "again"),
                ("client_msg_id", "r-7"),
            ])
            .send()
            .await
            .ok();
    }
    let n: i64 = app
        .db()
        .await
        .query_one("select count(*) from chat_message", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    let last: i64 = app
        .db()
        .await
        .query_one("select last_seq from conversation", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(last, 2, "no seq was spent on the retries");
}

/// The next `message` frame carrying message `id` (earlier ones skipped); panics after 10 s
/// without one.
async fn message_with_id(s: &mut ws::Socket, id: i64) -> serde_json::Value {
    loop {
        let m = ws::next_of(s, "message").await["message"].clone();
        if m["id"].as_i64() == Some(id) {
            return m;
        }
    }
}

/// A node killed between a message's commit and its publish leaves it stored and never pushed.
/// The sender's retry of the same `client_msg_id` is answered as a duplicate and publishes the
/// stored message again, so the recipient and the sender's other devices get it live (no
/// resume needed): over the WebSocket and over the HTTP send (QYW-35).
#[tokio::test]
async fn a_retry_of_a_message_committed_but_never_published_delivers_it_live() {
    use zhugeleida::db::chat::{store_batch, NewMessage};
    let app = spawn_app().await;
    let (company, _, rep) = app.tenant("重发").await;
    let cust = customer(&app, rep.user_id, "o_lost_publish").await;
    let (mut rep_ws, _) = ws::connect(&app, REP_WS, &rep).await;
    let (mut cust_sender, _) = ws::connect(&app, CUST_WS, &cust).await;
    let (mut cust_other, _) = ws::connect(&app, CUST_WS, &cust).await;
    // What the dead node left: committed by the chat writer's statement, published to nobody.
    let dead = |send_type: i16, text: &str, cid: &str| NewMessage {
        company_id: company,
        user_id: rep.user_id,
        customer_id: cust.user_id,
        send_type,
        info_type: 1,
        content: json!({"info_type": 1, "msg": text}),
        client_msg_id: Some(cid.to_owned()),
    };
    let db = app.db().await;
    let lost = store_batch(&db, &[dead(2, "丢失的消息", "c-lost")])
        .await
        .unwrap();
    let (id, seq) = (lost[0].message.id, lost[0].message.seq);
    assert!(
        ws::next(&mut rep_ws, Duration::from_millis(300))
            .await
            .is_none(),
        "the stored message was published by nobody"
    );

    // The customer's retry over the WebSocket.
    ws::send(&mut cust_sender, json!({"type": "send", "client_msg_id": "c-lost", "u_id": rep.user_id, "content": {"info_type": 1, "msg": "丢失的消息"}})).await;
    let sent = ws::next_of(&mut cust_sender, "sent").await;
    assert_eq!(
        (sent["duplicate"].as_bool(), sent["message"]["id"].as_i64()),
        (Some(true), Some(id))
    );
    for (who, s) in [
        ("recipient", &mut rep_ws),
        ("the sender's other device", &mut cust_other),
    ] {
        let m = message_with_id(s, id).await;
        assert_eq!(
            (m["seq"].as_i64(), m["msg"].as_str()),
            (Some(seq), Some("丢失的消息")),
            "{who}"
        );
    }

    // The salesperson's retry over HTTP (QYW-35).
    let lost = store_batch(&db, &[dead(1, "也丢了", "r-lost")])
        .await
        .unwrap();
    let (id, seq) = (lost[0].message.id, lost[0].message.seq);
    app.post("/zhugeleida/qiyeweixin/chat/send_msg/0")
        .signed(&rep)
        .form(&[
            ("customer_id", cust.user_id.to_string().as_str()),
            ("msg", "也丢了"),
            ("client_msg_id", "r-lost"),
        ])
        .send()
        .await
        .ok();
    for (who, s) in [
        ("recipient", &mut cust_sender),
        ("recipient's second device", &mut cust_other),
        ("the sender's socket", &mut rep_ws),
    ] {
        let m = message_with_id(s, id).await;
        assert_eq!(
            (m["seq"].as_i64(), m["msg"].as_str()),
            (Some(seq), Some("也丢了")),
            "{who}"
        );
    }
    // Still one row per client id, no seq spent.
    let n: i64 = db
        .query_one("select count(*) from chat_message", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}

#[tokio::test]
async fn resume_returns_exactly_the_missed_messages_or_asks_for_a_reload() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("甲").await;
    let cust = customer(&app, rep.user_id, "o_carol").await;
    let u = rep.user_id.to_string();
    let say = |text: &str| json!({"info_type": 1, "msg": text}).to_string();
    app.post("/zhugeleida/gongzhonghao/chat/send_msg/0")
        .signed(&cust)
        .form(&[("u_id", &u), ("content", &say("m1"))])
        .send()
        .await
        .ok();
    let (rws, hello) = ws::connect(&app, REP_WS, &rep).await;
    let conv = hello["conversations"][0]["conversation_id"]
        .as_i64()
        .unwrap();
    assert_eq!(hello["conversations"][0]["last_seq"], 1);
    assert_eq!(hello["conversations"][0]["unread"], 1);
    drop(rws);
    for t in ["m2", "m3", "m4"] {
        app.post("/zhugeleida/gongzhonghao/chat/send_msg/0")
            .signed(&cust)
            .form(&[("u_id", &u), ("content", &say(t))])
            .send()
            .await
            .ok();
    }
    let (mut rws, hello) = ws::connect(&app, REP_WS, &rep).await;
    assert_eq!(hello["conversations"][0]["last_seq"], 4);
    let (missed, resumed) = ws::resume(&mut rws, conv, 1).await;
    assert_eq!(resumed["conversations"][0]["last_seq"], 4);
    let got: Vec<(i64, String)> = missed
        .iter()
        .map(|m| {
            (
                m["seq"].as_i64().unwrap(),
                m["msg"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(2, "m2".into()), (3, "m3".into()), (4, "m4".into())]
    );
    // too far back: a full reload instead
    let db = app.db().await;
    let batch: Vec<_> = (0..501)
        .map(|i| zhugeleida::db::chat::NewMessage {
            company_id: 0,
            user_id: rep.user_id,
            customer_id: cust.user_id,
            send_type: 2,
            info_type: 1,
            content: json!({"info_type": 1, "msg": format!("bulk {i}")}),
            client_msg_id: None,
        })
        .collect();
    let company: i64 = db
        .query_one(
            "select company_id from customer where id = $1",
            &[&cust.user_id],
        )
        .await
        .unwrap()
        .get(0);
    let batch: Vec<_> = batch
        .into_iter()
        .map(|mut m| {
            m.company_id = company;
            m
        })
        .collect();
    let client = app.db().await;
    zhugeleida::db::chat::store_batch(&client, &batch)
        .await
        .unwrap();
    ws::send(
        &mut rws,
        json!({"type": "resume", "conversations": {conv.to_string(): 4}}),
    )
    .await;
    let reload = ws::next_of(&mut rws, "reload").await;
    assert_eq!(reload["conversation_id"], conv);
    assert_eq!(reload["last_seq"], 505);
    let resumed = ws::next_of(&mut rws, "resumed").await;
    assert_eq!(resumed["conversations"], json!([]));
    // exactly the limit: all 500, in order, across the server's resume pages, then `resumed`
    // (on a new connection: this one was told to reload, and until it has paged to 505 its
    // resumes from below are answered with `reload` again, nothing replayed)
    let (mut rws, _) = ws::connect(&app, REP_WS, &rep).await;
    let (missed, resumed) = ws::resume(&mut rws, conv, 5).await;
    let seqs: Vec<i64> = missed.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (6..=505).collect::<Vec<_>>());
    assert_eq!(missed[0]["msg"], "bulk 1");
    assert_eq!(missed[499]["msg"], "bulk 500");
    assert_eq!(resumed["conversations"][0]["last_seq"], 505);
    // nothing missed: no message, `resumed` at the client's own seq
    let (missed, resumed) = ws::resume(&mut rws, conv, 505).await;
    assert!(missed.is_empty());
    assert_eq!(resumed["conversations"][0]["last_seq"], 505);
    // someone else's conversation is not resumable
    let other = customer(&app, rep.user_id, "o_dave").await;
    let (mut ows, _) = ws::connect(&app, CUST_WS, &other).await;
    ws::send(
        &mut ows,
        json!({"type": "resume", "conversations": {conv.to_string(): 0}}),
    )
    .await;
    assert_eq!(ws::next_of(&mut ows, "error").await["code"], 302);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_as_slow_and_others_keep_receiving() {
    let app = spawn_app_with(|s| s.ws_queue = 16).await;
    let (_, _, rep) = app.tenant("甲").await;
    let slow = customer(&app, rep.user_id, "o_slow").await;
    let fast = customer(&app, rep.user_id, "o_fast").await;
    let (mut slow_ws, _) = ws::connect(&app, CUST_WS, &slow).await;
    let (mut fast_ws, _) = ws::connect(&app, CUST_WS, &fast).await;
    // flood the slow client (it never reads) with 8 MiB
    let big = axum::extract::ws::Utf8Bytes::from(format!(
        "{{\"type\":\"noise\",\"x\":\"{}\"}}",
        "x".repeat(16 * 1024)
    ));
    let hub = app.state.hub.clone();
    let target = zhugeleida::hub::Target::Customer(slow.user_id);
    for _ in 0..512 {
        hub.publish(&[target], big.clone());
        tokio::task::yield_now().await;
    }
    // the fast client still gets its message
    let u = rep.user_id.to_string();
    let f = fast.user_id.to_string();
    app.post("/zhugeleida/qiyeweixin/chat/send_msg/0")
        .signed(&rep)
        .form(&[("customer_id", &f), ("msg", "still here")])
        .send()
        .await
        .ok();
    assert_eq!(
        ws::next_of(&mut fast_ws, "message").await["message"]["msg"],
        "still here"
    );
    assert!(
        hub.stats()
            .slow_closed
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    assert_eq!(
        ws::close_code(&mut slow_ws, Duration::from_secs(10)).await,
        Some(4001)
    );
    let _ = u;
}

#[tokio::test]
async fn chat_never_crosses_companies() {
    let app = spawn_app().await;
    let (_, _, rep_a) = app.tenant("甲").await;
    let (_, _, rep_b) = app.tenant("乙").await;
    let cust_a = customer(&app, rep_a.user_id, "o_a").await;
    let cust_b = customer(&app, rep_b.user_id, "o_b").await;
    let (ub, ca, cb) = (
        rep_b.user_id.to_string(),
        cust_a.user_id.to_string(),
        cust_b.user_id.to_string(),
    );
    let content = json!({"info_type": 1, "msg": "x"}).to_string();
    app.post("/zhugeleida/gongzhonghao/chat/send_msg/0")
        .signed(&cust_a)
        .form(&[("u_id", &ub), ("content", &content)])
        .send()
        .await
        .expect_code(302);
    app.post("/zhugeleida/qiyeweixin/chat/send_msg/0")
        .signed(&rep_b)
        .form(&[("customer_id", &ca), ("msg", "x")])
        .send()
        .await
        .expect_code(302);
    app.get("/zhugeleida/qiyeweixin/chat")
        .signed(&rep_b)
        .query(&[("customer_id", &ca)])
        .send()
        .await
        .expect_code(302);
    app.get("/zhugeleida/qiyeweixin/chat/getmsg/0")
        .signed(&rep_b)
        .query(&[("customer_id", &ca)])
        .send()
        .await
        .expect_code(302);
    app.get("/zhugeleida/gongzhonghao/chat/getmsg/0")
        .signed(&cust_a)
        .query(&[("u_id", &ub)])
        .send()
        .await
        .expect_code(302);
    app.get("/zhugeleida/gongzhonghao/chat/query_num/0")
        .signed(&cust_a)
        .query(&[("u_id", &ub)])
        .send()
        .await
        .expect_code(302);
    app.get("/zhugeleida/gongzhonghao/chat")
        .signed(&cust_a)
        .query(&[("u_id", &ub)])
        .send()
        .await
        .expect_code(302);
    let (mut ws_a, _) = ws::connect(&app, CUST_WS, &cust_a).await;
    ws::send(
        &mut ws_a,
        json!({"type": "send", "u_id": rep_b.user_id, "msg": "x", "client_msg_id": "1"}),
    )
    .await;
    assert_eq!(ws::next_of(&mut ws_a, "error").await["code"], 302);
    ws::send(&mut ws_a, json!({"type": "typing", "u_id": rep_b.user_id})).await;
    assert_eq!(ws::next_of(&mut ws_a, "error").await["code"], 302);
    let n: i64 = app
        .db()
        .await
        .query_one("select count(*) from chat_message", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let _ = cb;
}

#[tokio::test]
async fn bad_input_and_bad_signatures_on_the_chat_surface() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("甲").await;
    let cust = customer(&app, rep.user_id, "o_x").await;
    let u = rep.user_id.to_string();
    for content in [
        "not json",
        r#"{"info_type":9,"msg":"x"}"#,
        r#"{"info_type":1}"#,
        "[1,2]",
    ] {
        app.post("/zhugeleida/gongzhonghao/chat/send_msg/0")
            .signed(&cust)
            .form(&[("u_id", &u), ("content", content)])
            .send()
            .await
            .expect_code(303);
    }
    app.post("/zhugeleida/gongzhonghao/chat/send_msg/0")
        .signed(&cust)
        .form(&[("content", r#"{"msg":"x"}"#)])
        .send()
        .await
        .expect_code(303);
    app.post("/zhugeleida/gongzhonghao/chat/send_msg/0")
        .signed(&cust)
        .form(&[("u_id", "abc"), ("msg", "x")])
        .send()
        .await
        .expect_code(301);
    // a customer's token does not open the salesperson's socket: close 4003
    let mut s = ws::connect_raw(&app, REP_WS, &cust).await;
    assert_eq!(
        ws::close_code(&mut s, Duration::from_secs(5)).await,
        Some(4003)
    );
    // garbage frames get an error frame, the session lives on
    let (mut cws, _) = ws::connect(&app, CUST_WS, &cust).await;
    use futures_util::SinkExt;
    cws.send(tokio_tungstenite::tungstenite::Message::Text(
        "{nope".into(),
    ))
    .await
    .unwrap();
    assert_eq!(ws::next_of(&mut cws, "error").await["code"], 303);
    ws::send(&mut cws, json!({"type": "ping"})).await;
    ws::next_of(&mut cws, "pong").await;
    // not an upgrade: the envelope
    app.get("/zhugeleida/qiyeweixin/ws")
        .signed(&rep)
        .send()
        .await
        .refused(
            404,
            "not a WebSocket upgrade: Connection header did not include 'upgrade'",
        );
}

#[tokio::test]
async fn shutdown_closes_websockets_with_the_reconnect_code() {
    let mut app = spawn_app().await;
    let (_, _, rep) = app.tenant("甲").await;
    let (mut rws, _) = ws::connect(&app, REP_WS, &rep).await;
    app.shutdown().await;
    assert_eq!(
        ws::close_code(&mut rws, Duration::from_secs(10)).await,
        Some(4000)
    );
}

#[tokio::test]
async fn batches_of_one_few_and_many_share_one_gap_free_sequence() {
    use zhugeleida::db::chat::{store_batch, NewMessage};
    let app = spawn_app().await;
    let (company, _, rep) = app.tenant("批次").await;
    let cust = customer(&app, rep.user_id, "o_batch").await;
    let msg = |text: &str, cid: Option<&str>| NewMessage {
        company_id: company,
        user_id: rep.user_id,
        customer_id: cust.user_id,
        send_type: 2,
        info_type: 1,
        content: json!({"info_type": 1, "msg": text}),
        client_msg_id: cid.map(str::to_owned),
    };
    let client = app.db().await;
    // one message (the scalar statement)
    let one = store_batch(&client, &[msg("a", Some("c1"))]).await.unwrap();
    assert_eq!((one[0].message.seq, one[0].duplicate), (1, false));
    assert!(one[0].message.is_first_info);
    // its retry alone (the scalar statement's duplicate path): the same message, no seq spent
    let again = store_batch(&client, &[msg("a", Some("c1"))]).await.unwrap();
    assert_eq!(
        (
            again[0].message.id,
            again[0].message.seq,
            again[0].duplicate
        ),
        (one[0].message.id, 1, true)
    );
    // a few (the array statement, PostgreSQL's plan choice), with a retry of c1 and an
    // in-batch duplicate of c2
    let few = store_batch(
        &client,
        &[
            msg("a", Some("c1")),
            msg("b", Some("c2")),
            msg("b", Some("c2")),
            msg("c", None),
        ],
    )
    .await
    .unwrap();
    let got: Vec<(i64, bool)> = few.iter().map(|s| (s.message.seq, s.duplicate)).collect();
    assert_eq!(got[0], (1, true));
    assert_eq!(got[1].0, 2);
    assert_eq!(got[2].0, 2, "the in-batch copy is the same message");
    assert_eq!(got[3], (3, false));
    // many (custom plan)
    let many: Vec<_> = (0..20).map(|i| msg(&format!("m{i}"), None)).collect();
    let stored = store_batch(&client, &many).await.unwrap();
    let seqs: Vec<i64> = stored.iter().map(|s| s.message.seq).collect();
    assert_eq!(seqs, (4..24).collect::<Vec<i64>>());
    // and one again after them
    let last = store_batch(&client, &[msg("z", None)]).await.unwrap();
    assert_eq!(last[0].message.seq, 24);
    // the salesperson's message (its own single-message statement) and its retry, alone:
    // the retry breaks the client-id key, is rolled back whole and found as a duplicate
    let reply = NewMessage {
        send_type: 1,
        ..msg("r", Some("u1"))
    };
    let sent = store_batch(&client, std::slice::from_ref(&reply))
        .await
        .unwrap();
    assert_eq!((sent[0].message.seq, sent[0].duplicate), (25, false));
    let retried = store_batch(&client, &[reply]).await.unwrap();
    assert_eq!(
        (
            retried[0].message.id,
            retried[0].message.seq,
            retried[0].duplicate
        ),
        (sent[0].message.id, 25, true)
    );
    let after = store_batch(&client, &[msg("y", None)]).await.unwrap();
    assert_eq!(after[0].message.seq, 26, "the retry spent no seq");
    let counters = client
        .query_one(
            "select customer_unread, user_unread from conversation where user_id = $1 and customer_id = $2",
            &[&rep.user_id, &cust.user_id],
        )
        .await
        .unwrap();
    let (customer_unread, unread): (i32, i32) = (counters.get(0), counters.get(1));
    assert_eq!(customer_unread, 1);
    // the customer's messages are unread for the salesperson, once each
    assert_eq!(unread, 25);
}

/// A message updates its conversation's seq, unread count and time in place: a HOT update,
/// no new index entries and no dead version left for VACUUM (sql/022). Before, the recency
/// index held the exact time, so every message's update added an entry to each index.
#[tokio::test]
async fn a_message_updates_its_conversation_in_place() {
    use zhugeleida::db::chat::{store_batch, NewMessage};
    let app = spawn_app().await;
    let (company, _, rep) = app.tenant("原地更新").await;
    let cust = customer(&app, rep.user_id, "o_hot").await;
    let msg = |send_type: i16| NewMessage {
        company_id: company,
        user_id: rep.user_id,
        customer_id: cust.user_id,
        send_type,
        info_type: 1,
        content: json!({"info_type": 1, "msg": "hi"}),
        client_msg_id: None,
    };
    let client = app.db().await;
    store_batch(&client, &[msg(2)]).await.unwrap(); // creates the conversation
                                                    // This backend's table counters, flushed at the end of the transaction that asks for it
                                                    // (each statement here commits on its own, so each message has its own `now()`).
    let counts = || async {
        client
            .batch_execute("select pg_stat_force_next_flush()")
            .await
            .unwrap();
        let r = client
            .query_one(
                "select n_tup_upd, n_tup_hot_upd from pg_stat_user_tables where relname = 'conversation'",
                &[],
            )
            .await
            .unwrap();
        (r.get::<_, i64>(0), r.get::<_, i64>(1))
    };
    let (upd0, hot0) = counts().await;
    for i in 0..6 {
        store_batch(&client, &[msg(1 + i % 2)]).await.unwrap(); // the scalar statement
    }
    store_batch(&client, &[msg(1), msg(2), msg(2)])
        .await
        .unwrap(); // the array statement
    let (upd1, hot1) = counts().await;
    let (updated, hot) = (upd1 - upd0, hot1 - hot0);
    assert_eq!(updated, 7, "one update of the conversation per statement");
    // a minute that turns during the test makes one update non-HOT (its index key changes)
    assert!(hot >= updated - 1, "{hot} of {updated} updates were HOT");
}

/// QYW-33 and the resume list show conversations newest first, also within one minute (the
/// index orders by minute, the exact time breaks ties).
#[tokio::test]
async fn contacts_are_newest_first_within_a_minute() {
    use zhugeleida::db::chat::{store_batch, NewMessage};
    let app = spawn_app().await;
    let (company, _, rep) = app.tenant("最近联系").await;
    let mut custs = Vec::new();
    for i in 0..3 {
        custs.push(customer(&app, rep.user_id, &format!("o_recent{i}")).await);
    }
    let client = app.db().await;
    let say = |c: i64| NewMessage {
        company_id: company,
        user_id: rep.user_id,
        customer_id: c,
        send_type: 2,
        info_type: 1,
        content: json!({"info_type": 1, "msg": "hi"}),
        client_msg_id: None,
    };
    // 0, 1, 2, then 0 again: newest first is 0, 2, 1
    for c in [0, 1, 2, 0] {
        store_batch(&client, &[say(custs[c].user_id)])
            .await
            .unwrap();
    }
    let got = app
        .get("/zhugeleida/qiyeweixin/contact")
        .signed(&rep)
        .send()
        .await
        .ok();
    let order: Vec<i64> = got.data()["ret_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["customer_id"].as_i64().unwrap())
        .collect();
    let want: Vec<i64> = [0, 2, 1].iter().map(|&i| custs[i].user_id).collect();
    assert_eq!(order, want);
}

/// Stores `n` messages of `len` characters from the customer to the salesperson straight into
/// PostgreSQL (as the chat writer does); returns the conversation's id.
async fn bulk(app: &common::TestApp, rep: i64, cust: i64, n: usize, len: usize) -> i64 {
    use zhugeleida::db::chat::{store_batch, NewMessage};
    let db = app.db().await;
    let company: i64 = db
        .query_one("select company_id from customer where id = $1", &[&cust])
        .await
        .unwrap()
        .get(0);
    let batch: Vec<_> = (1..=n)
        .map(|i| NewMessage {
            company_id: company,
            user_id: rep,
            customer_id: cust,
            send_type: 2,
            info_type: 1,
            content: json!({"info_type": 1, "msg": format!("{i:04} {}", "长".repeat(len / 3))}),
            client_msg_id: None,
        })
        .collect();
    store_batch(&db, &batch).await.unwrap();
    db.query_one(
        "select id from conversation where user_id = $1 and customer_id = $2",
        &[&rep, &cust],
    )
    .await
    .unwrap()
    .get(0)
}

/// The sum of a series' values in `/metrics` (lines `name{…label…} value`).
async fn metric(app: &common::TestApp, name: &str, label: &str) -> f64 {
    let text = app
        .http
        .get(format!("{}/metrics", app.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// Issue 8, scenario 3: a resume paced by a tiny node-wide catch-up budget (and a history page
/// read under it) still delivers every missed message exactly once, in order, then `resumed`;
/// the waits show in `/metrics`. Counts only: how long the waits took is not asserted.
#[tokio::test]
async fn a_resume_paced_by_the_catch_up_budget_delivers_every_message_once_in_order() {
    let app = spawn_app_with(|s| {
        // 96 KiB/s, so a burst of 24 KiB: the ~250 KB below must wait for most of it.
        s.catchup.bytes_per_sec = 96 * 1024;
        s.catchup.resume_max_bytes = 0;
    })
    .await;
    let (_, _, rep) = app.tenant("限速").await;
    let cust = customer(&app, rep.user_id, "o_pace").await;
    let conv = bulk(&app, rep.user_id, cust.user_id, 150, 600).await;
    let throttled = "via=\"resume\"";
    let before = metric(&app, "zgld_catchup_throttled_seconds_count", throttled).await;

    let (mut rws, _) = ws::connect(&app, REP_WS, &rep).await;
    let (missed, resumed) = ws::resume(&mut rws, conv, 0).await;

    let seqs: Vec<i64> = missed.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=150).collect::<Vec<_>>(),
        "every message once, in order"
    );
    assert!(missed[149]["msg"].as_str().unwrap().starts_with("0150 "));
    assert_eq!(resumed["conversations"][0]["last_seq"], 150);
    assert!(
        app.state.catchup.throttled() > 0,
        "the resume waited for the budget"
    );
    let after = metric(&app, "zgld_catchup_throttled_seconds_count", throttled).await;
    assert!(
        after > before,
        "throttled waits are counted: {before} → {after}"
    );

    // A history page of the same size waits for its share too, and is whole.
    let waits = app.state.catchup.throttled();
    let page = app
        .get("/zhugeleida/qiyeweixin/chat")
        .signed(&rep)
        .query(&[
            ("customer_id", &cust.user_id.to_string()),
            ("length", "150"),
        ])
        .send()
        .await
        .ok();
    let seqs: Vec<i64> = page
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=150).rev().collect::<Vec<_>>());
    assert!(
        app.state.catchup.throttled() > waits,
        "the history page waited"
    );
}

/// Issue 8, scenario 3: a resume that would replay more than `ZGLD_RESUME_MAX_BYTES` sends
/// what fits, then `reload` (with `replayed_to`), and the client reads the rest from the
/// history: together exactly every message.
#[tokio::test]
async fn a_resume_past_its_byte_budget_gets_reload_and_the_history_has_the_rest() {
    let app = spawn_app_with(|s| s.catchup.resume_max_bytes = 20_000).await;
    let (_, _, rep) = app.tenant("预算").await;
    let cust = customer(&app, rep.user_id, "o_budget").await;
    let conv = bulk(&app, rep.user_id, cust.user_id, 60, 600).await;

    let (mut rws, _) = ws::connect(&app, REP_WS, &rep).await;
    ws::send(
        &mut rws,
        json!({"type": "resume", "conversations": {conv.to_string(): 0}}),
    )
    .await;
    let mut replayed = vec![];
    let reload = loop {
        let f = ws::next(&mut rws, Duration::from_secs(10))
            .await
            .expect("frame");
        match f["type"].as_str() {
            Some("message") => replayed.push(f["message"]["seq"].as_i64().unwrap()),
            Some("reload") => break f,
            Some("resumed") => panic!("resumed without a reload: {f}"),
            _ => {}
        }
    };
    let k = replayed.len() as i64;
    assert!(k > 0 && k < 60, "{k} of 60 replayed within 20,000 bytes");
    assert_eq!(replayed, (1..=k).collect::<Vec<_>>());
    assert_eq!(reload["conversation_id"], conv);
    assert_eq!(reload["last_seq"], 60);
    assert_eq!(reload["replayed_to"], k);
    let resumed = ws::next_of(&mut rws, "resumed").await;
    assert_eq!(
        resumed["conversations"],
        json!([]),
        "not resumed to its end"
    );

    let page = app
        .get("/zhugeleida/qiyeweixin/chat")
        .signed(&rep)
        .query(&[
            ("customer_id", &cust.user_id.to_string()),
            ("length", "100"),
        ])
        .send()
        .await
        .ok();
    let mut rest: Vec<i64> = page
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .filter(|s| *s > k)
        .collect();
    rest.sort_unstable();
    assert_eq!(rest, (k + 1..=60).collect::<Vec<_>>());

    // Until the client has paged, a resume from below the reload's last_seq on this
    // connection (a client that resumes on every gap in its live frames) is answered with
    // `reload` at once: nothing is replayed again.
    ws::send(
        &mut rws,
        json!({"type": "resume", "conversations": {conv.to_string(): k}}),
    )
    .await;
    let f = ws::next(&mut rws, Duration::from_secs(10))
        .await
        .expect("frame");
    assert_eq!(f["type"], "reload", "nothing replayed while paging: {f}");
    assert_eq!(f["last_seq"], 60);
    assert_eq!(f["replayed_to"], k);
    let resumed = ws::next_of(&mut rws, "resumed").await;
    assert_eq!(resumed["conversations"], json!([]));
    // Paged: a resume from the reload's last_seq is served as usual, and so is the next one.
    let (missed, resumed) = ws::resume(&mut rws, conv, 60).await;
    assert!(missed.is_empty());
    assert_eq!(resumed["conversations"][0]["last_seq"], 60);
    let (missed, _) = ws::resume(&mut rws, conv, 58).await;
    assert_eq!(missed.len(), 2);

    // A small resume is not cut: on a new connection the last few messages come as before.
    let (mut ws2, _) = ws::connect(&app, REP_WS, &rep).await;
    let (missed, resumed) = ws::resume(&mut ws2, conv, 57).await;
    assert_eq!(missed.len(), 3);
    assert_eq!(resumed["conversations"][0]["last_seq"], 60);
}

/// After a `reload` a client pages back through the history while new messages arrive: with
/// `current_page` each new message shifts every page by one (a paced reader of a busy
/// conversation reads the same rows again and again); the `before_seq` cursor (a documented
/// extension of QYW-34 and GZH-03) does not shift. A cursor that is not a number is 301.
#[tokio::test]
async fn history_pages_back_by_a_cursor_that_new_messages_do_not_shift() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("游标").await;
    let cust = customer(&app, rep.user_id, "o_cursor").await;
    bulk(&app, rep.user_id, cust.user_id, 60, 20).await;
    let seqs = |r: &common::Resp, wrapped: bool| -> Vec<i64> {
        let rows = if wrapped {
            &r.data()["ret_data"]
        } else {
            r.data()
        };
        rows.as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect()
    };
    let c = cust.user_id.to_string();
    let u = rep.user_id.to_string();
    let page = |before: &'static str| {
        app.get("/zhugeleida/qiyeweixin/chat").signed(&rep).query(&[
            ("customer_id", c.as_str()),
            ("length", "20"),
            ("before_seq", before),
        ])
    };
    let first = page("61").send().await.ok();
    assert_eq!(seqs(&first, false), (41..=60).rev().collect::<Vec<_>>());
    // Five new messages: page 2 by number would now start at 45; the cursor still gives 40..21.
    bulk(&app, rep.user_id, cust.user_id, 5, 20).await;
    let second = page("41").send().await.ok();
    assert_eq!(seqs(&second, false), (21..=40).rev().collect::<Vec<_>>());
    let by_number = app
        .get("/zhugeleida/qiyeweixin/chat")
        .signed(&rep)
        .query(&[
            ("customer_id", c.as_str()),
            ("length", "20"),
            ("current_page", "2"),
        ])
        .send()
        .await
        .ok();
    assert_eq!(seqs(&by_number, false), (26..=45).rev().collect::<Vec<_>>());
    // The customer's side (GZH-03) takes the same cursor.
    let theirs = app
        .get("/zhugeleida/gongzhonghao/chat")
        .signed(&cust)
        .query(&[("u_id", u.as_str()), ("length", "3"), ("before_seq", "4")])
        .send()
        .await
        .ok();
    assert_eq!(seqs(&theirs, true), vec![3, 2, 1]);
    page("abc").send().await.expect_code(301);
}
