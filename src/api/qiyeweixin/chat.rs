//! QYW-33..36: the salesperson's side of the chat (legacy polling clients).

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
    },
    auth::{StaffRead, StaffWrite},
    db::chat,
    domain::time,
    service::chat::{self as chat_service, render, Party},
    state::AppState,
};

/// QYW-33: customers the salesperson has chatted with, newest first, with unread counts.
pub async fn contacts(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let (offset, limit) = p.paging(Some(20))?.unwrap_or((0, 20));
    let db = state.db.get().await?;
    let (rows, total) = chat::contacts(&db, caller.id, offset, limit).await?;
    drop(db);
    let today = time::today();
    let mut out = Vec::with_capacity(rows.len());
    for (c, last) in rows {
        let customer = state.people.customer(&state, c.customer_id).await?;
        let (when, text) = match &last {
            Some(m) => {
                let local = time::local(m.create_date);
                let when = if local.date() == today {
                    local.format("%H:%M").to_string()
                } else {
                    local.format("%m-%d").to_string()
                };
                let text = m
                    .content
                    .get("msg")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                (when, text)
            }
            None => (String::new(), String::new()),
        };
        out.push(json!({
            "customer_id": c.customer_id,
            "src": customer.headimgurl,
            "name": customer.username,
            "dateTime": when,
            "msg": text,
            "conversation_id": c.id,
            "last_seq": c.last_seq,
            "unread": c.user_unread,
        }));
    }
    Ok(Reply::ok("", json!({"ret_data": out, "data_count": total})))
}

/// QYW-34: history with one customer, newest first.
pub async fn history(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let customer_id = p.req_i64("customer_id")?;
    let page = p.chat_history()?;
    let customer = state.people.customer(&state, customer_id).await?;
    if customer.company_id != caller.company_id {
        return Err(crate::error::ApiError::not_found());
    }
    let user = state.people.user(&state, caller.id).await?;
    let db = state.db.get().await?;
    let rows = match chat::conversation_of(&db, caller.id, customer_id).await? {
        Some(c) => chat::history(&db, c.id, page).await?,
        None => vec![],
    };
    drop(db);
    render::pace_history(&state, &rows).await;
    let out: Vec<Value> = rows
        .iter()
        .map(|m| render::row(m, &user, &customer))
        .collect();
    Ok(Reply::ok("分页获取聊天消息成功", Value::Array(out)))
}

/// QYW-35: the salesperson sends (the query `user_id` is the sender, A-64).
pub async fn send(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    let customer_id = p.req_i64("customer_id")?;
    let content = chat_service::content_from(p.str("content"), p.str("msg"))?;
    let from = Party::User {
        id: caller.id,
        company_id: caller.company_id,
    };
    chat_service::send(
        &state,
        from,
        customer_id,
        content,
        p.str("client_msg_id").map(str::to_owned),
    )
    .await?;
    Ok(Reply::done("send msg successful"))
}

/// QYW-36: what the salesperson has not yet received from this customer; marks it read.
pub async fn getmsg(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let customer_id = p.req_i64("customer_id")?;
    let customer = state.people.customer(&state, customer_id).await?;
    if customer.company_id != caller.company_id {
        return Err(crate::error::ApiError::not_found());
    }
    let msgs = chat_service::take_unread(&state, caller.id, customer_id, true).await?;
    let out: Vec<Value> = if msgs.is_empty() {
        vec![]
    } else {
        let user = state.people.user(&state, caller.id).await?;
        msgs.iter()
            .map(|m| render::row(m, &user, &customer))
            .collect()
    };
    Ok(Reply::ok("实时获取-最新聊天记录成功", Value::Array(out)))
}
