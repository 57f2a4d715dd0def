//! Code release rows (sql/013 `wx_release`, sql/015 batches and items): each authorized mini
//! program's release state (API.md 1.10 status 0–12), and the background batches of
//! ADM-81..86 with one row per app, so progress is visible while a batch runs and another
//! node can resume it. Every query takes the company scope it is allowed to see
//! (`None` = the operator, all companies).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

/// One authorized mini program with its release state (ADM-79).
#[derive(Debug, Clone)]
pub struct AppRelease {
    pub id: i64,
    pub appid: String,
    pub company_id: i64,
    pub company_name: String,
    pub belong_user: Option<String>,
    pub status: i16,
    pub status_time: Option<DateTime<Utc>>,
    pub template_id: Option<i64>,
    pub user_version: Option<String>,
    pub user_desc: Option<String>,
    pub version_num: Option<String>,
    pub experience_qrcode: Option<String>,
    pub reason: String,
    pub auditid: Option<i64>,
    pub live_version: Option<String>,
    pub prev_live_version: Option<String>,
    pub batch_id: Option<i64>,
    pub last_errcode: Option<i64>,
    pub last_errmsg: Option<String>,
}

const APP_SELECT: &str = "select a.id, a.appid, a.company_id, c.name, u.username,
        coalesce(r.status, 0::smallint), r.status_time, r.template_id, r.user_version, r.user_desc,
        r.version_num, r.experience_qrcode, coalesce(r.reason, ''), r.auditid, r.live_version,
        r.prev_live_version, r.batch_id, r.last_errcode, r.last_errmsg
     from wx_authorizer a
     join company c on c.id = a.company_id
     left join user_profile u on u.id = a.belong_user_id
     left join wx_release r on r.authorizer_id = a.id
     where a.kind = 1 and a.authorized";

fn app(r: &tokio_postgres::Row) -> AppRelease {
    AppRelease {
        id: r.get(0),
        appid: r.get(1),
        company_id: r.get(2),
        company_name: r.get(3),
        belong_user: r.get(4),
        status: r.get(5),
        status_time: r.get(6),
        template_id: r.get(7),
        user_version: r.get(8),
        user_desc: r.get(9),
        version_num: r.get(10),
        experience_qrcode: r.get(11),
        reason: r.get(12),
        auditid: r.get(13),
        live_version: r.get(14),
        prev_live_version: r.get(15),
        batch_id: r.get(16),
        last_errcode: r.get(17),
        last_errmsg: r.get(18),
    }
}

/// ADM-79: the authorized mini programs in `company` (`None`: all), by id, and their count.
pub async fn list(
    c: &impl GenericClient,
    company: Option<i64>,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<AppRelease>, i64), tokio_postgres::Error> {
    let (offset, limit) = paging.unwrap_or((0, i64::MAX));
    let rows = c
        .query(
            &format!(
                "{APP_SELECT} and ($1::bigint is null or a.company_id = $1)
                 order by a.id offset $2 limit $3"
            ),
            &[&company, &offset, &limit],
        )
        .await?;
    let count: i64 = c
        .query_one(
            "select count(*) from wx_authorizer
             where kind = 1 and authorized and ($1::bigint is null or company_id = $1)",
            &[&company],
        )
        .await?
        .get(0);
    Ok((rows.iter().map(app).collect(), count))
}

/// The apps `ids` that exist, are authorized mini programs and lie in `company`.
pub async fn by_ids(
    c: &impl GenericClient,
    ids: &[i64],
    company: Option<i64>,
) -> Result<Vec<AppRelease>, tokio_postgres::Error> {
    let rows = c
        .query(
            &format!(
                "{APP_SELECT} and a.id = any($1) and ($2::bigint is null or a.company_id = $2)
                 order by a.id"
            ),
            &[&ids, &company],
        )
        .await?;
    Ok(rows.iter().map(app).collect())
}

/// One app by id (any company: the batch runner acts on ids it already checked).
pub async fn one(
    c: &impl GenericClient,
    id: i64,
) -> Result<Option<AppRelease>, tokio_postgres::Error> {
    let st = c.prepare_cached(&APP_BY_ID).await?;
    let r = c.query_opt(&st, &[&id]).await?;
    Ok(r.as_ref().map(app))
}

/// One app's row; prepared once per connection, as a batch reads one app per step.
static APP_BY_ID: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{APP_SELECT} and a.id = $1"));

/// Ids of the apps in `company` (`None`: all) whose status is `status`.
pub async fn ids_in_status(
    c: &impl GenericClient,
    status: i16,
    company: Option<i64>,
) -> Result<Vec<i64>, tokio_postgres::Error> {
    let rows = c
        .query(
            "select a.id from wx_authorizer a join wx_release r on r.authorizer_id = a.id
             where a.kind = 1 and a.authorized and r.status = $1
               and ($2::bigint is null or a.company_id = $2)
             order by a.id",
            &[&status, &company],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// What a step changes on an app's release row; `None` keeps a column.
#[derive(Debug, Default, Clone)]
pub struct Change {
    pub status: Option<i16>,
    pub template_id: Option<i64>,
    pub user_version: Option<String>,
    pub user_desc: Option<String>,
    pub version_num: Option<String>,
    pub experience_qrcode: Option<String>,
    pub auditid: Option<i64>,
    pub reason: Option<String>,
    /// The audited version waits for release (`stay_version_num`, `stay_audit_time`).
    pub stay_version: Option<String>,
    /// Released: the audited version goes live, the old live one becomes the previous.
    pub released: bool,
    /// Rolled back: live and previous versions swap.
    pub reverted: bool,
    /// The WeChat error of the step (`None`: clears the last error).
    pub error: Option<(i64, String)>,
}

/// Applies `change` to the release row of app `id` (created at status 0 when missing).
pub async fn apply(
    c: &impl GenericClient,
    id: i64,
    company_id: i64,
    batch_id: Option<i64>,
    change: &Change,
) -> Result<(), tokio_postgres::Error> {
    let st = c
        .prepare_cached(
            "insert into wx_release (authorizer_id, company_id) values ($1, $2) on conflict do nothing",
        )
        .await?;
    c.execute(&st, &[&id, &company_id]).await?;
    let (errcode, errmsg) = match &change.error {
        Some((code, msg)) => (Some(*code), Some(msg.clone())),
        None => (None, None),
    };
    let st = c
        .prepare_cached(
            "update wx_release set
            status_time = case when $2::smallint is not null and $2 <> status then now() else status_time end,
            status = coalesce($2, status),
            template_id = coalesce($3, template_id),
            user_version = coalesce($4, user_version),
            user_desc = coalesce($5, user_desc),
            version_num = case when $14 then prev_live_version else coalesce($6, version_num) end,
            experience_qrcode = coalesce($7, experience_qrcode),
            auditid = coalesce($8, auditid),
            reason = coalesce($9, reason),
            stay_version_num = coalesce($10, stay_version_num),
            stay_audit_time = case when $10::text is not null then now() else stay_audit_time end,
            prev_live_version = case when $13 then live_version when $14 then live_version else prev_live_version end,
            live_version = case when $13 then coalesce(stay_version_num, user_version)
                                when $14 then prev_live_version else live_version end,
            release_time = case when $13 or $14 then now() else release_time end,
            last_errcode = $11, last_errmsg = $12,
            batch_id = coalesce($15, batch_id)
         where authorizer_id = $1",
        )
        .await?;
    c.execute(
        &st,
        &[
            &id,
            &change.status,
            &change.template_id,
            &change.user_version,
            &change.user_desc,
            &change.version_num,
            &change.experience_qrcode,
            &change.auditid,
            &change.reason,
            &change.stay_version,
            &errcode,
            &errmsg,
            &change.released,
            &change.reverted,
            &batch_id,
        ],
    )
    .await?;
    Ok(())
}

/// An audit result pushed by WeChat for `appid`: applied only while the app is under audit
/// (status 4); `None` keeps it under audit (a delay) and only records the reason.
pub async fn audit_result(
    c: &impl GenericClient,
    appid: &str,
    status: Option<i16>,
    reason: &str,
) -> Result<Option<(i64, i64)>, tokio_postgres::Error> {
    let r = c
        .query_opt(
            "update wx_release r set
                status = coalesce($2, r.status),
                status_time = case when $2::smallint is not null then now() else r.status_time end,
                reason = $3
             from wx_authorizer a
             where a.id = r.authorizer_id and a.appid = $1 and a.kind = 1 and r.status = 4
             returning a.id, a.company_id",
            &[&appid, &status, &reason],
        )
        .await?;
    Ok(r.map(|r| (r.get(0), r.get(1))))
}

/// A batch as stored.
#[derive(Debug, Clone)]
pub struct Batch {
    pub id: i64,
    pub op: String,
    pub started_by: Option<i64>,
    pub company_id: i64,
    pub template_id: Option<i64>,
    pub user_version: Option<String>,
    pub user_desc: Option<String>,
    pub status: String,
    pub total: i32,
    pub done: i32,
    pub failed: i32,
    pub skipped: i32,
    pub resumed: i32,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const BATCH_SELECT: &str = "select id, op, started_by, company_id, template_id, user_version,
        user_desc, status, total, done, failed, skipped, resumed, created_at, finished_at
     from wx_release_batch";

fn batch(r: &tokio_postgres::Row) -> Batch {
    Batch {
        id: r.get(0),
        op: r.get(1),
        started_by: r.get(2),
        company_id: r.get(3),
        template_id: r.get(4),
        user_version: r.get(5),
        user_desc: r.get(6),
        status: r.get(7),
        total: r.get(8),
        done: r.get(9),
        failed: r.get(10),
        skipped: r.get(11),
        resumed: r.get(12),
        created_at: r.get(13),
        finished_at: r.get(14),
    }
}

/// A new batch.
pub struct NewBatch<'a> {
    pub op: &'a str,
    pub started_by: i64,
    pub company_id: i64,
    pub template_id: Option<i64>,
    pub user_version: Option<&'a str>,
    pub user_desc: Option<&'a str>,
    /// The runner's first lease, in seconds.
    pub lease_secs: f64,
}

/// Creates the batch and one pending item per app `(id, company_id)`, in the caller's
/// transaction. Apps with a pending item in another running batch get a failed item at once.
pub async fn create(
    c: &impl GenericClient,
    b: &NewBatch<'_>,
    apps: &[(i64, i64)],
) -> Result<i64, tokio_postgres::Error> {
    let total = i32::try_from(apps.len()).unwrap_or(i32::MAX);
    let id: i64 = c
        .query_one(
            "insert into wx_release_batch
                (op, started_by, company_id, template_id, user_version, user_desc, total, runner_until)
             values ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))
             returning id",
            &[
                &b.op,
                &b.started_by,
                &b.company_id,
                &b.template_id,
                &b.user_version,
                &b.user_desc,
                &total,
                &b.lease_secs,
            ],
        )
        .await?
        .get(0);
    let ids: Vec<i64> = apps.iter().map(|a| a.0).collect();
    let companies: Vec<i64> = apps.iter().map(|a| a.1).collect();
    c.execute(
        "insert into wx_release_item (batch_id, authorizer_id, company_id, seq, state, errcode, errmsg)
         select $1, t.id, t.company_id, t.seq::int,
                case when busy.authorizer_id is null then 'pending' else 'failed' end,
                case when busy.authorizer_id is null then null else 303 end,
                case when busy.authorizer_id is null then null
                     else '该小程序正在执行批次 ' || busy.batch_id || ',请稍后重试' end
         from unnest($2::bigint[], $3::bigint[]) with ordinality as t(id, company_id, seq)
         left join lateral (
             select i.authorizer_id, i.batch_id from wx_release_item i
             join wx_release_batch b on b.id = i.batch_id
             where i.authorizer_id = t.id and i.state = 'pending' and b.status = 'running'
               and b.id <> $1
             limit 1) busy on true",
        &[&id, &ids, &companies],
    )
    .await?;
    c.execute(
        "update wx_release_batch set failed = (select count(*) from wx_release_item
            where batch_id = $1 and state = 'failed') where id = $1",
        &[&id],
    )
    .await?;
    Ok(id)
}

/// The batch `id` if `company` (`None`: any) may see it.
pub async fn get(
    c: &impl GenericClient,
    id: i64,
    company: Option<i64>,
) -> Result<Option<Batch>, tokio_postgres::Error> {
    let r = c
        .query_opt(
            &format!("{BATCH_SELECT} where id = $1 and ($2::bigint is null or company_id = $2)"),
            &[&id, &company],
        )
        .await?;
    Ok(r.as_ref().map(batch))
}

/// One app's step in a batch.
#[derive(Debug, Clone)]
pub struct Item {
    pub authorizer_id: i64,
    pub company_id: i64,
    pub state: String,
    pub attempts: i32,
    pub errcode: Option<i64>,
    pub errmsg: Option<String>,
    pub status_after: Option<i16>,
    pub updated_at: DateTime<Utc>,
}

/// The items of batch `id`, in request order; `pending_only` for the runner.
pub async fn items(
    c: &impl GenericClient,
    id: i64,
    pending_only: bool,
) -> Result<Vec<Item>, tokio_postgres::Error> {
    let rows = c
        .query(
            "select authorizer_id, company_id, state, attempts, errcode, errmsg, status_after, updated_at
             from wx_release_item where batch_id = $1 and (not $2 or state = 'pending')
             order by seq",
            &[&id, &pending_only],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Item {
            authorizer_id: r.get(0),
            company_id: r.get(1),
            state: r.get(2),
            attempts: r.get(3),
            errcode: r.get(4),
            errmsg: r.get(5),
            status_after: r.get(6),
            updated_at: r.get(7),
        })
        .collect())
}

/// Records one item's outcome if it is still pending; true if it was (and is counted by
/// [`count_finished`]).
pub async fn finish_item(
    c: &impl GenericClient,
    batch_id: i64,
    id: i64,
    state: &str,
    attempts: i32,
    error: Option<&(i64, String)>,
    status_after: i16,
) -> Result<bool, tokio_postgres::Error> {
    let (errcode, errmsg) = match error {
        Some((code, msg)) => (Some(*code), Some(msg.as_str())),
        None => (None, None),
    };
    let st = c
        .prepare_cached(
            "update wx_release_item set state = $3, attempts = attempts + $4, errcode = $5,
                errmsg = $6, status_after = $7, updated_at = now()
             where batch_id = $1 and authorizer_id = $2 and state = 'pending'",
        )
        .await?;
    let n = c
        .execute(
            &st,
            &[
                &batch_id,
                &id,
                &state,
                &attempts,
                &errcode,
                &errmsg,
                &status_after,
            ],
        )
        .await?;
    Ok(n > 0)
}

/// Adds finished items to the batch's counters: one update for a group of outcomes (the
/// batch row is the one row every item of the batch writes).
pub async fn count_finished(
    c: &impl GenericClient,
    batch_id: i64,
    done: i32,
    skipped: i32,
    failed: i32,
) -> Result<(), tokio_postgres::Error> {
    if done + skipped + failed == 0 {
        return Ok(());
    }
    c.execute(
        "update wx_release_batch set done = done + $2, skipped = skipped + $3, failed = failed + $4
         where id = $1",
        &[&batch_id, &done, &skipped, &failed],
    )
    .await?;
    Ok(())
}

/// Marks batch `id` done when no item is pending; true if it is done now.
pub async fn finish_if_complete(
    c: &impl GenericClient,
    id: i64,
) -> Result<bool, tokio_postgres::Error> {
    let r = c
        .query_opt(
            "update wx_release_batch set status = 'done', finished_at = coalesce(finished_at, now())
             where id = $1 and not exists
                (select 1 from wx_release_item where batch_id = $1 and state = 'pending')
             returning id",
            &[&id],
        )
        .await?;
    Ok(r.is_some())
}

/// Extends the runner's lease on batch `id` by `lease_secs` (while it works).
pub async fn renew_lease(
    c: &impl GenericClient,
    id: i64,
    lease_secs: f64,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "update wx_release_batch set runner_until = now() + make_interval(secs => $2)
         where id = $1 and status = 'running'",
        &[&id, &lease_secs],
    )
    .await?;
    Ok(())
}

/// Gives up the lease of batch `id` (so another run may take it at once).
pub async fn drop_lease(c: &impl GenericClient, id: i64) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "update wx_release_batch set runner_until = now() where id = $1 and status = 'running'",
        &[&id],
    )
    .await?;
    Ok(())
}

/// Takes over one running batch whose runner's lease ran out (its node died), if any.
pub async fn claim_abandoned(
    c: &impl GenericClient,
    lease_secs: f64,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let r = c
        .query_opt(
            "update wx_release_batch set runner_until = now() + make_interval(secs => $1),
                resumed = resumed + 1
             where id = (select id from wx_release_batch
                         where status = 'running' and runner_until < now()
                         order by id limit 1 for update skip locked)
             returning id",
            &[&lease_secs],
        )
        .await?;
    Ok(r.map(|r| r.get(0)))
}
