//! Mutable sandbox state: the clock, issued tokens, minted and used codes, fault rules and the
//! call record. One value behind one mutex; it is never held across an `.await`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{ClockMode, SandboxConfig};

/// Everything the sandbox remembers between calls.
pub(crate) struct SandboxState {
    /// The seed; `reset` rebuilds the state from it.
    pub seed: SandboxConfig,
    pub clock: Clock,
    /// Every token ever issued, by token string (G.3: tokens are looked up, never parsed).
    pub tokens: HashMap<String, TokenRecord>,
    /// The live WeCom token per credential (`"<corpid>/<agentid|contacts>"`), so a repeated
    /// `gettoken` returns the same token.
    pub wecom_current: HashMap<String, String>,
    /// The latest `cgi-bin/token` token per appid (superseded ones get a grace period).
    pub oa_current: HashMap<String, String>,
    /// Codes issued by the authorize page; they expire after `codes.ttl_secs`.
    pub minted_codes: HashMap<String, i64>,
    /// Mini-program / OA codes already exchanged (→ 40163).
    pub used_js_codes: HashSet<String>,
    /// WeCom codes already exchanged (→ 40029).
    pub used_wecom_codes: HashSet<String>,
    pub counters: Counters,
    pub faults: Vec<FaultRule>,
    pub calls: Vec<CallRecord>,
    /// Third-party platform state (tickets, codes, grants; G.3–G.5).
    pub component: ComponentState,
    /// Code management state per authorizer appid (G.6).
    pub code: HashMap<String, super::code::CodeState>,
    /// Run-time audit settings over the seed's (`POST /__sandbox/audit/config`).
    pub audit_override: super::code::AuditOverride,
    /// Encrypted pushes waiting to be sent after the current call.
    pub outbox: Vec<Push>,
    /// Every push sent, with our server's reply (G.9).
    pub pushes: Vec<PushRecord>,
    /// Official-account web tokens and tickets (`super::mp`).
    pub mp: super::mp::MpState,
    /// Calls answered 42001 because their token had died (not fault rules): the token report.
    pub expired_uses: Vec<ExpiredUse>,
    /// Mini-program code images already drawn, by (scene, width).
    pub png_cache: HashMap<(String, u32), Vec<u8>>,
}

/// A call that arrived with a dead token (answered 42001).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ExpiredUse {
    pub seq: u64,
    /// Sandbox time of the call.
    pub time: i64,
    pub host: String,
    pub path: String,
    /// appid / corpid / agentid the call was resolved to.
    pub identity: Vec<String>,
}

/// Third-party platform state.
#[derive(Default)]
pub(crate) struct ComponentState {
    /// Pushed verify tickets → pushed at.
    pub tickets: HashMap<String, i64>,
    /// Run-time override of the seed's event URL.
    pub event_url: Option<String>,
    /// Run-time override of the seed's message URL template.
    pub message_url_template: Option<String>,
    /// Pre-auth codes → expiry.
    pub pre_auth_codes: HashMap<String, i64>,
    /// Authorization codes → (authorizer appid, expiry, used).
    pub auth_codes: HashMap<String, (String, i64, bool)>,
    /// Live authorizations by authorizer appid: the refresh token and granted sets.
    pub grants: HashMap<String, Grant>,
    pub n_ticket: u64,
    pub n_token: u64,
    pub n_pre_auth: u64,
    pub n_auth_code: u64,
    pub n_authorizer_token: u64,
    pub n_nonce: u64,
}

/// One live authorization.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub refresh_token: String,
    pub func_ids: Vec<i64>,
}

/// A push to make: URL with its query and the XML body, with the plaintext for the record.
#[derive(Clone, Debug)]
pub(crate) struct Push {
    pub url: String,
    pub query: Vec<(String, String)>,
    pub body: String,
    pub plaintext: String,
    pub ciphertext: String,
}

/// A push made (G.9).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct PushRecord {
    pub url: String,
    pub query: BTreeMap<String, String>,
    pub plaintext: String,
    pub ciphertext: String,
    /// Our server's HTTP status (0: unreachable).
    pub status: u16,
    pub reply: String,
    /// Anything but HTTP 200 `success`.
    pub failed: bool,
}

/// Per-kind counters behind the deterministic identifiers of G.1.
#[derive(Default)]
pub(crate) struct Counters {
    pub seq: u64,
    pub wecom_token: u64,
    pub oa_token: u64,
    pub minted_code: u64,
    pub device: u64,
    pub auditid: u64,
}

impl SandboxState {
    pub fn new(seed: SandboxConfig) -> Self {
        let clock = Clock::new(
            seed.clock.mode,
            seed.clock.start_unix,
            seed.clock.factor.unwrap_or(1.0),
        );
        Self {
            seed,
            clock,
            tokens: HashMap::new(),
            wecom_current: HashMap::new(),
            oa_current: HashMap::new(),
            minted_codes: HashMap::new(),
            used_js_codes: HashSet::new(),
            used_wecom_codes: HashSet::new(),
            counters: Counters::default(),
            faults: Vec::new(),
            calls: Vec::new(),
            component: ComponentState::default(),
            code: HashMap::new(),
            audit_override: super::code::AuditOverride::default(),
            outbox: Vec::new(),
            pushes: Vec::new(),
            mp: Default::default(),
            expired_uses: Vec::new(),
            png_cache: HashMap::new(),
        }
    }

    pub fn next_seq(&mut self) -> u64 {
        self.counters.seq += 1;
        self.counters.seq
    }
}

/// Sandbox time in unix seconds.
pub(crate) struct Clock {
    pub mode: ClockMode,
    /// Virtual mode: the current time. Scaled mode: the time at `origin_ms`.
    frozen: i64,
    /// Real mode: seconds added to the wall clock by `advance`.
    offset: i64,
    /// Scaled mode: sandbox seconds per real second.
    pub factor: f64,
    /// Scaled mode: the wall-clock millisecond at which the sandbox time was `frozen`.
    origin_ms: i64,
}

impl Clock {
    fn new(mode: ClockMode, start: Option<i64>, factor: f64) -> Self {
        Self {
            mode,
            frozen: start.unwrap_or_else(real_now),
            offset: 0,
            factor: if factor.is_finite() && factor > 0.0 {
                factor
            } else {
                1.0
            },
            origin_ms: real_now_ms(),
        }
    }

    pub fn now(&self) -> i64 {
        match self.mode {
            ClockMode::Virtual => self.frozen,
            ClockMode::Real => real_now() + self.offset,
            ClockMode::Scaled => {
                let real_ms = (real_now_ms() - self.origin_ms) as f64;
                self.frozen + (real_ms * self.factor / 1000.0).floor() as i64
            }
        }
    }

    pub fn advance(&mut self, secs: i64) {
        match self.mode {
            ClockMode::Virtual | ClockMode::Scaled => self.frozen += secs,
            ClockMode::Real => self.offset += secs,
        }
    }

    pub fn set(&mut self, unix: i64) {
        match self.mode {
            ClockMode::Virtual => self.frozen = unix,
            ClockMode::Real => self.offset = unix - real_now(),
            ClockMode::Scaled => {
                self.frozen = unix;
                self.origin_ms = real_now_ms();
            }
        }
    }

    /// Changes the speed of a scaled clock from now on (the time itself does not jump).
    pub fn set_factor(&mut self, factor: f64) {
        if factor.is_finite() && factor > 0.0 {
            let now = self.now();
            self.factor = factor;
            if self.mode == ClockMode::Scaled {
                self.set(now);
            }
        }
    }

    /// The `expires_in` to report for a lifetime of `secs` sandbox seconds: the same number,
    /// except on a scaled clock, where it is the real seconds the token will live (rounded
    /// down, at least 1), so a client that counts `expires_in` in real time, as every WeChat
    /// client does, expects the death the sandbox enforces.
    pub fn expires_in(&self, secs: i64) -> i64 {
        match self.mode {
            ClockMode::Scaled => ((secs as f64 / self.factor).floor() as i64).max(1),
            _ => secs,
        }
    }

    /// Real seconds for `secs` sandbox seconds (timers of the admin API).
    pub fn real_secs(&self, secs: i64) -> f64 {
        match self.mode {
            ClockMode::Scaled => secs as f64 / self.factor,
            _ => secs as f64,
        }
    }

    pub fn set_mode(&mut self, mode: ClockMode) {
        let now = self.now();
        self.mode = mode;
        self.set(now);
    }
}

pub(crate) fn real_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn real_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Who a token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TokenOwner {
    /// WeCom `gettoken`; `agentid` is `None` for the address-book secret.
    Wecom {
        corpid: String,
        agentid: Option<i64>,
    },
    /// `cgi-bin/token` of an official account or mini program.
    App { appid: String },
    /// `component_access_token`.
    Component,
    /// `authorizer_access_token` of an authorized account.
    Authorizer { appid: String },
}

/// One issued token.
#[derive(Clone, Debug)]
pub(crate) struct TokenRecord {
    pub owner: TokenOwner,
    /// Sandbox time it was issued at (the token report).
    pub issued_at: i64,
    /// Using it at or after this time → 42001.
    pub dies_at: i64,
    /// Revoked through the admin API → 40001 / 40014.
    pub revoked: bool,
}

impl TokenRecord {
    pub fn alive(&self, now: i64) -> bool {
        !self.revoked && now < self.dies_at
    }
}

/// A fault rule of G.8. Matching calls are counted; after `skip` of them the rule fires
/// `times` times.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(crate) struct FaultRule {
    /// `api`, `qyapi`, `open`, `mp` or `*`.
    #[serde(default = "star")]
    pub host: String,
    /// Upstream path without the host prefix, or `*`.
    #[serde(default = "star")]
    pub path: String,
    /// appid, corpid or agentid of the caller, or `*`.
    #[serde(default = "star")]
    pub app: String,
    #[serde(default)]
    pub errcode: Option<i64>,
    #[serde(default)]
    pub errmsg: Option<String>,
    #[serde(default)]
    pub http_status: Option<u16>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub raw_body: Option<String>,
    #[serde(default)]
    pub skip: u32,
    #[serde(default = "one")]
    pub times: u32,
    /// Matching calls seen so far.
    #[serde(default)]
    pub seen: u32,
    /// Times fired so far.
    #[serde(default)]
    pub fired: u32,
}

fn star() -> String {
    "*".to_owned()
}

fn one() -> u32 {
    1
}

impl FaultRule {
    /// Counts a call against this rule and says whether the rule fires for it.
    pub fn hit(&mut self, host: &str, path: &str, apps: &[String]) -> bool {
        let host_ok = self.host == "*" || self.host == host;
        let path_ok = self.path == "*" || self.path == path;
        let app_ok = self.app == "*" || apps.contains(&self.app);
        if !(host_ok && path_ok && app_ok) {
            return false;
        }
        self.seen += 1;
        if self.seen > self.skip && self.fired < self.times {
            self.fired += 1;
            return true;
        }
        false
    }
}

/// One recorded inbound call (G.9).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CallRecord {
    pub seq: u64,
    /// Sandbox (possibly virtual) time, unix seconds.
    pub time: i64,
    /// Wall-clock time, unix milliseconds.
    pub real_time_ms: i64,
    pub host: String,
    pub method: String,
    /// Upstream path, without the host prefix.
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub body_raw: String,
    pub body_json: Option<Value>,
    /// appid / corpid / agentid the call was resolved to.
    pub identity: Vec<String>,
    /// Name of the fault rule effect applied, if any.
    pub fault: Option<String>,
    pub response: ResponseRecord,
}

/// The recorded answer to a call.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ResponseRecord {
    pub status: u16,
    pub content_type: String,
    pub errcode: Option<i64>,
    pub body_json: Option<Value>,
    pub location: Option<String>,
    /// Size of a binary (image) answer.
    pub bytes_len: Option<usize>,
}
