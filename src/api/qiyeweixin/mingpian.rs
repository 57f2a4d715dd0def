//! The card's own content, documented extensions in the style of QYW-47..51 (API.md §8 gap 9,
//! docs/card.md): the salesperson reads their card, uploads and removes photos, and edits
//! `sign`, `wechat`, `email`, `address` (the XCX-02 field names). Like the `tag_user` writes,
//! each also accepts a trailing `/{o_id}`.

use axum::extract::{Request, State};
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        upload_form::UploadForm,
    },
    auth::{StaffRead, StaffWrite},
    db::{self, card::CardInfo},
    domain::time,
    error::ApiError,
    service::card::{self, NewPhoto},
    state::AppState,
};

fn photo_pairs(photos: &[(i64, String)]) -> Vec<Value> {
    photos.iter().map(|(id, url)| json!([id, url])).collect()
}

/// `GET /zhugeleida/qiyeweixin/mingpian`: the caller's card as XCX-02 shows it (without the
/// per-customer counters).
pub async fn show(State(state): State<AppState>, caller: StaffRead) -> ApiResult {
    let db = state.db.get().await?;
    let c = db::card::card_static(&db, caller.id)
        .await?
        .filter(|c| c.company_id == caller.company_id)
        .ok_or_else(ApiError::not_found)?;
    let row = json!({
        "id": c.id,
        "username": c.username,
        "avatar": c.avatar,
        "company": c.company,
        "address": c.address.as_deref().unwrap_or(""),
        "position": c.position.as_deref().unwrap_or(""),
        "email": c.email.as_deref().unwrap_or(""),
        "wechat": c.wechat.as_deref().unwrap_or(""),
        "mingpian_phone": c.mingpian_phone.as_deref().unwrap_or(""),
        "create_date": time::iso(c.create_date),
        "sign": c.sign.as_deref().unwrap_or(""),
        "photo": photo_pairs(&c.photos),
    });
    Ok(Reply::list("查询成功", vec![row], 1))
}

/// `POST /zhugeleida/qiyeweixin/mingpian/upload_photo`: `img_data` (a file part, or base64)
/// or `photo_url` (a stored image, e.g. from PUB-02). Answers the new photo and the card's
/// photos as XCX-02 lists them.
pub async fn upload_photo(
    State(state): State<AppState>,
    caller: StaffWrite,
    req: Request,
) -> ApiResult {
    let limit = state.settings.storage.max_file_bytes;
    let form = UploadForm::read(req, &state.storage, limit, "图片").await?;
    let photo = match (form.data, form.params.str("photo_url")) {
        (Some(staged), _) => NewPhoto::Upload(staged),
        (None, Some(url)) => NewPhoto::Stored(url.to_owned()),
        (None, None) => return Err(ApiError::form("img_data 或 photo_url 不能为空")),
    };
    let (id, url) = card::add_photo(&state, caller.company_id, caller.id, photo).await?;
    let db = state.db.get().await?;
    let photos = db::card::photos_of(&db, caller.company_id, caller.id).await?;
    Ok(Reply::ok(
        "上传成功",
        json!({"id": id, "photo_url": url, "photo": photo_pairs(&photos)}),
    ))
}

/// `POST /zhugeleida/qiyeweixin/mingpian/delete_photo`: `id` (or `/{o_id}`) names one of the
/// caller's own photos.
pub async fn delete_photo(
    State(state): State<AppState>,
    caller: StaffWrite,
    path: Option<axum::extract::Path<String>>,
    p: Params,
) -> ApiResult {
    let id = match p.i64_any(&["id", "photo_id"])? {
        Some(id) => id,
        None => path
            .and_then(|axum::extract::Path(s)| s.trim().parse().ok())
            .ok_or_else(|| ApiError::form("id 不能为空"))?,
    };
    card::remove_photo(&state, caller.company_id, caller.id, id).await?;
    Ok(Reply::done("删除成功"))
}

/// `POST /zhugeleida/qiyeweixin/mingpian/update_info`: any of `sign`, `wechat`, `email`,
/// `address`; a field sent empty is cleared, a field not sent is kept.
pub async fn update_info(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> ApiResult {
    let info = CardInfo {
        sign: p.raw("sign"),
        wechat: p.raw("wechat"),
        email: p.raw("email"),
        address: p.raw("address"),
    };
    if info.sign.is_none()
        && info.wechat.is_none()
        && info.email.is_none()
        && info.address.is_none()
    {
        return Err(ApiError::form("sign、wechat、email、address 至少填写一项"));
    }
    card::check_info(&info)?;
    card::update_info(&state, caller.company_id, caller.id, &info).await?;
    Ok(Reply::done("修改成功"))
}
