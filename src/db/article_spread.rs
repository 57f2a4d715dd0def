//! How articles spread: the access tree (`article_access`), forwards and the per-salesperson
//! counters, written in the radar writer's transaction (`service::radar`), and the reads of
//! QYW-52 and its extensions (tree, reach, top spreaders, reading time).
//!
//! A node is one reader of one article shared by one salesperson. Its `path` lists the node
//! ids from the root down to itself, so every read here is an index range, never a walk:
//! a tree in pre-order is `order by path`, a subtree is `path >= P and path < next(P)`, and a
//! customer's reach is its `reach` counter (kept by adding 1 to every ancestor of a new node).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};

use crate::{
    domain::{
        ai::{self, Signal},
        article::{stay_bucket, MAX_STAY_SECS},
    },
    error::ApiError,
};

/// What a customer did with an article.
#[derive(Debug, Clone)]
pub enum ArticleOp {
    /// GZH-06: opened it (`pid`: the customer whose link it came through).
    Read { pid: Option<i64> },
    /// GZH-10: forwarded it (1 朋友 friend, 2 朋友圈 Moments).
    Forward { forward_type: i16, pid: Option<i64> },
    /// GZH-11: reading time of node `access_id` (`secs` reported by the page, else the time
    /// since the node's last access).
    Stay { access_id: i64, secs: Option<i32> },
}

/// An article event to store.
#[derive(Debug, Clone)]
pub struct ArticleEvent {
    pub company_id: i64,
    /// The salesperson who shared the article (`uid`): the tree, and the lane.
    pub user_id: i64,
    pub customer_id: i64,
    pub article_id: i64,
    /// The article's `read_secs` ("read to the end").
    pub read_secs: i32,
    pub op: ArticleOp,
}

/// What storing an article event gave.
#[derive(Debug, Clone)]
pub struct ArticleRecorded {
    /// The reader's node (a forward without a prior read has none).
    pub access_id: Option<i64>,
    /// GZH-10: the forward row.
    pub forward_id: Option<i64>,
    pub level: i16,
    /// The parent customer of the node.
    pub pid: Option<i64>,
    /// The read created the node (first visit).
    pub first_visit: bool,
    pub read_count: i32,
    pub stay_time: i32,
    /// This stay made the reader reach the end for the first time.
    pub finished_now: bool,
    pub at: DateTime<Utc>,
    /// Weight for the relation's AI energy.
    pub weight: f64,
}

/// A node as the writer sees it.
#[derive(Debug, Clone)]
struct Node {
    id: i64,
    article_id: i64,
    user_id: i64,
    company_id: i64,
    customer_id: i64,
    level: i16,
    path: Vec<i64>,
    pid: Option<i64>,
    read_count: i32,
    stay_time: i32,
    finished: bool,
    last_access: DateTime<Utc>,
}

fn node(r: &tokio_postgres::Row) -> Node {
    Node {
        id: r.get(0),
        article_id: r.get(1),
        user_id: r.get(2),
        company_id: r.get(3),
        customer_id: r.get(4),
        level: r.get(5),
        path: r.get(6),
        pid: r.get(7),
        read_count: r.get(8),
        stay_time: r.get(9),
        finished: r.get(10),
        last_access: r.get(11),
    }
}

/// Per-node changes of a batch.
#[derive(Default, Clone, Copy)]
struct NodeDelta {
    read: i32,
    forward: i32,
    reach: i32,
    children: i32,
    touched: bool,
    stay: Option<(i32, bool)>,
}

/// Per (article, salesperson) counter changes of a batch.
#[derive(Default)]
struct StatDelta {
    company_id: i64,
    read: i64,
    readers: i64,
    forward: i64,
    level_num: i16,
    stay: i64,
    finished: i64,
}

type Key = (i64, i64, i64);

/// Stores a batch of article events inside the radar writer's transaction; results in input
/// order. Nodes are keyed (article, salesperson, customer): a customer has one node per tree,
/// the first parent wins, so a tree never has a cycle.
///
/// Every event is also logged in `article_event` under its write key (`keys[i]` for
/// `batch[i]`) with what it gave, so that after a failed batch [`recorded_by_key`] tells
/// which events are stored (issue 9 item 11): a stored event is never written twice.
///
/// Two round trips: [`load`] (the nodes and the new ids), then [`Plan::write`] (every
/// statement sent at once). The radar writer pipelines the second with the relations' upsert
/// and the `commit` (`service::radar`).
pub async fn store(
    tx: &Transaction<'_>,
    batch: &[ArticleEvent],
    keys: &[i64],
) -> Result<Vec<ArticleRecorded>, ApiError> {
    let st = Statements::prepare(tx).await?;
    let loaded = load(tx, &st, batch).await?;
    let plan = apply(batch, loaded)?;
    plan.write(tx, &st, batch, keys).await?;
    Ok(plan.out)
}

/// The writer's statements, prepared before a pipeline (a statement prepared inside one would
/// run after what was sent before it was ready).
pub struct Statements {
    load: tokio_postgres::Statement,
    node_ids: tokio_postgres::Statement,
    forward_ids: tokio_postgres::Statement,
    insert_nodes: tokio_postgres::Statement,
    update_nodes: tokio_postgres::Statement,
    insert_forwards: tokio_postgres::Statement,
    stat: tokio_postgres::Statement,
    level: tokio_postgres::Statement,
    bucket: tokio_postgres::Statement,
    log: tokio_postgres::Statement,
}

/// The batch's nodes by key and by id, with the columns [`node`] reads.
pub const LOAD: &str = "select id, article_id, user_id, company_id, customer_id, level, path, pid, read_count, stay_time, finished, last_access_date from article_access
     where (article_id, user_id, customer_id) in (select * from unnest($1::int8[], $2::int8[], $3::int8[]))
     union all
     select id, article_id, user_id, company_id, customer_id, level, path, pid, read_count, stay_time, finished, last_access_date from article_access where id = any($4::int8[])";

/// One id per read whose reader has no node yet (a node's path holds its own id).
pub const NODE_IDS: &str = "select nextval('article_access_id_seq')
     from (select distinct a, u, k from unnest($1::int8[], $2::int8[], $3::int8[]) as t(a, u, k)) r
     where not exists (select 1 from article_access x
                        where x.article_id = r.a and x.user_id = r.u and x.customer_id = r.k)";

const FORWARD_IDS: &str =
    "select nextval('article_forward_id_seq') from generate_series(1, $1::int4)";

const INSERT_NODES: &str = "insert into article_access (id, company_id, article_id, user_id, customer_id, parent_id, pid, level, path)
     select id, c, a, u, k, path[cardinality(path) - 1], p, l, path
     from (select id, c, a, u, k, p, l, pa::int8[] as path
           from unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int2[], $8::text[])
           as t(id, c, a, u, k, p, l, pa)) s";

const UPDATE_NODES: &str = "update article_access a set
        read_count = a.read_count + t.r, forward_count = a.forward_count + t.f,
        reach = a.reach + t.re, children = a.children + t.ch,
        stay_time = coalesce(t.s, a.stay_time), finished = coalesce(t.fin, a.finished),
        last_access_date = case when t.touched then now() else a.last_access_date end
     from unnest($1::int8[], $2::int4[], $3::int4[], $4::int4[], $5::int4[], $6::int4[], $7::bool[], $8::bool[])
        as t(id, r, f, re, ch, s, fin, touched)
     where a.id = t.id";

const INSERT_FORWARDS: &str = "insert into article_forward (id, company_id, article_id, user_id, customer_id, access_id, pid, forward_type)
     select * from unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::int2[])";

const STAT: &str = "insert into article_stat as s (article_id, user_id, company_id, read_count, reader_count, forward_count,
        level_num, stay_total, finished)
     select * from unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int2[], $8::int8[], $9::int8[])
     on conflict (article_id, user_id) do update set
        read_count = s.read_count + excluded.read_count,
        reader_count = s.reader_count + excluded.reader_count,
        forward_count = s.forward_count + excluded.forward_count,
        level_num = greatest(s.level_num, excluded.level_num),
        stay_total = s.stay_total + excluded.stay_total,
        finished = s.finished + excluded.finished";

const LEVEL: &str = "insert into article_level as c (article_id, user_id, level, n)
     select * from unnest($1::int8[], $2::int8[], $3::int2[], $4::int8[])
     on conflict (article_id, user_id, level) do update set n = c.n + excluded.n";

const BUCKET: &str = "insert into article_stay as c (article_id, user_id, bucket, n)
     select * from unnest($1::int8[], $2::int8[], $3::int2[], $4::int8[])
     on conflict (article_id, user_id, bucket) do update set n = c.n + excluded.n";

const LOG: &str =
    "insert into article_event (company_id, article_id, user_id, customer_id, op, write_key,
        access_id, forward_id, level, pid, first_visit, read_count, stay_time,
        finished_now, weight, at)
     select * from unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int2[],
        $6::int8[], $7::int8[], $8::int8[], $9::int2[], $10::int8[], $11::bool[],
        $12::int4[], $13::int4[], $14::bool[], $15::float8[], $16::timestamptz[])";

impl Statements {
    pub async fn prepare(db: &impl GenericClient) -> Result<Self, ApiError> {
        let (load, node_ids, forward_ids, insert_nodes, update_nodes) = tokio::try_join!(
            db.prepare_cached(LOAD),
            db.prepare_cached(NODE_IDS),
            db.prepare_cached(FORWARD_IDS),
            db.prepare_cached(INSERT_NODES),
            db.prepare_cached(UPDATE_NODES),
        )?;
        let (insert_forwards, stat, level, bucket, log) = tokio::try_join!(
            db.prepare_cached(INSERT_FORWARDS),
            db.prepare_cached(STAT),
            db.prepare_cached(LEVEL),
            db.prepare_cached(BUCKET),
            db.prepare_cached(LOG),
        )?;
        Ok(Statements {
            load,
            node_ids,
            forward_ids,
            insert_nodes,
            update_nodes,
            insert_forwards,
            stat,
            level,
            bucket,
            log,
        })
    }
}

/// What the batch's writes start from: its nodes, ids for its new nodes and its forwards.
pub struct Loaded {
    rows: Vec<tokio_postgres::Row>,
    node_ids: Vec<i64>,
    forward_ids: Vec<i64>,
    now: DateTime<Utc>,
}

/// The nodes the batch refers to, one id per new reader and one per forward: one round trip.
pub async fn load(
    db: &impl GenericClient,
    st: &Statements,
    batch: &[ArticleEvent],
) -> Result<Loaded, ApiError> {
    let (mut ka, mut ku, mut kc, mut ids) = (vec![], vec![], vec![], vec![]);
    let (mut ra, mut ru, mut rc) = (vec![], vec![], vec![]);
    let mut forwards = 0i32;
    for e in batch {
        match e.op {
            ArticleOp::Read { pid } => {
                ka.push(e.article_id);
                ku.push(e.user_id);
                kc.push(e.customer_id);
                ra.push(e.article_id);
                ru.push(e.user_id);
                rc.push(e.customer_id);
                if let Some(p) = pid {
                    ka.push(e.article_id);
                    ku.push(e.user_id);
                    kc.push(p);
                }
            }
            ArticleOp::Forward { .. } => {
                ka.push(e.article_id);
                ku.push(e.user_id);
                kc.push(e.customer_id);
                forwards += 1;
            }
            ArticleOp::Stay { access_id, .. } => ids.push(access_id),
        }
    }
    let node_ids = async {
        if ra.is_empty() {
            return Ok(Vec::new());
        }
        db.query(&st.node_ids, &[&ra, &ru, &rc]).await
    };
    let forward_ids = async {
        if forwards == 0 {
            return Ok(Vec::new());
        }
        db.query(&st.forward_ids, &[&forwards]).await
    };
    let load_params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&ka, &ku, &kc, &ids];
    let (rows, node_ids, forward_ids) =
        tokio::try_join!(db.query(&st.load, &load_params), node_ids, forward_ids)?;
    let col = |rows: Vec<tokio_postgres::Row>| {
        let mut v: Vec<i64> = rows.iter().map(|r| r.get::<_, i64>(0)).collect();
        v.sort_unstable();
        v
    };
    Ok(Loaded {
        rows,
        node_ids: col(node_ids),
        forward_ids: col(forward_ids),
        now: Utc::now(),
    })
}

/// A batch's effects, computed from what [`load`] found, before anything is written.
pub struct Plan {
    /// One result per event, in input order.
    pub out: Vec<ArticleRecorded>,
    inserted: Vec<Node>,
    deltas: BTreeMap<i64, NodeDelta>,
    stats: BTreeMap<(i64, i64), StatDelta>,
    levels: BTreeMap<(i64, i64, i16), i64>,
    buckets: BTreeMap<(i64, i64, i16), i64>,
    /// Per forward: (event index, forwarder's node, type, pid).
    forwards: Vec<(usize, Option<i64>, i16, Option<i64>)>,
}

/// Applies the events in order to the loaded nodes.
pub fn apply(batch: &[ArticleEvent], loaded: Loaded) -> Result<Plan, ApiError> {
    let now = loaded.now;
    let mut by_key: HashMap<Key, Node> = HashMap::with_capacity(loaded.rows.len());
    let mut key_of: HashMap<i64, Key> = HashMap::with_capacity(loaded.rows.len());
    for r in &loaded.rows {
        let n = node(r);
        let key = (n.article_id, n.user_id, n.customer_id);
        key_of.insert(n.id, key);
        by_key.insert(key, n);
    }
    let mut fresh = loaded.node_ids.into_iter();
    let mut forward_ids = loaded.forward_ids.into_iter();
    // 3. Apply the events in order.
    let mut deltas: BTreeMap<i64, NodeDelta> = BTreeMap::new();
    let mut inserted: Vec<Node> = Vec::new();
    let mut stats: BTreeMap<(i64, i64), StatDelta> = BTreeMap::new();
    let mut levels: BTreeMap<(i64, i64, i16), i64> = BTreeMap::new();
    let mut buckets: BTreeMap<(i64, i64, i16), i64> = BTreeMap::new();
    let mut forwards: Vec<(usize, Option<i64>, i16, Option<i64>)> = Vec::new();
    let mut out: Vec<ArticleRecorded> = Vec::with_capacity(batch.len());
    for (i, e) in batch.iter().enumerate() {
        let stat = stats.entry((e.article_id, e.user_id)).or_default();
        stat.company_id = e.company_id;
        let key = (e.article_id, e.user_id, e.customer_id);
        let mut rec = ArticleRecorded {
            access_id: None,
            forward_id: None,
            level: 0,
            pid: None,
            first_visit: false,
            read_count: 0,
            stay_time: 0,
            finished_now: false,
            at: now,
            weight: 0.0,
        };
        match e.op {
            ArticleOp::Read { pid } => {
                stat.read += 1;
                if let Some(n) = by_key.get_mut(&key) {
                    n.read_count += 1;
                    let d = deltas.entry(n.id).or_default();
                    d.read += 1;
                    d.touched = true;
                    rec.weight = ai::weight(Signal::ArticleReread);
                } else {
                    let parent = pid
                        .filter(|p| *p != e.customer_id)
                        .and_then(|p| by_key.get(&(e.article_id, e.user_id, p)))
                        .map(|p| (p.id, p.level, p.path.clone()));
                    let id = fresh.next().ok_or_else(|| {
                        ApiError::Unexpected(anyhow::anyhow!("article writer: ran out of node ids"))
                    })?;
                    let (level, mut path) = match &parent {
                        Some((_, l, p)) => (l.saturating_add(1), p.clone()),
                        None => (1, Vec::new()),
                    };
                    for a in &path {
                        deltas.entry(*a).or_default().reach += 1;
                    }
                    if let Some((pid_node, _, _)) = parent {
                        deltas.entry(pid_node).or_default().children += 1;
                    }
                    path.push(id);
                    let n = Node {
                        id,
                        article_id: e.article_id,
                        user_id: e.user_id,
                        company_id: e.company_id,
                        customer_id: e.customer_id,
                        level,
                        path,
                        pid,
                        read_count: 1,
                        stay_time: 0,
                        finished: false,
                        last_access: now,
                    };
                    inserted.push(n.clone());
                    key_of.insert(id, key);
                    by_key.insert(key, n);
                    stat.readers += 1;
                    stat.level_num = stat.level_num.max(level);
                    *levels.entry((e.article_id, e.user_id, level)).or_default() += 1;
                    *buckets.entry((e.article_id, e.user_id, 0)).or_default() += 1;
                    rec.first_visit = true;
                    rec.weight = ai::weight(Signal::ArticleRead);
                }
                if let Some(n) = by_key.get(&key) {
                    rec.access_id = Some(n.id);
                    rec.level = n.level;
                    rec.pid = n.pid;
                    rec.read_count = n.read_count;
                    rec.stay_time = n.stay_time;
                }
            }
            ArticleOp::Forward { forward_type, pid } => {
                stat.forward += 1;
                let access = by_key
                    .get(&key)
                    .map(|n| (n.id, n.level, n.read_count, n.stay_time));
                if let Some((id, level, reads, stay)) = access {
                    deltas.entry(id).or_default().forward += 1;
                    rec.access_id = Some(id);
                    rec.level = level;
                    rec.read_count = reads;
                    rec.stay_time = stay;
                }
                rec.pid = pid;
                rec.weight = ai::weight(Signal::ArticleForward);
                rec.forward_id = Some(forward_ids.next().ok_or_else(|| {
                    ApiError::Unexpected(anyhow::anyhow!("article writer: ran out of forward ids"))
                })?);
                forwards.push((i, rec.access_id, forward_type, pid));
            }
            ArticleOp::Stay { access_id, secs } => {
                let n = key_of
                    .get(&access_id)
                    .copied()
                    .and_then(|k| by_key.get_mut(&k))
                    .filter(|n| n.customer_id == e.customer_id && n.article_id == e.article_id)
                    .ok_or_else(ApiError::not_found)?;
                let elapsed = (now - n.last_access).num_seconds();
                let secs = secs
                    .map(i64::from)
                    .unwrap_or(elapsed)
                    .clamp(0, i64::from(MAX_STAY_SECS)) as i32;
                let old = n.stay_time;
                let new = old.max(secs);
                let finished_now = !n.finished && new >= e.read_secs;
                if new != old || finished_now {
                    let (ob, nb) = (stay_bucket(old), stay_bucket(new));
                    if ob != nb {
                        *buckets.entry((e.article_id, e.user_id, ob)).or_default() -= 1;
                        *buckets.entry((e.article_id, e.user_id, nb)).or_default() += 1;
                    }
                    stat.stay += i64::from(new - old);
                    n.stay_time = new;
                    if finished_now {
                        n.finished = true;
                        stat.finished += 1;
                    }
                    deltas.entry(n.id).or_default().stay = Some((new, n.finished));
                }
                rec.access_id = Some(n.id);
                rec.level = n.level;
                rec.pid = n.pid;
                rec.read_count = n.read_count;
                rec.stay_time = n.stay_time;
                rec.finished_now = finished_now;
                if finished_now {
                    rec.weight = ai::weight(Signal::ArticleFinished);
                }
            }
        }
        out.push(rec);
    }

    Ok(Plan {
        out,
        inserted,
        deltas,
        stats,
        levels,
        buckets,
        forwards,
    })
}

/// `(key…, n)` columns of the non-zero counts.
type CountColumns = (Vec<i64>, Vec<i64>, Vec<i16>, Vec<i64>);

fn count_columns(counts: &BTreeMap<(i64, i64, i16), i64>) -> CountColumns {
    let mut c: CountColumns = Default::default();
    for (k, n) in counts.iter().filter(|(_, n)| **n != 0) {
        c.0.push(k.0);
        c.1.push(k.1);
        c.2.push(k.2);
        c.3.push(*n);
    }
    c
}

impl Plan {
    /// Writes the plan: new nodes first (their children's deltas may name them), then the
    /// node deltas, forwards, counters and the `article_event` rows, all sent at once on `db`
    /// (executed in that order, inside the caller's transaction).
    pub async fn write(
        &self,
        db: &impl GenericClient,
        st: &Statements,
        batch: &[ArticleEvent],
        keys: &[i64],
    ) -> Result<(), ApiError> {
        let inserted = &self.inserted;
        let node_cols = |f: fn(&Node) -> i64| inserted.iter().map(f).collect::<Vec<i64>>();
        let (n_ids, n_cs, n_arts, n_us, n_ks) = (
            node_cols(|n| n.id),
            node_cols(|n| n.company_id),
            node_cols(|n| n.article_id),
            node_cols(|n| n.user_id),
            node_cols(|n| n.customer_id),
        );
        let n_ps: Vec<Option<i64>> = inserted.iter().map(|n| n.pid).collect();
        let n_ls: Vec<i16> = inserted.iter().map(|n| n.level).collect();
        let n_paths: Vec<String> = inserted
            .iter()
            .map(|n| {
                let inner: Vec<String> = n.path.iter().map(i64::to_string).collect();
                format!("{{{}}}", inner.join(","))
            })
            .collect();

        let deltas = &self.deltas;
        let d_ids: Vec<i64> = deltas.keys().copied().collect();
        let dv = |f: fn(&NodeDelta) -> i32| deltas.values().map(f).collect::<Vec<i32>>();
        let (d_r, d_f, d_re, d_ch) = (
            dv(|d| d.read),
            dv(|d| d.forward),
            dv(|d| d.reach),
            dv(|d| d.children),
        );
        let d_s: Vec<Option<i32>> = deltas.values().map(|d| d.stay.map(|s| s.0)).collect();
        let d_fin: Vec<Option<bool>> = deltas.values().map(|d| d.stay.map(|s| s.1)).collect();
        let d_touched: Vec<bool> = deltas.values().map(|d| d.touched).collect();

        let forwards = &self.forwards;
        let pick = |f: fn(&ArticleEvent) -> i64| {
            forwards
                .iter()
                .filter_map(|(i, ..)| batch.get(*i).map(f))
                .collect::<Vec<i64>>()
        };
        let f_ids: Vec<i64> = forwards
            .iter()
            .filter_map(|(i, ..)| self.out.get(*i).and_then(|r| r.forward_id))
            .collect();
        let (f_cs, f_arts, f_us, f_ks) = (
            pick(|e| e.company_id),
            pick(|e| e.article_id),
            pick(|e| e.user_id),
            pick(|e| e.customer_id),
        );
        let f_xs: Vec<Option<i64>> = forwards.iter().map(|f| f.1).collect();
        let f_ps: Vec<Option<i64>> = forwards.iter().map(|f| f.3).collect();
        let f_ts: Vec<i16> = forwards.iter().map(|f| f.2).collect();
        if f_ids.len() != forwards.len() {
            return Err(ApiError::Unexpected(anyhow::anyhow!(
                "article writer: forward ids missing"
            )));
        }

        let stats = &self.stats;
        let s_a: Vec<i64> = stats.keys().map(|k| k.0).collect();
        let s_u: Vec<i64> = stats.keys().map(|k| k.1).collect();
        let sv = |f: fn(&StatDelta) -> i64| stats.values().map(f).collect::<Vec<i64>>();
        let s_lv: Vec<i16> = stats.values().map(|s| s.level_num).collect();
        let (s_c, s_r, s_rd, s_f, s_st, s_fin) = (
            sv(|s| s.company_id),
            sv(|s| s.read),
            sv(|s| s.readers),
            sv(|s| s.forward),
            sv(|s| s.stay),
            sv(|s| s.finished),
        );
        let lv = count_columns(&self.levels);
        let bk = count_columns(&self.buckets);

        let out = &self.out;
        let col = |f: fn(&ArticleEvent) -> i64| batch.iter().map(f).collect::<Vec<i64>>();
        let (e_cs, e_arts, e_us, e_ks) = (
            col(|e| e.company_id),
            col(|e| e.article_id),
            col(|e| e.user_id),
            col(|e| e.customer_id),
        );
        let e_ops: Vec<i16> = batch.iter().map(|e| op_code(&e.op)).collect();
        let e_wks: Vec<i64> = (0..batch.len())
            .map(|i| keys.get(i).copied().unwrap_or_else(rand::random))
            .collect();
        let e_access: Vec<Option<i64>> = out.iter().map(|r| r.access_id).collect();
        let e_forward: Vec<Option<i64>> = out.iter().map(|r| r.forward_id).collect();
        let e_level: Vec<i16> = out.iter().map(|r| r.level).collect();
        let e_pid: Vec<Option<i64>> = out.iter().map(|r| r.pid).collect();
        let e_first: Vec<bool> = out.iter().map(|r| r.first_visit).collect();
        let e_reads: Vec<i32> = out.iter().map(|r| r.read_count).collect();
        let e_stay: Vec<i32> = out.iter().map(|r| r.stay_time).collect();
        let e_finished: Vec<bool> = out.iter().map(|r| r.finished_now).collect();
        let e_weight: Vec<f64> = out.iter().map(|r| r.weight).collect();
        let e_at: Vec<DateTime<Utc>> = out.iter().map(|r| r.at).collect();

        // Each future sends its statement when first polled: `try_join!` polls them in
        // this order, so they are executed in this order.
        let nodes = async {
            if n_ids.is_empty() {
                return Ok(0);
            }
            db.execute(
                &st.insert_nodes,
                &[&n_ids, &n_cs, &n_arts, &n_us, &n_ks, &n_ps, &n_ls, &n_paths],
            )
            .await
        };
        let node_update = async {
            if d_ids.is_empty() {
                return Ok(0);
            }
            db.execute(
                &st.update_nodes,
                &[&d_ids, &d_r, &d_f, &d_re, &d_ch, &d_s, &d_fin, &d_touched],
            )
            .await
        };
        let forward_insert = async {
            if f_ids.is_empty() {
                return Ok(0);
            }
            db.execute(
                &st.insert_forwards,
                &[&f_ids, &f_cs, &f_arts, &f_us, &f_ks, &f_xs, &f_ps, &f_ts],
            )
            .await
        };
        let stat_upsert = async {
            if s_a.is_empty() {
                return Ok(0);
            }
            db.execute(
                &st.stat,
                &[&s_a, &s_u, &s_c, &s_r, &s_rd, &s_f, &s_lv, &s_st, &s_fin],
            )
            .await
        };
        let level_upsert = async {
            if lv.0.is_empty() {
                return Ok(0);
            }
            db.execute(&st.level, &[&lv.0, &lv.1, &lv.2, &lv.3]).await
        };
        let bucket_upsert = async {
            if bk.0.is_empty() {
                return Ok(0);
            }
            db.execute(&st.bucket, &[&bk.0, &bk.1, &bk.2, &bk.3]).await
        };
        let logged = async {
            if batch.is_empty() {
                return Ok(0);
            }
            db.execute(
                &st.log,
                &[
                    &e_cs,
                    &e_arts,
                    &e_us,
                    &e_ks,
                    &e_ops,
                    &e_wks,
                    &e_access,
                    &e_forward,
                    &e_level,
                    &e_pid,
                    &e_first,
                    &e_reads,
                    &e_stay,
                    &e_finished,
                    &e_weight,
                    &e_at,
                ],
            )
            .await
        };
        tokio::try_join!(
            nodes,
            node_update,
            forward_insert,
            stat_upsert,
            level_upsert,
            bucket_upsert,
            logged
        )?;
        Ok(())
    }
}

/// `op` of an `article_event` row.
fn op_code(op: &ArticleOp) -> i16 {
    match op {
        ArticleOp::Read { .. } => 1,
        ArticleOp::Forward { .. } => 2,
        ArticleOp::Stay { .. } => 3,
    }
}

/// A stored article event found again after a failed batch, with its relation today.
#[derive(Debug, Clone)]
pub struct ArticleFound {
    pub rec: ArticleRecorded,
    /// The event's transaction created the salesperson ↔ customer relation.
    pub new_relation: bool,
    /// The relation's AI energy now (after the batch or later).
    pub energy: f64,
}

/// After a failed batch: the events stored under `keys` (`None` for those not stored).
/// Locks the batch's relations first, so a batch still committing is waited for (the radar
/// writer upserts every relation of its batch, article events' included).
pub async fn recorded_by_key(
    db: &mut deadpool_postgres::Client,
    batch: &[ArticleEvent],
    keys: &[i64],
) -> Result<Vec<Option<ArticleFound>>, ApiError> {
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
            "select e.write_key, e.access_id, e.forward_id, e.level, e.pid, e.first_visit,
                    e.read_count, e.stay_time, e.finished_now, e.weight, e.at,
                    coalesce(uc.ai_energy, 0), coalesce(uc.create_date = e.create_date, false)
             from article_event e
             left join user_customer uc on uc.user_id = e.user_id and uc.customer_id = e.customer_id
             where e.user_id = any($1) and e.create_date > now() - interval '1 day'
               and e.write_key = any($2)",
            &[&us, &keys],
        )
        .await?;
    tx.commit().await?;
    let by_key: HashMap<i64, &tokio_postgres::Row> =
        rows.iter().map(|r| (r.get::<_, i64>(0), r)).collect();
    Ok(keys
        .iter()
        .map(|k| {
            by_key.get(k).map(|r| ArticleFound {
                rec: ArticleRecorded {
                    access_id: r.get(1),
                    forward_id: r.get(2),
                    level: r.get(3),
                    pid: r.get(4),
                    first_visit: r.get(5),
                    read_count: r.get(6),
                    stay_time: r.get(7),
                    finished_now: r.get(8),
                    weight: r.get(9),
                    at: r.get(10),
                },
                energy: r.get(11),
                new_relation: r.get(12),
            })
        })
        .collect())
}

/// A node with its reader, as the spread views show it.
#[derive(Debug, Clone)]
pub struct NodeView {
    pub id: i64,
    pub article_id: i64,
    pub user_id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub headimgurl: String,
    pub sex: Option<i16>,
    pub area: String,
    pub parent_id: Option<i64>,
    pub pid: Option<i64>,
    pub level: i16,
    pub read_count: i32,
    pub stay_time: i32,
    pub finished: bool,
    pub reach: i32,
    pub children: i32,
    pub forward_count: i32,
    pub create_date: DateTime<Utc>,
}

const VIEW_COLS: &str = "a.id, a.article_id, a.user_id, a.customer_id, coalesce(k.memo_name, k.username, ''),
    coalesce(k.headimgurl, 'statics/imgs/setAvator.jpg'), k.sex, coalesce(k.area, ''), a.parent_id, a.pid,
    a.level, a.read_count, a.stay_time, a.finished, a.reach, a.children, a.forward_count, a.create_date";

fn view(r: &tokio_postgres::Row) -> NodeView {
    NodeView {
        id: r.get(0),
        article_id: r.get(1),
        user_id: r.get(2),
        customer_id: r.get(3),
        customer_name: r.get(4),
        headimgurl: r.get(5),
        sex: r.get(6),
        area: r.get(7),
        parent_id: r.get(8),
        pid: r.get(9),
        level: r.get(10),
        read_count: r.get(11),
        stay_time: r.get(12),
        finished: r.get(13),
        reach: r.get(14),
        children: r.get(15),
        forward_count: r.get(16),
        create_date: r.get(17),
    }
}

/// QYW-52: readers of one article shared by one salesperson at one level, in arrival order,
/// with `level_num` and the level's count from the counters.
///
/// `level between $3 and $3 … order by level, id`, not `level = $3 … order by id`: with the
/// equality PostgreSQL may walk the primary key in id order and filter, which finds a deep
/// level's readers (all of them the latest ids) only after every shallower one (144 ms at
/// level 20 of a 1,000,000-node tree); the range keeps `(level, id)` an order only
/// `article_access_level_idx` gives (0.11 ms; docs/BENCHMARKS.md).
pub async fn level_page(
    db: &impl GenericClient,
    company_id: i64,
    article_id: i64,
    user_id: i64,
    level: i16,
    offset: i64,
    limit: i64,
) -> Result<(Vec<NodeView>, i16, i64), ApiError> {
    let stmt = db
        .prepare_cached(&format!(
            "select {VIEW_COLS} from article_access a join customer k on k.id = a.customer_id
             where a.article_id = $1 and a.user_id = $2 and a.level between $3 and $3 and a.company_id = $4
             order by a.level, a.id limit $5 offset $6"
        ))
        .await?;
    let rows = db
        .query(
            &stmt,
            &[&article_id, &user_id, &level, &company_id, &limit, &offset],
        )
        .await?;
    let counts = db
        .prepare_cached(
            "select level, n from article_level where article_id = $1 and user_id = $2 and n > 0",
        )
        .await?;
    let counts = db.query(&counts, &[&article_id, &user_id]).await?;
    let level_num = counts.iter().map(|r| r.get::<_, i16>(0)).max().unwrap_or(0);
    let count = counts
        .iter()
        .find(|r| r.get::<_, i16>(0) == level)
        .map_or(0, |r| r.get::<_, i64>(1));
    Ok((rows.iter().map(view).collect(), level_num, count))
}

/// The forward tree of an article in pre-order (`user_id` None: every salesperson's tree of
/// the company, one after the other), optionally only the subtree of node `root`.
pub async fn tree(
    db: &impl GenericClient,
    company_id: i64,
    article_id: i64,
    user_id: Option<i64>,
    root: Option<i64>,
    offset: i64,
    limit: i64,
) -> Result<Vec<NodeView>, ApiError> {
    let mut q = super::Query::new(&format!(
        "select {VIEW_COLS} from article_access a join customer k on k.id = a.customer_id where true"
    ));
    q.and("a.article_id = {}", article_id);
    q.and("a.company_id = {}", company_id);
    if let Some(u) = user_id {
        q.and("a.user_id = {}", u);
    }
    if let Some(r) = root {
        let found = db
            .query_opt(
                "select user_id, path from article_access where id = $1 and article_id = $2 and company_id = $3",
                &[&r, &article_id, &company_id],
            )
            .await?
            .ok_or_else(ApiError::not_found)?;
        let (u, path): (i64, Vec<i64>) = (found.get(0), found.get(1));
        let mut upper = path.clone();
        if let Some(last) = upper.last_mut() {
            *last += 1;
        }
        q.and("a.user_id = {}", u);
        q.and("a.path >= {}", path);
        q.and("a.path < {}", upper);
    }
    q.push(" order by a.user_id, a.path");
    q.page(Some((offset, limit)));
    let rows = q.rows(db).await?;
    Ok(rows.iter().map(view).collect())
}

/// One customer's nodes in the company (one per article and salesperson), optionally of one
/// article: reach, children, reads, reading time.
pub async fn reach(
    db: &impl GenericClient,
    company_id: i64,
    customer_id: i64,
    article_id: Option<i64>,
    user_id: Option<i64>,
) -> Result<Vec<NodeView>, ApiError> {
    let mut q = super::Query::new(&format!(
        "select {VIEW_COLS} from article_access a join customer k on k.id = a.customer_id where true"
    ));
    q.and("a.customer_id = {}", customer_id);
    q.and("a.company_id = {}", company_id);
    if let Some(a) = article_id {
        q.and("a.article_id = {}", a);
    }
    if let Some(u) = user_id {
        q.and("a.user_id = {}", u);
    }
    q.push(" order by a.article_id, a.user_id limit 1000");
    let rows = q.rows(db).await?;
    Ok(rows.iter().map(view).collect())
}

/// The top spreaders of an article (most readers below them; internal nodes only).
pub async fn top_of_article(
    db: &impl GenericClient,
    company_id: i64,
    article_id: i64,
    user_id: Option<i64>,
    limit: i64,
) -> Result<Vec<NodeView>, ApiError> {
    let mut q = super::Query::new(&format!(
        "select {VIEW_COLS} from article_access a join customer k on k.id = a.customer_id where a.children > 0"
    ));
    q.and("a.company_id = {}", company_id);
    q.and("a.article_id = {}", article_id);
    if let Some(u) = user_id {
        q.and("a.user_id = {}", u);
    }
    q.push(" order by a.reach desc, a.children desc, a.id");
    q.page(Some((0, limit)));
    let rows = q.rows(db).await?;
    Ok(rows.iter().map(view).collect())
}

/// A company-wide spreader: (customer_id, name, headimgurl, readers below summed over their
/// nodes, readers who came straight through them, articles spread).
pub type Spreader = (i64, String, String, i64, i64, i64);

/// The top spreaders of the company (or of one salesperson's shares) over all articles.
pub async fn top_of_company(
    db: &impl GenericClient,
    company_id: i64,
    user_id: Option<i64>,
    limit: i64,
) -> Result<Vec<Spreader>, ApiError> {
    let rows = db
        .query(
            "select s.customer_id, coalesce(k.memo_name, k.username, ''), coalesce(k.headimgurl, 'statics/imgs/setAvator.jpg'),
                    s.reach, s.children, s.articles
             from (select customer_id, sum(reach)::int8 reach, sum(children)::int8 children, count(distinct article_id) articles
                   from article_access where company_id = $1 and children > 0 and ($2::int8 is null or user_id = $2)
                   group by customer_id order by 2 desc, 3 desc, 1 limit $3) s
             join customer k on k.id = s.customer_id order by s.reach desc, s.children desc, s.customer_id",
            &[&company_id, &user_id, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect())
}

/// Reading time of an article: readers per bucket, readers, finished, total seconds, from the
/// counters (`user_id` None: all salespeople).
pub async fn stay_distribution(
    db: &impl GenericClient,
    company_id: i64,
    article_id: i64,
    user_id: Option<i64>,
) -> Result<(Vec<(i16, i64)>, i64, i64, i64, i64, i64), ApiError> {
    let (buckets, totals) = tokio::try_join!(
        db.prepare_cached(
            "select bucket, sum(n)::int8 from article_stay
             where article_id = $1 and ($2::int8 is null or user_id = $2)
               and exists (select 1 from article where id = $1 and company_id = $3)
             group by bucket order by bucket",
        ),
        db.prepare_cached(
            "select coalesce(sum(reader_count), 0)::int8, coalesce(sum(finished), 0)::int8, coalesce(sum(stay_total), 0)::int8,
                    coalesce(sum(read_count), 0)::int8, coalesce(sum(forward_count), 0)::int8
             from article_stat where article_id = $1 and company_id = $3 and ($2::int8 is null or user_id = $2)",
        ),
    )?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&article_id, &user_id, &company_id];
    let (b, s) = tokio::try_join!(db.query(&buckets, &params), db.query_one(&totals, &params))?;
    Ok((
        b.iter().map(|r| (r.get(0), r.get(1))).collect(),
        s.get(0),
        s.get(1),
        s.get(2),
        s.get(3),
        s.get(4),
    ))
}

/// A customer's node for a stay report: (salesperson, article) when `access_id` belongs to
/// the customer in the company.
pub async fn node_owner(
    db: &impl GenericClient,
    company_id: i64,
    customer_id: i64,
    access_id: i64,
) -> Result<Option<(i64, i64)>, ApiError> {
    let r = super::opt_cached(
        db,
        "select user_id, article_id from article_access where id = $1 and customer_id = $2 and company_id = $3",
        &[&access_id, &customer_id, &company_id],
    )
    .await?;
    Ok(r.map(|r| (r.get(0), r.get(1))))
}

/// Every counter of the spread tables of a company compared with a scan of the nodes and
/// forwards; returns the disagreements (empty = all agree).
pub async fn check(db: &impl GenericClient, company_id: i64) -> Result<Vec<String>, ApiError> {
    let checks: [(&str, &str); 5] = [
        (
            "article_stat",
            "with scan as (
                select n.article_id, n.user_id, sum(read_count)::int8 r, count(*)::int8 readers, max(level) lv,
                       sum(stay_time)::int8 st, count(*) filter (where finished)::int8 fin,
                       coalesce((select count(*) from article_forward f where f.article_id = n.article_id and f.user_id = n.user_id), 0)::int8 fw
                from article_access n where n.company_id = $1 group by 1, 2
                union all
                select f.article_id, f.user_id, 0, 0, 0::int2, 0, 0, count(*)::int8 from article_forward f
                where f.company_id = $1 and not exists (select 1 from article_access n where n.article_id = f.article_id and n.user_id = f.user_id)
                group by 1, 2)
             select format('article_stat %s/%s', coalesce(s.article_id, c.article_id), coalesce(s.user_id, c.user_id))
             from scan s full join (select * from article_stat where company_id = $1) c
               on c.article_id = s.article_id and c.user_id = s.user_id
             where (s.r, s.readers, s.lv, s.st, s.fin, s.fw) is distinct from
                   (c.read_count, c.reader_count, c.level_num, c.stay_total, c.finished, c.forward_count)
               and not (s.article_id is null and c.read_count = 0 and c.reader_count = 0 and c.forward_count = 0)",
        ),
        (
            "article_level",
            "select format('article_level %s/%s/%s', coalesce(s.article_id, c.article_id), coalesce(s.user_id, c.user_id), coalesce(s.level, c.level))
             from (select article_id, user_id, level, count(*)::int8 n from article_access where company_id = $1 group by 1, 2, 3) s
             full join (select l.* from article_level l join article a on a.id = l.article_id where a.company_id = $1 and l.n <> 0) c
               on (c.article_id, c.user_id, c.level) = (s.article_id, s.user_id, s.level)
             where s.n is distinct from c.n",
        ),
        (
            "article_stay",
            "select format('article_stay %s/%s/%s', coalesce(s.article_id, c.article_id), coalesce(s.user_id, c.user_id), coalesce(s.b, c.bucket))
             from (select article_id, user_id,
                          (case when stay_time < 10 then 0 when stay_time < 30 then 1 when stay_time < 60 then 2
                                when stay_time < 120 then 3 when stay_time < 300 then 4 else 5 end)::int2 b, count(*)::int8 n
                   from article_access where company_id = $1 group by 1, 2, 3) s
             full join (select t.* from article_stay t join article a on a.id = t.article_id where a.company_id = $1 and t.n <> 0) c
               on (c.article_id, c.user_id, c.bucket) = (s.article_id, s.user_id, s.b)
             where s.n is distinct from c.n",
        ),
        (
            "reach",
            "select format('reach of node %s: %s, scan %s', n.id, n.reach, coalesce(s.n, 0))
             from article_access n
             left join (select x.anc, count(*)::int8 n from article_access d
                        cross join lateral unnest(d.path[1:cardinality(d.path) - 1]) as x(anc)
                        where d.company_id = $1 group by x.anc) s on s.anc = n.id
             where n.company_id = $1 and n.reach <> coalesce(s.n, 0)",
        ),
        (
            "children",
            "select format('children of node %s: %s, scan %s', n.id, n.children, coalesce(s.n, 0))
             from article_access n
             left join (select parent_id, count(*)::int8 n from article_access where company_id = $1 and parent_id is not null group by 1) s
               on s.parent_id = n.id
             where n.company_id = $1 and n.children <> coalesce(s.n, 0)",
        ),
    ];
    let mut out = Vec::new();
    for (_, sql) in checks {
        for r in db.query(sql, &[&company_id]).await? {
            out.push(r.get(0));
        }
    }
    Ok(out)
}
