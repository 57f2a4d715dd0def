//! The customer's pages (API.md §8 gap 6; docs/content.md), served under
//! `/zhugeleida/xiaochengxu/…` and `/zhugeleida/gongzhonghao/…`: products, the website, the
//! company's activities (its news) and goods of salesperson `uid`'s company. Every page is a
//! radar event pushed to `uid` before the answer (`service::showcase`).

use axum::extract::State;

use crate::{
    api::{
        admin::{
            plugin::{activity_row, goods_row},
            product::{list_row, single_row},
            website::website_row,
        },
        params::Params,
        reply::{ascii_json, ApiResult, RawReply, Reply},
    },
    auth::{replay::Spend, Customer, CustomerEvent, CustomerWrite},
    error::ApiError,
    service::showcase::{self as svc, Viewer},
    state::AppState,
};

/// The viewer of a page whose only write is its event: the signature is spent with it.
fn viewer<'a>(caller: &'a CustomerEvent, p: &Params) -> Result<Viewer<'a>, ApiError> {
    viewer_of(caller, Some(caller.spend()), p)
}

fn viewer_of<'a>(
    customer: &'a Customer,
    spend: Option<&'a Spend>,
    p: &Params,
) -> Result<Viewer<'a>, ApiError> {
    let uid = p
        .i64_any(&["uid", "u_id"])?
        .ok_or_else(|| ApiError::form("uid 不能为空"))?;
    Ok(Viewer {
        customer,
        spend,
        uid,
        source: if p.i64("source")? == Some(2) { 2 } else { 1 },
    })
}

/// `GET …/product?uid=`: on-shelf company products and `uid`'s personal products (ADM-11 rows).
pub async fn products(
    State(state): State<AppState>,
    caller: CustomerEvent,
    p: Params,
) -> ApiResult {
    let (rows, total) = svc::products(&state, &viewer(&caller, &p)?, p.paging(None)?).await?;
    Ok(Reply::list(
        "查询成功",
        rows.iter().map(list_row).collect(),
        total,
    ))
}

/// `GET …/product/product_single?uid=&product_id=` (the ADM-12 row, rendered once per cache
/// entry).
pub async fn product(
    State(state): State<AppState>,
    caller: CustomerEvent,
    p: Params,
) -> Result<RawReply, ApiError> {
    let id = p.req_i64("product_id")?;
    let row = svc::product(&state, &viewer(&caller, &p)?, id).await?;
    Ok(RawReply::list_of_one(
        "查询成功",
        row.rendered(|r| ascii_json(&single_row(r))),
    ))
}

/// `GET …/website?uid=` (the ADM-39 row, rendered once per cache entry).
pub async fn website(
    State(state): State<AppState>,
    caller: CustomerEvent,
    p: Params,
) -> Result<RawReply, ApiError> {
    let w = svc::website(&state, &viewer(&caller, &p)?).await?;
    Ok(RawReply::list_of_one(
        "查询成功",
        w.rendered(|r| ascii_json(&website_row(r))),
    ))
}

/// `GET …/plugin_report?uid=` and `…/company_news?uid=`: the activities (ADM-55 rows without
/// the sign-ups).
pub async fn activities(
    State(state): State<AppState>,
    caller: CustomerEvent,
    p: Params,
) -> ApiResult {
    let (rows, total) = svc::activities(&state, &viewer(&caller, &p)?, p.paging(None)?).await?;
    Ok(Reply::list(
        "查询成功",
        rows.iter().map(|a| activity_row(a, false)).collect(),
        total,
    ))
}

/// `GET …/plugin_report/activity_single?uid=&activity_id=`.
pub async fn activity(
    State(state): State<AppState>,
    caller: CustomerWrite,
    p: Params,
) -> ApiResult {
    let id = p.req_i64("activity_id")?;
    // The read count moves before the event: the signature is spent before both.
    let a = svc::activity(&state, &viewer_of(&caller, None, &p)?, id).await?;
    Ok(Reply::list("查询成功", vec![activity_row(&a, false)], 1))
}

/// `GET …/plugin_goods?uid=` (ADM-60 rows).
pub async fn goods(State(state): State<AppState>, caller: CustomerEvent, p: Params) -> ApiResult {
    let (rows, total) = svc::goods(&state, &viewer(&caller, &p)?, p.paging(None)?).await?;
    Ok(Reply::list(
        "查询成功",
        rows.iter().map(goods_row).collect(),
        total,
    ))
}

/// `GET …/plugin_goods/goods_single?uid=&goods_id=`.
pub async fn one_goods(
    State(state): State<AppState>,
    caller: CustomerEvent,
    p: Params,
) -> ApiResult {
    let id = p.req_i64("goods_id")?;
    let g = svc::one_goods(&state, &viewer(&caller, &p)?, id).await?;
    Ok(Reply::list("查询成功", vec![goods_row(&g)], 1))
}
