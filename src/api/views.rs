//! JSON shapes shared by several endpoints.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::{db::user::StaffRow, domain::time};

/// `启用` / `未启用`.
pub fn status_text(status: i16) -> &'static str {
    if status == 1 {
        "启用"
    } else {
        "未启用"
    }
}

/// Groups `(user_id, dept_id, name)` rows per user.
pub fn departments_by_user(rows: Vec<(i64, i64, String)>) -> HashMap<i64, (Vec<i64>, Vec<String>)> {
    let mut map: HashMap<i64, (Vec<i64>, Vec<String>)> = HashMap::new();
    for (uid, did, name) in rows {
        let e = map.entry(uid).or_default();
        e.0.push(did);
        e.1.push(name);
    }
    map
}

/// ADM-28 row.
pub fn backend_user(u: &StaffRow) -> Value {
    json!({
        "id": u.id,
        "avatar": u.avatar,
        "username": u.username,
        "login_user": u.login_user,
        "company_name": u.company_name,
        "company_id": u.company_id,
        "role_id": u.role_id,
        "role_name": u.role_name,
        "status": u.status,
        "status_text": status_text(u.status),
        "position": u.position,
        "create_date": time::ymd_hms(u.create_date),
        "last_login_date": u.last_login_date.map(time::ymd_hms),
    })
}

/// QYW-02 row.
pub fn qyw_user(u: &StaffRow) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "role_name": u.role_name,
        "role_id": u.role_id,
        "create_date": time::iso(u.create_date),
        "last_login_date": u.last_login_date.map(time::iso),
        "status": status_text(u.status),
    })
}
