//! ADM-39..44: the company website (官网) and website templates.

use axum::extract::State;
use serde_json::json;

use crate::{
    api::{
        admin::product::json_text,
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{StaffRead, StaffWrite},
    db::website::WebsiteRow,
    domain::time,
    service::website as svc,
    state::AppState,
};

/// The ADM-39 row (also the customer's website page).
pub fn website_row(w: &WebsiteRow) -> serde_json::Value {
    json!({
        "id": w.company_id,
        "name": w.name,
        "website_content": json_text(&w.website_content, json!([])),
        "create_date": time::iso(w.create_date),
    })
}

/// ADM-39.
pub async fn show(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let w = svc::show(&state, &caller, p.req_i64("company_id")?).await?;
    Ok(Reply::list("", vec![website_row(&w)], 1))
}

/// ADM-40 (A-34: the path's company id wins; the body's is optional).
pub async fn edit(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(company_id): OId,
    p: Params,
) -> ApiResult {
    svc::save(&state, &caller, company_id, p.req_str("website_content")?).await?;
    Ok(Reply::done("保存成功"))
}

/// ADM-41.
pub async fn templates(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let (rows, total) = svc::templates(&state, &caller, p.paging(None)?).await?;
    let rows = rows
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "name": t.name,
                "template_content": json_text(&t.template_content, json!([])),
                "create_date": time::iso(t.create_date),
            })
        })
        .collect();
    Ok(Reply::list("", rows, total))
}

/// ADM-42.
pub async fn add_template(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> ApiResult {
    svc::add_template(
        &state,
        &caller,
        p.str("name"),
        p.req_str("template_content")?,
    )
    .await?;
    Ok(Reply::done("保存成功"))
}

/// ADM-43.
pub async fn update_template(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    svc::update_template(
        &state,
        &caller,
        id,
        p.str("name"),
        p.req_str("template_content")?,
    )
    .await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-44.
pub async fn delete_template(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
) -> ApiResult {
    svc::delete_template(&state, &caller, id).await?;
    Ok(Reply::done("删除成功"))
}
