//! Short-lived cache of the names and avatars shown beside chat messages, and of each
//! person's company for the tenancy check on every send. Entries live a minute: a renamed
//! salesperson shows the new name within that time.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use dashmap::DashMap;

use crate::{error::ApiError, state::AppState};

const TTL: Duration = Duration::from_secs(60);

/// What a chat row shows of the salesperson.
#[derive(Debug, Clone)]
pub struct UserCard {
    pub id: i64,
    pub company_id: i64,
    pub username: String,
    pub avatar: String,
    pub mingpian_phone: Option<String>,
    pub wechat: Option<String>,
}

/// What a chat row shows of the customer.
#[derive(Debug, Clone)]
pub struct CustomerCard {
    pub id: i64,
    pub company_id: i64,
    pub username: String,
    pub headimgurl: String,
}

/// The cache; cheap to clone.
#[derive(Clone, Default)]
pub struct People {
    users: Arc<DashMap<i64, (Instant, Arc<UserCard>)>>,
    customers: Arc<DashMap<i64, (Instant, Arc<CustomerCard>)>>,
    cards: Arc<DashMap<i64, (Instant, Arc<crate::db::card::CardStatic>)>>,
    /// Cards are trusted only while this node hears card changes (NOTIFY `zgld_card`,
    /// src/service/card_cache.rs): an edit on any node shows on every node at once.
    cards_live: Arc<AtomicBool>,
    /// Bumped by every card invalidation: a card read before one is not stored after it.
    cards_gen: Arc<AtomicU64>,
}

impl People {
    /// A salesperson's card (302 when there is none).
    pub async fn user(&self, state: &AppState, id: i64) -> Result<Arc<UserCard>, ApiError> {
        if let Some(e) = self.users.get(&id) {
            if e.0.elapsed() < TTL {
                return Ok(e.1.clone());
            }
        }
        let db = state.db.get().await?;
        let r = db
            .query_opt(
                "select id, company_id, username, avatar, mingpian_phone, wechat from user_profile where id = $1",
                &[&id],
            )
            .await?
            .ok_or_else(ApiError::not_found)?;
        let card = Arc::new(UserCard {
            id: r.get(0),
            company_id: r.get(1),
            username: r.get(2),
            avatar: r.get(3),
            mingpian_phone: r.get(4),
            wechat: r.get(5),
        });
        self.users.insert(id, (Instant::now(), card.clone()));
        Ok(card)
    }

    /// The static part of a salesperson's digital card (XCX-02; 302 when there is none).
    pub async fn card(
        &self,
        state: &AppState,
        id: i64,
    ) -> Result<Arc<crate::db::card::CardStatic>, ApiError> {
        let live = self.cards_live.load(Ordering::Acquire);
        if live {
            if let Some(e) = self.cards.get(&id) {
                if e.0.elapsed() < TTL {
                    return Ok(e.1.clone());
                }
            }
        }
        let generation = self.cards_gen.load(Ordering::Acquire);
        let db = state.db.get().await?;
        let card = Arc::new(
            crate::db::card::card_static(&db, id)
                .await?
                .ok_or_else(ApiError::not_found)?,
        );
        if live
            && self.cards_live.load(Ordering::Acquire)
            && self.cards_gen.load(Ordering::Acquire) == generation
        {
            self.cards.insert(id, (Instant::now(), card.clone()));
        }
        Ok(card)
    }

    /// Drops salesperson `id`'s cached card (this node; others hear the NOTIFY).
    pub fn forget_card(&self, id: i64) {
        self.cards_gen.fetch_add(1, Ordering::AcqRel);
        self.cards.remove(&id);
    }

    /// Applies one `zgld_card` payload: `u:<salesperson>`, `k:<company>`, else everything.
    pub fn apply_card_change(&self, payload: &str) {
        let parsed = payload
            .split_once(':')
            .and_then(|(k, id)| id.parse::<i64>().ok().map(|id| (k, id)));
        self.cards_gen.fetch_add(1, Ordering::AcqRel);
        match parsed {
            Some(("u", id)) => {
                self.cards.remove(&id);
            }
            Some(("k", company)) => self.cards.retain(|_, e| e.1.company_id != company),
            _ => self.cards.clear(),
        }
    }

    /// Whether card changes are heard; while not, cards are read from PostgreSQL every time.
    pub fn set_cards_live(&self, live: bool) {
        self.cards_gen.fetch_add(1, Ordering::AcqRel);
        self.cards.clear();
        self.cards_live.store(live, Ordering::Release);
    }

    /// Whether card changes are heard (tests wait for it).
    pub fn cards_live(&self) -> bool {
        self.cards_live.load(Ordering::Acquire)
    }

    /// Whether salesperson `id`'s card is cached (tests wait for a NOTIFY with it).
    pub fn holds_card(&self, id: i64) -> bool {
        self.cards.contains_key(&id)
    }

    /// A customer's card (302 when there is none).
    pub async fn customer(&self, state: &AppState, id: i64) -> Result<Arc<CustomerCard>, ApiError> {
        if let Some(e) = self.customers.get(&id) {
            if e.0.elapsed() < TTL {
                return Ok(e.1.clone());
            }
        }
        let db = state.db.get().await?;
        let r = db
            .query_opt("select id, company_id, coalesce(memo_name, username, ''), headimgurl from customer where id = $1", &[&id])
            .await?
            .ok_or_else(ApiError::not_found)?;
        let card = Arc::new(CustomerCard {
            id: r.get(0),
            company_id: r.get(1),
            username: r.get(2),
            headimgurl: r
                .get::<_, Option<String>>(3)
                .unwrap_or_else(|| "statics/imgs/setAvator.jpg".into()),
        });
        self.customers.insert(id, (Instant::now(), card.clone()));
        Ok(card)
    }
}
