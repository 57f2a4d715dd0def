//! The salesperson's customers: who may see and change which customer, and the pipeline
//! updates (QYW-07..12) that write their follow-up records in the same transaction.

use chrono::NaiveDate;
use deadpool_postgres::GenericClient;

use crate::{
    auth::Staff,
    db::{self, customer::ProfileUpdate},
    domain::time,
    error::ApiError,
    state::AppState,
};

/// Administrators see every customer of their company; others their own.
pub fn sees_company(caller: &Staff) -> bool {
    caller.level.is_admin()
}

/// The relation changes one update form asks for.
#[derive(Debug, Default)]
pub struct PipelineUpdate {
    pub expected_time: Option<NaiveDate>,
    pub expedted_pr: Option<i16>,
    pub tags: Option<Vec<i64>>,
    pub source: Option<i16>,
    pub profile: Option<ProfileUpdate>,
}

/// Applies `u` to the caller's relation with `customer_id` in one transaction, writing one
/// follow-up record per changed field ("更新预计成交日期: 2018-06-14", "更新预计成交率为: 80%",
/// "更新客户标签: …", "更新客户信息: …"). 302 when the customer is not the caller's.
pub async fn update(
    state: &AppState,
    caller: &Staff,
    customer_id: i64,
    u: PipelineUpdate,
) -> Result<(), ApiError> {
    if let Some(pr) = u.expedted_pr {
        if !(0..=100).contains(&pr) {
            return Err(ApiError::form("预计成交率只能是 0-100"));
        }
    }
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    if !db::customer::is_related(&tx, caller.id, customer_id).await? {
        return Err(ApiError::not_found());
    }
    let mut notes: Vec<String> = Vec::new();
    if u.expected_time.is_some() || u.expedted_pr.is_some() || u.source.is_some() {
        db::customer::update_relation(
            &tx,
            caller.id,
            customer_id,
            u.expected_time,
            u.expedted_pr,
            u.source,
        )
        .await?;
    }
    if let Some(d) = u.expected_time {
        notes.push(format!("更新预计成交日期: {}", time::ymd(d)));
    }
    if let Some(pr) = u.expedted_pr {
        notes.push(format!("更新预计成交率为: {pr}%"));
    }
    if let Some(tags) = &u.tags {
        db::tag::set_customer_tags(&tx, caller.company_id, customer_id, tags).await?;
        let names = tag_names(&tx, customer_id).await?;
        notes.push(format!("更新客户标签: {}", names.join(",")));
    }
    if let Some(p) = &u.profile {
        if let Some(sup) = p.superior_id {
            if sup == customer_id {
                return Err(ApiError::form("上级不能是客户自己"));
            }
            db::all_in_company(&tx, db::Owned::Customer, caller.company_id, &[sup]).await?;
        }
        db::customer::update_profile(&tx, caller.company_id, customer_id, p).await?;
        let changed = profile_fields(p);
        if !changed.is_empty() {
            notes.push(format!("更新客户信息: {}", changed.join("、")));
        }
    }
    for note in &notes {
        db::follow::record(&tx, caller.company_id, caller.id, customer_id, note).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A free-text follow-up record written by the salesperson.
pub async fn follow_up(
    state: &AppState,
    caller: &Staff,
    customer_id: i64,
    text: &str,
) -> Result<(), ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::form("跟进内容不能为空"));
    }
    if text.chars().count() > 500 {
        return Err(ApiError::form("跟进内容不能超过500个字"));
    }
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::follow::record(&tx, caller.company_id, caller.id, customer_id, text).await?;
    tx.commit().await?;
    Ok(())
}

/// Checks the caller may read `customer_id` (their own, or any of the company for admins).
pub async fn check_visible(
    db: &impl GenericClient,
    caller: &Staff,
    customer_id: i64,
) -> Result<(), ApiError> {
    let ok = db
        .query_opt(
            "select 1 from user_customer where company_id = $1 and customer_id = $2 and (user_id = $3 or $4) limit 1",
            &[&caller.company_id, &customer_id, &caller.id, &sees_company(caller)],
        )
        .await?
        .is_some();
    if ok {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

async fn tag_names(db: &impl GenericClient, customer_id: i64) -> Result<Vec<String>, ApiError> {
    let rows = db
        .query(
            "select t.name from customer_tag_link l join customer_tag t on t.id = l.tag_id
             where l.customer_id = $1 order by t.id",
            &[&customer_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn profile_fields(p: &ProfileUpdate) -> Vec<&'static str> {
    [
        ("姓名", p.username.is_some()),
        ("备注名", p.memo_name.is_some()),
        ("电话", p.phone.is_some()),
        ("邮箱", p.email.is_some()),
        ("公司", p.company.is_some()),
        ("职位", p.position.is_some()),
        ("地址", p.address.is_some()),
        ("备注", p.mem.is_some()),
        ("生日", p.birthday.is_some()),
        ("性别", p.sex.is_some()),
        ("上级", p.superior_id.is_some()),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(n, _)| n)
    .collect()
}
