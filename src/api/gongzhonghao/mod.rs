//! Surface `gongzhonghao`: the customer in official-account H5 pages. Its chat endpoints
//! are also served under `/zhugeleida/xiaochengxu/chat/...` for mini-program clients.

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
    chat_routes("/zhugeleida/gongzhonghao").merge(crate::api::xiaochengxu::customer_routes(
        "/zhugeleida/gongzhonghao",
    ))
}
