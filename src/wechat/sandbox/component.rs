//! Open platform third-party platform (第三方平台, WECHAT.md §D, §G.3–G.5): component token,
//! pre-auth codes, the authorization pages, `api_query_auth`, authorizer tokens and info,
//! `sns/component/jscode2session`, and the encrypted pushes to the server's receiver.

use serde_json::{json, Map, Value};
use url::Url;

use super::api::{check_minted, code_subject, session_key};
use super::config::{AppKind, AuthorizerSeed, ComponentSeed};
use super::push;
use super::state::{Grant, SandboxState, TokenOwner, TokenRecord};
use super::upstream::{Host, Inbound, Outcome, Reply, Route};

/// Endpoints of this module.
pub(crate) const ROUTES: &[Route] = &[
    Route::post(
        Host::Api,
        "/cgi-bin/component/api_component_token",
        api_component_token,
    ),
    Route::post(
        Host::Api,
        "/cgi-bin/component/api_create_preauthcode",
        api_create_preauthcode,
    ),
    Route::post(
        Host::Api,
        "/cgi-bin/component/api_query_auth",
        api_query_auth,
    ),
    Route::post(
        Host::Api,
        "/cgi-bin/component/api_authorizer_token",
        api_authorizer_token,
    ),
    Route::post(
        Host::Api,
        "/cgi-bin/component/api_get_authorizer_info",
        api_get_authorizer_info,
    ),
    Route::get(Host::Api, "/sns/component/jscode2session", jscode2session),
    Route::get(Host::Mp, "/safe/bindcomponent", bindcomponent),
    Route::get(Host::Mp, "/cgi-bin/componentloginpage", bindcomponent),
];

/// Lifetime of an authorization code (D.5: `expires_in=600`).
const AUTH_CODE_TTL: i64 = 600;
/// Lifetime of a pre-auth code (§0.5: trust the returned 600).
const PRE_AUTH_TTL: i64 = 600;

fn seed(st: &SandboxState) -> Result<&ComponentSeed, i64> {
    st.seed.component.as_ref().ok_or(61011)
}

fn json_body(req: &Inbound) -> Result<Map<String, Value>, i64> {
    serde_json::from_slice(&req.body).map_err(|_| 47001)
}

fn field<'a>(body: &'a Map<String, Value>, name: &str, missing: i64) -> Result<&'a str, i64> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(missing)
}

/// The body's `component_appid` must be ours (61011).
fn check_component_appid(st: &SandboxState, body: &Map<String, Value>) -> Result<(), i64> {
    let appid = field(body, "component_appid", 41018)?;
    if appid != seed(st)?.appid {
        return Err(61011);
    }
    Ok(())
}

/// Checks `component_access_token` (or `access_token`, §D): missing → 41001, unknown or
/// revoked → 40001, another kind → 61014, dead → 42001.
pub(crate) fn component_token(st: &SandboxState, req: &Inbound) -> Result<(), i64> {
    let token = req
        .param("component_access_token")
        .or_else(|| req.param("access_token"))
        .ok_or(41001)?;
    let record = st.tokens.get(token).filter(|r| !r.revoked).ok_or(40001)?;
    if record.owner != TokenOwner::Component {
        return Err(61014);
    }
    if !record.alive(st.clock.now()) {
        return Err(42001);
    }
    Ok(())
}

/// Checks an `authorizer_access_token` in `access_token` and returns the authorizer's seed:
/// missing → 41001, unknown/revoked/another kind → 40001, dead → 42001, withdrawn → 61003.
pub(crate) fn authorizer<'a>(
    st: &'a SandboxState,
    req: &Inbound,
) -> Result<&'a AuthorizerSeed, i64> {
    let token = req.param("access_token").ok_or(41001)?;
    let record = st.tokens.get(token).filter(|r| !r.revoked).ok_or(40001)?;
    let TokenOwner::Authorizer { appid } = &record.owner else {
        return Err(40001);
    };
    if !record.alive(st.clock.now()) {
        return Err(42001);
    }
    if !st.component.grants.contains_key(appid) {
        return Err(61003);
    }
    find_authorizer(st, appid)
}

pub(crate) fn find_authorizer<'a>(
    st: &'a SandboxState,
    appid: &str,
) -> Result<&'a AuthorizerSeed, i64> {
    st.seed
        .authorizers
        .iter()
        .find(|a| a.appid == appid)
        .ok_or(40013)
}

/// `POST /cgi-bin/component/api_component_token` (D.3, G.3).
pub(crate) fn api_component_token(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let body = json_body(req)?;
    check_component_appid(st, &body)?;
    let secret = field(&body, "component_appsecret", 41004)?;
    let ticket = field(&body, "component_verify_ticket", 61006)?;
    let cfg = seed(st)?;
    if secret != cfg.appsecret {
        return Err(40125);
    }
    let ttl = cfg.ticket_ttl_secs;
    let now = st.clock.now();
    let pushed_at = *st.component.tickets.get(ticket).ok_or(61006)?;
    if now >= pushed_at + ttl {
        return Err(61005);
    }
    st.component.n_token += 1;
    let token = format!("sbx_cat_{}", st.component.n_token);
    st.tokens.insert(
        token.clone(),
        TokenRecord {
            owner: TokenOwner::Component,
            issued_at: now,
            dies_at: now + st.seed.tokens.invalidate_after_secs,
            revoked: false,
        },
    );
    Ok(Reply::ok(json!({
        "component_access_token": token,
        "expires_in": st.clock.expires_in(st.seed.tokens.ttl_secs),
    })))
}

/// `POST /cgi-bin/component/api_create_preauthcode` (D.4).
pub(crate) fn api_create_preauthcode(st: &mut SandboxState, req: &Inbound) -> Outcome {
    component_token(st, req)?;
    let body = json_body(req)?;
    check_component_appid(st, &body)?;
    st.component.n_pre_auth += 1;
    let code = format!("preauthcode@@@sandbox-{}", st.component.n_pre_auth);
    let expires = st.clock.now() + PRE_AUTH_TTL;
    st.component.pre_auth_codes.insert(code.clone(), expires);
    Ok(Reply::ok(
        json!({"pre_auth_code": code, "expires_in": st.clock.expires_in(PRE_AUTH_TTL)}),
    ))
}

/// Grants `appid` to the platform: a new refresh token, an authorization code, and the
/// `authorized` push queued for the event URL. Returns the code.
pub(crate) fn grant(
    st: &mut SandboxState,
    appid: &str,
    pre_auth_code: &str,
) -> Result<String, i64> {
    let seed = find_authorizer(st, appid)?.clone();
    let updated = st.component.grants.contains_key(appid);
    st.component.n_auth_code += 1;
    let n = st.component.n_auth_code;
    let code = format!("queryauthcode@@@sandbox-{appid}-{n}");
    let now = st.clock.now();
    st.component
        .auth_codes
        .insert(code.clone(), (appid.to_owned(), now + AUTH_CODE_TTL, false));
    st.component.grants.insert(
        appid.to_owned(),
        Grant {
            refresh_token: format!("sbx_art_{appid}_{n}"),
            func_ids: seed.func_ids.clone(),
        },
    );
    let info_type = if updated {
        "updateauthorized"
    } else {
        "authorized"
    };
    let component_appid = st.seed.component.as_ref().map(|c| c.appid.clone());
    let plaintext = format!(
        "<xml><AppId><![CDATA[{}]]></AppId><CreateTime>{now}</CreateTime><InfoType><![CDATA[{info_type}]]></InfoType><AuthorizerAppid><![CDATA[{appid}]]></AuthorizerAppid><AuthorizationCode><![CDATA[{code}]]></AuthorizationCode><AuthorizationCodeExpiredTime>{}</AuthorizationCodeExpiredTime><PreAuthCode><![CDATA[{pre_auth_code}]]></PreAuthCode></xml>",
        component_appid.unwrap_or_default(),
        now + AUTH_CODE_TTL,
    );
    push::queue_event(st, plaintext);
    Ok(code)
}

/// Withdraws `appid`'s authorization: tokens revoked, `unauthorized` pushed.
pub(crate) fn ungrant(st: &mut SandboxState, appid: &str) -> bool {
    if st.component.grants.remove(appid).is_none() {
        return false;
    }
    for record in st.tokens.values_mut() {
        if record.owner
            == (TokenOwner::Authorizer {
                appid: appid.to_owned(),
            })
        {
            record.revoked = true;
        }
    }
    let now = st.clock.now();
    let component_appid = st
        .seed
        .component
        .as_ref()
        .map(|c| c.appid.clone())
        .unwrap_or_default();
    push::queue_event(
        st,
        format!("<xml><AppId><![CDATA[{component_appid}]]></AppId><CreateTime>{now}</CreateTime><InfoType><![CDATA[unauthorized]]></InfoType><AuthorizerAppid><![CDATA[{appid}]]></AuthorizerAppid></xml>"),
    );
    true
}

/// `GET /mp/safe/bindcomponent` and `/mp/cgi-bin/componentloginpage` (D.5, G.4): the admin
/// "scans and agrees" at once. The authorizer is `biz_appid`, else `sandbox_authorizer`, else
/// the first allowed by `auth_type`; the `authorized` push is sent before the 302.
pub(crate) fn bindcomponent(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let Ok(cfg) = seed(st) else {
        return Ok(Reply::html_error("no component configured"));
    };
    if req.param("component_appid") != Some(cfg.appid.as_str()) {
        return Ok(Reply::html_error("unknown component_appid"));
    }
    let Some(pre) = req.param("pre_auth_code") else {
        return Ok(Reply::html_error("missing pre_auth_code"));
    };
    let now = st.clock.now();
    match st.component.pre_auth_codes.get(pre) {
        Some(expires) if now < *expires => {}
        _ => return Ok(Reply::html_error("pre_auth_code expired or unknown")),
    }
    let Some(mut target) = req.param("redirect_uri").and_then(|u| Url::parse(u).ok()) else {
        return Ok(Reply::html_error("missing or invalid redirect_uri"));
    };
    let auth_type = req.param("auth_type").unwrap_or("3");
    let allowed = |a: &AuthorizerSeed| match auth_type {
        "1" => a.kind == AppKind::Mp,
        "2" => a.kind == AppKind::Miniprogram,
        _ => true,
    };
    let chosen = req
        .param("biz_appid")
        .or_else(|| req.param("sandbox_authorizer"))
        .map(str::to_owned)
        .or_else(|| {
            st.seed
                .authorizers
                .iter()
                .find(|a| allowed(a))
                .map(|a| a.appid.clone())
        });
    let Some(appid) = chosen else {
        return Ok(Reply::html_error("no authorizer to choose"));
    };
    match find_authorizer(st, &appid) {
        Ok(a) if allowed(a) => {}
        Ok(_) => return Ok(Reply::html_error("account kind not allowed by auth_type")),
        Err(_) => return Ok(Reply::html_error("unknown authorizer")),
    }
    let code = grant(st, &appid, pre).map_err(|_| -1)?;
    target
        .query_pairs_mut()
        .append_pair("auth_code", &code)
        .append_pair(
            "expires_in",
            &st.clock.expires_in(AUTH_CODE_TTL).to_string(),
        );
    Ok(Reply::Redirect(target.to_string()))
}

/// Issues an authorizer token for `appid`.
fn issue_authorizer_token(st: &mut SandboxState, appid: &str) -> String {
    st.component.n_authorizer_token += 1;
    let token = format!("sbx_aat_{appid}_{}", st.component.n_authorizer_token);
    let now = st.clock.now();
    st.tokens.insert(
        token.clone(),
        TokenRecord {
            owner: TokenOwner::Authorizer {
                appid: appid.to_owned(),
            },
            issued_at: now,
            dies_at: now + st.seed.tokens.invalidate_after_secs,
            revoked: false,
        },
    );
    token
}

fn func_info(ids: &[i64]) -> Value {
    json!(ids
        .iter()
        .map(|id| json!({"funcscope_category": {"id": id}}))
        .collect::<Vec<_>>())
}

/// `POST /cgi-bin/component/api_query_auth` (D.6): 61009 unknown code, 61010 used or expired.
pub(crate) fn api_query_auth(st: &mut SandboxState, req: &Inbound) -> Outcome {
    component_token(st, req)?;
    let body = json_body(req)?;
    check_component_appid(st, &body)?;
    let code = field(&body, "authorization_code", 61009)?.to_owned();
    let now = st.clock.now();
    let (appid, expires, used) = st.component.auth_codes.get(&code).cloned().ok_or(61009)?;
    if used || now >= expires {
        return Err(61010);
    }
    let grant = st.component.grants.get(&appid).cloned().ok_or(61010)?;
    if let Some(entry) = st.component.auth_codes.get_mut(&code) {
        entry.2 = true;
    }
    let token = issue_authorizer_token(st, &appid);
    Ok(Reply::ok(json!({"authorization_info": {
        "authorizer_appid": appid,
        "authorizer_access_token": token,
        "expires_in": st.clock.expires_in(st.seed.tokens.ttl_secs),
        "authorizer_refresh_token": grant.refresh_token,
        "func_info": func_info(&grant.func_ids),
    }})))
}

/// `POST /cgi-bin/component/api_authorizer_token` (D.7): 61003 withdrawn, 61023 unknown
/// refresh token.
pub(crate) fn api_authorizer_token(st: &mut SandboxState, req: &Inbound) -> Outcome {
    component_token(st, req)?;
    let body = json_body(req)?;
    check_component_appid(st, &body)?;
    let appid = field(&body, "authorizer_appid", 40013)?.to_owned();
    let refresh = field(&body, "authorizer_refresh_token", 61023)?;
    find_authorizer(st, &appid)?;
    let grant = st.component.grants.get(&appid).ok_or(61003)?;
    if grant.refresh_token != refresh {
        return Err(61023);
    }
    let refresh = grant.refresh_token.clone();
    let token = issue_authorizer_token(st, &appid);
    Ok(Reply::ok(json!({
        "authorizer_access_token": token,
        "expires_in": st.clock.expires_in(st.seed.tokens.ttl_secs),
        "authorizer_refresh_token": refresh,
    })))
}

/// `POST /cgi-bin/component/api_get_authorizer_info` (D.8).
pub(crate) fn api_get_authorizer_info(st: &mut SandboxState, req: &Inbound) -> Outcome {
    component_token(st, req)?;
    let body = json_body(req)?;
    check_component_appid(st, &body)?;
    let appid = field(&body, "authorizer_appid", 40013)?;
    let a = find_authorizer(st, appid)?;
    let grant = st.component.grants.get(appid).ok_or(61003)?;
    let mut info = json!({
        "nick_name": a.nick_name,
        "head_img": format!("https://sandbox.example/head/{}.png", a.appid),
        "service_type_info": {"id": a.service_type},
        "verify_type_info": {"id": a.verify_type},
        "user_name": format!("gh_{}", a.appid.trim_start_matches("wx")),
        "principal_name": a.principal_name,
        "alias": "",
        "qrcode_url": format!("https://sandbox.example/qrcode/{}.jpg", a.appid),
        "signature": "",
        "account_status": 1,
        "register_type": 0,
        "business_info": {"open_store": 0, "open_scan": 0, "open_pay": 0, "open_card": 0, "open_shake": 0},
        "basic_config": {"is_phone_configured": true, "is_email_configured": true},
    });
    if a.kind == AppKind::Miniprogram {
        let categories: Vec<Value> = st
            .seed
            .categories
            .iter()
            .map(|c| json!({"first": c.first_class, "second": c.second_class}))
            .collect();
        info["MiniProgramInfo"] = json!({
            "network": {"RequestDomain": [], "WsRequestDomain": [], "UploadDomain": [],
                        "DownloadDomain": [], "BizDomain": [], "UDPDomain": []},
            "categories": categories,
            "visit_status": 0,
        });
    }
    Ok(Reply::ok(json!({
        "authorizer_info": info,
        "authorization_info": {
            "authorizer_appid": a.appid,
            "authorizer_refresh_token": grant.refresh_token,
            "func_info": func_info(&grant.func_ids),
        },
    })))
}

/// `GET /sns/component/jscode2session` (B.2, G.2): `sandbox-<openid>` codes, 61003 when the
/// mini program has not authorized the platform.
pub(crate) fn jscode2session(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let appid = req.param("appid").ok_or(41002)?.to_owned();
    let code = req.param("js_code").ok_or(41008)?.to_owned();
    if req.param("grant_type") != Some("authorization_code") {
        return Err(40002);
    }
    if req.param("component_appid") != Some(seed(st)?.appid.as_str()) {
        return Err(61011);
    }
    component_token(st, req)?;
    let a = find_authorizer(st, &appid)?;
    if a.kind != AppKind::Miniprogram {
        return Err(40013);
    }
    if !st.component.grants.contains_key(&appid) {
        return Err(61003);
    }
    if st.used_js_codes.contains(&code) {
        return Err(40163);
    }
    let openid = code_subject(&code).ok_or(40029)?.to_owned();
    check_minted(st, &code)?;
    let user = st.seed.users.iter().find(|u| u.openid == openid);
    if user.is_none() && !st.seed.allow_unknown_openid {
        return Err(40029);
    }
    let unionid = user.and_then(|u| u.unionid.clone());
    st.used_js_codes.insert(code);
    let mut body = Map::new();
    body.insert("openid".into(), json!(openid));
    body.insert("session_key".into(), json!(session_key(&appid, &openid)));
    if let Some(unionid) = unionid {
        body.insert("unionid".into(), json!(unionid));
    }
    Ok(Reply::ok(Value::Object(body)))
}

/// The ticket push of G.5: a new `ticket@@@sandbox-<n>` (or the given one), encrypted for
/// the event URL (`url` overrides it).
pub(crate) fn ticket_push(
    st: &mut SandboxState,
    ticket: Option<String>,
    url: Option<String>,
    fixed: &push::Fixed,
) -> Result<super::state::Push, String> {
    let url = url
        .or_else(|| push::event_url(st))
        .ok_or("no event_url: POST /__sandbox/component/target first")?;
    let cfg = st
        .seed
        .component
        .clone()
        .ok_or("the sandbox has no component configured")?;
    st.component.n_ticket += 1;
    let ticket = ticket.unwrap_or_else(|| format!("ticket@@@sandbox-{:04}", st.component.n_ticket));
    let now = st.clock.now();
    st.component.tickets.insert(ticket.clone(), now);
    let create_time = fixed.timestamp.clone().unwrap_or_else(|| now.to_string());
    let plaintext = format!(
        "<xml><AppId><![CDATA[{0}]]></AppId><CreateTime>{create_time}</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[{ticket}]]></ComponentVerifyTicket></xml>",
        cfg.appid
    );
    push::make(st, url, ("AppId", &cfg.appid), plaintext, fixed)
}
