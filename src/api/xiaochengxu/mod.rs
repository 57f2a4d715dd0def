//! Surface `xiaochengxu`: the customer inside the WeChat mini program.

mod login;

use axum::{routing::any, Router};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    const P: &str = "/zhugeleida/xiaochengxu";
    Router::new()
        .route(&format!("{P}/login"), any(login::login))
        .route(&format!("{P}/small_program_auth"), any(login::login))
        .merge(crate::api::gongzhonghao::chat_routes(P))
}
