//! Chat between a salesperson and a customer: validation, tenancy, durable storage through
//! the batching [`writer`], then publication through the hub (persistence first: a message
//! is committed before anyone is told about it). Polling endpoints and WebSocket sessions
//! both come through here, so a message is the same whichever way it is sent or read.

pub mod people;
pub mod render;
pub mod writer;

use axum::extract::ws::Utf8Bytes;
use serde_json::{json, Value};

use crate::{
    db::chat::{self, Message, NewMessage, Stored, TO_CUSTOMER, TO_USER},
    error::ApiError,
    hub::Target,
    state::AppState,
};

/// Who is sending.
#[derive(Debug, Clone, Copy)]
pub enum Party {
    /// A salesperson (`send_type` 1) writing to customer `peer`.
    User { id: i64, company_id: i64 },
    /// A customer (`send_type` 2) writing to salesperson `peer`.
    Customer { id: i64, company_id: i64 },
}

/// Largest content object accepted, in bytes of JSON.
const MAX_CONTENT: usize = 16 * 1024;

/// Checks a content object (GZH-01, 1.11) and returns its `info_type`.
pub fn check_content(content: &Value) -> Result<i16, ApiError> {
    if crate::domain::parse::json_has_nul(content) {
        return Err(ApiError::form("content 不能包含 NUL 字符 (\\u0000)"));
    }
    let obj = content
        .as_object()
        .ok_or_else(|| ApiError::form("content 必须是 JSON 对象"))?;
    let info_type = match obj.get("info_type") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        None => Some(1),
        _ => None,
    }
    .filter(|t| (1..=5).contains(t))
    .ok_or_else(|| ApiError::form("info_type 只能是 1-5"))?;
    if matches!(info_type, 1 | 3)
        && obj
            .get("msg")
            .and_then(Value::as_str)
            .is_none_or(|m| m.is_empty())
    {
        return Err(ApiError::form("msg 不能为空"));
    }
    if content.to_string().len() > MAX_CONTENT {
        return Err(ApiError::form("消息内容过长"));
    }
    Ok(info_type as i16)
}

/// Builds the content object from legacy form fields: `content` (JSON text) or plain `msg`.
pub fn content_from(content: Option<&str>, msg: Option<&str>) -> Result<Value, ApiError> {
    match (content, msg) {
        (Some(c), _) => {
            let mut v: Value =
                serde_json::from_str(c).map_err(|_| ApiError::form("content 不是有效的 JSON"))?;
            if v.get("info_type").is_none() {
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("info_type".into(), json!(1));
                }
            }
            Ok(v)
        }
        (None, Some(m)) => Ok(json!({"info_type": 1, "msg": m})),
        (None, None) => Err(ApiError::form("msg 或 content 不能为空")),
    }
}

/// Sends a message from `from` to `peer`; returns the stored message (the existing one
/// when `client_msg_id` was seen before) after it has been committed and published (a
/// duplicate is published again, see below).
pub async fn send(
    state: &AppState,
    from: Party,
    peer: i64,
    content: Value,
    client_msg_id: Option<String>,
) -> Result<Sent, ApiError> {
    let started = std::time::Instant::now();
    let info_type = check_content(&content)?;
    let client_msg_id = client_msg_id
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if client_msg_id
        .as_ref()
        .is_some_and(|c| crate::domain::parse::has_nul(c))
    {
        return Err(ApiError::form("client_msg_id 不能包含 NUL 字符"));
    }
    if client_msg_id.as_ref().is_some_and(|c| c.len() > 128) {
        return Err(ApiError::form("client_msg_id 过长"));
    }
    let msg = match from {
        Party::User { id, company_id } => {
            let c = state.people.customer(state, peer).await?;
            if c.company_id != company_id {
                return Err(ApiError::not_found());
            }
            NewMessage {
                company_id,
                user_id: id,
                customer_id: peer,
                send_type: TO_CUSTOMER,
                info_type,
                content,
                client_msg_id,
            }
        }
        Party::Customer { id, company_id } => {
            let u = state.people.user(state, peer).await?;
            if u.company_id != company_id {
                return Err(ApiError::not_found());
            }
            NewMessage {
                company_id,
                user_id: peer,
                customer_id: id,
                send_type: TO_USER,
                info_type,
                content,
                client_msg_id,
            }
        }
    };
    let checked = std::time::Instant::now();
    let stored = state.chat.submit(msg).await?;
    let committed = std::time::Instant::now();
    metrics::counter!("zgld_chat_messages_in_total", "duplicate" => if stored.duplicate { "true" } else { "false" }).increment(1);
    let row = render::live(state, &stored.message).await?.to_string();
    // A duplicate is published again: the node that stored it may have died between its
    // commit and its publish, and then this retry is the only chance of live delivery.
    // Clients deduplicate by (conversation, seq) (docs/realtime.md), so a second copy of a
    // message that was delivered is harmless.
    let frame = format!(r#"{{"type":"message","message":{row}}}"#);
    let m = &stored.message;
    state.hub.publish(
        &[Target::User(m.user_id), Target::Customer(m.customer_id)],
        Utf8Bytes::from(frame),
    );
    if stored.duplicate {
        metrics::counter!("zgld_chat_messages_republished_total").increment(1);
    } else {
        metrics::counter!("zgld_chat_messages_out_total").increment(1);
    }
    let stage = |name: &'static str, from: std::time::Instant, to: std::time::Instant| {
        metrics::histogram!("zgld_chat_stage_seconds", "stage" => name)
            .record(to.duration_since(from).as_secs_f64());
    };
    stage("check", started, checked);
    stage("store", checked, committed);
    stage("publish", committed, std::time::Instant::now());
    Ok(Sent { stored, row })
}

/// A stored message and its rendered row (JSON text), rendered once for every use.
#[derive(Debug, Clone)]
pub struct Sent {
    pub stored: Stored,
    pub row: String,
}

/// Unread messages for one side, newest first, marked read (QYW-36, GZH-02).
pub async fn take_unread(
    state: &AppState,
    user_id: i64,
    customer_id: i64,
    to_user: bool,
) -> Result<Vec<Message>, ApiError> {
    // The common case of a poll: nothing new. Known from the hub without a query while no
    // message has come since the last poll that found nothing (hub::quiet), else one
    // indexed read.
    if state.hub.is_quiet(user_id, customer_id, to_user) {
        return Ok(vec![]);
    }
    let started = std::time::Instant::now();
    let mut client = state.db.get().await?;
    let unread = chat::conversation_of(&client, user_id, customer_id)
        .await?
        .map(|c| {
            if to_user {
                c.user_unread
            } else {
                c.customer_unread
            }
        })
        .unwrap_or(0);
    if unread == 0 {
        state.hub.mark_quiet(user_id, customer_id, to_user, started);
        return Ok(vec![]);
    }
    let tx = client.transaction().await?;
    let msgs = chat::take_unread(&tx, user_id, customer_id, to_user).await?;
    tx.commit().await?;
    Ok(msgs)
}
