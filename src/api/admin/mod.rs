//! Surface `admin` (后台管理): the company admins' and the platform operator's web backend.

mod access_rules;
mod article;
mod auth_process;
mod company;
mod dai_xcx;
mod home_page;
mod open_weixin;
pub(crate) mod plugin;
pub(crate) mod product;
mod role;
mod session;
mod signup;
pub(crate) mod talk;
mod tongxunlu;
mod user;
mod userprofile;
pub(crate) mod website;

use axum::routing::any;

use crate::api::routes::Routes;

pub fn router() -> Routes {
    const P: &str = "/zhugeleida/admin";
    Routes::new()
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
        .route(
            &format!("{P}/user/create_scan_code/{{o_id}}"),
            any(signup::create_scan_code),
        )
        .route(
            &format!("{P}/user/scan_code_to_add_user/{{o_id}}"),
            any(signup::scan_code_to_add_user),
        )
        .route(&format!("{P}/user/update/{{o_id}}"), any(signup::update))
        .route(&format!("{P}/user/delete/{{o_id}}"), any(signup::delete))
        .route(
            &format!("{P}/user/approval_storage_user_info/{{o_id}}"),
            any(signup::approve),
        )
        .route(
            &format!("{P}/user/sync_user_tongxunlu/{{o_id}}"),
            any(tongxunlu::sync),
        )
        .route(
            &format!("{P}/user/sync_user_tongxunlu_status/{{o_id}}"),
            any(tongxunlu::status),
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
        .merge(articles_and_talk())
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

/// ADM-11..19 (products, feedback), ADM-39..44 (website), ADM-51..63 (plugins).
fn content_routes(p: &str) -> Routes {
    Routes::new()
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
        .route(&format!("{p}/website"), any(website::show))
        .route(&format!("{p}/website/edit/{{o_id}}"), any(website::edit))
        .route(&format!("{p}/website_template"), any(website::templates))
        .route(
            &format!("{p}/website_template/add/{{o_id}}"),
            any(website::add_template),
        )
        .route(
            &format!("{p}/website_template/update/{{o_id}}"),
            any(website::update_template),
        )
        .route(
            &format!("{p}/website_template/delete/{{o_id}}"),
            any(website::delete_template),
        )
        .route(&format!("{p}/plugin_mingpian"), any(plugin::cards))
        .route(
            &format!("{p}/plugin_mingpian/add/{{o_id}}"),
            any(plugin::add_card),
        )
        .route(
            &format!("{p}/plugin_mingpian/update/{{o_id}}"),
            any(plugin::update_card),
        )
        .route(
            &format!("{p}/plugin_mingpian/delete/{{o_id}}"),
            any(plugin::delete_card),
        )
        .route(&format!("{p}/plugin_report"), any(plugin::activities))
        .route(
            &format!("{p}/plugin_report/add/{{o_id}}"),
            any(plugin::add_activity),
        )
        .route(
            &format!("{p}/plugin_report/update/{{o_id}}"),
            any(plugin::update_activity),
        )
        .route(
            &format!("{p}/plugin_report/delete/{{o_id}}"),
            any(plugin::delete_activity),
        )
        .route(
            &format!("{p}/plugin_report/sign_up_activity/{{o_id}}"),
            any(plugin::sign_up),
        )
        .route(&format!("{p}/plugin_goods"), any(plugin::goods))
        .route(
            &format!("{p}/plugin_goods/add/{{o_id}}"),
            any(plugin::add_goods),
        )
        .route(
            &format!("{p}/plugin_goods/update/{{o_id}}"),
            any(plugin::update_goods),
        )
        .route(
            &format!("{p}/plugin_goods/delete/{{o_id}}"),
            any(plugin::delete_goods),
        )
}

/// The third-party platform: authorization flows, grant links, WeChat's pushes and callback.
fn platform_router() -> Routes {
    const P: &str = "/zhugeleida/admin";
    Routes::new()
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
        .route(
            &format!("{P}/open_weixin/message/{{appid}}"),
            any(open_weixin::message_event),
        )
        .route(&format!("{P}/xcx_app"), any(dai_xcx::list))
        .route(
            &format!("{P}/dai_xcx/template_list"),
            any(dai_xcx::template_list),
        )
        .route(
            &format!("{P}/dai_xcx/upload_code"),
            any(dai_xcx::upload_code),
        )
        .route(
            &format!("{P}/dai_xcx/submit_audit"),
            any(dai_xcx::submit_audit),
        )
        .route(
            &format!("{P}/dai_xcx/get_latest_audit_status"),
            any(dai_xcx::get_latest_audit_status),
        )
        .route(
            &format!("{P}/dai_xcx/undocode_audit"),
            any(dai_xcx::undocode_audit),
        )
        .route(
            &format!("{P}/dai_xcx/relase_code"),
            any(dai_xcx::relase_code),
        )
        .route(
            &format!("{P}/dai_xcx/release_code"),
            any(dai_xcx::relase_code),
        )
        .route(
            &format!("{P}/dai_xcx/revert_code_release"),
            any(dai_xcx::revert_code_release),
        )
        .route(&format!("{P}/dai_xcx/batch/{{o_id}}"), any(dai_xcx::batch))
        .route(
            &format!("{P}/user/create_small_program_qr_code/{{o_id}}"),
            any(user::create_small_program_qr_code),
        )
}

/// ADM-64..72 (articles, tags, publishing) and ADM-89..96 (talk scripts).
fn articles_and_talk() -> Routes {
    use crate::api::qiyeweixin::article as spread;
    const P: &str = "/zhugeleida/admin";
    Routes::new()
        .route(&format!("{P}/article/myarticle_list"), any(article::list))
        .route(
            &format!("{P}/article/myarticle/{{o_id}}"),
            any(article::show),
        )
        .route(&format!("{P}/article/add/{{o_id}}"), any(article::add))
        .route(
            &format!("{P}/article/update/{{o_id}}"),
            any(article::update),
        )
        .route(
            &format!("{P}/article/delete/{{o_id}}"),
            any(article::delete),
        )
        .route(
            &format!("{P}/article/publish/{{o_id}}"),
            any(article::publish),
        )
        .route(
            &format!("{P}/article/forward_tree/{{o_id}}"),
            any(spread::forward_tree_admin),
        )
        .route(
            &format!("{P}/article/customer_reach/{{o_id}}"),
            any(spread::customer_reach_admin),
        )
        .route(
            &format!("{P}/article/top_spreaders/{{o_id}}"),
            any(spread::top_spreaders_admin),
        )
        .route(
            &format!("{P}/article/stay_distribution/{{o_id}}"),
            any(spread::stay_distribution_admin),
        )
        .route(&format!("{P}/article_tag"), any(article::tags))
        .route(
            &format!("{P}/article_tag/add/{{o_id}}"),
            any(article::add_tag),
        )
        .route(
            &format!("{P}/article_tag/update/{{o_id}}"),
            any(article::update_tag),
        )
        .route(
            &format!("{P}/article_tag/delete/{{o_id}}"),
            any(article::delete_tag),
        )
        .route(
            &format!("{P}/talkGroupManageOper/add/{{o_id}}"),
            any(talk::add_group),
        )
        .route(
            &format!("{P}/talkGroupManageOper/update/{{o_id}}"),
            any(talk::update_group),
        )
        .route(
            &format!("{P}/talkGroupManageOper/delete/{{o_id}}"),
            any(talk::delete_group),
        )
        .route(&format!("{P}/talkGroupManageShow"), any(talk::groups))
        .route(
            &format!("{P}/speechDetailsManageOper/add/{{o_id}}"),
            any(talk::add_phrase),
        )
        .route(
            &format!("{P}/speechDetailsManageOper/update/{{o_id}}"),
            any(talk::update_phrase),
        )
        .route(
            &format!("{P}/speechDetailsManageOper/delete/{{o_id}}"),
            any(talk::delete_phrase),
        )
        .route(&format!("{P}/speechDetailsManageShow"), any(talk::phrases))
}
