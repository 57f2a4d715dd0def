//! QYW-46: the salesperson's mini-program code (小程序二维码), printed on the card.
//!
//! The code comes from `wxa/getwxacodeunlimit` of the company's mini program authorized to the
//! third-party platform (its authorizer token), else of the configured mini program
//! (`ZGLD_XCX_APPID` / `ZGLD_XCX_SECRET`, the app of XCX-01) with `scene = "uid=<user id>"` and
//! the home page. The image is written under the static root (`ZGLD_STATIC_DIR`) at the
//! documented path `statics/zhugeleida/imgs/xiaochengxu/qr_code/<uid>_<YYYYMMDD>_<HHMMSS>_qrcode.jpg`
//! (API.md 1.9) and that relative path is stored in `user_profile.qr_code`. The name keeps its
//! documented `.jpg` although the bytes are whatever WeChat sent (PNG from the sandbox).

use axum::extract::State;
use serde_json::json;

use crate::{
    api::reply::{ApiResult, Reply},
    auth::StaffWrite,
    service::platform::wxacode::generate,
    state::AppState,
};

/// QYW-46: answers `{}` once the code is stored; a WeChat error passes its errcode through
/// (`"生成小程序二维码报错: <errcode> : <errmsg>"`) and leaves `qr_code` as it was.
pub async fn create(State(state): State<AppState>, caller: StaffWrite) -> ApiResult {
    generate(&state, caller.company_id, caller.id).await?;
    Ok(Reply::ok("生成小程序二维码成功", json!({})))
}
