//! Logging staff in: password check behind the login throttle, legacy-hash upgrade, a new
//! session per login, and the login payload shared by ADM-01 and QYW-01.
//!
//! Throttle (docs/auth.md): attempts are counted atomically before the password is checked,
//! per account *from one client address* (`ZGLD_LOGIN_MAX_FAILURES`, 5) and per client
//! address over all accounts (`ZGLD_LOGIN_MAX_FAILURES_PER_ADDRESS`, 20), in a window of
//! `ZGLD_LOGIN_LOCK_SECS`. A stranger's failures therefore never lock the real user out
//! from the user's own address.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::{
    db::{self, user::StaffRow},
    domain::{password, time},
    error::ApiError,
    state::AppState,
};

/// Runs a CPU-heavy password function off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("password task: {e}")))
}

/// ADM-01: checks `login`/`password` from client address `addr` and logs the user in.
pub async fn password_login(
    state: &AppState,
    login: &str,
    plain: &str,
    addr: &str,
) -> Result<Value, ApiError> {
    let cfg = &state.settings.auth;
    let db = state.db.get().await?;
    let account_key = format!("a:{}|{addr}", login.to_lowercase());
    let address_key = format!("ip:{addr}");
    let counts = db::throttle::reserve(
        &db,
        &[account_key.clone(), address_key.clone()],
        cfg.login_lock.as_secs_f64(),
    )
    .await?;
    let over = counts.iter().any(|(k, n)| {
        let limit = if *k == account_key {
            cfg.login_max_failures
        } else {
            cfg.login_max_failures_per_address
        };
        i64::from(*n) > limit
    });
    if over {
        metrics::counter!("zgld_login_throttled_total").increment(1);
        tracing::info!(login = %login, addr = %addr, "login throttled");
        let minutes = cfg.login_lock.as_secs().div_ceil(60);
        return Err(ApiError::Credentials(
            format!("登录失败次数过多,请{minutes}分钟后再试").into(),
        ));
    }
    let user = db::user::find_login(&db, login).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let plain_owned = plain.to_owned();
    // Verify even when the user is unknown, so timing does not reveal which names exist.
    let verdict = blocking(move || match stored {
        Some(h) => password::verify(&h, &plain_owned),
        None => {
            let _ = password::verify(DUMMY_HASH, &plain_owned);
            password::Verified::No
        }
    })
    .await?;
    let user = match (user, &verdict) {
        (Some(u), password::Verified::Yes | password::Verified::YesUpgrade) => u,
        _ => {
            tracing::info!(login = %login, addr = %addr, "failed login");
            return Err(ApiError::Credentials("账号密码错误".into()));
        }
    };
    if verdict == password::Verified::YesUpgrade {
        let p = plain.to_owned();
        let h = blocking(move || password::hash(&p)).await??;
        db::user::upgrade_hash(&db, user.id, &h).await?;
        tracing::info!(user_id = user.id, "upgraded a legacy password hash");
    }
    db::throttle::succeeded(&db, &account_key, &address_key).await?;
    complete(&db, cfg, &user).await
}

/// Refuses disabled users and expired companies; otherwise starts a new session (the
/// user's other devices stay signed in) and returns the login payload.
pub async fn complete(
    db: &impl deadpool_postgres::GenericClient,
    cfg: &crate::config::AuthSettings,
    user: &StaffRow,
) -> Result<Value, ApiError> {
    check_usable(user)?;
    let (_, token) = db::session::create(db, db::session::Owner::Staff(user.id), cfg).await?;
    let previous = db::user::record_login(db, user.id).await?;
    Ok(payload(user, &token, previous))
}

/// 306 for a disabled user or an expired company account.
pub fn check_usable(user: &StaffRow) -> Result<(), ApiError> {
    if user.status != 1 {
        return Err(ApiError::Disabled("账户未启用".into()));
    }
    if user.company_expired() {
        return Err(ApiError::Disabled("公司账户已过期,请联系管理员续费".into()));
    }
    Ok(())
}

/// The ADM-01 payload.
pub fn payload(user: &StaffRow, token: &str, previous_login: Option<DateTime<Utc>>) -> Value {
    json!({
        "token": token,
        "user_id": user.id,
        "set_avatar": user.set_avatar.clone().unwrap_or_else(|| user.avatar.clone()),
        "avatar": user.avatar,
        "company_name": user.company_name,
        "company_id": user.company_id,
        "role_id": user.role_id,
        "role_name": user.role_name,
        "last_login_date": previous_login.map(time::ymd_hms),
        "is_reset_password": user.is_reset_password,
    })
}

/// A valid Argon2id hash of a random string, verified against when the user is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Ok2KVgZtUy1sTMwT1qsA0bVnWtiVKAmyqhqrb7FIB0";
