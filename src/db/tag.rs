//! Customer tags: groups, tags, and which customers carry them. Everything is scoped by company.

use deadpool_postgres::GenericClient;

use crate::error::ApiError;

/// A tag with the ids of the customers (of the caller's company) that carry it.
#[derive(Debug, Clone)]
pub struct TagRow {
    pub id: i64,
    pub name: String,
    pub group: String,
    pub customers: Vec<i64>,
}

/// Every tag of the company, by group then id; `customers` only lists customers related to `user_id`.
pub async fn list(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
) -> Result<Vec<TagRow>, ApiError> {
    let rows = db
        .query(
            "select t.id, t.name, g.name,
                coalesce(array_agg(l.customer_id order by l.customer_id) filter (where uc.id is not null), '{}')
             from customer_tag t join tag_group g on g.id = t.group_id
             left join customer_tag_link l on l.tag_id = t.id
             left join user_customer uc on uc.customer_id = l.customer_id and uc.user_id = $2
             where t.company_id = $1
             group by t.id, t.name, g.name, g.sort order by g.sort, t.id",
            &[&company_id, &user_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| TagRow {
            id: r.get(0),
            name: r.get(1),
            group: r.get(2),
            customers: r.get(3),
        })
        .collect())
}

/// The company's groups in display order.
pub async fn groups(db: &impl GenericClient, company_id: i64) -> Result<Vec<String>, ApiError> {
    let rows = db
        .query(
            "select name from tag_group where company_id = $1 order by sort",
            &[&company_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Checks that every customer belongs to the company (302 otherwise).
pub async fn check_customers(
    db: &impl GenericClient,
    company_id: i64,
    customers: &[i64],
) -> Result<(), ApiError> {
    super::all_in_company(db, super::Owned::Customer, company_id, customers).await?;
    Ok(())
}

/// Creates a tag in the company's 自定义 group; returns its id.
pub async fn create(tx: &impl GenericClient, company_id: i64, name: &str) -> Result<i64, ApiError> {
    let r = tx
        .query_opt(
            "insert into customer_tag (company_id, group_id, name)
             select $1, g.id, $2 from tag_group g where g.company_id = $1 and g.name = '自定义' returning id",
            &[&company_id, &name],
        )
        .await?
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("company {company_id} has no 自定义 tag group")))?;
    Ok(r.get(0))
}

/// The tag if it belongs to the company (302 otherwise).
pub async fn check_tag(
    db: &impl GenericClient,
    company_id: i64,
    tag_id: i64,
) -> Result<(), ApiError> {
    db.query_opt(
        "select 1 from customer_tag where id = $1 and company_id = $2",
        &[&tag_id, &company_id],
    )
    .await?
    .map(|_| ())
    .ok_or_else(ApiError::not_found)
}

/// Replaces the customers carrying a tag.
pub async fn set_members(
    tx: &impl GenericClient,
    tag_id: i64,
    customers: &[i64],
) -> Result<(), ApiError> {
    tx.execute(
        "delete from customer_tag_link where tag_id = $1",
        &[&tag_id],
    )
    .await?;
    add_members(tx, tag_id, customers).await
}

pub async fn add_members(
    tx: &impl GenericClient,
    tag_id: i64,
    customers: &[i64],
) -> Result<(), ApiError> {
    tx.execute(
        "insert into customer_tag_link (tag_id, customer_id) select $1, unnest($2::bigint[]) on conflict do nothing",
        &[&tag_id, &customers],
    )
    .await?;
    Ok(())
}

pub async fn rename(tx: &impl GenericClient, tag_id: i64, name: &str) -> Result<(), ApiError> {
    tx.execute(
        "update customer_tag set name = $2 where id = $1",
        &[&tag_id, &name],
    )
    .await?;
    Ok(())
}

pub async fn delete(db: &impl GenericClient, company_id: i64, tag_id: i64) -> Result<(), ApiError> {
    super::delete_in_company(db, "customer_tag", company_id, tag_id).await
}

/// Replaces a customer's tags; every tag must be the company's (302 otherwise).
pub async fn set_customer_tags(
    tx: &impl GenericClient,
    company_id: i64,
    customer_id: i64,
    tags: &[i64],
) -> Result<(), ApiError> {
    let ids = super::all_in_company(tx, super::Owned::CustomerTag, company_id, tags).await?;
    tx.execute(
        "delete from customer_tag_link where customer_id = $1",
        &[&customer_id],
    )
    .await?;
    tx.execute(
        "insert into customer_tag_link (tag_id, customer_id) select unnest($2::bigint[]), $1",
        &[&customer_id, &ids],
    )
    .await?;
    Ok(())
}

/// A customer as QYW-28 lists it: id, name, avatar.
pub type TaggedCustomer = (i64, String, String);
/// A tag with the salesperson's customers carrying it.
pub type TagWithCustomers = (i64, String, Vec<TaggedCustomer>);

/// QYW-28: tags carried by the salesperson's customers, with those customers.
pub async fn with_customers(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
) -> Result<Vec<TagWithCustomers>, ApiError> {
    let rows = db
        .query(
            "select t.id, t.name, k.id, coalesce(k.memo_name, k.username, ''), coalesce(k.headimgurl, 'statics/imgs/setAvator.jpg')
             from customer_tag t
             join customer_tag_link l on l.tag_id = t.id
             join user_customer uc on uc.customer_id = l.customer_id and uc.user_id = $2
             join customer k on k.id = l.customer_id
             where t.company_id = $1 order by t.id, k.id",
            &[&company_id, &user_id],
        )
        .await?;
    let mut out: Vec<TagWithCustomers> = Vec::new();
    for r in &rows {
        let id: i64 = r.get(0);
        let customer = (r.get(2), r.get(3), r.get(4));
        match out.last_mut() {
            Some(last) if last.0 == id => last.2.push(customer),
            _ => out.push((id, r.get(1), vec![customer])),
        }
    }
    out.sort_by(|a, b| b.2.len().cmp(&a.2.len()).then(a.0.cmp(&b.0)));
    Ok(out)
}
