//! ADM-34: the WeCom contacts (通讯录) sync. Reads the whole directory first
//! (`gettoken`, `department/list`, `user/list` with `fetch_child=1` from each root), then
//! writes in steps that are each one transaction and each leave consistent rows:
//! 1. departments (upsert by WeCom id, parents, delete the ones gone);
//! 2. members no longer listed are disabled (status 2, marked `wecom_left`), freeing cards;
//! 3. one transaction per listed member: create (enabled while the card quota allows,
//!    otherwise disabled and reported), update what differs, link departments, and re-enable
//!    a returning member the sync had disabled.
//!
//! Each step also adds its counts to the run's `tongxunlu_sync` row in the same transaction,
//! then pushes a `tongxunlu_sync` frame to the admin's WebSocket: progress is visible while
//! it runs (`GET …/user/sync_user_tongxunlu_status/{company_id}`). One run per company at a
//! time (a PostgreSQL advisory lock held by a transaction, so a dead node releases it).
//! The run is a task of its own: a client that hangs up does not cut it short.

use std::collections::HashSet;

use axum::extract::ws::Utf8Bytes;
use serde_json::{json, Value};

use crate::{
    auth::Staff,
    db::{
        self,
        tongxunlu::{Profile, RunRow, Tally},
    },
    domain::role::MEMBER_ROLE,
    error::ApiError,
    hub::Target,
    state::AppState,
    wechat::{WecomDepartment, WecomUser},
};

/// ADM-34: runs the sync for `company_id` (the caller's own, or any for the operator) and
/// answers with the finished run. A WeChat error passes through (`同步通讯录报错: …`).
pub async fn sync(state: &AppState, caller: &Staff, company_id: i64) -> Result<RunRow, ApiError> {
    crate::service::company::visible(state, caller, company_id).await?;
    let (corp_id, secret) = {
        let db = state.db.get().await?;
        db::tongxunlu::credentials(&db, company_id)
            .await?
            .ok_or_else(|| ApiError::form("请先设置企业微信通讯录的 corp_id 和 secret"))?
    };
    let state = state.clone();
    let started_by = caller.id;
    let task = tokio::spawn(async move {
        let mut lock_client = state.db.get().await?;
        let lock = lock_client.transaction().await?;
        if !db::tongxunlu::try_lock(&lock, company_id).await? {
            return Err(ApiError::form("通讯录同步正在进行中,请稍后查看同步状态"));
        }
        let run = {
            let db = state.db.get().await?;
            db::tongxunlu::start_run(&db, company_id, started_by).await?
        };
        let job = Job {
            state: &state,
            company_id,
            run,
            started_by,
        };
        let outcome = job.execute(&corp_id, &secret).await;
        let error = outcome.as_ref().err().map(|e| e.msg().into_owned());
        let db = state.db.get().await?;
        db::tongxunlu::finish_run(&db, run, error.as_deref()).await?;
        job.push(&db).await;
        lock.rollback().await?;
        outcome?;
        db::tongxunlu::run(&db, company_id, run)
            .await?
            .ok_or_else(ApiError::not_found)
    });
    task.await
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("contacts sync task: {e}")))?
}

/// The latest run of the company (302 when there has been none).
pub async fn status(state: &AppState, caller: &Staff, company_id: i64) -> Result<RunRow, ApiError> {
    crate::service::company::visible(state, caller, company_id).await?;
    let db = state.db.get().await?;
    db::tongxunlu::latest_run(&db, company_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("尚未同步过通讯录".into()))
}

/// A run as the API shows it (ADM-34's `data`, the status endpoint, the WebSocket frame).
pub fn run_json(r: &RunRow) -> Value {
    json!({
        "sync_id": r.id,
        "company_id": r.company_id,
        "status": r.status,
        "phase": r.phase,
        "total": r.total,
        "processed": r.processed,
        "departments": r.departments,
        "created": r.created,
        "updated": r.updated,
        "disabled": r.disabled,
        "enabled": r.enabled,
        "unchanged": r.unchanged,
        "over_quota": r.over_quota,
        "error": r.error,
        "start_date": crate::domain::time::iso(r.started_at),
        "end_date": r.finished_at.map(crate::domain::time::iso),
    })
}

struct Job<'a> {
    state: &'a AppState,
    company_id: i64,
    run: i64,
    started_by: i64,
}

impl Job<'_> {
    async fn execute(&self, corp_id: &str, secret: &str) -> Result<(), ApiError> {
        let wx = &self.state.wechat;
        let op = "同步通讯录";
        let departments = wx
            .wecom_department_list(corp_id, secret)
            .await
            .map_err(|e| ApiError::wechat(op, e))?;
        let members = fetch_members(self.state, corp_id, secret, &departments).await?;
        metrics::counter!("zgld_tongxunlu_sync_runs_total").increment(1);

        // 1. departments
        let mut client = self.state.db.get().await?;
        let tx = client.transaction().await?;
        let rows: Vec<(i64, String, i64)> = departments
            .iter()
            .map(|d| (d.id, d.name.clone(), d.parentid))
            .collect();
        let changed = db::tongxunlu::sync_departments(&tx, self.company_id, &rows).await?;
        let total = i32::try_from(members.len()).unwrap_or(i32::MAX);
        db::tongxunlu::set_phase(&tx, self.run, "leavers", Some(total)).await?;
        db::tongxunlu::add_tally(
            &tx,
            self.run,
            &Tally {
                departments: changed,
                ..Tally::default()
            },
        )
        .await?;
        tx.commit().await?;
        self.push(&client).await;

        // 2. members who left
        let listed: Vec<String> = members.iter().map(|m| m.userid.clone()).collect();
        let tx = client.transaction().await?;
        let gone =
            db::tongxunlu::disable_leavers(&tx, self.company_id, &listed, self.started_by).await?;
        db::tongxunlu::set_phase(&tx, self.run, "users", None).await?;
        db::tongxunlu::add_tally(
            &tx,
            self.run,
            &Tally {
                disabled: i32::try_from(gone.len()).unwrap_or(i32::MAX),
                ..Tally::default()
            },
        )
        .await?;
        tx.commit().await?;
        for id in &gone {
            self.state.auth_cache.forget_staff(*id);
        }
        self.push(&client).await;

        // 3. one member per transaction
        for m in &members {
            let tx = client.transaction().await?;
            let tally = self.member(&tx, m).await?;
            db::tongxunlu::add_tally(&tx, self.run, &tally).await?;
            tx.commit().await?;
            self.push(&client).await;
        }
        Ok(())
    }

    /// One member in the step's transaction; what it did.
    async fn member(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        m: &WecomUser,
    ) -> Result<Tally, ApiError> {
        let gender = m
            .gender
            .and_then(|g| i16::try_from(g).ok())
            .filter(|g| *g == 1 || *g == 2);
        let some = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
        let (position, mobile, email, avatar) = (
            some(&m.position),
            some(&m.mobile),
            some(&m.email),
            some(&m.avatar),
        );
        let profile = Profile {
            name: if m.name.is_empty() {
                &m.userid
            } else {
                &m.name
            },
            position: position.as_deref(),
            gender,
            mobile: mobile.as_deref(),
            email: email.as_deref(),
            avatar: avatar.as_deref(),
        };
        let mut t = Tally {
            processed: 1,
            ..Tally::default()
        };
        let over = || json!({"userid": m.userid, "name": profile.name});
        let mut known = db::tongxunlu::lock_member(tx, self.company_id, &m.userid).await?;
        if known.is_none() {
            if let Some(mobile) = mobile.as_deref() {
                known = db::tongxunlu::lock_local_by_mobile(tx, self.company_id, mobile).await?;
                if let Some(local) = &known {
                    db::tongxunlu::adopt(tx, local.id, &m.userid).await?;
                    t.updated = 1;
                }
            }
        }
        match known {
            None => {
                let fits = db::user::check_quota(tx, self.company_id, None)
                    .await
                    .is_ok();
                let id = db::user::insert(
                    tx,
                    &db::user::NewStaff {
                        company_id: self.company_id,
                        role_id: MEMBER_ROLE,
                        userid: Some(m.userid.clone()),
                        login_user: None,
                        username: profile.name.to_owned(),
                        password_hash: None,
                        status: if fits { 1 } else { 2 },
                        position: position.clone(),
                        avatar: avatar.clone(),
                        gender,
                        phone: mobile.clone(),
                        email: email.clone(),
                    },
                )
                .await?;
                db::tongxunlu::mark_from_wecom(tx, id, mobile.as_deref()).await?;
                db::tongxunlu::set_departments(tx, id, self.company_id, &m.department).await?;
                t.created = 1;
                if !fits {
                    t.over_quota.push(over());
                }
            }
            Some(row) => {
                let mut changed = db::tongxunlu::update_profile(tx, row.id, profile).await?;
                changed |=
                    db::tongxunlu::set_departments(tx, row.id, self.company_id, &m.department)
                        .await?;
                if row.wecom_left && row.status == 2 {
                    if db::user::check_quota(tx, self.company_id, Some(row.id))
                        .await
                        .is_ok()
                    {
                        db::tongxunlu::reenable(tx, row.id).await?;
                        t.enabled = 1;
                    } else {
                        t.over_quota.push(over());
                    }
                }
                if changed {
                    t.updated = 1;
                } else if t.enabled == 0 && t.updated == 0 {
                    t.unchanged = 1;
                }
            }
        }
        Ok(t)
    }

    /// The run's current state to the admin who started it (after a commit; best effort).
    async fn push(&self, db: &impl deadpool_postgres::GenericClient) {
        match db::tongxunlu::run(db, self.company_id, self.run).await {
            Ok(Some(r)) => {
                let mut frame = run_json(&r);
                if let Value::Object(m) = &mut frame {
                    m.insert("type".into(), json!("tongxunlu_sync"));
                }
                self.state.hub.publish(
                    &[Target::User(self.started_by)],
                    Utf8Bytes::from(frame.to_string()),
                );
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "contacts sync progress not pushed"),
        }
    }
}

/// Every member under the directory's roots (departments whose parent is not listed), once.
async fn fetch_members(
    state: &AppState,
    corp_id: &str,
    secret: &str,
    departments: &[WecomDepartment],
) -> Result<Vec<WecomUser>, ApiError> {
    let ids: HashSet<i64> = departments.iter().map(|d| d.id).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for root in departments.iter().filter(|d| !ids.contains(&d.parentid)) {
        let users = state
            .wechat
            .wecom_user_list(corp_id, secret, root.id, true)
            .await
            .map_err(|e| ApiError::wechat("同步通讯录", e))?;
        for u in users {
            if !u.userid.is_empty() && seen.insert(u.userid.clone()) {
                out.push(u);
            }
        }
    }
    Ok(out)
}
