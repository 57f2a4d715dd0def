//! The baseline: a bare WebSocket relay in its own process. The same work on the wire as the
//! server: three frames per message (the message to the salesperson, its echo to every
//! connection of the sending customer, and the `sent` ack carrying the message row), of
//! about the server's size, but no signature check, no database and no Redis: what the
//! network and the WebSocket layer alone cost on this machine.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use dashmap::DashMap;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::{net::TcpListener, sync::mpsc};
use tokio_tungstenite::tungstenite::{
    handshake::server::{Request, Response},
    Message, Utf8Bytes,
};

type Peers = Arc<DashMap<i64, Vec<(u64, mpsc::Sender<Utf8Bytes>)>>>;

/// Serves the relay on `port` until killed (run as its own process, so its sockets do not
/// count against the load generator's open-files limit).
#[allow(clippy::result_large_err)] // the handshake callback's signature is tungstenite's
pub async fn serve(port: u16) -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let reps: Peers = Arc::new(DashMap::new());
    let custs: Peers = Arc::new(DashMap::new());
    let seq = Arc::new(AtomicU64::new(1));
    let ids = Arc::new(AtomicU64::new(1));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("relay accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        {
            let (reps, custs, ids, seq) = (reps.clone(), custs.clone(), ids.clone(), seq.clone());
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let mut path = String::new();
                let cb = |req: &Request, resp: Response| {
                    path = req.uri().to_string();
                    Ok(resp)
                };
                let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, cb).await else {
                    return;
                };
                let user_id: i64 = path
                    .split(['?', '&'])
                    .find_map(|kv| kv.strip_prefix("user_id="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let is_rep = path.contains("/qiyeweixin/");
                let (mut w, mut r) = ws.split();
                let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(256);
                let conn = ids.fetch_add(1, Ordering::Relaxed);
                let index = if is_rep { &reps } else { &custs };
                index.entry(user_id).or_default().push((conn, tx.clone()));
                let writer = tokio::spawn(async move {
                    while let Some(f) = rx.recv().await {
                        if w.send(Message::Text(f)).await.is_err() {
                            break;
                        }
                    }
                });
                let _ = tx.try_send(Utf8Bytes::from_static(
                    r#"{"type":"hello","conversations":[]}"#,
                ));
                while let Some(Ok(m)) = r.next().await {
                    let Message::Text(t) = m else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                        continue;
                    };
                    if v["type"] != "send" {
                        continue;
                    }
                    let rep = v["u_id"].as_i64().unwrap_or(0);
                    let n = seq.fetch_add(1, Ordering::Relaxed);
                    // A row shaped like the server's (render::live).
                    let row = json!({"id": n, "conversation_id": user_id, "seq": n, "send_type": 2,
                        "customer_id": user_id, "user_id": rep, "msg": v["msg"], "info_type": 1,
                        "client_msg_id": v["client_msg_id"], "customer": "cust", "customer_headimgurl": "",
                        "user_avatar": "", "create_date": "2026-12-01 10:00:00"});
                    let frame =
                        Utf8Bytes::from(json!({"type": "message", "message": row}).to_string());
                    for index in [&reps, &custs] {
                        let who = if std::ptr::eq(index, &reps) {
                            rep
                        } else {
                            user_id
                        };
                        if let Some(list) = index.get(&who) {
                            for (_, s) in list.iter() {
                                let _ = s.try_send(frame.clone());
                            }
                        }
                    }
                    let ack = json!({"type": "sent", "client_msg_id": v["client_msg_id"], "duplicate": false, "message": row})
                        .to_string();
                    let _ = tx.try_send(Utf8Bytes::from(ack));
                }
                if let Some(mut l) = index.get_mut(&user_id) {
                    l.retain(|(id, _)| *id != conn);
                }
                writer.abort();
            });
        }
    }
}
