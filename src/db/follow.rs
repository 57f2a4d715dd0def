//! Follow-up phrases (跟进常用语): each company's presets plus each salesperson's own.

use deadpool_postgres::GenericClient;

use crate::error::ApiError;

/// The presets every company starts with (also seeded by sql/003 for existing companies).
pub const PRESETS: [&str; 9] = [
    "客户查看了公司产品,有合作意向",
    "已电话沟通,客户有兴趣",
    "已发送产品资料,等待客户反馈",
    "客户要求报价,已报价",
    "已约见面,待拜访",
    "已拜访客户,沟通顺利",
    "客户在比价,需持续跟进",
    "客户暂无需求,定期维护",
    "已成交客户,维护好后续关系",
];

/// A page of the salesperson's phrases (own first, then presets; each newest first) and the total.
pub async fn list(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    offset: i64,
    limit: i64,
) -> Result<(Vec<(i64, String)>, i64), ApiError> {
    let total: i64 = db
        .query_one(
            "select count(*) from follow_language where company_id = $1 and (user_id = $2 or user_id is null)",
            &[&company_id, &user_id],
        )
        .await?
        .get(0);
    let rows = db
        .query(
            "select id, language from follow_language where company_id = $1 and (user_id = $2 or user_id is null)
             order by (user_id is null), id desc limit $3 offset $4",
            &[&company_id, &user_id, &limit, &offset],
        )
        .await?;
    Ok((rows.iter().map(|r| (r.get(0), r.get(1))).collect(), total))
}

pub async fn add(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    text: &str,
) -> Result<i64, ApiError> {
    Ok(db
        .query_one(
            "insert into follow_language (company_id, user_id, language) values ($1, $2, $3) returning id",
            &[&company_id, &user_id, &text],
        )
        .await?
        .get(0))
}

/// Deletes one of the salesperson's own phrases (302 for presets and anyone else's).
pub async fn delete(db: &impl GenericClient, user_id: i64, id: i64) -> Result<(), ApiError> {
    let n = db
        .execute(
            "delete from follow_language where id = $1 and user_id = $2",
            &[&id, &user_id],
        )
        .await?;
    super::touched(n)
}

/// Writes a follow-up record and marks the relation followed up now (its AI energy gains the
/// follow-up weight). 302 when the salesperson has no relation with the customer.
pub async fn record(
    tx: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    customer_id: i64,
    text: &str,
) -> Result<(), ApiError> {
    let n = tx
        .execute(
            "update user_customer set last_follow_time = now(),
                ai_energy = ai_energy * power(0.5, greatest(0, extract(epoch from now() - coalesce(ai_energy_at, now()))) / $4::float8) + $5::float8,
                ai_energy_at = now()
             where company_id = $1 and user_id = $2 and customer_id = $3",
            &[
                &company_id,
                &user_id,
                &customer_id,
                &crate::domain::ai::HALF_LIFE_SECS,
                &crate::domain::ai::weight(crate::domain::ai::Signal::FollowUp),
            ],
        )
        .await?;
    if n == 0 {
        return Err(ApiError::not_found());
    }
    tx.execute(
        "insert into follow_record (company_id, user_id, customer_id, follow_info) values ($1, $2, $3, $4)",
        &[&company_id, &user_id, &customer_id, &text],
    )
    .await?;
    Ok(())
}

/// A follow-up record with the customer's avatar and the salesperson's avatar and name.
pub type FollowRow = (
    String,
    String,
    String,
    String,
    chrono::DateTime<chrono::Utc>,
);

/// QYW-45: the customer's follow-up records in the company, oldest first, and the total.
pub async fn records(
    db: &impl GenericClient,
    company_id: i64,
    customer_id: i64,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<FollowRow>, i64), ApiError> {
    let (offset, limit) = paging.unwrap_or((0, i64::MAX));
    let rows = db
        .query(
            "select coalesce(k.headimgurl, 'statics/imgs/setAvator.jpg'), u.avatar, u.username, f.follow_info, f.create_date
             from follow_record f join customer k on k.id = f.customer_id join user_profile u on u.id = f.user_id
             where f.company_id = $1 and f.customer_id = $2 order by f.id limit $3 offset $4",
            &[&company_id, &customer_id, &limit, &offset],
        )
        .await?;
    let total: i64 = db
        .query_one(
            "select count(*) from follow_record where company_id = $1 and customer_id = $2",
            &[&company_id, &customer_id],
        )
        .await?
        .get(0);
    Ok((
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect(),
        total,
    ))
}
