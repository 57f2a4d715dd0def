//! Radar events: a customer's action on a salesperson's card is stored durably (batched by
//! [`crate::service::batch`], or one transaction per event when batching is off), then pushed
//! to the salesperson's live connections through the hub, before the request answers.

use axum::extract::ws::Utf8Bytes;
use deadpool_postgres::{Client, Pool};
use serde::Serialize;

use crate::{
    auth::Customer,
    db::radar::{self, LogRow, NewEvent, Recorded},
    domain::{action, ai, time},
    error::ApiError,
    hub::Target,
    service::batch::{self, BatchStore, Batcher},
    state::AppState,
};

/// Most events in one transaction.
const MAX_BATCH: usize = 512;

pub struct RadarStore;

impl BatchStore for RadarStore {
    type Item = NewEvent;
    type Out = Recorded;
    const NAME: &'static str = "radar writer";

    /// Events of one salesperson share a lane: their counter rows are written by one lane
    /// at a time, and their order is kept.
    fn lane_key(e: &NewEvent) -> u64 {
        e.user_id as u64
    }

    async fn write(
        &self,
        db: &mut Client,
        batch: &[NewEvent],
        keys: &[i64],
    ) -> Result<Vec<Recorded>, ApiError> {
        radar::store_events_keyed(db, batch, keys).await
    }

    async fn recover(
        &self,
        db: &mut Client,
        batch: &[NewEvent],
        keys: &[i64],
    ) -> Result<Vec<Option<Recorded>>, ApiError> {
        radar::recorded_by_key(db, batch, keys).await
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

    pub async fn store(&self, e: NewEvent) -> Result<Recorded, ApiError> {
        match self {
            Radar::Batched(b) => b.submit(e).await,
            Radar::Direct(pool) => batch::write_now(&RadarStore, pool, e).await,
        }
    }
}

/// Records `action` by `customer` on salesperson `uid`'s card and pushes it to them.
/// `source` is the relation's source if this creates it. 302 for a salesperson of another company.
pub async fn record(
    state: &AppState,
    customer: &Customer,
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
        .store(NewEvent {
            company_id: customer.company_id,
            user_id: uid,
            customer_id: customer.id,
            action,
            source: if source == 2 { 2 } else { 1 },
            customer_name: me.username.clone(),
        })
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
