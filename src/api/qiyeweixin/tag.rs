//! QYW-24..32: customer tags, grouped (基本功能, 关注点, 级别, 自定义), and the customers that
//! carry them. Tags and customers of another company are invisible (302).

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
    error::ApiError,
    state::AppState,
};

fn tag_name(p: &Params) -> Result<&str, ApiError> {
    let name = p.req_str("name")?;
    if name.chars().count() > 32 {
        return Err(ApiError::form("标签名不能超过32个字"));
    }
    Ok(name)
}

/// `user_list` or `customer_list`, both customer ids.
fn members(p: &Params) -> Result<Option<Vec<i64>>, ApiError> {
    match p.id_list("customer_list")? {
        Some(l) => Ok(Some(l)),
        None => p.id_list("user_list"),
    }
}

/// QYW-24.
pub async fn list(State(state): State<AppState>, caller: StaffRead) -> ApiResult {
    let db = state.db.get().await?;
    let tags = db::tag::list(&db, caller.company_id, caller.id).await?;
    let rows: Vec<Value> = tags
        .iter()
        .map(|t| json!({"id": t.id, "name": t.name, "tag_id": t.id, "customer_list": t.customers}))
        .collect();
    let n = rows.len();
    Ok(Reply::ok("", json!({"ret_data": rows, "data_count": n})))
}

/// Creates a custom tag and binds customers, in one transaction.
async fn create_with(
    state: &AppState,
    company_id: i64,
    name: &str,
    customers: &[i64],
) -> Result<i64, ApiError> {
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::tag::check_customers(&tx, company_id, customers).await?;
    let id = db::tag::create(&tx, company_id, name).await?;
    db::tag::add_members(&tx, id, customers).await?;
    tx.commit().await?;
    Ok(id)
}

/// QYW-25.
pub async fn add(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    let customers = members(&p)?.unwrap_or_default();
    create_with(&state, caller.company_id, tag_name(&p)?, &customers).await?;
    Ok(Reply::done("添加成功"))
}

/// QYW-26: a new name and/or a new member set.
pub async fn update(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    let name = if p.has("name") {
        Some(tag_name(&p)?)
    } else {
        None
    };
    let customers = members(&p)?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::tag::check_tag(&tx, caller.company_id, id).await?;
    if let Some(name) = name {
        db::tag::rename(&tx, id, name).await?;
    }
    if let Some(customers) = customers {
        db::tag::check_customers(&tx, caller.company_id, &customers).await?;
        db::tag::set_members(&tx, id, &customers).await?;
    }
    tx.commit().await?;
    Ok(Reply::done("修改成功"))
}

/// QYW-27.
pub async fn delete(State(state): State<AppState>, caller: StaffWrite, OId(id): OId) -> ApiResult {
    let db = state.db.get().await?;
    db::tag::delete(&db, caller.company_id, id).await?;
    Ok(Reply::done("删除成功"))
}

/// QYW-28: tags carried by the salesperson's customers, most used first (`ret_count`).
pub async fn with_customers(State(state): State<AppState>, caller: StaffRead) -> ApiResult {
    let db = state.db.get().await?;
    let tags = db::tag::with_customers(&db, caller.company_id, caller.id).await?;
    let rows: Vec<Value> = tags
        .iter()
        .map(|(id, name, customers)| {
            let list: Vec<Value> =
                customers.iter().map(|(cid, cname, head)| json!({"id": cid, "headimgurl": head, "name": cname})).collect();
            json!({"id": id, "name": name, "tag_id": id, "customer_num": customers.len(), "customer_list": list})
        })
        .collect();
    let n = rows.len();
    Ok(Reply::ok("", json!({"ret_data": rows, "ret_count": n})))
}

/// QYW-29.
pub async fn add_with_customers(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> ApiResult {
    let customers = p
        .id_list("customer_list")?
        .ok_or_else(|| ApiError::form("customer_list 不能为空"))?;
    create_with(&state, caller.company_id, tag_name(&p)?, &customers).await?;
    Ok(Reply::done("添加成功"))
}

/// QYW-30: every group with its tags; `tag_count` is the number of groups.
pub async fn grouped(State(state): State<AppState>, caller: StaffRead) -> ApiResult {
    let db = state.db.get().await?;
    let groups = db::tag::groups(&db, caller.company_id).await?;
    let tags = db::tag::list(&db, caller.company_id, caller.id).await?;
    let rows: Vec<Value> = groups
        .iter()
        .map(|g| {
            let list: Vec<Value> = tags
                .iter()
                .filter(|t| &t.group == g)
                .map(|t| json!({"id": t.id, "name": t.name}))
                .collect();
            json!({"tags": list, "name": g})
        })
        .collect();
    let n = rows.len();
    Ok(Reply::ok(
        "请求成功",
        json!({"ret_data": rows, "tag_count": n}),
    ))
}

/// QYW-31: a custom tag bound to customer `o_id`.
pub async fn add_to_customer(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(customer): OId,
    p: Params,
) -> ApiResult {
    create_with(&state, caller.company_id, tag_name(&p)?, &[customer]).await?;
    Ok(Reply::done("添加成功"))
}

/// QYW-32: `tag_list` replaces customer `o_id`'s tags (A-61: `name` ignored).
pub async fn set_customer_tags(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(customer): OId,
    p: Params,
) -> ApiResult {
    let tags = p
        .id_list("tag_list")?
        .ok_or_else(|| ApiError::form("tag_list 不能为空"))?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::tag::check_customers(&tx, caller.company_id, &[customer]).await?;
    db::tag::set_customer_tags(&tx, caller.company_id, customer, &tags).await?;
    tx.commit().await?;
    Ok(Reply::done("添加成功"))
}
