//! Companies (tenants), their billing period and card quota, and WeCom credentials.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;

use crate::{domain::secret::Secret, error::ApiError};

#[derive(Debug, Clone)]
pub struct CompanyRow {
    pub id: i64,
    pub name: String,
    pub charging_start_time: Option<NaiveDate>,
    pub open_length_time: Option<i16>,
    pub account_expired_time: Option<NaiveDate>,
    pub mingpian_available_num: i32,
    pub remarks: Option<String>,
    pub corp_id: Option<String>,
    pub tongxunlu_is_validate: bool,
    pub create_date: DateTime<Utc>,
    /// Enabled users (cards opened).
    pub enabled_users: i64,
    /// All users.
    pub user_count: i64,
    pub customer_num: i64,
}

const SELECT: &str =
    "select c.id, c.name, c.charging_start_time, c.open_length_time, c.account_expired_time,
    c.mingpian_available_num, c.remarks, c.corp_id, c.tongxunlu_is_validate, c.create_date,
    (select count(*) from user_profile u where u.company_id = c.id and u.status = 1),
    (select count(*) from user_profile u where u.company_id = c.id),
    (select count(*) from customer k where k.company_id = c.id)
    from company c";

fn row(r: &tokio_postgres::Row) -> CompanyRow {
    CompanyRow {
        id: r.get(0),
        name: r.get(1),
        charging_start_time: r.get(2),
        open_length_time: r.get(3),
        account_expired_time: r.get(4),
        mingpian_available_num: r.get(5),
        remarks: r.get(6),
        corp_id: r.get(7),
        tongxunlu_is_validate: r.get(8),
        create_date: r.get(9),
        enabled_users: r.get(10),
        user_count: r.get(11),
        customer_num: r.get(12),
    }
}

pub async fn get(db: &impl GenericClient, id: i64) -> Result<Option<CompanyRow>, ApiError> {
    Ok(db
        .query_opt(&format!("{SELECT} where c.id = $1"), &[&id])
        .await?
        .as_ref()
        .map(row))
}

/// Sort keys allowed in `order` (Django-style, `-` for descending).
fn order_clause(order: Option<&str>) -> &'static str {
    match order.map(str::trim) {
        Some("create_date") | Some("id") => "c.id",
        Some("name") => "c.name, c.id",
        Some("-name") => "c.name desc, c.id desc",
        Some("account_expired_time") => "c.account_expired_time nulls last, c.id",
        Some("-account_expired_time") => "c.account_expired_time desc nulls last, c.id desc",
        Some("charging_start_time") => "c.charging_start_time nulls last, c.id",
        Some("-charging_start_time") => "c.charging_start_time desc nulls last, c.id desc",
        _ => "c.id desc",
    }
}

/// Companies: all of them (`only = None`, the operator) or just one.
pub async fn list(
    db: &impl GenericClient,
    only: Option<i64>,
    order: Option<&str>,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<CompanyRow>, i64), ApiError> {
    let mut q = super::Query::new(&format!("{SELECT} where true"));
    if let Some(id) = only {
        q.and("c.id = {}", id);
    }
    let total: i64 = db
        .query_one(&format!("select count(*) from ({}) t", q.sql), &q.params())
        .await?
        .get(0);
    q.push(&format!(" order by {}", order_clause(order)));
    q.page(paging);
    let rows = db.query(&q.sql, &q.params()).await?;
    Ok((rows.iter().map(row).collect(), total))
}

/// Billing fields of ADM-47/48.
#[derive(Debug, Clone, Default)]
pub struct CompanyInput {
    pub name: Option<String>,
    pub charging_start_time: Option<NaiveDate>,
    pub open_length_time: Option<i16>,
    pub account_expired_time: Option<NaiveDate>,
    pub mingpian_available_num: Option<i32>,
    pub remarks: Option<String>,
}

/// Creates a company with its preset follow-up phrases and customer-tag groups.
pub async fn insert(db: &impl GenericClient, c: &CompanyInput) -> Result<i64, ApiError> {
    let presets: Vec<&str> = super::follow::PRESETS.to_vec();
    let r = db
        .query_one(
            "with c as (
                insert into company (name, charging_start_time, open_length_time, account_expired_time,
                    mingpian_available_num, remarks) values ($1, $2, $3, $4, coalesce($5, 0), $6) returning id
             ), p as (
                insert into follow_language (company_id, language)
                select c.id, t.l from c, unnest($7::text[]) with ordinality as t(l, n) order by t.n
             )
             select id from c",
            &[
                &c.name,
                &c.charging_start_time,
                &c.open_length_time,
                &c.account_expired_time,
                &c.mingpian_available_num,
                &c.remarks,
                &presets,
            ],
        )
        .await?;
    let id: i64 = r.get(0);
    // The tag groups reference the company row, so they follow it (callers that need both
    // atomically pass a transaction).
    db.execute("select seed_tag_groups($1)", &[&id]).await?;
    Ok(id)
}

pub async fn update(db: &impl GenericClient, id: i64, c: &CompanyInput) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update company set name = coalesce($2, name), charging_start_time = coalesce($3, charging_start_time),
                open_length_time = coalesce($4, open_length_time), account_expired_time = coalesce($5, account_expired_time),
                mingpian_available_num = coalesce($6, mingpian_available_num), remarks = coalesce($7, remarks)
             where id = $1",
            &[&id, &c.name, &c.charging_start_time, &c.open_length_time, &c.account_expired_time, &c.mingpian_available_num, &c.remarks],
        )
        .await?;
    super::touched(n)
}

/// Deletes a company without users (304 otherwise).
pub async fn delete(db: &impl GenericClient, id: i64) -> Result<(), ApiError> {
    let used: bool = db
        .query_one(
            "select exists (select 1 from user_profile where company_id = $1)",
            &[&id],
        )
        .await?
        .get(0);
    if used {
        return Err(ApiError::HasChildren(
            "该公司下还有用户,请先删除或转移用户".into(),
        ));
    }
    if db
        .execute("delete from company where id = $1", &[&id])
        .await?
        == 0
    {
        return Err(ApiError::not_found());
    }
    Ok(())
}

pub async fn set_tongxunlu(
    db: &impl GenericClient,
    id: i64,
    corp_id: &str,
    secret: &str,
    valid: bool,
) -> Result<(), ApiError> {
    db.execute(
        "update company set corp_id = $2, tongxunlu_secret = $3, tongxunlu_is_validate = $4 where id = $1",
        &[&id, &corp_id, &secret, &valid],
    )
    .await?;
    Ok(())
}

/// Marks every app secret of the company as unverified (its corp changed).
pub async fn invalidate_apps(db: &impl GenericClient, company_id: i64) -> Result<(), ApiError> {
    db.execute(
        "update company_app set is_validate = false where company_id = $1",
        &[&company_id],
    )
    .await?;
    Ok(())
}

/// A WeCom app (agent) of a company.
#[derive(Debug, Clone)]
pub struct AppRow {
    pub app_type: i16,
    pub name: String,
    pub agent_id: i64,
    pub app_secret: Secret,
    pub is_validate: bool,
}

pub async fn apps(db: &impl GenericClient, company_id: i64) -> Result<Vec<AppRow>, ApiError> {
    let rows = db
        .query(
            "select app_type, name, agent_id, app_secret, is_validate from company_app where company_id = $1 order by app_type",
            &[&company_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AppRow {
            app_type: r.get(0),
            name: r.get(1),
            agent_id: r.get(2),
            app_secret: Secret::new(r.get::<_, String>(3)),
            is_validate: r.get(4),
        })
        .collect())
}

pub async fn upsert_app(
    db: &impl GenericClient,
    company_id: i64,
    app: &AppRow,
) -> Result<(), ApiError> {
    db.execute(
        "insert into company_app (company_id, app_type, name, agent_id, app_secret, is_validate)
         values ($1, $2, $3, $4, $5, $6)
         on conflict on constraint company_app_type_key do update set
            name = excluded.name, agent_id = excluded.agent_id, app_secret = excluded.app_secret,
            is_validate = excluded.is_validate",
        &[
            &company_id,
            &app.app_type,
            &app.name,
            &app.agent_id,
            &app.app_secret.expose(),
            &app.is_validate,
        ],
    )
    .await?;
    Ok(())
}

/// The company's WeCom corp id (for the apps' validation).
pub async fn corp_id(db: &impl GenericClient, id: i64) -> Result<Option<Option<String>>, ApiError> {
    Ok(db
        .query_opt("select corp_id from company where id = $1", &[&id])
        .await?
        .map(|r| r.get(0)))
}

/// Departments, for the demo and the WeCom sync: upsert by WeCom id.
pub async fn upsert_department(
    db: &impl GenericClient,
    company_id: i64,
    wecom_id: i64,
    name: &str,
) -> Result<i64, ApiError> {
    let r = db
        .query_one(
            "insert into department (company_id, name, wecom_dept_id) values ($1, $2, $3)
             on conflict on constraint department_wecom_key do update set name = excluded.name returning id",
            &[&company_id, &name, &wecom_id],
        )
        .await?;
    Ok(r.get(0))
}
