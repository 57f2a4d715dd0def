//! ADM-11..19: products (company and personal), shelf status, recommend index, feedback.

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{StaffRead, StaffWrite},
    db::product::{FeedbackRow, ProductFilter, ProductInput, ProductRow},
    domain::time,
    error::ApiError,
    service::product as svc,
    state::AppState,
};

/// Status text of a product.
pub fn status_text(s: i16) -> &'static str {
    match s {
        1 => "已发布",
        2 => "已下架",
        _ => "推荐",
    }
}

/// Stored JSON text as a value (`fallback` if it was somehow not JSON).
pub fn json_text(s: &str, fallback: Value) -> Value {
    serde_json::from_str(s).unwrap_or(fallback)
}

/// An ADM-11 row (content = cover_data only).
pub fn list_row(p: &ProductRow) -> Value {
    json!({
        "product_id": p.id,
        "content": {"cover_data": json_text(&p.content, json!([]))},
        "name": p.name,
        "price": p.price,
        "publisher_date": time::ymd_hms(p.create_date),
        "publisher": p.publisher.as_deref().unwrap_or(""),
        "status": status_text(p.status),
        "status_code": p.status,
        "recommend_index": p.recommend_index,
        "product_type": p.product_type,
    })
}

/// An ADM-12 row (A-24: ISO `publisher_date`, date `create_date`).
pub fn single_row(p: &ProductRow) -> Value {
    json!({
        "id": p.id,
        "publisher": p.publisher.as_deref().unwrap_or(""),
        "publisher_date": time::iso(p.create_date),
        "name": p.name,
        "price": p.price,
        "user_avatar": p.publisher_avatar.as_deref().unwrap_or(""),
        "reason": p.reason,
        "content": json_text(&p.content, json!({})),
        "create_date": time::ymd_of(p.create_date),
        "status": status_text(p.status),
        "status_code": p.status,
        "recommend_index": p.recommend_index,
        "product_type": p.product_type,
    })
}

/// ADM-11 filter from the query.
pub fn filter(p: &Params, company_id: i64) -> Result<ProductFilter, ApiError> {
    let status = match p.i64("status")? {
        None => None,
        Some(s @ 1..=3) => Some(s as i16),
        Some(_) => return Err(ApiError::form("status 只能是 1-3")),
    };
    Ok(ProductFilter {
        company_id,
        product_type: svc::product_type(p.i64("product_type")?, None)?,
        status,
        name: p.str("product_name").map(str::to_owned),
        owner: None,
    })
}

/// ADM-11.
pub async fn list(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let company = svc::own_company(caller.company_id, p.i64("company_id")?)?;
    let f = filter(&p, company)?;
    let (rows, total) = svc::list(&state, &caller, f, p.paging(None)?).await?;
    Ok(Reply::list(
        "查询成功",
        rows.iter().map(list_row).collect(),
        total,
    ))
}

/// ADM-12.
pub async fn single(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let id = p.req_i64("product_id")?;
    let t = match p.i64("product_type")? {
        None => None,
        v => Some(svc::product_type(v, None)?),
    };
    let row = svc::get(&state, &caller, id, t).await?;
    Ok(Reply::list("查询成功", vec![single_row(&row)], 1))
}

fn input(p: &Params) -> Result<ProductInput, ApiError> {
    let field = |k: &str, max: usize| -> Result<String, ApiError> {
        let v = p.req_str(k)?;
        if v.chars().count() > max {
            return Err(ApiError::form(format!("{k} 不能超过{max}个字符")));
        }
        Ok(v.to_owned())
    };
    Ok(ProductInput {
        name: field("name", 128)?,
        price: field("price", 64)?,
        reason: field("reason", 1000)?,
        content: svc::check_content(p.str("content"))?,
    })
}

/// ADM-13 (A-25: `product_type` from query or form, default 1; `product_id` ignored).
pub async fn add(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    let t = svc::product_type(p.i64("product_type")?, Some(svc::COMPANY))?;
    svc::add(&state, &caller, t, input(&p)?).await?;
    Ok(Reply::done("添加成功"))
}

/// ADM-14 ("添加成功" sic, A-06).
pub async fn update(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    svc::update(&state, &caller, id, input(&p)?).await?;
    Ok(Reply::done("添加成功"))
}

/// ADM-15.
pub async fn delete(State(state): State<AppState>, caller: StaffWrite, OId(id): OId) -> ApiResult {
    svc::delete(&state, &caller, id).await?;
    Ok(Reply::done("删除成功"))
}

/// ADM-16.
pub async fn change_status(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    let status = p.req_i64("status")?;
    let status = i16::try_from(status).map_err(|_| ApiError::form("status 只能是 1 或 2"))?;
    let new = svc::change_status(&state, &caller, id, status).await?;
    Ok(Reply::ok(
        "修改下架状态成功",
        json!({"product_id": id, "status": status_text(new), "status_code": new}),
    ))
}

/// ADM-19.
pub async fn recommend_index(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    svc::recommend_index(&state, &caller, id, p.req_i64("index")?).await?;
    Ok(Reply::done("修改成功"))
}

fn feedback_row(f: &FeedbackRow) -> Value {
    json!({
        "id": f.id,
        "user_id": f.user_id,
        "customer_id": f.customer_id,
        "user_name": f.author_name.as_deref().unwrap_or(""),
        "problem_type": f.problem_type,
        "problem_type_text": svc::problem_type_text(f.problem_type),
        "content": json_text(&f.content, json!([])),
        "company_name": f.company_name,
        "company_id": f.company_id,
        "status": f.status,
        "status_text": if f.status == 2 { "已处理" } else { "未处理" },
        "create_date": time::iso(f.create_date),
    })
}

/// ADM-17.
pub async fn feedback_list(
    State(state): State<AppState>,
    caller: StaffRead,
    p: Params,
) -> ApiResult {
    let (rows, total) = svc::list_feedback(
        &state,
        &caller,
        p.i64("company_id")?,
        p.i64("status")?,
        p.paging(None)?,
    )
    .await?;
    Ok(Reply::list(
        "查询成功",
        rows.iter().map(feedback_row).collect(),
        total,
    ))
}

/// ADM-18.
pub async fn change_feedback_status(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    svc::set_feedback_status(&state, &caller, id, p.req_i64("status")?).await?;
    Ok(Reply::done("修改状态成功"))
}
