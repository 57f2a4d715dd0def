//! The pages a customer opens in the mini program or the official account, read as the
//! signed-in customer of salesperson `uid` (API.md §8 gap 6; docs/content.md). Each page is
//! a radar event written by the one radar path (`service::radar::record`: stored by the radar
//! writer, counted by the triggers, pushed to the salesperson before the answer): products and
//! goods are 2 查看产品, activities (the company's news) 3 查看动态, the website 4 查看官网.
//! The page is read first: an id of another company, another salesperson's personal product or
//! an off-shelf product is 302 and writes no event.

use std::sync::Arc;

use crate::{
    auth::{replay::Spend, Customer},
    db::{
        self,
        plugin::{ActivityRow, GoodsRow},
        product::ProductRow,
        website::WebsiteRow,
    },
    domain::action,
    error::ApiError,
    service::{content_cache::Cached, radar},
    state::AppState,
};

pub const VIEW_PRODUCT: i16 = 2;
pub const VIEW_NEWS: i16 = 3;
pub const VIEW_WEBSITE: i16 = 4;

/// The viewer: the customer, the salesperson whose pages they read, and the relation source
/// (1 扫码, 2 转发) if this view creates the relation.
pub struct Viewer<'a> {
    pub customer: &'a Customer,
    /// The request's signature, spent with the view's event (`auth::CustomerEvent`); `None`
    /// when the request spent it already.
    pub spend: Option<&'a Spend>,
    pub uid: i64,
    pub source: i16,
}

async fn record(state: &AppState, v: &Viewer<'_>, a: i16) -> Result<(), ApiError> {
    debug_assert!(action::is_valid(a));
    radar::record(state, v.customer, v.spend, v.uid, a, v.source).await?;
    Ok(())
}

/// The salesperson must be of the customer's company (302), checked before any read.
async fn check_rep(state: &AppState, v: &Viewer<'_>) -> Result<(), ApiError> {
    let rep = state.people.user(state, v.uid).await?;
    if rep.company_id != v.customer.company_id {
        return Err(ApiError::not_found());
    }
    Ok(())
}

pub async fn products(
    state: &AppState,
    v: &Viewer<'_>,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<ProductRow>, i64), ApiError> {
    check_rep(state, v).await?;
    let page = {
        let db = state.db.get().await?;
        db::product::showcase(&db, v.customer.company_id, v.uid, paging).await?
    };
    record(state, v, VIEW_PRODUCT).await?;
    Ok(page)
}

/// The product from the node's content cache (src/service/content_cache.rs), with the rule of
/// `db::product::showcase_one`: on the shelf, a company product or `uid`'s own.
pub async fn product(
    state: &AppState,
    v: &Viewer<'_>,
    id: i64,
) -> Result<Arc<Cached<ProductRow>>, ApiError> {
    check_rep(state, v).await?;
    let p = state
        .content
        .product(state, v.customer.company_id, id)
        .await?
        .filter(|p| p.status != 2 && (p.product_type == 1 || p.user_id == Some(v.uid)))
        .ok_or_else(ApiError::not_found)?;
    record(state, v, VIEW_PRODUCT).await?;
    Ok(p)
}

pub async fn website(
    state: &AppState,
    v: &Viewer<'_>,
) -> Result<Arc<Cached<WebsiteRow>>, ApiError> {
    check_rep(state, v).await?;
    let w = state
        .content
        .website(state, v.customer.company_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    record(state, v, VIEW_WEBSITE).await?;
    Ok(w)
}

pub async fn activities(
    state: &AppState,
    v: &Viewer<'_>,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<ActivityRow>, i64), ApiError> {
    check_rep(state, v).await?;
    let page = {
        let db = state.db.get().await?;
        db::plugin::activities(&db, v.customer.company_id, paging, false).await?
    };
    record(state, v, VIEW_NEWS).await?;
    Ok(page)
}

/// One activity; the view counts as a read (`read_count`, ADM-55; API.md §8 gap 7).
pub async fn activity(state: &AppState, v: &Viewer<'_>, id: i64) -> Result<ActivityRow, ApiError> {
    check_rep(state, v).await?;
    let a = {
        let db = state.db.get().await?;
        db::plugin::activity(&db, v.customer.company_id, id, true)
            .await?
            .ok_or_else(ApiError::not_found)?
    };
    record(state, v, VIEW_NEWS).await?;
    Ok(a)
}

pub async fn goods(
    state: &AppState,
    v: &Viewer<'_>,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<GoodsRow>, i64), ApiError> {
    check_rep(state, v).await?;
    let page = {
        let db = state.db.get().await?;
        db::plugin::goods(&db, v.customer.company_id, paging).await?
    };
    record(state, v, VIEW_PRODUCT).await?;
    Ok(page)
}

pub async fn one_goods(state: &AppState, v: &Viewer<'_>, id: i64) -> Result<GoodsRow, ApiError> {
    check_rep(state, v).await?;
    let g = {
        let db = state.db.get().await?;
        db::plugin::one_goods(&db, v.customer.company_id, id)
            .await?
            .ok_or_else(ApiError::not_found)?
    };
    record(state, v, VIEW_PRODUCT).await?;
    Ok(g)
}
