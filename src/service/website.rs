//! The company website and its templates (ADM-39..44). Every staff member of the company reads
//! them; administrators write them. The website is keyed by company.

use crate::{
    auth::Staff,
    db::{
        self,
        website::{TemplateRow, WebsiteRow},
    },
    domain::content,
    error::ApiError,
    service::product::own_company,
    state::AppState,
};

fn checked(field: &str, raw: &str) -> Result<String, ApiError> {
    Ok(content::website(field, raw)
        .map_err(|e| ApiError::form(e.0))?
        .text)
}

/// ADM-39 (`company_id` must be the caller's company).
pub async fn show(
    state: &AppState,
    caller: &Staff,
    company_id: i64,
) -> Result<WebsiteRow, ApiError> {
    let company_id = own_company(caller.company_id, Some(company_id))?;
    let db = state.db.get().await?;
    db::website::get(&db, company_id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// ADM-40 (the path's company wins; A-34).
pub async fn save(
    state: &AppState,
    caller: &Staff,
    company_id: i64,
    raw: &str,
) -> Result<(), ApiError> {
    let company_id = own_company(caller.company_id, Some(company_id))?;
    caller.require_admin()?;
    let text = checked("website_content", raw)?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::website::save(&tx, company_id, &text).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn templates(
    state: &AppState,
    caller: &Staff,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<TemplateRow>, i64), ApiError> {
    let db = state.db.get().await?;
    db::website::templates(&db, caller.company_id, paging).await
}

fn name(name: Option<&str>) -> Result<Option<&str>, ApiError> {
    match name {
        Some(n) if n.chars().count() > 128 => Err(ApiError::form("name 不能超过128个字符")),
        n => Ok(n),
    }
}

pub async fn add_template(
    state: &AppState,
    caller: &Staff,
    template_name: Option<&str>,
    raw: &str,
) -> Result<i64, ApiError> {
    caller.require_admin()?;
    let text = checked("template_content", raw)?;
    let template_name = name(template_name)?.unwrap_or("");
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let id = db::website::insert_template(&tx, caller.company_id, template_name, &text).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update_template(
    state: &AppState,
    caller: &Staff,
    id: i64,
    template_name: Option<&str>,
    raw: &str,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    let text = checked("template_content", raw)?;
    let template_name = name(template_name)?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::website::update_template(&tx, caller.company_id, id, template_name, &text).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete_template(state: &AppState, caller: &Staff, id: i64) -> Result<(), ApiError> {
    caller.require_admin()?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::website::delete_template(&tx, caller.company_id, id).await?;
    tx.commit().await?;
    Ok(())
}
