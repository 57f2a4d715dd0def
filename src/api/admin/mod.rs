//! Surface `admin` (后台管理): the company admins' and the platform operator's web backend.

mod access_rules;
mod auth_process;
mod company;
mod home_page;
mod open_weixin;
mod product;
mod role;
mod session;
mod user;
mod userprofile;

use axum::{routing::any, Router};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    const P: &str = "/zhugeleida/admin";
    Router::new()
        .route(&format!("{P}/login"), any(session::login))
        .route(
            &format!("{P}/modify_password"),
            any(session::modify_password),
        )
        .route(&format!("{P}/login_rules"), any(session::login_rules))
        .route(&format!("{P}/home_page"), any(home_page::card))
        .route(
            &format!("{P}/home_page/acount_data"),
            any(home_page::overview),
        )
        .route(&format!("{P}/home_page/line_info"), any(home_page::line))
        .route(&format!("{P}/user"), any(user::list))
        .route(
            &format!("{P}/user/update_status/{{o_id}}"),
            any(user::update_status),
        )
        .route(&format!("{P}/access_rules"), any(access_rules::list))
        .route(
            &format!("{P}/access_rules/add/{{o_id}}"),
            any(access_rules::add),
        )
        .route(
            &format!("{P}/access_rules/update/{{o_id}}"),
            any(access_rules::update),
        )
        .route(
            &format!("{P}/access_rules/delete/{{o_id}}"),
            any(access_rules::delete),
        )
        .route(&format!("{P}/admin_role"), any(role::list))
        .route(&format!("{P}/admin_role/add/{{o_id}}"), any(role::add))
        .route(
            &format!("{P}/admin_role/update/{{o_id}}"),
            any(role::update),
        )
        .route(
            &format!("{P}/admin_role/delete/{{o_id}}"),
            any(role::delete),
        )
        .route(&format!("{P}/admin_userprofile"), any(userprofile::list))
        .route(
            &format!("{P}/admin_userprofile/add/{{o_id}}"),
            any(userprofile::add),
        )
        .route(
            &format!("{P}/admin_userprofile/update/{{o_id}}"),
            any(userprofile::update),
        )
        .route(
            &format!("{P}/admin_userprofile/delete/{{o_id}}"),
            any(userprofile::delete),
        )
        .route(
            &format!("{P}/admin_userprofile/update_status/{{o_id}}"),
            any(userprofile::update_status),
        )
        .route(
            &format!("{P}/admin_userprofile/switch_admin_user/{{o_id}}"),
            any(userprofile::switch_user),
        )
        .route(&format!("{P}/company"), any(company::list))
        .route(
            &format!("{P}/company/author_status"),
            any(company::author_status),
        )
        .route(
            &format!("{P}/company/add_company/{{o_id}}"),
            any(company::add),
        )
        .route(
            &format!("{P}/company/update_company/{{o_id}}"),
            any(company::update),
        )
        .route(
            &format!("{P}/company/update_tongxunlu/{{o_id}}"),
            any(company::update_tongxunlu),
        )
        .route(
            &format!("{P}/company/update_agent/{{o_id}}"),
            any(company::update_agent),
        )
        .merge(content_routes(P))
        .merge(platform_router())
}

/// ADM-11..19 (products, feedback).
fn content_routes(p: &str) -> Router<AppState> {
    Router::new()
        .route(&format!("{p}/product/product_list"), any(product::list))
        .route(&format!("{p}/product/product_single"), any(product::single))
        .route(&format!("{p}/product/add/{{o_id}}"), any(product::add))
        .route(
            &format!("{p}/product/update/{{o_id}}"),
            any(product::update),
        )
        .route(
            &format!("{p}/product/delete/{{o_id}}"),
            any(product::delete),
        )
        .route(
            &format!("{p}/product/change_status/{{o_id}}"),
            any(product::change_status),
        )
        .route(
            &format!("{p}/product/feedback_list"),
            any(product::feedback_list),
        )
        .route(
            &format!("{p}/product/change_feedback_status/{{o_id}}"),
            any(product::change_feedback_status),
        )
        .route(
            &format!("{p}/product/recommend_index/{{o_id}}"),
            any(product::recommend_index),
        )
}

/// The third-party platform: authorization flows, grant links, WeChat's pushes and callback.
fn platform_router() -> Router<AppState> {
    const P: &str = "/zhugeleida/admin";
    Router::new()
        .route(
            &format!("{P}/xcx_auth_process"),
            any(auth_process::xcx_state),
        )
        .route(
            &format!("{P}/xcx_auth_process/update/app_id"),
            any(auth_process::xcx_set_appid),
        )
        .route(
            &format!("{P}/xcx_auth_process/update/xcx_get_authorizer_info"),
            any(auth_process::xcx_refresh_info),
        )
        .route(
            &format!("{P}/xcx_auth_process/update/info"),
            any(auth_process::xcx_customise),
        )
        .route(
            &format!("{P}/gzh_auth_process"),
            any(auth_process::gzh_state),
        )
        .route(
            &format!("{P}/gzh_auth_process/update/app_id"),
            any(auth_process::gzh_set_appid),
        )
        .route(
            &format!("{P}/open_weixin/create_grant_url"),
            any(open_weixin::xcx_grant_url),
        )
        .route(
            &format!("{P}/open_weixin_gongzhonghao/create_grant_url"),
            any(open_weixin::gzh_grant_url),
        )
        .route(
            &format!("{P}/open_weixin/auth_code"),
            any(open_weixin::auth_code),
        )
        .route(
            &format!("{P}/open_weixin/component_event"),
            any(open_weixin::component_event),
        )
}
