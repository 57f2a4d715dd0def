//! QYW-37..40: the radar views of the caller's action log.

use axum::extract::State;
use serde_json::{json, Map, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
    },
    auth::{StaffRead, StaffWrite},
    db::{self, radar::LogFilter},
    domain::{action, time},
    error::ApiError,
    state::AppState,
};

const MSG: &str = "查询日志记录成功";

fn action_param(p: &Params) -> Result<Option<i16>, ApiError> {
    match p.i64("action")? {
        None => Ok(None),
        Some(a) if action::is_valid(a as i16) && (1..=12).contains(&a) => Ok(Some(a as i16)),
        Some(_) => Err(ApiError::form("action 只能是 1-12")),
    }
}

fn filter(p: &Params) -> Result<LogFilter, ApiError> {
    Ok(LogFilter {
        action: action_param(p)?,
        customer_id: p.i64("customer_id")?,
        from: p.date("create_date__gte")?,
        until: p.date("create_date__lt")?,
    })
}

/// QYW-37: newest first, paged (20).
pub async fn time_line(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let f = filter(&p)?;
    let db = state.db.get().await?;
    let (rows, total) =
        db::radar::timeline(&db, caller.company_id, caller.id, &f, p.paging(Some(20))?).await?;
    let rows = rows
        .iter()
        .map(|r| {
            json!({
                "user_id": r.log.user_id,
                "customer_id": r.log.customer_id,
                "headimgurl": r.headimgurl,
                "log": r.log.log,
                "create_date": time::iso(r.log.create_date),
            })
        })
        .collect();
    Ok(Reply::list(MSG, rows, total))
}

fn names_map() -> Map<String, Value> {
    action::NAMES
        .iter()
        .map(|(c, n)| (c.to_string(), json!(n)))
        .collect()
}

/// QYW-38: per customer, counts of each action (non-zero only).
pub async fn per_customer(
    State(state): State<AppState>,
    caller: StaffRead,
    p: Params,
) -> ApiResult {
    let mut f = filter(&p)?;
    f.action = None;
    let db = state.db.get().await?;
    let rows = db::radar::per_customer(&db, caller.company_id, caller.id, &f).await?;
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|(id, name, img, detail)| {
            let total: i64 = detail.iter().map(|d| d.1).sum();
            let detail: Map<String, Value> = detail
                .into_iter()
                .map(|(a, n)| {
                    (
                        a.to_string(),
                        json!({"count": n, "name": action::name(a).unwrap_or("")}),
                    )
                })
                .collect();
            json!({
                "totalCount": total,
                "customer_id": id,
                "customer__username": name,
                "user_id": caller.id.to_string(),
                "headimgurl": img,
                "detail": detail,
            })
        })
        .collect();
    Ok(Reply::ok(MSG, Value::Array(rows)))
}

/// QYW-39: counts per action (non-zero only) beside the full name map.
pub async fn per_action(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let mut f = filter(&p)?;
    f.action = None;
    let db = state.db.get().await?;
    let counts = db::radar::per_action(&db, caller.company_id, caller.id, &f).await?;
    let detail: Map<String, Value> = counts
        .into_iter()
        .map(|(a, n)| (a.to_string(), json!(n)))
        .collect();
    Ok(Reply::ok(
        MSG,
        json!([{"action": names_map(), "detail": detail, "user_id": caller.id.to_string()}]),
    ))
}

/// QYW-40: the logs not fetched before (newest first, up to `length`, default 100), now
/// marked fetched. A write: it changes what the next call returns.
pub async fn new_logs(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    let action = action_param(&p)?;
    let limit = p.i64("length")?.unwrap_or(100).clamp(1, 500);
    let db = state.db.get().await?;
    let rows = db::radar::take_new(&db, caller.company_id, caller.id, action, limit).await?;
    let n = rows.len() as i64;
    let rows = rows
        .iter()
        .map(|l| {
            json!({
                "user_id": l.user_id,
                "customer_id": l.customer_id,
                "action": action::name(l.action).unwrap_or(""),
                "log": l.log,
                "create_date": time::iso(l.create_date),
            })
        })
        .collect();
    Ok(Reply::list(MSG, rows, n))
}
