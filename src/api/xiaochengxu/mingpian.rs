//! XCX-02..06: the salesperson's card in the mini program, and the customer actions on it.
//! Every action is a radar event: logged, counted, pushed live to the salesperson
//! (`service::radar`). `mingpian/action` records any of the twelve action types
//! (docs/architecture.md).

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
    },
    auth::{CustomerEvent, CustomerRead},
    db::{self, card::CardStatic},
    domain::{action, time},
    error::ApiError,
    service::radar,
    state::AppState,
};

const LOGGED: &str = "记录日志成功";

/// The salesperson: `uid`, or `id` (000, A-75).
fn rep(p: &Params) -> Result<i64, ApiError> {
    p.i64_any(&["uid", "id"])?
        .ok_or_else(|| ApiError::form("uid 不能为空"))
}

/// `source` of a relation this event may create (1 扫码 by default, 2 转发).
fn source(p: &Params) -> Result<i16, ApiError> {
    Ok(match p.i64("source")? {
        Some(2) => 2,
        _ => 1,
    })
}

/// The XCX-02 card: its static part, the counters after this view, and whether this customer
/// praises it.
fn card_json(
    c: &CardStatic,
    (popularity, praise, forward): (i64, i64, i64),
    is_up_down: bool,
) -> Value {
    let photos: Vec<Value> = c.photos.iter().map(|(id, url)| json!([id, url])).collect();
    json!({
        "id": c.id,
        "username": c.username,
        "avatar": c.avatar,
        "company": c.company,
        "address": c.address.as_deref().unwrap_or(""),
        "position": c.position.as_deref().unwrap_or(""),
        "email": c.email.as_deref().unwrap_or(""),
        "wechat": c.wechat.as_deref().unwrap_or(""),
        "mingpian_phone": c.mingpian_phone.as_deref().unwrap_or(""),
        "create_date": time::iso(c.create_date),
        "popularity": popularity,
        "praise": praise,
        "forward": forward,
        "is_up_down": is_up_down,
        "sign": c.sign.as_deref().unwrap_or(""),
        "photo": photos,
    })
}

/// XCX-02: logs "view card" (action 1), then shows the card with its counters after it
/// (from the event's own transaction: no further query).
pub async fn show(State(state): State<AppState>, caller: CustomerEvent, p: Params) -> ApiResult {
    let uid = rep(&p)?;
    let rec = radar::record(
        &state,
        &caller,
        Some(caller.spend()),
        uid,
        action::VIEW_CARD,
        source(&p)?,
    )
    .await?;
    let card = state.people.card(&state, uid).await?;
    Ok(Reply::list(
        "查询成功",
        vec![card_json(&card, rec.counters, rec.is_up_down)],
        1,
    ))
}

/// XCX-03: the cards of the salespeople this customer knows, with how they came.
pub async fn all(State(state): State<AppState>, caller: CustomerRead) -> ApiResult {
    let known = {
        let db = state.db.get().await?;
        db::card::known_to(&db, caller.company_id, caller.id).await?
    };
    let mut rows = Vec::with_capacity(known.len());
    for (uid, source) in known {
        let c = state.people.card(&state, uid).await?;
        rows.push(json!({
            "id": c.id,
            "username": c.username,
            "source": if source == 2 { "转发" } else { "扫码" },
            "avatar": c.avatar,
            "company": c.company,
            "position": c.position.as_deref().unwrap_or(""),
            "email": c.email.as_deref().unwrap_or(""),
            "mingpian_phone": c.mingpian_phone.as_deref().unwrap_or(""),
            "create_date": time::iso(c.create_date),
        }));
    }
    let n = rows.len() as i64;
    Ok(Reply::list("查询成功", rows, n))
}

async fn log_action(
    state: &AppState,
    caller: &CustomerEvent,
    p: &Params,
    action: i16,
) -> ApiResult {
    radar::record(
        state,
        caller,
        Some(caller.spend()),
        rep(p)?,
        action,
        source(p)?,
    )
    .await?;
    Ok(Reply::done(LOGGED))
}

/// XCX-04: "phoned the rep" (10, whatever `action` says: A-76).
pub async fn calling(State(state): State<AppState>, caller: CustomerEvent, p: Params) -> ApiResult {
    log_action(&state, &caller, &p, action::CALL).await
}

/// XCX-05: praise toggles on and off.
pub async fn praise(State(state): State<AppState>, caller: CustomerEvent, p: Params) -> ApiResult {
    log_action(&state, &caller, &p, action::PRAISE).await
}

/// XCX-06: "forwarded the card" (6).
pub async fn forward(State(state): State<AppState>, caller: CustomerEvent, p: Params) -> ApiResult {
    log_action(&state, &caller, &p, action::FORWARD).await
}

/// `mingpian/action`: any action type 1..=12 (`action` required; 9 toggles like XCX-05).
pub async fn any_action(
    State(state): State<AppState>,
    caller: CustomerEvent,
    p: Params,
) -> ApiResult {
    let a = p.req_i64("action")?;
    let a = i16::try_from(a)
        .ok()
        .filter(|a| action::is_valid(*a))
        .ok_or_else(|| ApiError::form("action 只能是 1-12"))?;
    log_action(&state, &caller, &p, a).await
}
