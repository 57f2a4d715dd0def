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

use crate::db::wx_platform as db;
use crate::state::AppState;
use crate::wechat::client::{slot_in, CachedToken, WechatError, DEFAULT_TOKEN_TTL_SECS};

/// Renew when this fraction of the lifetime is left (10 min of a 7200 s token). Chosen so a
/// renewal, which takes one round trip, always completes long before the old token dies;
/// WeChat keeps a replaced token working a few more minutes as well (WECHAT.md §0.5).
const RENEW_WHEN_LEFT: f64 = 1.0 / 12.0;

/// How often the background renewer looks for due tokens.
const RENEWER_PERIOD: Duration = Duration::from_secs(20);

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
    let answer = state
        .wechat
        .component_token(&cfg.appid, cfg.secret.expose(), &ticket)
        .await?;
    let (ttl, renew_in) = lifetimes(answer.expires_in);
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
    let cfg = state
        .settings
        .wechat
        .component
        .as_ref()
        .ok_or_else(no_platform)?;
    let slot_arc = slot_in(&state.wechat.inner.authorizer_tokens, appid, "");
    let mut slot = slot_arc.lock().await;
    if let Some(t) = slot.as_ref().filter(|t| Instant::now() < t.refresh_at) {
        return Ok(t.token.clone());
    }
    let mut client = state.db.get().await.map_err(store_error)?;
    if let Some(t) = db::fresh_authorizer_token(&client, appid)
        .await
        .map_err(store_error)?
    {
        let token = t.token.clone();
        *slot = Some(cached(t.token, t.fresh_secs));
        return Ok(token);
    }
    let not_authorized = || WechatError::Api {
        errcode: 61003,
        errmsg: "component is not authorized by this account".into(),
    };
    // The component token first, outside the row lock (it may itself wait for a renewal).
    let component = component_token(state).await?;
    let tx = client.transaction().await.map_err(store_error)?;
    let row = db::lock_authorizer(&tx, appid)
        .await
        .map_err(store_error)?
        .filter(|r| r.authorized)
        .ok_or_else(not_authorized)?;
    if let Some(t) = row.fresh {
        tx.commit().await.map_err(store_error)?;
        let token = t.token.clone();
        *slot = Some(cached(t.token, t.fresh_secs));
        return Ok(token);
    }
    let refresh = row.refresh_token.ok_or_else(not_authorized)?;
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
    let (ttl, renew_in) = lifetimes(answer.expires_in);
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
    Ok(token)
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

/// Saves the authorizer token that came with an authorization (`api_query_auth`).
pub async fn store_authorization(
    c: &impl deadpool_postgres::GenericClient,
    appid: &str,
    token: &str,
    refresh_token: &str,
    expires_in: Option<i64>,
) -> Result<(), tokio_postgres::Error> {
    let (ttl, renew_in) = lifetimes(expires_in);
    db::save_authorizer_token(c, appid, token, Some(refresh_token), ttl, renew_in).await
}

/// Background task of every node: renews the component token and authorizer tokens that fall
/// due within the next period, so tokens stay fresh without traffic. The row locks keep it
/// from racing the same task on other nodes or requests on this one.
pub async fn run_renewer(state: AppState) {
    let Some(cfg) = state.settings.wechat.component.clone() else {
        return;
    };
    let mut tick = tokio::time::interval(RENEWER_PERIOD);
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
        let due = match state.db.get().await {
            Ok(c) => db::authorizers_due(&c, RENEWER_PERIOD.as_secs_f64() * 2.0, 200)
                .await
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        for appid in due {
            if let Err(e) = authorizer_token(&state, &appid).await {
                tracing::warn!(appid, error = %e, "background authorizer token renewal failed");
            }
        }
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
}
