//! The `/__sandbox` admin API (JSON): clock, token expiry and revocation, fault rules, the call
//! record and reset (G.3, G.8, G.9).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::config::{ClockMode, SandboxConfig};
use super::state::{FaultRule, SandboxState, TokenOwner, TokenRecord};
use super::Shared;

/// Routes mounted under `/__sandbox`.
pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/clock", get(get_clock).post(set_clock))
        .route("/tokens/expire", post(expire_tokens))
        .route("/tokens/revoke", post(revoke_tokens))
        .route("/tokens/report", get(token_report))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/calls", get(list_calls).delete(clear_calls))
        .route("/config", get(get_config))
        .route("/component/target", post(component_target))
        .route("/component/push_ticket", post(push_ticket))
        .route("/component/authorize", post(component_authorize))
        .route("/component/unauthorize", post(component_unauthorize))
        .route("/pushes", get(list_pushes))
        .route("/audit/config", post(audit_config))
        .route("/audit/{appid}", post(audit_decide))
        .route("/state/{appid}", get(code_state))
        .route("/reset", post(reset))
        .route(
            "/wecom/directory",
            get(super::directory::get).post(super::directory::set),
        )
        .fallback(|| async { bad(StatusCode::NOT_FOUND, "unknown sandbox admin path") })
}

fn bad(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// Parses an optional JSON body; an empty body is `T::default()`.
fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &Bytes) -> Result<T, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON body: {e}"))
}

fn clock_json(st: &SandboxState) -> Value {
    let factor = (st.clock.mode == ClockMode::Scaled).then_some(st.clock.factor);
    json!({"mode": st.clock.mode, "now": st.clock.now(), "factor": factor})
}

async fn get_clock(State(shared): State<Shared>) -> Json<Value> {
    Json(clock_json(&shared.lock()))
}

#[derive(Default, Deserialize)]
struct ClockChange {
    advance_secs: Option<i64>,
    set_unix: Option<i64>,
    mode: Option<ClockMode>,
    /// Scaled mode: sandbox seconds per real second from now on.
    factor: Option<f64>,
}

/// `POST /__sandbox/clock {"advance_secs":N}` (or `set_unix`, `mode`).
async fn set_clock(State(shared): State<Shared>, bytes: Bytes) -> Response {
    let change: ClockChange = match body(&bytes) {
        Ok(c) => c,
        Err(e) => return bad(StatusCode::BAD_REQUEST, &e),
    };
    let answer = {
        let mut st = shared.lock();
        if let Some(factor) = change.factor {
            st.clock.set_factor(factor);
        }
        if let Some(mode) = change.mode {
            st.clock.set_mode(mode);
        }
        if let Some(unix) = change.set_unix {
            st.clock.set(unix);
        }
        if let Some(secs) = change.advance_secs {
            st.clock.advance(secs);
        }
        // Audits that fell due are decided now (and pushed, when pushes are on).
        super::code::settle_all(&mut st);
        clock_json(&st)
    };
    super::push::deliver(&shared).await;
    Json(answer).into_response()
}

/// `GET /__sandbox/tokens/report[?kinds=component,authorizer&detail=1]`: issues and renewals
/// per token, and the calls that came with a dead token (`super::report`).
async fn token_report(
    State(shared): State<Shared>,
    Query(q): Query<super::report::ReportQuery>,
) -> Json<Value> {
    Json(super::report::report(&shared.lock(), &q))
}

#[derive(Default, Deserialize)]
struct TokenSelector {
    kind: String,
    /// WeCom: agentid, `contacts` or corpid; `access_token`: appid. Absent = every token of
    /// the kind.
    id: Option<String>,
}

impl TokenSelector {
    fn kind_known(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "wecom" | "access_token" | "component" | "authorizer"
        )
    }

    fn matches(&self, owner: &TokenOwner) -> bool {
        let id = self.id.as_deref();
        match (self.kind.as_str(), owner) {
            ("wecom", TokenOwner::Wecom { corpid, agentid }) => {
                let label = agentid.map_or_else(|| "contacts".to_owned(), |a| a.to_string());
                id.is_none_or(|id| id == corpid || id == label)
            }
            ("access_token", TokenOwner::App { appid })
            | ("authorizer", TokenOwner::Authorizer { appid }) => id.is_none_or(|id| id == appid),
            ("component", TokenOwner::Component) => true,
            _ => false,
        }
    }
}

/// `POST /__sandbox/tokens/expire {"kind":"wecom|access_token","id":"…"}`: next use → 42001.
async fn expire_tokens(State(shared): State<Shared>, bytes: Bytes) -> Response {
    change_tokens(&shared, &bytes, |record, now| {
        record.dies_at = record.dies_at.min(now)
    })
}

/// `POST /__sandbox/tokens/revoke {…}`: next use → 40014 (qyapi) / 40001 (api).
async fn revoke_tokens(State(shared): State<Shared>, bytes: Bytes) -> Response {
    change_tokens(&shared, &bytes, |record, _| record.revoked = true)
}

fn change_tokens(
    shared: &Shared,
    bytes: &Bytes,
    apply: impl Fn(&mut TokenRecord, i64),
) -> Response {
    let selector: TokenSelector = match body(bytes) {
        Ok(s) => s,
        Err(e) => return bad(StatusCode::BAD_REQUEST, &e),
    };
    if !selector.kind_known() {
        return bad(
            StatusCode::BAD_REQUEST,
            "kind must be wecom, access_token, component or authorizer",
        );
    }
    let mut st = shared.lock();
    let now = st.clock.now();
    let mut affected = 0;
    for record in st.tokens.values_mut() {
        if record.alive(now) && selector.matches(&record.owner) {
            apply(record, now);
            affected += 1;
        }
    }
    Json(json!({"affected": affected})).into_response()
}

async fn list_faults(State(shared): State<Shared>) -> Json<Value> {
    Json(json!({"faults": shared.lock().faults}))
}

/// `POST /__sandbox/faults {"path":"/cgi-bin/user/get","errcode":45009,"times":1}`.
async fn add_fault(State(shared): State<Shared>, Json(mut rule): Json<FaultRule>) -> Json<Value> {
    rule.seen = 0;
    rule.fired = 0;
    let mut st = shared.lock();
    st.faults.push(rule);
    Json(json!({"faults": st.faults.len()}))
}

async fn clear_faults(State(shared): State<Shared>) -> Json<Value> {
    shared.lock().faults.clear();
    Json(json!({"faults": 0}))
}

#[derive(Deserialize)]
struct CallFilter {
    host: Option<String>,
    path: Option<String>,
    /// Only calls with `seq` greater than this.
    since: Option<u64>,
}

/// `GET /__sandbox/calls?host=&path=&since=`.
async fn list_calls(State(shared): State<Shared>, Query(filter): Query<CallFilter>) -> Json<Value> {
    let st = shared.lock();
    let calls: Vec<_> = st
        .calls
        .iter()
        .filter(|c| {
            filter
                .host
                .as_ref()
                .is_none_or(|h| h.is_empty() || *h == c.host)
        })
        .filter(|c| {
            filter
                .path
                .as_ref()
                .is_none_or(|p| p.is_empty() || *p == c.path)
        })
        .filter(|c| filter.since.is_none_or(|s| c.seq > s))
        .collect();
    Json(json!({"calls": calls}))
}

async fn clear_calls(State(shared): State<Shared>) -> Json<Value> {
    shared.lock().calls.clear();
    Json(json!({"calls": []}))
}

async fn get_config(State(shared): State<Shared>) -> Json<SandboxConfig> {
    Json(shared.lock().seed.clone())
}

/// `POST /__sandbox/reset` (optional body: a new seed; empty or `null` keeps the current one): back to the seed, clearing tokens,
/// codes, clock, faults, counters and the record.
async fn reset(State(shared): State<Shared>, bytes: Bytes) -> Response {
    let mut st = shared.lock();
    let replacement = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<Option<SandboxConfig>>(&bytes) {
            Ok(seed) => seed,
            Err(e) => return bad(StatusCode::BAD_REQUEST, &format!("invalid seed: {e}")),
        }
    };
    let seed = replacement.unwrap_or_else(|| st.seed.clone());
    *st = SandboxState::new(seed);
    Json(json!({"reset": true})).into_response()
}

#[derive(Default, Deserialize)]
struct Target {
    event_url: Option<String>,
    message_url_template: Option<String>,
}

/// `POST /__sandbox/component/target {"event_url","message_url_template"}`: where pushes go.
async fn component_target(State(shared): State<Shared>, bytes: Bytes) -> Response {
    let t: Target = match body(&bytes) {
        Ok(t) => t,
        Err(e) => return bad(StatusCode::BAD_REQUEST, &e),
    };
    let mut st = shared.lock();
    if t.event_url.is_some() {
        st.component.event_url = t.event_url;
    }
    if t.message_url_template.is_some() {
        st.component.message_url_template = t.message_url_template;
    }
    Json(json!({
        "event_url": st.component.event_url,
        "message_url_template": st.component.message_url_template,
    }))
    .into_response()
}

#[derive(Default, Deserialize)]
struct TicketPush {
    ticket: Option<String>,
    url: Option<String>,
    timestamp: Option<String>,
    nonce: Option<String>,
    random16: Option<String>,
}

/// `POST /__sandbox/component/push_ticket {…}` (G.5): pushes a new verify ticket now and
/// answers the push record (`failed` unless our server said `success`).
async fn push_ticket(State(shared): State<Shared>, bytes: Bytes) -> Response {
    let req: TicketPush = match body(&bytes) {
        Ok(t) => t,
        Err(e) => return bad(StatusCode::BAD_REQUEST, &e),
    };
    let random16 = match req
        .random16
        .as_deref()
        .map(|r| <[u8; 16]>::try_from(r.as_bytes()))
    {
        None => None,
        Some(Ok(r)) => Some(r),
        Some(Err(_)) => return bad(StatusCode::BAD_REQUEST, "random16 must be 16 bytes"),
    };
    let fixed = super::push::Fixed {
        timestamp: req.timestamp,
        nonce: req.nonce,
        random16,
    };
    let made = super::component::ticket_push(&mut shared.lock(), req.ticket, req.url, &fixed);
    let push = match made {
        Ok(p) => p,
        Err(e) => return bad(StatusCode::BAD_REQUEST, &e),
    };
    let record = super::push::send(&shared.1, push).await;
    shared.lock().pushes.push(record.clone());
    Json(json!({"push": record})).into_response()
}

#[derive(Default, Deserialize)]
struct AuthorizerRef {
    authorizer_appid: String,
}

/// `POST /__sandbox/component/authorize {"authorizer_appid"}`: the headless grant (G.4); pushes
/// `authorized` and answers `{"auth_code"}`.
async fn component_authorize(State(shared): State<Shared>, bytes: Bytes) -> Response {
    let r: AuthorizerRef = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return bad(StatusCode::BAD_REQUEST, &e),
    };
    let granted = super::component::grant(&mut shared.lock(), &r.authorizer_appid, "");
    match granted {
        Ok(code) => {
            super::push::deliver(&shared).await;
            Json(json!({"auth_code": code})).into_response()
        }
        Err(_) => bad(StatusCode::BAD_REQUEST, "unknown authorizer"),
    }
}

/// `POST /__sandbox/component/unauthorize {"authorizer_appid"}`: revokes and pushes
/// `unauthorized`.
async fn component_unauthorize(State(shared): State<Shared>, bytes: Bytes) -> Response {
    let r: AuthorizerRef = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return bad(StatusCode::BAD_REQUEST, &e),
    };
    let done = super::component::ungrant(&mut shared.lock(), &r.authorizer_appid);
    super::push::deliver(&shared).await;
    Json(json!({"unauthorized": done})).into_response()
}

/// `GET /__sandbox/pushes`: every push with our server's reply.
async fn list_pushes(State(shared): State<Shared>) -> Json<Value> {
    Json(json!({"pushes": shared.lock().pushes}))
}

/// `POST /__sandbox/audit/config {"mode","auto_delay_secs","auto_outcome","push_events"}`:
/// changes how audits end from now on (kept until `reset`); answers the settings in force.
async fn audit_config(State(shared): State<Shared>, bytes: Bytes) -> Response {
    let change: super::code::AuditOverride = match body(&bytes) {
        Ok(c) => c,
        Err(e) => return bad(StatusCode::BAD_REQUEST, &e),
    };
    let mut st = shared.lock();
    if change
        .mode
        .as_deref()
        .is_some_and(|m| m != "auto" && m != "manual")
    {
        return bad(StatusCode::BAD_REQUEST, "mode must be auto or manual");
    }
    let o = &mut st.audit_override;
    if change.mode.is_some() {
        o.mode = change.mode;
    }
    if change.auto_delay_secs.is_some() {
        o.auto_delay_secs = change.auto_delay_secs;
    }
    if change.auto_outcome.is_some() {
        o.auto_outcome = change.auto_outcome;
    }
    if change.push_events.is_some() {
        o.push_events = change.push_events;
    }
    Json(json!({"audit": super::code::audit_config(&st)})).into_response()
}

#[derive(Default, Deserialize)]
struct Decision {
    /// 0 approve, 1 reject, 4 delay.
    status: i64,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    screenshot: String,
    /// Sandbox seconds until the decision falls (0: now).
    #[serde(default)]
    after_secs: i64,
}

/// `POST /__sandbox/audit/<authorizer_appid> {"status":0|1|4,"reason","screenshot","after_secs"}`:
/// decides the latest open audit now or `after_secs` of sandbox time from now; pushes the
/// result when pushes are on. With a real clock a delayed decision is settled by a timer.
async fn audit_decide(
    State(shared): State<Shared>,
    Path(appid): Path<String>,
    bytes: Bytes,
) -> Response {
    let d: Decision = match body(&bytes) {
        Ok(d) => d,
        Err(e) => return bad(StatusCode::BAD_REQUEST, &e),
    };
    let (decided, real) = {
        let mut st = shared.lock();
        let real = st.clock.mode != ClockMode::Virtual;
        (
            super::code::decide(
                &mut st,
                &appid,
                d.status,
                d.reason,
                d.screenshot,
                d.after_secs,
            ),
            real,
        )
    };
    let (auditid, decide_at) = match decided {
        Ok(x) => x,
        Err(e) => return bad(StatusCode::BAD_REQUEST, &e),
    };
    super::push::deliver(&shared).await;
    if real && d.after_secs > 0 {
        let shared = shared.clone();
        let wait = std::time::Duration::from_secs_f64(
            shared.lock().clock.real_secs(d.after_secs).max(0.0),
        );
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            super::code::settle(&mut shared.lock(), &appid);
            super::push::deliver(&shared).await;
        });
    }
    Json(json!({"auditid": auditid, "decide_at": decide_at})).into_response()
}

/// `GET /__sandbox/state/<authorizer_appid>`: the code-management state (G.9).
async fn code_state(State(shared): State<Shared>, Path(appid): Path<String>) -> Json<Value> {
    let state = {
        let mut st = shared.lock();
        super::code::settle(&mut st, &appid);
        json!({"state": st.code.get(&appid)})
    };
    super::push::deliver(&shared).await;
    Json(state)
}
