//! Redis pub/sub between nodes. Outbound frames are pipelined by one publisher task; one
//! subscriber task delivers the other nodes' frames locally. When the subscription drops,
//! local delivery goes on, the subscriber reconnects with backoff, and once it is back every
//! client on this node is told to resync (it may have missed other nodes' events meanwhile).

use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{Hub, Target};

/// The channel every node of an installation publishes to and subscribes on, inside the
/// installation's Redis namespace (`RedisNs::key(CHANNEL)`).
pub const CHANNEL: &str = "hub";

/// A frame on its way to the other nodes.
#[derive(Debug)]
pub struct Outbound {
    pub targets: Vec<Target>,
    pub frame: Utf8Bytes,
}

/// `node\ntargets\nframe`, targets as `u12,c5`.
fn encode(node: &str, o: &Outbound) -> String {
    let mut s = String::with_capacity(node.len() + o.frame.len() + 16 * o.targets.len() + 2);
    s.push_str(node);
    s.push('\n');
    for (i, t) in o.targets.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        match t {
            Target::User(id) => s.push_str(&format!("u{id}")),
            Target::Customer(id) => s.push_str(&format!("c{id}")),
        }
    }
    s.push('\n');
    s.push_str(o.frame.as_str());
    s
}

fn decode(s: &str) -> Option<(&str, Vec<Target>, &str)> {
    let mut parts = s.splitn(3, '\n');
    let node = parts.next()?;
    let targets = parts
        .next()?
        .split(',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let (kind, id) = t.split_at(1);
            let id: i64 = id.parse().ok()?;
            match kind {
                "u" => Some(Target::User(id)),
                "c" => Some(Target::Customer(id)),
                _ => None,
            }
        })
        .collect::<Option<Vec<_>>>()?;
    Some((node, targets, parts.next()?))
}

/// Starts the publisher and the subscriber; returns the outbound queue for the hub.
pub fn channel(capacity: usize) -> (mpsc::Sender<Outbound>, mpsc::Receiver<Outbound>) {
    mpsc::channel(capacity)
}

/// Publishes outbound frames, pipelining whatever is queued.
pub async fn run_publisher(
    hub: Hub,
    client: redis::Client,
    mut rx: mpsc::Receiver<Outbound>,
    channel: String,
) {
    let mut conn: Option<redis::aio::MultiplexedConnection> = None;
    let mut batch = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, 256).await > 0 {
        if conn.is_none() {
            match client.get_multiplexed_async_connection().await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, dropped = batch.len(), "hub bridge: Redis unreachable, frames stay local")
                }
            }
        }
        if let Some(c) = conn.as_mut() {
            let mut pipe = redis::pipe();
            for o in &batch {
                pipe.publish(&channel, encode(hub.node_id(), o)).ignore();
            }
            if let Err(e) = pipe.query_async::<()>(c).await {
                tracing::warn!(error = %e, dropped = batch.len(), "hub bridge: publish failed, frames stay local");
                conn = None;
            }
        }
        batch.clear();
    }
}

/// The wait before the next attempt to resubscribe, after waiting `d`: doubling from 100 ms
/// up to 1 s, so that a node is back on the bridge (and its clients told to resync) within
/// about a second of Redis's return, however long the outage (docs/RELIABILITY.md). A refused
/// connection a second costs nothing.
fn next_backoff(d: Duration) -> Duration {
    (d * 2).min(Duration::from_secs(1))
}

/// Subscribes and delivers other nodes' frames here, reconnecting forever.
pub async fn run_subscriber(hub: Hub, client: redis::Client, channel: String) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    hub.set_bridge_up(true);
                    backoff = Duration::from_millis(100);
                    if !first {
                        tracing::info!("hub bridge: resubscribed, asking clients to resync");
                        hub.broadcast_resync();
                    }
                    let mut stream = pubsub.on_message();
                    while let Some(msg) = stream.next().await {
                        let Ok(payload) = msg.get_payload::<String>() else {
                            continue;
                        };
                        match decode(&payload) {
                            Some((node, _, _)) if node == hub.node_id() => {}
                            Some((_, targets, frame)) => {
                                hub.deliver_local(&targets, &Utf8Bytes::from(frame.to_owned()))
                            }
                            None => tracing::warn!("hub bridge: undecodable message"),
                        }
                    }
                    hub.set_bridge_up(false);
                    tracing::warn!("hub bridge: subscription lost, reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "hub bridge: subscribe failed"),
            },
            Err(e) => tracing::warn!(error = %e, "hub bridge: Redis unreachable"),
        }
        hub.set_bridge_up(false);
        first = false;
        tokio::time::sleep(backoff).await;
        backoff = next_backoff(backoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_the_wire_format() {
        let o = Outbound {
            targets: vec![Target::User(12), Target::Customer(5)],
            frame: Utf8Bytes::from_static("{\"a\":\"x\ny\"}"),
        };
        let s = encode("node1", &o);
        let (node, targets, frame) = decode(&s).unwrap();
        assert_eq!(node, "node1");
        assert_eq!(targets, vec![Target::User(12), Target::Customer(5)]);
        assert_eq!(frame, "{\"a\":\"x\ny\"}");
        assert!(decode("n\nq1\n{}").is_none());
    }

    /// A node catches up within 2 s of Redis's return (issue 8, chaos suite): however long
    /// Redis was away, the subscriber tries again at least once a second.
    #[test]
    fn the_subscriber_retries_at_least_once_a_second_however_long_redis_is_away() {
        let mut d = Duration::from_millis(100);
        for _ in 0..100 {
            d = next_backoff(d);
            assert!(d <= Duration::from_secs(1), "{d:?}");
        }
        assert!(d >= Duration::from_millis(500), "no busy loop: {d:?}");
    }
}
