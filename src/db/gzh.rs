//! Official-account customers (GZH-07) and the shared JS-SDK ticket (GZH-09).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::error::ApiError;

/// What `sns/userinfo` told us about a customer.
#[derive(Debug, Clone)]
pub struct OaProfile {
    pub username: String,
    pub headimgurl: String,
    pub sex: Option<i16>,
    pub area: String,
}

/// The customer of `company_id` with `openid`: (id, whether a profile was ever stored).
pub async fn find(
    db: &impl GenericClient,
    company_id: i64,
    openid: &str,
) -> Result<Option<(i64, bool)>, ApiError> {
    let r = db
        .query_opt(
            "select id, username is not null from customer where company_id = $1 and openid = $2",
            &[&company_id, &openid],
        )
        .await?;
    Ok(r.map(|r| (r.get(0), r.get(1))))
}

/// Finds or creates the official-account customer and opens a session of its own for it
/// (`auth_session`: the customer's other devices stay signed in); a profile, when given,
/// replaces the stored one. Returns (id, token).
pub async fn login(
    db: &impl GenericClient,
    company_id: i64,
    openid: &str,
    unionid: Option<&str>,
    profile: Option<&OaProfile>,
    auth: &crate::config::AuthSettings,
) -> Result<(i64, String), ApiError> {
    let r = db
        .query_one(
            "insert into customer (company_id, openid, unionid, user_type, username, headimgurl, sex, area)
             values ($1, $2, $3, 1, $4, $5, $6, $7)
             on conflict on constraint customer_openid_key do update set
                unionid = coalesce(excluded.unionid, customer.unionid),
                username = coalesce(excluded.username, customer.username),
                headimgurl = coalesce(excluded.headimgurl, customer.headimgurl),
                sex = coalesce(excluded.sex, customer.sex),
                area = coalesce(excluded.area, customer.area)
             returning id",
            &[
                &company_id,
                &openid,
                &unionid,
                &profile.map(|p| p.username.as_str()),
                &profile.map(|p| p.headimgurl.as_str()).filter(|h| !h.is_empty()),
                &profile.and_then(|p| p.sex),
                &profile.map(|p| p.area.as_str()),
            ],
        )
        .await?;
    let id: i64 = r.get(0);
    let (_, token) = super::session::create(db, super::session::Owner::Customer(id), auth).await?;
    Ok((id, token))
}

/// A cached ticket still good until at least `fresh_until`.
pub async fn ticket(
    db: &impl GenericClient,
    appid: &str,
    kind: &str,
    fresh_until: DateTime<Utc>,
) -> Result<Option<String>, ApiError> {
    let r = super::opt_cached(
        db,
        "select ticket from wechat_ticket where appid = $1 and kind = $2 and expires_at > $3",
        &[&appid, &kind, &fresh_until],
    )
    .await?;
    Ok(r.map(|r| r.get(0)))
}

/// Takes the per-(appid, kind) transaction lock that makes one node at a time refresh.
pub async fn lock_ticket(db: &impl GenericClient, appid: &str, kind: &str) -> Result<(), ApiError> {
    db.execute(
        "select pg_advisory_xact_lock(hashtext('wechat_ticket:' || $1 || ':' || $2))",
        &[&appid, &kind],
    )
    .await?;
    Ok(())
}

pub async fn store_ticket(
    db: &impl GenericClient,
    appid: &str,
    kind: &str,
    ticket: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    db.execute(
        "insert into wechat_ticket (appid, kind, ticket, expires_at) values ($1, $2, $3, $4)
         on conflict (appid, kind) do update set ticket = excluded.ticket, expires_at = excluded.expires_at",
        &[&appid, &kind, &ticket, &expires_at],
    )
    .await?;
    Ok(())
}
