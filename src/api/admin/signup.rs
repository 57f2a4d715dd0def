//! Sign-up by QR code: ADM-09 (the QR), ADM-10 (self-registration with the QR's triple),
//! ADM-36/37 (edit, delete a pending user, `type=temp_user`) and ADM-38 (approval).
//! ADM-05 `type=temp_user` lists them (user.rs).

use axum::extract::State;
use serde_json::json;

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{registration::Registrant, StaffWrite},
    error::ApiError,
    service::{self, signup::RawTempUser},
    state::AppState,
};

/// ADM-09: `{"qrcode_url": "statics/zhugeleida/imgs/admin/qrcode/admin_uid_<id>_<…>_qrCode.jpg"}`.
pub async fn create_scan_code(State(state): State<AppState>, caller: StaffWrite) -> ApiResult {
    let code = service::signup::create_scan_code(&state, &caller).await?;
    Ok(Reply::ok(
        "查询成功",
        json!({"qrcode_url": code.qrcode_url}),
    ))
}

fn raw(p: &Params) -> Result<RawTempUser<'_>, ApiError> {
    Ok(RawTempUser {
        username: p.str("username"),
        position: p.str("position"),
        wechat: p.str("wechat"),
        wechat_phone: p.str("wechat_phone"),
        mingpian_phone: p.str("mingpian_phone"),
        department_ids: p.id_list("department_id")?,
    })
}

/// ADM-10: authenticated by the QR's registration triple only (src/auth/registration.rs).
pub async fn scan_code_to_add_user(
    State(state): State<AppState>,
    who: Registrant,
    p: Params,
) -> ApiResult {
    service::signup::register(&state, &who, raw(&p)?).await?;
    Ok(Reply::done("添加成功"))
}

/// `type=temp_user` is the only documented mode of `user/update` and `user/delete`.
fn require_temp_user(p: &Params) -> Result<(), ApiError> {
    match p.str("type") {
        Some("temp_user") => Ok(()),
        _ => Err(ApiError::form("type 必须是 temp_user")),
    }
}

/// ADM-36 (A-32: the temp-user fields of the union; `login_user/password/role_id` ignored).
pub async fn update(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    require_temp_user(&p)?;
    service::signup::update_temp_user(&state, &caller, id, raw(&p)?).await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-37.
pub async fn delete(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    require_temp_user(&p)?;
    service::signup::delete_temp_user(&state, &caller, id).await?;
    Ok(Reply::done("删除成功"))
}

/// ADM-38: `user_id_list` (form or query, A-33). All approved → "添加成功"; some left
/// pending for lack of cards → code 200 with a msg naming how many and `data.not_approved`.
pub async fn approve(State(state): State<AppState>, caller: StaffWrite, p: Params) -> ApiResult {
    let ids = p
        .id_list("user_id_list")?
        .ok_or_else(|| ApiError::form("user_id_list 不能为空"))?;
    let a = service::signup::approve(&state, &caller, &ids).await?;
    let approved: Vec<_> = a
        .approved
        .iter()
        .map(|(t, u)| json!({"temp_user_id": t, "user_id": u}))
        .collect();
    let data = json!({
        "approved": approved,
        "not_approved": a.not_approved,
        "mingpian_available_num": a.quota,
    });
    if a.not_approved.is_empty() {
        return Ok(Reply::ok("添加成功", data));
    }
    Ok(Reply::ok(
        format!(
            "部分审核成功: 已审核入库 {} 人; 名片数量已达上限({}), {} 人未审核,仍在待审核列表中",
            a.approved.len(),
            a.quota,
            a.not_approved.len()
        ),
        data,
    ))
}
