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
