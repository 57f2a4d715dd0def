//! The salespeople's mini-program codes (小程序二维码, QYW-46 and ADM-33): see
//! `src/api/qiyeweixin/qr_code.rs` for the path and storage rules.

use chrono::Utc;

use crate::{domain::time, error::ApiError, state::AppState};

/// Folder of the salespeople's codes, relative to the static root (API.md 1.9).
const QR_DIR: &str = "statics/zhugeleida/imgs/xiaochengxu/qr_code";

/// The mini-program scene of a salesperson's code: the mini program reads `uid` from it.
pub fn scene_of(user_id: i64) -> String {
    format!("uid={user_id}")
}

/// Fetches, writes and records the code of salesperson `user_id` of `company_id`; returns the
/// stored relative path. QYW-46 (the caller) and ADM-33 (a chosen rep).
pub async fn generate(state: &AppState, company_id: i64, user_id: i64) -> Result<String, ApiError> {
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
