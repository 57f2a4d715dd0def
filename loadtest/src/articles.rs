//! Article benchmarks (issue 12): how an article spread, read back from 1,000,000 access nodes
//! of one company in a tree 20 levels deep (QYW-52, the forward tree, one customer's reach)
//! against walking the same records recursively; and article reads and forwards offered
//! open-loop, durable and pushed to the salespeople's WebSockets.

use std::time::Instant;

use serde_json::{json, Value};

use super::{
    content::{self, hist, ms, ViewArgs},
    loadavg, prepare, round, signed, Env, Node,
};

#[derive(clap::Args, Debug, Clone)]
pub struct SpreadArgs {
    /// Access nodes of the one article (a binary tree in arrival order: node i's parent is
    /// node i/2, so 1,000,000 nodes are 20 levels deep).
    #[arg(long, default_value_t = 1_000_000)]
    nodes: i64,
    /// Timed requests per endpoint.
    #[arg(long, default_value_t = 1_000)]
    requests: u64,
    /// Timed runs of each recursive baseline.
    #[arg(long, default_value_t = 3)]
    baseline_runs: u32,
}

/// Readers' customer ids are `READER + node id`.
const READER: i64 = 100;

/// The tree, its counters as the radar writer keeps them, and the readers as customers.
fn seed(n: i64) -> String {
    format!(
        "insert into article (id, company_id, user_id, title, status, read_secs, content)
           values (1, 1, 1, '传播测试', 1, 60, '[]');
         insert into customer (id, company_id, openid, username)
           select {READER} + g, 1, 'reader' || g, '读者' || g from generate_series(1, {n}) g;
         select setval(pg_get_serial_sequence('customer', 'id'), {READER} + {n});
         insert into article_access (id, company_id, article_id, user_id, customer_id, parent_id, pid,
                                     level, path, read_count, stay_time, finished, reach, children)
           select i, 1, 1, 1, {READER} + i,
                  case when i > 1 then i / 2 end,
                  case when i > 1 then {READER} + i / 2 end,
                  bl, array(select i >> s from generate_series(bl - 1, 0, -1) s),
                  1, (i % 400)::int, i % 400 >= 60,
                  (select coalesce(sum(greatest(0, least({n}, ((i + 1) << k) - 1) - (i << k) + 1)), 0)
                     from generate_series(1, 40) k),
                  (case when 2 * i <= {n} then 1 else 0 end) + (case when 2 * i + 1 <= {n} then 1 else 0 end)
           from (select g::int8 as i, length(ltrim(g::bit(32)::text, '0')) as bl
                 from generate_series(1, {n}) g) t;
         select setval(pg_get_serial_sequence('article_access', 'id'), {n});
         insert into article_level (article_id, user_id, level, n)
           select 1, 1, level, count(*) from article_access group by level;
         insert into article_stat (article_id, user_id, company_id, read_count, reader_count, forward_count,
                                   level_num, stay_total, finished)
           select 1, 1, 1, count(*), count(*), 0, max(level), sum(stay_time), count(*) filter (where finished)
           from article_access;
         insert into article_stay (article_id, user_id, bucket, n)
           select 1, 1, case when stay_time < 10 then 0 when stay_time < 30 then 1 when stay_time < 60 then 2
                             when stay_time < 120 then 3 when stay_time < 300 then 4 else 5 end, count(*)
           from article_access group by 3;"
    )
}

/// The same answers found by walking `parent_id` from the roots, as a store without the
/// materialised tree and its counters would.
const BASELINES: [(&str, &str); 3] = [
    (
        "qyw52_level_20",
        "with recursive t as (
           select id, customer_id, 1 as lvl from article_access
            where article_id = 1 and user_id = 1 and parent_id is null
           union all
           select a.id, a.customer_id, t.lvl + 1 from article_access a join t on a.parent_id = t.id
            where t.lvl < 20)
         select (select count(*) from t where lvl = 20),
                (select array_agg(id) from (select id from t where lvl = 20 order by id limit 10) p)",
    ),
    (
        "forward_tree_first_200",
        "with recursive t as (
           select id, array[id] as path from article_access
            where article_id = 1 and user_id = 1 and parent_id is null
           union all
           select a.id, t.path || a.id from article_access a join t on a.parent_id = t.id)
         select count(*) from (select id from t order by path limit 200) f",
    ),
    (
        "customer_reach_node_2",
        "with recursive t as (
           select id from article_access where article_id = 1 and customer_id = 102
           union all
           select a.id from article_access a join t on a.parent_id = t.id)
         select count(*) - 1 from t",
    ),
];

/// QYW-52, the forward tree and a customer's reach over `a.nodes` nodes, each against its
/// recursive baseline.
pub async fn spread(env: &Env, a: &SpreadArgs) -> anyhow::Result<Value> {
    prepare(env, 1, 10).await?;
    let db = content::db(env).await?;
    let t = Instant::now();
    db.batch_execute(&seed(a.nodes)).await?;
    // Alone: VACUUM cannot run inside the seed's implicit transaction.
    db.batch_execute("vacuum analyze").await?;
    let seed_s = round(t.elapsed().as_secs_f64());
    let node = Node::start(env, 18_602, false, &[]).await?;
    let port = node.port;
    let http = reqwest::Client::new();
    let mut report = serde_json::Map::new();
    report.insert("nodes".into(), json!(a.nodes));
    report.insert("seed_s".into(), json!(seed_s));
    report.insert("loadavg_before".into(), json!(loadavg()));
    let q = "zhugeleida/qiyeweixin/article";
    let endpoints = [
        (
            "qyw52_level_1",
            format!("{q}/customer_effect_ranking_by_level/1?level=1&uid=1"),
            "count",
        ),
        (
            "qyw52_level_20",
            format!("{q}/customer_effect_ranking_by_level/1?level=20&uid=1"),
            "count",
        ),
        (
            "forward_tree_first_200",
            format!("{q}/forward_tree/1?uid=1&length=200"),
            "data_count",
        ),
        (
            "forward_tree_subtree_of_node_2",
            format!("{q}/forward_tree/1?uid=1&root=2&length=200"),
            "data_count",
        ),
        (
            "customer_reach_node_2",
            format!("{q}/customer_reach/{}?article_id=1&uid=1", READER + 2),
            "reach",
        ),
        (
            "customer_reach_leaf",
            format!("{q}/customer_reach/{}?article_id=1&uid=1", READER + a.nodes),
            "reach",
        ),
    ];
    let mut p50 = std::collections::HashMap::new();
    for (name, path, field) in &endpoints {
        let mut h = hist()?;
        let mut answer = Value::Null;
        let mut rows = 0;
        for i in 0..a.requests + 20 {
            let url = format!("http://127.0.0.1:{port}/{path}&{}", signed('u', 1));
            let t0 = Instant::now();
            let v: Value = http.get(url).send().await?.json().await?;
            if v["code"] != 200 {
                anyhow::bail!("{name}: {v}");
            }
            if i >= 20 {
                let _ = h.record(t0.elapsed().as_micros().max(1) as u64);
            }
            answer = v["data"][*field].clone();
            rows = v["data"]["ret_data"].as_array().map_or(0, Vec::len);
        }
        p50.insert(*name, ms(&h, 0.5));
        report.insert(
            (*name).into(),
            json!({"path": path, (*field): answer, "rows": rows, "p50_ms": ms(&h, 0.5),
                   "p99_ms": ms(&h, 0.99), "max_ms": ms(&h, 1.0)}),
        );
    }
    let mut baselines = serde_json::Map::new();
    for (name, sql) in BASELINES {
        let mut runs = Vec::new();
        for _ in 0..a.baseline_runs.max(1) {
            let t0 = Instant::now();
            db.simple_query(sql).await?;
            runs.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        runs.sort_by(f64::total_cmp);
        let best = runs.first().copied().unwrap_or(0.0);
        let ours = p50.get(name).copied().unwrap_or(f64::NAN);
        baselines.insert(
            name.into(),
            json!({"runs_ms": runs.iter().map(|r| round(*r)).collect::<Vec<_>>(),
                   "best_ms": round(best), "ours_p50_ms": ours,
                   "times_faster_than_best": round(best / ours)}),
        );
    }
    report.insert("recursive_baselines".into(), Value::Object(baselines));
    report.insert("loadavg_after".into(), json!(loadavg()));
    report.insert("rss_mib".into(), json!(node.rss_kib() / 1024));
    drop(node);
    Ok(Value::Object(report))
}

/// Article reads (GZH-06) and forwards (GZH-10) offered open-loop: each customer's first
/// requests read (creating its node), later ones alternate forward and read.
pub async fn events(env: &Env, a: &ViewArgs) -> anyhow::Result<Value> {
    let customers = a.customers.max(1);
    let setup = "insert into article (id, company_id, user_id, title, status, read_secs, content)
                   values (1, 1, 1, '传播测试', 1, 60, '[]');";
    let path = move |k: usize, rep: usize| {
        if (k / customers).is_multiple_of(2) {
            format!("gongzhonghao/article/myarticle/1?uid={rep}")
        } else {
            format!("gongzhonghao/article/forward_article/1?forward_type=1&uid={rep}")
        }
    };
    content::open_loop(env, a, setup, path, "select count(*) from article_event").await
}
