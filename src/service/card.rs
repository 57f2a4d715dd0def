//! The card's own content (API.md §8 gap 9, docs/card.md): photos the salesperson uploads or
//! picks from stored images, and the `sign`, `wechat`, `email`, `address` XCX-02 shows. Every
//! change drops the cached card on this node at once and on the others through NOTIFY
//! (service::card_cache).

use object_store::path::Path;
use rand::Rng as _;

use crate::{
    db::{self, card::CardInfo},
    domain::image::ImageKind,
    error::ApiError,
    service::upload,
    state::AppState,
    storage::Staged,
};

/// Photos one card may show.
pub const MAX_PHOTOS: i64 = 9;

/// Folder of card photos (API.md 1.9: `…/xiaochengxu/qr_code/<n>_<rand>_photo.jpg`).
const PHOTO_DIR: &str = "statics/zhugeleida/imgs/xiaochengxu/qr_code";

/// Whether `url` is a photo file this salesperson's upload wrote (removed with the photo).
fn own_photo_file(url: &str, user_id: i64) -> bool {
    url.strip_prefix(PHOTO_DIR)
        .and_then(|r| r.strip_prefix(&format!("/{user_id}_")))
        .is_some_and(|r| r.contains("_photo."))
}

/// Where a photo comes from.
pub enum NewPhoto {
    /// Bytes the salesperson sent, staged (not yet published).
    Upload(Staged),
    /// A stored image (a PUB-02 result, say), by its `statics/...` path.
    Stored(String),
}

/// Adds a photo to salesperson `user_id`'s card; returns `(photo id, url)`.
pub async fn add_photo(
    state: &AppState,
    company_id: i64,
    user_id: i64,
    photo: NewPhoto,
) -> Result<(i64, String), ApiError> {
    let storage = &state.storage;
    let (url, written) = match photo {
        NewPhoto::Upload(staged) => {
            let Some(kind) = ImageKind::sniff(&staged.head) else {
                storage.delete(&staged.key).await;
                return Err(ApiError::form("只能上传 JPEG、PNG、GIF 或 WebP 图片"));
            };
            let rand: String = rand::thread_rng()
                .sample_iter(rand::distributions::Alphanumeric)
                .take(10)
                .map(|c| char::from(c).to_ascii_lowercase())
                .collect();
            let url = format!("{PHOTO_DIR}/{user_id}_{rand}_photo.{}", kind.ext());
            let key = Path::from(url.as_str());
            storage.publish(&staged.key, &key).await?;
            (url, Some(key))
        }
        NewPhoto::Stored(path) => (upload::stored_image(storage, &path).await?, None),
    };
    let added = async {
        let mut client = state.db.get().await?;
        let tx = client.transaction().await?;
        let id = db::card::add_photo(&tx, company_id, user_id, &url, MAX_PHOTOS).await?;
        tx.commit().await?;
        id.ok_or_else(|| ApiError::form(format!("名片照片最多 {MAX_PHOTOS} 张")))
    }
    .await;
    match added {
        Ok(id) => {
            state.people.forget_card(user_id);
            Ok((id, url))
        }
        Err(e) => {
            if let Some(key) = written {
                storage.delete(&key).await;
            }
            Err(e)
        }
    }
}

/// Takes photo `photo_id` off the salesperson's own card (302 for any other); a file the
/// photo upload wrote goes too, unless another card shows it.
pub async fn remove_photo(
    state: &AppState,
    company_id: i64,
    user_id: i64,
    photo_id: i64,
) -> Result<(), ApiError> {
    let (url, shared) = {
        let mut client = state.db.get().await?;
        let tx = client.transaction().await?;
        let r = db::card::remove_photo(&tx, company_id, user_id, photo_id).await?;
        tx.commit().await?;
        r
    };
    state.people.forget_card(user_id);
    if !shared && own_photo_file(&url, user_id) {
        state.storage.delete(&Path::from(url.as_str())).await;
    }
    Ok(())
}

/// Edits the card's text fields.
pub async fn update_info(
    state: &AppState,
    company_id: i64,
    user_id: i64,
    info: &CardInfo<'_>,
) -> Result<(), ApiError> {
    let db = state.db.get().await?;
    db::card::set_info(&db, company_id, user_id, info).await?;
    state.people.forget_card(user_id);
    Ok(())
}

/// Checks the text fields a salesperson sent (303 with the reason).
pub fn check_info(info: &CardInfo<'_>) -> Result<(), ApiError> {
    fn chars(v: Option<&str>) -> usize {
        v.map(|s| s.chars().count()).unwrap_or(0)
    }
    if chars(info.sign) > 100 {
        return Err(ApiError::form("签名不能超过100个字"));
    }
    if chars(info.address) > 200 {
        return Err(ApiError::form("地址不能超过200个字"));
    }
    if let Some(w) = info.wechat.filter(|w| !w.is_empty()) {
        let ok = w.len() <= 32
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        if !ok {
            return Err(ApiError::form(
                "微信号只能包含字母、数字、_ 和 -，不超过32个字符",
            ));
        }
    }
    if let Some(e) = info.email.filter(|e| !e.is_empty()) {
        let ok = e.len() <= 100
            && !e.chars().any(|c| c.is_whitespace() || c.is_control())
            && e.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if !ok {
            return Err(ApiError::form("邮箱格式不正确"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_uploaders_own_photo_files_are_removed_with_the_photo() {
        let mine = format!("{PHOTO_DIR}/7_abcdefghij_photo.jpg");
        assert!(own_photo_file(&mine, 7));
        assert!(!own_photo_file(&mine, 70));
        assert!(!own_photo_file(
            &format!("{PHOTO_DIR}/7_20240101_101010_qrcode.jpg"),
            7
        ));
        assert!(!own_photo_file(
            "statics/zhugeleida/imgs/qiyeweixin/product/1.jpg",
            7
        ));
    }

    #[test]
    fn card_fields_are_checked() {
        let ok = CardInfo {
            sign: Some("我是销售"),
            wechat: Some("wx_id-1"),
            email: Some("a@b.cn"),
            address: Some(""),
        };
        assert!(check_info(&ok).is_ok());
        for bad in [
            CardInfo {
                email: Some("a@b"),
                ..Default::default()
            },
            CardInfo {
                email: Some("a b@c.cn"),
                ..Default::default()
            },
            CardInfo {
                wechat: Some("微信"),
                ..Default::default()
            },
            CardInfo {
                sign: Some(&"长".repeat(101)),
                ..Default::default()
            },
        ] {
            assert!(check_info(&bad).is_err(), "{bad:?}");
        }
    }
}
