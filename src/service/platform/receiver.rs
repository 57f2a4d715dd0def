//! The receiver of WeChat's pushes to the platform (API.md §8 gap 2; WECHAT.md §D.1, §E.13):
//! the `component_verify_ticket` every 10 minutes, authorization changes (`authorized`,
//! `updateauthorized`, `unauthorized`) and, on the message URL, the events of authorized
//! accounts (code audit results). Every push is signed and encrypted (WXBizMsgCrypt); a push
//! that does not verify is refused before anything is read from it.

use std::collections::HashMap;

use serde::Deserialize;

use crate::db::wx_platform as db;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wechat::crypt::{parse_flat_xml, MsgCrypt};

/// The query WeChat adds to every push.
#[derive(Debug, Default, Deserialize)]
pub struct PushQuery {
    #[serde(default)]
    pub timestamp: String,
    #[serde(default)]
    pub nonce: String,
    #[serde(default)]
    pub msg_signature: String,
    #[serde(default)]
    pub signature: String,
    #[serde(default)]
    pub encrypt_type: String,
}

/// Verifies and decrypts one push; the decrypted document's fields by name.
pub fn open(
    state: &AppState,
    q: &PushQuery,
    body: &str,
) -> Result<HashMap<String, String>, ApiError> {
    let cfg = state
        .settings
        .wechat
        .component
        .as_ref()
        .ok_or_else(|| ApiError::illegal("no third-party platform configured"))?;
    let crypt = MsgCrypt::new(cfg.token.expose(), cfg.aes_key.expose(), &cfg.appid)
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("ZGLD_COMPONENT_AES_KEY: {e}")))?;
    let outer =
        parse_flat_xml(body).map_err(|e| ApiError::illegal(format!("push is not XML: {e}")))?;
    let encrypt = outer
        .get("Encrypt")
        .ok_or_else(|| ApiError::illegal("push without Encrypt"))?;
    let plain = crypt
        .open(&q.msg_signature, &q.timestamp, &q.nonce, encrypt)
        .map_err(|e| ApiError::illegal(format!("push refused: {e}")))?;
    parse_flat_xml(&plain).map_err(|e| ApiError::illegal(format!("decrypted push is not XML: {e}")))
}

/// What a component push asked for, for the log and the tests.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    Ticket,
    Authorized { appid: String },
    Unauthorized { appid: String },
    Ignored(String),
}

/// One push to the authorization event URL.
pub async fn component_event(
    state: &AppState,
    q: &PushQuery,
    body: &str,
) -> Result<Handled, ApiError> {
    let f = open(state, q, body)?;
    let field = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    let cfg = state
        .settings
        .wechat
        .component
        .as_ref()
        .ok_or_else(|| ApiError::illegal("no third-party platform configured"))?;
    let info_type = field("InfoType");
    let handled = match info_type {
        "component_verify_ticket" => {
            let ticket = field("ComponentVerifyTicket");
            if ticket.is_empty() {
                return Err(ApiError::illegal("ticket push without a ticket"));
            }
            let client = state.db.get().await?;
            db::store_ticket(&client, &cfg.appid, ticket).await?;
            Handled::Ticket
        }
        "authorized" | "updateauthorized" => {
            let appid = field("AuthorizerAppid").to_owned();
            let code = field("AuthorizationCode");
            if !code.is_empty() {
                // Finishes the authorization even when the admin's browser never comes back
                // to the callback; the callback then finds the code already used here.
                if let Err(e) = super::authorize::finish(state, code).await {
                    tracing::warn!(
                        appid,
                        code = e.code(),
                        "authorized push could not be completed"
                    );
                }
            }
            Handled::Authorized { appid }
        }
        "unauthorized" => {
            let appid = field("AuthorizerAppid").to_owned();
            let client = state.db.get().await?;
            let company = db::mark_unauthorized(&client, &appid).await?;
            super::token::forget_authorizer(state, &appid, None).await;
            tracing::info!(
                appid,
                company_id = company,
                "account withdrew its authorization"
            );
            Handled::Unauthorized { appid }
        }
        other => Handled::Ignored(other.to_owned()),
    };
    tracing::info!(info_type, "component push handled");
    Ok(handled)
}

/// One push to the message URL of authorized account `appid` (`…/message/$APPID$`): the
/// audit results of its code (E.13) update its release state; other messages are ignored.
pub async fn message_event(
    state: &AppState,
    appid: &str,
    q: &PushQuery,
    body: &str,
) -> Result<Handled, ApiError> {
    let f = open(state, q, body)?;
    let field = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    let event = field("Event");
    if field("MsgType") == "event" && event.starts_with("weapp_audit_") {
        super::release::audit_pushed(state, appid, event, field("Reason")).await?;
    }
    tracing::info!(event, "account message push handled");
    Ok(Handled::Ignored(event.to_owned()))
}
