//! QYW-52 (customers reached by an article, by level) and the spread extensions
//! (docs/articles.md): the forward tree, a customer's reach, the top spreaders, the reading
//! time. Under `/qiyeweixin/` they show one salesperson's shares (`uid`, default the caller);
//! the same handlers under `/admin/` show the whole company to its admins.

use axum::extract::State;
use serde_json::{json, Value};

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::StaffRead,
    db::{self, article_spread::NodeView},
    domain::{article::STAY_BUCKETS, time},
    error::ApiError,
    state::AppState,
};

/// Whose shares a request looks at.
enum Scope {
    /// One salesperson.
    User(i64),
    /// Every salesperson of the company (admins).
    Company,
}

impl Scope {
    fn user(&self) -> Option<i64> {
        match self {
            Scope::User(u) => Some(*u),
            Scope::Company => None,
        }
    }
}

/// The salesperson asked for (`uid`, default the caller), who must be of the caller's company.
async fn salesperson(state: &AppState, caller: &StaffRead, p: &Params) -> Result<i64, ApiError> {
    match p.i64_any(&["uid", "u_id"])? {
        None => Ok(caller.id),
        Some(u) if state.people.user(state, u).await?.company_id == caller.company_id => Ok(u),
        Some(_) => Err(ApiError::not_found()),
    }
}

async fn scope(
    state: &AppState,
    caller: &StaffRead,
    p: &Params,
    admin: bool,
) -> Result<Scope, ApiError> {
    if admin {
        caller.require_admin()?;
        if p.has("uid") {
            return Ok(Scope::User(salesperson(state, caller, p).await?));
        }
        return Ok(Scope::Company);
    }
    Ok(Scope::User(salesperson(state, caller, p).await?))
}

/// The article must be of the caller's company.
async fn article_of(state: &AppState, caller: &StaffRead, id: i64) -> Result<(), ApiError> {
    let db = state.db.get().await?;
    match db::article::brief(&db, id).await? {
        Some((c, _, _)) if c == caller.company_id => Ok(()),
        _ => Err(ApiError::not_found()),
    }
}

fn sex(s: Option<i16>) -> Value {
    match s {
        Some(1) => json!("男"),
        Some(2) => json!("女"),
        _ => Value::Null,
    }
}

fn node_row(n: &NodeView) -> Value {
    json!({
        "id": n.id,
        "article_id": n.article_id,
        "uid": n.user_id,
        "customer_id": n.customer_id,
        "customer_name": n.customer_name,
        "customer_headimgurl": n.headimgurl,
        "sex": sex(n.sex),
        "area": n.area,
        "parent_id": n.parent_id,
        "pid": n.pid,
        "level": n.level,
        "read_count": n.read_count,
        "stay_time": n.stay_time,
        "finished": n.finished,
        "reach": n.reach,
        "children": n.children,
        "forward_count": n.forward_count,
        "create_date": time::iso(n.create_date),
    })
}

/// QYW-52: `level` 0 = the first load (level 1 with `level_num`).
pub async fn by_level(
    State(state): State<AppState>,
    caller: StaffRead,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    let level = p.req_i64("level")?;
    if !(0..=i64::from(i16::MAX)).contains(&level) {
        return Err(ApiError::form("level 不正确"));
    }
    let uid = salesperson(&state, &caller, &p).await?;
    article_of(&state, &caller, id).await?;
    let (offset, limit) = p.paging(Some(10))?.unwrap_or((0, 10));
    let level = level.max(1) as i16;
    let user = state.people.user(&state, uid).await?;
    let db = state.db.get().await?;
    let (rows, level_num, count) =
        db::article_spread::level_page(&db, caller.company_id, id, uid, level, offset, limit)
            .await?;
    let ret: Vec<Value> = rows
        .iter()
        .map(|n| {
            json!({
                "article_id": n.article_id,
                "uid": n.user_id,
                "user_name": user.username,
                "customer_id": n.customer_id,
                "customer_name": n.customer_name,
                "customer_headimgurl": n.headimgurl,
                "sex": sex(n.sex),
                "area": n.area,
                "read_count": n.read_count,
                "stay_time": n.stay_time,
                "level": n.level,
            })
        })
        .collect();
    Ok(Reply::ok(
        "返回成功",
        json!({"level_num": level_num, "ret_data": ret, "article_id": id.to_string(), "count": count}),
    ))
}

async fn tree(state: AppState, caller: StaffRead, id: i64, p: Params, admin: bool) -> ApiResult {
    let scope = scope(&state, &caller, &p, admin).await?;
    article_of(&state, &caller, id).await?;
    let (offset, limit) = p.paging(Some(200))?.unwrap_or((0, 200));
    let db = state.db.get().await?;
    let rows = db::article_spread::tree(
        &db,
        caller.company_id,
        id,
        scope.user(),
        p.i64("root")?,
        offset,
        limit,
    )
    .await?;
    let (_, readers, ..) =
        db::article_spread::stay_distribution(&db, caller.company_id, id, scope.user()).await?;
    Ok(Reply::list(
        "查询成功",
        rows.iter().map(node_row).collect(),
        readers,
    ))
}

/// Extension: the forward tree of an article in pre-order (first 200 nodes by default).
pub async fn forward_tree(
    State(state): State<AppState>,
    caller: StaffRead,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    tree(state, caller, id, p, false).await
}

/// Extension (admin): every salesperson's tree of the article.
pub async fn forward_tree_admin(
    State(state): State<AppState>,
    caller: StaffRead,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    tree(state, caller, id, p, true).await
}

async fn reach(
    state: AppState,
    caller: StaffRead,
    customer_id: i64,
    p: Params,
    admin: bool,
) -> ApiResult {
    let scope = scope(&state, &caller, &p, admin).await?;
    if state.people.customer(&state, customer_id).await?.company_id != caller.company_id {
        return Err(ApiError::not_found());
    }
    let db = state.db.get().await?;
    let rows = db::article_spread::reach(
        &db,
        caller.company_id,
        customer_id,
        p.i64("article_id")?,
        scope.user(),
    )
    .await?;
    let total: i64 = rows.iter().map(|n| i64::from(n.reach)).sum();
    let direct: i64 = rows.iter().map(|n| i64::from(n.children)).sum();
    Ok(Reply::ok(
        "查询成功",
        json!({"ret_data": rows.iter().map(node_row).collect::<Vec<_>>(), "data_count": rows.len(), "reach": total, "children": direct}),
    ))
}

/// Extension: one customer's reach (readers below them), per article they read.
pub async fn customer_reach(
    State(state): State<AppState>,
    caller: StaffRead,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    reach(state, caller, id, p, false).await
}

/// Extension (admin).
pub async fn customer_reach_admin(
    State(state): State<AppState>,
    caller: StaffRead,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    reach(state, caller, id, p, true).await
}

async fn top(state: AppState, caller: StaffRead, id: i64, p: Params, admin: bool) -> ApiResult {
    let scope = scope(&state, &caller, &p, admin).await?;
    let limit = p.i64("length")?.unwrap_or(20).clamp(1, 200);
    let db = state.db.get().await?;
    if id == 0 {
        let rows =
            db::article_spread::top_of_company(&db, caller.company_id, scope.user(), limit).await?;
        let ret: Vec<Value> = rows
            .iter()
            .map(|(c, name, img, reach, children, articles)| {
                json!({"customer_id": c, "customer_name": name, "customer_headimgurl": img,
                       "reach": reach, "children": children, "article_num": articles})
            })
            .collect();
        let n = ret.len() as i64;
        return Ok(Reply::list("查询成功", ret, n));
    }
    drop(db);
    article_of(&state, &caller, id).await?;
    let db = state.db.get().await?;
    let rows =
        db::article_spread::top_of_article(&db, caller.company_id, id, scope.user(), limit).await?;
    let n = rows.len() as i64;
    Ok(Reply::list(
        "查询成功",
        rows.iter().map(node_row).collect(),
        n,
    ))
}

/// Extension: the top spreaders of an article (`o_id` 0: of the company, over all articles).
pub async fn top_spreaders(
    State(state): State<AppState>,
    caller: StaffRead,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    top(state, caller, id, p, false).await
}

/// Extension (admin).
pub async fn top_spreaders_admin(
    State(state): State<AppState>,
    caller: StaffRead,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    top(state, caller, id, p, true).await
}

async fn stay(state: AppState, caller: StaffRead, id: i64, p: Params, admin: bool) -> ApiResult {
    let scope = scope(&state, &caller, &p, admin).await?;
    let db = state.db.get().await?;
    let (_, _, read_secs) = db::article::brief(&db, id)
        .await?
        .filter(|a| a.0 == caller.company_id)
        .ok_or_else(ApiError::not_found)?;
    let (buckets, readers, finished, stay_total, reads, forwards) =
        db::article_spread::stay_distribution(&db, caller.company_id, id, scope.user()).await?;
    let rows: Vec<Value> = STAY_BUCKETS
        .iter()
        .enumerate()
        .map(|(i, (_, label))| {
            let n = buckets
                .iter()
                .find(|(b, _)| *b as usize == i)
                .map_or(0, |b| b.1);
            json!({"bucket": label, "count": n})
        })
        .collect();
    let avg = if readers > 0 {
        stay_total as f64 / readers as f64
    } else {
        0.0
    };
    Ok(Reply::ok(
        "查询成功",
        json!({"article_id": id, "buckets": rows, "reader_count": readers, "finished": finished,
               "read_secs": read_secs, "avg_stay_time": (avg * 10.0).round() / 10.0,
               "read_count": reads, "forward_count": forwards}),
    ))
}

/// Extension: the reading-time distribution of an article (how many read to the end).
pub async fn stay_distribution(
    State(state): State<AppState>,
    caller: StaffRead,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    stay(state, caller, id, p, false).await
}

/// Extension (admin).
pub async fn stay_distribution_admin(
    State(state): State<AppState>,
    caller: StaffRead,
    OId(id): OId,
    p: Params,
) -> ApiResult {
    stay(state, caller, id, p, true).await
}
