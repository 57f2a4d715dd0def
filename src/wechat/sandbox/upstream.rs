//! The imitation of the WeChat hosts: splits the host prefix off the path, applies fault
//! rules, routes through one table to the endpoint functions, and records every call with its
//! answer (G.1, G.8, G.9).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::state::{real_now_ms, CallRecord, FaultRule, ResponseRecord, SandboxState, TokenOwner};
use super::{api, browser, code, component, mp, qyapi, wxa, Shared};

/// The four upstream hosts, told apart by path prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Host {
    Api,
    Qyapi,
    Open,
    Mp,
}

impl Host {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Qyapi => "qyapi",
            Self::Open => "open",
            Self::Mp => "mp",
        }
    }

    /// `/qyapi/cgi-bin/gettoken` → (`Qyapi`, `/cgi-bin/gettoken`); no prefix means `api`.
    fn split(path: &str) -> (Self, String) {
        for (prefix, host) in [
            ("/qyapi", Self::Qyapi),
            ("/open", Self::Open),
            ("/mp", Self::Mp),
        ] {
            if let Some(rest) = path.strip_prefix(prefix) {
                if rest.is_empty() || rest.starts_with('/') {
                    let rest = if rest.is_empty() { "/" } else { rest };
                    return (host, rest.to_owned());
                }
            }
        }
        (Self::Api, path.to_owned())
    }
}

/// A call as the endpoint functions see it.
pub(crate) struct Inbound {
    pub seq: u64,
    pub host: Host,
    pub method: Method,
    /// Upstream path, prefix stripped.
    pub path: String,
    /// Query parameters; a repeated name keeps its last value.
    pub query: BTreeMap<String, String>,
    /// Value of the `sandbox_user` cookie (G.4).
    pub sandbox_user_cookie: Option<String>,
    pub body: Bytes,
}

impl Inbound {
    /// A non-empty query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// An endpoint's answer.
pub(crate) enum Reply {
    Json {
        status: StatusCode,
        body: Value,
    },
    Raw {
        status: StatusCode,
        content_type: String,
        body: String,
    },
    Redirect(String),
    /// Raw image bytes (mini-program codes, G.6); `scene` is echoed in `X-Sandbox-Scene`.
    Image {
        content_type: &'static str,
        scene: String,
        body: Vec<u8>,
    },
}

impl Reply {
    /// A success body (HTTP 200).
    pub fn ok(body: Value) -> Self {
        Self::Json {
            status: StatusCode::OK,
            body,
        }
    }

    /// A browser-page error (HTTP 400 with a little HTML).
    pub fn html_error(message: &str) -> Self {
        Self::Raw {
            status: StatusCode::BAD_REQUEST,
            content_type: "text/html; charset=utf-8".to_owned(),
            body: format!("<html><body><h1>sandbox: {message}</h1></body></html>"),
        }
    }

    fn record(&self) -> ResponseRecord {
        match self {
            Self::Json { status, body } => ResponseRecord {
                status: status.as_u16(),
                content_type: JSON_TYPE.to_owned(),
                errcode: body.get("errcode").and_then(Value::as_i64),
                body_json: Some(body.clone()),
                location: None,
                bytes_len: None,
            },
            Self::Raw {
                status,
                content_type,
                body,
            } => ResponseRecord {
                status: status.as_u16(),
                content_type: content_type.clone(),
                errcode: None,
                body_json: serde_json::from_str(body).ok(),
                location: None,
                bytes_len: None,
            },
            Self::Redirect(location) => ResponseRecord {
                status: StatusCode::FOUND.as_u16(),
                content_type: String::new(),
                errcode: None,
                body_json: None,
                location: Some(location.clone()),
                bytes_len: None,
            },
            Self::Image {
                content_type, body, ..
            } => ResponseRecord {
                status: StatusCode::OK.as_u16(),
                content_type: (*content_type).to_owned(),
                errcode: None,
                body_json: None,
                location: None,
                bytes_len: Some(body.len()),
            },
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Self::Json { status, body } => (
                status,
                [(header::CONTENT_TYPE, JSON_TYPE)],
                body.to_string(),
            )
                .into_response(),
            Self::Raw {
                status,
                content_type,
                body,
            } => {
                let content_type = HeaderValue::from_str(&content_type)
                    .unwrap_or(HeaderValue::from_static("text/plain"));
                (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
            }
            Self::Redirect(location) => match HeaderValue::from_str(&location) {
                Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
                Err(_) => (
                    StatusCode::BAD_REQUEST,
                    "sandbox: redirect target is not a header value",
                )
                    .into_response(),
            },
            Self::Image {
                content_type,
                scene,
                body,
            } => {
                let mut response = (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
                    body,
                )
                    .into_response();
                // The scene is validated to visible ASCII before an image is made.
                if let Ok(value) = HeaderValue::from_str(&scene) {
                    response.headers_mut().insert("x-sandbox-scene", value);
                }
                response
            }
        }
    }
}

const JSON_TYPE: &str = "application/json; charset=utf-8";

/// What an endpoint function returns: a reply, or a WeChat errcode to wrap in the error shape.
pub(crate) type Outcome = Result<Reply, i64>;

pub(crate) type Handler = fn(&mut SandboxState, &Inbound) -> Outcome;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    Post,
}

/// One imitated endpoint: host, exact upstream path, method and handler.
pub(crate) struct Route {
    host: Host,
    path: &'static str,
    verb: Verb,
    handler: Handler,
}

impl Route {
    /// A `GET` endpoint.
    pub(crate) const fn get(host: Host, path: &'static str, handler: Handler) -> Self {
        Self {
            host,
            path,
            verb: Verb::Get,
            handler,
        }
    }

    /// A `POST` endpoint.
    pub(crate) const fn post(host: Host, path: &'static str, handler: Handler) -> Self {
        Self {
            host,
            path,
            verb: Verb::Post,
            handler,
        }
    }
}

/// Every endpoint the sandbox imitates: one table per WeChat product module.
const TABLES: &[&[Route]] = &[
    api::ROUTES,
    wxa::ROUTES,
    qyapi::ROUTES,
    browser::ROUTES,
    component::ROUTES,
    code::ROUTES,
    mp::ROUTES,
];

/// The WeChat error shape: HTTP 200, English `errmsg` plus a request id (G.1).
pub(crate) fn wx_error(errcode: i64, seq: u64) -> Reply {
    Reply::ok(json!({
        "errcode": errcode,
        "errmsg": format!("{}, rid: sandbox-{seq}", errmsg_text(errcode)),
    }))
}

fn errmsg_text(errcode: i64) -> &'static str {
    match errcode {
        -1 => "system error",
        40001 => "invalid credential, access_token is invalid or not latest",
        40002 => "invalid grant_type",
        40013 => "invalid appid",
        40014 => "invalid access_token",
        40029 => "invalid code",
        40097 => "invalid args",
        40125 => "invalid appsecret",
        40163 => "code been used",
        40169 => "invalid length for scene, or the data is not json string",
        41001 => "access_token missing",
        41002 => "appid missing",
        41004 => "appsecret missing",
        41008 => "missing code",
        41030 => "invalid page",
        42001 => "access_token expired",
        43001 => "require GET method",
        43002 => "require POST method",
        45009 => "reach max api daily quota limit",
        45011 => "api minute-quota reach limit, must slower, retry next minute",
        47001 => "data format error",
        48001 => "api unauthorized",
        61007 => "api is unauthorized to component",
        85007 => "page path is not in the committed code",
        85008 => "invalid category",
        85009 => "already submit a version under auditing",
        85012 => "invalid audit id",
        85013 => "invalid ext_json config",
        85014 => "invalid template id",
        85015 => "not a mini program account",
        85019 => "no audited version",
        85020 => "audit status does not allow release",
        85021 => "status not allowed",
        85023 => "item_list size must be 1 to 5",
        85048 => "ext_json parse failed",
        85052 => "app is already released",
        85086 => "must commit code first",
        87012 => "cannot revert: no previous version or already reverted",
        60011 => "no privilege to access/modify contact/party/agent",
        60111 => "invalid string value `userid`. userid not found",
        60123 => "invalid party id",
        _ => "sandbox injected error",
    }
}

/// Entry point for every path outside `/__sandbox`.
pub(crate) async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (host, path) = Host::split(uri.path());
    let query = uri
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
        .into_iter()
        .collect();
    let (inbound, identity, fault) = {
        let mut st = shared.lock();
        let inbound = Inbound {
            seq: st.next_seq(),
            host,
            method,
            path,
            query,
            sandbox_user_cookie: cookie(&headers, "sandbox_user"),
            body,
        };
        let identity = identity(&st, &inbound);
        let fault = st.faults.iter_mut().find_map(|rule| {
            rule.hit(host.as_str(), &inbound.path, &identity)
                .then(|| rule.clone())
        });
        (inbound, identity, fault)
    };
    if let Some(ms) = fault.as_ref().and_then(|f| f.delay_ms) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let (reply, has_pushes) = {
        let mut st = shared.lock();
        let (reply, fault_name) = match fault.as_ref().and_then(|f| fault_reply(f, inbound.seq)) {
            Some((reply, name)) => (reply, Some(name.to_owned())),
            None => (
                dispatch(&mut st, &inbound),
                fault.map(|_| "delay_ms".to_owned()),
            ),
        };
        tracing::debug!(host = host.as_str(), path = %inbound.path, seq = inbound.seq, "sandbox call");
        let record = CallRecord {
            seq: inbound.seq,
            time: st.clock.now(),
            real_time_ms: real_now_ms(),
            host: host.as_str().to_owned(),
            method: inbound.method.to_string(),
            path: inbound.path.clone(),
            query: inbound.query.clone(),
            body_raw: String::from_utf8_lossy(&inbound.body).into_owned(),
            body_json: serde_json::from_slice(&inbound.body).ok(),
            identity,
            fault: fault_name,
            response: reply.record(),
        };
        if matches!(record.fault.as_deref(), None | Some("delay_ms"))
            && record.response.errcode == Some(42001)
        {
            let dead = super::state::ExpiredUse {
                seq: record.seq,
                time: record.time,
                host: record.host.clone(),
                path: record.path.clone(),
                identity: record.identity.clone(),
            };
            st.expired_uses.push(dead);
        }
        st.calls.push(record);
        let has_pushes = !st.outbox.is_empty();
        (reply, has_pushes)
    };
    if has_pushes {
        super::push::deliver(&shared).await;
    }
    reply.into_response()
}

fn dispatch(st: &mut SandboxState, inbound: &Inbound) -> Reply {
    let mut known_path = None;
    for route in TABLES
        .iter()
        .flat_map(|t| t.iter())
        .filter(|r| r.host == inbound.host && r.path == inbound.path)
    {
        let verb_ok = match route.verb {
            Verb::Get => inbound.method == Method::GET,
            Verb::Post => inbound.method == Method::POST,
        };
        if verb_ok {
            return (route.handler)(st, inbound).unwrap_or_else(|code| wx_error(code, inbound.seq));
        }
        known_path = Some(route.verb);
    }
    match known_path {
        Some(Verb::Get) => wx_error(43001, inbound.seq),
        Some(Verb::Post) => wx_error(43002, inbound.seq),
        None => Reply::Json {
            status: StatusCode::NOT_FOUND,
            body: json!({
                "errcode": -1,
                "errmsg": format!(
                    "sandbox: unknown api {} {} {}",
                    inbound.host.as_str(),
                    inbound.method,
                    inbound.path
                ),
            }),
        },
    }
}

/// The reply a fault rule substitutes for the real one; `None` for a pure delay.
fn fault_reply(rule: &FaultRule, seq: u64) -> Option<(Reply, &'static str)> {
    let status = rule.http_status.and_then(|s| StatusCode::from_u16(s).ok());
    if let Some(body) = &rule.raw_body {
        let reply = Reply::Raw {
            status: status.unwrap_or(StatusCode::OK),
            content_type: "text/plain; charset=utf-8".to_owned(),
            body: body.clone(),
        };
        return Some((reply, "raw_body"));
    }
    if let Some(errcode) = rule.errcode {
        let mut reply = wx_error(errcode, seq);
        if let Reply::Json { status: s, body } = &mut reply {
            if let Some(msg) = &rule.errmsg {
                body["errmsg"] = json!(format!("{msg}, rid: sandbox-{seq}"));
            }
            if let Some(status) = status {
                *s = status;
            }
        }
        return Some((reply, "errcode"));
    }
    status.map(|status| {
        let body = json!({"errcode": -1, "errmsg": format!("sandbox: injected http {status}")});
        (Reply::Json { status, body }, "http_status")
    })
}

/// appid / corpid / agentid of a call, for fault matching and the record.
fn identity(st: &SandboxState, inbound: &Inbound) -> Vec<String> {
    let mut ids: Vec<String> = ["appid", "corpid", "component_appid"]
        .iter()
        .filter_map(|k| inbound.param(k).map(str::to_owned))
        .collect();
    let owner = inbound
        .param("access_token")
        .and_then(|t| st.tokens.get(t))
        .map(|r| &r.owner);
    match owner {
        Some(TokenOwner::Wecom { corpid, agentid }) => {
            ids.push(corpid.clone());
            ids.push(agentid.map_or_else(|| "contacts".to_owned(), |a| a.to_string()));
        }
        Some(TokenOwner::App { appid } | TokenOwner::Authorizer { appid }) => {
            ids.push(appid.clone())
        }
        Some(TokenOwner::Component) => ids.push("component".to_owned()),
        None => {}
    }
    ids.dedup();
    ids
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}
