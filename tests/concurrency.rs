#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Things at once, on a multi-thread runtime (issue 9 item 7): two nodes sending into one
//! conversation, the same `client_msg_id` from two devices on two nodes, the batching
//! writers with many items, a failing item, and praise toggles inside one batch.
mod common;

use common::{customer, spawn_app, spawn_app_with, ws, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

const REP_WS: &str = "/zhugeleida/qiyeweixin/ws";
const CUST_WS: &str = "/zhugeleida/xiaochengxu/ws";

/// A second node of `a`'s installation (same database; no Redis needed for these tests).
async fn second_node(a: &TestApp) -> TestApp {
    let db = a.state.settings.database_url.clone();
    spawn_app_with(|s| s.database_url = db.clone()).await
}

/// The reply (`sent` or `error`) to the send with `cid`, skipping pushed messages.
async fn reply(s: &mut ws::Socket, cid: &str) -> Value {
    loop {
        let f = ws::next(s, Duration::from_secs(20)).await.expect("a reply");
        if (f["type"] == "sent" || f["type"] == "error") && f["client_msg_id"] == cid {
            return f;
        }
    }
}

/// Issue 8 defect 10: the loser of a concurrent retry gets `sent` + `duplicate: true`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_client_msg_id_from_two_devices_on_two_nodes_is_never_an_error() {
    let a = spawn_app().await;
    let b = second_node(&a).await;
    let (_, _, rep) = a.tenant("甲").await;
    let cust = customer(&a, rep.user_id, "o_twice").await;
    let (mut on_a, _) = ws::connect(&a, CUST_WS, &cust).await;
    let (mut on_b, _) = ws::connect(&b, CUST_WS, &cust).await;
    const ROUNDS: usize = 30;
    for round in 0..ROUNDS {
        let cid = format!("twice-{round}");
        let frame = json!({"type": "send", "client_msg_id": cid, "u_id": rep.user_id, "msg": "hi"});
        tokio::join!(
            ws::send(&mut on_a, frame.clone()),
            ws::send(&mut on_b, frame)
        );
        let (ra, rb) = tokio::join!(reply(&mut on_a, &cid), reply(&mut on_b, &cid));
        assert_eq!(
            (ra["type"].as_str(), rb["type"].as_str()),
            (Some("sent"), Some("sent")),
            "round {round}: {ra} / {rb}"
        );
        assert_eq!(ra["message"]["id"], rb["message"]["id"]);
        let dups = [&ra, &rb].iter().filter(|r| r["duplicate"] == true).count();
        assert_eq!(dups, 1, "exactly one was the copy: {ra} / {rb}");
    }
    let seqs: Vec<i64> = a
        .db()
        .await
        .query("select seq from chat_message order by seq", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seqs, (1..=ROUNDS as i64).collect::<Vec<_>>());
}

/// Two nodes, both sides sending at once into one conversation: one gap-free sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_sending_into_one_conversation_at_once_share_one_gap_free_sequence() {
    let a = spawn_app().await;
    let b = second_node(&a).await;
    let (_, _, rep) = a.tenant("甲").await;
    let cust = customer(&a, rep.user_id, "o_both").await;
    let (rep_on_a, _) = ws::connect(&a, REP_WS, &rep).await;
    let (cust_on_b, _) = ws::connect(&b, CUST_WS, &cust).await;
    const N: usize = 60;
    let side = |mut s: ws::Socket, to: Value, key: &'static str| {
        tokio::spawn(async move {
            for i in 0..N {
                let mut f = json!({"type": "send", "client_msg_id": format!("{key}{i}"), "msg": format!("{key}{i}")});
                f.as_object_mut().unwrap().insert(
                    if key == "r" {
                        "customer_id".into()
                    } else {
                        "u_id".into()
                    },
                    to.clone(),
                );
                ws::send(&mut s, f).await;
            }
            let mut seqs = vec![];
            for i in 0..N {
                let r = reply(&mut s, &format!("{key}{i}")).await;
                assert_eq!(r["type"], "sent", "{r}");
                seqs.push(r["message"]["seq"].as_i64().unwrap());
            }
            seqs
        })
    };
    let ra = side(rep_on_a, json!(cust.user_id), "r");
    let rb = side(cust_on_b, json!(rep.user_id), "c");
    let (sa, sb) = (ra.await.unwrap(), rb.await.unwrap());
    // each side's messages keep their order
    assert!(sa.windows(2).all(|w| w[0] < w[1]) && sb.windows(2).all(|w| w[0] < w[1]));
    let mut all: Vec<i64> = sa.into_iter().chain(sb).collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=2 * N as i64).collect::<Vec<_>>(),
        "gap-free, no seq twice"
    );
    let row = a
        .db()
        .await
        .query_one(
            "select count(*), max(seq), (select last_seq from conversation) from chat_message",
            &[],
        )
        .await
        .unwrap();
    let (n, max, last): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((n, max, last), (2 * N as i64, 2 * N as i64, 2 * N as i64));
}

/// The chat writer: many items at once over several lanes (conversations) and one item that
/// cannot be stored, which fails alone while the rest of its batch is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_chat_writer_stores_many_at_once_and_a_bad_item_fails_alone() {
    use zhugeleida::db::chat::NewMessage;
    let app = spawn_app_with(|s| s.chat_writers = 3).await;
    let (company, _, rep) = app.tenant("批量").await;
    let mut custs = vec![];
    for i in 0..6 {
        custs.push(
            customer(&app, rep.user_id, &format!("o_w{i}"))
                .await
                .user_id,
        );
    }
    let msg = |customer_id: i64, i: usize| NewMessage {
        company_id: company,
        user_id: rep.user_id,
        customer_id,
        send_type: 2,
        info_type: 1,
        content: json!({"info_type": 1, "msg": format!("m{i}")}),
        client_msg_id: Some(format!("w{i}")),
    };
    let mut items: Vec<NewMessage> = (0..300).map(|i| msg(custs[i % custs.len()], i)).collect();
    // no such customer: the conversation cannot be made
    items[150].customer_id = 987_654_321;
    let chat = app.state.chat.clone();
    let results = futures_util::future::join_all(items.into_iter().map(|m| {
        let chat = chat.clone();
        async move { chat.submit(m).await }
    }))
    .await;
    for (i, r) in results.iter().enumerate() {
        if i == 150 {
            assert!(r.is_err(), "the bad item fails");
        } else {
            let s = r.as_ref().unwrap_or_else(|e| panic!("item {i}: {e}"));
            assert!(!s.duplicate);
        }
    }
    let db = app.db().await;
    let rows = db
        .query(
            "select customer_id, count(*), max(seq), min(seq) from chat_message group by 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), custs.len());
    let total: i64 = rows.iter().map(|r| r.get::<_, i64>(1)).sum();
    assert_eq!(total, 299, "every good item once");
    for r in &rows {
        let (n, max, min): (i64, i64, i64) = (r.get(1), r.get(2), r.get(3));
        assert_eq!((min, max), (1, n), "gap-free per conversation");
    }
}

/// The radar writer: many events of one salesperson in few batches, praise toggled within a
/// batch in input order, ids in input order, the counters returned to each event. On one lane
/// (`ZGLD_RADAR_WRITERS=1`, documented for small machines); the default lanes run everywhere
/// else.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn radar_batches_of_many_events_toggle_praise_in_order_and_return_counters() {
    use zhugeleida::db::radar::NewEvent;
    let app = spawn_app_with(|s| s.radar_writers = 1).await;
    let (company, _, rep) = app.tenant("雷达批").await;
    let cust = customer(&app, rep.user_id, "o_praise").await;
    let ev = |action: i16| NewEvent {
        company_id: company,
        user_id: rep.user_id,
        customer_id: cust.user_id,
        action,
        source: 1,
        customer_name: "客户".into(),
    };
    // 1 查看名片, 9 点赞 (toggle): 7 praises → on at the end
    let actions: Vec<i16> = (0..40)
        .map(|i| if i % 5 == 0 || i == 39 { 9 } else { 1 })
        .collect();
    let radar = app.state.radar.clone();
    let results = futures_util::future::join_all(actions.iter().map(|&a| {
        let radar = radar.clone();
        async move { radar.store(ev(a)).await.unwrap() }
    }))
    .await;
    let ids: Vec<i64> = results.iter().map(|r| r.log.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids in input order: {ids:?}"
    );
    let praises: Vec<bool> = results.iter().filter_map(|r| r.praise_on).collect();
    assert_eq!(praises.len(), 9);
    for (i, on) in praises.iter().enumerate() {
        assert_eq!(*on, i % 2 == 0, "toggles in input order");
    }
    let last = results.last().unwrap();
    assert!(last.is_up_down);
    let db = app.db().await;
    let row = db
        .query_one(
            "select popularity, praise, forward from card_counter where user_id = $1",
            &[&rep.user_id],
        )
        .await
        .unwrap();
    let counters: (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        last.counters, counters,
        "the last event sees the counters as stored"
    );
    let n: i64 = db
        .query_one("select count(*) from action_log", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 40);
}

/// Issue 9 item 11: a chat batch whose commit succeeded but whose reply was lost is not
/// written again: messages without a client id are not doubled, those with one are not
/// answered as duplicates, and every one is pushed live once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chat_batch_that_fails_after_its_commit_is_never_written_again() {
    use zhugeleida::service::chat::{send, Party};
    let app = spawn_app().await;
    let (company, _, rep) = app.tenant("提交后").await;
    let cust = customer(&app, rep.user_id, "o_lost").await;
    let (mut rep_ws, _) = ws::connect(&app, REP_WS, &rep).await;
    app.state.chat.fail_after_commit(1);
    const N: usize = 20;
    let from = Party::Customer {
        id: cust.user_id,
        company_id: company,
    };
    let results = futures_util::future::join_all((0..N).map(|i| {
        let state = app.state.clone();
        let cid = (i % 2 == 0).then(|| format!("lost-{i}"));
        async move {
            send(
                &state,
                from,
                rep.user_id,
                json!({"info_type": 1, "msg": format!("m{i}")}),
                cid,
            )
            .await
        }
    }))
    .await;
    for (i, r) in results.iter().enumerate() {
        let s = r
            .as_ref()
            .unwrap_or_else(|e| panic!("message {i} failed: {e}"));
        assert!(!s.stored.duplicate, "message {i} reported as a duplicate");
    }
    let n: i64 = app
        .db()
        .await
        .query_one("select count(*) from chat_message", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, N as i64, "nothing written twice");
    let mut pushed = std::collections::BTreeSet::new();
    while pushed.len() < N {
        let m = ws::next_of(&mut rep_ws, "message").await;
        pushed.insert(m["message"]["seq"].as_i64().unwrap());
    }
    assert_eq!(
        pushed.into_iter().collect::<Vec<_>>(),
        (1..=N as i64).collect::<Vec<_>>()
    );
}

/// Issue 9 item 11: radar events of a batch that fails after its commit are not written twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_radar_batch_that_fails_after_its_commit_is_never_written_again() {
    use zhugeleida::db::radar::NewEvent;
    let app = spawn_app().await;
    let (company, _, rep) = app.tenant("雷达提交后").await;
    let cust = customer(&app, rep.user_id, "o_lost_radar").await;
    app.state.radar.fail_after_commit(1);
    const N: usize = 20;
    let radar = app.state.radar.clone();
    let results = futures_util::future::join_all((0..N).map(|i| {
        let radar = radar.clone();
        async move {
            radar
                .store(NewEvent {
                    company_id: company,
                    user_id: rep.user_id,
                    customer_id: cust.user_id,
                    action: if i == 3 { 9 } else { 1 },
                    source: 1,
                    customer_name: "客户".into(),
                })
                .await
        }
    }))
    .await;
    let ids: Vec<i64> = results
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.as_ref()
                .unwrap_or_else(|e| panic!("event {i} failed: {e}"))
                .log
                .id
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(results[3].as_ref().unwrap().praise_on, Some(true));
    let n: i64 = app
        .db()
        .await
        .query_one("select count(*) from action_log", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, N as i64, "no event written twice");
    let popularity: i64 = app
        .db()
        .await
        .query_one(
            "select popularity from card_counter where user_id = $1",
            &[&rep.user_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(popularity, N as i64 - 1);
}

/// Issue 9 item 11 for article events: a radar batch holding article reads, a forward and card
/// events fails after its commit; every event is answered as stored (found by its write key in
/// `article_event` / the action log), none is written twice, none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_article_event_batch_that_fails_after_its_commit_is_never_written_again() {
    use zhugeleida::db::{
        article_spread::{ArticleEvent, ArticleOp},
        radar::NewEvent,
    };
    let app = spawn_app().await;
    let (company, _, rep) = app.tenant("文章提交后").await;
    let cust = customer(&app, rep.user_id, "o_lost_article").await;
    let article: i64 = app
        .db()
        .await
        .query_one(
            "insert into article (company_id, user_id, title, status) values ($1, $2, '文章', 1)
             returning id",
            &[&company, &rep.user_id],
        )
        .await
        .unwrap()
        .get(0);
    app.state.radar.fail_after_commit(1);
    const N: usize = 20;
    let radar = app.state.radar.clone();
    // Even items read the article (the first creates the reader's node), odd items view the
    // card, item 5 forwards the article.
    let results = futures_util::future::join_all((0..N).map(|i| {
        let radar = radar.clone();
        async move {
            if i % 2 == 0 || i == 5 {
                let op = if i == 5 {
                    ArticleOp::Forward {
                        forward_type: 1,
                        pid: None,
                    }
                } else {
                    ArticleOp::Read { pid: None }
                };
                radar
                    .store_article(ArticleEvent {
                        company_id: company,
                        user_id: rep.user_id,
                        customer_id: cust.user_id,
                        article_id: article,
                        read_secs: 10,
                        op,
                    })
                    .await
                    .map(|o| (Some(o.rec.read_count), o.rec.forward_id))
            } else {
                radar
                    .store(NewEvent {
                        company_id: company,
                        user_id: rep.user_id,
                        customer_id: cust.user_id,
                        action: 1,
                        source: 1,
                        customer_name: "客户".into(),
                    })
                    .await
                    .map(|_| (None, None))
            }
        }
    }))
    .await;
    let mut reads = vec![];
    for (i, r) in results.iter().enumerate() {
        let (read_count, forward_id) = r
            .as_ref()
            .unwrap_or_else(|e| panic!("event {i} failed: {e}"));
        if i % 2 == 0 {
            reads.push(read_count.unwrap());
        }
        if i == 5 {
            assert!(
                forward_id.is_some(),
                "the forward is stored: {forward_id:?}"
            );
        }
    }
    // In submission order (one lane per salesperson), each read counted once.
    assert_eq!(reads, (1..=(N / 2) as i32).collect::<Vec<_>>());
    let db = app.db().await;
    let count = |sql: &'static str| {
        let db = &db;
        async move { db.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(
        count("select count(*) from article_event").await,
        N as i64 / 2 + 1
    );
    assert_eq!(count("select count(*) from article_forward").await, 1);
    assert_eq!(
        count("select count(*) from action_log").await,
        N as i64 / 2 - 1
    );
    assert_eq!(
        count("select read_count::int8 from article_access").await,
        N as i64 / 2
    );
    assert_eq!(
        count("select read_count from article_stat").await,
        N as i64 / 2
    );
    assert_eq!(count("select reader_count from article_stat").await, 1);
    assert_eq!(count("select forward_count from article_stat").await, 1);
    // check-counters agrees: the counters match a scan of the access tree.
    let disagreements = zhugeleida::db::article_spread::check(&db, company)
        .await
        .unwrap();
    assert!(disagreements.is_empty(), "{disagreements:?}");
}

/// A radar batch is written as one pipeline (`begin`, every statement, `commit`): a statement
/// that fails in it makes the `commit` a rollback, so nothing of the batch is half-written;
/// the writer then retries the events one by one, and only the bad one fails. Here one read
/// and one card view name a customer that does not exist (their inserts break a foreign key).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_statement_in_a_pipelined_batch_writes_nothing_of_it() {
    use zhugeleida::db::{
        article_spread::{ArticleEvent, ArticleOp},
        radar::NewEvent,
    };
    let app = spawn_app().await;
    let (company, _, rep) = app.tenant("流水线回滚").await;
    let cust = customer(&app, rep.user_id, "o_pipeline").await;
    let article: i64 = app
        .db()
        .await
        .query_one(
            "insert into article (company_id, user_id, title, status) values ($1, $2, '文章', 1)
             returning id",
            &[&company, &rep.user_id],
        )
        .await
        .unwrap()
        .get(0);
    const N: usize = 20;
    const BAD: [usize; 2] = [7, 10];
    let nobody = cust.user_id + 1_000_000;
    let radar = app.state.radar.clone();
    // Even items read the article, odd items view the card; items 7 and 10 are by nobody.
    let results = futures_util::future::join_all((0..N).map(|i| {
        let radar = radar.clone();
        let who = if BAD.contains(&i) {
            nobody
        } else {
            cust.user_id
        };
        async move {
            if i % 2 == 0 {
                radar
                    .store_article(ArticleEvent {
                        company_id: company,
                        user_id: rep.user_id,
                        customer_id: who,
                        article_id: article,
                        read_secs: 10,
                        op: ArticleOp::Read { pid: None },
                    })
                    .await
                    .map(|o| Some(o.rec.read_count))
            } else {
                radar
                    .store(NewEvent {
                        company_id: company,
                        user_id: rep.user_id,
                        customer_id: who,
                        action: 2,
                        source: 1,
                        customer_name: "客户".into(),
                    })
                    .await
                    .map(|_| None)
            }
        }
    }))
    .await;
    let mut reads = vec![];
    for (i, r) in results.iter().enumerate() {
        if BAD.contains(&i) {
            assert!(r.is_err(), "event {i} by nobody was stored");
            continue;
        }
        let read_count = r
            .as_ref()
            .unwrap_or_else(|e| panic!("event {i} failed: {e}"));
        if i % 2 == 0 {
            reads.push(read_count.unwrap());
        }
    }
    // The good reads counted once each, in submission order.
    assert_eq!(reads, (1..=(N / 2 - 1) as i32).collect::<Vec<_>>());
    let db = app.db().await;
    let count = |sql: &'static str| {
        let db = &db;
        async move { db.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(
        count("select count(*) from article_event").await,
        N as i64 / 2 - 1
    );
    assert_eq!(
        count("select count(*) from action_log").await,
        N as i64 / 2 - 1
    );
    assert_eq!(count("select count(*) from article_access").await, 1);
    assert_eq!(
        count("select read_count from article_stat").await,
        N as i64 / 2 - 1
    );
    assert_eq!(count("select reader_count from article_stat").await, 1);
    assert_eq!(
        count("select count(*) from user_customer where customer_id > 1000000").await,
        0
    );
    let disagreements = zhugeleida::db::article_spread::check(&db, company)
        .await
        .unwrap();
    assert!(disagreements.is_empty(), "{disagreements:?}");
    // Every connection went back to the pool outside a transaction: more batches work.
    for _ in 0..40 {
        radar
            .store(NewEvent {
                company_id: company,
                user_id: rep.user_id,
                customer_id: cust.user_id,
                action: 2,
                source: 1,
                customer_name: "客户".into(),
            })
            .await
            .unwrap();
    }
    assert_eq!(
        count("select count(*) from action_log").await,
        N as i64 / 2 - 1 + 40
    );
}

/// The event tables keep no foreign keys (sql/020): deleting an article, a customer or a
/// company deletes their events in the same statement, the dashboard and article counters
/// still agree with a scan, and no event row is left without its parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_an_article_a_customer_or_a_company_takes_their_events_along() {
    use zhugeleida::db::{
        article_spread::{ArticleEvent, ArticleOp},
        radar::NewEvent,
    };
    let app = spawn_app().await;
    let (company, _, rep) = app.tenant("删除事件").await;
    let c1 = customer(&app, rep.user_id, "o_gone1").await;
    let c2 = customer(&app, rep.user_id, "o_gone2").await;
    let db = app.db().await;
    let mut articles = vec![];
    for title in ["甲文", "乙文"] {
        let id: i64 = db
            .query_one(
                "insert into article (company_id, user_id, title, status) values ($1, $2, $3, 1)
                 returning id",
                &[&company, &rep.user_id, &title],
            )
            .await
            .unwrap()
            .get(0);
        articles.push(id);
    }
    let radar = app.state.radar.clone();
    for c in [&c1, &c2] {
        for action in [1, 2, 4, 6] {
            radar
                .store(NewEvent {
                    company_id: company,
                    user_id: rep.user_id,
                    customer_id: c.user_id,
                    action,
                    source: 1,
                    customer_name: "客户".into(),
                })
                .await
                .unwrap();
        }
        for &article_id in &articles {
            for op in [
                ArticleOp::Read { pid: None },
                ArticleOp::Forward {
                    forward_type: 1,
                    pid: None,
                },
            ] {
                radar
                    .store_article(ArticleEvent {
                        company_id: company,
                        user_id: rep.user_id,
                        customer_id: c.user_id,
                        article_id,
                        read_secs: 10,
                        op,
                    })
                    .await
                    .unwrap();
            }
        }
    }
    let count = |sql: &'static str, id: i64| {
        let db = &db;
        async move { db.query_one(sql, &[&id]).await.unwrap().get::<_, i64>(0) }
    };
    let agree = |when: &'static str| {
        let db = &db;
        let users = [0, rep.user_id];
        async move {
            let today = zhugeleida::domain::time::today();
            for uid in users {
                let counted = zhugeleida::db::dashboard::windows(db, company, uid, today)
                    .await
                    .unwrap();
                let scanned = zhugeleida::db::dashboard::windows_by_scan(db, company, uid, today)
                    .await
                    .unwrap();
                assert_eq!(counted, scanned, "{when}: user {uid}");
            }
            let spread = zhugeleida::db::article_spread::check(db, company)
                .await
                .unwrap();
            assert!(spread.is_empty(), "{when}: {spread:?}");
            let dangling = zhugeleida::db::radar::dangling(db, company).await.unwrap();
            assert!(dangling.is_empty(), "{when}: {dangling:?}");
        }
    };
    agree("before the deletes").await;
    assert_eq!(
        count(
            "select count(*) from article_event where article_id = $1",
            articles[0]
        )
        .await,
        4
    );

    // The article, through the admin's delete (ADM-68).
    zhugeleida::db::article::delete(&db, company, articles[0])
        .await
        .unwrap();
    for table in [
        "select count(*) from article_event where article_id = $1",
        "select count(*) from article_forward where article_id = $1",
    ] {
        assert_eq!(count(table, articles[0]).await, 0, "{table}");
    }
    assert_eq!(
        count(
            "select count(*) from article_event where article_id = $1",
            articles[1]
        )
        .await,
        4,
        "the other article keeps its events"
    );
    agree("after the article's delete").await;

    // A customer (a plain SQL delete: the trigger holds whoever deletes; no endpoint deletes
    // one customer, they go with their company). The article counters follow too (sql/021).
    db.execute("delete from customer where id = $1", &[&c1.user_id])
        .await
        .unwrap();
    for table in [
        "select count(*) from action_log where customer_id = $1",
        "select count(*) from article_event where customer_id = $1",
        "select count(*) from article_forward where customer_id = $1",
    ] {
        assert_eq!(count(table, c1.user_id).await, 0, "{table}");
    }
    assert_eq!(
        count(
            "select count(*) from action_log where customer_id = $1",
            c2.user_id
        )
        .await,
        4
    );
    agree("after the customer's delete").await;

    // The company (after its users, as the operator's delete requires): its customers go by
    // cascade, and their events with them.
    for r in db
        .query(
            "select id from user_profile where company_id = $1",
            &[&company],
        )
        .await
        .unwrap()
    {
        zhugeleida::db::user::delete(&db, r.get(0)).await.unwrap();
    }
    zhugeleida::db::company::delete(&db, company).await.unwrap();
    for table in [
        "select count(*) from action_log where company_id = $1",
        "select count(*) from article_event where company_id = $1",
        "select count(*) from article_forward where company_id = $1",
    ] {
        assert_eq!(count(table, company).await, 0, "{table}");
    }
}
