#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The chaos suite's short version (docs/RELIABILITY.md; the full one is `loadtest chaos`):
//! two server processes (this build's binary) on one database and a private Redis, 20
//! chatting WebSocket clients; five SIGKILLs of alternating nodes (clients reconnect to the
//! other node and resume by seq), then Redis down for a few seconds. Nothing acknowledged
//! may be lost, no seq may be missing for any client, nothing stored twice — checked against
//! PostgreSQL. The harness is the load generator's own (`loadtest/src/chaos_core.rs`).

#[allow(dead_code)]
#[path = "../loadtest/src/chaos_core.rs"]
mod chaos_core;

use std::time::Duration;

use chaos_core::{kill_cycles, redis_outage, settle_and_verify, Fleet, Infra, Nodes, PrivateRedis};

/// The PostgreSQL server of the test databases, without a database name.
fn pg_server() -> String {
    let url = std::env::var("ZGLD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    match url.rfind('/') {
        Some(i) if url[..i].contains("://") && i > url.find("://").unwrap() + 2 => {
            url[..i].to_owned()
        }
        _ => url,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_kills_and_a_redis_outage_lose_nothing() {
    let infra = Infra::new(env!("CARGO_BIN_EXE_zhugeleida"), &pg_server(), "ci").unwrap();
    infra.prepare(10).await.unwrap();
    let mut redis = PrivateRedis::start(infra.redis_port).await.unwrap();
    let mut nodes = Nodes::new(&infra);
    nodes.start(0).await.unwrap();
    nodes.start(1).await.unwrap();
    let fleet = Fleet::new(infra.ports, 10, 2.0);
    let tasks = fleet.spawn();
    assert!(fleet.wait_connected(Duration::from_secs(30)).await);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let kills = kill_cycles(&mut nodes, &fleet, 5, Duration::from_millis(700))
        .await
        .unwrap();
    let outage = redis_outage(&mut redis, &infra, &fleet, Duration::from_secs(3))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let verdict = settle_and_verify(&infra, &fleet, None, Duration::from_secs(30))
        .await
        .unwrap();

    fleet.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    nodes.stop_all();
    drop(redis);
    let report = serde_json::json!({"kills": kills, "outage": outage, "verdict": verdict.json()});
    assert!(verdict.acked > 0, "nothing was sent: {report:#}");
    assert_eq!(verdict.unacked_left, 0, "{report:#}");
    assert_eq!(
        (verdict.lost, verdict.gaps, verdict.duplicates),
        (0, 0, 0),
        "lost, gaps, duplicates: {report:#}"
    );
    let _ = infra.drop_db().await;
}

/// A client told to `reload` instead of being resumed (here every resume that has anything to
/// replay: `ZGLD_RESUME_MAX_BYTES=1`) reads what it missed from the chat history over HTTP
/// (QYW-34 for salespeople, the mini program's GZH-03 for customers) and misses nothing
/// (issue 8, scenario 3 `--slow-stay-away`, where the chaos client counted the seqs it never
/// fetched as gaps).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_told_to_reload_read_the_history_and_miss_nothing() {
    let mut infra = Infra::new(env!("CARGO_BIN_EXE_zhugeleida"), &pg_server(), "reload").unwrap();
    infra
        .extra_env
        .push(("ZGLD_RESUME_MAX_BYTES".into(), "1".into()));
    infra.prepare(6).await.unwrap();
    let _redis = PrivateRedis::start(infra.redis_port).await.unwrap();
    let mut nodes = Nodes::new(&infra);
    nodes.start(0).await.unwrap();
    nodes.start(1).await.unwrap();
    let fleet = Fleet::new(infra.ports, 6, 4.0);
    let tasks = fleet.spawn();
    assert!(fleet.wait_connected(Duration::from_secs(30)).await);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let kills = kill_cycles(&mut nodes, &fleet, 3, Duration::from_millis(700))
        .await
        .unwrap();
    // A reload after a kill may find nothing to read: what the resume left out can be the
    // client's own unacknowledged sends, acknowledged again when it sends them once more. A
    // customer away for a second surely misses what its salesperson sends meanwhile (4 a
    // second), and its resume is answered with `reload`: that it must read from the history.
    let away = &fleet.clients[1];
    assert!(!away.rep);
    away.away.store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    away.away.store(false, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let verdict = settle_and_verify(&infra, &fleet, None, Duration::from_secs(30))
        .await
        .unwrap();

    fleet.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    nodes.stop_all();
    let report = serde_json::json!({"kills": kills, "verdict": verdict.json()});
    assert!(
        verdict.reloads > 0,
        "no client was told to reload: {report:#}"
    );
    assert!(verdict.history_rows > 0, "no history was read: {report:#}");
    assert_eq!(
        (verdict.lost, verdict.gaps, verdict.duplicates),
        (0, 0, 0),
        "lost, gaps, duplicates: {report:#}"
    );
    let _ = infra.drop_db().await;
}

/// Rolling restarts (issue 8, chaos suite): a client that sends its next request on a kept-
/// alive connection just as the node starts draining (SIGTERM) gets an answer — with
/// `connection: close`, so it opens its next connection elsewhere — rather than a connection
/// closed under its request. (Found by `loadtest chaos --scenario term`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_on_a_kept_alive_connection_as_the_node_drains_is_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let infra = Infra::new(env!("CARGO_BIN_EXE_zhugeleida"), &pg_server(), "drain").unwrap();
    let mut settings = zhugeleida::config::Settings::local_default();
    settings.bind = "127.0.0.1:0".parse().unwrap();
    settings.database_url = infra.db_url();
    settings.db_pool_size = 2;
    let app = zhugeleida::startup::Application::build(settings)
        .await
        .unwrap();
    let port = app.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));

    let req = b"GET /healthz HTTP/1.1\r\nhost: node\r\n\r\n";
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    conn.write_all(req).await.unwrap();
    let mut first = Vec::new();
    while !String::from_utf8_lossy(&first).ends_with("\r\n\r\nok") {
        let mut buf = [0u8; 1024];
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "no answer to the first request");
        first.extend_from_slice(&buf[..n]);
    }

    // SIGTERM: the node stops accepting; the kept-alive connection is idle.
    stop.send(()).unwrap();
    for _ in 0..1000 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;

    let _ = conn.write_all(req).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(
        answer.starts_with("http/1.1 200"),
        "the request sent as the node drained got no answer: {answer:?}"
    );
    assert!(answer.contains("connection: close"), "{answer}");
    let _ = tokio::time::timeout(Duration::from_secs(15), server).await;
    let _ = infra.drop_db().await;
}
