//! GZH-06, GZH-10, GZH-11: the customer reads, forwards and stays on an article in the
//! official account. Each is stored and pushed to the salesperson (`service::article`).

use axum::extract::State;
use serde_json::json;

use crate::{
    api::{
        params::Params,
        reply::{ascii_json, ApiResult, RawReply, Reply},
        OId,
    },
    auth::CustomerEvent,
    domain::{article::MAX_STAY_SECS, time},
    error::ApiError,
    service,
    state::AppState,
};

/// `uid` (or `u_id`): the salesperson who shared the article.
fn uid(p: &Params) -> Result<i64, ApiError> {
    p.i64_any(&["uid", "u_id"])?
        .ok_or_else(|| ApiError::form("uid 不能为空"))
}

/// GZH-06: the article, and the access recorded with its level. Its signature is
/// spent with the access, like a content view's: a replay answers 404 签名已使用 and records
/// nothing.
pub async fn show(
    State(state): State<AppState>,
    caller: CustomerEvent,
    OId(id): OId,
    p: Params,
) -> Result<RawReply, ApiError> {
    let (a, rec) =
        service::article::read(&state, &caller, caller.spend(), id, uid(&p)?, p.i64("pid")?)
            .await?;
    // The article is the same for every reader: rendered once per cache entry.
    let row = a.rendered(|a| {
        ascii_json(&json!({
            "id": a.id,
            "title": a.title,
            "author": a.author,
            "avatar": a.avatar,
            "summary": a.summary,
            "create_date": time::iso(a.create_date),
            "cover_url": a.cover_url,
            "content": a.content.as_deref().unwrap_or_default(),
            "tag_list": a.tags.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
            "insert_ads": a.insert_ads,
        }))
    });
    let access = rec
        .access_id
        .map_or_else(|| "null".to_owned(), |id| id.to_string());
    Ok(RawReply::new(
        "",
        &[
            ("article_access_log_id", &[access.as_bytes()]),
            ("ret_data", &[b"[".as_slice(), row, b"]".as_slice()]),
        ],
    ))
}

/// GZH-10 (`forward_type` 1 朋友 friend, the default, or 2 朋友圈 Moments).
pub async fn forward(
    State(state): State<AppState>,
    caller: CustomerEvent,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    let forward_type = match p.i64("forward_type")? {
        None | Some(1) => 1,
        Some(2) => 2,
        Some(_) => return Err(ApiError::form("forward_type 只能是 1(朋友) 或 2(朋友圈)")),
    };
    service::article::forward(
        &state,
        &caller,
        caller.spend(),
        id,
        uid(&p)?,
        p.i64("pid")?,
        forward_type,
    )
    .await?;
    Ok(Reply::done("记录转发成功"))
}

/// GZH-11: `stay_time` = seconds since the access, or the page's own measure
/// (`stay_time` parameter, an extension); only ever grows.
pub async fn staytime(
    State(state): State<AppState>,
    caller: CustomerEvent,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    let access = p.req_i64("article_access_log_id")?;
    let secs = match p.i64("stay_time")? {
        None => None,
        Some(s) if (0..=i64::from(MAX_STAY_SECS)).contains(&s) => Some(s as i32),
        Some(_) => return Err(ApiError::form("stay_time 只能是 0-86400 秒")),
    };
    service::article::stay(&state, &caller, caller.spend(), id, access, secs).await?;
    Ok(Reply::done("记录客户查看文章时间成功"))
}
