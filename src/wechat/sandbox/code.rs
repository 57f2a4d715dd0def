//! Mini-program code management on behalf of authorizers (代小程序, WECHAT.md §E, §G.6): the
//! per-authorizer state machine of commits, audits and releases, its endpoints, and the audit
//! result pushes (E.13) to the server's message URL.
//!
//! Audits are decided lazily against the sandbox clock (no timers): every code-management
//! call, every clock move and every admin decision settles the audits that are due, and a
//! decided audit is pushed (`weapp_audit_success|fail|delay`, encrypted like WeChat) when
//! pushes are on (`audit.push_events`, or the admin `audit/config`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::component::{authorizer, component_token};
use super::config::{AppKind, AuditConfig};
use super::push;
use super::state::SandboxState;
use super::upstream::{Host, Inbound, Outcome, Reply, Route};

/// Endpoints of this module.
pub(crate) const ROUTES: &[Route] = &[
    Route::get(Host::Api, "/wxa/gettemplatelist", gettemplatelist),
    Route::post(Host::Api, "/wxa/commit", commit),
    Route::get(Host::Api, "/wxa/get_qrcode", get_qrcode),
    Route::get(Host::Api, "/wxa/get_category", get_category),
    Route::get(Host::Api, "/wxa/get_page", get_page),
    Route::post(Host::Api, "/wxa/submit_audit", submit_audit),
    Route::post(Host::Api, "/wxa/get_auditstatus", get_auditstatus),
    Route::get(
        Host::Api,
        "/wxa/get_latest_auditstatus",
        get_latest_auditstatus,
    ),
    Route::get(Host::Api, "/wxa/undocodeaudit", undocodeaudit),
    Route::post(Host::Api, "/wxa/release", release),
    Route::get(Host::Api, "/wxa/revertcoderelease", revertcoderelease),
];

/// First audit id handed out (G.1: "auditid from 100001 upward").
const FIRST_AUDITID: i64 = 100_001;

/// One authorizer's code state (G.6).
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct CodeState {
    /// The trial version, once committed.
    pub committed: Option<Version>,
    /// Every audit submitted, oldest first.
    pub audits: Vec<Audit>,
    /// The live version.
    pub released: Option<Version>,
    /// The version before it (one step of rollback).
    pub previous_released: Option<Version>,
    /// Whether the last release was already rolled back.
    pub reverted: bool,
    /// Withdrawals so far (quota).
    pub undo_count: u32,
}

/// A committed version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Version {
    pub template_id: i64,
    pub ext_json: String,
    pub user_version: String,
    pub user_desc: String,
    pub pages: Vec<String>,
    pub at: i64,
}

/// One audit.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Audit {
    pub auditid: i64,
    /// 0 approved, 1 rejected, 2 auditing, 3 withdrawn, 4 delayed.
    pub status: i64,
    pub reason: String,
    pub screenshot: String,
    pub version: Version,
    pub submitted_at: i64,
    /// When the decision falls, or `None` (manual mode, not decided yet).
    pub decide_at: Option<i64>,
    /// The decision to apply at `decide_at`: (status, reason, screenshot).
    pub pending: Option<(i64, String, String)>,
    /// Whether the decision was pushed.
    pub pushed: bool,
}

/// Run-time audit settings (`POST /__sandbox/audit/config`); start as the seed's `audit`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(crate) struct AuditOverride {
    pub mode: Option<String>,
    pub auto_delay_secs: Option<i64>,
    pub auto_outcome: Option<i64>,
    pub push_events: Option<bool>,
}

impl AuditOverride {
    pub fn apply(&self, cfg: &mut AuditConfig) {
        if let Some(m) = &self.mode {
            cfg.mode.clone_from(m);
        }
        if let Some(d) = self.auto_delay_secs {
            cfg.auto_delay_secs = d;
        }
        if let Some(o) = self.auto_outcome {
            cfg.auto_outcome = o;
        }
        if let Some(p) = self.push_events {
            cfg.push_events = p;
        }
    }
}

fn json_body(req: &Inbound) -> Result<Map<String, Value>, i64> {
    serde_json::from_slice(&req.body).map_err(|_| 47001)
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The calling mini program (authorizer token, code-management permission set 18 → else
/// 61007), its pending audits settled first.
fn mini_program(st: &mut SandboxState, req: &Inbound) -> Result<String, i64> {
    let a = authorizer(st, req)?;
    if a.kind != AppKind::Miniprogram {
        return Err(85015);
    }
    let appid = a.appid.clone();
    let granted = st
        .component
        .grants
        .get(&appid)
        .is_some_and(|g| g.func_ids.contains(&18));
    if !granted {
        return Err(61007);
    }
    settle(st, &appid);
    Ok(appid)
}

fn ok(extra: Value) -> Reply {
    let mut body = json!({"errcode": 0, "errmsg": "ok"});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    Reply::ok(body)
}

/// `GET /wxa/gettemplatelist?access_token=<component token>[&template_type]` (E.1).
pub(crate) fn gettemplatelist(st: &mut SandboxState, req: &Inbound) -> Outcome {
    component_token(st, req)?;
    let wanted = req
        .param("template_type")
        .and_then(|t| t.parse::<i64>().ok());
    if wanted.is_some_and(|t| t != 0) {
        return Ok(ok(json!({"template_list": []})));
    }
    let list: Vec<Value> = st
        .seed
        .templates
        .iter()
        .map(|t| {
            json!({"create_time": t.create_time, "user_version": t.user_version,
                   "user_desc": t.user_desc, "template_id": t.template_id, "draft_id": t.template_id,
                   "source_miniprogram_appid": t.source_miniprogram_appid,
                   "source_miniprogram": t.source_miniprogram, "developer": t.developer,
                   "template_type": 0, "category_list": []})
        })
        .collect();
    Ok(ok(json!({ "template_list": list })))
}

/// `POST /wxa/commit` (E.2): 85014 unknown template, 85013 `ext_json` not a string, 85048 not
/// JSON. The commit becomes the trial version.
pub(crate) fn commit(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let appid = mini_program(st, req)?;
    let body = json_body(req)?;
    let template_id = body.get("template_id").and_then(as_i64).ok_or(85014)?;
    let template = st
        .seed
        .templates
        .iter()
        .find(|t| t.template_id == template_id)
        .ok_or(85014)?;
    let pages = template.pages.clone();
    let ext_json = match body.get("ext_json") {
        None => String::new(),
        Some(Value::String(s)) => {
            if !s.is_empty() && serde_json::from_str::<Value>(s).is_err() {
                return Err(85048);
            }
            s.clone()
        }
        Some(_) => return Err(85013),
    };
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let version = Version {
        template_id,
        ext_json,
        user_version: text("user_version"),
        user_desc: text("user_desc"),
        pages,
        at: st.clock.now(),
    };
    st.code.entry(appid).or_default().committed = Some(version);
    Ok(ok(json!({})))
}

/// `GET /wxa/get_qrcode[?path]` (E.3): the trial version's QR, a PNG sent as `image/jpeg`
/// (the client must not sniff); 85086 before any commit.
pub(crate) fn get_qrcode(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let appid = mini_program(st, req)?;
    let committed = st
        .code
        .get(&appid)
        .and_then(|c| c.committed.clone())
        .ok_or(85086)?;
    let scene = format!("{appid}:{}", committed.user_version);
    let body = super::wxa::code_png(&scene, 430).map_err(|_| -1)?;
    Ok(Reply::Image {
        content_type: "image/jpeg",
        scene: committed.user_version,
        body,
    })
}

/// `GET /wxa/get_category` (E.4): the seed's categories.
pub(crate) fn get_category(st: &mut SandboxState, req: &Inbound) -> Outcome {
    mini_program(st, req)?;
    let list: Vec<Value> = st
        .seed
        .categories
        .iter()
        .map(|c| {
            json!({"first_class": c.first_class, "second_class": c.second_class,
                   "first_id": c.first_id, "second_id": c.second_id})
        })
        .collect();
    Ok(ok(json!({ "category_list": list })))
}

/// `GET /wxa/get_page` (E.5): the committed pages (none before a commit).
pub(crate) fn get_page(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let appid = mini_program(st, req)?;
    let pages = st
        .code
        .get(&appid)
        .and_then(|c| c.committed.as_ref())
        .map(|v| v.pages.clone())
        .unwrap_or_default();
    Ok(ok(json!({ "page_list": pages })))
}

/// `POST /wxa/submit_audit` (E.6, G.6).
pub(crate) fn submit_audit(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let appid = mini_program(st, req)?;
    let body = json_body(req)?;
    let code = st.code.get(&appid).cloned().unwrap_or_default();
    let committed = code.committed.ok_or(85086)?;
    if code
        .audits
        .last()
        .is_some_and(|a| a.status == 2 || a.status == 4)
    {
        return Err(85009);
    }
    let items = body
        .get("item_list")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items.is_empty() || items.len() > 5 {
        return Err(85023);
    }
    for item in &items {
        let address = item.get("address").and_then(Value::as_str).unwrap_or("");
        if !committed.pages.iter().any(|p| p == address) {
            return Err(85007);
        }
        let first = item.get("first_id").and_then(as_i64);
        let second = item.get("second_id").and_then(as_i64);
        let known = st
            .seed
            .categories
            .iter()
            .any(|c| Some(c.first_id) == first && Some(c.second_id) == second);
        if !known {
            return Err(85008);
        }
    }
    let cfg = audit_config(st);
    let now = st.clock.now();
    let desc = &committed.user_desc;
    let (decide_at, pending) = if let Some(reason) = desc
        .split("[sandbox:reject:")
        .nth(1)
        .and_then(|r| r.split(']').next())
    {
        (
            Some(now + cfg.auto_delay_secs),
            Some((1, reason.to_owned(), String::new())),
        )
    } else if desc.contains("[sandbox:delay]") {
        (
            Some(now + cfg.auto_delay_secs),
            Some((4, "sandbox delay".to_owned(), String::new())),
        )
    } else if cfg.mode == "manual" {
        (None, None)
    } else {
        let reason = if cfg.auto_outcome == 1 {
            "sandbox: 帐号信息不合规范".to_owned()
        } else {
            String::new()
        };
        (
            Some(now + cfg.auto_delay_secs),
            Some((cfg.auto_outcome, reason, String::new())),
        )
    };
    st.counters.auditid += 1;
    let auditid = FIRST_AUDITID - 1 + i64::try_from(st.counters.auditid).unwrap_or(0);
    st.code
        .entry(appid.clone())
        .or_default()
        .audits
        .push(Audit {
            auditid,
            status: 2,
            reason: String::new(),
            screenshot: String::new(),
            version: committed,
            submitted_at: now,
            decide_at,
            pending,
            pushed: false,
        });
    settle(st, &appid);
    Ok(ok(json!({ "auditid": auditid })))
}

fn audit_json(a: &Audit, latest: bool) -> Value {
    let mut v = json!({"status": a.status, "reason": a.reason, "screenshot": a.screenshot});
    if latest {
        v["auditid"] = json!(a.auditid);
        v["user_version"] = json!(a.version.user_version);
        v["user_desc"] = json!(a.version.user_desc);
        v["submit_audit_time"] = json!(a.submitted_at);
    }
    v
}

/// `POST /wxa/get_auditstatus {"auditid"}` (E.7): 85012 unknown.
pub(crate) fn get_auditstatus(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let appid = mini_program(st, req)?;
    let body = json_body(req)?;
    let id = body.get("auditid").and_then(as_i64).ok_or(85012)?;
    let audit = st
        .code
        .get(&appid)
        .and_then(|c| c.audits.iter().find(|a| a.auditid == id))
        .ok_or(85012)?;
    Ok(ok(audit_json(audit, false)))
}

/// `GET /wxa/get_latest_auditstatus` (E.8): 85012 when nothing was submitted.
pub(crate) fn get_latest_auditstatus(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let appid = mini_program(st, req)?;
    let audit = st
        .code
        .get(&appid)
        .and_then(|c| c.audits.last())
        .ok_or(85012)?;
    Ok(ok(audit_json(audit, true)))
}

/// `GET /wxa/undocodeaudit` (E.9): only an audit in status 2 or 4 (else 85021) → 3.
pub(crate) fn undocodeaudit(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let appid = mini_program(st, req)?;
    let code = st.code.entry(appid).or_default();
    let audit = code
        .audits
        .last_mut()
        .filter(|a| a.status == 2 || a.status == 4)
        .ok_or(85021)?;
    audit.status = 3;
    audit.decide_at = None;
    audit.pending = None;
    code.undo_count += 1;
    Ok(ok(json!({})))
}

/// `POST /wxa/release {}` (E.10): 85019 no audit, 85020 the latest audit not approved, 85052
/// that version already live.
pub(crate) fn release(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let appid = mini_program(st, req)?;
    json_body(req)?;
    let code = st.code.entry(appid).or_default();
    let audit = code.audits.last().ok_or(85019)?;
    if audit.status != 0 {
        return Err(85020);
    }
    let version = audit.version.clone();
    if code.released.as_ref() == Some(&version) {
        return Err(85052);
    }
    code.previous_released = code.released.take();
    code.released = Some(version);
    code.reverted = false;
    Ok(ok(json!({})))
}

/// `GET /wxa/revertcoderelease[?action=get_history_version]` (E.11): one step back; 87012 when
/// there is no previous version or it was already rolled back.
pub(crate) fn revertcoderelease(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let appid = mini_program(st, req)?;
    let code = st.code.entry(appid).or_default();
    if req.param("action") == Some("get_history_version") {
        let list: Vec<Value> = code
            .previous_released
            .iter()
            .filter(|_| !code.reverted)
            .map(|v| {
                json!({"commit_time": v.at, "user_version": v.user_version,
                       "user_desc": v.user_desc, "app_version": v.at})
            })
            .collect();
        return Ok(ok(json!({ "version_list": list })));
    }
    if code.reverted {
        return Err(87012);
    }
    let previous = code.previous_released.take().ok_or(87012)?;
    code.previous_released = code.released.replace(previous);
    code.reverted = true;
    Ok(ok(json!({})))
}

/// The audit settings in force (seed, then run-time override).
pub(crate) fn audit_config(st: &SandboxState) -> AuditConfig {
    let mut cfg = st.seed.audit.clone();
    st.audit_override.apply(&mut cfg);
    cfg
}

/// Applies the decisions of `appid`'s audits that are due, queueing their pushes.
pub(crate) fn settle(st: &mut SandboxState, appid: &str) {
    let now = st.clock.now();
    let push_events = audit_config(st).push_events;
    let mut decided = Vec::new();
    if let Some(code) = st.code.get_mut(appid) {
        for audit in code.audits.iter_mut() {
            let due = audit.status == 2 || audit.status == 4;
            if !due || audit.decide_at.is_none_or(|t| t > now) {
                continue;
            }
            let Some((status, reason, screenshot)) = audit.pending.take() else {
                continue;
            };
            audit.status = status;
            audit.reason = reason;
            audit.screenshot = screenshot;
            audit.decide_at = None;
            if push_events {
                audit.pushed = true;
                decided.push(audit.clone());
            }
        }
    }
    for audit in decided {
        queue_audit_push(st, appid, &audit, now);
    }
}

/// Settles every authorizer's due audits (after a clock move).
pub(crate) fn settle_all(st: &mut SandboxState) {
    let appids: Vec<String> = st.code.keys().cloned().collect();
    for appid in appids {
        settle(st, &appid);
    }
}

/// Orders the decision of `appid`'s latest open audit, `after_secs` from now (admin API).
pub(crate) fn decide(
    st: &mut SandboxState,
    appid: &str,
    status: i64,
    reason: String,
    screenshot: String,
    after_secs: i64,
) -> Result<(i64, i64), String> {
    if ![0, 1, 4].contains(&status) {
        return Err("status must be 0 (approve), 1 (reject) or 4 (delay)".into());
    }
    let now = st.clock.now();
    let audit = st
        .code
        .get_mut(appid)
        .and_then(|c| c.audits.last_mut())
        .filter(|a| a.status == 2 || a.status == 4)
        .ok_or("no audit under review for this authorizer")?;
    let decide_at = now + after_secs.max(0);
    audit.decide_at = Some(decide_at);
    audit.pending = Some((status, reason, screenshot));
    let auditid = audit.auditid;
    settle(st, appid);
    Ok((auditid, decide_at))
}

/// Queues the E.13 event of a decided audit to the authorizer's message URL.
fn queue_audit_push(st: &mut SandboxState, appid: &str, audit: &Audit, now: i64) {
    let template = st.component.message_url_template.clone().or_else(|| {
        st.seed
            .component
            .as_ref()
            .and_then(|c| c.message_url_template.clone())
    });
    let Some(template) = template else {
        return;
    };
    let url = template.replace("$APPID$", appid);
    let to = format!("gh_{}", appid.trim_start_matches("wx"));
    let cdata = |s: &str| format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"));
    let event = match audit.status {
        0 => format!(
            "<Event>{}</Event><SuccTime>{now}</SuccTime>",
            cdata("weapp_audit_success")
        ),
        1 => format!(
            "<Event>{}</Event><Reason>{}</Reason><FailTime>{now}</FailTime><ScreenShot>{}</ScreenShot>",
            cdata("weapp_audit_fail"),
            cdata(&audit.reason),
            cdata(&audit.screenshot)
        ),
        _ => format!(
            "<Event>{}</Event><Reason>{}</Reason><DelayTime>{now}</DelayTime>",
            cdata("weapp_audit_delay"),
            cdata(&audit.reason)
        ),
    };
    let plaintext = format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{now}</CreateTime><MsgType>{}</MsgType>{event}</xml>",
        cdata(&to),
        cdata("o_sandbox_wechat_audit"),
        cdata("event"),
    );
    if let Ok(p) = push::make(
        st,
        url,
        ("ToUserName", &to),
        plaintext,
        &push::Fixed::default(),
    ) {
        st.outbox.push(p);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_name() {
        let mut cfg = AuditConfig::default();
        AuditOverride {
            push_events: Some(true),
            ..Default::default()
        }
        .apply(&mut cfg);
        assert!(cfg.push_events);
        assert_eq!(cfg.mode, "auto");
        assert_eq!(cfg.auto_delay_secs, 60);
    }
}
