//! One WebSocket session: registers with the hub, writes queued frames, reads the client's
//! commands (docs/realtime.md). The hub never waits on it; the session's own replies (acks,
//! resume batches) are written directly, so they never compete for the hub's queue.

use std::{
    collections::HashMap,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    catchup::{CatchUp, Via},
    close, Conn, Target,
};
use crate::{
    db::chat,
    error::ApiError,
    service::chat::{self as chat_service, Party},
    state::AppState,
};

/// Server ping interval; a client silent for longer than `IDLE_LIMIT` is dropped.
const PING_EVERY: Duration = Duration::from_secs(30);
const IDLE_LIMIT: Duration = Duration::from_secs(90);
/// Messages replayed per conversation on resume before a full reload is asked for.
pub const RESUME_LIMIT: i64 = 500;
/// Messages of a resume fetched, rendered and written at a time. Between pages the session
/// yields, so a long resume (a slow consumer coming back to hundreds of large messages) holds
/// neither a worker thread nor its whole backlog in memory (docs/RELIABILITY.md, scenario 3).
const RESUME_PAGE: i64 = 32;

/// Who is on the other end of the socket.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub party: Party,
    /// The auth session that signed the upgrade; when it ends the socket closes with 4003.
    pub session: i64,
}

impl Peer {
    fn target(&self) -> Target {
        match self.party {
            Party::User { id, .. } => Target::User(id),
            Party::Customer { id, .. } => Target::Customer(id),
        }
    }
    fn is_user(&self) -> bool {
        matches!(self.party, Party::User { .. })
    }
    fn id(&self) -> i64 {
        match self.party {
            Party::User { id, .. } | Party::Customer { id, .. } => id,
        }
    }
}

/// Client → server commands.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Command {
    Send {
        client_msg_id: Option<String>,
        customer_id: Option<i64>,
        u_id: Option<i64>,
        content: Option<Value>,
        msg: Option<String>,
    },
    Read {
        conversation_id: i64,
        seq: i64,
    },
    Typing {
        customer_id: Option<i64>,
        u_id: Option<i64>,
    },
    Resume {
        #[serde(default)]
        conversations: HashMap<String, i64>,
    },
    Unread,
    Ping,
    /// Salespeople: the radar events after `after_id` (the last `event.id` seen).
    RadarResume {
        #[serde(default)]
        after_id: i64,
    },
}

/// Closes a socket that cannot be served: [`close::AUTH_FAILED`] when its signature was
/// refused, [`close::TRY_LATER`] when it could not be checked (database unreachable).
pub async fn refuse(mut socket: WebSocket, code: u16) {
    let reason = if code == close::TRY_LATER {
        "try again later"
    } else {
        "auth failed"
    };
    let frame = WsMessage::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }));
    let _ = tokio::time::timeout(CLOSE_WAIT, socket.send(frame)).await;
}

/// Most time given to the close frame of a connection that is being ended.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Most time given to the close frame of a slow consumer (4001): it has stopped taking
/// frames, so it will rarely take this one; its TCP connection is dropped well within a second
/// of the overflow or write timeout (docs/RELIABILITY.md).
const SLOW_CLOSE_WAIT: Duration = Duration::from_millis(250);

/// The time given to the close frame with `code`.
fn close_wait(code: u16) -> Duration {
    if code == close::SLOW {
        SLOW_CLOSE_WAIT
    } else {
        CLOSE_WAIT
    }
}
/// Not a close code on the wire: the socket is gone, nothing more can be written.
const GONE: u16 = 1006;

/// Writes one frame within `limit`, or gives up when the hub asks the connection to close.
/// `Err(code)`: end the session with `code` ([`GONE`] when the socket failed). Boxed: the
/// session's task is sized by its largest await, and an idle session is not writing.
async fn write(
    socket: &mut WebSocket,
    msg: WsMessage,
    limit: Duration,
    conn: &Conn,
    hub: &super::Hub,
) -> Result<(), u16> {
    Box::pin(write_now(socket, msg, limit, conn, hub)).await
}

async fn write_now(
    socket: &mut WebSocket,
    msg: WsMessage,
    limit: Duration,
    conn: &Conn,
    hub: &super::Hub,
) -> Result<(), u16> {
    tokio::select! {
        biased;
        r = tokio::time::timeout(limit, socket.send(msg)) => match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(GONE),
            Err(_) => {
                hub.stats().write_timeouts.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("zgld_ws_write_timeouts_total").increment(1);
                tracing::info!(limit_ms = limit.as_millis() as u64, "ws write timed out: dropping the client");
                Err(close::SLOW)
            }
        },
        code = conn.close.closed() => Err(code),
    }
}

/// A client's frame allowance: `rate` a second on average, `burst` at once.
struct Bucket {
    tokens: f64,
    last: tokio::time::Instant,
    rate: f64,
    burst: f64,
}

impl Bucket {
    fn new(rate: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Bucket {
            tokens: burst,
            last: tokio::time::Instant::now(),
            rate: f64::from(rate),
            burst,
        }
    }
    /// Spends one frame; `false` when the client is over its rate.
    fn take(&mut self) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let now = tokio::time::Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The `error` frame of a client over its rate (docs/realtime.md).
pub const RATE_LIMITED: i64 = 429;

fn rate_limited(frame: &str) -> String {
    let client_msg_id = serde_json::from_str::<Value>(frame)
        .ok()
        .and_then(|v| v.get("client_msg_id").cloned());
    let mut v = json!({"type": "error", "code": RATE_LIMITED, "msg": "发送过于频繁,请稍后再试"});
    if let (Some(id), Some(obj)) = (client_msg_id, v.as_object_mut()) {
        obj.insert("client_msg_id".into(), id);
    }
    v.to_string()
}

/// Runs a session until the client leaves or the hub closes it. One task per connection:
/// it writes queued frames, reads commands, and pings. Command handling is boxed, so an idle
/// connection holds only this small loop's state (docs/BENCHMARKS.md, memory per connection).
/// Every write is bounded by the write timeout: a client that stops reading is dropped (its
/// TCP connection closed, its task and buffers freed) within it, whatever is queued.
pub async fn run(state: Arc<AppState>, mut socket: WebSocket, peer: Peer) {
    let hub = &state.hub;
    let who = peer.target();
    let limits = &state.settings.ws_limits;
    let wt = limits.write_timeout.max(Duration::from_millis(1));
    let mut bucket = Bucket::new(limits.rate, limits.burst);
    let conn = hub.register(who);
    conn.session
        .store(peer.session, std::sync::atomic::Ordering::Release);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let mut last_heard = tokio::time::Instant::now();
    let mut replies: Vec<String> = Vec::new();
    // Conversations this connection was told to `reload`, with the reload's `last_seq`.
    let mut paging: HashMap<i64, i64> = HashMap::new();
    if let Err(e) = Box::pin(hello(&state, peer, &mut replies)).await {
        tracing::warn!(error = %e, "ws hello failed");
    }
    let code = 'session: loop {
        // Taken, not drained: an idle session keeps no reply storage.
        for r in std::mem::take(&mut replies) {
            let msg = WsMessage::Text(Utf8Bytes::from(r));
            metrics::counter!("zgld_ws_frames_out_total", "via" => "reply").increment(1);
            if let Err(code) = write(&mut socket, msg, wt, &conn, hub).await {
                break 'session code;
            }
        }
        tokio::select! {
            biased;
            code = conn.close.closed() => break 'session code,
            f = conn.next() => if let Err(code) = write(&mut socket, WsMessage::Text(f), wt, &conn, hub).await {
                break 'session code;
            },
            msg = socket.recv() => {
                last_heard = tokio::time::Instant::now();
                match msg {
                    Some(Ok(WsMessage::Text(t))) => {
                        metrics::counter!("zgld_ws_frames_in_total").increment(1);
                        if !bucket.take() {
                            hub.stats().rate_limited.fetch_add(1, Ordering::Relaxed);
                            metrics::counter!("zgld_ws_rate_limited_total").increment(1);
                            replies.push(rate_limited(t.as_str()));
                            continue;
                        }
                        let result = match serde_json::from_str::<Command>(t.as_str()) {
                            Ok(Command::Resume { conversations }) => {
                                let mut sink = Sink { socket: &mut socket, limit: wt, conn: &conn, hub };
                                match Box::pin(resume(&state, peer, conversations, &mut paging, &mut sink)).await {
                                    Ok(()) => Ok(()),
                                    Err(Halt::Api(e)) => Err(e),
                                    Err(Halt::Socket(code)) => break 'session code,
                                }
                            }
                            Ok(cmd) => Box::pin(handle(&state, peer, cmd, &mut replies)).await,
                            Err(e) => Err(ApiError::form(format!("无法解析的指令: {e}"))),
                        };
                        if let Err(e) = result {
                            replies.push(json!({"type": "error", "code": e.code(), "msg": e.msg()}).to_string());
                        }
                    }
                    Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break 'session 1000,
                    Some(Ok(_)) => {}
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > IDLE_LIMIT {
                    break 'session 1000;
                }
                if let Err(code) = write(&mut socket, WsMessage::Ping(Default::default()), wt, &conn, hub).await {
                    break 'session code;
                }
            }
        }
    };
    metrics::counter!("zgld_ws_closed_total", "code" => code.to_string()).increment(1);
    if code != GONE {
        let reason = match code {
            close::SLOW => "slow consumer",
            close::RECONNECT => "reconnect",
            close::REPLACED => "too many connections",
            close::AUTH_FAILED => "session ended",
            _ => "",
        };
        let frame = WsMessage::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }));
        // A client that does not read cannot take the close frame either: then the TCP
        // connection is simply dropped with the socket below.
        let _ = Box::pin(tokio::time::timeout(
            wt.min(close_wait(code)),
            socket.send(frame),
        ))
        .await;
    }
    drop(socket);
    hub.unregister(who, conn.id);
}

/// First frame: who we are and where each conversation stands.
async fn hello(state: &AppState, peer: Peer, out: &mut Vec<String>) -> Result<(), ApiError> {
    let summary = summary(state, peer).await?;
    out.push(
        json!({"type": "hello", "node": state.hub.node_id(), "conversations": summary}).to_string(),
    );
    Ok(())
}

async fn summary(state: &AppState, peer: Peer) -> Result<Vec<Value>, ApiError> {
    let db = state.db.get().await?;
    let convs = chat::conversations(&db, peer.id(), peer.is_user(), 1000).await?;
    Ok(convs
        .iter()
        .map(|c| {
            let (peer_id, unread) = if peer.is_user() { (c.customer_id, c.user_unread) } else { (c.user_id, c.customer_unread) };
            json!({"conversation_id": c.id, "peer_id": peer_id, "last_seq": c.last_seq, "unread": unread})
        })
        .collect())
}

/// The conversation if the caller is one of its two sides.
async fn own_conversation(
    state: &AppState,
    peer: Peer,
    id: i64,
) -> Result<chat::Conversation, ApiError> {
    let db = state.db.get().await?;
    let c = chat::conversation_by_id(&db, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mine = if peer.is_user() {
        c.user_id == peer.id()
    } else {
        c.customer_id == peer.id()
    };
    if mine {
        Ok(c)
    } else {
        Err(ApiError::not_found())
    }
}

/// Where a streamed reply goes: straight to the socket, each frame within the write limit.
struct Sink<'a> {
    socket: &'a mut WebSocket,
    limit: Duration,
    conn: &'a Conn,
    hub: &'a super::Hub,
}

impl Sink<'_> {
    /// Waits for `bytes` of the node's catch-up budget, or for the connection's end.
    async fn pace(&mut self, budget: &CatchUp, bytes: usize) -> Result<(), Halt> {
        tokio::select! {
            biased;
            code = self.conn.close.closed() => Err(Halt::Socket(code)),
            () = budget.pace(Via::Resume, bytes) => Ok(()),
        }
    }

    /// Live frames waiting behind the reply fill half the connection's queue: go on and the
    /// connection would be closed as slow (4001) for the time the reply takes.
    fn backlogged(&self) -> bool {
        self.conn.queued().saturating_mul(2) >= self.hub.queue_cap()
    }

    async fn send(&mut self, frame: String) -> Result<(), Halt> {
        metrics::counter!("zgld_ws_frames_out_total", "via" => "reply").increment(1);
        let msg = WsMessage::Text(Utf8Bytes::from(frame));
        write(self.socket, msg, self.limit, self.conn, self.hub)
            .await
            .map_err(Halt::Socket)
    }
}

/// Why a streamed reply stopped: a refusal to answer with an `error` frame, or the socket's end.
enum Halt {
    Api(ApiError),
    Socket(u16),
}

impl From<ApiError> for Halt {
    fn from(e: ApiError) -> Self {
        Halt::Api(e)
    }
}

/// Why a resume sends `reload` for a conversation (the `reason` label of
/// `zgld_resume_reloads_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    /// More than [`RESUME_LIMIT`] messages missed.
    Messages,
    /// The resume's byte budget (`ZGLD_RESUME_MAX_BYTES`) is spent.
    Bytes,
    /// Live frames waiting behind the resume fill half the connection's queue.
    Backlog,
    /// This connection was told to `reload` the conversation and has not paged past it yet.
    Paging,
}

impl Cut {
    fn label(self) -> &'static str {
        match self {
            Cut::Messages => "messages",
            Cut::Bytes => "bytes",
            Cut::Backlog => "backlog",
            Cut::Paging => "paging",
        }
    }
}

/// `resume`: for each conversation, exactly the messages after the client's seq up to the
/// conversation's last seq when asked (later ones reach the session live: it was registered
/// with the hub before it could ask), in order, then `resumed`. Streamed [`RESUME_PAGE`]
/// messages at a time, yielding between pages; each message waits for its share of the node's
/// catch-up budget before it is rendered (src/hub/catchup.rs).
///
/// A conversation is not replayed to its end, and gets `reload` (with `replayed_to`, the last
/// seq this resume did send of it) instead of a place in `resumed`, when more than
/// [`RESUME_LIMIT`] messages were missed (known from the gap-free seqs before any row is
/// read), when the resume's bytes would pass `ZGLD_RESUME_MAX_BYTES`, or when live frames
/// waiting behind the resume fill half the connection's queue. The client then pages the rest
/// through the history (QYW-34 / GZH-03) at its own pace while its live frames flow
/// (docs/realtime.md, "Catch-up budget"). Until it has (a later `resume` from the reload's
/// `last_seq` or past it), a `resume` of that conversation on this connection from below it
/// gets `reload` again at once, nothing replayed: a client that resumes on every gap in its
/// live frames while it pages would otherwise have the same messages replayed again and
/// again, up to the byte budget each time (docs/RELIABILITY.md, scenario 3).
async fn resume(
    state: &AppState,
    peer: Peer,
    conversations: HashMap<String, i64>,
    paging: &mut HashMap<i64, i64>,
    sink: &mut Sink<'_>,
) -> Result<(), Halt> {
    let budget = &state.catchup;
    let max_bytes = usize::try_from(state.settings.catchup.resume_max_bytes).unwrap_or(usize::MAX);
    let mut spent = 0usize;
    let mut done = Vec::new();
    for (id, after) in conversations {
        let id: i64 = id
            .parse()
            .map_err(|_| ApiError::form("conversation id 必须是数字"))?;
        let c = own_conversation(state, peer, id).await?;
        let mut last = after;
        let paged_to = paging.remove(&c.id).filter(|l| after < *l);
        let mut cut = if paged_to.is_some() {
            Some(Cut::Paging)
        } else {
            (c.last_seq - after.max(0) > RESUME_LIMIT).then_some(Cut::Messages)
        };
        'pages: while cut.is_none() && last.max(0) < c.last_seq {
            let db = state.db.get().await.map_err(ApiError::from)?;
            let page = chat::since(&db, c.id, last.max(0), RESUME_PAGE).await?;
            drop(db);
            if page.is_empty() {
                break;
            }
            for m in &page {
                let bytes = chat_service::render::approx_len(m);
                if max_bytes > 0 && spent.saturating_add(bytes) > max_bytes {
                    cut = Some(Cut::Bytes);
                    break 'pages;
                }
                if sink.backlogged() {
                    cut = Some(Cut::Backlog);
                    break 'pages;
                }
                spent += bytes;
                sink.pace(budget, bytes).await?;
                let view = chat_service::render::live(state, m).await?;
                sink.send(json!({"type": "message", "message": view}).to_string())
                    .await?;
                last = m.seq;
            }
            tokio::task::yield_now().await;
        }
        match cut {
            Some(why) => {
                metrics::counter!("zgld_resume_reloads_total", "reason" => why.label())
                    .increment(1);
                let to = paged_to.unwrap_or(c.last_seq);
                paging.insert(c.id, to);
                let frame = json!({"type": "reload", "conversation_id": c.id, "last_seq": to, "replayed_to": last.max(0)});
                sink.send(frame.to_string()).await?;
            }
            None => done.push(json!({"conversation_id": c.id, "last_seq": last})),
        }
    }
    sink.send(json!({"type": "resumed", "conversations": done}).to_string())
        .await
}

async fn handle(
    state: &AppState,
    peer: Peer,
    cmd: Command,
    out: &mut Vec<String>,
) -> Result<(), ApiError> {
    match cmd {
        Command::Ping => {
            out.push(r#"{"type":"pong"}"#.into());
        }
        Command::Send {
            client_msg_id,
            customer_id,
            u_id,
            content,
            msg,
        } => {
            let to = if peer.is_user() { customer_id } else { u_id }.ok_or_else(|| {
                ApiError::form(if peer.is_user() {
                    "customer_id 不能为空"
                } else {
                    "u_id 不能为空"
                })
            })?;
            let content = match (content, msg) {
                (Some(c), _) => c,
                (None, m) => chat_service::content_from(None, m.as_deref())?,
            };
            let reference = client_msg_id.clone();
            match chat_service::send(state, peer.party, to, content, client_msg_id).await {
                Ok(sent) => {
                    let reference =
                        serde_json::to_string(&reference).unwrap_or_else(|_| "null".into());
                    out.push(format!(
                        r#"{{"type":"sent","client_msg_id":{reference},"duplicate":{},"message":{}}}"#,
                        sent.stored.duplicate, sent.row
                    ));
                }
                Err(e) => {
                    let frame = json!({"type": "error", "code": e.code(), "msg": e.msg(), "client_msg_id": reference});
                    out.push(frame.to_string());
                }
            }
        }
        Command::Read {
            conversation_id,
            seq,
        } => {
            let c = own_conversation(state, peer, conversation_id).await?;
            let db = state.db.get().await?;
            let unread = chat::mark_read(&db, c.id, peer.is_user(), seq).await?;
            let frame = json!({"type": "unread", "conversation_id": c.id, "unread": unread});
            state
                .hub
                .publish(&[peer.target()], Utf8Bytes::from(frame.to_string()));
        }
        Command::Typing { customer_id, u_id } => {
            let (target, me) = match peer.party {
                Party::User { id, company_id } => {
                    let to = customer_id.ok_or_else(|| ApiError::form("customer_id 不能为空"))?;
                    if state.people.customer(state, to).await?.company_id != company_id {
                        return Err(ApiError::not_found());
                    }
                    (Target::Customer(to), json!({"user_id": id}))
                }
                Party::Customer { id, company_id } => {
                    let to = u_id.ok_or_else(|| ApiError::form("u_id 不能为空"))?;
                    if state.people.user(state, to).await?.company_id != company_id {
                        return Err(ApiError::not_found());
                    }
                    (Target::User(to), json!({"customer_id": id}))
                }
            };
            state.hub.publish(
                &[target],
                Utf8Bytes::from(json!({"type": "typing", "from": me}).to_string()),
            );
        }
        // Streamed page by page from the session loop (`resume`), never built here.
        Command::Resume { .. } => {}
        Command::RadarResume { after_id } => {
            let Party::User { id, company_id } = peer.party else {
                return Err(ApiError::form("radar_resume 只用于雷达用户"));
            };
            let db = state.db.get().await?;
            let missed =
                crate::db::radar::since(&db, company_id, id, after_id.max(0), RESUME_LIMIT + 1)
                    .await?;
            drop(db);
            if missed.len() as i64 > RESUME_LIMIT {
                out.push(r#"{"type":"radar_reload"}"#.into());
            } else {
                for r in &missed {
                    let frame = crate::service::radar::RadarFrame::new(
                        &r.log,
                        &r.customer_name,
                        &r.headimgurl,
                        None,
                        false,
                    );
                    out.push(frame.encode(true)?);
                }
                let last = missed.last().map(|r| r.log.id).unwrap_or(after_id);
                out.push(json!({"type": "radar_resumed", "last_id": last}).to_string());
            }
        }
        Command::Unread => {
            let summary = summary(state, peer).await?;
            out.push(json!({"type": "unread_summary", "conversations": summary}).to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection's task holds little besides its socket: every write, the hello and
    /// command handling are boxed (docs/BENCHMARKS.md, memory per connection: 2,472 bytes
    /// before, 1,336 after).
    #[test]
    fn an_idle_sessions_task_stays_small() {
        fn future_size<A, B, C, F>(_: impl FnOnce(A, B, C) -> F) -> usize {
            std::mem::size_of::<F>()
        }
        let n = future_size(run);
        assert!(n <= 1_600, "the session future is {n} bytes");
        assert!(std::mem::size_of::<Conn>() <= 160);
    }

    /// A slow consumer is disconnected within 1 s of overflowing its queue (issue 8, chaos
    /// suite): the close frame it probably cannot take gets well under a second.
    #[test]
    fn a_slow_consumer_close_frame_waits_well_under_a_second() {
        assert!(close_wait(close::SLOW) <= Duration::from_millis(250));
        assert_eq!(close_wait(close::RECONNECT), CLOSE_WAIT);
    }
}
