//! GZH-01..04: the customer's side of the chat.

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
    },
    auth::{CustomerRead, CustomerWrite, StaffRead},
    db::chat,
    error::ApiError,
    service::chat::{self as chat_service, render, Party},
    state::AppState,
};

/// The salesperson `u_id` of the caller's company (302 for anyone else).
async fn rep_of(
    state: &AppState,
    company_id: i64,
    p: &Params,
) -> Result<std::sync::Arc<crate::service::chat::people::UserCard>, ApiError> {
    let u = state.people.user(state, p.req_i64("u_id")?).await?;
    if u.company_id != company_id {
        return Err(ApiError::not_found());
    }
    Ok(u)
}

/// GZH-01: the customer sends; the body's `customer_id` is ignored.
pub async fn send(State(state): State<AppState>, caller: CustomerWrite, p: Params) -> ApiResult {
    let u_id = p.req_i64("u_id")?;
    let content = chat_service::content_from(p.str("content"), p.str("msg"))?;
    let from = Party::Customer {
        id: caller.id,
        company_id: caller.company_id,
    };
    chat_service::send(
        &state,
        from,
        u_id,
        content,
        p.str("client_msg_id").map(str::to_owned),
    )
    .await?;
    Ok(Reply::done("send msg successful"))
}

/// GZH-02: what the customer has not yet received from the salesperson; marks it read.
pub async fn getmsg(State(state): State<AppState>, caller: CustomerRead, p: Params) -> ApiResult {
    let user = rep_of(&state, caller.company_id, &p).await?;
    let msgs = chat_service::take_unread(&state, user.id, caller.id, false).await?;
    let rows: Vec<Value> = if msgs.is_empty() {
        vec![]
    } else {
        let customer = state.people.customer(&state, caller.id).await?;
        msgs.iter()
            .map(|m| render::row(m, &user, &customer))
            .collect()
    };
    let n = rows.len();
    Ok(Reply::ok(
        "实时获取-最新聊天信息成功",
        json!({"ret_data": rows, "data_count": n}),
    ))
}

/// GZH-03: paged history. With `u_id` the caller is the customer; without it the
/// caller is the salesperson and `customer_id` names the customer.
pub async fn history(
    State(state): State<AppState>,
    as_customer: Result<CustomerRead, ApiError>,
    as_staff: Result<StaffRead, ApiError>,
    p: Params,
) -> ApiResult {
    let (user, customer) = if p.has("u_id") {
        let caller = as_customer?;
        let user = rep_of(&state, caller.company_id, &p).await?;
        (user, state.people.customer(&state, caller.id).await?)
    } else {
        let caller = as_staff?;
        let customer = state
            .people
            .customer(&state, p.req_i64("customer_id")?)
            .await?;
        if customer.company_id != caller.company_id {
            return Err(ApiError::not_found());
        }
        (state.people.user(&state, caller.id).await?, customer)
    };
    let page = p.chat_history()?;
    let db = state.db.get().await?;
    let (rows, total) = match chat::conversation_of(&db, user.id, customer.id).await? {
        Some(c) => (chat::history(&db, c.id, page).await?, c.last_seq),
        None => (vec![], 0),
    };
    drop(db);
    render::pace_history(&state, &rows).await;
    let rows: Vec<Value> = rows
        .iter()
        .map(|m| render::row(m, &user, &customer))
        .collect();
    Ok(Reply::ok(
        "分页获取-全部聊天消息成功",
        json!({"ret_data": rows, "mingpian_phone": user.mingpian_phone, "wechat": user.wechat, "data_count": total}),
    ))
}

/// GZH-04: unread salesperson → customer messages of this pair.
pub async fn query_num(
    State(state): State<AppState>,
    caller: CustomerRead,
    p: Params,
) -> ApiResult {
    let user = rep_of(&state, caller.company_id, &p).await?;
    let db = state.db.get().await?;
    let n = chat::conversation_of(&db, user.id, caller.id)
        .await?
        .map(|c| c.customer_unread)
        .unwrap_or(0);
    Ok(Reply::ok("查询成功", json!({"chatinfo_count": n})))
}
