//! Keeps every node's cached cards (XCX-02, `People::card`) in step with PostgreSQL: triggers
//! of sql/010 `NOTIFY zgld_card` when a card's content, its photos or its company's name
//! change; each node LISTENs on its own connection and drops the card. The cache is trusted
//! only while the subscription is up (the pattern of src/auth/cache.rs).

use std::time::Duration;

use futures_util::StreamExt;

use crate::service::chat::people::People;

/// The NOTIFY channel of sql/010.
pub const CHANNEL: &str = "zgld_card";

/// Runs for the life of the node.
pub async fn listen(people: People, database_url: String) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match tokio_postgres::connect(&database_url, tokio_postgres::NoTls).await {
            Ok((client, mut conn)) => {
                let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
                let sql = format!("listen {CHANNEL}");
                let subscribed = {
                    let listen = client.batch_execute(&sql);
                    tokio::pin!(listen);
                    loop {
                        tokio::select! {
                            r = &mut listen => break r.is_ok(),
                            m = messages.next() => match m {
                                Some(Ok(_)) => {}
                                _ => break false,
                            },
                        }
                    }
                };
                if subscribed {
                    backoff = Duration::from_millis(200);
                    people.set_cards_live(true);
                    while let Some(m) = messages.next().await {
                        match m {
                            Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                                people.apply_card_change(n.payload())
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "card cache: LISTEN connection failed");
                                break;
                            }
                        }
                    }
                }
                people.set_cards_live(false);
                drop(client);
            }
            Err(e) => tracing::warn!(error = %e, "card cache: cannot connect for LISTEN"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
