//! Dashboard numbers (ADM-06..08) from the per-day counters of `radar_daily`, which triggers
//! keep as events arrive (sql/005_radar.sql): a window is a sum over at most a few hundred
//! day rows, never a scan of the action log.

use chrono::NaiveDate;
use deadpool_postgres::GenericClient;

use crate::error::ApiError;

/// The six counted things, in `index_type` order (1..=6).
pub const METRICS: [&str; 6] = [
    "customer_num",
    "follow_num",
    "browse_num",
    "forward_num",
    "saved_num",
    "praise_num",
];

/// Sums of the six metrics over a window.
pub type Sums = [i64; 6];

/// The company's rows of a day: user_id 0, and the slots -16..-1 the action log's trigger adds
/// its counts to (sql/023: one row for all would make the radar writer's lanes wait for each
/// other). `user_id` 0 is the company: its rows are `user_id` -16..=0; a salesperson's is theirs.
fn rows_of(user_id: i64) -> (i64, i64) {
    if user_id == 0 {
        (-16, 0)
    } else {
        (user_id, user_id)
    }
}

/// All-time, today, yesterday, the last 7 and the last 30 days (both including today), for
/// the company (`user_id` 0: the sum of its rows, [`rows_of`]) or one salesperson.
pub async fn windows(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    today: NaiveDate,
) -> Result<[Sums; 5], ApiError> {
    let mut cols = Vec::new();
    for w in [
        "true",
        "day = $3",
        "day = $3 - 1",
        "day > $3 - 7",
        "day > $3 - 30",
    ] {
        for m in METRICS {
            cols.push(format!("coalesce(sum({m}) filter (where {w}), 0)::int8"));
        }
    }
    let sql = format!(
        "select {} from radar_daily where company_id = $1 and user_id between $2 and $4",
        cols.join(", ")
    );
    let stmt = db.prepare_cached(&sql).await?;
    let (lo, hi) = rows_of(user_id);
    let r = db
        .query_one(&stmt, &[&company_id, &lo, &today, &hi])
        .await?;
    let mut out = [[0i64; 6]; 5];
    for (w, sums) in out.iter_mut().enumerate() {
        for (m, v) in sums.iter_mut().enumerate() {
            *v = r.get(w * 6 + m);
        }
    }
    Ok(out)
}

/// ADM-08: one metric per day for the `days` days ending the day before `today`, oldest first.
pub async fn line(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    metric: usize,
    days: i32,
    today: NaiveDate,
) -> Result<Vec<(NaiveDate, i64)>, ApiError> {
    let m = METRICS
        .get(metric)
        .ok_or_else(|| ApiError::form("index_type 只能是 1-6"))?;
    let sql = format!(
        "select d::date, coalesce(sum(r.{m}), 0)::int8
         from generate_series($3::date - $4::int, $3::date - 1, interval '1 day') d
         left join radar_daily r
           on r.company_id = $1 and r.user_id between $2 and $5 and r.day = d::date
         group by 1 order by 1"
    );
    let (lo, hi) = rows_of(user_id);
    let rows = db
        .query(&sql, &[&company_id, &lo, &today, &days, &hi])
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The same windows computed by scanning the action log, relations and follow-up records
/// (the benchmark's baseline, and the tests' cross-check of the counters).
pub async fn windows_by_scan(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    today: NaiveDate,
) -> Result<[Sums; 5], ApiError> {
    let mut out = [[0i64; 6]; 5];
    let day = |n: i64| today.checked_add_signed(chrono::Duration::days(n));
    // [from, until) in Shanghai days, in the order of `windows`.
    let bounds: [(Option<NaiveDate>, Option<NaiveDate>); 5] = [
        (None, None),
        (Some(today), day(1)),
        (day(-1), Some(today)),
        (day(-6), day(1)),
        (day(-29), day(1)),
    ];
    for (w, (from, until)) in bounds.iter().enumerate() {
        let r = db
            .query_one(
                "select
                   (select count(*) from (select 1 from customer where company_id = $1 and $2::int8 = 0
                        and ($3::date is null or shanghai_day(create_date) >= $3) and ($4::date is null or shanghai_day(create_date) < $4)
                      union all select 1 from user_customer where company_id = $1 and $2::int8 <> 0 and user_id = $2
                        and ($3::date is null or shanghai_day(create_date) >= $3) and ($4::date is null or shanghai_day(create_date) < $4)) c),
                   (select count(*) from follow_record where company_id = $1 and ($2::int8 = 0 or user_id = $2)
                        and ($3::date is null or shanghai_day(create_date) >= $3) and ($4::date is null or shanghai_day(create_date) < $4)),
                   l.browse, l.forward, l.saved, l.praise
                 from (select count(*) filter (where action between 1 and 4) browse,
                              count(*) filter (where action = 6) forward,
                              count(*) filter (where action = 8) saved,
                              coalesce(sum(delta) filter (where action = 9), 0)::int8 praise
                       from action_log where company_id = $1 and ($2::int8 = 0 or user_id = $2)
                        and ($3::date is null or shanghai_day(create_date) >= $3) and ($4::date is null or shanghai_day(create_date) < $4)) l",
                &[&company_id, &user_id, from, until],
            )
            .await?;
        if let Some(sums) = out.get_mut(w) {
            for (m, v) in sums.iter_mut().enumerate() {
                *v = r.get(m);
            }
        }
    }
    Ok(out)
}
