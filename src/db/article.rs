//! The article library (ADM-64..68) and article tags (ADM-69..72), company-scoped. Read and
//! forward counts come from the per-salesperson counters of `article_stat`.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::error::ApiError;

/// An article as the lists show it.
#[derive(Debug, Clone)]
pub struct ArticleRow {
    pub id: i64,
    pub company_id: i64,
    pub title: String,
    pub summary: String,
    pub cover_url: String,
    pub insert_ads: String,
    pub status: i16,
    pub source: i16,
    pub read_secs: i32,
    pub author: String,
    pub avatar: String,
    pub read_count: i64,
    pub forward_count: i64,
    pub create_date: DateTime<Utc>,
    pub publish_date: Option<DateTime<Utc>>,
    /// Only filled by [`get`].
    pub content: Option<String>,
    pub tags: Vec<(i64, String)>,
}

const COLS: &str =
    "a.id, a.company_id, a.title, a.summary, a.cover_url, a.insert_ads, a.status, a.source,
    a.read_secs, coalesce(u.username, ''), coalesce(u.avatar, 'statics/imgs/setAvator.jpg'),
    coalesce(s.r, 0)::int8, coalesce(s.f, 0)::int8, a.create_date, a.publish_date";

const FROM: &str = "from article a left join user_profile u on u.id = a.user_id
    left join lateral (select sum(read_count) r, sum(forward_count) f from article_stat where article_id = a.id) s on true";

fn row(r: &tokio_postgres::Row) -> ArticleRow {
    ArticleRow {
        id: r.get(0),
        company_id: r.get(1),
        title: r.get(2),
        summary: r.get(3),
        cover_url: r.get(4),
        insert_ads: r.get(5),
        status: r.get(6),
        source: r.get(7),
        read_secs: r.get(8),
        author: r.get(9),
        avatar: r.get(10),
        read_count: r.get(11),
        forward_count: r.get(12),
        create_date: r.get(13),
        publish_date: r.get(14),
        content: None,
        tags: Vec::new(),
    }
}

/// ADM-64 filters.
#[derive(Debug, Default)]
pub struct ListFilter<'a> {
    pub status: Option<i16>,
    pub title: Option<&'a str>,
    pub tags: Option<Vec<i64>>,
    /// `create_date`, `read_count` or `forward_count`, with `-` for descending.
    pub order: Option<&'a str>,
}

/// ADM-64: the company's articles and the total.
pub async fn list(
    db: &impl GenericClient,
    company_id: i64,
    f: &ListFilter<'_>,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<ArticleRow>, i64), ApiError> {
    let mut q = super::Query::new(&format!("select {COLS} {FROM} where true"));
    let mut count = super::Query::new("select count(*) from article a where true");
    for q in [&mut q, &mut count] {
        q.and("a.company_id = {}", company_id);
        if let Some(s) = f.status {
            q.and("a.status = {}", s);
        }
        if let Some(t) = f.title {
            q.and("a.title ilike {}", super::contains(t));
        }
        if let Some(tags) = f.tags.as_ref().filter(|t| !t.is_empty()) {
            q.and(
                "exists (select 1 from article_tag_link l where l.article_id = a.id and l.tag_id = any({}))",
                tags.clone(),
            );
        }
    }
    let order = match f.order.map(str::trim).unwrap_or("-create_date") {
        "read_count" => "coalesce(s.r, 0) asc, a.id asc",
        "-read_count" => "coalesce(s.r, 0) desc, a.id desc",
        "forward_count" => "coalesce(s.f, 0) asc, a.id asc",
        "-forward_count" => "coalesce(s.f, 0) desc, a.id desc",
        "create_date" => "a.create_date asc, a.id asc",
        _ => "a.create_date desc, a.id desc",
    };
    q.push(&format!(" order by {order}"));
    q.page(paging);
    let rows = db.query(&q.sql, &q.params()).await?;
    let total: i64 = db.query_one(&count.sql, &count.params()).await?.get(0);
    let mut out: Vec<ArticleRow> = rows.iter().map(row).collect();
    attach_tags(db, &mut out).await?;
    Ok((out, total))
}

/// One article of the company, with its content and tags.
pub async fn get(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
) -> Result<Option<ArticleRow>, ApiError> {
    let r = db
        .query_opt(
            &format!("select {COLS}, a.content {FROM} where a.id = $1 and a.company_id = $2"),
            &[&id, &company_id],
        )
        .await?;
    let Some(r) = r else { return Ok(None) };
    let mut a = row(&r);
    a.content = Some(r.get(15));
    let mut v = vec![a];
    attach_tags(db, &mut v).await?;
    Ok(v.pop())
}

/// What a reader sees of an article (GZH-06): the row without the spread counters, with its
/// content and tags, in one prepared statement.
pub async fn for_reader(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
) -> Result<Option<ArticleRow>, ApiError> {
    let r = super::opt_cached(
        db,
        "select a.id, a.company_id, a.title, a.summary, a.cover_url, a.insert_ads, a.status, a.source,
            a.read_secs, coalesce(u.username, ''), coalesce(u.avatar, 'statics/imgs/setAvator.jpg'),
            0::int8, 0::int8, a.create_date, a.publish_date, a.content,
            array(select t.id from article_tag_link l join article_tag t on t.id = l.tag_id
                   where l.article_id = a.id order by t.id),
            array(select t.name from article_tag_link l join article_tag t on t.id = l.tag_id
                   where l.article_id = a.id order by t.id)
         from article a left join user_profile u on u.id = a.user_id
         where a.id = $1 and a.company_id = $2",
        &[&id, &company_id],
    )
    .await?;
    Ok(r.map(|r| {
        let mut a = row(&r);
        a.content = Some(r.get(15));
        let ids: Vec<i64> = r.get(16);
        let names: Vec<String> = r.get(17);
        a.tags = ids.into_iter().zip(names).collect();
        a
    }))
}

/// An article's company, title and expected reading time, by id alone (the customer side
/// checks the company itself).
pub async fn brief(
    db: &impl GenericClient,
    id: i64,
) -> Result<Option<(i64, String, i32)>, ApiError> {
    let r = super::opt_cached(
        db,
        "select company_id, title, read_secs from article where id = $1",
        &[&id],
    )
    .await?;
    Ok(r.map(|r| (r.get(0), r.get(1), r.get(2))))
}

async fn attach_tags(db: &impl GenericClient, rows: &mut [ArticleRow]) -> Result<(), ApiError> {
    let ids: Vec<i64> = rows.iter().map(|a| a.id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let tags = db
        .query(
            "select l.article_id, t.id, t.name from article_tag_link l join article_tag t on t.id = l.tag_id
             where l.article_id = any($1) order by t.id",
            &[&ids],
        )
        .await?;
    for t in &tags {
        let aid: i64 = t.get(0);
        if let Some(a) = rows.iter_mut().find(|a| a.id == aid) {
            a.tags.push((t.get(1), t.get(2)));
        }
    }
    Ok(())
}

/// ADM-66/67 input; `None` keeps the stored value on update.
#[derive(Debug, Default)]
pub struct ArticleInput {
    pub title: Option<String>,
    pub summary: Option<String>,
    pub cover_url: Option<String>,
    pub content: Option<String>,
    pub insert_ads: Option<String>,
    pub status: Option<i16>,
    pub tags: Option<Vec<i64>>,
}

/// ADM-66: a new article (status 2 unless given, source 1), its tags checked against the
/// company. One transaction.
pub async fn add(
    db: &mut deadpool_postgres::Client,
    company_id: i64,
    author: i64,
    a: &ArticleInput,
) -> Result<i64, ApiError> {
    let tx = db.transaction().await?;
    let title = a.title.clone().unwrap_or_default();
    let content = a.content.clone().unwrap_or_default();
    let status = a.status.unwrap_or(2);
    let id: i64 = tx
        .query_one(
            "insert into article (company_id, user_id, title, summary, cover_url, content, insert_ads, status, read_secs, publish_date)
             values ($1, $2, $3, $4, $5, $6, $7, $8::int2, $9, case when $8::int2 = 1 then now() end) returning id",
            &[
                &company_id,
                &author,
                &title,
                &a.summary.clone().unwrap_or_default(),
                &a.cover_url.clone().unwrap_or_default(),
                &content,
                &a.insert_ads.clone().unwrap_or_default(),
                &status,
                &crate::domain::article::read_secs(&title, &content),
            ],
        )
        .await?
        .get(0);
    if let Some(tags) = &a.tags {
        set_tags(&tx, company_id, id, tags).await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// ADM-67 (and publishing): changes the given fields of an article of the company.
pub async fn update(
    db: &mut deadpool_postgres::Client,
    company_id: i64,
    id: i64,
    a: &ArticleInput,
) -> Result<(), ApiError> {
    let tx = db.transaction().await?;
    let cur = tx
        .query_opt(
            "select title, content from article where id = $1 and company_id = $2 for update",
            &[&id, &company_id],
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    let title = a.title.clone().unwrap_or_else(|| cur.get(0));
    let content = a.content.clone().unwrap_or_else(|| cur.get(1));
    tx.execute(
        "update article set title = $3, content = $4, read_secs = $5,
            summary = coalesce($6, summary), cover_url = coalesce($7, cover_url),
            insert_ads = coalesce($8, insert_ads), status = coalesce($9::int2, status),
            publish_date = case when $9::int2 = 1 and status <> 1 then now() else publish_date end
         where id = $1 and company_id = $2",
        &[
            &id,
            &company_id,
            &title,
            &content,
            &crate::domain::article::read_secs(&title, &content),
            &a.summary,
            &a.cover_url,
            &a.insert_ads,
            &a.status,
        ],
    )
    .await?;
    if let Some(tags) = &a.tags {
        set_tags(&tx, company_id, id, tags).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn set_tags(
    tx: &impl GenericClient,
    company_id: i64,
    article_id: i64,
    tags: &[i64],
) -> Result<(), ApiError> {
    let mut ids = tags.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let found: i64 = tx
        .query_one(
            "select count(*) from article_tag where company_id = $1 and id = any($2)",
            &[&company_id, &ids],
        )
        .await?
        .get(0);
    if found != ids.len() as i64 {
        return Err(ApiError::not_found());
    }
    tx.execute(
        "delete from article_tag_link where article_id = $1",
        &[&article_id],
    )
    .await?;
    tx.execute(
        "insert into article_tag_link (article_id, tag_id) select $1, unnest($2::int8[])",
        &[&article_id, &ids],
    )
    .await?;
    Ok(())
}

/// ADM-68.
pub async fn delete(db: &impl GenericClient, company_id: i64, id: i64) -> Result<(), ApiError> {
    super::delete_in_company(db, "article", company_id, id).await
}

/// ADM-69: the company's tags, by id.
pub async fn tags(
    db: &impl GenericClient,
    company_id: i64,
) -> Result<Vec<(i64, String)>, ApiError> {
    let rows = db
        .query(
            "select id, name from article_tag where company_id = $1 order by id",
            &[&company_id],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// ADM-70 (300 for a name the company already has).
pub async fn add_tag(
    db: &impl GenericClient,
    company_id: i64,
    name: &str,
) -> Result<i64, ApiError> {
    Ok(db
        .query_one(
            "insert into article_tag (company_id, name) values ($1, $2) returning id",
            &[&company_id, &name],
        )
        .await?
        .get(0))
}

/// ADM-71.
pub async fn rename_tag(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
    name: &str,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update article_tag set name = $3 where id = $1 and company_id = $2",
            &[&id, &company_id, &name],
        )
        .await?;
    super::touched(n)
}

/// ADM-72 (its links go with it).
pub async fn delete_tag(db: &impl GenericClient, company_id: i64, id: i64) -> Result<(), ApiError> {
    super::delete_in_company(db, "article_tag", company_id, id).await
}
