//! ADM-64..72: the article library and its tags, plus publishing (API.md 8 gap 8, a documented
//! extension in docs/articles.md). Any staff member of the company reads; admins write.

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{StaffRead, StaffWrite},
    db::{
        self,
        article::{ArticleInput, ArticleRow, ListFilter},
    },
    domain::{article, time},
    error::ApiError,
    state::AppState,
};

/// Longest title and tag name accepted.
const MAX_TITLE: usize = 200;
/// Largest content blob accepted, in bytes.
const MAX_CONTENT: usize = 512 * 1024;

/// The ADM-64 row (ADM-65 adds `content`).
pub fn row(a: &ArticleRow) -> Value {
    let mut v = json!({
        "id": a.id,
        "title": a.title,
        "summary": a.summary,
        "status_code": a.status,
        "status": article::status_name(a.status),
        "source_code": a.source,
        "source": article::source_name(a.source),
        "author": a.author,
        "avatar": a.avatar,
        "read_count": a.read_count,
        "forward_count": a.forward_count,
        "create_date": time::iso(a.create_date),
        "cover_url": a.cover_url,
        "tag_list": a.tags.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
        "insert_ads": a.insert_ads,
    });
    if let (Some(c), Some(obj)) = (&a.content, v.as_object_mut()) {
        obj.insert("content".into(), Value::String(c.clone()));
    }
    v
}

fn status(p: &Params) -> Result<Option<i16>, ApiError> {
    match p.i64("status")? {
        None => Ok(None),
        Some(s @ (1 | 2)) => Ok(Some(s as i16)),
        Some(_) => Err(ApiError::form("status 只能是 1(已发) 或 2(未发)")),
    }
}

/// ADM-64.
pub async fn list(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let f = ListFilter {
        status: status(&p)?,
        title: p.str("title"),
        tags: p.id_list("tags_list")?,
        order: p.str("order"),
    };
    let db = state.db.get().await?;
    let (rows, total) = db::article::list(&db, caller.company_id, &f, p.paging(None)?).await?;
    Ok(Reply::list("", rows.iter().map(row).collect(), total))
}

/// ADM-65.
pub async fn show(State(state): State<AppState>, caller: StaffRead, OId(id): OId) -> ApiResult {
    let db = state.db.get().await?;
    let a = db::article::get(&db, caller.company_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Reply::list("", vec![row(&a)], 1))
}

fn input(p: &Params, adding: bool) -> Result<ArticleInput, ApiError> {
    let title = if adding {
        Some(p.req_str("title")?.to_owned())
    } else {
        p.str("title").map(str::to_owned)
    };
    if title
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_TITLE)
    {
        return Err(ApiError::form("标题不能超过200个字"));
    }
    let content = p.str("content").map(str::to_owned);
    if content.as_ref().is_some_and(|c| c.len() > MAX_CONTENT) {
        return Err(ApiError::form("文章内容过长"));
    }
    Ok(ArticleInput {
        title,
        summary: p.str("summary").map(str::to_owned),
        cover_url: p
            .str_any(&["cover_picture", "cover_url"])
            .map(str::to_owned),
        content,
        insert_ads: p.str("insert_ads").map(str::to_owned),
        status: status(p)?,
        tags: p.id_list("tags_id_list")?,
    })
}

/// ADM-66.
pub async fn add(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    caller.require_admin()?;
    let a = input(&p, true)?;
    let mut db = state.db.get().await?;
    db::article::add(&mut db, caller.company_id, caller.id, &a).await?;
    Ok(Reply::ok("添加成功", json!([])))
}

/// ADM-67 (its documented msg is "添加成功", A-06); `status` may be set.
pub async fn update(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    caller.require_admin()?;
    let a = input(&p, false)?;
    let mut db = state.db.get().await?;
    db::article::update(&mut db, caller.company_id, id, &a).await?;
    Ok(Reply::ok("添加成功", json!([])))
}

/// Extension (gap 8): `status` 1 publishes (the default), 2 withdraws.
pub async fn publish(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    caller.require_admin()?;
    let a = ArticleInput {
        status: Some(status(&p)?.unwrap_or(1)),
        ..ArticleInput::default()
    };
    let mut db = state.db.get().await?;
    db::article::update(&mut db, caller.company_id, id, &a).await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-68.
pub async fn delete(State(state): State<AppState>, caller: StaffWrite, OId(id): OId) -> ApiResult {
    caller.require_admin()?;
    let db = state.db.get().await?;
    db::article::delete(&db, caller.company_id, id).await?;
    Ok(Reply::done("删除成功"))
}

/// ADM-69.
pub async fn tags(State(state): State<AppState>, caller: StaffRead) -> ApiResult {
    let db = state.db.get().await?;
    let tags = db::article::tags(&db, caller.company_id).await?;
    let n = tags.len() as i64;
    Ok(Reply::list(
        "",
        tags.into_iter()
            .map(|(id, name)| json!({"id": id, "name": name}))
            .collect(),
        n,
    ))
}

fn tag_name(p: &Params) -> Result<&str, ApiError> {
    let name = p.req_str("tag_name")?;
    if name.chars().count() > 50 {
        return Err(ApiError::form("标签名不能超过50个字"));
    }
    Ok(name)
}

/// ADM-70.
pub async fn add_tag(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    caller.require_admin()?;
    let name = tag_name(&p)?;
    let db = state.db.get().await?;
    let id = db::article::add_tag(&db, caller.company_id, name).await?;
    Ok(Reply::ok(
        "添加成功",
        json!([{"tag_id": id, "tag_name": name}]),
    ))
}

/// ADM-71 (msg "添加成功" as documented).
pub async fn update_tag(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    caller.require_admin()?;
    let name = tag_name(&p)?;
    let db = state.db.get().await?;
    db::article::rename_tag(&db, caller.company_id, id, name).await?;
    Ok(Reply::ok(
        "添加成功",
        json!([{"tag_id": id, "tag_name": name}]),
    ))
}

/// ADM-72.
pub async fn delete_tag(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
) -> ApiResult {
    caller.require_admin()?;
    let db = state.db.get().await?;
    db::article::delete_tag(&db, caller.company_id, id).await?;
    Ok(Reply::ok("删除成功", json!([])))
}
