//! `open` host browser page: `connect/oauth2/authorize` mints a code and redirects back, as
//! WeChat does after the user agrees (G.4).

use url::Url;

use super::state::SandboxState;
use super::upstream::{Host, Inbound, Outcome, Reply, Route};

/// Endpoints of this module (the component authorization pages are in `component`).
pub(crate) const ROUTES: &[Route] = &[Route::get(
    Host::Open,
    "/connect/oauth2/authorize",
    authorize,
)];

/// `GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state[&agentid]`.
///
/// For the WeCom corpid it mints a WeCom code (member when `sandbox_user` is a known userid,
/// otherwise a non-member with that openid); for an `[[apps]]` appid a web / mini-program code.
/// The user comes from the `sandbox_user` parameter, then the cookie, then the first seeded
/// user. `sandbox_deny=1` redirects with `state` only.
pub(crate) fn authorize(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let Some(appid) = req.param("appid") else {
        return Ok(Reply::html_error("missing appid"));
    };
    let Some(mut target) = req.param("redirect_uri").and_then(|u| Url::parse(u).ok()) else {
        return Ok(Reply::html_error("missing or invalid redirect_uri"));
    };
    if req.param("response_type") != Some("code") {
        return Ok(Reply::html_error("response_type must be code"));
    }
    let scope = req.param("scope").unwrap_or_default();
    let chosen = req
        .param("sandbox_user")
        .map(str::to_owned)
        .or_else(|| req.sandbox_user_cookie.clone());

    let subject = if let Some(corp) = st.seed.wecom.as_ref().filter(|c| c.corpid == appid) {
        if !matches!(
            scope,
            "snsapi_base" | "snsapi_privateinfo" | "snsapi_userinfo"
        ) {
            return Ok(Reply::html_error("unsupported scope"));
        }
        let agentid = req.param("agentid");
        if scope == "snsapi_privateinfo" && agentid.is_none() {
            return Ok(Reply::html_error("snsapi_privateinfo requires agentid"));
        }
        if let Some(agentid) = agentid {
            if !corp.agents.iter().any(|a| a.agentid.to_string() == agentid) {
                return Ok(Reply::html_error("unknown agentid"));
            }
        }
        let user = chosen.or_else(|| corp.users.first().map(|u| u.userid.clone()));
        match user {
            Some(u) if corp.users.iter().any(|m| m.userid == u) => u,
            Some(u) => format!("ext-{}", u.trim_start_matches("ext-")),
            None => return Ok(Reply::html_error("no WeCom user to log in")),
        }
    } else if st.seed.apps.iter().any(|a| a.appid == appid) {
        let user = chosen.or_else(|| st.seed.users.first().map(|u| u.openid.clone()));
        match user {
            Some(u)
                if st.seed.allow_unknown_openid || st.seed.users.iter().any(|x| x.openid == u) =>
            {
                u
            }
            _ => return Ok(Reply::html_error("unknown or missing sandbox_user")),
        }
    } else {
        return Ok(Reply::html_error("unknown appid"));
    };

    let state = req.query.get("state").cloned().unwrap_or_default();
    if req.param("sandbox_deny") == Some("1") {
        target.query_pairs_mut().append_pair("state", &state);
        return Ok(Reply::Redirect(target.into()));
    }
    st.counters.minted_code += 1;
    let code = format!("sandbox-{subject}.sbx{}", st.counters.minted_code);
    let expires_at = st.clock.now() + st.seed.codes.ttl_secs;
    st.minted_codes.insert(code.clone(), expires_at);
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state);
    Ok(Reply::Redirect(target.into()))
}
