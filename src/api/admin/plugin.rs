//! ADM-51..63: plugin cards, sign-up activities (with the customer's sign-up), goods.

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        admin::product::json_text,
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{CustomerWrite, StaffRead, StaffWrite},
    db::plugin::{ActivityInput, ActivityRow, CardInput, GoodsRow, NewSignUp, Plugin},
    domain::time,
    error::ApiError,
    service::plugin::{self as svc, SignUpBy},
    state::AppState,
};

/// A text field of at most `max` characters ("" when absent).
fn text(p: &Params, k: &str, max: usize) -> Result<String, ApiError> {
    let v = p.str(k).unwrap_or("");
    if v.chars().count() > max {
        return Err(ApiError::form(format!("{k} 不能超过{max}个字符")));
    }
    Ok(v.to_owned())
}

/// ADM-51.
pub async fn cards(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let (rows, total) = svc::cards(&state, &caller, p.paging(None)?).await?;
    let rows = rows
        .iter()
        .map(|c| {
            json!({
                "mingpian_id": c.id,
                "name": c.fields.name,
                "username": c.fields.username,
                "phone": c.fields.phone,
                "create_date": time::iso(c.create_date),
                "avatar": c.fields.avatar,
                "webchat_code": c.fields.webchat_code,
                "position": c.fields.position,
            })
        })
        .collect();
    Ok(Reply::list("", rows, total))
}

fn card_input(p: &Params) -> Result<CardInput, ApiError> {
    Ok(CardInput {
        name: text(p, "name", 64)?,
        avatar: text(p, "avatar", 300)?,
        username: text(p, "username", 64)?,
        phone: text(p, "phone", 20)?,
        webchat_code: text(p, "webchat_code", 300)?,
        position: text(p, "position", 64)?,
    })
}

/// ADM-52.
pub async fn add_card(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    svc::add_card(&state, &caller, &card_input(&p)?).await?;
    Ok(Reply::done("添加成功"))
}

/// ADM-53 ("添加成功" sic).
pub async fn update_card(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    svc::update_card(&state, &caller, id, &card_input(&p)?).await?;
    Ok(Reply::done("添加成功"))
}

/// ADM-54.
pub async fn delete_card(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
) -> ApiResult {
    svc::delete(&state, &caller, Plugin::Card, id).await?;
    Ok(Reply::done("删除成功"))
}

/// `convert_pr`: the int 0 without reads, else join/read as a 2-decimal string.
pub fn convert_pr(join: i64, read: i64) -> Value {
    if read <= 0 {
        json!(0)
    } else {
        json!(format!("{:.2}", join as f64 / read as f64))
    }
}

/// An ADM-55 row; `name_list` only when `with_sign_ups` (never shown to customers).
pub fn activity_row(a: &ActivityRow, with_sign_ups: bool) -> Value {
    let mut v = json!({
        "id": a.id,
        "belong_user_id": a.user_id,
        "belong_user": a.belong_user.as_deref().unwrap_or(""),
        "ad_slogan": a.fields.ad_slogan,
        "sign_up_button": a.fields.sign_up_button,
        "title": a.fields.title,
        "read_count": a.read_count,
        "join_num": a.join_num,
        "convert_pr": convert_pr(a.join_num, a.read_count),
        "introduce": a.fields.introduce,
        "is_get_phone_code": a.fields.is_get_phone_code,
        "leave_message": a.fields.leave_message,
        "skip_link": a.fields.skip_link,
        "create_date": time::local(a.create_date).format("%Y-%m-%d %H:%M").to_string(),
    });
    if with_sign_ups {
        v["name_list"] = a
            .sign_ups
            .iter()
            .map(|s| {
                json!({
                    "customer_name": s.customer_name,
                    "customer_phone": s.phone,
                    "sign_up_time": time::iso(s.sign_up_time),
                    "leave_message": s.leave_message,
                })
            })
            .collect();
    }
    v
}

/// ADM-55.
pub async fn activities(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let (rows, total) = svc::activities(&state, &caller, p.paging(None)?).await?;
    Ok(Reply::list(
        "",
        rows.iter().map(|a| activity_row(a, true)).collect(),
        total,
    ))
}

fn activity_input(p: &Params) -> Result<ActivityInput, ApiError> {
    Ok(ActivityInput {
        title: text(p, "title", 128)?,
        ad_slogan: text(p, "ad_slogan", 256)?,
        sign_up_button: text(p, "sign_up_button", 32)?,
        introduce: text(p, "introduce", 5000)?,
        is_get_phone_code: p.bool("is_get_phone_code")?.unwrap_or(false),
        leave_message: text(p, "leave_message", 256)?,
        skip_link: text(p, "skip_link", 500)?,
    })
}

/// ADM-56.
pub async fn add_activity(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> ApiResult {
    svc::add_activity(&state, &caller, &activity_input(&p)?).await?;
    Ok(Reply::done("添加成功"))
}

/// ADM-57.
pub async fn update_activity(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    svc::update_activity(&state, &caller, id, &activity_input(&p)?).await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-58.
pub async fn delete_activity(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
) -> ApiResult {
    svc::delete(&state, &caller, Plugin::Activity, id).await?;
    Ok(Reply::done("删除成功"))
}

/// ADM-59: signed by a customer first, else by a staff member of the company.
pub async fn sign_up(
    State(state): State<AppState>,
    as_customer: Result<CustomerWrite, ApiError>,
    as_staff: Result<StaffWrite, ApiError>,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    let input = NewSignUp {
        customer_id: None,
        user_id: None,
        customer_name: p.req_str("customer_name")?.to_owned(),
        phone: p.req_str("phone")?.to_owned(),
        phone_verify_code: p.str("phone_verify_code").map(str::to_owned),
        leave_message: p.str("leave_message").unwrap_or("").to_owned(),
    };
    match (&as_customer, &as_staff) {
        (Ok(c), _) => svc::sign_up(&state, SignUpBy::Customer(c), id, input).await?,
        (Err(_), Ok(s)) => svc::sign_up(&state, SignUpBy::Staff(s), id, input).await?,
        (Err(e), Err(_)) => return Err(ApiError::illegal(format!("sign-up not signed: {e}"))),
    };
    Ok(Reply::done("报名成功"))
}

/// An ADM-60 row.
pub fn goods_row(g: &GoodsRow) -> Value {
    json!({
        "goods_id": g.id,
        "title": g.title,
        "content": json_text(&g.content, json!({})),
        "create_date": time::iso(g.create_date),
    })
}

/// ADM-60 (A-40: goods at `plugin_goods`).
pub async fn goods(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let (rows, total) = svc::goods(&state, &caller, p.paging(None)?).await?;
    Ok(Reply::list(
        "查询成功",
        rows.iter().map(goods_row).collect(),
        total,
    ))
}

/// ADM-61.
pub async fn add_goods(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    svc::add_goods(&state, &caller, p.req_str("title")?, p.req_str("content")?).await?;
    Ok(Reply::done("添加成功"))
}

/// ADM-62.
pub async fn update_goods(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    svc::update_goods(
        &state,
        &caller,
        id,
        p.req_str("title")?,
        p.req_str("content")?,
    )
    .await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-63.
pub async fn delete_goods(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
) -> ApiResult {
    svc::delete(&state, &caller, Plugin::Goods, id).await?;
    Ok(Reply::done("删除成功"))
}
