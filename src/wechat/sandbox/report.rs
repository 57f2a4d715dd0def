//! The token report (`GET /__sandbox/tokens/report`): how often each token was issued and
//! whether every renewal came once and in time, plus the calls that arrived with a dead token.
//! It is what the simulated token run (`loadtest token-sim`, `tests/token_sim.rs`) checks.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::config::ClockMode;
use super::state::{SandboxState, TokenOwner, TokenRecord};

/// `?kinds=component,authorizer&detail=1`.
#[derive(Default, Deserialize)]
pub(crate) struct ReportQuery {
    /// Comma-separated token kinds (`component`, `authorizer`, `access_token`, `wecom`); all
    /// when absent.
    pub kinds: Option<String>,
    /// `1`: every token's issue times too.
    pub detail: Option<String>,
}

fn key(owner: &TokenOwner) -> (&'static str, String) {
    match owner {
        TokenOwner::Component => ("component", String::new()),
        TokenOwner::Authorizer { appid } => ("authorizer", appid.clone()),
        TokenOwner::App { appid } => ("access_token", appid.clone()),
        TokenOwner::Wecom { corpid, agentid } => (
            "wecom",
            format!(
                "{corpid}/{}",
                agentid.map_or_else(|| "contacts".to_owned(), |a| a.to_string())
            ),
        ),
    }
}

/// How the successor `next` of token `prev` (same kind and owner) came.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Renewal {
    /// In the second half of `prev`'s life, before it died: once, in time.
    Once,
    /// In the first half of `prev`'s life: a second renewal within one period.
    Double,
    /// At or after `prev` died: the token expired before it was renewed.
    Late,
}

pub(crate) fn judge(prev: &TokenRecord, next: &TokenRecord) -> Renewal {
    let life = prev.dies_at - prev.issued_at;
    if next.issued_at >= prev.dies_at {
        Renewal::Late
    } else if !prev.revoked && (next.issued_at - prev.issued_at) * 2 < life {
        Renewal::Double
    } else {
        Renewal::Once
    }
}

pub(crate) fn report(st: &SandboxState, q: &ReportQuery) -> Value {
    let kinds: Option<Vec<&str>> = q
        .kinds
        .as_deref()
        .map(|k| k.split(',').map(str::trim).collect());
    let detail = q.detail.as_deref() == Some("1");
    let now = st.clock.now();
    let mut by_token: BTreeMap<(&'static str, String), Vec<&TokenRecord>> = BTreeMap::new();
    for record in st.tokens.values() {
        let k = key(&record.owner);
        if kinds.as_ref().is_none_or(|ks| ks.contains(&k.0)) {
            by_token.entry(k).or_default().push(record);
        }
    }
    let (mut issues, mut once, mut double, mut late, mut unrenewed) = (0, 0, 0, 0, 0);
    let mut per_kind: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    // The least time a token had left when its successor was issued (sandbox seconds).
    let mut closest: Option<i64> = None;
    let mut tokens = Vec::new();
    let mut problems = Vec::new();
    for ((kind, id), mut records) in by_token {
        records.sort_by_key(|r| (r.issued_at, r.dies_at));
        issues += records.len();
        let entry = per_kind.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += records.len() as u64 - 1;
        let (mut d, mut l) = (0, 0);
        for pair in records.windows(2) {
            let [prev, next] = pair else { continue };
            match judge(prev, next) {
                Renewal::Once => {
                    once += 1;
                    let left = prev.dies_at - next.issued_at;
                    closest = Some(closest.map_or(left, |c| c.min(left)));
                }
                Renewal::Double => d += 1,
                Renewal::Late => l += 1,
            }
        }
        let dead_at_end = records
            .last()
            .is_some_and(|r| !r.revoked && r.dies_at <= now);
        double += d;
        late += l;
        unrenewed += usize::from(dead_at_end);
        if d + l > 0 || dead_at_end {
            problems.push(json!({"kind": kind, "id": id, "double": d, "late": l,
                                 "dead_at_end": dead_at_end,
                                 "issued": records.iter().map(|r| r.issued_at).collect::<Vec<_>>()}));
        }
        if detail {
            tokens.push(json!({"kind": kind, "id": id,
                               "issued": records.iter().map(|r| r.issued_at).collect::<Vec<_>>(),
                               "dies": records.iter().map(|r| r.dies_at).collect::<Vec<_>>()}));
        }
    }
    let expired = st.expired_uses.len();
    let mut answer = json!({
        "now": now,
        "clock": {"mode": st.clock.mode, "factor": (st.clock.mode == ClockMode::Scaled).then_some(st.clock.factor)},
        "expired_uses": expired,
        "expired_samples": st.expired_uses.iter().take(20).collect::<Vec<_>>(),
        "issues": issues,
        "renewals_per_kind": per_kind.iter().map(|(k, (n, r))| (k.to_string(), json!({"tokens": n, "renewals": r}))).collect::<serde_json::Map<_, _>>(),
        "renewed_once": once,
        "least_life_left_at_renewal_secs": closest,
        "double_renewals": double,
        "late_renewals": late,
        "dead_at_end": unrenewed,
        "problems": problems.into_iter().take(20).collect::<Vec<_>>(),
        "ok": expired == 0 && double == 0 && late == 0 && unrenewed == 0,
    });
    if detail {
        answer["tokens"] = json!(tokens);
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(issued_at: i64, dies_at: i64) -> TokenRecord {
        TokenRecord {
            owner: TokenOwner::Component,
            issued_at,
            dies_at,
            revoked: false,
        }
    }

    #[test]
    fn a_renewal_is_judged_against_the_previous_tokens_life() {
        let prev = rec(0, 7200);
        assert_eq!(judge(&prev, &rec(6600, 13_800)), Renewal::Once);
        assert_eq!(judge(&prev, &rec(3600, 10_800)), Renewal::Once);
        assert_eq!(judge(&prev, &rec(3599, 10_799)), Renewal::Double);
        assert_eq!(judge(&prev, &rec(6, 7206)), Renewal::Double);
        assert_eq!(judge(&prev, &rec(7200, 14_400)), Renewal::Late);
    }
}
