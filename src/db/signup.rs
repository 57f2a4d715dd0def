//! Sign-up by QR code: the registration credentials behind ADM-09 QR codes and the pending
//! (temporary) users of ADM-10/36/37/38. Every query carries the company.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;

use crate::error::ApiError;

/// A new registration credential (one per generated QR code).
#[derive(Debug)]
pub struct NewCode<'a> {
    pub company_id: i64,
    pub creator_id: i64,
    pub token: &'a str,
    pub timestamp: &'a str,
    pub rand_str: &'a str,
    pub qr_path: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert_code(db: &impl GenericClient, c: &NewCode<'_>) -> Result<i64, ApiError> {
    let r = db
        .query_one(
            "insert into registration_code (company_id, creator_id, token, timestamp, rand_str, qr_path, expires_at)
             values ($1, $2, $3, $4, $5, $6, $7) returning id",
            &[&c.company_id, &c.creator_id, &c.token, &c.timestamp, &c.rand_str, &c.qr_path, &c.expires_at],
        )
        .await?;
    Ok(r.get(0))
}

/// A registration credential with what ADM-10 must re-check about its creator.
#[derive(Debug, Clone)]
pub struct CodeRow {
    pub id: i64,
    pub company_id: i64,
    pub creator_id: i64,
    pub token: String,
    pub timestamp: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// The creator is still an enabled admin of the same company.
    pub creator_ok: bool,
    pub company_expired_on: Option<NaiveDate>,
}

/// The credential whose QR carried `rand_str` (lower-case hex).
pub async fn find_code(
    db: &impl GenericClient,
    rand_str: &str,
) -> Result<Option<CodeRow>, ApiError> {
    let r = db
        .query_opt(
            "select g.id, g.company_id, g.creator_id, g.token, g.timestamp, g.expires_at,
                (u.status = 1 and u.company_id = g.company_id and r.level <= 2), c.account_expired_time
             from registration_code g
             join user_profile u on u.id = g.creator_id
             join role r on r.id = u.role_id
             join company c on c.id = g.company_id
             where g.rand_str = $1",
            &[&rand_str],
        )
        .await?;
    Ok(r.map(|r| CodeRow {
        id: r.get(0),
        company_id: r.get(1),
        creator_id: r.get(2),
        token: r.get(3),
        timestamp: r.get(4),
        expires_at: r.get(5),
        creator_ok: r.get(6),
        company_expired_on: r.get(7),
    }))
}

/// The self-registration fields of ADM-10 (and the editable ones of ADM-36).
#[derive(Debug, Clone, Default)]
pub struct TempUserInput {
    pub username: Option<String>,
    pub position: Option<String>,
    pub wechat: Option<String>,
    pub wechat_phone: Option<String>,
    pub mingpian_phone: Option<String>,
    /// `None` = leave the departments as they are.
    pub department_ids: Option<Vec<i64>>,
}

/// Checks that every id is a department of the company (302 otherwise); deduplicated.
pub async fn departments_in(
    db: &impl GenericClient,
    company_id: i64,
    ids: &[i64],
) -> Result<Vec<i64>, ApiError> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let found: i64 = db
        .query_one(
            "select count(*) from department where company_id = $1 and id = any($2)",
            &[&company_id, &ids],
        )
        .await?
        .get(0);
    if found != ids.len() as i64 {
        return Err(ApiError::NotFound("部门不存在".into()));
    }
    Ok(ids)
}

async fn set_departments(
    tx: &impl GenericClient,
    temp_user_id: i64,
    ids: &[i64],
) -> Result<(), ApiError> {
    tx.execute(
        "delete from temp_user_department where temp_user_id = $1",
        &[&temp_user_id],
    )
    .await?;
    tx.execute(
        "insert into temp_user_department (temp_user_id, department_id) select $1, unnest($2::bigint[])",
        &[&temp_user_id, &ids],
    )
    .await?;
    Ok(())
}

/// ADM-10: a pending user of `company_id`, inside the caller's transaction.
pub async fn insert_temp_user(
    tx: &impl GenericClient,
    company_id: i64,
    creator_id: i64,
    t: &TempUserInput,
) -> Result<i64, ApiError> {
    let id: i64 = tx
        .query_one(
            "insert into temp_user (company_id, creator_id, username, position, wechat, wechat_phone, mingpian_phone)
             values ($1, $2, $3, $4, $5, $6, $7) returning id",
            &[&company_id, &creator_id, &t.username.as_deref().unwrap_or_default(), &t.position, &t.wechat, &t.wechat_phone, &t.mingpian_phone],
        )
        .await?
        .get(0);
    if let Some(ids) = &t.department_ids {
        set_departments(tx, id, ids).await?;
    }
    Ok(id)
}

/// ADM-36: changes the fields that are present; 302 for another company's id.
pub async fn update_temp_user(
    tx: &impl GenericClient,
    company_id: i64,
    id: i64,
    t: &TempUserInput,
) -> Result<(), ApiError> {
    let n = tx
        .execute(
            "update temp_user set username = coalesce($3, username), position = coalesce($4, position),
                wechat = coalesce($5, wechat), wechat_phone = coalesce($6, wechat_phone),
                mingpian_phone = coalesce($7, mingpian_phone)
             where id = $1 and company_id = $2",
            &[&id, &company_id, &t.username, &t.position, &t.wechat, &t.wechat_phone, &t.mingpian_phone],
        )
        .await?;
    super::touched(n)?;
    if let Some(ids) = &t.department_ids {
        set_departments(tx, id, ids).await?;
    }
    Ok(())
}

/// ADM-37; 302 for another company's id.
pub async fn delete_temp_user(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
) -> Result<(), ApiError> {
    super::delete_in_company(db, "temp_user", company_id, id).await
}

/// Cards still free in the company, with the company row locked until the transaction ends
/// (so concurrent approvals and enables cannot both take the last card).
pub async fn free_cards(tx: &impl GenericClient, company_id: i64) -> Result<(i32, i64), ApiError> {
    let quota: i32 = tx
        .query_opt(
            "select mingpian_available_num from company where id = $1 for update",
            &[&company_id],
        )
        .await?
        .ok_or_else(ApiError::not_found)?
        .get(0);
    let used: i64 = tx
        .query_one(
            "select count(*) from user_profile where company_id = $1 and status = 1",
            &[&company_id],
        )
        .await?
        .get(0);
    Ok((quota, (i64::from(quota) - used).max(0)))
}

/// The pending users `ids` of the company, locked, oldest first; 302 unless all exist there.
pub async fn lock_temp_users(
    tx: &impl GenericClient,
    company_id: i64,
    ids: &[i64],
) -> Result<Vec<i64>, ApiError> {
    let mut wanted = ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let rows = tx
        .query(
            "select id from temp_user where company_id = $1 and id = any($2) order by id for update",
            &[&company_id, &wanted],
        )
        .await?;
    if rows.len() != wanted.len() {
        return Err(ApiError::NotFound("待审核用户不存在".into()));
    }
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// ADM-38 for one pending user: a real, enabled member (`role_id`) with the pending row's
/// profile and departments; the pending row is deleted. Returns the new user id. The caller
/// has checked the quota with [`free_cards`] in the same transaction.
pub async fn approve_one(
    tx: &impl GenericClient,
    company_id: i64,
    temp_user_id: i64,
    role_id: i64,
) -> Result<i64, ApiError> {
    // A ms-timestamp UserID like the old system's, made unique by the row id (as db::user::insert).
    let r = tx
        .query_one(
            "with t as (delete from temp_user where id = $1 and company_id = $2
                        returning username, position, wechat, wechat_phone, mingpian_phone),
                  n as (select nextval('user_profile_id_seq') as id)
             insert into user_profile (id, company_id, role_id, userid, username, status, position, phone,
                mingpian_phone, wechat)
             select n.id, $2, $3, (floor(extract(epoch from clock_timestamp()) * 1000))::bigint::text || n.id::text,
                t.username, 1, t.position, t.wechat_phone, t.mingpian_phone, t.wechat
             from t, n
             returning id",
            &[&temp_user_id, &company_id, &role_id],
        )
        .await?;
    let id: i64 = r.get(0);
    Ok(id)
}

/// The departments a pending user chose (read before [`approve_one`] deletes the row).
pub async fn temp_departments(
    tx: &impl GenericClient,
    temp_user_id: i64,
) -> Result<Vec<i64>, ApiError> {
    let rows = tx
        .query(
            "select department_id from temp_user_department where temp_user_id = $1",
            &[&temp_user_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub async fn link_departments(
    tx: &impl GenericClient,
    user_id: i64,
    ids: &[i64],
) -> Result<(), ApiError> {
    tx.execute(
        "insert into user_department (user_id, department_id) select $1, unnest($2::bigint[]) on conflict do nothing",
        &[&user_id, &ids],
    )
    .await?;
    Ok(())
}
