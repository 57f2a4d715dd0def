//! ADM-89..96: talk scripts (话术库). Reference fields take ids or exact names; list
//! items carry `id` (and `talkGroupId`) beside the documented keys. Staff read, admins write.

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{StaffRead, StaffWrite},
    db,
    domain::time,
    error::ApiError,
    state::AppState,
};

fn text<'a>(
    p: &'a Params,
    key: &str,
    max: usize,
    required: bool,
) -> Result<Option<&'a str>, ApiError> {
    let v = if required {
        Some(p.req_str(key)?)
    } else {
        p.str(key)
    };
    if v.is_some_and(|v| v.chars().count() > max) {
        return Err(ApiError::form(format!("{key} 不能超过{max}个字")));
    }
    Ok(v)
}

/// `companyName`, when sent, must name the caller's company (302 otherwise).
async fn check_company(
    db: &impl deadpool_postgres::GenericClient,
    company_id: i64,
    p: &Params,
) -> Result<(), ApiError> {
    match p.str("companyName") {
        Some(c) if !db::talk::is_company(db, company_id, c).await? => Err(ApiError::not_found()),
        _ => Ok(()),
    }
}

/// ADM-89.
pub async fn add_group(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    caller.require_admin()?;
    let name = text(&p, "groupName", 50, true)?.unwrap_or_default();
    let db = state.db.get().await?;
    check_company(&db, caller.company_id, &p).await?;
    let owner = match p.str("userProfile") {
        Some(u) => db::talk::resolve_user(&db, caller.company_id, u).await?,
        None => caller.id,
    };
    db::talk::add_group(&db, caller.company_id, owner, name).await?;
    Ok(Reply::done("添加成功"))
}

/// ADM-90.
pub async fn update_group(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    caller.require_admin()?;
    let name = text(&p, "groupName", 50, false)?;
    let db = state.db.get().await?;
    check_company(&db, caller.company_id, &p).await?;
    let owner = match p.str("userProfile") {
        Some(u) => Some(db::talk::resolve_user(&db, caller.company_id, u).await?),
        None => None,
    };
    db::talk::update_group(&db, caller.company_id, id, owner, name).await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-91 (304 while it has phrases).
pub async fn delete_group(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
) -> ApiResult {
    caller.require_admin()?;
    let db = state.db.get().await?;
    db::talk::delete_group(&db, caller.company_id, id).await?;
    Ok(Reply::done("删除成功"))
}

/// ADM-92.
pub async fn groups(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let db = state.db.get().await?;
    let (rows, total) =
        db::talk::groups(&db, caller.company_id, p.str("groupName"), p.paging(None)?).await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|g| {
            json!({
                "id": g.id,
                "groupName": g.name,
                "userProfile": g.user_name,
                "companyName": g.company_name,
                "createDate": time::ymd_hms(g.create_date),
            })
        })
        .collect();
    Ok(Reply::ok(
        "查询成功",
        json!({"otherList": list, "objsCount": total}),
    ))
}

/// ADM-93.
pub async fn add_phrase(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    caller.require_admin()?;
    let content = text(&p, "contentWords", 1000, true)?.unwrap_or_default();
    let group = p.req_str("talkGroupName")?;
    let db = state.db.get().await?;
    let group_id = db::talk::resolve_group(&db, caller.company_id, group).await?;
    db::talk::add_phrase(&db, caller.company_id, group_id, content).await?;
    Ok(Reply::done("添加成功"))
}

/// ADM-94.
pub async fn update_phrase(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    caller.require_admin()?;
    let content = text(&p, "contentWords", 1000, false)?;
    let db = state.db.get().await?;
    let group_id = match p.str("talkGroupName") {
        Some(g) => Some(db::talk::resolve_group(&db, caller.company_id, g).await?),
        None => None,
    };
    db::talk::update_phrase(&db, caller.company_id, id, group_id, content).await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-95.
pub async fn delete_phrase(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
) -> ApiResult {
    caller.require_admin()?;
    let db = state.db.get().await?;
    db::talk::delete_phrase(&db, caller.company_id, id).await?;
    Ok(Reply::done("删除成功"))
}

/// A phrase row of ADM-96 and of the salesperson's search.
pub fn phrase_row(r: &db::talk::PhraseRow) -> Value {
    json!({
        "id": r.id,
        "contentWords": r.content,
        "sendNum": r.send_num,
        "talkGroupName": r.group_name,
        "talkGroupId": r.group_id,
        "createDate": time::ymd_hms(r.create_date),
    })
}

/// ADM-96: optional filters `talkGroupId` / `talkGroupName` and `contentWords` (contains).
pub async fn phrases(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let db = state.db.get().await?;
    let group = match p.str_any(&["talkGroupId", "talkGroupName"]) {
        Some(g) => Some(db::talk::resolve_group(&db, caller.company_id, g).await?),
        None => None,
    };
    let (rows, total) = db::talk::phrases(
        &db,
        caller.company_id,
        group,
        p.str("contentWords"),
        false,
        p.paging(None)?,
    )
    .await?;
    Ok(Reply::ok(
        "查询成功",
        json!({"otherList": rows.iter().map(phrase_row).collect::<Vec<_>>(), "objsCount": total}),
    ))
}
