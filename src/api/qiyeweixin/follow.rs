//! QYW-42..44: follow-up phrases (跟进常用语).

use axum::extract::State;
use serde_json::json;

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{StaffRead, StaffWrite},
    db,
    error::ApiError,
    state::AppState,
};

/// QYW-42: own phrases first, then the company's presets; `data_count` counts phrases.
pub async fn list(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let (offset, limit) = p.paging(Some(20))?.unwrap_or((0, 20));
    let db = state.db.get().await?;
    let (rows, total) = db::follow::list(&db, caller.company_id, caller.id, offset, limit).await?;
    let phrases: Vec<_> = rows
        .iter()
        .map(|(id, text)| json!({"language_id": id, "language": text}))
        .collect();
    Ok(Reply::ok(
        "",
        json!({"ret_data": [{"user_id": caller.id.to_string(), "follow_language": phrases}], "data_count": total}),
    ))
}

/// QYW-43 (its documented msg is "删除成功", A-06).
pub async fn add(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    let text = p.req_str("custom_language")?;
    if text.chars().count() > 200 {
        return Err(ApiError::form("常用语不能超过200个字"));
    }
    let db = state.db.get().await?;
    db::follow::add(&db, caller.company_id, caller.id, text).await?;
    Ok(Reply::done("删除成功"))
}

/// QYW-44: only one's own phrases.
pub async fn delete(State(state): State<AppState>, caller: StaffWrite, OId(id): OId) -> ApiResult {
    let db = state.db.get().await?;
    db::follow::delete(&db, caller.id, id).await?;
    Ok(Reply::done("删除成功"))
}
