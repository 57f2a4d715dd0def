//! `api` host basics shared by the official account and the mini program: the app
//! `cgi-bin/token` (G.3), the token check of the other `api` endpoints, the `sandbox-<id>`
//! codes (G.2) and the session key. Product endpoints live in `wxa`, `component` (and `mp`).

use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::config::AppSeed;
use super::state::{SandboxState, TokenOwner, TokenRecord};
use super::upstream::{Host, Inbound, Outcome, Reply, Route};

/// Endpoints of this module.
pub(crate) const ROUTES: &[Route] = &[Route::get(Host::Api, "/cgi-bin/token", token)];

/// `GET /cgi-bin/token?grant_type=client_credential&appid&secret`: a new token per call; the
/// previous one keeps working for `oa_old_token_grace_secs`.
pub(crate) fn token(st: &mut SandboxState, req: &Inbound) -> Outcome {
    if req.param("grant_type") != Some("client_credential") {
        return Err(40002);
    }
    let appid = req.param("appid").ok_or(41002)?;
    let secret = req.param("secret").ok_or(41004)?;
    if find_app(st, appid)?.secret != secret {
        return Err(40001);
    }
    let now = st.clock.now();
    let grace_end = now + st.seed.tokens.oa_old_token_grace_secs;
    if let Some(old) = st.oa_current.get(appid).and_then(|t| st.tokens.get_mut(t)) {
        old.dies_at = old.dies_at.min(grace_end);
    }
    st.counters.oa_token += 1;
    let token = format!("sbx_at_{appid}_{}", st.counters.oa_token);
    st.tokens.insert(
        token.clone(),
        TokenRecord {
            owner: TokenOwner::App {
                appid: appid.to_owned(),
            },
            issued_at: now,
            dies_at: now + st.seed.tokens.invalidate_after_secs,
            revoked: false,
        },
    );
    st.oa_current.insert(appid.to_owned(), token.clone());
    Ok(Reply::ok(json!({
        "access_token": token,
        "expires_in": st.clock.expires_in(st.seed.tokens.ttl_secs),
    })))
}

/// Validates the `access_token` of an `api` call and returns the app it belongs to.
/// Missing → 41001; unknown, revoked or a WeCom token → 40001; past its death → 42001, except
/// a superseded `cgi-bin/token` token past its grace period, which is 40001 (G.3).
pub(crate) fn app_token<'a>(st: &'a SandboxState, req: &Inbound) -> Result<&'a AppSeed, i64> {
    let token = req.param("access_token").ok_or(41001)?;
    let record = st.tokens.get(token).filter(|r| !r.revoked).ok_or(40001)?;
    let TokenOwner::App { appid } = &record.owner else {
        return Err(40001);
    };
    if !record.alive(st.clock.now()) {
        let current = st.oa_current.get(appid).is_some_and(|t| t == token);
        return Err(if current { 42001 } else { 40001 });
    }
    find_app(st, appid).map_err(|_| 40001)
}

pub(crate) fn find_app<'a>(st: &'a SandboxState, appid: &str) -> Result<&'a AppSeed, i64> {
    st.seed.apps.iter().find(|a| a.appid == appid).ok_or(40013)
}

/// `sandbox-<id>` or `sandbox-<id>.<suffix>` → `<id>`, which must be `[A-Za-z0-9_-]+` (G.2).
pub(crate) fn code_subject(code: &str) -> Option<&str> {
    let rest = code.strip_prefix("sandbox-")?;
    let id = rest.split('.').next().unwrap_or_default();
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then_some(id)
}

/// Codes minted by the authorize page expire after `codes.ttl_secs` (→ 40029).
pub(crate) fn check_minted(st: &SandboxState, code: &str) -> Result<(), i64> {
    match st.minted_codes.get(code) {
        Some(expires_at) if st.clock.now() >= *expires_at => Err(40029),
        _ => Ok(()),
    }
}

/// `base64(sha256("session:" + appid + ":" + openid)[0..16])` (G.1).
pub fn session_key(appid: &str, openid: &str) -> String {
    let digest = Sha256::digest(format!("session:{appid}:{openid}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest.get(..16).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_subject_takes_the_text_before_the_first_dot() {
        assert_eq!(code_subject("sandbox-o_alice"), Some("o_alice"));
        assert_eq!(code_subject("sandbox-o_alice.2.x"), Some("o_alice"));
        assert_eq!(code_subject("sandbox-"), None);
        assert_eq!(code_subject("sandbox-bad!id"), None);
        assert_eq!(code_subject("081abcDEF"), None);
    }

    #[test]
    fn session_key_is_sixteen_bytes_of_base64() {
        let key = session_key("wxsandboxminiapp", "o_alice");
        assert_eq!(key.len(), 24);
        assert!(key.ends_with("=="));
        assert_ne!(key, session_key("wxsandboxminiapp", "o_bob"));
    }
}
