//! Radar events: a customer's action on a salesperson's card, or on an article the salesperson
//! shared (`service::article`), is stored durably (batched by [`crate::service::batch`], or one
//! transaction per event when batching is off), then pushed to the salesperson's live
//! connections through the hub, before the request answers. Card and article events share the
//! lanes and the transactions: one writer, one relation upsert (activity, AI energy) per batch.

use axum::extract::ws::Utf8Bytes;
use deadpool_postgres::{Client, Pool, Transaction};
use serde::Serialize;

use crate::{
    auth::{
        replay::{Claims, Spend},
        Customer,
    },
    db::{
        article_spread::{self, ArticleEvent, ArticleRecorded},
        radar::{self, LogRow, NewEvent, PairTouch, Recorded},
    },
    domain::{action, ai, time},
    error::ApiError,
    hub::Target,
    service::batch::{self, BatchStore, Batcher},
    state::AppState,
};

/// Most events in one transaction.
const MAX_BATCH: usize = 512;

/// An event for the radar writer.
#[derive(Debug, Clone)]
pub enum RadarItem {
    /// An action on the card (1..=12).
    Card(NewEvent),
    /// A read, forward or reading time of an article.
    Article(ArticleEvent),
}

/// An item for the radar writer: the event, and the signature its request spends in the
/// event's own transaction (`auth::CustomerEvent`; `None` for events whose request spent it
/// before, or has none to spend).
#[derive(Debug, Clone)]
pub struct RadarJob {
    pub item: RadarItem,
    pub spend: Option<Spend>,
}

/// What the writer gives back for an item.
#[derive(Debug, Clone)]
pub enum RadarOut {
    Card(Recorded),
    Article(ArticleOut),
    /// The request's signature was spent before: nothing written.
    Replayed,
}

/// A stored article event with its relation.
#[derive(Debug, Clone)]
pub struct ArticleOut {
    pub rec: ArticleRecorded,
    /// The event created the salesperson ↔ customer relation.
    pub new_relation: bool,
    /// The relation's AI energy after the batch.
    pub energy: f64,
}

pub struct RadarStore;

/// The card and the article items of a batch, each with its write key, in batch order.
fn split(
    batch: &[RadarItem],
    keys: &[i64],
) -> (Vec<NewEvent>, Vec<i64>, Vec<ArticleEvent>, Vec<i64>) {
    let (mut cards, mut card_keys, mut articles, mut article_keys) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, item) in batch.iter().enumerate() {
        let key = keys.get(i).copied().unwrap_or_else(rand::random);
        match item {
            RadarItem::Card(e) => {
                cards.push(e.clone());
                card_keys.push(key);
            }
            RadarItem::Article(e) => {
                articles.push(e.clone());
                article_keys.push(key);
            }
        }
    }
    (cards, card_keys, articles, article_keys)
}

fn has_praise(batch: &[RadarItem]) -> bool {
    batch
        .iter()
        .any(|i| matches!(i, RadarItem::Card(e) if e.action == crate::domain::action::PRAISE))
}

impl BatchStore for RadarStore {
    type Item = RadarJob;
    type Out = RadarOut;
    const NAME: &'static str = "radar writer";

    /// Events of one salesperson share a lane: their counter rows (card, article trees and
    /// counters) are written by one lane at a time, and their order is kept.
    fn lane_key(j: &RadarJob) -> u64 {
        match &j.item {
            RadarItem::Card(e) => e.user_id as u64,
            RadarItem::Article(e) => e.user_id as u64,
        }
    }

    /// The batch's signatures are claimed first, in its transaction; events whose claim is
    /// lost are answered [`RadarOut::Replayed`] and the others written in the same
    /// transaction, so a signature is spent exactly when its event commits.
    async fn write(
        &self,
        db: &mut Client,
        batch: &[RadarJob],
        keys: &[i64],
    ) -> Result<Vec<RadarOut>, ApiError> {
        let spends: Vec<(&Spend, i64)> = batch
            .iter()
            .zip(keys)
            .filter_map(|(j, k)| j.spend.as_ref().map(|s| (s, *k)))
            .collect();
        let items: Vec<RadarItem> = batch.iter().map(|j| j.item.clone()).collect();
        if spends.is_empty() {
            return write_items(db, &items, keys, false).await;
        }
        let claims = Claims::new(&spends);
        let stmt = Claims::prepare(&*db).await?;
        // Per item: its claim won (or it had none to make).
        let accept = |won: Vec<bool>| {
            let mut won = won.into_iter();
            batch
                .iter()
                .map(|j| j.spend.is_none() || won.next().unwrap_or(false))
                .collect::<Vec<bool>>()
        };
        let pick = |accepted: &[bool]| {
            let mut items_in = Vec::new();
            let mut keys_in = Vec::new();
            for ((item, key), ok) in items.iter().zip(keys).zip(accepted) {
                if *ok {
                    items_in.push(item.clone());
                    keys_in.push(*key);
                }
            }
            (items_in, keys_in)
        };
        let (accepted, out) = if has_praise(&items) {
            let tx = db.transaction().await?;
            let accepted = accept(claims.claim(&tx, &stmt, &spends).await?);
            let (items_in, keys_in) = pick(&accepted);
            let out = write_in(&tx, &items_in, &keys_in).await?;
            tx.commit().await?;
            (accepted, out)
        } else {
            let client: &Client = db;
            let claimed = tokio::try_join!(
                async {
                    client
                        .batch_execute(radar::BEGIN)
                        .await
                        .map_err(ApiError::from)
                },
                claims.claim(client, &stmt, &spends),
            );
            let won = match claimed {
                Ok((_, won)) => won,
                Err(e) => {
                    let _ = client.batch_execute("rollback").await;
                    return Err(e);
                }
            };
            let accepted = accept(won);
            let (items_in, keys_in) = pick(&accepted);
            (accepted, write_items(db, &items_in, &keys_in, true).await?)
        };
        let mut out = out.into_iter();
        accepted
            .iter()
            .map(|ok| {
                if *ok {
                    out.next().ok_or_else(|| {
                        ApiError::Unexpected(anyhow::anyhow!("radar writer: result missing"))
                    })
                } else {
                    Ok(RadarOut::Replayed)
                }
            })
            .collect()
    }

    /// Card events by their keys in the action log, article events by theirs in
    /// `article_event`; each kind first locks its relations, so a batch still committing is
    /// waited for. An event not stored has not spent its signature either (one transaction):
    /// its retry claims it again.
    async fn recover(
        &self,
        db: &mut Client,
        batch: &[RadarJob],
        keys: &[i64],
    ) -> Result<Vec<Option<RadarOut>>, ApiError> {
        let items: Vec<RadarItem> = batch.iter().map(|j| j.item.clone()).collect();
        let (cards, card_keys, articles, article_keys) = split(&items, keys);
        let card_found = if cards.is_empty() {
            Vec::new()
        } else {
            radar::recorded_by_key(db, &cards, &card_keys).await?
        };
        let article_found = if articles.is_empty() {
            Vec::new()
        } else {
            article_spread::recorded_by_key(db, &articles, &article_keys).await?
        };
        if card_found.len() != cards.len() || article_found.len() != articles.len() {
            return Err(ApiError::Unexpected(anyhow::anyhow!(
                "radar writer: recovery answered {} + {} for {} + {} items",
                card_found.len(),
                article_found.len(),
                cards.len(),
                articles.len()
            )));
        }
        let mut cards = card_found.into_iter();
        let mut arts = articles.iter().zip(article_found);
        let mut seen = std::collections::HashSet::new();
        Ok(items
            .iter()
            .map(|i| match i {
                RadarItem::Card(_) => cards.next().flatten().map(RadarOut::Card),
                RadarItem::Article(_) => arts.next().and_then(|(e, found)| {
                    found.map(|f| {
                        let key = (e.user_id, e.customer_id);
                        RadarOut::Article(ArticleOut {
                            rec: f.rec,
                            new_relation: f.new_relation && seen.insert(key),
                            energy: f.energy,
                        })
                    })
                }),
            })
            .collect())
    }
}

/// Writes `batch` in one transaction: pipelined when it has no praise (`open`: the caller has
/// already sent the `begin`), else in a transaction of its own.
async fn write_items(
    db: &mut Client,
    batch: &[RadarItem],
    keys: &[i64],
    open: bool,
) -> Result<Vec<RadarOut>, ApiError> {
    if batch.is_empty() {
        if open {
            db.batch_execute("commit").await?;
        }
        return Ok(Vec::new());
    }
    let (cards, card_keys, articles, article_keys) = split(batch, keys);
    if has_praise(batch) {
        if open {
            let _ = db.batch_execute("rollback").await;
            return Err(ApiError::Unexpected(anyhow::anyhow!(
                "radar writer: praise in an open pipeline"
            )));
        }
        let tx = db.transaction().await?;
        let out = write_in(&tx, batch, keys).await?;
        tx.commit().await?;
        return Ok(out);
    }
    if articles.is_empty() {
        let out = radar::store_pipelined(db, &cards, &card_keys, open).await?;
        return Ok(out.into_iter().map(RadarOut::Card).collect());
    }
    let (recs, card_out, relations) =
        pipelined(db, &articles, &article_keys, &cards, &card_keys, open).await?;
    Ok(merge(batch, &articles, recs, card_out, &relations))
}

/// Writes `batch` inside the caller's transaction (the path for praise: it toggles first and
/// logs what it gave).
async fn write_in(
    tx: &Transaction<'_>,
    batch: &[RadarItem],
    keys: &[i64],
) -> Result<Vec<RadarOut>, ApiError> {
    let (cards, card_keys, articles, article_keys) = split(batch, keys);
    let recs = if articles.is_empty() {
        Vec::new()
    } else {
        article_spread::store(tx, &articles, &article_keys).await?
    };
    let touches = touches(&articles, &recs);
    let (card_out, relations) = radar::store_events_in(tx, &cards, &card_keys, &touches).await?;
    Ok(merge(batch, &articles, recs, card_out, &relations))
}

/// The outputs in batch order; only a pair's first article event reports its new relation.
fn merge(
    batch: &[RadarItem],
    articles: &[ArticleEvent],
    recs: Vec<ArticleRecorded>,
    card_out: Vec<Recorded>,
    relations: &radar::Relations,
) -> Vec<RadarOut> {
    let mut cards = card_out.into_iter();
    let mut arts = articles.iter().zip(recs);
    let mut seen = std::collections::HashSet::new();
    batch
        .iter()
        .filter_map(|i| match i {
            RadarItem::Card(_) => cards.next().map(RadarOut::Card),
            RadarItem::Article(_) => arts.next().map(|(e, rec)| {
                let key = (e.user_id, e.customer_id);
                let (created, energy) = relations.get(&key).copied().unwrap_or((false, 0.0));
                let new_relation = created && seen.insert(key);
                RadarOut::Article(ArticleOut {
                    rec,
                    new_relation,
                    energy,
                })
            }),
        })
        .collect()
}

/// The relation touch of each article event (its weight in the relation's AI energy).
fn touches(articles: &[ArticleEvent], recs: &[ArticleRecorded]) -> Vec<PairTouch> {
    articles
        .iter()
        .zip(recs)
        .map(|(e, r)| PairTouch {
            company_id: e.company_id,
            user_id: e.user_id,
            customer_id: e.customer_id,
            source: 2,
            weight: r.weight,
        })
        .collect()
}

/// A batch with article events and no praise in two round trips: `begin` (unless `open`: the
/// caller sent it) with the nodes' load, then every write and the `commit` pipelined (a failed statement makes the `commit`
/// a rollback, and the batch fails). Whatever fails between them rolls back before the
/// connection goes back to the pool.
async fn pipelined(
    db: &Client,
    articles: &[ArticleEvent],
    article_keys: &[i64],
    cards: &[NewEvent],
    card_keys: &[i64],
    open: bool,
) -> Result<(Vec<ArticleRecorded>, Vec<Recorded>, radar::Relations), ApiError> {
    let planned = async {
        let (ast, cst) = tokio::try_join!(
            article_spread::Statements::prepare(db),
            radar::Pipelined::prepare(db)
        )?;
        let (_, loaded) = tokio::try_join!(
            async {
                if open {
                    return Ok(());
                }
                db.batch_execute(radar::BEGIN).await.map_err(ApiError::from)
            },
            article_spread::load(db, &ast, articles),
        )?;
        Ok::<_, ApiError>((article_spread::apply(articles, loaded)?, ast, cst))
    };
    let (plan, ast, cst) = match planned.await {
        Ok(plan) => plan,
        Err(e) => {
            let _ = db.batch_execute("rollback").await;
            return Err(e);
        }
    };
    let touches = touches(articles, &plan.out);
    let written = tokio::try_join!(
        plan.write(db, &ast, articles, article_keys),
        cst.write(db, cards, card_keys, &touches),
        async { db.batch_execute("commit").await.map_err(ApiError::from) },
    );
    match written {
        Ok((_, (card_out, relations), _)) => Ok((plan.out, card_out, relations)),
        Err(e) => {
            // Ends the transaction if the error came before the `commit` was sent (after it,
            // this is a no-op with a warning).
            let _ = db.batch_execute("rollback").await;
            Err(e)
        }
    }
}

/// The event writer: batched lanes, or direct (one transaction per event, `ZGLD_RADAR_BATCH=0`).
#[derive(Clone)]
pub enum Radar {
    Batched(Batcher<RadarStore>),
    Direct(Pool),
}

impl Radar {
    pub fn start(pool: Pool, lanes: usize, batching: bool) -> Self {
        if batching {
            Radar::Batched(Batcher::start(RadarStore, pool, lanes, MAX_BATCH))
        } else {
            Radar::Direct(pool)
        }
    }

    /// Test hook: the next `n` batched writes commit, then report a failure.
    #[doc(hidden)]
    pub fn fail_after_commit(&self, n: usize) {
        if let Radar::Batched(b) = self {
            b.fail_after_commit(n);
        }
    }

    async fn submit(&self, item: RadarItem, spend: Option<&Spend>) -> Result<RadarOut, ApiError> {
        let job = RadarJob {
            item,
            spend: spend.cloned(),
        };
        let out = match self {
            Radar::Batched(b) => b.submit(job).await?,
            Radar::Direct(pool) => batch::write_now(&RadarStore, pool, job).await?,
        };
        if let RadarOut::Replayed = out {
            metrics::counter!("zgld_replay_refused_total").increment(1);
            tracing::info!("replayed event signature refused");
            return Err(ApiError::Replayed);
        }
        Ok(out)
    }

    /// Stores a card event.
    pub async fn store(&self, e: NewEvent) -> Result<Recorded, ApiError> {
        self.store_signed(e, None).await
    }

    /// Stores a card event, spending `spend` in its transaction (404 签名已使用 and nothing
    /// written when it was spent before).
    pub async fn store_signed(
        &self,
        e: NewEvent,
        spend: Option<&Spend>,
    ) -> Result<Recorded, ApiError> {
        match self.submit(RadarItem::Card(e), spend).await? {
            RadarOut::Card(r) => Ok(r),
            _ => Err(ApiError::Unexpected(anyhow::anyhow!(
                "radar writer: wrong result kind"
            ))),
        }
    }

    /// Stores an article event.
    pub async fn store_article(&self, e: ArticleEvent) -> Result<ArticleOut, ApiError> {
        self.store_article_signed(e, None).await
    }

    /// Stores an article event, spending `spend` in its transaction.
    pub async fn store_article_signed(
        &self,
        e: ArticleEvent,
        spend: Option<&Spend>,
    ) -> Result<ArticleOut, ApiError> {
        match self.submit(RadarItem::Article(e), spend).await? {
            RadarOut::Article(r) => Ok(r),
            _ => Err(ApiError::Unexpected(anyhow::anyhow!(
                "radar writer: wrong result kind"
            ))),
        }
    }
}

/// Records `action` by `customer` on salesperson `uid`'s card and pushes it to them, spending
/// the request's signature `spend` in the event's transaction (`auth::CustomerEvent`).
/// `source` is the relation's source if this creates it. 302 for a salesperson of another company.
pub async fn record(
    state: &AppState,
    customer: &Customer,
    spend: Option<&Spend>,
    uid: i64,
    action: i16,
    source: i16,
) -> Result<Recorded, ApiError> {
    if !action::is_valid(action) {
        return Err(ApiError::form("action 只能是 1-12"));
    }
    let user = state.people.user(state, uid).await?;
    if user.company_id != customer.company_id {
        return Err(ApiError::not_found());
    }
    let me = state.people.customer(state, customer.id).await?;
    let rec = state
        .radar
        .store_signed(
            NewEvent {
                company_id: customer.company_id,
                user_id: uid,
                customer_id: customer.id,
                action,
                source: if source == 2 { 2 } else { 1 },
                customer_name: me.username.clone(),
            },
            spend,
        )
        .await?;
    let frame = RadarFrame::new(
        &rec.log,
        &me.username,
        &me.headimgurl,
        Some(ai::rate(rec.energy)),
        rec.new_relation,
    );
    metrics::counter!("zgld_radar_events_total").increment(1);
    state
        .hub
        .publish(&[Target::User(uid)], Utf8Bytes::from(frame.encode(false)?));
    Ok(rec)
}

/// A `radar` frame (docs/realtime.md): the QYW-37 row plus the action code and name, the
/// customer's name and the AI close rate right after it (`None` in replays). Serialized
/// straight from borrowed fields: this is on the hot path of every event.
#[derive(Serialize)]
pub struct RadarFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    event: RadarEvent<'a>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    replay: bool,
}

#[derive(Serialize)]
struct RadarEvent<'a> {
    id: i64,
    user_id: i64,
    customer_id: i64,
    #[serde(rename = "customer__username")]
    customer_username: &'a str,
    headimgurl: &'a str,
    action: i16,
    action_name: &'static str,
    log: &'a str,
    create_date: String,
    ai_pr: Option<i16>,
    new_customer: bool,
}

impl<'a> RadarFrame<'a> {
    pub fn new(
        log: &'a LogRow,
        customer: &'a str,
        headimgurl: &'a str,
        ai_pr: Option<i16>,
        new_customer: bool,
    ) -> Self {
        RadarFrame {
            kind: "radar",
            event: RadarEvent {
                id: log.id,
                user_id: log.user_id,
                customer_id: log.customer_id,
                customer_username: customer,
                headimgurl,
                action: log.action,
                action_name: action::name(log.action).unwrap_or(""),
                log: &log.log,
                create_date: time::iso(log.create_date),
                ai_pr,
                new_customer,
            },
            replay: false,
        }
    }

    /// The frame's JSON text; `replay` marks frames of a `radar_resume`.
    pub fn encode(mut self, replay: bool) -> Result<String, ApiError> {
        self.replay = replay;
        serde_json::to_string(&self).map_err(|e| ApiError::Unexpected(e.into()))
    }
}
