//! QYW-06..12 (customers and their pipeline), QYW-41 (通讯录) and QYW-45 (follow-up
//! records), plus the free-text follow-up (`follow_info/add/{customer_id}`, docs/architecture.md).

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{StaffRead, StaffWrite},
    db::{
        self,
        customer::{ContactOrder, CustomerFilter, CustomerView, ProfileUpdate},
    },
    domain::{ai, time},
    error::ApiError,
    service::customer::{self as service, PipelineUpdate},
    state::AppState,
};

fn source_text(source: i16) -> &'static str {
    if source == 2 {
        "转发"
    } else {
        "扫码"
    }
}

fn or_empty(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// QYW-06 list row (000).
fn list_row(c: &CustomerView) -> Value {
    json!({
        "id": c.id,
        "username": c.username,
        "openid": c.openid,
        "headimgurl": c.headimgurl,
        "expected_time": c.expected_time.map(time::ymd),
        "expedted_pr": c.expedted_pr.map(|p| p.to_string()).unwrap_or_default(),
        "superior": or_empty(&c.superior),
        "belonger": c.belonger,
        "source": c.source,
        "memo_name": or_empty(&c.memo_name),
        "phone": or_empty(&c.phone),
        "email": or_empty(&c.email),
        "company": or_empty(&c.company),
        "position": or_empty(&c.position),
        "address": or_empty(&c.address),
        "birthday": c.birthday.map(time::ymd).unwrap_or_default(),
        "mem": or_empty(&c.mem),
        "tag": c.tags,
    })
}

/// QYW-06: `customer_id` → one customer (001/002 shape, with `ai_pr` and its factors);
/// otherwise the list (000 shape): the caller's customers, or the company's for admins.
pub async fn query(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let db = state.db.get().await?;
    if let Some(customer_id) = p.i64("customer_id")? {
        let c = db::customer::one(
            &db,
            caller.company_id,
            caller.id,
            service::sees_company(&caller),
            customer_id,
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
        let factors = db::radar::pair_factors(&db, c.user_id, c.id, 30).await?;
        let silent = c
            .last_activity_time
            .map(|t| (chrono::Utc::now() - t).num_days());
        let factors: Vec<Value> = ai::explain(&factors, silent)
            .into_iter()
            .map(|f| json!({"factor": f.key, "text": f.text, "score": f.score}))
            .collect();
        let row = json!({
            "id": c.id,
            "username": c.username,
            "headimgurl": c.headimgurl,
            "expected_time": c.expected_time.map(time::ymd),
            "expedted_pr": c.expedted_pr.map(|p| p.to_string()),
            "ai_pr": ai::rate_at(c.ai_energy, c.ai_energy_at).to_string(),
            "ai_factors": factors,
            "superior": c.superior,
            "source": source_text(c.source),
            "memo_name": c.memo_name,
            "phone": or_empty(&c.phone),
            "email": or_empty(&c.email),
            "company": or_empty(&c.company),
            "position": or_empty(&c.position),
            "address": or_empty(&c.address),
            "birthday": c.birthday.map(time::ymd).unwrap_or_default(),
            "mem": or_empty(&c.mem),
            "sex": c.sex,
            "belonger": c.belonger,
            "user_id": c.user_id,
            "tag": c.tags,
        });
        return Ok(Reply::list("查询成功", vec![row], 1));
    }
    let f = CustomerFilter {
        username: p.str("username").map(str::to_owned),
        belonger: p.str("belonger__username").map(str::to_owned),
        superior: p.str("superior__username").map(str::to_owned),
        expected_time: p.str("expected_time").map(str::to_owned),
        expedted_pr: p.str("expedted_pr").map(str::to_owned),
        create_date: p.str("create_date").map(str::to_owned),
    };
    let only = (!service::sees_company(&caller)).then_some(caller.id);
    let (rows, total) =
        db::customer::list(&db, caller.company_id, only, &f, p.paging(None)?).await?;
    Ok(Reply::list(
        "查询成功",
        rows.iter().map(list_row).collect(),
        total,
    ))
}

fn optional_text(p: &Params, key: &str, max: usize) -> Result<Option<String>, ApiError> {
    match p.str(key) {
        None => Ok(None),
        Some(v) if v.chars().count() > max => Err(ApiError::form(format!("{key} 过长"))),
        Some(v) => Ok(Some(v.trim().to_owned())),
    }
}

fn source_param(p: &Params) -> Result<Option<i16>, ApiError> {
    match p.i64("source")? {
        None => Ok(None),
        Some(s @ (1 | 2)) => Ok(Some(s as i16)),
        Some(_) => Err(ApiError::form("source 只能是 1 或 2")),
    }
}

/// QYW-07 (also `/zhugeleida/customer/update_information/{o_id}`): the union of the 000/001
/// and 002 fields, all optional; `openid`, `belonger`, `password`, `id` are ignored.
pub async fn update_information(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(customer_id): OId,
    p: Params,
) -> ApiResult {
    let sex = match p.i64("sex")? {
        None => None,
        Some(s @ (1 | 2)) => Some(s as i16),
        Some(_) => Err(ApiError::form("sex 只能是 1 或 2"))?,
    };
    let birthday = match p.str("birthday") {
        Some("") | None => None,
        Some(_) => p.date("birthday")?,
    };
    let profile = ProfileUpdate {
        username: optional_text(&p, "username", 64)?,
        memo_name: optional_text(&p, "memo_name", 64)?,
        phone: optional_text(&p, "phone", 32)?,
        email: optional_text(&p, "email", 128)?,
        company: optional_text(&p, "company", 128)?,
        position: optional_text(&p, "position", 64)?,
        address: optional_text(&p, "address", 256)?,
        mem: optional_text(&p, "mem", 1000)?,
        birthday,
        sex,
        superior_id: p.i64("superior")?,
    };
    let expected_time = match p.str("expected_time") {
        Some("") | None => None,
        Some(_) => p.date("expected_time")?,
    };
    let u = PipelineUpdate {
        expected_time,
        source: source_param(&p)?,
        profile: Some(profile),
        ..Default::default()
    };
    pipeline(&state, &caller, customer_id, u).await
}

/// Applies one of the update forms (QYW-07/08/10/11/12); they all answer "添加成功".
async fn pipeline(
    state: &AppState,
    caller: &StaffWrite,
    customer_id: i64,
    u: PipelineUpdate,
) -> ApiResult {
    service::update(state, caller, customer_id, u).await?;
    Ok(Reply::done("添加成功"))
}

/// `expedted_pr` or `update_expected_pr`, as `80` or `'80%'`.
fn probability(p: &Params) -> Result<Option<i16>, ApiError> {
    match p.percent("expedted_pr")? {
        Some(v) => Ok(Some(v)),
        None => p.percent("update_expected_pr"),
    }
}

/// QYW-08: tags, probability and expected date in one call.
pub async fn update_customer(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(customer_id): OId,
    p: Params,
) -> ApiResult {
    let u = PipelineUpdate {
        expected_time: p.date("expected_time")?,
        expedted_pr: probability(&p)?,
        tags: p.id_list("tag_list")?,
        ..Default::default()
    };
    pipeline(&state, &caller, customer_id, u).await
}

/// QYW-09: the customer leaves the caller's list (the history stays).
pub async fn delete(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(customer_id): OId,
) -> ApiResult {
    let db = state.db.get().await?;
    db::customer::unrelate(&db, caller.company_id, caller.id, customer_id).await?;
    Ok(Reply::done("删除成功"))
}

/// QYW-10.
pub async fn update_expected_time(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(customer_id): OId,
    p: Params,
) -> ApiResult {
    let d = p
        .date("expected_time")?
        .ok_or_else(|| ApiError::form("expected_time 不能为空"))?;
    let u = PipelineUpdate {
        expected_time: Some(d),
        ..Default::default()
    };
    pipeline(&state, &caller, customer_id, u).await
}

/// QYW-11 (A-56: both names; if only `tag_list` came, it is a tag update).
pub async fn update_expected_pr(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(customer_id): OId,
    p: Params,
) -> ApiResult {
    let u = match (probability(&p)?, p.id_list("tag_list")?) {
        (Some(pr), _) => PipelineUpdate {
            expedted_pr: Some(pr),
            ..Default::default()
        },
        (None, Some(tags)) => PipelineUpdate {
            tags: Some(tags),
            ..Default::default()
        },
        (None, None) => return Err(ApiError::form("expedted_pr 不能为空")),
    };
    pipeline(&state, &caller, customer_id, u).await
}

/// QYW-12: replaces the customer's tags (`[]` clears them).
pub async fn update_tag(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(customer_id): OId,
    p: Params,
) -> ApiResult {
    let tags = p
        .id_list("tag_list")?
        .ok_or_else(|| ApiError::form("tag_list 不能为空"))?;
    let u = PipelineUpdate {
        tags: Some(tags),
        ..Default::default()
    };
    pipeline(&state, &caller, customer_id, u).await
}

/// QYW-41 `order`: every spelling, always descending.
fn contact_order(p: &Params) -> Result<ContactOrder, ApiError> {
    let raw = p.str("order").unwrap_or("").trim();
    let key = raw.trim_start_matches('-');
    let key = key.strip_prefix("customer__").unwrap_or(key);
    match key {
        "" | "expedted_pr" | "expected_pr" => Ok(ContactOrder::ExpectedPr),
        "last_follow_time" => Ok(ContactOrder::LastFollow),
        "last_activity_time" => Ok(ContactOrder::LastActivity),
        _ => Err(ApiError::form(format!("不支持的排序: {raw}"))),
    }
}

/// QYW-41: the caller's customers, paged (20), with relative times.
pub async fn tongxunlu(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let order = contact_order(&p)?;
    let source = match p.i64_any(&["customer__source", "source"])? {
        None => None,
        Some(s @ (1 | 2)) => Some(s as i16),
        Some(_) => return Err(ApiError::form("customer__source 只能是 1 或 2")),
    };
    let (offset, limit) = p.paging(Some(20))?.unwrap_or((0, 20));
    let db = state.db.get().await?;
    let (rows, total) =
        db::customer::contacts(&db, caller.id, order, source, offset, limit).await?;
    let today = time::today();
    let rows: Vec<Value> = rows
        .iter()
        .map(|c| {
            json!({
                "customer_id": c.customer_id,
                "customer_username": c.username,
                "headimgurl": c.headimgurl,
                "expected_time": c.expected_time.map(time::ymd),
                "expedted_pr": c.expedted_pr.unwrap_or(0),
                "belonger": c.belonger,
                "source": c.source,
                "last_follow_time": time::relative_day(c.last_follow_time, today),
                "last_activity_time": time::relative_day(c.last_activity_time, today),
                "follow_status": time::follow_status(c.last_follow_time, today),
                "article_id": Value::Null,
                "title": Value::Null,
            })
        })
        .collect();
    Ok(Reply::list("查询成功", rows, total))
}

/// QYW-45: the customer's follow-up records, oldest first (optional paging).
pub async fn follow_info(State(state): State<AppState>, caller: StaffRead, p: Params) -> ApiResult {
    let customer_id = p.req_i64("customer_id")?;
    let db = state.db.get().await?;
    service::check_visible(&db, &caller, customer_id).await?;
    let (rows, total) =
        db::follow::records(&db, caller.company_id, customer_id, p.paging(None)?).await?;
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|(headimgurl, avatar, username, info, at)| {
            json!({
                "user_customer_flowup__customer__headimgurl": headimgurl,
                "user_customer_flowup__user__avatar": avatar,
                "user_customer_flowup__user__username": username,
                "follow_info": info,
                "create_date": time::iso(at),
            })
        })
        .collect();
    Ok(Reply::ok(
        "",
        json!({"ret_data": rows, "data_count": total}),
    ))
}

/// `POST follow_info/add/{customer_id}` with `follow_info`: a free-text follow-up (A-70's gap).
pub async fn add_follow_info(
    State(state): State<AppState>,
    caller: StaffWrite,
    OId(customer_id): OId,
    p: Params,
) -> ApiResult {
    service::follow_up(&state, &caller, customer_id, p.req_str("follow_info")?).await?;
    Ok(Reply::done("添加成功"))
}
