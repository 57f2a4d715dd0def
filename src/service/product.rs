//! Products and feedback (ADM-11..19, feedback creation). Who may do what:
//! - company (官网) products (type 1): every staff member of the company reads them; only
//!   administrators (role level ≤ 2, A-11) write them;
//! - personal products (type 2): administrators read and write all of the company's; a member
//!   reads and writes only their own (others' are invisible: 302);
//! - ADM-15 follows the same rule: administrators delete any product, members only their own
//!   personal products (a company product answers 404 非法请求);
//! - feedback: the platform operator reads and handles every company's; a company admin their
//!   own company's. Salespeople and customers create it.

use crate::{
    auth::{Customer, Staff},
    db::{
        self,
        product::{Author, FeedbackRow, ProductFilter, ProductInput, ProductRow},
    },
    domain::content,
    error::ApiError,
    state::AppState,
};

pub const COMPANY: i16 = 1;
pub const PERSONAL: i16 = 2;

/// `product_type` 1 or 2 (303 otherwise).
pub fn product_type(v: Option<i64>, default: Option<i16>) -> Result<i16, ApiError> {
    match v {
        Some(1) => Ok(COMPANY),
        Some(2) => Ok(PERSONAL),
        None => default.ok_or_else(|| ApiError::form("product_type 不能为空")),
        Some(_) => Err(ApiError::form("product_type 只能是 1 或 2")),
    }
}

/// The caller's company; a `company_id` naming another one is 302 (tenants never see each other).
pub fn own_company(caller_company: i64, asked: Option<i64>) -> Result<i64, ApiError> {
    match asked {
        Some(c) if c != caller_company => Err(ApiError::not_found()),
        _ => Ok(caller_company),
    }
}

/// Validated product content: `(content, cover_data)` JSON text.
pub fn check_content(raw: Option<&str>) -> Result<Option<(String, String)>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let (checked, cover) = content::product(raw).map_err(|e| ApiError::form(e.0))?;
    Ok(Some((checked.text, cover)))
}

pub async fn list(
    state: &AppState,
    caller: &Staff,
    mut f: ProductFilter,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<ProductRow>, i64), ApiError> {
    f.company_id = own_company(caller.company_id, Some(f.company_id))?;
    if f.product_type == PERSONAL && !caller.level.is_admin() {
        f.owner = Some(caller.id);
    }
    let db = state.db.get().await?;
    db::product::list(&db, &f, paging).await
}

fn visible(caller: &Staff, p: &ProductRow) -> bool {
    p.product_type == COMPANY || caller.level.is_admin() || p.user_id == Some(caller.id)
}

/// Write permission on a visible product.
fn may_write(caller: &Staff, p: &ProductRow) -> Result<(), ApiError> {
    if caller.level.is_admin() || (p.product_type == PERSONAL && p.user_id == Some(caller.id)) {
        Ok(())
    } else {
        Err(ApiError::illegal(
            "a member may only change their own personal products",
        ))
    }
}

/// ADM-12: one product (302 when invisible or not of `product_type`).
pub async fn get(
    state: &AppState,
    caller: &Staff,
    id: i64,
    product_type: Option<i16>,
) -> Result<ProductRow, ApiError> {
    let db = state.db.get().await?;
    db::product::get(&db, caller.company_id, id, false)
        .await?
        .filter(|p| visible(caller, p) && product_type.is_none_or(|t| t == p.product_type))
        .ok_or_else(ApiError::not_found)
}

pub async fn add(
    state: &AppState,
    caller: &Staff,
    product_type: i16,
    p: ProductInput,
) -> Result<i64, ApiError> {
    if product_type == COMPANY {
        caller.require_admin()?;
    }
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let id = db::product::insert(&tx, caller.company_id, caller.id, product_type, &p).await?;
    tx.commit().await?;
    Ok(id)
}

/// Loads the product for update inside `tx` and checks the caller may change it.
async fn writable(
    tx: &deadpool_postgres::Transaction<'_>,
    caller: &Staff,
    id: i64,
) -> Result<ProductRow, ApiError> {
    let p = db::product::get(tx, caller.company_id, id, true)
        .await?
        .filter(|p| visible(caller, p))
        .ok_or_else(ApiError::not_found)?;
    may_write(caller, &p)?;
    Ok(p)
}

pub async fn update(
    state: &AppState,
    caller: &Staff,
    id: i64,
    p: ProductInput,
) -> Result<(), ApiError> {
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    writable(&tx, caller, id).await?;
    db::product::update(&tx, caller.company_id, id, &p).await?;
    tx.commit().await?;
    Ok(())
}

/// ADM-15.
pub async fn delete(state: &AppState, caller: &Staff, id: i64) -> Result<(), ApiError> {
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    writable(&tx, caller, id).await?;
    db::product::delete(&tx, caller.company_id, id).await?;
    tx.commit().await?;
    Ok(())
}

/// ADM-16: 1 on shelf, 2 off. A featured product (3) put on the shelf stays featured.
pub async fn change_status(
    state: &AppState,
    caller: &Staff,
    id: i64,
    status: i16,
) -> Result<i16, ApiError> {
    if status != 1 && status != 2 {
        return Err(ApiError::form("status 只能是 1 或 2"));
    }
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let p = writable(&tx, caller, id).await?;
    let new = if status == 1 && p.status == 3 {
        3
    } else {
        status
    };
    db::product::set_status(&tx, caller.company_id, id, new).await?;
    tx.commit().await?;
    Ok(new)
}

/// ADM-19: 0..=10 (10 first in lists).
pub async fn recommend_index(
    state: &AppState,
    caller: &Staff,
    id: i64,
    index: i64,
) -> Result<(), ApiError> {
    let index = i16::try_from(index)
        .ok()
        .filter(|i| (0..=10).contains(i))
        .ok_or_else(|| ApiError::form("index 只能是 0-10"))?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    writable(&tx, caller, id).await?;
    db::product::set_recommend_index(&tx, caller.company_id, id, index).await?;
    tx.commit().await?;
    Ok(())
}

/// `problem_type` names (1 is documented; 2 and 3 are this server's, docs/content.md).
pub fn problem_type_text(t: i16) -> &'static str {
    match t {
        1 => "客户服务",
        2 => "功能建议",
        _ => "其他",
    }
}

fn check_feedback(problem_type: Option<i64>) -> Result<i16, ApiError> {
    match problem_type.unwrap_or(1) {
        t @ 1..=3 => Ok(t as i16),
        _ => Err(ApiError::form("problem_type 只能是 1-3")),
    }
}

async fn add_feedback(
    state: &AppState,
    company_id: i64,
    author: Author,
    problem_type: Option<i64>,
    raw: &str,
) -> Result<i64, ApiError> {
    let problem_type = check_feedback(problem_type)?;
    let checked = content::feedback(raw).map_err(|e| ApiError::form(e.0))?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let id =
        db::product::insert_feedback(&tx, company_id, author, problem_type, &checked.text).await?;
    tx.commit().await?;
    Ok(id)
}

/// Feedback from a salesperson (or any staff member).
pub async fn feedback_from_staff(
    state: &AppState,
    caller: &Staff,
    problem_type: Option<i64>,
    raw: &str,
) -> Result<i64, ApiError> {
    add_feedback(
        state,
        caller.company_id,
        Author::Staff(caller.id),
        problem_type,
        raw,
    )
    .await
}

/// Feedback from a customer in the mini program or the official account.
pub async fn feedback_from_customer(
    state: &AppState,
    caller: &Customer,
    problem_type: Option<i64>,
    raw: &str,
) -> Result<i64, ApiError> {
    add_feedback(
        state,
        caller.company_id,
        Author::Customer(caller.id),
        problem_type,
        raw,
    )
    .await
}

/// ADM-17.
pub async fn list_feedback(
    state: &AppState,
    caller: &Staff,
    company_id: Option<i64>,
    status: Option<i64>,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<FeedbackRow>, i64), ApiError> {
    caller.require_admin()?;
    let status = match status {
        None => None,
        Some(s @ 1..=2) => Some(s as i16),
        Some(_) => return Err(ApiError::form("status 只能是 1 或 2")),
    };
    let company = if caller.is_operator() {
        company_id
    } else {
        Some(own_company(caller.company_id, company_id)?)
    };
    let db = state.db.get().await?;
    db::product::list_feedback(&db, company, status, paging).await
}

/// ADM-18.
pub async fn set_feedback_status(
    state: &AppState,
    caller: &Staff,
    id: i64,
    status: i64,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    let status = match status {
        s @ 1..=2 => s as i16,
        _ => return Err(ApiError::form("status 只能是 1 或 2")),
    };
    let company = (!caller.is_operator()).then_some(caller.company_id);
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::product::set_feedback_status(&tx, company, id, status).await?;
    tx.commit().await?;
    Ok(())
}
