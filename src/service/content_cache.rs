//! A per-node cache of what customers open most: a product (XCX product pages), the company
//! website and an article (GZH-06), so a view costs no read of its page in PostgreSQL, only
//! its radar event. Kept in step like the card cache (src/service/card_cache.rs): triggers of
//! sql/019 `NOTIFY zgld_content` on every change of those rows or of what they show (the
//! product owner's and article author's name and avatar, the company name, article tags), each
//! node LISTENs and drops the entry, and the cache is trusted only while it hears. A staff
//! request also empties this node's cache when it answers, so whoever changed content reads
//! the change on this node at once, before the NOTIFY comes back. Entries live a minute at most.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use dashmap::DashMap;

use crate::{
    db::{self, article::ArticleRow, product::ProductRow, website::WebsiteRow},
    error::ApiError,
    state::AppState,
};

/// The NOTIFY channel of sql/019; payloads `p:<product>`, `w:<company>`, `a:<article>`, or
/// anything else for everything.
pub const CHANNEL: &str = "zgld_content";

const TTL: Duration = Duration::from_secs(60);

type Entry<T> = (Instant, Arc<Cached<T>>);

/// A cached row, and its answer's JSON once a view has rendered it: every customer sees the
/// same product or website, so the row is serialized once per cache entry instead of once per
/// view (parsing its stored content JSON and escaping it again took a fifth of a view's
/// instructions in the server, callgrind; docs/BENCHMARKS.md, seventh sitting).
pub struct Cached<T> {
    row: T,
    rendered: std::sync::OnceLock<Vec<u8>>,
}

impl<T> Cached<T> {
    pub fn new(row: T) -> Self {
        Cached {
            row,
            rendered: std::sync::OnceLock::new(),
        }
    }

    /// The row's JSON, made by `render` at the first call for this entry.
    pub fn rendered(&self, render: impl FnOnce(&T) -> Vec<u8>) -> &[u8] {
        self.rendered.get_or_init(|| render(&self.row))
    }
}

impl<T> std::ops::Deref for Cached<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.row
    }
}

/// The cache; cheap to clone.
#[derive(Clone, Default)]
pub struct ContentCache {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// By product id (the row names its company).
    products: DashMap<i64, Entry<ProductRow>>,
    /// By company id.
    websites: DashMap<i64, Entry<WebsiteRow>>,
    /// By article id.
    articles: DashMap<i64, Entry<ArticleRow>>,
    live: AtomicBool,
    /// Bumped by every invalidation: a row read before one is not stored after it.
    generation: AtomicU64,
}

fn fresh<T>(map: &DashMap<i64, Entry<T>>, key: i64) -> Option<Arc<Cached<T>>> {
    map.get(&key)
        .filter(|e| e.0.elapsed() < TTL)
        .map(|e| e.1.clone())
}

impl ContentCache {
    fn live(&self) -> bool {
        self.inner.live.load(Ordering::Acquire)
    }

    /// Stores `v` read while the cache was live at `generation`, unless anything changed since.
    fn put<T>(&self, map: &DashMap<i64, Entry<T>>, key: i64, v: Arc<Cached<T>>, generation: u64) {
        if self.live() && self.inner.generation.load(Ordering::Acquire) == generation {
            map.insert(key, (Instant::now(), v));
        }
    }

    /// Product `id` of `company_id` as stored (`None`: none in that company).
    pub async fn product(
        &self,
        state: &AppState,
        company_id: i64,
        id: i64,
    ) -> Result<Option<Arc<Cached<ProductRow>>>, ApiError> {
        if self.live() {
            if let Some(p) = fresh(&self.inner.products, id) {
                return Ok((p.company_id == company_id).then_some(p));
            }
        }
        let generation = self.inner.generation.load(Ordering::Acquire);
        let row = {
            let db = state.db.get().await?;
            db::product::get(&db, company_id, id, false).await?
        };
        Ok(row.map(|p| {
            let p = Arc::new(Cached::new(p));
            self.put(&self.inner.products, id, p.clone(), generation);
            p
        }))
    }

    /// The website of `company_id` (`None`: no such company).
    pub async fn website(
        &self,
        state: &AppState,
        company_id: i64,
    ) -> Result<Option<Arc<Cached<WebsiteRow>>>, ApiError> {
        if self.live() {
            if let Some(w) = fresh(&self.inner.websites, company_id) {
                return Ok(Some(w));
            }
        }
        let generation = self.inner.generation.load(Ordering::Acquire);
        let row = {
            let db = state.db.get().await?;
            db::website::get(&db, company_id).await?
        };
        Ok(row.map(|w| {
            let w = Arc::new(Cached::new(w));
            self.put(&self.inner.websites, company_id, w.clone(), generation);
            w
        }))
    }

    /// Article `id` of `company_id` as a reader sees it (`None`: none in that company).
    pub async fn article(
        &self,
        state: &AppState,
        company_id: i64,
        id: i64,
    ) -> Result<Option<Arc<Cached<ArticleRow>>>, ApiError> {
        if self.live() {
            if let Some(a) = fresh(&self.inner.articles, id) {
                return Ok((a.company_id == company_id).then_some(a));
            }
        }
        let generation = self.inner.generation.load(Ordering::Acquire);
        let row = {
            let db = state.db.get().await?;
            db::article::for_reader(&db, company_id, id).await?
        };
        Ok(row.map(|a| {
            let a = Arc::new(Cached::new(a));
            self.put(&self.inner.articles, id, a.clone(), generation);
            a
        }))
    }

    /// Drops everything (a staff request answered on this node, or a change not by id).
    pub fn forget_all(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        self.inner.products.clear();
        self.inner.websites.clear();
        self.inner.articles.clear();
    }

    /// Applies one `zgld_content` payload.
    pub fn apply(&self, payload: &str) {
        let parsed = payload
            .split_once(':')
            .and_then(|(k, id)| id.parse::<i64>().ok().map(|id| (k, id)));
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        match parsed {
            Some(("p", id)) => {
                self.inner.products.remove(&id);
            }
            Some(("w", company)) => {
                self.inner.websites.remove(&company);
            }
            Some(("a", id)) => {
                self.inner.articles.remove(&id);
            }
            _ => self.forget_all(),
        }
    }

    /// Whether changes are heard; while not, every view reads PostgreSQL.
    pub fn set_live(&self, live: bool) {
        self.forget_all();
        self.inner.live.store(live, Ordering::Release);
    }

    /// Whether changes are heard (tests wait for it).
    pub fn is_live(&self) -> bool {
        self.live()
    }
}

/// Set on a request by the staff write extractor (`auth::StaffWrite`); read by
/// [`after_staff_writes`] once the request has answered.
#[derive(Clone, Default)]
pub struct StaffWrite(Arc<AtomicBool>);

impl StaffWrite {
    pub fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Middleware: when a staff write has answered (its transaction committed), this node's
/// content cache empties, so the writer's next read on this node sees the change even
/// before PostgreSQL's NOTIFY arrives. Customers' requests are not marked.
pub async fn after_staff_writes(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let customer_side = {
        let p = req.uri().path();
        p.starts_with("/zhugeleida/xiaochengxu/") || p.starts_with("/zhugeleida/gongzhonghao/")
    };
    if customer_side {
        return next.run(req).await;
    }
    let mark = StaffWrite::default();
    req.extensions_mut().insert(mark.clone());
    let resp = next.run(req).await;
    if mark.0.load(Ordering::Acquire) {
        state.content.forget_all();
    }
    resp
}

/// Runs for the life of the node: LISTENs on [`CHANNEL`], reconnecting with backoff.
pub async fn listen(cache: ContentCache, database_url: String) {
    let live = cache.clone();
    crate::db::listen::follow(
        database_url,
        CHANNEL,
        "content",
        move |up| live.set_live(up),
        move |payload| cache.apply(payload),
    )
    .await
}
