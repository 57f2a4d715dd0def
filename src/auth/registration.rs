//! The registration credential of an ADM-09 QR code, accepted by ADM-10 and nowhere else.
//!
//! The QR URL carries the legacy triple (A-03) `rand_str`, `timestamp`, `user_id`, with
//! `rand_str = md5(timestamp + token)` where `token` is a secret of the QR's own
//! `registration_code` row, never the admin's login token. So the triple signs nothing else
//! (every other endpoint checks it against the admin's login token and answers 404), and it
//! is accepted here only until the row's `expires_at` (`ZGLD_SIGNUP_QR_TTL_SECS`) and only
//! while its creator is an enabled admin of the company. Many new employees scan one QR, so
//! the signature is not spent like a `*Write` one.

use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::Utc;

use crate::{
    api::params::Params,
    domain::{billing, time},
    error::ApiError,
    state::AppState,
};

/// A request carrying a valid, unexpired registration triple.
#[derive(Debug, Clone)]
pub struct Registrant {
    /// The company the new employee registers into (the QR creator's).
    pub company_id: i64,
    /// The admin who generated the QR.
    pub creator_id: i64,
    /// The `registration_code` row.
    pub code_id: i64,
}

impl FromRequestParts<AppState> for Registrant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let q = Params::of_query(parts);
        let rand_str = q
            .str("rand_str")
            .map(|r| r.trim().to_ascii_lowercase())
            .ok_or_else(|| ApiError::illegal("registration: missing rand_str"))?;
        let timestamp = q
            .str("timestamp")
            .ok_or_else(|| ApiError::illegal("registration: missing timestamp"))?;
        let user_id: i64 = q
            .str("user_id")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ApiError::illegal("registration: missing or non-numeric user_id"))?;
        let db = state.db.get().await?;
        let code = crate::db::signup::find_code(&db, &rand_str)
            .await?
            .ok_or_else(|| ApiError::illegal("registration: no such QR credential"))?;
        if code.creator_id != user_id || code.timestamp != timestamp {
            return Err(ApiError::illegal(
                "registration: triple does not match its QR",
            ));
        }
        if !super::signature_matches(timestamp, &code.token, &rand_str) {
            return Err(ApiError::illegal("registration: signature mismatch"));
        }
        if code.expires_at.is_some_and(|e| e <= Utc::now()) {
            return Err(ApiError::illegal("registration: QR code expired"));
        }
        if !code.creator_ok {
            return Err(ApiError::illegal(
                "registration: the QR's admin is disabled, moved or no longer an admin",
            ));
        }
        if billing::is_expired(code.company_expired_on, time::today()) {
            return Err(ApiError::Disabled("公司账户已过期,请联系管理员续费".into()));
        }
        tracing::Span::current()
            .record("user_id", user_id)
            .record("company_id", code.company_id);
        Ok(Registrant {
            company_id: code.company_id,
            creator_id: code.creator_id,
            code_id: code.id,
        })
    }
}
