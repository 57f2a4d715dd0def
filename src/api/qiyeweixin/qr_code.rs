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
use chrono::Utc;
use serde_json::json;

use crate::{
    api::reply::{ApiResult, Reply},
    auth::StaffWrite,
    domain::time,
    error::ApiError,
    state::AppState,
};

/// Folder of the salespeople's codes, relative to the static root (API.md 1.9).
const QR_DIR: &str = "statics/zhugeleida/imgs/xiaochengxu/qr_code";

/// The mini-program scene of a salesperson's code: the mini program reads `uid` from it.
pub(crate) fn scene_of(user_id: i64) -> String {
    format!("uid={user_id}")
}

/// QYW-46: answers `{}` once the code is stored; a WeChat error passes its errcode through
/// (`"生成小程序二维码报错: <errcode> : <errmsg>"`) and leaves `qr_code` as it was.
pub async fn create(State(state): State<AppState>, caller: StaffWrite) -> ApiResult {
    generate(&state, caller.company_id, caller.id).await?;
    Ok(Reply::ok("生成小程序二维码成功", json!({})))
}

/// Fetches, writes and records the code of salesperson `user_id` of `company_id`; returns the
/// stored relative path. Shared with ADM-33 (the same for a chosen rep) when it is built.
pub(crate) async fn generate(
    state: &AppState,
    company_id: i64,
    user_id: i64,
) -> Result<String, ApiError> {
    let wx = &state.settings.wechat;
    // The company's own mini program when it authorized the platform; otherwise the
    // installation's configured one (docs/wechat-platform.md).
    let hosted = match wx.component {
        Some(_) => {
            let db = state.db.get().await?;
            crate::service::platform::authorize::app_of(
                &db,
                company_id,
                crate::service::platform::authorize::XCX,
            )
            .await?
            .filter(|a| a.authorized)
        }
        None => None,
    };
    let scene = scene_of(user_id);
    let image = match hosted {
        Some(app) => {
            let wechat = state.wechat.clone();
            crate::wechat::component::call_as(state, &app.appid, |token| {
                let (wechat, scene) = (wechat.clone(), scene.clone());
                async move { wechat.wxacode_unlimit_as(&token, &scene, None).await }
            })
            .await
        }
        None => {
            let (Some(appid), Some(secret)) = (wx.xcx_appid.as_deref(), wx.xcx_secret.as_ref())
            else {
                return Err(ApiError::Unexpected(anyhow::anyhow!(
                    "ZGLD_XCX_APPID / ZGLD_XCX_SECRET are not configured"
                )));
            };
            state
                .wechat
                .wxacode_unlimit(appid, secret.expose(), &scene, None)
                .await
        }
    }
    .map_err(|e| ApiError::wechat("生成小程序二维码", e))?;
    let stamp = time::local(Utc::now()).format("%Y%m%d_%H%M%S");
    let relative = format!("{QR_DIR}/{user_id}_{stamp}_qrcode.jpg");
    let key = object_store::path::Path::from(relative.as_str());
    state.storage.put(&key, image.into()).await?;
    let updated = match state.db.get().await {
        Ok(db) => crate::db::user::set_qr_code(&db, company_id, user_id, &relative).await,
        Err(e) => Err(e.into()),
    };
    match updated {
        Ok(()) => {
            tracing::info!(user_id, company_id, "mini-program code stored");
            Ok(relative)
        }
        Err(e) => {
            state.storage.delete(&key).await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scene_names_the_user_within_the_wechat_limits() {
        let scene = scene_of(i64::MAX);
        assert_eq!(scene_of(42), "uid=42");
        assert!(scene.len() <= 32);
    }
}
