//! Surface `qiyeweixin`: the salesperson's app inside WeCom, plus the early (000/001)
//! organisation endpoints that old clients still call.

mod action;
pub(crate) mod article;
mod card;
mod chat;
mod company;
mod customer;
mod feedback;
mod follow;
mod login;
mod mingpian;
mod qr_code;
mod role;
mod tag;
mod talk;
mod user;

use axum::{extract::DefaultBodyLimit, routing::any};

use crate::api::routes::Routes;

pub fn router() -> Routes {
    const P: &str = "/zhugeleida/qiyeweixin";
    Routes::new()
        .route(
            &format!("{P}/work_weixin_auth/{{company_id}}"),
            any(login::work_weixin_auth),
        )
        .route(&format!("{P}/customer"), any(customer::query))
        .route(
            &format!("{P}/customer/update_information/{{o_id}}"),
            any(customer::update_information),
        )
        .route(
            "/zhugeleida/customer/update_information/{o_id}",
            any(customer::update_information),
        )
        .route(
            &format!("{P}/customer/update_customer/{{o_id}}"),
            any(customer::update_customer),
        )
        .route(
            &format!("{P}/customer/delete/{{o_id}}"),
            any(customer::delete),
        )
        .route(
            &format!("{P}/customer/update_expected_time/{{o_id}}"),
            any(customer::update_expected_time),
        )
        .route(
            &format!("{P}/customer/update_expected_pr/{{o_id}}"),
            any(customer::update_expected_pr),
        )
        .route(
            &format!("{P}/customer/update_tag/{{o_id}}"),
            any(customer::update_tag),
        )
        .route(&format!("{P}/tongxunlu"), any(customer::tongxunlu))
        .route(&format!("{P}/follow_info"), any(customer::follow_info))
        .route(
            &format!("{P}/follow_info/add/{{o_id}}"),
            any(customer::add_follow_info),
        )
        .route(&format!("{P}/action/time"), any(action::time_line))
        .route(&format!("{P}/action/customer"), any(action::per_customer))
        .route(&format!("{P}/action/count"), any(action::per_action))
        .route(&format!("{P}/action/get_new_log"), any(action::new_logs))
        .route(&format!("{P}/contact"), any(chat::contacts))
        .route(&format!("{P}/chat"), any(chat::history))
        .route(&format!("{P}/chat/send_msg/{{o_id}}"), any(chat::send))
        .route(&format!("{P}/chat/getmsg/{{o_id}}"), any(chat::getmsg))
        .route(&format!("{P}/ws"), any(crate::api::ws::staff))
        .route(&format!("{P}/tag"), any(tag::list))
        .route(&format!("{P}/tag/add/{{o_id}}"), any(tag::add))
        .route(&format!("{P}/tag/update/{{o_id}}"), any(tag::update))
        .route(&format!("{P}/tag/delete/{{o_id}}"), any(tag::delete))
        .route(&format!("{P}/tag_customer"), any(tag::with_customers))
        .route(
            &format!("{P}/tag_customer/add/{{o_id}}"),
            any(tag::add_with_customers),
        )
        .route(&format!("{P}/tag_list"), any(tag::grouped))
        .route(
            &format!("{P}/tag_list/add_tag/{{o_id}}"),
            any(tag::add_to_customer),
        )
        .route(
            &format!("{P}/tag_list/customer_tag/{{o_id}}"),
            any(tag::set_customer_tags),
        )
        .route(&format!("{P}/qr_code_auth"), any(qr_code::create))
        .route(&format!("{P}/tag_user"), any(card::list))
        .route(&format!("{P}/tag_user/add"), any(card::add))
        .route(&format!("{P}/tag_user/add/{{o_id}}"), any(card::add))
        .route(&format!("{P}/tag_user/save"), any(card::save))
        .route(&format!("{P}/tag_user/save/{{o_id}}"), any(card::save))
        .route(&format!("{P}/tag_user/delete"), any(card::delete))
        .route(&format!("{P}/tag_user/delete/{{o_id}}"), any(card::delete))
        .route(&format!("{P}/tag_user/save_phone"), any(card::save_phone))
        .route(
            &format!("{P}/tag_user/save_phone/{{o_id}}"),
            any(card::save_phone),
        )
        .route(&format!("{P}/mingpian"), any(mingpian::show))
        .route(
            &format!("{P}/mingpian/upload_photo"),
            any(mingpian::upload_photo).layer(DefaultBodyLimit::disable()),
        )
        .route(
            &format!("{P}/mingpian/upload_photo/{{o_id}}"),
            any(mingpian::upload_photo).layer(DefaultBodyLimit::disable()),
        )
        .route(
            &format!("{P}/mingpian/delete_photo"),
            any(mingpian::delete_photo),
        )
        .route(
            &format!("{P}/mingpian/delete_photo/{{o_id}}"),
            any(mingpian::delete_photo),
        )
        .route(
            &format!("{P}/mingpian/update_info"),
            any(mingpian::update_info),
        )
        .route(
            &format!("{P}/mingpian/update_info/{{o_id}}"),
            any(mingpian::update_info),
        )
        .route(&format!("{P}/follow_language"), any(follow::list))
        .route(
            &format!("{P}/follow_language/add/{{o_id}}"),
            any(follow::add),
        )
        .route(
            &format!("{P}/follow_language/delete/{{o_id}}"),
            any(follow::delete),
        )
        .route(&format!("{P}/user"), any(user::list))
        .route(&format!("{P}/user/add/{{o_id}}"), any(user::add))
        .route(&format!("{P}/user/delete/{{o_id}}"), any(user::delete))
        .route(&format!("{P}/user/update/{{o_id}}"), any(user::update))
        .route(&format!("{P}/role"), any(role::list_or_add))
        .route(&format!("{P}/role/add/{{o_id}}"), any(role::add))
        .route(&format!("{P}/role/update/{{o_id}}"), any(role::update))
        .route(&format!("{P}/role/delete/{{o_id}}"), any(role::delete))
        .route(
            &format!("{P}/delete/{{o_id}}"),
            any(role::delete_permission),
        )
        .route(&format!("{P}/feedback/add/{{o_id}}"), any(feedback::add))
        .route(
            &format!("{P}/article/customer_effect_ranking_by_level/{{o_id}}"),
            any(article::by_level),
        )
        .route(
            &format!("{P}/article/forward_tree/{{o_id}}"),
            any(article::forward_tree),
        )
        .route(
            &format!("{P}/article/customer_reach/{{o_id}}"),
            any(article::customer_reach),
        )
        .route(
            &format!("{P}/article/top_spreaders/{{o_id}}"),
            any(article::top_spreaders),
        )
        .route(
            &format!("{P}/article/stay_distribution/{{o_id}}"),
            any(article::stay_distribution),
        )
        .route(&format!("{P}/talk"), any(talk::search))
        .route(&format!("{P}/talk/send_msg/{{o_id}}"), any(talk::send))
        .route(&format!("{P}/company"), any(company::list))
        .route(&format!("{P}/company/add/{{o_id}}"), any(company::add))
        .route(
            &format!("{P}/company/delete/{{o_id}}"),
            any(company::delete),
        )
        .route(
            &format!("{P}/company/update/{{o_id}}"),
            any(company::update),
        )
}
