//! `component_access_token` and authorizer tokens: cached per node, stored in PostgreSQL,
//! renewed ahead of expiry by one node at a time.
//!
//! Each token has a *renewal time* at 11/12 of its lifetime (10 minutes before a 2-hour token
//! dies). A request reads this node's copy while it is before that time; otherwise it reads
//! the row, and if the row is due too, it locks the row (`select … for update`), looks again
//! (another node may have renewed meanwhile) and only then asks WeChat. So one renewal per
//! token runs at a time across the cluster, every waiter gets the renewed token, and since
//! the old token is replaced 10 minutes before it dies, no request is sent with an expired one.
//! When WeChat refuses a token anyway (revoked, clock trouble: 40001/42001), the caller marks
//! it due ([`component_token_rejected`]) and repeats its call once.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use futures_util::StreamExt;

use crate::db::wx_platform as db;
use crate::state::AppState;
use crate::wechat::client::{slot_in, CachedToken, WechatError, DEFAULT_TOKEN_TTL_SECS};

/// Renew when this fraction of the lifetime is left (10 min of a 7200 s token). Chosen so a
/// renewal, which takes one round trip, always completes long before the old token dies;
/// WeChat keeps a replaced token working a few more minutes as well (WECHAT.md §0.5).
const RENEW_WHEN_LEFT: f64 = 1.0 / 12.0;

/// Authorizer tokens one node's background renewer renews at once.
const RENEWER_CONCURRENCY: usize = 8;

fn store_error(e: impl Into<anyhow::Error>) -> WechatError {
    WechatError::Transport(e.into().context("token store"))
}

fn no_platform() -> WechatError {
    WechatError::Transport(anyhow!(
        "no third-party platform configured (ZGLD_COMPONENT_APPID)"
    ))
}

/// (ttl, renew_in) in seconds for an `expires_in` answer.
fn lifetimes(expires_in: Option<i64>) -> (f64, f64) {
    let ttl = expires_in
        .filter(|s| *s > 0)
        .map_or(DEFAULT_TOKEN_TTL_SECS as f64, |s| s as f64);
    (ttl, ttl * (1.0 - RENEW_WHEN_LEFT))
}

/// (ttl, renew_in) left *now* of a token WeChat issued in answer to a request sent at
/// `asked`: WeChat's `expires_in` counts from when it issued the token, so the time since we
/// asked (the round trip, and whatever the caller did before storing it) is taken off. Counting
/// from the moment of storing instead made tokens look younger than they were, by the
/// authorization's second call and its transaction (found by `tests/token_sim.rs`).
fn lifetimes_since(expires_in: Option<i64>, asked: Instant) -> (f64, f64) {
    let (ttl, renew_in) = lifetimes(expires_in);
    let age = asked.elapsed().as_secs_f64();
    (ttl - age, renew_in - age)
}

fn cached(token: String, fresh_secs: f64) -> CachedToken {
    CachedToken {
        token,
        refresh_at: Instant::now() + Duration::from_secs_f64(fresh_secs.max(0.0)),
    }
}

/// The component token (see the module doc).
pub async fn component_token(state: &AppState) -> Result<String, WechatError> {
    let cfg = state
        .settings
        .wechat
        .component
        .as_ref()
        .ok_or_else(no_platform)?;
    let mut slot = state.wechat.inner.component_token.lock().await;
    if let Some(t) = slot.as_ref().filter(|t| Instant::now() < t.refresh_at) {
        return Ok(t.token.clone());
    }
    let mut client = state.db.get().await.map_err(store_error)?;
    if let Some(t) = db::fresh_component_token(&client, &cfg.appid)
        .await
        .map_err(store_error)?
    {
        let token = t.token.clone();
        *slot = Some(cached(t.token, t.fresh_secs));
        return Ok(token);
    }
    let tx = client.transaction().await.map_err(store_error)?;
    let row = db::lock_component(&tx, &cfg.appid)
        .await
        .map_err(store_error)?;
    if let Some(t) = row.fresh {
        tx.commit().await.map_err(store_error)?;
        let token = t.token.clone();
        *slot = Some(cached(t.token, t.fresh_secs));
        return Ok(token);
    }
    let ticket = row.verify_ticket.ok_or_else(|| WechatError::Api {
        errcode: 61006,
        errmsg: "no component_verify_ticket received yet".into(),
    })?;
    let asked = Instant::now();
    let answer = state
        .wechat
        .component_token(&cfg.appid, cfg.secret.expose(), &ticket)
        .await?;
    let (ttl, renew_in) = lifetimes_since(answer.expires_in, asked);
    db::save_component_token(
        &tx,
        &cfg.appid,
        &answer.component_access_token,
        ttl,
        renew_in,
    )
    .await
    .map_err(store_error)?;
    tx.commit().await.map_err(store_error)?;
    metrics::counter!("zgld_wechat_token_renewals_total", "kind" => "component").increment(1);
    tracing::info!(ttl, "component_access_token renewed");
    let token = answer.component_access_token.clone();
    *slot = Some(cached(answer.component_access_token, renew_in));
    Ok(token)
}

/// WeChat refused `stale`: forget it here and make the stored one due, so the next
/// [`component_token`] renews it (once, whichever node gets there first).
pub async fn component_token_rejected(state: &AppState, stale: &str) {
    let Some(cfg) = state.settings.wechat.component.as_ref() else {
        return;
    };
    crate::wechat::client::drop_if_stale(&state.wechat.inner.component_token, stale).await;
    match state.db.get().await {
        Ok(c) => {
            if let Err(e) = db::component_token_rejected(&c, &cfg.appid, stale).await {
                tracing::warn!(error = %e, "could not mark the component token due");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not mark the component token due"),
    }
}

/// The authorizer token of `appid` (see the module doc). 61003 when the account is unknown or
/// has withdrawn its authorization.
pub async fn authorizer_token(state: &AppState, appid: &str) -> Result<String, WechatError> {
    authorizer_token_with(state, appid, Wait::ForRenewer)
        .await?
        .ok_or_else(|| WechatError::Transport(anyhow!("authorizer token row locked")))
}

/// What to do when another node holds the token's row (it is renewing it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Wait for it and take the token it got (requests).
    ForRenewer,
    /// Leave it to that node: `Ok(None)` (the background renewer, so nodes share the work).
    SkipLocked,
}

async fn authorizer_token_with(
    state: &AppState,
    appid: &str,
    wait: Wait,
) -> Result<Option<String>, WechatError> {
    let cfg = state
        .settings
        .wechat
        .component
        .as_ref()
        .ok_or_else(no_platform)?;
    let slot_arc = slot_in(&state.wechat.inner.authorizer_tokens, appid, "");
    let mut slot = slot_arc.lock().await;
    if let Some(t) = slot.as_ref().filter(|t| Instant::now() < t.refresh_at) {
        return Ok(Some(t.token.clone()));
    }
    {
        let client = state.db.get().await.map_err(store_error)?;
        if let Some(t) = db::fresh_authorizer_token(&client, appid)
            .await
            .map_err(store_error)?
        {
            let token = t.token.clone();
            *slot = Some(cached(t.token, t.fresh_secs));
            return Ok(Some(token));
        }
        // The connection goes back before the component token is fetched: holding one
        // while waiting for another could exhaust the pool under many renewals at once.
    }
    let not_authorized = || WechatError::Api {
        errcode: 61003,
        errmsg: "component is not authorized by this account".into(),
    };
    // The component token first, outside the row lock (it may itself wait for a renewal).
    let component = component_token(state).await?;
    let mut client = state.db.get().await.map_err(store_error)?;
    let tx = client.transaction().await.map_err(store_error)?;
    let Some(row) = db::lock_authorizer(&tx, appid, wait == Wait::SkipLocked)
        .await
        .map_err(store_error)?
    else {
        return match wait {
            Wait::SkipLocked => Ok(None),
            Wait::ForRenewer => Err(not_authorized()),
        };
    };
    if !row.authorized {
        return Err(not_authorized());
    }
    if let Some(t) = row.fresh {
        tx.commit().await.map_err(store_error)?;
        let token = t.token.clone();
        *slot = Some(cached(t.token, t.fresh_secs));
        return Ok(Some(token));
    }
    let refresh = row.refresh_token.ok_or_else(not_authorized)?;
    let asked = Instant::now();
    let answer = match state
        .wechat
        .refresh_authorizer_token(&component, &cfg.appid, appid, &refresh)
        .await
    {
        Err(e) if e.is_token_error() => {
            drop(tx);
            component_token_rejected(state, &component).await;
            return Err(e);
        }
        other => other?,
    };
    let (ttl, renew_in) = lifetimes_since(answer.expires_in, asked);
    db::save_authorizer_token(
        &tx,
        appid,
        &answer.authorizer_access_token,
        answer.authorizer_refresh_token.as_deref(),
        ttl,
        renew_in,
    )
    .await
    .map_err(store_error)?;
    tx.commit().await.map_err(store_error)?;
    metrics::counter!("zgld_wechat_token_renewals_total", "kind" => "authorizer").increment(1);
    tracing::info!(appid, ttl, "authorizer token renewed");
    let token = answer.authorizer_access_token.clone();
    *slot = Some(cached(answer.authorizer_access_token, renew_in));
    Ok(Some(token))
}

/// WeChat refused the authorizer token `stale` of `appid`: make it due (see
/// [`component_token_rejected`]).
pub async fn authorizer_token_rejected(state: &AppState, appid: &str, stale: &str) {
    forget_authorizer(state, appid, Some(stale)).await;
    match state.db.get().await {
        Ok(c) => {
            if let Err(e) = db::authorizer_token_rejected(&c, appid, stale).await {
                tracing::warn!(error = %e, "could not mark an authorizer token due");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not mark an authorizer token due"),
    }
}

/// Drops this node's copy of `appid`'s token (`None`: whatever it holds).
pub async fn forget_authorizer(state: &AppState, appid: &str, stale: Option<&str>) {
    let slot = slot_in(&state.wechat.inner.authorizer_tokens, appid, "");
    let mut held = slot.lock().await;
    if stale.is_none() || held.as_ref().map(|t| t.token.as_str()) == stale {
        *held = None;
    }
}

/// Saves the authorizer token that came with an authorization (`api_query_auth`, asked at
/// `asked`).
pub async fn store_authorization(
    c: &impl deadpool_postgres::GenericClient,
    appid: &str,
    token: &str,
    refresh_token: &str,
    expires_in: Option<i64>,
    asked: Instant,
) -> Result<(), tokio_postgres::Error> {
    let (ttl, renew_in) = lifetimes_since(expires_in, asked);
    db::save_authorizer_token(c, appid, token, Some(refresh_token), ttl, renew_in).await
}

/// Background task of every node: renews the component token and authorizer tokens that fall
/// due within the next period, so tokens stay fresh without traffic. The row locks keep it
/// from racing the same task on other nodes or requests on this one.
pub async fn run_renewer(state: AppState) {
    let Some(cfg) = state.settings.wechat.component.clone() else {
        return;
    };
    let period = state.settings.wechat.token_renewer;
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let has_ticket = match state.db.get().await {
            Ok(c) => c
                .query_opt(
                    "select 1 from wx_component where component_appid = $1 and verify_ticket is not null",
                    &[&cfg.appid],
                )
                .await
                .ok()
                .flatten()
                .is_some(),
            Err(_) => false,
        };
        if !has_ticket {
            continue;
        }
        if let Err(e) = component_token(&state).await {
            tracing::warn!(error = %e, "background component token renewal failed");
            continue;
        }
        // Only what is due now (a token is renewed once its renewal time has passed), several
        // at a time, skipping rows another node is renewing at this moment: the nodes share
        // the work instead of queueing behind each other's row locks.
        let due = match state.db.get().await {
            Ok(c) => db::authorizers_due(&c, 0.0, 500).await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        futures_util::stream::iter(due)
            .for_each_concurrent(RENEWER_CONCURRENCY, |appid| {
                let state = state.clone();
                async move {
                    if let Err(e) = authorizer_token_with(&state, &appid, Wait::SkipLocked).await {
                        tracing::warn!(appid, error = %e, "background authorizer token renewal failed");
                    }
                }
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_falls_due_ten_minutes_before_a_two_hour_token_dies() {
        assert_eq!(lifetimes(Some(7200)), (7200.0, 6600.0));
        assert_eq!(lifetimes(None), (7200.0, 6600.0));
        assert_eq!(lifetimes(Some(0)).0, 7200.0);
        let (ttl, renew) = lifetimes(Some(72));
        assert!(renew < ttl && renew > 60.0);
    }

    #[test]
    fn the_lifetime_counts_from_when_the_token_was_asked_for() {
        let asked = Instant::now() - Duration::from_secs(30);
        let (ttl, renew) = lifetimes_since(Some(7200), asked);
        assert!((7169.0..=7170.0).contains(&ttl), "{ttl}");
        assert!((6569.0..=6570.0).contains(&renew), "{renew}");
    }
}
