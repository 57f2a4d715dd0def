//! Mini-program code management on behalf of authorizers (代小程序, WECHAT.md §E, §G.6): the
//! per-authorizer state machine of commits, audits and releases.

use serde::Serialize;

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
#[derive(Clone, Debug, Serialize)]
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
    /// When the automatic decision falls (auto mode), or `None` (manual).
    pub decide_at: Option<i64>,
    /// A decision ordered through the admin API, applied at `decide_at`.
    pub pending: Option<(i64, String)>,
    /// Whether the decision was pushed.
    pub pushed: bool,
}
