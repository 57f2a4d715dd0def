//! ADM-04/05: the company's radar users (salespeople), and pending users (`type=temp_user`).

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        views, OId,
    },
    auth::{StaffRead, StaffWrite},
    db::{self, user::StaffFilter},
    domain::time,
    error::ApiError,
    service,
    state::AppState,
};

/// ADM-05.
pub async fn list(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    caller.require_admin()?;
    let db = state.db.get().await?;
    let departments: Vec<Value> = db::user::company_departments(&db, caller.company_id)
        .await?
        .into_iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    let paging = p.paging(None)?;
    if p.str("type") == Some("temp_user") {
        let (rows, total) = db::user::temp_users(&db, caller.company_id, paging).await?;
        let ret: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "temp_user_id": r.get::<_, i64>(0),
                    "username": r.get::<_, String>(1),
                    "create_date": time::iso(r.get(2)),
                    "position": r.get::<_, Option<String>>(3),
                    "wechat": r.get::<_, Option<String>>(4),
                    "mingpian_phone": r.get::<_, Option<String>>(5),
                    "wechat_phone": r.get::<_, Option<String>>(6),
                    "company": r.get::<_, String>(7),
                    "company_id": r.get::<_, i64>(8),
                    "department": r.get::<_, String>(9),
                    "department_id": r.get::<_, Vec<i64>>(10),
                })
            })
            .collect();
        // department_list both beside `data` and inside it.
        return Ok(Reply::ok(
            "查询成功",
            json!({"ret_data": ret, "data_count": total, "department_list": departments.clone()}),
        )
        .with_extra("department_list", Value::Array(departments)));
    }
    let status = match p.i64("status")? {
        None => None,
        Some(s @ (1 | 2)) => Some(s as i16),
        Some(_) => return Err(ApiError::form("status 只能是 1 或 2")),
    };
    let filter = StaffFilter {
        company_id: Some(caller.company_id),
        status,
        department_id: p.i64("department")?,
        position: p.str("position").map(str::to_owned),
        username: p.str("username").map(str::to_owned),
        ..StaffFilter::default()
    };
    let (users, total) = db::user::list(&db, &filter, paging).await?;
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let depts = views::departments_by_user(db::user::departments_of(&db, &ids).await?);
    let company = db::company::get(&db, caller.company_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let ret: Vec<Value> = users
        .iter()
        .map(|u| {
            let (dept_ids, names) = depts.get(&u.id).cloned().unwrap_or_default();
            json!({
                "id": u.id,
                "userid": u.userid,
                "username": u.username,
                "create_date": time::iso(u.create_date),
                "last_login_date": u.last_login_date.map(time::iso),
                "position": u.position,
                "mingpian_phone": u.mingpian_phone,
                "phone": u.phone,
                "status": views::status_text(u.status),
                "avatar": u.avatar,
                "qr_code": u.qr_code,
                "company": u.company_name,
                "company_id": u.company_id,
                "department": names.join(","),
                "department_id": dept_ids,
                "gender": u.gender,
            })
        })
        .collect();
    Ok(Reply::ok(
        "查询成功",
        json!({
            "ret_data": ret,
            "mingpian_available_num": company.mingpian_available_num,
            "data_count": total,
            "department_list": departments,
        }),
    ))
}

/// ADM-04: enable / disable a radar user of the caller's company.
pub async fn update_status(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    let status = p.req_i64("status")?;
    service::staff::set_status(&state, &caller, id, status, false).await?;
    Ok(Reply::done("修改成功"))
}

/// ADM-33 (`o_id` is always 0): the mini-program code of the rep `user_id` (the form's, A-30),
/// made with the company's authorizer token (`wxa/getwxacodeunlimit`), stored and returned.
/// A company admin may only name its own company's reps (else 302); the operator any rep.
pub async fn create_small_program_qr_code(
    State(state): State<AppState>,
    caller: StaffWrite,
    p: Params,
) -> ApiResult {
    caller.require_admin()?;
    let target = p.req_i64("user_id")?;
    let company_id = {
        let db = state.db.get().await?;
        let row = db::user::get(&db, target)
            .await?
            .ok_or_else(ApiError::not_found)?;
        if row.company_id != caller.company_id && !caller.is_operator() {
            return Err(ApiError::not_found());
        }
        row.company_id
    };
    let path = crate::service::platform::wxacode::generate(&state, company_id, target).await?;
    Ok(Reply::ok("生成用户二维码成功", json!({ "qr_code": path })))
}
