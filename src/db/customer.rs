//! Customers (mini-program and official-account users) and their relation to salespeople.

use deadpool_postgres::GenericClient;

use crate::{
    auth::{AuthRecord, Customer},
    error::ApiError,
};

pub async fn load_auth(
    db: &impl GenericClient,
    id: i64,
) -> Result<Option<AuthRecord<Customer>>, ApiError> {
    let r = super::opt_cached(
        db,
        "select k.id, k.company_id, k.token, k.token_issued_at, k.token_last_used_at, c.account_expired_time
         from customer k join company c on c.id = k.company_id where k.id = $1",
        &[&id],
    )
    .await?;
    Ok(r.map(|r| {
        let expired_on: Option<chrono::NaiveDate> = r.get(5);
        AuthRecord {
            principal: Customer {
                id: r.get(0),
                company_id: r.get(1),
            },
            token: r.get(2),
            token_issued_at: r.get(3),
            token_last_used_at: r.get(4),
            disabled: false,
            company_expired: crate::domain::billing::is_expired(
                expired_on,
                crate::domain::time::today(),
            ),
        }
    }))
}

pub async fn touch_token(db: &impl GenericClient, id: i64) -> Result<(), ApiError> {
    db.execute(
        "update customer set token_last_used_at = now() where id = $1",
        &[&id],
    )
    .await?;
    Ok(())
}

/// What a WeChat login tells us about a customer.
#[derive(Debug, Clone)]
pub struct WechatIdentity {
    pub company_id: i64,
    pub openid: String,
    pub unionid: Option<String>,
    pub session_key: Option<String>,
    pub user_type: i16,
    pub username: Option<String>,
    pub headimgurl: Option<String>,
    pub sex: Option<i16>,
}

/// Finds or creates the customer by (company, openid) and issues a fresh token.
/// Returns `(customer_id, token, created)`.
pub async fn login(
    db: &impl GenericClient,
    w: &WechatIdentity,
) -> Result<(i64, String, bool), ApiError> {
    let token = crate::auth::token::generate();
    let r = db
        .query_one(
            "insert into customer (company_id, openid, unionid, session_key, user_type, username, headimgurl, sex,
                token, token_issued_at, token_last_used_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), now())
             on conflict on constraint customer_openid_key do update set
                unionid = coalesce(excluded.unionid, customer.unionid),
                session_key = coalesce(excluded.session_key, customer.session_key),
                username = coalesce(excluded.username, customer.username),
                headimgurl = coalesce(excluded.headimgurl, customer.headimgurl),
                sex = coalesce(excluded.sex, customer.sex),
                token = excluded.token, token_issued_at = now(), token_last_used_at = now()
             returning id, (xmax = 0)",
            &[
                &w.company_id,
                &w.openid,
                &w.unionid,
                &w.session_key,
                &w.user_type,
                &w.username,
                &w.headimgurl,
                &w.sex,
                &token,
            ],
        )
        .await?;
    Ok((r.get(0), token, r.get(1)))
}

/// Creates the salesperson ↔ customer relation if it does not exist yet (first source wins).
pub async fn relate(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    customer_id: i64,
    source: i16,
) -> Result<bool, ApiError> {
    let n = db
        .execute(
            "insert into user_customer (company_id, user_id, customer_id, source, last_activity_time)
             values ($1, $2, $3, $4, now()) on conflict on constraint user_customer_pair_key do nothing",
            &[&company_id, &user_id, &customer_id, &source],
        )
        .await?;
    Ok(n == 1)
}
