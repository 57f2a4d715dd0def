//! Sessions (`auth_session`, sql/007): one row per login on a device, for salespeople and
//! backend users (`user_id`) and for customers (`customer_id`). A row's token signs that
//! device's requests; ending a session deletes its row (or, when its user is disabled,
//! marks it ended), and PostgreSQL tells every node (NOTIFY, src/auth/cache.rs).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::{config::AuthSettings, error::ApiError};

/// Live sessions one identity may hold: the oldest ends when a login would pass it. Far above
/// the phone + admin web + a few browsers of one person, and it bounds the signature check,
/// which tries each of the caller's sessions.
pub const MAX_PER_IDENTITY: i64 = 16;

/// Whose session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// `user_profile.id`
    Staff(i64),
    /// `customer.id`
    Customer(i64),
}

impl Owner {
    fn column(self) -> (&'static str, i64) {
        match self {
            Owner::Staff(id) => ("user_id", id),
            Owner::Customer(id) => ("customer_id", id),
        }
    }
}

/// One session as the signature check needs it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub token: String,
    pub issued_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// Ended by disabling its user (the token answers 306 while the user stays disabled).
    pub ended: bool,
}

/// Starts a session (a login on one more device) and returns its new random token. Expired
/// sessions of the same identity go, and the oldest live ones beyond [`MAX_PER_IDENTITY`].
pub async fn create(
    db: &impl GenericClient,
    owner: Owner,
    cfg: &AuthSettings,
) -> Result<(i64, String), ApiError> {
    let (col, id) = owner.column();
    let token = crate::auth::token::generate();
    let row = db
        .query_one(
            &format!("insert into auth_session ({col}, token) values ($1, $2) returning id"),
            &[&id, &token],
        )
        .await?;
    let session_id: i64 = row.get(0);
    let max_age = cfg.token_max_age.as_secs_f64();
    let idle = cfg.token_idle.as_secs_f64();
    db.execute(
        &format!(
            "delete from auth_session where {col} = $1 and (
                ($2::float8 > 0 and issued_at < now() - make_interval(secs => $2))
                or ($3::float8 > 0 and last_used_at < now() - make_interval(secs => $3))
                or (ended_at is null and id not in (
                    select id from auth_session where {col} = $1 and ended_at is null
                    order by id desc limit $4)))"
        ),
        &[&id, &max_age, &idle, &MAX_PER_IDENTITY],
    )
    .await?;
    Ok((session_id, token))
}

/// The identity's sessions, newest first.
pub async fn of(db: &impl GenericClient, owner: Owner) -> Result<Vec<Session>, ApiError> {
    let (col, id) = owner.column();
    let sql = format!(
        "select id, token, issued_at, last_used_at, ended_at is not null from auth_session
         where {col} = $1 order by id desc limit {}",
        MAX_PER_IDENTITY * 2
    );
    let stmt = db.prepare_cached(&sql).await?;
    Ok(db
        .query(&stmt, &[&id])
        .await?
        .iter()
        .map(|r| Session {
            id: r.get(0),
            token: r.get(1),
            issued_at: r.get(2),
            last_used_at: r.get(3),
            ended: r.get(4),
        })
        .collect())
}

/// Records that a session signed a request (at most once a minute, see src/auth).
pub async fn touch(db: &impl GenericClient, session_id: i64) -> Result<(), ApiError> {
    let stmt = db
        .prepare_cached("update auth_session set last_used_at = now() where id = $1")
        .await?;
    db.execute(&stmt, &[&session_id]).await?;
    Ok(())
}

/// Ends every session of `owner` but `keep` (ADM-02: the caller stays signed in).
pub async fn end_others(db: &impl GenericClient, owner: Owner, keep: i64) -> Result<u64, ApiError> {
    let (col, id) = owner.column();
    Ok(db
        .execute(
            &format!("delete from auth_session where {col} = $1 and id <> $2"),
            &[&id, &keep],
        )
        .await?)
}

/// Ends every session of `owner` (an admin set a new password).
pub async fn end_all(db: &impl GenericClient, owner: Owner) -> Result<u64, ApiError> {
    let (col, id) = owner.column();
    Ok(db
        .execute(
            &format!("delete from auth_session where {col} = $1"),
            &[&id],
        )
        .await?)
}
