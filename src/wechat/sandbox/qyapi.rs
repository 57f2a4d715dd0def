//! `qyapi` host endpoints: WeCom `gettoken`, OAuth code exchange (legacy and current casing)
//! and the address book read from the `[wecom]` seed (C.1–C.6, G.2, G.3, G.7).

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use super::api::{check_minted, code_subject};
use super::config::{WecomSeed, WecomUserSeed};
use super::state::{SandboxState, TokenOwner, TokenRecord};
use super::upstream::{Host, Inbound, Outcome, Reply, Route};

/// Endpoints of this module.
pub(crate) const ROUTES: &[Route] = &[
    Route::get(Host::Qyapi, "/cgi-bin/gettoken", gettoken),
    Route::get(Host::Qyapi, "/cgi-bin/user/getuserinfo", getuserinfo_legacy),
    Route::get(Host::Qyapi, "/cgi-bin/auth/getuserinfo", getuserinfo),
    Route::get(Host::Qyapi, "/cgi-bin/user/get", user_get),
    Route::get(Host::Qyapi, "/cgi-bin/user/list", user_list),
    Route::get(Host::Qyapi, "/cgi-bin/user/simplelist", user_simplelist),
    Route::get(Host::Qyapi, "/cgi-bin/department/list", department_list),
];

/// `GET /cgi-bin/gettoken?corpid&corpsecret`: the same token while it is alive (C.1).
pub(crate) fn gettoken(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let corpid = req.param("corpid").ok_or(41002)?;
    let secret = req.param("corpsecret").ok_or(41004)?;
    let corp = st
        .seed
        .wecom
        .as_ref()
        .filter(|c| c.corpid == corpid)
        .ok_or(40013)?;
    let agentid = if let Some(agent) = corp.agents.iter().find(|a| a.secret == secret) {
        Some(agent.agentid)
    } else if corp.contacts_secret.as_deref() == Some(secret) {
        None
    } else {
        return Err(40001);
    };
    let label = agentid.map_or_else(|| "contacts".to_owned(), |a| a.to_string());
    let key = format!("{corpid}/{label}");
    let now = st.clock.now();
    let live = st
        .wecom_current
        .get(&key)
        .filter(|t| st.tokens.get(*t).is_some_and(|r| r.alive(now)))
        .cloned();
    let token = match live {
        Some(token) => token,
        None => {
            st.counters.wecom_token += 1;
            let token = format!("sbx_wat_{label}_{}", st.counters.wecom_token);
            let record = TokenRecord {
                owner: TokenOwner::Wecom {
                    corpid: corpid.to_owned(),
                    agentid,
                },
                issued_at: now,
                dies_at: now + st.seed.tokens.invalidate_after_secs,
                revoked: false,
            };
            st.tokens.insert(token.clone(), record);
            st.wecom_current.insert(key, token.clone());
            token
        }
    };
    Ok(ok(
        json!({"access_token": token, "expires_in": st.clock.expires_in(st.seed.tokens.ttl_secs)}),
    ))
}

/// `GET /cgi-bin/auth/getuserinfo?access_token&code` (lowercase `userid` / `openid`).
pub(crate) fn getuserinfo(st: &mut SandboxState, req: &Inbound) -> Outcome {
    Ok(match exchange_code(st, req)? {
        CodeOwner::Member(userid) => ok(json!({"userid": userid})),
        CodeOwner::External(openid) => ok(json!({"openid": openid})),
    })
}

/// `GET /cgi-bin/user/getuserinfo?access_token&code` (legacy `UserId` / `OpenId` / `DeviceId`).
pub(crate) fn getuserinfo_legacy(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let owner = exchange_code(st, req)?;
    st.counters.device += 1;
    let device = format!("sbx-device-{}", st.counters.device);
    Ok(match owner {
        CodeOwner::Member(userid) => ok(json!({"UserId": userid, "DeviceId": device})),
        CodeOwner::External(openid) => ok(json!({"OpenId": openid, "DeviceId": device})),
    })
}

/// `GET /cgi-bin/user/get?access_token&userid`.
pub(crate) fn user_get(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let (corp, visible) = scope(st, req)?;
    let userid = req.param("userid").ok_or(60111)?;
    let user = corp
        .users
        .iter()
        .find(|u| u.userid == userid)
        .ok_or(60111)?;
    if !sees_user(visible.as_ref(), user) {
        return Err(60011);
    }
    Ok(ok(user_json(user)))
}

/// `GET /cgi-bin/user/list?access_token&department_id[&fetch_child=1]`.
pub(crate) fn user_list(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let users = department_members(st, req, true)?;
    Ok(ok(json!({"userlist": users})))
}

/// `GET /cgi-bin/user/simplelist?access_token&department_id[&fetch_child=1]`.
pub(crate) fn user_simplelist(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let users = department_members(st, req, false)?;
    Ok(ok(json!({"userlist": users})))
}

/// `GET /cgi-bin/department/list?access_token[&id]`: the subtree of `id`, or every visible
/// department.
pub(crate) fn department_list(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let (corp, visible) = scope(st, req)?;
    let wanted = match req.param("id") {
        Some(id) => {
            let id: i64 = id.parse().map_err(|_| 60123)?;
            if !corp.departments.iter().any(|d| d.id == id) {
                return Err(60123);
            }
            if visible.as_ref().is_some_and(|v| !v.contains(&id)) {
                return Err(60011);
            }
            Some(subtree(corp, &[id]))
        }
        None => None,
    };
    let department: Vec<Value> = corp
        .departments
        .iter()
        .filter(|d| visible.as_ref().is_none_or(|v| v.contains(&d.id)))
        .filter(|d| wanted.as_ref().is_none_or(|w| w.contains(&d.id)))
        .map(|d| {
            json!({"id": d.id, "name": d.name, "parentid": d.parentid, "order": d.order,
                   "department_leader": []})
        })
        .collect();
    Ok(ok(json!({"department": department})))
}

enum CodeOwner {
    Member(String),
    External(String),
}

/// Checks the token and consumes a WeCom code: `sandbox-<userid>[.<suffix>]` for a member,
/// `sandbox-ext-<openid>[.<suffix>]` for anyone else. Reuse or unknown → 40029 (G.2).
fn exchange_code(st: &mut SandboxState, req: &Inbound) -> Result<CodeOwner, i64> {
    let (corp, _) = scope(st, req)?;
    let code = req.param("code").ok_or(41008)?;
    if st.used_wecom_codes.contains(code) {
        return Err(40029);
    }
    let owner = if let Some(rest) = code.strip_prefix("sandbox-ext-") {
        let openid = code_subject(&format!("sandbox-{rest}"))
            .ok_or(40029)?
            .to_owned();
        CodeOwner::External(openid)
    } else {
        let rest = code.strip_prefix("sandbox-").ok_or(40029)?;
        let short = rest.split('.').next().unwrap_or_default();
        let userid = [rest, short]
            .into_iter()
            .find(|id| corp.users.iter().any(|u| u.userid == *id))
            .ok_or(40029)?;
        CodeOwner::Member(userid.to_owned())
    };
    check_minted(st, code)?;
    st.used_wecom_codes.insert(code.to_owned());
    Ok(owner)
}

fn department_members(st: &SandboxState, req: &Inbound, full: bool) -> Result<Vec<Value>, i64> {
    let (corp, visible) = scope(st, req)?;
    let id: i64 = req
        .param("department_id")
        .and_then(|v| v.parse().ok())
        .ok_or(60123)?;
    if !corp.departments.iter().any(|d| d.id == id) {
        return Err(60123);
    }
    if visible.as_ref().is_some_and(|v| !v.contains(&id)) {
        return Err(60011);
    }
    let wanted: HashSet<i64> = if req.param("fetch_child") == Some("1") {
        subtree(corp, &[id])
    } else {
        HashSet::from([id])
    };
    Ok(corp
        .users
        .iter()
        .filter(|u| u.department.iter().any(|d| wanted.contains(d)))
        .map(|u| {
            if full {
                user_json(u)
            } else {
                json!({"userid": u.userid, "name": u.name, "department": u.department})
            }
        })
        .collect())
}

/// Validates the `access_token` of a `qyapi` call and returns the corp with the departments
/// the token may read (`None` = all). Missing → 41001; unknown or revoked → 40014; a token of
/// another kind → 40001; past its death → 42001 (G.3).
fn scope<'a>(
    st: &'a SandboxState,
    req: &Inbound,
) -> Result<(&'a WecomSeed, Option<HashSet<i64>>), i64> {
    let token = req.param("access_token").ok_or(41001)?;
    let record = st.tokens.get(token).filter(|r| !r.revoked).ok_or(40014)?;
    let TokenOwner::Wecom { corpid, agentid } = &record.owner else {
        return Err(40001);
    };
    if st.clock.now() >= record.dies_at {
        return Err(42001);
    }
    let corp = st
        .seed
        .wecom
        .as_ref()
        .filter(|c| c.corpid == *corpid)
        .ok_or(40014)?;
    let roots = agentid
        .and_then(|id| corp.agents.iter().find(|a| a.agentid == id))
        .map(|a| a.visible_departments.clone())
        .unwrap_or_default();
    let visible = (!roots.is_empty()).then(|| subtree(corp, &roots));
    Ok((corp, visible))
}

/// The departments `roots` and everything below them.
fn subtree(corp: &WecomSeed, roots: &[i64]) -> HashSet<i64> {
    let mut set: HashSet<i64> = roots.iter().copied().collect();
    loop {
        let before = set.len();
        for d in &corp.departments {
            if set.contains(&d.parentid) {
                set.insert(d.id);
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

fn sees_user(visible: Option<&HashSet<i64>>, user: &WecomUserSeed) -> bool {
    visible.is_none_or(|v| user.department.iter().any(|d| v.contains(d)))
}

/// A member in the C.4 shape (gender as a string, like WeCom).
fn user_json(u: &WecomUserSeed) -> Value {
    let mut m = Map::new();
    m.insert("userid".into(), json!(u.userid));
    m.insert("name".into(), json!(u.name));
    m.insert("department".into(), json!(u.department));
    m.insert("order".into(), json!(vec![0; u.department.len()]));
    m.insert(
        "is_leader_in_dept".into(),
        json!(vec![0; u.department.len()]),
    );
    if let Some(main) = u.department.first() {
        m.insert("main_department".into(), json!(main));
    }
    let optional = [
        ("position", &u.position),
        ("mobile", &u.mobile),
        ("email", &u.email),
        ("avatar", &u.avatar),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            m.insert(key.into(), json!(value));
        }
    }
    if let Some(avatar) = &u.avatar {
        m.insert("thumb_avatar".into(), json!(avatar));
    }
    if let Some(gender) = u.gender {
        m.insert("gender".into(), json!(gender.to_string()));
    }
    m.insert("status".into(), json!(1));
    Value::Object(m)
}

/// A WeCom success body: `errcode` 0 and `errmsg` "ok" merged into `body`.
fn ok(mut body: Value) -> Reply {
    if let Value::Object(m) = &mut body {
        m.insert("errcode".into(), json!(0));
        m.insert("errmsg".into(), json!("ok"));
    }
    Reply::ok(body)
}
