//! QYW-47..51: the salesperson's own card: its tags and the phone shown on it.

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
    },
    auth::{StaffRead, StaffWrite},
    db,
    error::ApiError,
    state::AppState,
};

fn tag_rows(tags: &[(i64, String)]) -> Vec<Value> {
    tags.iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect()
}

/// QYW-47.
pub async fn list(State(state): State<AppState>, caller: StaffRead) -> ApiResult {
    let db = state.db.get().await?;
    let tags = db::card::tags_of(&db, caller.id).await?;
    Ok(Reply::ok(
        "",
        json!({"user_id": caller.id.to_string(), "ret_data": tag_rows(&tags), "data_count": tags.len()}),
    ))
}

/// QYW-48: answers the new tag in an array.
pub async fn add(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    let name = p.req_str("name")?;
    if name.chars().count() > 32 {
        return Err(ApiError::form("标签名不能超过32个字"));
    }
    let db = state.db.get().await?;
    let id = db::card::create(&db, caller.company_id, caller.id, name).await?;
    Ok(Reply::ok("添加成功", json!([{"id": id, "name": name}])))
}

/// QYW-49: `tag_list` replaces the card's tags.
pub async fn save(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    let tags = p
        .id_list("tag_list")?
        .ok_or_else(|| ApiError::form("tag_list 不能为空"))?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::card::save(&tx, caller.company_id, caller.id, &tags).await?;
    tx.commit().await?;
    Ok(Reply::ok("添加成功", json!([])))
}

/// QYW-50: `id` (or a trailing path segment, A-72) names the tag.
pub async fn delete(
    State(state): State<AppState>,
    caller: StaffWrite,
    path: Option<axum::extract::Path<String>>,
    p: Params,
) -> ApiResult {
    let id = match p.i64("id")? {
        Some(id) => id,
        None => path
            .and_then(|axum::extract::Path(s)| s.trim().parse().ok())
            .ok_or_else(|| ApiError::form("id 不能为空"))?,
    };
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::card::remove(&tx, caller.company_id, caller.id, id).await?;
    tx.commit().await?;
    Ok(Reply::done("删除成功"))
}

/// QYW-51: `mingpian_phone` or `phone`; the documented msg is kept verbatim.
pub async fn save_phone(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    let phone = p
        .str_any(&["mingpian_phone", "phone"])
        .ok_or_else(|| ApiError::form("mingpian_phone 不能为空"))?;
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if !(5..=20).contains(&digits)
        || !phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '))
    {
        return Err(ApiError::form("手机号格式不正确"));
    }
    let db = state.db.get().await?;
    db::card::set_phone(&db, caller.id, phone).await?;
    Ok(Reply::done("删除成功"))
}
