//! One LISTEN connection kept up for the life of the node, shared by the per-node caches that
//! PostgreSQL NOTIFY keeps in step (auth records, cards, customer content). `live(true)` once
//! the subscription is confirmed, `live(false)` whenever it is lost (a cache is trusted only
//! while it is live); `note` gets each notification's payload. Reconnects with backoff.

use std::time::Duration;

use futures_util::StreamExt;

/// Runs forever: LISTENs on `channel`; `what` names the cache in logs.
pub async fn follow(
    database_url: String,
    channel: &'static str,
    what: &'static str,
    live: impl Fn(bool) + Send + 'static,
    note: impl Fn(&str) + Send + 'static,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match tokio_postgres::connect(&database_url, tokio_postgres::NoTls).await {
            Ok((client, mut conn)) => {
                let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
                // The connection must be polled for LISTEN to complete.
                let sql = format!("listen {channel}");
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
                    live(true);
                    while let Some(m) = messages.next().await {
                        match m {
                            Ok(tokio_postgres::AsyncMessage::Notification(n)) => note(n.payload()),
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, cache = what, "LISTEN connection failed");
                                break;
                            }
                        }
                    }
                }
                live(false);
                drop(client);
            }
            Err(e) => tracing::warn!(error = %e, cache = what, "cannot connect for LISTEN"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
