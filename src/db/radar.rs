//! Radar events: the action log, the relation's activity and AI energy, praise toggles. The
//! card and dashboard counters follow from the log by statement triggers (sql/005_radar.sql),
//! so any writer of the log keeps them right. Reads for the radar views (QYW-37..40).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{Client, GenericClient, Transaction};

use crate::{
    domain::{
        action,
        ai::{self, Signal},
        time,
    },
    error::ApiError,
};

/// An event to store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub company_id: i64,
    pub user_id: i64,
    pub customer_id: i64,
    /// The action (1..=12).
    pub action: i16,
    /// `source` of the relation if this event creates it (1 扫码, 2 转发).
    pub source: i16,
    /// The customer's display name, for the log text.
    pub customer_name: String,
}

/// A stored action-log row.
#[derive(Debug, Clone)]
pub struct LogRow {
    pub id: i64,
    pub user_id: i64,
    pub customer_id: i64,
    pub action: i16,
    pub log: String,
    pub create_date: DateTime<Utc>,
}

/// What storing one event gave.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The log row.
    pub log: LogRow,
    /// Action 9: whether the praise is now on.
    pub praise_on: Option<bool>,
    /// The event created the salesperson ↔ customer relation.
    pub new_relation: bool,
    /// The relation's AI energy after the whole batch.
    pub energy: f64,
    /// Whether the customer praises the salesperson, after the whole batch.
    pub is_up_down: bool,
    /// The salesperson's card counters (popularity, praise, forward) after the whole batch.
    pub counters: (i64, i64, i64),
}

/// Opens a radar writer transaction. The writer's statements take arrays of varying length, so
/// PostgreSQL would plan them afresh on every run (a custom plan for a short array looks
/// cheaper to it than a generic one estimated for 100 elements); the transaction asks for
/// generic plans, cached per connection. Every statement of the writer finds its rows by key,
/// but a generic plan made while a table was small would keep scanning it as it grows (until
/// the next ANALYZE replans it: 1,620 scans of `article_access` in one 9-second run), so
/// sequential scans are priced out too (docs/BENCHMARKS.md, fifth sitting).
pub const BEGIN: &str =
    "begin; set local plan_cache_mode = force_generic_plan; set local enable_seqscan = off";

const UPSERT_RELATIONS: &str = "
    insert into user_customer as uc (company_id, user_id, customer_id, source, last_activity_time, ai_energy, ai_energy_at)
    select c, u, k, s, now(), w, now()
    from unnest($1::int8[], $2::int8[], $3::int8[], $4::int2[], $5::float8[]) as t(c, u, k, s, w)
    order by u, k
    on conflict on constraint user_customer_pair_key do update set
        -- minute precision: within a minute the indexed column keeps its value, so the
        -- update is HOT (no index writes); 通讯录 shows days
        last_activity_time = case when uc.last_activity_time > now() - interval '1 minute'
                                  then uc.last_activity_time else now() end,
        ai_energy = uc.ai_energy * power(0.5, greatest(0, extract(epoch from now() - coalesce(uc.ai_energy_at, now()))) / $6::float8)
                    + excluded.ai_energy,
        ai_energy_at = now()
    returning user_id, customer_id, (xmax = 0), ai_energy, is_up_down";

const TOGGLE_PRAISE: &str = "
    update user_customer set is_up_down = not is_up_down,
        ai_energy = ai_energy + case when is_up_down then 0 else $3::float8 end
    where user_id = $1 and customer_id = $2
    returning is_up_down, ai_energy";

const INSERT_LOGS: &str = "
    insert into action_log (company_id, user_id, customer_id, action, delta, log, write_key)
    select c, u, k, a, d, l, w
    from unnest($1::int8[], $2::int8[], $3::int8[], $4::int2[], $5::int2[], $6::text[], $7::int8[])
        with ordinality as t(c, u, k, a, d, l, w, o)
    order by o
    returning id, create_date";

const COUNTERS: &str =
    "select user_id, popularity, praise, forward from card_counter where user_id = any($1)";

/// Stores a batch of events in one transaction: relations upserted in (user, customer) order
/// (concurrent batches never deadlock on them), praise toggled in arrival order, log rows
/// inserted in one statement. Results are in input order.
pub async fn store_events(db: &mut Client, batch: &[NewEvent]) -> Result<Vec<Recorded>, ApiError> {
    let keys: Vec<i64> = batch.iter().map(|_| rand::random()).collect();
    store_events_keyed(db, batch, &keys).await
}

/// After a failed batch: the events stored under `keys` with what they gave (`None` for those
/// not stored). Locks the batch's relations first, so a batch still committing is waited for.
/// The relation's energy, praise and the card counters are today's (after the batch or later).
pub async fn recorded_by_key(
    db: &mut Client,
    batch: &[NewEvent],
    keys: &[i64],
) -> Result<Vec<Option<Recorded>>, ApiError> {
    let (us, ks): (Vec<i64>, Vec<i64>) = batch.iter().map(|e| (e.user_id, e.customer_id)).unzip();
    let tx = db.transaction().await?;
    tx.query(
        "select uc.id from user_customer uc join unnest($1::int8[], $2::int8[]) as t(u, k)
           on uc.user_id = t.u and uc.customer_id = t.k order by uc.id for update of uc",
        &[&us, &ks],
    )
    .await?;
    let rows = tx
        .query(
            "select l.write_key, l.id, l.user_id, l.customer_id, l.action, l.log, l.create_date, l.delta,
                    uc.ai_energy, uc.is_up_down, uc.create_date = l.create_date
             from action_log l
             join user_customer uc on uc.user_id = l.user_id and uc.customer_id = l.customer_id
             where l.user_id = any($1) and l.create_date > now() - interval '1 day' and l.write_key = any($2)",
            &[&us, &keys],
        )
        .await?;
    let counted = tx.query(COUNTERS, &[&us]).await?;
    tx.commit().await?;
    let counters: HashMap<i64, (i64, i64, i64)> = counted
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
        .collect();
    let by_key: HashMap<i64, &tokio_postgres::Row> =
        rows.iter().map(|r| (r.get::<_, i64>(0), r)).collect();
    Ok(batch
        .iter()
        .zip(keys)
        .map(|(e, k)| {
            by_key.get(k).map(|r| {
                let action: i16 = r.get(4);
                let delta: i16 = r.get(7);
                Recorded {
                    log: LogRow {
                        id: r.get(1),
                        user_id: r.get(2),
                        customer_id: r.get(3),
                        action,
                        log: r.get(5),
                        create_date: r.get(6),
                    },
                    praise_on: (action == action::PRAISE).then_some(delta == 1),
                    new_relation: r.get(10),
                    energy: r.get(8),
                    is_up_down: r.get(9),
                    counters: counters.get(&e.user_id).copied().unwrap_or((0, 0, 0)),
                }
            })
        })
        .collect())
}

/// [`store_events`] with each event's write key (`keys[i]` for `batch[i]`). A batch without
/// praise is one round trip ([`store_pipelined`]).
pub async fn store_events_keyed(
    db: &mut Client,
    batch: &[NewEvent],
    keys: &[i64],
) -> Result<Vec<Recorded>, ApiError> {
    if !batch.iter().any(|e| e.action == action::PRAISE) {
        return store_pipelined(db, batch, keys, false).await;
    }
    let tx = db.transaction().await?;
    let (out, _) = store_events_in(&tx, batch, keys, &[]).await?;
    tx.commit().await?;
    Ok(out)
}

/// A batch without praise in one round trip: `begin` (unless `open`: the caller sent it), the
/// statements and `commit` pipelined (a failed statement makes the `commit` a rollback and
/// fails the batch).
pub async fn store_pipelined(
    db: &Client,
    batch: &[NewEvent],
    keys: &[i64],
    open: bool,
) -> Result<Vec<Recorded>, ApiError> {
    let written = async {
        let st = Pipelined::prepare(db).await?;
        tokio::try_join!(
            async {
                if open {
                    return Ok(());
                }
                db.batch_execute(BEGIN).await.map_err(ApiError::from)
            },
            st.write(db, batch, keys, &[]),
            async { db.batch_execute("commit").await.map_err(ApiError::from) },
        )
    };
    match written.await {
        Ok((_, (out, _), _)) => Ok(out),
        Err(e) => {
            // Ends the transaction if the error came before the `commit` was sent.
            let _ = db.batch_execute("rollback").await;
            Err(e)
        }
    }
}

/// The statements of a batch without praise, prepared before a pipeline (a statement
/// prepared inside one would run after the pipeline's `commit`).
pub struct Pipelined {
    upsert: tokio_postgres::Statement,
    insert: tokio_postgres::Statement,
    counters: tokio_postgres::Statement,
}

impl Pipelined {
    pub async fn prepare(db: &impl GenericClient) -> Result<Self, ApiError> {
        let (upsert, insert, counters) = tokio::try_join!(
            db.prepare_cached(UPSERT_RELATIONS),
            db.prepare_cached(INSERT_LOGS),
            db.prepare_cached(COUNTERS),
        )?;
        Ok(Pipelined {
            upsert,
            insert,
            counters,
        })
    }

    /// [`store_events_in`] for a batch without praise (every log row counts +1): the
    /// relation upsert, the log insert and the counters are sent at once, in that order, on
    /// `db` (inside the caller's `begin` … `commit`), so a caller can pipeline them with its
    /// other statements. The counters are read after the insert's triggers moved them.
    pub async fn write(
        &self,
        db: &impl GenericClient,
        batch: &[NewEvent],
        keys: &[i64],
        extra: &[PairTouch],
    ) -> Result<(Vec<Recorded>, Relations), ApiError> {
        if batch.iter().any(|e| e.action == action::PRAISE) {
            return Err(ApiError::Unexpected(anyhow::anyhow!(
                "radar writer: praise in a pipelined batch"
            )));
        }
        let pairs = pair_columns(batch, extra);
        let users = batch_users(batch);
        let (mut cs, mut us, mut ks, mut acts, mut ds, mut ls, mut wks) = (
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
        );
        for (i, e) in batch.iter().enumerate() {
            cs.push(e.company_id);
            us.push(e.user_id);
            ks.push(e.customer_id);
            acts.push(e.action);
            ds.push(1i16);
            ls.push(action::log_text(&e.customer_name, e.action, true));
            wks.push(keys.get(i).copied().unwrap_or_else(rand::random));
        }
        let half_life = ai::HALF_LIFE_SECS;
        let upsert_params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
            [&pairs.0, &pairs.1, &pairs.2, &pairs.3, &pairs.4, &half_life];
        let insert_params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
            [&cs, &us, &ks, &acts, &ds, &ls, &wks];
        let counters_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&users];
        let logged = async {
            if batch.is_empty() {
                return Ok(Vec::new());
            }
            db.query(&self.insert, &insert_params).await
        };
        let counted = async {
            if batch.is_empty() {
                return Ok(Vec::new());
            }
            db.query(&self.counters, &counters_params).await
        };
        let (rows, inserted, counted) =
            tokio::try_join!(db.query(&self.upsert, &upsert_params), logged, counted)?;
        let mut relations: Relations = HashMap::with_capacity(rows.len());
        let mut praised: HashMap<(i64, i64), bool> = HashMap::with_capacity(rows.len());
        for r in &rows {
            let key = (r.get::<_, i64>(0), r.get::<_, i64>(1));
            relations.insert(key, (r.get(2), r.get(3)));
            praised.insert(key, r.get(4));
        }
        let mut ids: Vec<(i64, DateTime<Utc>)> =
            inserted.iter().map(|r| (r.get(0), r.get(1))).collect();
        // Ids come from the sequence in insertion (= input) order.
        ids.sort_unstable_by_key(|r| r.0);
        if ids.len() != batch.len() {
            return Err(ApiError::Unexpected(anyhow::anyhow!("log row missing")));
        }
        let counters: HashMap<i64, (i64, i64, i64)> = counted
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
            .collect();
        let out = batch
            .iter()
            .zip(ls)
            .zip(ids)
            .map(|((e, log), (id, at))| {
                let key = (e.user_id, e.customer_id);
                let (created, energy) = relations.get(&key).copied().unwrap_or((false, 0.0));
                Recorded {
                    log: LogRow {
                        id,
                        user_id: e.user_id,
                        customer_id: e.customer_id,
                        action: e.action,
                        log,
                        create_date: at,
                    },
                    praise_on: None,
                    new_relation: created,
                    energy,
                    is_up_down: praised.get(&key).copied().unwrap_or(false),
                    counters: counters.get(&e.user_id).copied().unwrap_or((0, 0, 0)),
                }
            })
            .collect();
        Ok((out, relations))
    }
}

/// The relation upsert's columns, one row per (salesperson, customer) pair in key order:
/// company, salesperson, customer, source of a new relation, summed weight (praise is
/// weighed when toggled).
type PairColumns = (Vec<i64>, Vec<i64>, Vec<i64>, Vec<i16>, Vec<f64>);

fn pair_columns(batch: &[NewEvent], extra: &[PairTouch]) -> PairColumns {
    let mut pairs: BTreeMap<(i64, i64), (i64, i16, f64)> = BTreeMap::new();
    for t in extra {
        let p = pairs
            .entry((t.user_id, t.customer_id))
            .or_insert((t.company_id, t.source, 0.0));
        p.2 += t.weight;
    }
    for e in batch {
        let w = if e.action == action::PRAISE {
            0.0
        } else {
            ai::weight(Signal::Action(e.action))
        };
        let p = pairs
            .entry((e.user_id, e.customer_id))
            .or_insert((e.company_id, e.source, 0.0));
        p.2 += w;
    }
    let n = pairs.len();
    let mut c: PairColumns = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for ((u, k), (co, s, w)) in pairs {
        c.0.push(co);
        c.1.push(u);
        c.2.push(k);
        c.3.push(s);
        c.4.push(w);
    }
    c
}

/// The batch's salespeople, sorted, once each.
fn batch_users(batch: &[NewEvent]) -> Vec<i64> {
    let mut u: Vec<i64> = batch.iter().map(|e| e.user_id).collect();
    u.sort_unstable();
    u.dedup();
    u
}

/// Another signal on a relation in the same transaction (an article event): its pair is
/// upserted with the card events' (activity, AI energy, the relation created with `source`).
#[derive(Debug, Clone, Copy)]
pub struct PairTouch {
    pub company_id: i64,
    pub user_id: i64,
    pub customer_id: i64,
    pub source: i16,
    pub weight: f64,
}

/// Per relation touched by a batch: (created by it, AI energy after it).
pub type Relations = HashMap<(i64, i64), (bool, f64)>;

/// [`store_events_keyed`] inside the caller's transaction, with `extra` relation touches;
/// also returns every touched relation.
pub async fn store_events_in(
    tx: &Transaction<'_>,
    batch: &[NewEvent],
    keys: &[i64],
    extra: &[PairTouch],
) -> Result<(Vec<Recorded>, Relations), ApiError> {
    let n = batch.len() + extra.len();
    let (cs, us, ks, ss, ws) = pair_columns(batch, extra);
    let users = batch_users(batch);
    let upsert = tx.prepare_cached(UPSERT_RELATIONS).await?;
    let toggle = tx.prepare_cached(TOGGLE_PRAISE).await?;
    let insert = tx.prepare_cached(INSERT_LOGS).await?;
    let counters_stmt = tx.prepare_cached(COUNTERS).await?;
    let praise_w = ai::weight(Signal::Action(action::PRAISE));
    let half_life = ai::HALF_LIFE_SECS;

    // Relations, then praise toggles in arrival order: pipelined on the one connection
    // (queries run in the order they are sent).
    let upsert_params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
        [&cs, &us, &ks, &ss, &ws, &half_life];
    let upserted = tx.query(&upsert, &upsert_params);
    let toggles = futures_util::future::try_join_all(
        batch
            .iter()
            .filter(|e| e.action == action::PRAISE)
            .map(|e| {
                let (tx, toggle, w) = (&tx, &toggle, &praise_w);
                async move { tx.query_one(toggle, &[&e.user_id, &e.customer_id, w]).await }
            }),
    );
    let has_praise = batch.iter().any(|e| e.action == action::PRAISE);
    let (rows, toggled) = if has_praise {
        tokio::try_join!(upserted, toggles)?
    } else {
        drop(toggles);
        (upserted.await?, Vec::new())
    };
    let mut created: HashMap<(i64, i64), bool> = HashMap::with_capacity(n);
    let mut energy: HashMap<(i64, i64), f64> = HashMap::with_capacity(n);
    let mut praised: HashMap<(i64, i64), bool> = HashMap::with_capacity(n);
    for r in &rows {
        let key = (r.get::<_, i64>(0), r.get::<_, i64>(1));
        created.insert(key, r.get(2));
        energy.insert(key, r.get(3));
        praised.insert(key, r.get(4));
    }
    let mut toggled = toggled.into_iter();
    let mut praise_on: Vec<Option<bool>> = Vec::with_capacity(batch.len());
    for e in batch {
        if e.action == action::PRAISE {
            let r = toggled
                .next()
                .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("praise toggle missing")))?;
            energy.insert((e.user_id, e.customer_id), r.get(1));
            praised.insert((e.user_id, e.customer_id), r.get(0));
            praise_on.push(Some(r.get(0)));
        } else {
            praise_on.push(None);
        }
    }

    // Log rows (a withdrawn praise counts -1), then the counters the triggers just moved
    // (XCX-02 shows them): pipelined too.
    let (mut cs, mut us, mut ks, mut acts, mut ds, mut ls) = (
        Vec::with_capacity(batch.len()),
        Vec::with_capacity(batch.len()),
        Vec::with_capacity(batch.len()),
        Vec::with_capacity(batch.len()),
        Vec::with_capacity(batch.len()),
        Vec::with_capacity(batch.len()),
    );
    for (e, on) in batch.iter().zip(&praise_on) {
        let on = on.unwrap_or(true);
        cs.push(e.company_id);
        us.push(e.user_id);
        ks.push(e.customer_id);
        acts.push(e.action);
        ds.push(if on { 1i16 } else { -1 });
        ls.push(action::log_text(&e.customer_name, e.action, on));
    }
    let relations: Relations = created
        .iter()
        .map(|(k, c)| (*k, (*c, energy.get(k).copied().unwrap_or(0.0))))
        .collect();
    if batch.is_empty() {
        return Ok((Vec::new(), relations));
    }
    let wks: Vec<i64> = batch
        .iter()
        .enumerate()
        .map(|(i, _)| keys.get(i).copied().unwrap_or_else(rand::random))
        .collect();
    let insert_params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
        [&cs, &us, &ks, &acts, &ds, &ls, &wks];
    let counters_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&users];
    let (inserted, counted) = tokio::try_join!(
        tx.query(&insert, &insert_params),
        tx.query(&counters_stmt, &counters_params),
    )?;
    let mut ids: Vec<(i64, DateTime<Utc>)> =
        inserted.iter().map(|r| (r.get(0), r.get(1))).collect();
    // Ids come from the sequence in insertion (= input) order.
    ids.sort_unstable_by_key(|r| r.0);
    let counters: HashMap<i64, (i64, i64, i64)> = counted
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
        .collect();
    let logs: Vec<Option<LogRow>> = batch
        .iter()
        .zip(ls)
        .enumerate()
        .map(|(i, (e, log))| {
            ids.get(i).map(|&(id, at)| LogRow {
                id,
                user_id: e.user_id,
                customer_id: e.customer_id,
                action: e.action,
                log,
                create_date: at,
            })
        })
        .collect();
    let out = batch
        .iter()
        .zip(logs)
        .zip(praise_on)
        .map(|((e, log), praise_on)| {
            let key = (e.user_id, e.customer_id);
            Ok(Recorded {
                log: log.ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("log row missing")))?,
                praise_on,
                new_relation: created.get(&key).copied().unwrap_or(false),
                energy: energy.get(&key).copied().unwrap_or(0.0),
                is_up_down: praised.get(&key).copied().unwrap_or(false),
                counters: counters.get(&e.user_id).copied().unwrap_or((0, 0, 0)),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok((out, relations))
}

/// Filters of the radar views.
#[derive(Debug, Default, Clone)]
pub struct LogFilter {
    pub action: Option<i16>,
    pub customer_id: Option<i64>,
    pub from: Option<NaiveDate>,
    /// Exclusive.
    pub until: Option<NaiveDate>,
}

impl LogFilter {
    fn apply(&self, q: &mut super::Query) {
        if let Some(a) = self.action {
            q.and("l.action = {}", a);
        }
        if let Some(c) = self.customer_id {
            q.and("l.customer_id = {}", c);
        }
        if let Some(d) = self.from {
            q.and("l.create_date >= {}", time::day_start(d));
        }
        if let Some(d) = self.until {
            q.and("l.create_date < {}", time::day_start(d));
        }
    }
}

/// A log row with the customer's avatar and name.
#[derive(Debug, Clone)]
pub struct TimelineRow {
    pub log: LogRow,
    pub headimgurl: String,
    pub customer_name: String,
}

const TIMELINE_COLS: &str = "l.id, l.user_id, l.customer_id, l.action, l.log, l.create_date,
    coalesce(k.headimgurl, 'statics/imgs/setAvator.jpg'), coalesce(k.memo_name, k.username, '')";

/// A log row from its first six columns (`id, user_id, customer_id, action, log, create_date`).
fn log_row(r: &tokio_postgres::Row) -> LogRow {
    LogRow {
        id: r.get(0),
        user_id: r.get(1),
        customer_id: r.get(2),
        action: r.get(3),
        log: r.get(4),
        create_date: r.get(5),
    }
}

fn timeline_row(r: &tokio_postgres::Row) -> TimelineRow {
    TimelineRow {
        log: log_row(r),
        headimgurl: r.get(6),
        customer_name: r.get(7),
    }
}

/// QYW-37: the salesperson's log, newest first, and the total.
pub async fn timeline(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    f: &LogFilter,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<TimelineRow>, i64), ApiError> {
    let mut q = super::Query::new(&format!(
        "select {TIMELINE_COLS} from action_log l join customer k on k.id = l.customer_id where true"
    ));
    q.and("l.company_id = {}", company_id);
    q.and("l.user_id = {}", user_id);
    f.apply(&mut q);
    let mut count = super::Query::new("select count(*) from action_log l where true");
    count.and("l.company_id = {}", company_id);
    count.and("l.user_id = {}", user_id);
    f.apply(&mut count);
    q.push(" order by l.create_date desc, l.id desc");
    q.page(paging);
    let rows = db.query(&q.sql, &q.params()).await?;
    let total: i64 = db.query_one(&count.sql, &count.params()).await?.get(0);
    Ok((rows.iter().map(timeline_row).collect(), total))
}

/// QYW-38: per customer, the count of each action (non-zero only), most active first.
pub async fn per_customer(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    f: &LogFilter,
) -> Result<Vec<(i64, String, String, Vec<(i16, i64)>)>, ApiError> {
    let mut q =
        super::Query::new("select l.customer_id, l.action, count(*) from action_log l where true");
    q.and("l.company_id = {}", company_id);
    q.and("l.user_id = {}", user_id);
    f.apply(&mut q);
    q.push(" group by l.customer_id, l.action");
    let rows = db.query(&q.sql, &q.params()).await?;
    let mut by_customer: BTreeMap<i64, Vec<(i16, i64)>> = BTreeMap::new();
    for r in &rows {
        by_customer
            .entry(r.get(0))
            .or_default()
            .push((r.get(1), r.get(2)));
    }
    let ids: Vec<i64> = by_customer.keys().copied().collect();
    let names = db
        .query(
            "select id, coalesce(memo_name, username, ''), coalesce(headimgurl, 'statics/imgs/setAvator.jpg')
             from customer where company_id = $1 and id = any($2)",
            &[&company_id, &ids],
        )
        .await?;
    let names: HashMap<i64, (String, String)> = names
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let mut out: Vec<_> = by_customer
        .into_iter()
        .map(|(id, mut detail)| {
            detail.sort_unstable();
            let (name, img) = names.get(&id).cloned().unwrap_or_default();
            (id, name, img, detail)
        })
        .collect();
    out.sort_by_key(|(id, _, _, d)| (std::cmp::Reverse(d.iter().map(|x| x.1).sum::<i64>()), *id));
    Ok(out)
}

/// QYW-39: counts per action (non-zero only).
pub async fn per_action(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    f: &LogFilter,
) -> Result<Vec<(i16, i64)>, ApiError> {
    let mut q = super::Query::new("select l.action, count(*) from action_log l where true");
    q.and("l.company_id = {}", company_id);
    q.and("l.user_id = {}", user_id);
    f.apply(&mut q);
    q.push(" group by l.action order by l.action");
    let rows = db.query(&q.sql, &q.params()).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// QYW-40: the logs the salesperson has not fetched yet (newest first, at most `limit`),
/// marked fetched in the same statement.
pub async fn take_new(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    action: Option<i16>,
    limit: i64,
) -> Result<Vec<LogRow>, ApiError> {
    let rows = db
        .query(
            "with picked as (
                select id from action_log
                where user_id = $2 and company_id = $1 and is_new and ($3::int2 is null or action = $3)
                order by id desc limit $4 for update skip locked)
             update action_log l set is_new = false from picked where l.id = picked.id
             returning l.id, l.user_id, l.customer_id, l.action, l.log, l.create_date",
            &[&company_id, &user_id, &action, &limit],
        )
        .await?;
    let mut out: Vec<LogRow> = rows.iter().map(log_row).collect();
    out.sort_unstable_by_key(|l| std::cmp::Reverse(l.id));
    Ok(out)
}

/// Log rows after `after_id` for a WebSocket catch-up, oldest first.
pub async fn since(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    after_id: i64,
    limit: i64,
) -> Result<Vec<TimelineRow>, ApiError> {
    let rows = db
        .query(
            &format!(
                "select {TIMELINE_COLS} from action_log l join customer k on k.id = l.customer_id
                 where l.user_id = $1 and l.id > $2 and l.company_id = $4 order by l.id limit $3"
            ),
            &[&user_id, &after_id, &limit, &company_id],
        )
        .await?;
    Ok(rows.iter().map(timeline_row).collect())
}

/// The card's counters: (popularity, praise, forward).
pub async fn card_counters(
    db: &impl GenericClient,
    user_id: i64,
) -> Result<(i64, i64, i64), ApiError> {
    let r = db
        .query_opt(
            "select popularity, praise, forward from card_counter where user_id = $1",
            &[&user_id],
        )
        .await?;
    Ok(r.map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap_or((0, 0, 0)))
}

/// Per-action counts of one pair over the last `days`, with their decayed contributions:
/// `(action, count in the last 7 days, count in the window, decayed weight)`.
pub async fn pair_factors(
    db: &impl GenericClient,
    user_id: i64,
    customer_id: i64,
    days: i32,
) -> Result<Vec<(i16, i64, i64, f64)>, ApiError> {
    let rows = db
        .query(
            "select action,
                    count(*) filter (where create_date > now() - interval '7 days'),
                    count(*),
                    sum(power(0.5, extract(epoch from now() - create_date) / $4::float8))::float8
             from action_log
             where user_id = $1 and customer_id = $2 and delta = 1
               and create_date > now() - make_interval(days => $3)
             group by action",
            &[&user_id, &customer_id, &days, &ai::HALF_LIFE_SECS],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let a: i16 = r.get(0);
            let decayed: f64 = r.get(3);
            (
                a,
                r.get(1),
                r.get(2),
                decayed * ai::weight(Signal::Action(a)),
            )
        })
        .collect())
}

/// Event rows of the company whose customer or article is gone (none expected: the event
/// tables keep no foreign keys, and deleting a customer or an article deletes its events,
/// sql/020). At most 20 per table, as text for `check-counters`.
pub async fn dangling(db: &impl GenericClient, company_id: i64) -> Result<Vec<String>, ApiError> {
    let checks = [
        "select format('action_log %s: customer %s is gone', l.id, l.customer_id) from action_log l
         where l.company_id = $1 and not exists (select 1 from customer k where k.id = l.customer_id)
         limit 20",
        "select format('article_event %s: customer %s or article %s is gone', e.id, e.customer_id, e.article_id)
         from article_event e
         where e.company_id = $1 and (not exists (select 1 from customer k where k.id = e.customer_id)
                                      or not exists (select 1 from article a where a.id = e.article_id))
         limit 20",
        "select format('article_forward %s: customer %s or article %s is gone', f.id, f.customer_id, f.article_id)
         from article_forward f
         where f.company_id = $1 and (not exists (select 1 from customer k where k.id = f.customer_id)
                                      or not exists (select 1 from article a where a.id = f.article_id))
         limit 20",
    ];
    let mut out = Vec::new();
    for sql in checks {
        for r in db.query(sql, &[&company_id]).await? {
            out.push(r.get(0));
        }
    }
    Ok(out)
}
