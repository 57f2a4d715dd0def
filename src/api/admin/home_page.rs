//! ADM-06..08: the home page dashboards, for the caller's company or for one salesperson
//! (`uid`; members always see their own numbers). Served from the per-day counters.

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
    },
    auth::{Staff, StaffRead},
    db::{self, dashboard::Sums},
    domain::time,
    error::ApiError,
    state::AppState,
};

/// The `user_id` whose counters to read: 0 (the company) for admins without `uid`.
async fn scope(state: &AppState, caller: &Staff, p: &Params) -> Result<i64, ApiError> {
    let uid = p.i64("uid")?;
    if !caller.level.is_admin() {
        return match uid {
            None => Ok(caller.id),
            Some(u) if u == caller.id => Ok(u),
            Some(_) => Err(ApiError::not_found()),
        };
    }
    match uid {
        None => Ok(0),
        Some(u) => {
            let db = state.db.get().await?;
            match db::user::get(&db, u).await? {
                Some(s) if s.company_id == caller.company_id => Ok(u),
                _ => Err(ApiError::not_found()),
            }
        }
    }
}

/// ADM-06: the company card and account status.
pub async fn card(State(state): State<AppState>, caller: StaffRead) -> ApiResult {
    let db = state.db.get().await?;
    let c = db::company::get(&db, caller.company_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let me = db::user::get(&db, caller.id).await?;
    let today = time::today();
    let used_days = c
        .charging_start_time
        .map(|d| (today - d).num_days().max(0))
        .unwrap_or(0);
    let available_days = c
        .account_expired_time
        .map(|d| (d - today).num_days().max(0))
        .unwrap_or(0);
    Ok(Reply::ok(
        "查询成功",
        json!({"ret_data": {
            "company_name": c.name,
            "username": me.map(|m| m.username).unwrap_or_default(),
            "mingpian_num": c.enabled_users,
            "user_count": c.user_count,
            "expired_time": c.account_expired_time.map(time::ymd),
            "open_up_date": c.charging_start_time.map(time::ymd),
            "available_days": available_days,
            "used_days": used_days,
            "customer_num": c.customer_num,
        }}),
    ))
}

fn sums_json(s: &Sums) -> Value {
    json!({
        "customer_num": s[0],
        "follow_num": s[1],
        "browse_num": s[2],
        "forward_num": s[3],
        "saved_total_num": s[4],
        "praise_sum": s[5],
    })
}

/// ADM-07: all-time, today, yesterday, 7 and 30 days.
pub async fn overview(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let user_id = scope(&state, &caller, &p).await?;
    let db = state.db.get().await?;
    let [all, today, yesterday, seven, thirty] =
        db::dashboard::windows(&db, caller.company_id, user_id, time::today()).await?;
    Ok(Reply::ok(
        "查询成功",
        json!({"ret_data": {
            "count_data": sums_json(&all),
            "yesterday_data": sums_json(&yesterday),
            "nearly_seven_days": sums_json(&seven),
            "nearly_thirty_days": sums_json(&thirty),
            "today_data": sums_json(&today),
        }}),
    ))
}

/// ADM-08: one metric per day for the 7 or 15 days ending yesterday.
pub async fn line(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let days = p.req_i64("days")?;
    if days != 7 && days != 15 {
        return Err(ApiError::form("days 只能是 7 或 15"));
    }
    let index = p.req_i64("index_type")?;
    if !(1..=6).contains(&index) {
        return Err(ApiError::form("index_type 只能是 1-6"));
    }
    let user_id = scope(&state, &caller, &p).await?;
    let db = state.db.get().await?;
    let rows = db::dashboard::line(
        &db,
        caller.company_id,
        user_id,
        (index - 1) as usize,
        days as i32,
        time::today(),
    )
    .await?;
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|(d, v)| json!({"statics_date": time::ymd(d), "value": v}))
        .collect();
    Ok(Reply::ok("查询成功", json!({"ret_data": rows})))
}
