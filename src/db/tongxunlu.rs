//! The WeCom contacts sync (ADM-34): its run records (progress and outcome) and the
//! idempotent writes that bring departments and members in line with the address book.
//! Every statement filters by the company; every write reports whether it changed a row,
//! so a second run over the same directory changes (and counts) nothing.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;

use crate::error::ApiError;

/// The company's address-book credentials, when both are set.
pub async fn credentials(
    db: &impl GenericClient,
    company_id: i64,
) -> Result<Option<(String, String)>, ApiError> {
    let r = db
        .query_opt(
            "select corp_id, tongxunlu_secret from company where id = $1 and corp_id is not null and tongxunlu_secret is not null",
            &[&company_id],
        )
        .await?;
    Ok(r.map(|r| (r.get(0), r.get(1))))
}

/// Takes the per-company sync lock for the life of `tx` (released by its end, even if the
/// node dies); `false` when another run holds it.
pub async fn try_lock(tx: &impl GenericClient, company_id: i64) -> Result<bool, ApiError> {
    let r = tx
        .query_one(
            "select pg_try_advisory_xact_lock(7426014, ($1::bigint % 2147483647)::int)",
            &[&company_id],
        )
        .await?;
    Ok(r.get(0))
}

/// Starts a run record; runs left `running` by a dead node are closed as failed first (the
/// caller holds the lock, so none of them is alive).
pub async fn start_run(
    db: &impl GenericClient,
    company_id: i64,
    started_by: i64,
) -> Result<i64, ApiError> {
    db.execute(
        "update tongxunlu_sync set status = 'failed', error = 'interrupted', finished_at = now()
         where company_id = $1 and status = 'running'",
        &[&company_id],
    )
    .await?;
    let r = db
        .query_one(
            "insert into tongxunlu_sync (company_id, started_by) values ($1, $2) returning id",
            &[&company_id, &started_by],
        )
        .await?;
    Ok(r.get(0))
}

pub async fn set_phase(
    db: &impl GenericClient,
    run: i64,
    phase: &str,
    total: Option<i32>,
) -> Result<(), ApiError> {
    db.execute(
        "update tongxunlu_sync set phase = $2, total = coalesce($3, total) where id = $1",
        &[&run, &phase, &total],
    )
    .await?;
    Ok(())
}

/// Ends a run: `done`, or `failed` with the reason shown to admins.
pub async fn finish_run(
    db: &impl GenericClient,
    run: i64,
    error: Option<&str>,
) -> Result<(), ApiError> {
    let status = if error.is_some() { "failed" } else { "done" };
    db.execute(
        "update tongxunlu_sync set status = $2, phase = 'finished', error = $3, finished_at = now() where id = $1",
        &[&run, &status, &error],
    )
    .await?;
    Ok(())
}

/// Counters of one step, added to the run inside the step's transaction.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub processed: i32,
    pub departments: i32,
    pub created: i32,
    pub updated: i32,
    pub disabled: i32,
    pub enabled: i32,
    pub unchanged: i32,
    /// `{"userid","name"}` of members left (or created) disabled for lack of cards.
    pub over_quota: Vec<Value>,
}

pub async fn add_tally(db: &impl GenericClient, run: i64, t: &Tally) -> Result<(), ApiError> {
    let over = Value::Array(t.over_quota.clone());
    db.execute(
        "update tongxunlu_sync set processed = processed + $2, departments = departments + $3,
            created = created + $4, updated = updated + $5, disabled = disabled + $6,
            enabled = enabled + $7, unchanged = unchanged + $8, over_quota = over_quota || $9::jsonb
         where id = $1",
        &[
            &run,
            &t.processed,
            &t.departments,
            &t.created,
            &t.updated,
            &t.disabled,
            &t.enabled,
            &t.unchanged,
            &over,
        ],
    )
    .await?;
    Ok(())
}

/// A run as the status endpoint and ADM-34 show it.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: i64,
    pub company_id: i64,
    pub status: String,
    pub phase: String,
    pub total: i32,
    pub processed: i32,
    pub departments: i32,
    pub created: i32,
    pub updated: i32,
    pub disabled: i32,
    pub enabled: i32,
    pub unchanged: i32,
    pub over_quota: Value,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const RUN: &str =
    "select id, company_id, status, phase, total, processed, departments, created, updated,
    disabled, enabled, unchanged, over_quota, error, started_at, finished_at from tongxunlu_sync";

fn run_row(r: &tokio_postgres::Row) -> RunRow {
    RunRow {
        id: r.get(0),
        company_id: r.get(1),
        status: r.get(2),
        phase: r.get(3),
        total: r.get(4),
        processed: r.get(5),
        departments: r.get(6),
        created: r.get(7),
        updated: r.get(8),
        disabled: r.get(9),
        enabled: r.get(10),
        unchanged: r.get(11),
        over_quota: r.get(12),
        error: r.get(13),
        started_at: r.get(14),
        finished_at: r.get(15),
    }
}

pub async fn run(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
) -> Result<Option<RunRow>, ApiError> {
    Ok(db
        .query_opt(
            &format!("{RUN} where id = $1 and company_id = $2"),
            &[&id, &company_id],
        )
        .await?
        .as_ref()
        .map(run_row))
}

pub async fn latest_run(
    db: &impl GenericClient,
    company_id: i64,
) -> Result<Option<RunRow>, ApiError> {
    Ok(db
        .query_opt(
            &format!("{RUN} where company_id = $1 order by id desc limit 1"),
            &[&company_id],
        )
        .await?
        .as_ref()
        .map(run_row))
}

/// Departments: upsert by WeCom id (name and parent only when they differ), delete the
/// company's WeCom departments that are gone. Returns the number of rows changed.
pub async fn sync_departments(
    tx: &impl GenericClient,
    company_id: i64,
    depts: &[(i64, String, i64)],
) -> Result<i32, ApiError> {
    let ids: Vec<i64> = depts.iter().map(|d| d.0).collect();
    let names: Vec<&str> = depts.iter().map(|d| d.1.as_str()).collect();
    let parents: Vec<i64> = depts.iter().map(|d| d.2).collect();
    let upserted: i64 = tx
        .query_one(
            "with up as (
                insert into department (company_id, name, wecom_dept_id)
                select $1, t.name, t.wid from unnest($2::bigint[], $3::text[]) as t(wid, name)
                on conflict on constraint department_wecom_key do update set name = excluded.name
                where department.name is distinct from excluded.name
                returning 1)
             select count(*) from up",
            &[&company_id, &ids, &names],
        )
        .await?
        .get(0);
    let reparented = tx
        .execute(
            "update department d set parent_id = x.pid
             from (select t.wid, p.id as pid from unnest($2::bigint[], $3::bigint[]) as t(wid, pwid)
                   left join department p on p.company_id = $1 and p.wecom_dept_id = t.pwid) x
             where d.company_id = $1 and d.wecom_dept_id = x.wid and d.parent_id is distinct from x.pid",
            &[&company_id, &ids, &parents],
        )
        .await?;
    let deleted = tx
        .execute(
            "delete from department where company_id = $1 and wecom_dept_id is not null and wecom_dept_id <> all($2)",
            &[&company_id, &ids],
        )
        .await?;
    Ok(i32::try_from(upserted.max(0) as u64 + reparented + deleted).unwrap_or(i32::MAX))
}

/// Disables the company's address-book members whose UserID is no longer listed (never
/// `keep`, the admin running the sync); returns their ids.
pub async fn disable_leavers(
    tx: &impl GenericClient,
    company_id: i64,
    listed: &[String],
    keep: i64,
) -> Result<Vec<i64>, ApiError> {
    let rows = tx
        .query(
            "update user_profile set status = 2, wecom_left = true
             where company_id = $1 and from_wecom and status = 1 and id <> $3 and userid <> all($2)
             returning id",
            &[&company_id, &listed, &keep],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A member's row as the sync needs it, locked for the step's transaction.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub id: i64,
    pub status: i16,
    pub wecom_left: bool,
}

pub async fn lock_member(
    tx: &impl GenericClient,
    company_id: i64,
    userid: &str,
) -> Result<Option<MemberRow>, ApiError> {
    Ok(tx
        .query_opt(
            "select id, status, wecom_left from user_profile where company_id = $1 and userid = $2 for update",
            &[&company_id, &userid],
        )
        .await?
        .map(|r| MemberRow {
            id: r.get(0),
            status: r.get(1),
            wecom_left: r.get(2),
        }))
}

/// The address book's view of a member.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    pub name: &'a str,
    pub position: Option<&'a str>,
    pub gender: Option<i16>,
    pub mobile: Option<&'a str>,
    pub email: Option<&'a str>,
    pub avatar: Option<&'a str>,
}

/// Brings the profile in line; `true` when anything changed. Fields WeCom withholds are kept.
pub async fn update_profile(
    tx: &impl GenericClient,
    id: i64,
    p: Profile<'_>,
) -> Result<bool, ApiError> {
    let n = tx
        .execute(
            "update user_profile set username = $2, position = coalesce($3, position), gender = coalesce($4, gender),
                phone = coalesce($5, phone), mingpian_phone = coalesce(mingpian_phone, $5),
                email = coalesce($6, email), avatar = coalesce($7, avatar), from_wecom = true
             where id = $1 and (username is distinct from $2 or position is distinct from coalesce($3, position)
                or gender is distinct from coalesce($4, gender) or phone is distinct from coalesce($5, phone)
                or mingpian_phone is distinct from coalesce(mingpian_phone, $5)
                or email is distinct from coalesce($6, email) or avatar is distinct from coalesce($7, avatar)
                or not from_wecom)",
            &[&id, &p.name, &p.position, &p.gender, &p.mobile, &p.email, &p.avatar],
        )
        .await?;
    Ok(n > 0)
}

/// A locally created member of the company (a QR sign-up approved by ADM-38, ADM-29) whose
/// phone is `mobile`, locked; `None` unless exactly one matches. The sync adopts it for the
/// address-book member with that mobile instead of creating a second user.
pub async fn lock_local_by_mobile(
    tx: &impl GenericClient,
    company_id: i64,
    mobile: &str,
) -> Result<Option<MemberRow>, ApiError> {
    let rows = tx
        .query(
            "select id, status, wecom_left from user_profile
             where company_id = $1 and not from_wecom and phone = $2 limit 2 for update",
            &[&company_id, &mobile],
        )
        .await?;
    Ok(match rows.as_slice() {
        [r] => Some(MemberRow {
            id: r.get(0),
            status: r.get(1),
            wecom_left: r.get(2),
        }),
        _ => None,
    })
}

/// Gives an adopted local member the address book's UserID.
pub async fn adopt(tx: &impl GenericClient, id: i64, userid: &str) -> Result<(), ApiError> {
    tx.execute(
        "update user_profile set userid = $2, from_wecom = true where id = $1",
        &[&id, &userid],
    )
    .await?;
    Ok(())
}

/// Marks a freshly inserted member as the address book's.
pub async fn mark_from_wecom(
    tx: &impl GenericClient,
    id: i64,
    mobile: Option<&str>,
) -> Result<(), ApiError> {
    tx.execute(
        "update user_profile set from_wecom = true, mingpian_phone = coalesce(mingpian_phone, $2) where id = $1",
        &[&id, &mobile],
    )
    .await?;
    Ok(())
}

/// Sets the member's WeCom departments to exactly `wecom_ids` (local departments untouched);
/// `true` when a link was added or removed.
pub async fn set_departments(
    tx: &impl GenericClient,
    user_id: i64,
    company_id: i64,
    wecom_ids: &[i64],
) -> Result<bool, ApiError> {
    let removed = tx
        .execute(
            "delete from user_department ud using department d
             where ud.user_id = $1 and d.id = ud.department_id and d.company_id = $2
               and d.wecom_dept_id is not null and d.wecom_dept_id <> all($3)",
            &[&user_id, &company_id, &wecom_ids],
        )
        .await?;
    let added = tx
        .execute(
            "insert into user_department (user_id, department_id)
             select $1, d.id from department d where d.company_id = $2 and d.wecom_dept_id = any($3)
             on conflict do nothing",
            &[&user_id, &company_id, &wecom_ids],
        )
        .await?;
    Ok(removed + added > 0)
}

/// A returning member the sync had disabled: enabled again, no longer marked as left.
pub async fn reenable(tx: &impl GenericClient, id: i64) -> Result<(), ApiError> {
    tx.execute(
        "update user_profile set status = 1, wecom_left = false where id = $1",
        &[&id],
    )
    .await?;
    Ok(())
}
