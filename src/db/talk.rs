//! Talk scripts (话术库, ADM-89..96): groups and phrases of a company, and the phrase search
//! of the salesperson app.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::error::ApiError;

/// A group as ADM-92 shows it.
#[derive(Debug, Clone)]
pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub user_name: String,
    pub company_name: String,
    pub create_date: DateTime<Utc>,
}

/// A phrase as ADM-96 shows it.
#[derive(Debug, Clone)]
pub struct PhraseRow {
    pub id: i64,
    pub content: String,
    pub send_num: i64,
    pub group_id: i64,
    pub group_name: String,
    pub create_date: DateTime<Utc>,
}

/// A user of the company named by id or exact username; 302 otherwise.
pub async fn resolve_user(
    db: &impl GenericClient,
    company_id: i64,
    given: &str,
) -> Result<i64, ApiError> {
    let id: Option<i64> = given.parse().ok();
    let r = db
        .query_opt(
            "select id from user_profile where company_id = $1 and (id = $2 or username = $3)
             order by (id = $2) desc, id limit 1",
            &[&company_id, &id.unwrap_or(-1), &given],
        )
        .await?;
    r.map(|r| r.get(0)).ok_or_else(ApiError::not_found)
}

/// A group of the company named by id or exact name; 302 otherwise.
pub async fn resolve_group(
    db: &impl GenericClient,
    company_id: i64,
    given: &str,
) -> Result<i64, ApiError> {
    let id: Option<i64> = given.parse().ok();
    let r = db
        .query_opt(
            "select id from talk_group where company_id = $1 and (id = $2 or name = $3)
             order by (id = $2) desc limit 1",
            &[&company_id, &id.unwrap_or(-1), &given],
        )
        .await?;
    r.map(|r| r.get(0)).ok_or_else(ApiError::not_found)
}

/// Whether `given` (an id or the exact name) names this company.
pub async fn is_company(
    db: &impl GenericClient,
    company_id: i64,
    given: &str,
) -> Result<bool, ApiError> {
    let id: Option<i64> = given.parse().ok();
    Ok(db
        .query_opt(
            "select 1 from company where id = $1 and ($2::int8 = id or name = $3)",
            &[&company_id, &id, &given],
        )
        .await?
        .is_some())
}

/// ADM-89 (300 for a name the company already has).
pub async fn add_group(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    name: &str,
) -> Result<i64, ApiError> {
    Ok(db
        .query_one(
            "insert into talk_group (company_id, user_id, name) values ($1, $2, $3) returning id",
            &[&company_id, &user_id, &name],
        )
        .await?
        .get(0))
}

/// ADM-90: the given fields.
pub async fn update_group(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
    user_id: Option<i64>,
    name: Option<&str>,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update talk_group set user_id = coalesce($3, user_id), name = coalesce($4, name)
             where id = $1 and company_id = $2",
            &[&id, &company_id, &user_id, &name],
        )
        .await?;
    super::touched(n)
}

/// ADM-91: 304 while the group still has phrases.
pub async fn delete_group(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
) -> Result<(), ApiError> {
    super::delete_in_company(db, "talk_group", company_id, id).await
}

/// ADM-92: the company's groups, oldest first, and the total.
pub async fn groups(
    db: &impl GenericClient,
    company_id: i64,
    name: Option<&str>,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<GroupRow>, i64), ApiError> {
    let mut q = super::Query::new(
        "select g.id, g.name, coalesce(u.username, ''), c.name, g.create_date
         from talk_group g join company c on c.id = g.company_id
         left join user_profile u on u.id = g.user_id where true",
    );
    let mut count = super::Query::new("select count(*) from talk_group g where true");
    for q in [&mut q, &mut count] {
        q.and("g.company_id = {}", company_id);
        if let Some(n) = name {
            q.and("g.name ilike {}", super::contains(n));
        }
    }
    q.push(" order by g.id");
    q.page(paging);
    let rows = db.query(&q.sql, &q.params()).await?;
    let total: i64 = db.query_one(&count.sql, &count.params()).await?.get(0);
    Ok((
        rows.iter()
            .map(|r| GroupRow {
                id: r.get(0),
                name: r.get(1),
                user_name: r.get(2),
                company_name: r.get(3),
                create_date: r.get(4),
            })
            .collect(),
        total,
    ))
}

/// ADM-93.
pub async fn add_phrase(
    db: &impl GenericClient,
    company_id: i64,
    group_id: i64,
    content: &str,
) -> Result<i64, ApiError> {
    Ok(db
        .query_one(
            "insert into talk_phrase (company_id, group_id, content) values ($1, $2, $3) returning id",
            &[&company_id, &group_id, &content],
        )
        .await?
        .get(0))
}

/// ADM-94.
pub async fn update_phrase(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
    group_id: Option<i64>,
    content: Option<&str>,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update talk_phrase set group_id = coalesce($3, group_id), content = coalesce($4, content)
             where id = $1 and company_id = $2",
            &[&id, &company_id, &group_id, &content],
        )
        .await?;
    super::touched(n)
}

/// ADM-95.
pub async fn delete_phrase(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
) -> Result<(), ApiError> {
    super::delete_in_company(db, "talk_phrase", company_id, id).await
}

/// ADM-96 and the salesperson's search: phrases of the company, optionally of one group and
/// containing `keyword`, oldest first (by use, most used first, when `by_use`), and the total.
pub async fn phrases(
    db: &impl GenericClient,
    company_id: i64,
    group_id: Option<i64>,
    keyword: Option<&str>,
    by_use: bool,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<PhraseRow>, i64), ApiError> {
    let mut q = super::Query::new(
        "select p.id, p.content, p.send_num, g.id, g.name, p.create_date
         from talk_phrase p join talk_group g on g.id = p.group_id where true",
    );
    let mut count = super::Query::new("select count(*) from talk_phrase p where true");
    for q in [&mut q, &mut count] {
        q.and("p.company_id = {}", company_id);
        if let Some(g) = group_id {
            q.and("p.group_id = {}", g);
        }
        if let Some(k) = keyword {
            q.and("p.content ilike {}", super::contains(k));
        }
    }
    q.push(if by_use {
        " order by p.send_num desc, p.id"
    } else {
        " order by p.id"
    });
    q.page(paging);
    let rows = db.query(&q.sql, &q.params()).await?;
    let total: i64 = db.query_one(&count.sql, &count.params()).await?.get(0);
    Ok((
        rows.iter()
            .map(|r| PhraseRow {
                id: r.get(0),
                content: r.get(1),
                send_num: r.get(2),
                group_id: r.get(3),
                group_name: r.get(4),
                create_date: r.get(5),
            })
            .collect(),
        total,
    ))
}

/// A phrase of the company, for sending it (302 otherwise).
pub async fn phrase_text(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
) -> Result<String, ApiError> {
    db.query_opt(
        "select content from talk_phrase where id = $1 and company_id = $2",
        &[&id, &company_id],
    )
    .await?
    .map(|r| r.get(0))
    .ok_or_else(ApiError::not_found)
}

/// Counts chat message `message_id` as a use of phrase `id`, once: the use and the count in
/// one statement (sql/024), so calling it again for the same message (a retried send) counts
/// nothing, and a send whose count was lost is counted by its retry. 302 for a phrase of
/// another company.
pub async fn count_send(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
    message_id: i64,
) -> Result<(), ApiError> {
    let found = db
        .query_one(
            "with phrase as (select id, company_id from talk_phrase where id = $1 and company_id = $2),
                  used as (
                    insert into talk_phrase_use (message_id, phrase_id, company_id)
                    select $3, id, company_id from phrase
                    on conflict (message_id) do nothing
                    returning phrase_id),
                  counted as (
                    update talk_phrase set send_num = send_num + 1
                    where id in (select phrase_id from used)
                    returning id)
             select (select count(*) from phrase), (select count(*) from counted)",
            &[&id, &company_id, &message_id],
        )
        .await?;
    super::touched(found.get::<_, i64>(0) as u64)
}

/// Phrases of `company_id` whose `send_num` is not the number of their recorded uses, as
/// text for `check-counters` (at most 20).
pub async fn check(db: &impl GenericClient, company_id: i64) -> Result<Vec<String>, ApiError> {
    let rows = db
        .query(
            "select p.id, p.send_num, u.n
             from talk_phrase p
             cross join lateral (select count(*) as n from talk_phrase_use u where u.phrase_id = p.id) u
             where p.company_id = $1 and p.send_num <> u.n
             order by p.id limit 20",
            &[&company_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            format!(
                "talk_phrase {}: send_num {} but {} uses",
                r.get::<_, i64>(0),
                r.get::<_, i64>(1),
                r.get::<_, i64>(2)
            )
        })
        .collect())
}
