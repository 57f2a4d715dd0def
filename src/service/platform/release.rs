//! Code release to the companies' mini programs (代小程序, API.md 2.12 ADM-79..86, 1.10;
//! WECHAT.md §E; docs/wechat-platform.md "Code release").
//!
//! Every app has a release state (status 0–12 of API.md 1.10). An operation (commit, submit
//! for audit, poll the audit, withdraw, release, roll back) over many apps is a **batch**: a
//! row per app in PostgreSQL, worked on by a background task with bounded concurrency. The
//! request waits for it a while (`ZGLD_RELEASE_WAIT_SECS`) and answers when it is
//! over, else answers at once that it runs; its progress is in the batch rows
//! (`GET …/dai_xcx/batch/{id}`), in ADM-79, and pushed to the starter's WebSocket.
//!
//! - The button rules of 1.10 are the state machine: an operation acts only on apps whose
//!   status shows its button; an app already past the step (same version) is skipped, so a
//!   retried batch never redoes what is done.
//! - WeChat's rate limits (45009/45011) and transient failures back off (shared by the whole
//!   batch, doubling) and try again; token errors renew the token and repeat once
//!   ([`component::call_as`]). One app's failure is recorded on it and never stops the batch.
//! - The runner holds a lease on the batch, renewed while it works; a batch whose lease ran
//!   out (its node died) is taken over by another node's resumer and finishes the pending apps.

use std::future::Future;
use std::sync::{atomic::Ordering, Arc};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use chrono::Utc;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::auth::Staff;
use crate::db::wx_release::{self as db, AppRelease, Change};
use crate::domain::time;
use crate::error::ApiError;
use crate::hub::Target;
use crate::state::AppState;
use crate::wechat::{component, WechatClient, WechatError};

/// Folder of the experience (trial version) QR codes, relative to the static root
/// (ADM-79 example: `statics/zhugeleida/imgs/admin/qr_code/<appid>_<YYYYMMDD>_<HHMMSS>_QRCode.jpg`).
const QR_DIR: &str = "statics/zhugeleida/imgs/admin/qr_code";

/// An operation of ADM-81..86.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// ADM-81 `wxa/commit` + `wxa/get_qrcode`.
    Commit,
    /// ADM-82 `wxa/get_category` + `wxa/get_page` + `wxa/submit_audit`.
    Submit,
    /// ADM-83 `wxa/get_latest_auditstatus`.
    Poll,
    /// ADM-84 `wxa/undocodeaudit`.
    Undo,
    /// ADM-85 `wxa/release`.
    Release,
    /// ADM-86 `wxa/revertcoderelease`.
    Revert,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Commit => "commit",
            Op::Submit => "submit",
            Op::Poll => "poll",
            Op::Undo => "undo",
            Op::Release => "release",
            Op::Revert => "revert",
        }
    }

    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "commit" => Op::Commit,
            "submit" => Op::Submit,
            "poll" => Op::Poll,
            "undo" => Op::Undo,
            "release" => Op::Release,
            "revert" => Op::Revert,
            _ => return None,
        })
    }

    /// The operation's name in error messages (`<name>报错: <errcode> : <errmsg>`, A-49).
    pub fn name(self) -> &'static str {
        match self {
            Op::Commit => "上传小程序代码",
            Op::Submit => "提交审核代码",
            Op::Poll => "查询最新一次提交的审核状态",
            Op::Undo => "小程序审核撤回",
            Op::Release => "小程序发布",
            Op::Revert => "小程序回退",
        }
    }

    /// The success message of the endpoint.
    pub fn success(self) -> &'static str {
        match self {
            Op::Commit => "小程序帐号上传小程序代码成功",
            Op::Submit => "提交审核成功",
            Op::Poll => "查询最新一次提交的审核状态-执行完成",
            Op::Undo => "小程序审核撤回成功",
            Op::Release => "小程序发布成功",
            Op::Revert => "小程序回退成功",
        }
    }

    /// The status the app takes when the WeChat call fails (ADM-81..86 side effects).
    fn failed_status(self) -> Option<i16> {
        match self {
            Op::Commit => Some(2),
            Op::Submit => Some(3),
            Op::Poll => None,
            Op::Undo => Some(10),
            Op::Release => Some(8),
            Op::Revert => Some(12),
        }
    }

    /// The button the operation belongs to.
    fn button(self) -> &'static str {
        match self {
            Op::Commit => "提交代码",
            Op::Submit => "提交审核",
            Op::Poll => "审核中",
            Op::Undo => "审核撤回",
            Op::Release => "发布按钮",
            Op::Revert => "版本回退",
        }
    }
}

/// `status_text` of API.md 1.10.
pub fn status_text(status: i16) -> &'static str {
    match status {
        0 => "未上线过",
        1 => "代码上传成功",
        2 => "代码上传失败",
        3 => "提交审核报错",
        4 => "审核中",
        5 => "审核通过",
        6 => "审核未通过",
        7 => "上线成功",
        8 => "上线失败",
        9 => "审核撤回成功",
        10 => "审核撤回失败",
        11 => "版本回退成功",
        12 => "版本回退失败",
        _ => "",
    }
}

/// The buttons API.md 1.10 shows for `status` (status 0: A-47, upload only).
pub fn buttons(status: i16) -> &'static [&'static str] {
    match status {
        0 => &["提交代码"],
        1 => &["在线体验", "提交代码", "提交审核"],
        2 | 3 | 6 | 7 | 8 | 9 | 10 | 12 => &["在线体验", "提交代码", "版本回退"],
        11 => &["在线体验", "提交代码"],
        4 => &["在线体验", "审核撤回"],
        5 => &["提交代码", "发布按钮"],
        _ => &[],
    }
}

/// Whether `op` may act on an app in `status` (its button is shown; polling: under audit).
pub fn allowed(op: Op, status: i16) -> bool {
    match op {
        Op::Poll => status == 4,
        _ => buttons(status).contains(&op.button()),
    }
}

/// The parameters of ADM-81.
#[derive(Clone, Debug)]
pub struct CommitParams {
    pub template_id: i64,
    pub user_version: String,
    pub user_desc: String,
}

/// Whether `app` is already past the step `op` would make (same version): a retry skips it.
fn already_done(op: Op, app: &AppRelease, commit: Option<&CommitParams>) -> bool {
    let s = app.status;
    match op {
        Op::Commit => commit.is_some_and(|p| {
            matches!(s, 1 | 4 | 5 | 7)
                && app.template_id == Some(p.template_id)
                && app.user_version.as_deref() == Some(p.user_version.as_str())
                && app.user_desc.as_deref() == Some(p.user_desc.as_str())
                && app
                    .experience_qrcode
                    .as_deref()
                    .is_some_and(|q| !q.is_empty())
        }),
        Op::Submit => {
            matches!(s, 4 | 5)
                || (s == 7 && app.live_version.is_some() && app.live_version == app.user_version)
        }
        Op::Poll => false,
        Op::Undo => s == 9,
        Op::Release => s == 7 && app.live_version.is_some() && app.live_version == app.user_version,
        Op::Revert => s == 11,
    }
}

/// The caller's scope: `None` for the operator (every company), else its own company.
fn scope(caller: &Staff) -> Result<Option<i64>, ApiError> {
    caller.require_admin()?;
    Ok((!caller.is_operator()).then_some(caller.company_id))
}

/// ADM-79: the authorized mini programs the caller may see.
pub async fn list(
    state: &AppState,
    caller: &Staff,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<AppRelease>, i64), ApiError> {
    let only = scope(caller)?;
    let db = state.db.get().await?;
    Ok(db::list(&db, only, paging).await?)
}

/// One ADM-79 row (API.md 2.12) with the documented extensions (`buttons`, `batch_id`,
/// `errcode`, `errmsg`, `appid`).
pub fn app_json(a: &AppRelease) -> Value {
    json!({
        "id": a.id,
        "appid": a.appid,
        "belong_user": a.belong_user.clone().unwrap_or_default(),
        "company_id": a.company_id,
        "company_name": a.company_name,
        "version_num": a.version_num.clone().unwrap_or_default(),
        "template_id": a.template_id,
        "status": a.status,
        "status_text": status_text(a.status),
        "status_time": a.status_time.map(time::ymd_hm).unwrap_or_default(),
        "experience_qrcode": a.experience_qrcode.clone().unwrap_or_default(),
        "reason": a.reason,
        "buttons": buttons(a.status),
        "batch_id": a.batch_id,
        "errcode": a.last_errcode,
        "errmsg": a.last_errmsg.clone().unwrap_or_default(),
    })
}

/// ADM-80: the platform's code templates (`wxa/gettemplatelist`, passed through).
pub async fn templates(state: &AppState, caller: &Staff) -> Result<Vec<Value>, ApiError> {
    scope(caller)?;
    let wechat = state.wechat.clone();
    component::call(state, |token| {
        let wechat = wechat.clone();
        async move { wechat.template_list(&token).await }
    })
    .await
    .map_err(|e| ApiError::wechat("获取代码模版", e))
}

/// How a batch request ended (or that it still runs).
#[derive(Debug)]
pub struct Started {
    pub batch_id: i64,
    /// `None` while the batch still runs.
    pub outcome: Option<Outcome>,
}

/// A finished batch: counts and the first failure.
#[derive(Debug)]
pub struct Outcome {
    pub done: i32,
    pub skipped: i32,
    pub failed: i32,
    pub first_error: Option<(i64, String)>,
}

/// ADM-81..86: starts a batch of `op` over `app_ids` (ADM-83: every app under audit) and
/// waits for it up to the configured time. Unknown ids, and for a company admin the ids of
/// other companies, are refused as a whole (302) before anything runs.
pub async fn start(
    state: &AppState,
    caller: &Staff,
    op: Op,
    app_ids: Option<Vec<i64>>,
    commit: Option<CommitParams>,
) -> Result<Started, ApiError> {
    let only = scope(caller)?;
    let lease = state.settings.wechat.release.lease.as_secs_f64();
    let mut db = state.db.get().await?;
    let apps: Vec<(i64, i64)> = match (op, app_ids) {
        (Op::Poll, None) => {
            let ids = db::ids_in_status(&db, 4, only).await?;
            let rows = db::by_ids(&db, &ids, only).await?;
            rows.iter().map(|a| (a.id, a.company_id)).collect()
        }
        (_, None) => return Err(ApiError::form("app_ids_list 不能为空")),
        (_, Some(ids)) => {
            if ids.is_empty() {
                return Err(ApiError::form("app_ids_list 不能为空"));
            }
            let mut ids = ids;
            ids.sort_unstable();
            ids.dedup();
            let rows = db::by_ids(&db, &ids, only).await?;
            if rows.len() != ids.len() {
                return Err(ApiError::NotFound("小程序ID不存在或不属于本公司".into()));
            }
            rows.iter().map(|a| (a.id, a.company_id)).collect()
        }
    };
    let tx = db.transaction().await?;
    let batch_id = db::create(
        &tx,
        &db::NewBatch {
            op: op.as_str(),
            started_by: caller.id,
            company_id: caller.company_id,
            template_id: commit.as_ref().map(|c| c.template_id),
            user_version: commit.as_ref().map(|c| c.user_version.as_str()),
            user_desc: commit.as_ref().map(|c| c.user_desc.as_str()),
            lease_secs: lease,
        },
        &apps,
    )
    .await?;
    tx.commit().await?;
    drop(db);
    tracing::info!(
        batch_id,
        op = op.as_str(),
        apps = apps.len(),
        "code release batch started"
    );
    let runner = tokio::spawn(run(state.clone(), batch_id));
    let wait = state.settings.wechat.release.wait;
    let finished = tokio::time::timeout(wait, runner).await.is_ok();
    let outcome = if finished {
        let db = state.db.get().await?;
        let batch = db::get(&db, batch_id, None).await?;
        match batch.filter(|b| b.status == "done") {
            Some(b) => {
                let items = db::items(&db, batch_id, false).await?;
                let first_error = items.iter().find(|i| i.state == "failed").map(|i| {
                    (
                        i.errcode.unwrap_or(-1),
                        i.errmsg.clone().unwrap_or_default(),
                    )
                });
                Some(Outcome {
                    done: b.done,
                    skipped: b.skipped,
                    failed: b.failed,
                    first_error,
                })
            }
            None => None,
        }
    } else {
        None
    };
    Ok(Started { batch_id, outcome })
}

/// A batch and its items, if the caller may see it (its company's admins, the operator).
pub async fn batch(
    state: &AppState,
    caller: &Staff,
    id: i64,
) -> Result<(db::Batch, Vec<db::Item>), ApiError> {
    let only = scope(caller)?;
    let db = state.db.get().await?;
    let b = db::get(&db, id, only)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let items = db::items(&db, id, false).await?;
    Ok((b, items))
}

/// The JSON of a batch (the polling endpoint and the WebSocket frame).
pub fn batch_json(b: &db::Batch, items: &[db::Item]) -> Value {
    json!({
        "batch_id": b.id,
        "op": b.op,
        "status": b.status,
        "total": b.total,
        "done": b.done,
        "skipped": b.skipped,
        "failed": b.failed,
        "pending": b.total - b.done - b.skipped - b.failed,
        "resumed": b.resumed,
        "template_id": b.template_id,
        "user_version": b.user_version,
        "user_desc": b.user_desc,
        "create_date": time::ymd_hms(b.created_at),
        "finish_date": b.finished_at.map(time::ymd_hms),
        "apps": items.iter().map(item_json).collect::<Vec<_>>(),
    })
}

fn item_json(i: &db::Item) -> Value {
    json!({
        "id": i.authorizer_id,
        "company_id": i.company_id,
        "state": i.state,
        "attempts": i.attempts,
        "errcode": i.errcode,
        "errmsg": i.errmsg.clone().unwrap_or_default(),
        "status": i.status_after,
        "status_text": i.status_after.map(status_text).unwrap_or_default(),
    })
}

/// One app's outcome in a batch.
struct AppOutcome {
    id: i64,
    company_id: i64,
    change: Option<Change>,
    state: &'static str,
    tries: i32,
    error: Option<(i64, String)>,
    status_after: i16,
}

/// Outcomes gathered this long (or this many) are written in one transaction: a batch of
/// 1,000 apps at 150 WeChat calls/s made 150 commits/s, each taking the batch row's lock,
/// beside the chat it shares the node and the database with (docs/BENCHMARKS.md). An outcome
/// not yet written when the node dies leaves its item pending, and the resumer does it again,
/// as before for a node that died between WeChat's answer and the commit.
const RECORD_EVERY: Duration = Duration::from_millis(100);
const RECORD_MAX: usize = 256;

/// Writes a batch's outcomes in groups, then tells the starter's WebSocket of each.
struct Recorder {
    state: AppState,
    batch_id: i64,
    started_by: Option<i64>,
    op: Op,
}

impl Recorder {
    /// Until every sender is gone and the last group is written.
    async fn run(self, mut rx: tokio::sync::mpsc::UnboundedReceiver<AppOutcome>) {
        let mut group = Vec::new();
        while let Some(first) = rx.recv().await {
            group.push(first);
            let until = tokio::time::Instant::now() + RECORD_EVERY;
            while group.len() < RECORD_MAX {
                match tokio::time::timeout_at(until, rx.recv()).await {
                    Ok(Some(o)) => group.push(o),
                    Ok(None) | Err(_) => break,
                }
            }
            match self.write(&group).await {
                Ok(()) => group.iter().for_each(|o| self.push(o)),
                Err(e) => {
                    // One bad outcome must not keep the others of its group unrecorded.
                    tracing::warn!(batch_id = self.batch_id, size = group.len(), error = %e.msg(), "release steps not recorded as a group; one by one");
                    for o in &group {
                        match self.write(std::slice::from_ref(o)).await {
                            Ok(()) => self.push(o),
                            Err(e) => {
                                tracing::warn!(batch_id = self.batch_id, app = o.id, error = %e.msg(), "release step not recorded; left pending")
                            }
                        }
                    }
                }
            }
            group.clear();
        }
    }

    /// One outcome on its app's release row and its batch item (true if the item was still
    /// pending, so it counts).
    async fn record(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        o: &AppOutcome,
    ) -> Result<bool, tokio_postgres::Error> {
        if let Some(change) = &o.change {
            db::apply(tx, o.id, o.company_id, Some(self.batch_id), change).await?;
        }
        db::finish_item(
            tx,
            self.batch_id,
            o.id,
            o.state,
            o.tries,
            o.error.as_ref(),
            o.status_after,
        )
        .await
    }

    /// The outcomes on their apps, items and the batch's counters, in one transaction.
    async fn write(&self, group: &[AppOutcome]) -> Result<(), ApiError> {
        let mut client = self.state.db.get().await?;
        let tx = client.transaction().await?;
        // An app has one outcome per batch, so the group's apps are distinct and their
        // statements are pipelined on the transaction (each app's in order, the apps' rows
        // disjoint): about three round trips for the group instead of three per app. Should an
        // app appear twice, its outcomes are written one after the other, in order.
        let mut ids: Vec<i64> = group.iter().map(|o| o.id).collect();
        ids.sort_unstable();
        let distinct = ids.windows(2).all(|w| w[0] != w[1]);
        let counted = if distinct {
            futures_util::future::try_join_all(group.iter().map(|o| self.record(&tx, o))).await?
        } else {
            let mut counted = Vec::with_capacity(group.len());
            for o in group {
                counted.push(self.record(&tx, o).await?);
            }
            counted
        };
        let (mut done, mut skipped, mut failed) = (0, 0, 0);
        for (o, counted) in group.iter().zip(counted) {
            if counted {
                match o.state {
                    "done" => done += 1,
                    "skipped" => skipped += 1,
                    "failed" => failed += 1,
                    _ => {}
                }
            }
        }
        db::count_finished(&tx, self.batch_id, done, skipped, failed).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A `code_release` frame to the starter's WebSocket.
    fn push(&self, o: &AppOutcome) {
        let Some(user) = self.started_by else {
            return;
        };
        let frame = json!({
            "type": "code_release",
            "batch_id": self.batch_id,
            "op": self.op.as_str(),
            "id": o.id,
            "state": o.state,
            "status": o.status_after,
            "status_text": status_text(o.status_after),
            "errcode": o.error.as_ref().map(|e| e.0),
            "errmsg": o.error.as_ref().map(|e| e.1.clone()).unwrap_or_default(),
        });
        self.state
            .hub
            .publish(&[Target::User(user)], Utf8Bytes::from(frame.to_string()));
    }
}

/// A shared pause for the whole batch after a rate limit.
struct Gate {
    until: std::sync::Mutex<Option<Instant>>,
}

impl Gate {
    async fn wait(&self) {
        loop {
            let until = *self.until.lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t.into()).await,
                _ => return,
            }
        }
    }

    fn pause(&self, d: Duration) {
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        let t = Instant::now() + d;
        if until.is_none_or(|u| u < t) {
            *until = Some(t);
        }
    }
}

/// Rate limits and WeChat's "system busy": back off and try again.
fn retryable(e: &WechatError) -> bool {
    match e.errcode() {
        Some(c) => matches!(c, 45009 | 45011 | -1),
        None => true,
    }
}

/// This node's pace of release calls to WeChat (`ZGLD_RELEASE_RATE`), shared by all its
/// batches: a release to a thousand apps is background work, and unpaced it takes the cores
/// from chat (docs/BENCHMARKS.md, fifth sitting: chat p99 ×3.3 while an unpaced batch ran).
/// The burst is a tenth of a second's calls, so the pace is even.
///
/// Callers queue (a FIFO `tokio` mutex) and only the head of the queue waits for the bucket,
/// on a `tokio` timer. `governor`'s own `until_ready` lets every waiter sleep until the next
/// cell and wake together, one to win and the rest to sleep again, on a timer thread of its
/// own: with a batch's 32 workers that was ~4,800 wake-ups a second across threads, on the
/// cores chat runs on (docs/BENCHMARKS.md, eighth sitting).
#[derive(Clone, Default)]
pub struct Pace(Option<Arc<PaceInner>>);

struct PaceInner {
    limiter: governor::RateLimiter<
        governor::state::NotKeyed,
        governor::state::InMemoryState,
        governor::clock::MonotonicClock,
    >,
    queue: tokio::sync::Mutex<()>,
    /// Times the bucket was asked (for the test of the queue).
    checks: std::sync::atomic::AtomicU64,
}

impl Pace {
    /// `per_sec` calls a second; 0: no pace.
    pub fn new(per_sec: u32) -> Self {
        Pace(std::num::NonZeroU32::new(per_sec).map(|n| {
            let burst =
                std::num::NonZeroU32::new(n.get() / 10).unwrap_or(std::num::NonZeroU32::MIN);
            Arc::new(PaceInner {
                limiter: governor::RateLimiter::direct_with_clock(
                    governor::Quota::per_second(n).allow_burst(burst),
                    governor::clock::MonotonicClock,
                ),
                queue: tokio::sync::Mutex::new(()),
                checks: std::sync::atomic::AtomicU64::new(0),
            })
        }))
    }

    /// Waits for this call's turn: first in the queue, then for the bucket.
    async fn turn(&self) {
        use governor::clock::Clock;
        let Some(p) = &self.0 else {
            return;
        };
        let asked = Instant::now();
        let _head = p.queue.lock().await;
        loop {
            p.checks.fetch_add(1, Ordering::Relaxed);
            match p.limiter.check() {
                Ok(()) => break,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(governor::clock::MonotonicClock.now());
                    // The timer's granularity is a millisecond; a zero wait would spin.
                    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                }
            }
        }
        metrics::histogram!("zgld_release_pace_wait_seconds").record(asked.elapsed().as_secs_f64());
    }

    /// Times the bucket was asked so far.
    #[cfg(test)]
    fn checks(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |p| p.checks.load(Ordering::Relaxed))
    }
}

struct Runner {
    state: AppState,
    batch: db::Batch,
    op: Op,
    commit: Option<CommitParams>,
    gate: Gate,
    /// Outcomes to the batch's [`Recorder`].
    outcomes: tokio::sync::mpsc::UnboundedSender<AppOutcome>,
}

impl Runner {
    /// One WeChat call for `appid` with its authorizer token: token errors renew and repeat
    /// once (in `call_as`); rate limits and transient failures back off (the whole batch
    /// pauses, doubling per attempt) and try again up to the configured attempts.
    async fn wx<T, F, Fut>(&self, appid: &str, tries: &mut i32, f: F) -> Result<T, WechatError>
    where
        F: Fn(WechatClient, String) -> Fut,
        Fut: Future<Output = Result<T, WechatError>>,
    {
        let cfg = &self.state.settings.wechat.release;
        let mut attempt: u32 = 0;
        loop {
            self.gate.wait().await;
            self.state.release_pace.turn().await;
            *tries += 1;
            let wechat = self.state.wechat.clone();
            let r = component::call_as(&self.state, appid, |token| f(wechat.clone(), token)).await;
            match r {
                Err(e) if retryable(&e) && attempt + 1 < cfg.attempts => {
                    let backoff = cfg.backoff.saturating_mul(1 << attempt.min(10));
                    tracing::info!(
                        appid,
                        errcode = e.errcode(),
                        attempt,
                        "wechat busy, backing off"
                    );
                    self.gate.pause(backoff);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Works on one app; records the outcome on the app, the item and the batch in one
    /// transaction, then tells the starter's WebSocket.
    async fn item(&self, id: i64) {
        let app = match self.state.db.get().await {
            Ok(db) => db::one(&db, id).await,
            Err(e) => {
                tracing::warn!(error = %e, "release item: no database connection");
                return;
            }
        };
        let app = match app {
            Ok(Some(a)) => a,
            Ok(None) => {
                // The app withdrew its authorization meanwhile.
                let err = (61003, "该小程序已取消授权".to_owned());
                self.record(AppOutcome {
                    id,
                    company_id: 0,
                    change: None,
                    state: "failed",
                    tries: 0,
                    error: Some(err),
                    status_after: 0,
                });
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "release item: app not read");
                return;
            }
        };
        let mut tries = 0;
        let (state, change, error) = if already_done(self.op, &app, self.commit.as_ref()) {
            ("skipped", None, None)
        } else if !allowed(self.op, app.status) {
            if self.op == Op::Poll {
                ("skipped", None, None)
            } else {
                let msg = format!(
                    "小程序 {} 当前状态「{}」不可{}",
                    app.id,
                    status_text(app.status),
                    self.op.button()
                );
                ("failed", None, Some((303, msg)))
            }
        } else {
            match self.step(&app, &mut tries).await {
                Ok(change) => ("done", Some(change), None),
                Err((change, e)) => ("failed", change, Some(e)),
            }
        };
        let status_after = change.as_ref().and_then(|c| c.status).unwrap_or(app.status);
        self.record(AppOutcome {
            id,
            company_id: app.company_id,
            change,
            state,
            tries,
            error,
            status_after,
        });
    }

    /// Hands one app's outcome to the batch's recorder, which writes it with the others of
    /// its group.
    fn record(&self, outcome: AppOutcome) {
        let id = outcome.id;
        if self.outcomes.send(outcome).is_err() {
            tracing::warn!(
                batch_id = self.batch.id,
                app = id,
                "release step not recorded (recorder gone); left pending"
            );
        }
    }

    /// The WeChat side of one app's step; the change to record, or the change and the error.
    async fn step(
        &self,
        app: &AppRelease,
        tries: &mut i32,
    ) -> Result<Change, (Option<Change>, (i64, String))> {
        let op = self.op;
        let fail = |e: WechatError| {
            let err = wechat_error(op, &e);
            let change = op.failed_status().map(|s| Change {
                status: Some(s),
                error: Some(err.clone()),
                ..Change::default()
            });
            (change, err)
        };
        let appid = app.appid.as_str();
        match op {
            Op::Commit => {
                let p = self.commit.clone().ok_or_else(|| {
                    (
                        None,
                        (
                            303,
                            "缺少 template_id / user_version / user_desc".to_owned(),
                        ),
                    )
                })?;
                let same_version_committed = app.status == 1
                    && app.template_id == Some(p.template_id)
                    && app.user_version.as_deref() == Some(p.user_version.as_str())
                    && app.user_desc.as_deref() == Some(p.user_desc.as_str());
                if !same_version_committed {
                    let ext = ext_json(app);
                    self.wx(appid, tries, |w, t| {
                        let (ext, p) = (ext.clone(), p.clone());
                        async move {
                            w.code_commit(&t, p.template_id, &ext, &p.user_version, &p.user_desc)
                                .await
                        }
                    })
                    .await
                    .map_err(fail)?;
                }
                // The previous version's QR is cleared until this version's is stored.
                let committed = Change {
                    experience_qrcode: Some(String::new()),
                    status: Some(1),
                    template_id: Some(p.template_id),
                    user_version: Some(p.user_version.clone()),
                    user_desc: Some(p.user_desc.clone()),
                    version_num: Some(p.user_version.clone()),
                    reason: Some(String::new()),
                    ..Change::default()
                };
                // The experience QR: a failure here leaves the commit recorded (status 1) and
                // the step failed, so a retry only fetches the QR.
                let image = self
                    .wx(appid, tries, |w, t| async move { w.trial_qrcode(&t).await })
                    .await;
                let image = match image {
                    Ok(i) => i,
                    Err(e) => {
                        let err = wechat_error(op, &e);
                        let mut c = committed;
                        c.error = Some(err.clone());
                        return Err((Some(c), err));
                    }
                };
                let stamp = time::local(Utc::now()).format("%Y%m%d_%H%M%S");
                let relative = format!("{QR_DIR}/{appid}_{stamp}_QRCode.jpg");
                let key = object_store::path::Path::from(relative.as_str());
                if let Err(e) = self.state.storage.put(&key, image.into()).await {
                    tracing::warn!(error = %e, "experience QR not stored");
                    let err = (-1, "体验二维码保存失败".to_owned());
                    let mut c = committed;
                    c.error = Some(err.clone());
                    return Err((Some(c), err));
                }
                Ok(Change {
                    experience_qrcode: Some(relative),
                    ..committed
                })
            }
            Op::Submit => {
                let cats = self
                    .wx(
                        appid,
                        tries,
                        |w, t| async move { w.code_categories(&t).await },
                    )
                    .await
                    .map_err(fail)?;
                let pages = self
                    .wx(appid, tries, |w, t| async move { w.code_pages(&t).await })
                    .await
                    .map_err(fail)?;
                let page = pages
                    .iter()
                    .find(|p| p.as_str() == "pages/index/index")
                    .or_else(|| pages.first())
                    .cloned()
                    .unwrap_or_default();
                let mut item = json!({"address": page, "tag": "名片 销售", "title": "首页"});
                if let Some(c) = cats.first() {
                    item["first_class"] = json!(c.first_class);
                    item["second_class"] = json!(c.second_class);
                    item["first_id"] = json!(c.first_id);
                    item["second_id"] = json!(c.second_id);
                }
                let body = json!({"item_list": [item]});
                let submitted = self
                    .wx(appid, tries, |w, t| {
                        let body = body.clone();
                        async move { w.submit_audit(&t, &body).await }
                    })
                    .await;
                let auditid = match submitted {
                    Ok(id) => Some(id),
                    // Already under audit: a submission of ours whose answer was lost (a node
                    // died, a timeout) is taken as done when WeChat audits our version.
                    Err(e) if e.errcode() == Some(85009) => {
                        let latest = self
                            .wx(appid, tries, |w, t| async move {
                                w.latest_audit_status(&t).await
                            })
                            .await;
                        match latest {
                            Ok(l)
                                if matches!(l.status, 2 | 4)
                                    && l.user_version
                                        .as_ref()
                                        .is_none_or(|v| Some(v) == app.user_version.as_ref()) =>
                            {
                                l.auditid
                            }
                            _ => return Err(fail(e)),
                        }
                    }
                    Err(e) => return Err(fail(e)),
                };
                Ok(Change {
                    status: Some(4),
                    auditid,
                    reason: Some(String::new()),
                    stay_version: app.user_version.clone(),
                    ..Change::default()
                })
            }
            Op::Poll => {
                let l = self
                    .wx(appid, tries, |w, t| async move {
                        w.latest_audit_status(&t).await
                    })
                    .await
                    .map_err(fail)?;
                let status = match l.status {
                    0 => 5,
                    1 => 6,
                    3 => 9,
                    _ => 4,
                };
                Ok(Change {
                    status: Some(status),
                    reason: Some(l.reason.replace('\n', "<br>")),
                    ..Change::default()
                })
            }
            Op::Undo => {
                self.wx(
                    appid,
                    tries,
                    |w, t| async move { w.undo_code_audit(&t).await },
                )
                .await
                .map_err(fail)?;
                Ok(Change {
                    status: Some(9),
                    ..Change::default()
                })
            }
            Op::Release => {
                let r = self
                    .wx(appid, tries, |w, t| async move { w.release_code(&t).await })
                    .await;
                match r {
                    Ok(()) => {}
                    // Released already (a lost answer): the step is done.
                    Err(e) if e.errcode() == Some(85052) => {}
                    Err(e) => return Err(fail(e)),
                }
                Ok(Change {
                    status: Some(7),
                    released: true,
                    version_num: app.user_version.clone(),
                    ..Change::default()
                })
            }
            Op::Revert => {
                self.wx(appid, tries, |w, t| async move {
                    w.revert_code_release(&t).await
                })
                .await
                .map_err(fail)?;
                Ok(Change {
                    status: Some(11),
                    reverted: true,
                    ..Change::default()
                })
            }
        }
    }
}

/// `(errcode, "<errcode> : <errmsg>")` of a failed call; transport failures are -1.
fn wechat_error(op: Op, e: &WechatError) -> (i64, String) {
    match e {
        WechatError::Api { errcode, errmsg } => (*errcode, errmsg.clone()),
        WechatError::Transport(_) => {
            tracing::warn!(op = op.as_str(), error = %e, "wechat unreachable during a release step");
            (-1, "微信接口无法访问".to_owned())
        }
    }
}

/// The `ext_json` of a company's commit (A-48, template 1.0.1: "read data from ext; send the
/// company id at login"): the authorizer's appid and the company.
pub fn ext_json(app: &AppRelease) -> String {
    json!({
        "extAppid": app.appid,
        "ext": {"company_id": app.company_id, "company_name": app.company_name},
    })
    .to_string()
}

/// Runs (or resumes) batch `id` to the end: its pending apps, `concurrency` at a time, while
/// a companion task renews the lease. Apps whose outcome could not be written stay pending;
/// the lease is then dropped so a resumer tries again.
pub async fn run(state: AppState, id: i64) {
    let cfg = state.settings.wechat.release.clone();
    let loaded = async {
        let db = state.db.get().await?;
        let b = db::get(&db, id, None).await?;
        let items = db::items(&db, id, true).await?;
        Ok::<_, ApiError>((b, items))
    }
    .await;
    let (batch, items) = match loaded {
        Ok((Some(b), items)) => (b, items),
        Ok((None, _)) => return,
        Err(e) => {
            tracing::warn!(batch_id = id, error = %e.msg(), "release batch not loaded");
            return;
        }
    };
    let Some(op) = Op::parse(&batch.op) else {
        return;
    };
    let commit = match (op, batch.template_id, &batch.user_version, &batch.user_desc) {
        (Op::Commit, Some(t), Some(v), Some(d)) => Some(CommitParams {
            template_id: t,
            user_version: v.clone(),
            user_desc: d.clone(),
        }),
        _ => None,
    };
    let (outcomes, recorded) = tokio::sync::mpsc::unbounded_channel();
    let recorder = tokio::spawn(
        Recorder {
            state: state.clone(),
            batch_id: batch.id,
            started_by: batch.started_by,
            op,
        }
        .run(recorded),
    );
    let started_by = batch.started_by;
    let runner = Arc::new(Runner {
        state: state.clone(),
        batch,
        op,
        commit,
        gate: Gate {
            until: std::sync::Mutex::new(None),
        },
        outcomes,
    });
    let heartbeat = {
        let state = state.clone();
        let lease = cfg.lease;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                if let Ok(db) = state.db.get().await {
                    if let Err(e) = db::renew_lease(&db, id, lease.as_secs_f64()).await {
                        tracing::warn!(batch_id = id, error = %e, "release lease not renewed");
                    }
                }
            }
        })
    };
    futures_util::stream::iter(items)
        .for_each_concurrent(cfg.concurrency.max(1), |item| {
            let runner = runner.clone();
            async move { runner.item(item.authorizer_id).await }
        })
        .await;
    // The last sender goes with the runner: the recorder writes what it holds and ends.
    drop(runner);
    let _ = recorder.await;
    heartbeat.abort();
    let finished = match state.db.get().await {
        Ok(db) => {
            let done = db::finish_if_complete(&db, id).await;
            if !matches!(done, Ok(true)) {
                let _ = db::drop_lease(&db, id).await;
            }
            done.unwrap_or(false)
        }
        Err(_) => false,
    };
    if finished {
        tracing::info!(batch_id = id, "code release batch finished");
        if let (Some(user), Ok(db)) = (started_by, state.db.get().await) {
            if let (Ok(Some(b)), Ok(items)) = (
                db::get(&db, id, None).await,
                db::items(&db, id, false).await,
            ) {
                let mut frame = batch_json(&b, &items);
                frame["type"] = json!("code_release_batch");
                state
                    .hub
                    .publish(&[Target::User(user)], Utf8Bytes::from(frame.to_string()));
            }
        }
    }
}

/// Every node's resumer: takes over batches whose runner's lease ran out and finishes them.
pub async fn run_resumer(state: AppState) {
    let lease = state.settings.wechat.release.lease;
    let every = (lease / 3).max(Duration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        let claimed = match state.db.get().await {
            Ok(db) => db::claim_abandoned(&db, lease.as_secs_f64()).await,
            Err(_) => continue,
        };
        match claimed {
            Ok(Some(id)) => {
                tracing::info!(batch_id = id, "resuming an abandoned code release batch");
                tokio::spawn(run(state.clone(), id));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "release resumer"),
        }
    }
}

/// An audit result WeChat pushed to the message URL (E.13): `weapp_audit_success` → 5,
/// `weapp_audit_fail` → 6 with the reason, `weapp_audit_delay` → stays 4 with the reason.
/// Applied only to an app under audit. Returns the app id when something changed.
pub async fn audit_pushed(
    state: &AppState,
    appid: &str,
    event: &str,
    reason: &str,
) -> Result<Option<i64>, ApiError> {
    let status = match event {
        "weapp_audit_success" => Some(5),
        "weapp_audit_fail" => Some(6),
        "weapp_audit_delay" => None,
        _ => return Ok(None),
    };
    let db = state.db.get().await?;
    let changed = db::audit_result(&db, appid, status, &reason.replace('\n', "<br>")).await?;
    if let Some((id, company_id)) = changed {
        tracing::info!(
            appid,
            app = id,
            company_id,
            event,
            "audit result pushed by WeChat"
        );
    }
    Ok(changed.map(|c| c.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 32 workers share a pace of 200 calls/s: each call asks the bucket about once, or twice
    /// when it had to wait (not once per waiter per cell, as with every waiter sleeping on
    /// the bucket), and the pace holds.
    #[tokio::test]
    async fn workers_queue_for_the_pace_and_only_the_head_waits_for_the_bucket() {
        let pace = Pace::new(200);
        let t0 = Instant::now();
        let workers: Vec<_> = (0..32)
            .map(|_| {
                let pace = pace.clone();
                tokio::spawn(async move {
                    for _ in 0..5 {
                        pace.turn().await;
                    }
                })
            })
            .collect();
        for w in workers {
            w.await.expect("worker");
        }
        let calls = 32 * 5;
        // 160 calls at 200/s with a burst of 20: at least (160 - 20) / 200 s.
        assert!(
            t0.elapsed() >= Duration::from_millis(650),
            "{:?}",
            t0.elapsed()
        );
        assert!(
            pace.checks() <= 2 * calls + 10,
            "{} checks for {calls} calls",
            pace.checks()
        );
    }

    #[test]
    fn the_buttons_are_the_state_machine_of_api_1_10() {
        assert!(allowed(Op::Commit, 0));
        assert!(!allowed(Op::Commit, 4));
        assert!(allowed(Op::Submit, 1));
        for s in [0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] {
            assert!(!allowed(Op::Submit, s), "submit from {s}");
        }
        assert!(allowed(Op::Undo, 4) && !allowed(Op::Undo, 5));
        assert!(allowed(Op::Release, 5) && !allowed(Op::Release, 8));
        for s in [2, 3, 6, 7, 8, 9, 10, 12] {
            assert!(allowed(Op::Revert, s));
        }
        assert!(!allowed(Op::Revert, 11) && !allowed(Op::Revert, 1));
        assert_eq!(status_text(6), "审核未通过");
    }
}
