#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Two server nodes sharing PostgreSQL and Redis: delivery across nodes, and a Redis
//! outage mid-conversation that loses nothing.
mod common;

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{customer, spawn_app_with, ws, TestApp};
use serde_json::json;

const REP_WS: &str = "/zhugeleida/qiyeweixin/ws";
const CUST_WS: &str = "/zhugeleida/xiaochengxu/ws";

/// A private Redis on its own port, so stopping it touches no other test.
struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    fn start(port: u16) -> Redis {
        let mut r = Redis { port, child: None };
        r.up();
        r
    }
    fn up(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("private redis did not start");
    }
    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.down();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn two_nodes(redis_url: &str) -> (TestApp, TestApp) {
    let a = spawn_app_with(|s| s.redis_url = Some(redis_url.to_owned())).await;
    let db = a.state.settings.database_url.clone();
    let b = spawn_app_with(|s| {
        s.redis_url = Some(redis_url.to_owned());
        s.database_url = db.clone();
    })
    .await;
    // both subscriptions live before anything is sent
    for _ in 0..200 {
        if a.state.hub.bridge_up() && b.state.hub.bridge_up() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(a.state.hub.bridge_up() && b.state.hub.bridge_up());
    (a, b)
}

#[tokio::test]
async fn messages_cross_nodes_both_ways() {
    let redis = Redis::start(free_port());
    let (a, b) = two_nodes(&redis.url()).await;
    let (_, _, rep) = a.tenant("甲").await;
    let cust = customer(&a, rep.user_id, "o_alice").await;
    let (mut rep_on_a, _) = ws::connect(&a, REP_WS, &rep).await;
    let (mut cust_on_b, _) = ws::connect(&b, CUST_WS, &cust).await;
    ws::send(
        &mut cust_on_b,
        json!({"type": "send", "client_msg_id": "1", "u_id": rep.user_id, "msg": "from b"}),
    )
    .await;
    assert_eq!(
        ws::next_of(&mut rep_on_a, "message").await["message"]["msg"],
        "from b"
    );
    ws::send(
        &mut rep_on_a,
        json!({"type": "send", "client_msg_id": "2", "customer_id": cust.user_id, "msg": "from a"}),
    )
    .await;
    let m = ws::next_of(&mut cust_on_b, "message").await;
    // the customer's own message came first (its own echo), then the reply
    let m = if m["message"]["msg"] == "from b" {
        ws::next_of(&mut cust_on_b, "message").await
    } else {
        m
    };
    assert_eq!(m["message"]["msg"], "from a");
    assert_eq!(m["message"]["seq"], 2);
    // a polling send on node b reaches the socket on node a
    let c = json!({"info_type": 1, "msg": "poll on b"}).to_string();
    b.post("/zhugeleida/gongzhonghao/chat/send_msg/0")
        .signed(&cust)
        .form(&[("u_id", &rep.user_id.to_string()), ("content", &c)])
        .send()
        .await
        .ok();
    let m = ws::next_of(&mut rep_on_a, "message").await;
    let m = if m["message"]["msg"] == "from a" {
        ws::next_of(&mut rep_on_a, "message").await
    } else {
        m
    };
    assert_eq!(m["message"]["msg"], "poll on b");
    assert_eq!(m["message"]["seq"], 3);
}

#[tokio::test]
async fn redis_stopped_and_restarted_mid_conversation_loses_nothing() {
    let mut redis = Redis::start(free_port());
    let (a, b) = two_nodes(&redis.url()).await;
    let (_, _, rep) = a.tenant("甲").await;
    let cust = customer(&a, rep.user_id, "o_bob").await;
    let u = rep.user_id.to_string();
    let say = |t: &str| json!({"info_type": 1, "msg": t}).to_string();
    let (mut rep_on_a, _) = ws::connect(&a, REP_WS, &rep).await;
    b.post("/zhugeleida/gongzhonghao/chat/send_msg/0")
        .signed(&cust)
        .form(&[("u_id", &u), ("content", &say("before"))])
        .send()
        .await
        .ok();
    let first = ws::next_of(&mut rep_on_a, "message").await["message"].clone();
    assert_eq!(first["seq"], 1);
    let conv = first["conversation_id"].as_i64().unwrap();

    redis.down();
    for _ in 0..200 {
        if !a.state.hub.bridge_up() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!a.state.hub.bridge_up(), "node a noticed the outage");
    // sends go on during the outage: stored, delivered locally on b, not pushed to a
    for t in ["during 1", "during 2"] {
        b.post("/zhugeleida/gongzhonghao/chat/send_msg/0")
            .signed(&cust)
            .form(&[("u_id", &u), ("content", &say(t))])
            .send()
            .await
            .ok();
    }
    // a rep socket on node a still gets node a's own local traffic
    let (mut cust_on_a, _) = ws::connect(&a, CUST_WS, &cust).await;
    ws::send(
        &mut cust_on_a,
        json!({"type": "send", "client_msg_id": "x", "u_id": rep.user_id, "msg": "local on a"}),
    )
    .await;
    ws::next_of(&mut cust_on_a, "sent").await;

    redis.up();
    // node a resubscribes and tells its clients to resync
    let mut saw_resync = false;
    let mut live = vec![];
    for _ in 0..20 {
        match ws::next(&mut rep_on_a, Duration::from_secs(10)).await {
            Some(f) if f["type"] == "resync" => {
                saw_resync = true;
                break;
            }
            Some(f) if f["type"] == "message" => live.push(f["message"]["seq"].as_i64().unwrap()),
            Some(_) => {}
            None => break,
        }
    }
    assert!(saw_resync, "no resync after Redis came back");
    assert_eq!(
        live,
        vec![4],
        "only node a's local message arrived live during the outage"
    );
    let (missed, _) = ws::resume(&mut rep_on_a, conv, 1).await;
    let seqs: Vec<i64> = missed.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        vec![2, 3, 4],
        "every message since seq 1, no gap, no duplicate"
    );
    // and the bridge works again
    b.post("/zhugeleida/gongzhonghao/chat/send_msg/0")
        .signed(&cust)
        .form(&[("u_id", &u), ("content", &say("after"))])
        .send()
        .await
        .ok();
    assert_eq!(
        ws::next_of(&mut rep_on_a, "message").await["message"]["seq"],
        5
    );
    let n: i64 = a
        .db()
        .await
        .query_one("select count(*) from chat_message", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 5);
}

#[tokio::test]
async fn radar_events_reach_the_salesperson_on_another_node() {
    let redis = Redis::start(free_port());
    let (a, b) = two_nodes(&redis.url()).await;
    let (_, _, rep) = a.tenant("雷达跨节点").await;
    let cust = customer(&b, rep.user_id, "o_far").await;
    let (mut rep_on_a, _) = ws::connect(&a, REP_WS, &rep).await;
    b.get("/zhugeleida/xiaochengxu/mingpian/forward")
        .signed(&cust)
        .query(&[("uid", &rep.user_id.to_string())])
        .send()
        .await
        .ok();
    let ev = ws::next_of(&mut rep_on_a, "radar").await;
    assert_eq!(ev["event"]["action"], 6);
    assert_eq!(ev["event"]["customer_id"], cust.user_id);
}

#[tokio::test]
async fn a_change_on_one_node_reaches_the_other_nodes_auth_cache() {
    let redis = Redis::start(free_port());
    let (a, b) = two_nodes(&redis.url()).await;
    let (_, admin, rep) = a.tenant("缓存").await;
    const RULES: &str = "/zhugeleida/admin/login_rules";
    b.get(RULES).signed(&rep).send().await.ok();
    assert!(
        b.state.auth_cache.holds_staff(rep.user_id),
        "node b caches the caller"
    );
    a.post(&format!(
        "/zhugeleida/admin/user/update_status/{}",
        rep.user_id
    ))
    .signed(&admin)
    .form(&[("status", "2")])
    .send()
    .await
    .ok();
    b.settle_staff(rep.user_id).await;
    // disabling ends the user's sessions (ADM-04): their tokens answer 306 账户未启用
    let r = b.get(RULES).signed(&rep).send().await;
    assert_eq!(
        r.body,
        json!({"code": 306, "msg": "账户未启用", "data": {}})
    );
}

#[tokio::test]
async fn a_quiet_poll_on_one_node_sees_a_message_sent_on_another() {
    let redis = Redis::start(free_port());
    let (a, b) = two_nodes(&redis.url()).await;
    let (_, _, rep) = a.tenant("轮询").await;
    let cust = customer(&b, rep.user_id, "o_poll").await;
    let poll = || async {
        a.get("/zhugeleida/qiyeweixin/chat/getmsg/0")
            .signed(&rep)
            .query(&[("customer_id", &cust.user_id.to_string())])
            .send()
            .await
            .ok()
            .data()
            .clone()
    };
    // Nothing yet: node a now knows the conversation is quiet.
    assert_eq!(poll().await, json!([]));
    assert_eq!(poll().await, json!([]));
    assert!(a.state.hub.is_quiet(rep.user_id, cust.user_id, true));
    let (mut rep_on_a, _) = ws::connect(&a, REP_WS, &rep).await;
    let c = json!({"info_type": 1, "msg": "on b"}).to_string();
    b.post("/zhugeleida/gongzhonghao/chat/send_msg/0")
        .signed(&cust)
        .form(&[("u_id", &rep.user_id.to_string()), ("content", &c)])
        .send()
        .await
        .ok();
    // Once node a has heard of it (its socket got it), the very next poll returns it.
    ws::next_of(&mut rep_on_a, "message").await;
    assert!(!a.state.hub.is_quiet(rep.user_id, cust.user_id, true));
    let got = poll().await;
    assert_eq!(got[0]["msg"], "on b");
    assert_eq!(poll().await, json!([]));
}

/// Issue 8 defect 1: two installations (two databases) on one Redis never see each other's
/// frames, even for equal ids; each test app gets its own namespace from its database.
#[tokio::test]
async fn installations_sharing_one_redis_never_exchange_frames() {
    use futures_util::StreamExt;
    let url = common::redis_url();
    let a = spawn_app_with(|s| s.redis_url = Some(url.clone())).await;
    let b = spawn_app_with(|s| s.redis_url = Some(url.clone())).await;
    for _ in 0..500 {
        if a.state.hub.bridge_up() && b.state.hub.bridge_up() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(a.state.hub.bridge_up() && b.state.hub.bridge_up());
    let (pa, pb) = (a.state.redis_ns.prefix(), b.state.redis_ns.prefix());
    assert_ne!(
        pa, pb,
        "each installation (each test database) has its own namespace"
    );
    assert!(pa.contains(&a.db_name) && pb.contains(&b.db_name));

    // the same ids in both installations: salesperson 3 of one is salesperson 3 of the other
    let (_, _, rep_a) = a.tenant("甲").await;
    let (_, _, rep_b) = b.tenant("甲").await;
    assert_eq!(rep_a.user_id, rep_b.user_id);
    let cust_a = customer(&a, rep_a.user_id, "o_a").await;
    let cust_b = customer(&b, rep_b.user_id, "o_b").await;
    assert_eq!(cust_a.user_id, cust_b.user_id);
    let (mut rep_on_a, _) = ws::connect(&a, REP_WS, &rep_a).await;
    let (mut cust_on_a, _) = ws::connect(&a, CUST_WS, &cust_a).await;
    let (mut rep_on_b, _) = ws::connect(&b, REP_WS, &rep_b).await;

    // a witness of installation b's channel: when it has seen b's frames, Redis has
    // published them to every subscriber of that channel
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut witness = client.get_async_pubsub().await.unwrap();
    witness
        .subscribe(b.state.redis_ns.key(zhugeleida::hub::bridge::CHANNEL))
        .await
        .unwrap();

    // installation b: a chat message each way and a radar event, all for rep 3 / customer 3
    let say = json!({"info_type": 1, "msg": "only for b"}).to_string();
    b.post("/zhugeleida/gongzhonghao/chat/send_msg/0")
        .signed(&cust_b)
        .form(&[("u_id", &rep_b.user_id.to_string()), ("content", &say)])
        .send()
        .await
        .ok();
    b.post("/zhugeleida/qiyeweixin/chat/send_msg/0")
        .signed(&rep_b)
        .form(&[
            ("customer_id", &cust_b.user_id.to_string()),
            ("msg", "b to b"),
        ])
        .send()
        .await
        .ok();
    b.get("/zhugeleida/xiaochengxu/mingpian/forward")
        .signed(&cust_b)
        .query(&[("uid", &rep_b.user_id.to_string())])
        .send()
        .await
        .ok();
    // b's own salesperson has them
    assert_eq!(
        ws::next_of(&mut rep_on_b, "message").await["message"]["msg"],
        "only for b"
    );
    assert_eq!(
        ws::next_of(&mut rep_on_b, "radar").await["event"]["action"],
        6
    );
    {
        let mut seen = witness.on_message();
        for _ in 0..3 {
            tokio::time::timeout(Duration::from_secs(10), seen.next())
                .await
                .expect("b's frames went through Redis")
                .unwrap();
        }
    }
    // then a marker on a's own channel: whatever of b's reached a would be before it
    let mut pc = client.get_multiplexed_async_connection().await.unwrap();
    let marker = "test-node\nu{U},c{C}\n{\"type\":\"marker\"}"
        .replace("{U}", &rep_a.user_id.to_string())
        .replace("{C}", &cust_a.user_id.to_string());
    let _: i64 = redis::cmd("PUBLISH")
        .arg(a.state.redis_ns.key(zhugeleida::hub::bridge::CHANNEL))
        .arg(marker)
        .query_async(&mut pc)
        .await
        .unwrap();
    for s in [&mut rep_on_a, &mut cust_on_a] {
        let f = ws::next(s, Duration::from_secs(10)).await.expect("a frame");
        assert_eq!(
            f["type"], "marker",
            "installation a received b's frame: {f}"
        );
    }

    // (spent write signatures live in PostgreSQL, not Redis: src/auth/replay.rs)
}
