//! PostgreSQL: the pool, database creation and migrations. One repository module per
//! aggregate; SQL lives there, never in handlers.

pub mod article;
pub mod article_spread;
pub mod card;
pub mod chat;
pub mod company;
pub mod customer;
pub mod dashboard;
pub mod follow;
pub mod gzh;
pub mod listen;
pub mod org;
pub mod plugin;
pub mod product;
pub mod radar;
pub mod session;
pub mod signup;
pub mod tag;
pub mod talk;
pub mod throttle;
pub mod tongxunlu;
pub mod user;
pub mod website;
pub mod wx_platform;
pub mod wx_release;

use std::str::FromStr;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

/// The numbered migrations of `sql/`, embedded at build time, applied in order once each.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "001_foundation.sql",
        include_str!("../../sql/001_foundation.sql"),
    ),
    (2, "002_chat.sql", include_str!("../../sql/002_chat.sql")),
    (
        3,
        "003_card_tags_and_phrases.sql",
        include_str!("../../sql/003_card_tags_and_phrases.sql"),
    ),
    (
        4,
        "004_customer_tags.sql",
        include_str!("../../sql/004_customer_tags.sql"),
    ),
    (5, "005_radar.sql", include_str!("../../sql/005_radar.sql")),
    (
        6,
        "006_auth_notify.sql",
        include_str!("../../sql/006_auth_notify.sql"),
    ),
    (
        7,
        "007_sessions_and_guards.sql",
        include_str!("../../sql/007_sessions_and_guards.sql"),
    ),
    (
        8,
        "008_write_keys.sql",
        include_str!("../../sql/008_write_keys.sql"),
    ),
    (
        10,
        "010_upload_card.sql",
        include_str!("../../sql/010_upload_card.sql"),
    ),
    (
        11,
        "011_content.sql",
        include_str!("../../sql/011_content.sql"),
    ),
    (
        13,
        "013_wechat_platform.sql",
        include_str!("../../sql/013_wechat_platform.sql"),
    ),
    (
        14,
        "014_signup_and_sync.sql",
        include_str!("../../sql/014_signup_and_sync.sql"),
    ),
    (
        15,
        "015_code_release.sql",
        include_str!("../../sql/015_code_release.sql"),
    ),
    (
        16,
        "016_replay_guard_keys.sql",
        include_str!("../../sql/016_replay_guard_keys.sql"),
    ),
    (
        17,
        "017_uncount_deletes.sql",
        include_str!("../../sql/017_uncount_deletes.sql"),
    ),
    (
        18,
        "018_articles.sql",
        include_str!("../../sql/018_articles.sql"),
    ),
    (
        19,
        "019_content_notify.sql",
        include_str!("../../sql/019_content_notify.sql"),
    ),
    (
        20,
        "020_event_keys.sql",
        include_str!("../../sql/020_event_keys.sql"),
    ),
    (
        21,
        "021_uncount_article_deletes.sql",
        include_str!("../../sql/021_uncount_article_deletes.sql"),
    ),
    (
        22,
        "022_conversation_recency.sql",
        include_str!("../../sql/022_conversation_recency.sql"),
    ),
    (
        23,
        "023_company_counter_slots.sql",
        include_str!("../../sql/023_company_counter_slots.sql"),
    ),
    (
        24,
        "024_talk_phrase_uses.sql",
        include_str!("../../sql/024_talk_phrase_uses.sql"),
    ),
];

/// Creates the database named in `url` when it does not exist yet.
pub async fn create_database_if_missing(url: &str) -> anyhow::Result<()> {
    let cfg = tokio_postgres::Config::from_str(url)
        .context("ZGLD_DATABASE_URL is not a PostgreSQL URL")?;
    let name = cfg.get_dbname().unwrap_or("postgres").to_owned();
    let mut admin = cfg.clone();
    admin.dbname("postgres");
    let (client, conn) = admin
        .connect(NoTls)
        .await
        .context("connecting to PostgreSQL (maintenance db)")?;
    let task = tokio::spawn(conn);
    let exists = client
        .query_opt("select 1 from pg_database where datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        let sql = format!("create database \"{}\"", name.replace('"', "\"\""));
        match client.batch_execute(&sql).await {
            Ok(()) => tracing::info!(database = %name, "created database"),
            // Another node created it at the same moment.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(e) => return Err(e).context("create database"),
        }
    }
    drop(client);
    task.abort();
    Ok(())
}

/// A connection pool over `url`.
pub fn pool(url: &str, size: usize) -> anyhow::Result<Pool> {
    let cfg = tokio_postgres::Config::from_str(url)
        .context("ZGLD_DATABASE_URL is not a PostgreSQL URL")?;
    let mgr = Manager::from_config(
        cfg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(mgr)
        .max_size(size.max(1))
        .build()
        .context("building the database pool")
}

/// Applies pending migrations under an advisory lock, so nodes starting together don't race.
pub async fn migrate(pool: &Pool) -> anyhow::Result<Vec<i32>> {
    let mut client = pool
        .get()
        .await
        .context("database connection for migrations")?;
    client
        .batch_execute("select pg_advisory_lock(7426001)")
        .await?;
    let result = apply(&mut client).await;
    let _ = client
        .batch_execute("select pg_advisory_unlock(7426001)")
        .await;
    result
}

async fn apply(client: &mut deadpool_postgres::Object) -> anyhow::Result<Vec<i32>> {
    let exists: bool = client
        .query_one("select to_regclass('schema_migration') is not null", &[])
        .await?
        .get(0);
    if !exists {
        client
            .batch_execute(
                "create table schema_migration (
                    version integer primary key, name text not null, applied_at timestamptz not null default now())",
            )
            .await?;
    }
    let done: Vec<i32> = client
        .query("select version from schema_migration", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        let tx = client.transaction().await?;
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("migration {name}"))?;
        tx.execute(
            "insert into schema_migration (version, name) values ($1, $2)",
            &[version, name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(migration = name, "applied");
        applied.push(*version);
    }
    Ok(applied)
}

/// A SQL text with its positional arguments, for the few queries whose filters vary.
#[derive(Default)]
pub struct Query {
    pub sql: String,
    args: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>,
}

impl Query {
    pub fn new(sql: &str) -> Self {
        Query {
            sql: sql.to_owned(),
            args: Vec::new(),
        }
    }
    /// Binds `v` and returns its placeholder (`$n`).
    pub fn arg<T: tokio_postgres::types::ToSql + Sync + Send + 'static>(&mut self, v: T) -> String {
        self.args.push(Box::new(v));
        format!("${}", self.args.len())
    }
    /// Appends ` and <cond>` where `cond` uses the placeholder returned by `arg`.
    pub fn and<T: tokio_postgres::types::ToSql + Sync + Send + 'static>(
        &mut self,
        cond: &str,
        v: T,
    ) {
        let p = self.arg(v);
        self.sql.push_str(" and ");
        self.sql.push_str(&cond.replace("{}", &p));
    }
    pub fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }
    pub fn params(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        self.args
            .iter()
            .map(|a| a.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect()
    }
    /// Runs the query as a statement prepared once per connection: no parse or plan per
    /// request, one round trip instead of two. For queries built from fixed text only (every
    /// value bound through [`Query::arg`]), so their texts are few and the cache stays small.
    pub async fn rows(
        &self,
        db: &impl deadpool_postgres::GenericClient,
    ) -> Result<Vec<tokio_postgres::Row>, crate::error::ApiError> {
        let stmt = db.prepare_cached(&self.sql).await?;
        Ok(db.query(&stmt, &self.params()).await?)
    }
    /// `limit/offset` when paging was asked for.
    pub fn page(&mut self, paging: Option<(i64, i64)>) {
        if let Some((offset, limit)) = paging {
            let l = self.arg(limit);
            let o = self.arg(offset);
            self.sql.push_str(&format!(" limit {l} offset {o}"));
        }
    }
}

/// Escapes `%`, `_` and `\` for a `like` pattern and wraps it in `%…%` (fuzzy = contains).
pub fn contains(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// `query_opt` through the connection's prepared-statement cache: one round trip instead of
/// two on the hot paths (every signed request loads its caller).
pub async fn opt_cached(
    db: &impl deadpool_postgres::GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
    let stmt = db.prepare_cached(sql).await?;
    db.query_opt(&stmt, params).await
}

/// A write that must have touched a row: 302 when it touched none (a foreign or unknown id).
pub fn touched(n: u64) -> Result<(), crate::error::ApiError> {
    if n == 0 {
        Err(crate::error::ApiError::not_found())
    } else {
        Ok(())
    }
}

/// Deletes row `id` of `table` if it belongs to the company; 302 when there is none (another
/// company's id included), 304 while rows still reference it. `table` is a name from the code.
pub async fn delete_in_company(
    db: &impl deadpool_postgres::GenericClient,
    table: &'static str,
    company_id: i64,
    id: i64,
) -> Result<(), crate::error::ApiError> {
    let sql = format!("delete from {table} where id = $1 and company_id = $2");
    let n = db.execute(&sql, &[&id, &company_id]).await?;
    touched(n)
}

/// Tenant-owned tables whose ids clients send in lists.
#[derive(Debug, Clone, Copy)]
pub enum Owned {
    Customer,
    CustomerTag,
    UserTag,
}

/// Checks that every id names a row of `table` in the company (302 otherwise); returns the
/// ids deduplicated and sorted.
pub async fn all_in_company(
    db: &impl deadpool_postgres::GenericClient,
    table: Owned,
    company_id: i64,
    ids: &[i64],
) -> Result<Vec<i64>, crate::error::ApiError> {
    let table = match table {
        Owned::Customer => "customer",
        Owned::CustomerTag => "customer_tag",
        Owned::UserTag => "user_tag",
    };
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let sql = format!("select count(*) from {table} where company_id = $1 and id = any($2)");
    let found: i64 = db.query_one(&sql, &[&company_id, &ids]).await?.get(0);
    if found != ids.len() as i64 {
        return Err(crate::error::ApiError::not_found());
    }
    Ok(ids)
}
