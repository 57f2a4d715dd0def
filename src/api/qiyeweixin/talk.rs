//! Talk scripts in the salesperson app (documented extension, docs/articles.md): search the
//! company's phrases while chatting, and send one to a customer as a chat message
//! (`info_type` 1, `msg` = the phrase), which counts toward its `sendNum`.

use axum::extract::State;
use serde_json::json;

use crate::{
    api::{
        admin::talk::phrase_row,
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{StaffRead, StaffWrite},
    db,
    service::chat::{self as chat_service, Party},
    state::AppState,
};

/// `GET /zhugeleida/qiyeweixin/talk?keyword=&talk_group_id=`: most used first.
pub async fn search(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let db = state.db.get().await?;
    let group = match p.str_any(&["talk_group_id", "talkGroupId"]) {
        Some(g) => Some(db::talk::resolve_group(&db, caller.company_id, g).await?),
        None => None,
    };
    let (rows, total) = db::talk::phrases(
        &db,
        caller.company_id,
        group,
        p.str_any(&["keyword", "contentWords"]),
        true,
        p.paging(Some(20))?,
    )
    .await?;
    Ok(Reply::list(
        "查询成功",
        rows.iter().map(phrase_row).collect(),
        total,
    ))
}

/// `POST /zhugeleida/qiyeweixin/talk/send_msg/{phrase_id}` with `customer_id`.
pub async fn send(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(phrase_id): OId,
    p: Params,
) -> ApiResult {
    let customer_id = p.req_i64("customer_id")?;
    let text = {
        let db = state.db.get().await?;
        db::talk::phrase_text(&db, caller.company_id, phrase_id).await?
    };
    let content = json!({"info_type": 1, "msg": text, "talk_phrase_id": phrase_id});
    let sent = chat_service::send(
        &state,
        Party::User {
            id: caller.id,
            company_id: caller.company_id,
        },
        customer_id,
        content,
        p.str("client_msg_id").map(str::to_owned),
    )
    .await?;
    // Fresh or a retry's duplicate, the stored message counts once if it sent this phrase (a
    // duplicate of another message under the same client id does not).
    if sent.stored.message.content.get("talk_phrase_id") == Some(&json!(phrase_id)) {
        let db = state.db.get().await?;
        db::talk::count_send(&db, caller.company_id, phrase_id, sent.stored.message.id).await?;
    }
    Ok(Reply::done("send msg successful"))
}
