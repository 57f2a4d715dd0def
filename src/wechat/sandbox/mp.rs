//! Official-account (公众号) endpoints of the sandbox (WECHAT.md A.2, A.5, A.6): the web-OAuth
//! code exchange `sns/oauth2/access_token`, `sns/userinfo`, and the JS-SDK ticket
//! `cgi-bin/ticket/getticket`. Codes follow G.2 (`sandbox-<openid>[.<suffix>]`, single use);
//! a code minted by the authorize page carries the scope it was asked for, any other code the
//! `snsapi_userinfo` scope. Tokens follow G.1 (`sbx_oat_<n>`, tickets `ticket@@@sandbox-<n>`).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::api::{app_token, check_minted, code_subject};
use super::config::{AppKind, AppSeed};
use super::state::SandboxState;
use super::upstream::{Host, Inbound, Outcome, Reply, Route};

/// What the official-account endpoints remember.
#[derive(Default)]
pub(crate) struct MpState {
    /// Web-OAuth access tokens: token → (appid, openid, scope, dies_at).
    web_tokens: HashMap<String, WebToken>,
    web_token_seq: u64,
    ticket_seq: u64,
}

struct WebToken {
    openid: String,
    scope: String,
    dies_at: i64,
}

/// The demo official account (the server's `ZGLD_GZH_APPID` / `ZGLD_GZH_SECRET` defaults).
pub fn demo_official_account() -> AppSeed {
    AppSeed {
        appid: "wxsandboxgzh".to_owned(),
        secret: "sandbox-gzh-secret".to_owned(),
        kind: AppKind::Mp,
        unionid: true,
        released_pages: Vec::new(),
    }
}

/// Profile fields `sns/userinfo` adds to a seeded user: (sex, province, city). Sandbox choice:
/// the demo users have fixed ones, anybody else 0 / "" / "".
fn profile(openid: &str) -> (i64, &'static str, &'static str) {
    match openid {
        "o_alice" => (2, "浙江", "杭州"),
        "o_bob" => (1, "山西", "运城"),
        "o_carol" => (2, "广东", "深圳"),
        _ => (0, "", ""),
    }
}

/// Endpoints of this module.
pub(crate) const ROUTES: &[Route] = &[
    Route::get(Host::Api, "/sns/oauth2/access_token", access_token),
    Route::get(Host::Api, "/sns/userinfo", userinfo),
    Route::get(Host::Api, "/cgi-bin/ticket/getticket", getticket),
];

/// The scope the authorize page was asked for when it minted `code` (recorded in the call log).
fn minted_scope(st: &SandboxState, code: &str) -> Option<String> {
    let needle = format!("code={code}&");
    st.calls.iter().rev().find_map(|c| {
        let loc = c.response.location.as_deref()?;
        (c.path == "/connect/oauth2/authorize"
            && (loc.contains(&needle) || loc.ends_with(&format!("code={code}"))))
        .then(|| c.query.get("scope").cloned())
        .flatten()
    })
}

/// `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code` (A.5).
fn access_token(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let appid = req.param("appid").ok_or(41002)?;
    let secret = req.param("secret").ok_or(41004)?;
    let code = req.param("code").ok_or(41008)?;
    if req.param("grant_type") != Some("authorization_code") {
        return Err(40002);
    }
    let app = st
        .seed
        .apps
        .iter()
        .find(|a| a.appid == appid)
        .ok_or(40013)?;
    if app.secret != secret {
        return Err(40125);
    }
    let unionid_enabled = app.unionid;
    if st.used_js_codes.contains(code) {
        return Err(40163);
    }
    let openid = code_subject(code).ok_or(40029)?.to_owned();
    check_minted(st, code)?;
    let user = st.seed.users.iter().find(|u| u.openid == openid);
    if user.is_none() && !st.seed.allow_unknown_openid {
        return Err(40029);
    }
    let unionid = user
        .and_then(|u| u.unionid.clone())
        .filter(|_| unionid_enabled);
    let scope = minted_scope(st, code).unwrap_or_else(|| "snsapi_userinfo".to_owned());
    st.used_js_codes.insert(code.to_owned());
    st.mp.web_token_seq += 1;
    let n = st.mp.web_token_seq;
    let token = format!("sbx_oat_{n}");
    let dies_at = st.clock.now() + st.seed.tokens.invalidate_after_secs;
    st.mp.web_tokens.insert(
        token.clone(),
        WebToken {
            openid: openid.clone(),
            scope: scope.clone(),
            dies_at,
        },
    );
    let mut body = json!({
        "access_token": token,
        "expires_in": st.clock.expires_in(st.seed.tokens.ttl_secs),
        "refresh_token": format!("sbx_ort_{n}"),
        "openid": openid,
        "scope": scope,
    });
    if let (Some(u), Some(obj)) = (unionid, body.as_object_mut()) {
        obj.insert("unionid".into(), Value::String(u));
    }
    Ok(Reply::ok(body))
}

/// `GET /sns/userinfo?access_token&openid&lang` (A.6): 48001 for a `snsapi_base` token.
fn userinfo(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let token = req.param("access_token").ok_or(41001)?;
    let openid = req.param("openid").ok_or(40003)?;
    let t = st.mp.web_tokens.get(token).ok_or(40001)?;
    if st.clock.now() >= t.dies_at {
        return Err(42001);
    }
    if t.openid != openid {
        return Err(40003);
    }
    if t.scope != "snsapi_userinfo" {
        return Err(48001);
    }
    let user = st.seed.users.iter().find(|u| u.openid == openid);
    let (sex, province, city) = profile(openid);
    let mut body = json!({
        "openid": openid,
        "nickname": user.map(|u| u.nickname.clone()).unwrap_or_else(|| openid.to_owned()),
        "sex": sex,
        "province": province,
        "city": city,
        "country": "中国",
        "headimgurl": user.map(|u| u.headimgurl.clone()).unwrap_or_default(),
        "privilege": [],
    });
    if let (Some(u), Some(obj)) = (user.and_then(|u| u.unionid.clone()), body.as_object_mut()) {
        obj.insert("unionid".into(), Value::String(u));
    }
    Ok(Reply::ok(body))
}

/// `GET /cgi-bin/ticket/getticket?access_token&type=jsapi` (A.2): a new ticket per call.
fn getticket(st: &mut SandboxState, req: &Inbound) -> Outcome {
    app_token(st, req)?;
    if req.param("type") != Some("jsapi") {
        return Err(40097);
    }
    st.mp.ticket_seq += 1;
    Ok(Reply::ok(json!({
        "errcode": 0,
        "errmsg": "ok",
        "ticket": format!("ticket@@@sandbox-{}", st.mp.ticket_seq),
        "expires_in": st.clock.expires_in(st.seed.tokens.ttl_secs),
    })))
}
