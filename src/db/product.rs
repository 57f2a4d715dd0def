//! Products (ADM-11..16, ADM-19) and feedback (ADM-17/18 and its creation). Every query is
//! scoped by company.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::{
    db::{contains, touched, Query},
    error::ApiError,
};

/// Which products a list shows.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    pub company_id: i64,
    pub product_type: i16,
    /// `None`: on shelf (1 and 3, A-14); `Some(s)`: exactly `s`.
    pub status: Option<i16>,
    pub name: Option<String>,
    /// Only this publisher's products (a member's personal products).
    pub owner: Option<i64>,
}

/// A product row; `content` is the full JSON text, or the `cover_data` text in lists.
#[derive(Debug, Clone)]
pub struct ProductRow {
    pub id: i64,
    pub company_id: i64,
    pub user_id: Option<i64>,
    pub publisher: Option<String>,
    pub publisher_avatar: Option<String>,
    pub product_type: i16,
    pub name: String,
    pub price: String,
    pub reason: String,
    pub content: String,
    pub status: i16,
    pub recommend_index: i16,
    pub create_date: DateTime<Utc>,
}

fn product_row(r: &tokio_postgres::Row) -> ProductRow {
    ProductRow {
        id: r.get(0),
        company_id: r.get(1),
        user_id: r.get(2),
        publisher: r.get(3),
        publisher_avatar: r.get(4),
        product_type: r.get(5),
        name: r.get(6),
        price: r.get(7),
        reason: r.get(8),
        content: r.get(9),
        status: r.get(10),
        recommend_index: r.get(11),
        create_date: r.get(12),
    }
}

fn filtered(select: &str, f: &ProductFilter) -> Query {
    let mut q = Query::new(select);
    q.push(" where ");
    let c = q.arg(f.company_id);
    let t = q.arg(f.product_type);
    q.push(&format!("p.company_id = {c} and p.product_type = {t}"));
    match f.status {
        None => q.push(" and p.on_shelf"),
        Some(2) => q.push(" and not p.on_shelf"),
        Some(s) => q.and("p.on_shelf and p.status = {}", s),
    }
    if let Some(owner) = f.owner {
        q.and("p.user_id = {}", owner);
    }
    if let Some(name) = &f.name {
        q.and("p.name ilike {}", contains(name));
    }
    q
}

const LIST_COLUMNS: &str =
    "select p.id, p.company_id, p.user_id, u.username, u.avatar, p.product_type,
    p.name, p.price, p.reason, p.cover_data, p.status, p.recommend_index, p.create_date
    from product p left join user_profile u on u.id = p.user_id";

/// ADM-11: products by `recommend_index` descending, newest first, with the total count.
/// Rows carry `cover_data` only.
pub async fn list(
    db: &impl GenericClient,
    f: &ProductFilter,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<ProductRow>, i64), ApiError> {
    let count = filtered("select count(*) from product p", f);
    let total: i64 = db.query_one(&count.sql, &count.params()).await?.get(0);
    let mut q = filtered(LIST_COLUMNS, f);
    q.push(" order by p.recommend_index desc, p.id desc");
    q.page(paging);
    let rows = db.query(&q.sql, &q.params()).await?;
    Ok((rows.iter().map(product_row).collect(), total))
}

/// One product of the company, full content.
pub async fn get(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
    for_update: bool,
) -> Result<Option<ProductRow>, ApiError> {
    // Prepared once per connection: a customer's product view reads it on a cache miss.
    const SELECT: &str =
        "select p.id, p.company_id, p.user_id, u.username, u.avatar, p.product_type,
            p.name, p.price, p.reason, p.content, p.status, p.recommend_index, p.create_date
         from product p left join user_profile u on u.id = p.user_id
         where p.id = $1 and p.company_id = $2";
    const FOR_UPDATE: &str =
        "select p.id, p.company_id, p.user_id, u.username, u.avatar, p.product_type,
            p.name, p.price, p.reason, p.content, p.status, p.recommend_index, p.create_date
         from product p left join user_profile u on u.id = p.user_id
         where p.id = $1 and p.company_id = $2 for update of p";
    let sql = if for_update { FOR_UPDATE } else { SELECT };
    Ok(super::opt_cached(db, sql, &[&id, &company_id])
        .await?
        .as_ref()
        .map(product_row))
}

/// Fields of a new or updated product. `content` is `(content, cover_data)` JSON text.
#[derive(Debug, Clone)]
pub struct ProductInput {
    pub name: String,
    pub price: String,
    pub reason: String,
    pub content: Option<(String, String)>,
}

pub async fn insert(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    product_type: i16,
    p: &ProductInput,
) -> Result<i64, ApiError> {
    let (content, cover) = p
        .content
        .clone()
        .unwrap_or_else(|| ("{}".to_owned(), "[]".to_owned()));
    let r = db
        .query_one(
            "insert into product (company_id, user_id, product_type, name, price, reason, content, cover_data)
             values ($1, $2, $3, $4, $5, $6, $7, $8) returning id",
            &[&company_id, &user_id, &product_type, &p.name, &p.price, &p.reason, &content, &cover],
        )
        .await?;
    Ok(r.get(0))
}

/// Updates name, price, reason, and the content when given (A-25: kept otherwise).
pub async fn update(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
    p: &ProductInput,
) -> Result<(), ApiError> {
    let (content, cover) = match &p.content {
        Some((c, v)) => (Some(c.as_str()), Some(v.as_str())),
        None => (None, None),
    };
    let n = db
        .execute(
            "update product set name = $3, price = $4, reason = $5,
                content = coalesce($6, content), cover_data = coalesce($7, cover_data)
             where id = $1 and company_id = $2",
            &[
                &id,
                &company_id,
                &p.name,
                &p.price,
                &p.reason,
                &content,
                &cover,
            ],
        )
        .await?;
    touched(n)
}

pub async fn set_status(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
    status: i16,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update product set status = $3 where id = $1 and company_id = $2",
            &[&id, &company_id, &status],
        )
        .await?;
    touched(n)
}

pub async fn set_recommend_index(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
    index: i16,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update product set recommend_index = $3 where id = $1 and company_id = $2",
            &[&id, &company_id, &index],
        )
        .await?;
    touched(n)
}

pub async fn delete(db: &impl GenericClient, company_id: i64, id: i64) -> Result<(), ApiError> {
    super::delete_in_company(db, "product", company_id, id).await
}

/// Who wrote a piece of feedback.
#[derive(Debug, Clone, Copy)]
pub enum Author {
    Staff(i64),
    Customer(i64),
}

pub async fn insert_feedback(
    db: &impl GenericClient,
    company_id: i64,
    author: Author,
    problem_type: i16,
    content: &str,
) -> Result<i64, ApiError> {
    let (user_id, customer_id) = match author {
        Author::Staff(u) => (Some(u), None),
        Author::Customer(c) => (None, Some(c)),
    };
    let r = db
        .query_one(
            "insert into feedback (company_id, user_id, customer_id, problem_type, content)
             values ($1, $2, $3, $4, $5) returning id",
            &[&company_id, &user_id, &customer_id, &problem_type, &content],
        )
        .await?;
    Ok(r.get(0))
}

#[derive(Debug, Clone)]
pub struct FeedbackRow {
    pub id: i64,
    pub user_id: Option<i64>,
    pub customer_id: Option<i64>,
    /// The salesperson's or the customer's name.
    pub author_name: Option<String>,
    pub problem_type: i16,
    pub content: String,
    pub company_id: i64,
    pub company_name: String,
    pub status: i16,
    pub create_date: DateTime<Utc>,
}

/// ADM-17: feedback newest first; `company_id` `None` = every company (the operator).
pub async fn list_feedback(
    db: &impl GenericClient,
    company_id: Option<i64>,
    status: Option<i16>,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<FeedbackRow>, i64), ApiError> {
    let build = |select: &str| {
        let mut q = Query::new(select);
        q.push(" where true");
        if let Some(c) = company_id {
            q.and("f.company_id = {}", c);
        }
        if let Some(s) = status {
            q.and("f.status = {}", s);
        }
        q
    };
    let count = build("select count(*) from feedback f");
    let total: i64 = db.query_one(&count.sql, &count.params()).await?.get(0);
    let mut q = build(
        "select f.id, f.user_id, f.customer_id, coalesce(u.username, k.username), f.problem_type,
            f.content, f.company_id, c.name, f.status, f.create_date
         from feedback f
         join company c on c.id = f.company_id
         left join user_profile u on u.id = f.user_id
         left join customer k on k.id = f.customer_id",
    );
    q.push(" order by f.id desc");
    q.page(paging);
    let rows = db.query(&q.sql, &q.params()).await?;
    Ok((
        rows.iter()
            .map(|r| FeedbackRow {
                id: r.get(0),
                user_id: r.get(1),
                customer_id: r.get(2),
                author_name: r.get(3),
                problem_type: r.get(4),
                content: r.get(5),
                company_id: r.get(6),
                company_name: r.get(7),
                status: r.get(8),
                create_date: r.get(9),
            })
            .collect(),
        total,
    ))
}

/// ADM-18; `company_id` `None` = any company (the operator).
pub async fn set_feedback_status(
    db: &impl GenericClient,
    company_id: Option<i64>,
    id: i64,
    status: i16,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update feedback set status = $3 where id = $1 and ($2::int8 is null or company_id = $2)",
            &[&id, &company_id, &status],
        )
        .await?;
    touched(n)
}

/// What a customer of salesperson `uid` sees: the company's products and `uid`'s personal
/// products, on the shelf, in ADM-11's order.
pub async fn showcase(
    db: &impl GenericClient,
    company_id: i64,
    uid: i64,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<ProductRow>, i64), ApiError> {
    const WHERE: &str = " where p.company_id = $1 and p.on_shelf
        and (p.product_type = 1 or (p.product_type = 2 and p.user_id = $2))";
    let total: i64 = db
        .query_one(
            &format!("select count(*) from product p{WHERE}"),
            &[&company_id, &uid],
        )
        .await?
        .get(0);
    let mut q = Query::new(&format!(
        "{LIST_COLUMNS}{WHERE} order by p.recommend_index desc, p.id desc"
    ));
    q.arg(company_id);
    q.arg(uid);
    q.page(paging);
    let rows = db.query(&q.sql, &q.params()).await?;
    Ok((rows.iter().map(product_row).collect(), total))
}

/// One product a customer of `uid` may see (on the shelf; company, or `uid`'s personal).
pub async fn showcase_one(
    db: &impl GenericClient,
    company_id: i64,
    uid: i64,
    id: i64,
) -> Result<Option<ProductRow>, ApiError> {
    Ok(get(db, company_id, id, false)
        .await?
        .filter(|p| p.status != 2 && (p.product_type == 1 || p.user_id == Some(uid))))
}
