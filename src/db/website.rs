//! The company website (one per company, A-34) and website templates (ADM-39..44).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::{
    db::{touched, Query},
    error::ApiError,
};

/// A company's website: the company's id and name, the content (`[]` before the first save)
/// and the date it was first saved (the company's creation date before that).
#[derive(Debug, Clone)]
pub struct WebsiteRow {
    pub company_id: i64,
    pub name: String,
    pub website_content: String,
    pub create_date: DateTime<Utc>,
}

pub async fn get(db: &impl GenericClient, company_id: i64) -> Result<Option<WebsiteRow>, ApiError> {
    let stmt = db
        .prepare_cached(
            "select c.id, c.name, coalesce(w.website_content, '[]'), coalesce(w.create_date, c.create_date)
             from company c left join website w on w.company_id = c.id where c.id = $1",
        )
        .await?;
    Ok(db
        .query_opt(&stmt, &[&company_id])
        .await?
        .map(|r| WebsiteRow {
            company_id: r.get(0),
            name: r.get(1),
            website_content: r.get(2),
            create_date: r.get(3),
        }))
}

pub async fn save(db: &impl GenericClient, company_id: i64, content: &str) -> Result<(), ApiError> {
    db.execute(
        "insert into website (company_id, website_content) values ($1, $2)
         on conflict (company_id) do update set website_content = excluded.website_content, update_date = now()",
        &[&company_id, &content],
    )
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct TemplateRow {
    pub id: i64,
    pub name: String,
    pub template_content: String,
    pub create_date: DateTime<Utc>,
}

pub async fn templates(
    db: &impl GenericClient,
    company_id: i64,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<TemplateRow>, i64), ApiError> {
    let total: i64 = db
        .query_one(
            "select count(*) from website_template where company_id = $1",
            &[&company_id],
        )
        .await?
        .get(0);
    let mut q = Query::new(
        "select id, name, template_content, create_date from website_template where company_id = $1 order by id desc",
    );
    q.arg(company_id);
    q.page(paging);
    let rows = db.query(&q.sql, &q.params()).await?;
    Ok((
        rows.iter()
            .map(|r| TemplateRow {
                id: r.get(0),
                name: r.get(1),
                template_content: r.get(2),
                create_date: r.get(3),
            })
            .collect(),
        total,
    ))
}

pub async fn insert_template(
    db: &impl GenericClient,
    company_id: i64,
    name: &str,
    content: &str,
) -> Result<i64, ApiError> {
    Ok(db
        .query_one(
            "insert into website_template (company_id, name, template_content) values ($1, $2, $3) returning id",
            &[&company_id, &name, &content],
        )
        .await?
        .get(0))
}

/// Replaces the content, and the name when given.
pub async fn update_template(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
    name: Option<&str>,
    content: &str,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update website_template set template_content = $3, name = coalesce($4, name)
             where id = $1 and company_id = $2",
            &[&id, &company_id, &content, &name],
        )
        .await?;
    touched(n)
}

pub async fn delete_template(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
) -> Result<(), ApiError> {
    super::delete_in_company(db, "website_template", company_id, id).await
}
