//! Surface `xiaochengxu`: the customer inside the WeChat mini program.

mod content;
mod feedback;
mod login;
mod mingpian;

use axum::routing::any;

use crate::api::routes::Routes;

pub fn router() -> Routes {
    const P: &str = "/zhugeleida/xiaochengxu";
    Routes::new()
        .route(&format!("{P}/login"), any(login::login))
        .route(&format!("{P}/small_program_auth"), any(login::login))
        .route(&format!("{P}/mingpian"), any(mingpian::show))
        .route(&format!("{P}/mingpian/all"), any(mingpian::all))
        .route(&format!("{P}/mingpian/calling"), any(mingpian::calling))
        .route(&format!("{P}/mingpian/praise"), any(mingpian::praise))
        .route(&format!("{P}/mingpian/forward"), any(mingpian::forward))
        .route(&format!("{P}/mingpian/action"), any(mingpian::any_action))
        .merge(crate::api::gongzhonghao::chat_routes(P))
        .merge(customer_routes(P))
}

/// The customer-facing content routes under `prefix` (mini program and official account):
/// feedback, and the product, website, activity and goods pages (docs/content.md).
pub(crate) fn customer_routes(prefix: &str) -> Routes {
    Routes::new()
        .route(
            &format!("{prefix}/feedback/add/{{o_id}}"),
            any(feedback::add),
        )
        .route(&format!("{prefix}/product"), any(content::products))
        .route(
            &format!("{prefix}/product/product_single"),
            any(content::product),
        )
        .route(&format!("{prefix}/website"), any(content::website))
        .route(&format!("{prefix}/company_news"), any(content::activities))
        .route(&format!("{prefix}/plugin_report"), any(content::activities))
        .route(
            &format!("{prefix}/plugin_report/activity_single"),
            any(content::activity),
        )
        .route(
            &format!("{prefix}/plugin_report/sign_up_activity/{{o_id}}"),
            any(crate::api::admin::plugin::sign_up),
        )
        .route(&format!("{prefix}/plugin_goods"), any(content::goods))
        .route(
            &format!("{prefix}/plugin_goods/goods_single"),
            any(content::one_goods),
        )
}
