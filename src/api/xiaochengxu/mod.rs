//! Surface `xiaochengxu`: the customer inside the WeChat mini program.

mod feedback;
mod login;
mod mingpian;

use axum::{routing::any, Router};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    const P: &str = "/zhugeleida/xiaochengxu";
    Router::new()
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
pub(crate) fn customer_routes(prefix: &str) -> Router<AppState> {
    Router::new().route(
        &format!("{prefix}/feedback/add/{{o_id}}"),
        any(feedback::add),
    )
}
