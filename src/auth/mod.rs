//! Legacy signed auth (API.md 1.2), hardened: one extractor per identity that handlers
//! cannot bypass. A request carries `rand_str = md5(timestamp + token)`, `timestamp` (ms)
//! and `user_id` in its query; each token is one session (one device's login, sql/007)
//! living server-side with its issue and last-use times. Every failure answers
//! `404 非法请求`; the precise reason goes to the debug log.

pub mod cache;
pub mod login;
pub mod registration;
pub mod replay;
pub mod token;

use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use crate::{api::params::Params, domain::role::Level, error::ApiError, state::AppState};

/// A salesperson or backend user (the `user_profile` table): admin, qiyeweixin, public.
#[derive(Clone, Debug)]
pub struct Staff {
    pub id: i64,
    pub company_id: i64,
    pub role_id: i64,
    pub level: Level,
}

impl Staff {
    /// Company admin or platform operator; anyone else gets 404 非法请求.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.level.is_admin() {
            Ok(())
        } else {
            Err(ApiError::illegal("admin endpoint called by a member"))
        }
    }
    /// The platform operator only.
    pub fn require_operator(&self) -> Result<(), ApiError> {
        if self.level == Level::Operator {
            Ok(())
        } else {
            Err(ApiError::illegal(
                "operator endpoint called by a non-operator",
            ))
        }
    }
    pub fn is_operator(&self) -> bool {
        self.level == Level::Operator
    }
}

/// A customer (the `customer` table): xiaochengxu, gongzhonghao.
#[derive(Clone, Debug)]
pub struct Customer {
    pub id: i64,
    pub company_id: i64,
}

/// What the signature check needs to know about the caller, whoever it is.
#[derive(Debug, Clone)]
pub struct AuthRecord<P> {
    pub principal: P,
    /// The caller's sessions (one per device), newest first.
    pub sessions: Vec<crate::db::session::Session>,
    /// `status` 2 (staff only).
    pub disabled: bool,
    /// The company's account has expired.
    pub company_expired: bool,
}

/// An identity that can sign requests.
pub trait Principal: Sized + Send + Sync + Clone + 'static {
    /// For logs and the replay-cache key.
    const KIND: &'static str;
    fn load(
        state: &AppState,
        id: i64,
    ) -> impl std::future::Future<Output = Result<Option<AuthRecord<Self>>, ApiError>> + Send;
    fn id(&self) -> i64;
    fn company_id(&self) -> i64;
    /// This kind's entries in the node's auth cache.
    fn cached(c: &cache::AuthCache) -> &dashmap::DashMap<i64, cache::Cached<Self>>;
}

/// A request signed by `P`. `WRITE` requests (state-changing) also spend their `rand_str`:
/// the same signature is refused the second time.
pub struct Authed<P, const WRITE: bool> {
    principal: P,
    /// The session (`auth_session.id`) whose token signed the request.
    session_id: i64,
}

impl<P, const W: bool> Authed<P, W> {
    /// The session whose token signed this request.
    pub fn session_id(&self) -> i64 {
        self.session_id
    }
}

impl<P, const W: bool> std::ops::Deref for Authed<P, W> {
    type Target = P;
    fn deref(&self) -> &P {
        &self.principal
    }
}

/// A staff member's read (list/show) request.
pub type StaffRead = Authed<Staff, false>;
/// A staff member's state-changing request.
pub type StaffWrite = Authed<Staff, true>;
/// A customer's read request.
pub type CustomerRead = Authed<Customer, false>;
/// A customer's state-changing request.
pub type CustomerWrite = Authed<Customer, true>;

/// A customer's request whose only write is one radar event (a view of a card, product,
/// website or news page, a card action, an article forward or reading time). It is a write
/// like [`CustomerWrite`]: its `rand_str` is single-use. The signature is checked here and
/// spent by the radar writer in the very transaction that stores the event
/// (`service::radar`), so a view costs no transaction of its own for the guard; a replay is
/// refused with the same answer as a [`CustomerWrite`]'s and writes nothing.
pub struct CustomerEvent {
    caller: CustomerRead,
    spend: replay::Spend,
}

impl CustomerEvent {
    /// The spend the event's transaction must win.
    pub fn spend(&self) -> &replay::Spend {
        &self.spend
    }
}

impl std::ops::Deref for CustomerEvent {
    type Target = Customer;
    fn deref(&self) -> &Customer {
        &self.caller
    }
}

impl FromRequestParts<AppState> for CustomerEvent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = CustomerRead::from_request_parts(parts, state).await?;
        let q = Params::of_query(parts);
        let rand_str = q
            .str("rand_str")
            .ok_or_else(|| ApiError::illegal("missing rand_str"))?;
        let spend = replay::Spend::new(
            Customer::KIND,
            caller.id,
            rand_str,
            state.settings.auth.replay_window(),
        )?;
        Ok(CustomerEvent { caller, spend })
    }
}

/// `md5(timestamp + token)` compared in constant time with `rand_str` (case-insensitive).
pub fn signature_matches(timestamp: &str, token: &str, rand_str: &str) -> bool {
    // No allocation: this runs on every signed request.
    let digest = Md5::new()
        .chain_update(timestamp.as_bytes())
        .chain_update(token.as_bytes())
        .finalize();
    let mut expected = [0u8; 32];
    if hex::encode_to_slice(digest, &mut expected).is_err() {
        return false;
    }
    let given = rand_str.trim().as_bytes();
    if given.len() != expected.len() {
        return false;
    }
    let mut lower = [0u8; 32];
    for (l, g) in lower.iter_mut().zip(given) {
        *l = g.to_ascii_lowercase();
    }
    expected.ct_eq(&lower).into()
}

impl<P: Principal, const W: bool> FromRequestParts<AppState> for Authed<P, W> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let q = Params::of_query(parts);
        let rand_str = q
            .str("rand_str")
            .ok_or_else(|| ApiError::illegal("missing rand_str"))?;
        let timestamp = q
            .str("timestamp")
            .ok_or_else(|| ApiError::illegal("missing timestamp"))?;
        let user_id: i64 = q
            .str("user_id")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ApiError::illegal("missing or non-numeric user_id"))?;
        let ts_ms: i64 = timestamp
            .parse()
            .map_err(|_| ApiError::illegal("non-numeric timestamp"))?;
        let auth = &state.settings.auth;
        let now = Utc::now();
        if !auth.signature_window.is_zero() {
            let skew = (now.timestamp_millis() - ts_ms).unsigned_abs();
            if u128::from(skew) > auth.signature_window.as_millis() {
                return Err(ApiError::illegal(format!(
                    "stale timestamp ({skew} ms off)"
                )));
            }
        }
        // A cached record that does not verify may just be older than a new session: read again.
        let cached = state
            .auth_cache
            .get::<P>(user_id)
            .and_then(|rec| Some((verify(auth, &rec, timestamp, rand_str, now).ok()?, rec)));
        let (session, rec) = match cached {
            Some(hit) => hit,
            None => {
                let generation = state.auth_cache.generation();
                let rec = P::load(state, user_id)
                    .await?
                    .ok_or_else(|| ApiError::illegal(format!("{} {user_id} not found", P::KIND)))?;
                state.auth_cache.put(user_id, rec.clone(), generation);
                (verify(auth, &rec, timestamp, rand_str, now)?, rec)
            }
        };
        if rec.disabled {
            return Err(ApiError::Disabled("账户未启用".into()));
        }
        if rec.company_expired {
            return Err(ApiError::Disabled("公司账户已过期,请联系管理员续费".into()));
        }
        if W {
            spend_signature(state, P::KIND, user_id, rand_str).await?;
            if let Some(mark) = parts
                .extensions
                .get::<crate::service::content_cache::StaffWrite>()
            {
                if P::KIND == Staff::KIND {
                    mark.set();
                }
            }
        }
        // Record use at most once a minute: cheap on hot polling paths.
        if (now - session.last_used_at).num_seconds() >= 60 {
            let db = state.db.get().await?;
            crate::db::session::touch(&db, session.id).await?;
            state.auth_cache.touched::<P>(user_id, session.id, now);
        }
        tracing::Span::current()
            .record("user_id", user_id)
            .record("company_id", rec.principal.company_id());
        Ok(Authed {
            principal: rec.principal,
            session_id: session.id,
        })
    }
}

/// One of the caller's sessions signed this request, and it is live and within its
/// lifetimes. Returns that session.
fn verify<P>(
    auth: &crate::config::AuthSettings,
    rec: &AuthRecord<P>,
    timestamp: &str,
    rand_str: &str,
    now: DateTime<Utc>,
) -> Result<crate::db::session::Session, ApiError> {
    let session = rec
        .sessions
        .iter()
        .find(|s| signature_matches(timestamp, &s.token, rand_str))
        .ok_or_else(|| ApiError::illegal("signature matches no session"))?;
    if session.ended {
        // Ended by disabling the user (sql/007): say so while the user stays disabled.
        return Err(if rec.disabled {
            ApiError::Disabled("账户未启用".into())
        } else {
            ApiError::illegal("session ended")
        });
    }
    if let Some(reason) = token::expired(
        auth,
        Some(session.issued_at),
        Some(session.last_used_at),
        now,
    ) {
        return Err(ApiError::illegal(reason));
    }
    Ok(session.clone())
}

/// Marks a state-changing request's `rand_str` as used; the second use, on any node, is
/// refused with its own msg ([`ApiError::Replayed`]) and counted.
pub async fn spend_signature(
    state: &AppState,
    kind: &'static str,
    user_id: i64,
    rand_str: &str,
) -> Result<(), ApiError> {
    let signature = rand_str.trim().to_ascii_lowercase();
    if state
        .replay
        .first_use(
            kind,
            user_id,
            &signature,
            state.settings.auth.replay_window(),
        )
        .await?
    {
        Ok(())
    } else {
        metrics::counter!("zgld_replay_refused_total").increment(1);
        tracing::info!(kind, user_id, "replayed write signature refused");
        Err(ApiError::Replayed)
    }
}

impl Principal for Staff {
    const KIND: &'static str = "staff";
    async fn load(state: &AppState, id: i64) -> Result<Option<AuthRecord<Self>>, ApiError> {
        let db = state.db.get().await?;
        let Some(row) = crate::db::user::get(&db, id).await? else {
            return Ok(None);
        };
        let sessions = crate::db::session::of(&db, crate::db::session::Owner::Staff(id)).await?;
        Ok(Some(row.auth(sessions)))
    }
    fn id(&self) -> i64 {
        self.id
    }
    fn company_id(&self) -> i64 {
        self.company_id
    }
    fn cached(c: &cache::AuthCache) -> &dashmap::DashMap<i64, cache::Cached<Self>> {
        &c.staff
    }
}

impl Principal for Customer {
    const KIND: &'static str = "customer";
    async fn load(state: &AppState, id: i64) -> Result<Option<AuthRecord<Self>>, ApiError> {
        let db = state.db.get().await?;
        crate::db::customer::load_auth(&db, id).await
    }
    fn id(&self) -> i64 {
        self.id
    }
    fn company_id(&self) -> i64 {
        self.company_id
    }
    fn cached(c: &cache::AuthCache) -> &dashmap::DashMap<i64, cache::Cached<Self>> {
        &c.customers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_md5_of_timestamp_and_token() {
        let token = "93b5f91eb56b8a4f8d96b7182920d68d";
        let ts = "1528097283000";
        let good = hex::encode(Md5::digest(format!("{ts}{token}").as_bytes()));
        assert!(signature_matches(ts, token, &good));
        assert!(signature_matches(ts, token, &good.to_ascii_uppercase()));
        assert!(!signature_matches("1528097283001", token, &good));
        assert!(!signature_matches(ts, token, "short"));
    }
}
