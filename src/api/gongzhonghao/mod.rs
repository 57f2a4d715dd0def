//! Surface `gongzhonghao`: the customer in official-account H5 pages. Its chat endpoints
//! are also served under `/zhugeleida/xiaochengxu/chat/...` for mini-program clients.

mod article;
mod auth;
pub(crate) mod chat;

use axum::routing::any;

use crate::api::routes::Routes;

/// The customer-side chat routes under `prefix` (`/zhugeleida/gongzhonghao` or `/zhugeleida/xiaochengxu`).
pub(crate) fn chat_routes(prefix: &str) -> Routes {
    Routes::new()
        .route(&format!("{prefix}/chat"), any(chat::history))
        .route(&format!("{prefix}/chat/send_msg/{{o_id}}"), any(chat::send))
        .route(&format!("{prefix}/chat/getmsg/{{o_id}}"), any(chat::getmsg))
        .route(
            &format!("{prefix}/chat/query_num/{{o_id}}"),
            any(chat::query_num),
        )
        .route(&format!("{prefix}/ws"), any(crate::api::ws::customer))
}

pub fn router() -> Routes {
    const P: &str = "/zhugeleida/gongzhonghao";
    chat_routes(P)
        .route(
            &format!("{P}/create_gongzhonghao_auth_url/{{o_id}}"),
            any(auth::auth_url),
        )
        .route(&format!("{P}/work_gongzhonghao_auth"), any(auth::sign_in))
        .route(
            &format!("{P}/work_gongzhonghao_auth/create_gongzhonghao_share_auth_url"),
            any(auth::share_url),
        )
        .route(
            &format!("{P}/work_gongzhonghao_auth/gongzhonghao_share_sign"),
            any(auth::share_sign),
        )
        .route(
            &format!("{P}/article/myarticle/{{o_id}}"),
            any(article::show),
        )
        .route(
            &format!("{P}/article/forward_article/{{o_id}}"),
            any(article::forward),
        )
        .route(
            &format!("{P}/article/staytime/{{o_id}}"),
            any(article::staytime),
        )
        .merge(crate::api::xiaochengxu::customer_routes(P))
}
