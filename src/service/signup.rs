//! Sign-up by QR code (ADM-09, ADM-10) and the pending users it creates (ADM-36..38).
//! See docs/signup-and-sync.md for the registration credential.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Utc;
use md5::{Digest, Md5};

use crate::{
    auth::{registration::Registrant, Staff},
    db::{self, signup::TempUserInput},
    domain::{qr, role::MEMBER_ROLE, time},
    error::ApiError,
    state::AppState,
};

/// Folder of the ADM-09 QR codes, relative to the static root (API.md 1.9).
const QR_DIR: &str = "statics/zhugeleida/imgs/admin/qrcode";

/// What ADM-09 made: the stored image and the URL it encodes.
#[derive(Debug)]
pub struct ScanCode {
    /// `statics/zhugeleida/imgs/admin/qrcode/admin_uid_<id>_<YYYYMMDD>_<HHMMSS>_qrCode.jpg`.
    pub qrcode_url: String,
    /// The registration page with the registration triple.
    pub register_url: String,
}

/// ADM-09: a new registration credential for the caller's company and its QR image. The
/// image keeps the documented `.jpg` name; its bytes are PNG (as QYW-46's codes).
pub async fn create_scan_code(state: &AppState, caller: &Staff) -> Result<ScanCode, ApiError> {
    caller.require_admin()?;
    let token = crate::auth::token::generate();
    let now = Utc::now();
    let timestamp = now.timestamp_millis().to_string();
    let rand_str = hex::encode(Md5::digest(format!("{timestamp}{token}").as_bytes()));
    let cfg = &state.settings.signup;
    let sep = if cfg.page_url.contains('?') { '&' } else { '?' };
    let register_url = format!(
        "{}{sep}rand_str={rand_str}&timestamp={timestamp}&user_id={}",
        cfg.page_url, caller.id
    );
    let image = qr::png(&register_url)
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("ADM-09 QR: {e}")))?;
    let stamp = time::local(now).format("%Y%m%d_%H%M%S");
    let relative = format!("{QR_DIR}/admin_uid_{}_{stamp}_qrCode.jpg", caller.id);
    let file = state.settings.static_dir.join(&relative);
    write_atomically(&file, &image).await?;
    let expires_at = (!cfg.qr_ttl.is_zero())
        .then(|| chrono::Duration::from_std(cfg.qr_ttl).ok())
        .flatten()
        .map(|ttl| now + ttl);
    let stored = async {
        let db = state.db.get().await?;
        db::signup::insert_code(
            &db,
            &db::signup::NewCode {
                company_id: caller.company_id,
                creator_id: caller.id,
                token: &token,
                timestamp: &timestamp,
                rand_str: &rand_str,
                qr_path: &relative,
                expires_at,
            },
        )
        .await
    }
    .await;
    if let Err(e) = stored {
        remove_quietly(&file).await;
        return Err(e);
    }
    metrics::counter!("zgld_signup_qr_created_total").increment(1);
    tracing::info!(company_id = caller.company_id, "registration QR created");
    Ok(ScanCode {
        qrcode_url: relative,
        register_url,
    })
}

/// A trimmed field of at most `max` characters; 303 otherwise.
fn text(name: &str, v: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > max => {
            Err(ApiError::form(format!("{name} 不能超过 {max} 个字符")))
        }
        Some(s) => Ok(Some(s.to_owned())),
    }
}

/// A phone number: 5–20 characters of digits, spaces, `-` and a leading `+`.
fn phone(name: &str, v: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(s) = text(name, v, 20)? else {
        return Ok(None);
    };
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let shape_ok = s
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || c == '-' || c == ' ' || (c == '+' && i == 0));
    if !shape_ok || digits < 5 {
        return Err(ApiError::form(format!("{name} 不是有效的电话号码")));
    }
    Ok(Some(s))
}

/// Raw ADM-10 / ADM-36 fields as they came.
#[derive(Debug, Default)]
pub struct RawTempUser<'a> {
    pub username: Option<&'a str>,
    pub position: Option<&'a str>,
    pub wechat: Option<&'a str>,
    pub wechat_phone: Option<&'a str>,
    pub mingpian_phone: Option<&'a str>,
    pub department_ids: Option<Vec<i64>>,
}

impl RawTempUser<'_> {
    fn validate(self) -> Result<TempUserInput, ApiError> {
        Ok(TempUserInput {
            username: text("username", self.username, 50)?,
            position: text("position", self.position, 50)?,
            wechat: text("wechat", self.wechat, 64)?,
            wechat_phone: phone("wechat_phone", self.wechat_phone)?,
            mingpian_phone: phone("mingpian_phone", self.mingpian_phone)?,
            department_ids: self.department_ids,
        })
    }
}

/// ADM-10: a pending user in the QR creator's company. Every documented field is required;
/// `department_id` must name the company's departments (302 otherwise).
pub async fn register(
    state: &AppState,
    who: &Registrant,
    raw: RawTempUser<'_>,
) -> Result<i64, ApiError> {
    let t = raw.validate()?;
    for (name, v) in [
        ("username", &t.username),
        ("position", &t.position),
        ("wechat", &t.wechat),
        ("wechat_phone", &t.wechat_phone),
        ("mingpian_phone", &t.mingpian_phone),
    ] {
        if v.is_none() {
            return Err(ApiError::form(format!("{name} 不能为空")));
        }
    }
    let mut client = state.db.get().await?;
    let mut t = t;
    if let Some(ids) = &t.department_ids {
        t.department_ids = Some(db::signup::departments_in(&client, who.company_id, ids).await?);
    }
    let tx = client.transaction().await?;
    let id = db::signup::insert_temp_user(&tx, who.company_id, who.creator_id, &t).await?;
    tx.commit().await?;
    metrics::counter!("zgld_signup_registrations_total").increment(1);
    tracing::info!(
        temp_user_id = id,
        company_id = who.company_id,
        code = who.code_id,
        "self-registration"
    );
    Ok(id)
}

/// ADM-36: changes the present fields of a pending user of the caller's company.
pub async fn update_temp_user(
    state: &AppState,
    caller: &Staff,
    id: i64,
    raw: RawTempUser<'_>,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    let mut t = raw.validate()?;
    let nothing = t.username.is_none()
        && t.position.is_none()
        && t.wechat.is_none()
        && t.wechat_phone.is_none()
        && t.mingpian_phone.is_none()
        && t.department_ids.is_none();
    if nothing {
        return Err(ApiError::form(
            "请提供要修改的字段: username, position, wechat, wechat_phone, mingpian_phone, department_id",
        ));
    }
    let mut client = state.db.get().await?;
    if let Some(ids) = &t.department_ids {
        t.department_ids = Some(db::signup::departments_in(&client, caller.company_id, ids).await?);
    }
    let tx = client.transaction().await?;
    db::signup::update_temp_user(&tx, caller.company_id, id, &t).await?;
    tx.commit().await?;
    Ok(())
}

/// ADM-37.
pub async fn delete_temp_user(state: &AppState, caller: &Staff, id: i64) -> Result<(), ApiError> {
    caller.require_admin()?;
    let db = state.db.get().await?;
    db::signup::delete_temp_user(&db, caller.company_id, id).await
}

/// What ADM-38 did.
#[derive(Debug, Default)]
pub struct Approval {
    /// `(temp_user_id, new user id)`, oldest pending user first.
    pub approved: Vec<(i64, i64)>,
    /// Pending users left pending because the card quota ran out.
    pub not_approved: Vec<i64>,
    pub quota: i32,
}

/// ADM-38: turns the pending users into enabled members of the caller's company, oldest
/// first, as long as cards are free; the rest stay pending and are reported. One transaction
/// (the company row locked); an id of another company or unknown → 302 and nothing changes;
/// no free card at all → 303.
pub async fn approve(state: &AppState, caller: &Staff, ids: &[i64]) -> Result<Approval, ApiError> {
    caller.require_admin()?;
    if ids.is_empty() {
        return Err(ApiError::form("user_id_list 不能为空"));
    }
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let (quota, free) = db::signup::free_cards(&tx, caller.company_id).await?;
    let pending = db::signup::lock_temp_users(&tx, caller.company_id, ids).await?;
    if free == 0 {
        return Err(ApiError::form(format!(
            "名片数量已达上限({quota}),请联系管理员增加可开通名片数"
        )));
    }
    let mut out = Approval {
        quota,
        ..Approval::default()
    };
    for (n, temp_id) in pending.into_iter().enumerate() {
        if n as i64 >= free {
            out.not_approved.push(temp_id);
            continue;
        }
        let departments = db::signup::temp_departments(&tx, temp_id).await?;
        let user_id = db::signup::approve_one(&tx, caller.company_id, temp_id, MEMBER_ROLE).await?;
        db::signup::link_departments(&tx, user_id, &departments).await?;
        out.approved.push((temp_id, user_id));
    }
    tx.commit().await?;
    metrics::counter!("zgld_signup_approved_total").increment(out.approved.len() as u64);
    tracing::info!(
        company_id = caller.company_id,
        approved = out.approved.len(),
        left = out.not_approved.len(),
        "pending users approved"
    );
    Ok(out)
}

/// Writes `bytes` beside `path` and renames it into place, so a reader never sees half an image.
async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ApiError> {
    let dir = path.parent().context("static file path without a folder")?;
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = PathBuf::from(path);
    tmp.set_extension(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
    if let Err(e) = tokio::fs::write(&tmp, bytes).await {
        remove_quietly(&tmp).await;
        return Err(anyhow::Error::new(e)
            .context(format!("writing {}", tmp.display()))
            .into());
    }
    if let Err(e) = tokio::fs::rename(&tmp, path).await {
        remove_quietly(&tmp).await;
        return Err(anyhow::Error::new(e)
            .context(format!("moving the QR image to {}", path.display()))
            .into());
    }
    Ok(())
}

async fn remove_quietly(path: &Path) {
    if let Err(e) = tokio::fs::remove_file(path).await {
        tracing::warn!(path = %path.display(), error = %e, "could not remove a stray file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_accept_digits_and_reject_words() {
        assert_eq!(
            phone("p", Some(" 13290563972 ")).ok().flatten().as_deref(),
            Some("13290563972")
        );
        assert!(phone("p", Some("+86 132-9056-3972")).is_ok());
        assert!(phone("p", Some("call me")).is_err());
        assert!(phone("p", Some("12")).is_err());
        assert!(phone("p", Some("1+3290563972")).is_err());
    }
}
