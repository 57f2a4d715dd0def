//! The salesperson's card: its tags (名片里的用户标签) and the phone shown on it.

use deadpool_postgres::GenericClient;

use crate::error::ApiError;

/// The card tags of a salesperson, oldest first.
pub async fn tags_of(
    db: &impl GenericClient,
    user_id: i64,
) -> Result<Vec<(i64, String)>, ApiError> {
    let rows = db
        .query(
            "select t.id, t.name from user_tag_link l join user_tag t on t.id = l.tag_id where l.user_id = $1 order by t.id",
            &[&user_id],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Creates a tag in the company and puts it on the salesperson's card (one statement).
pub async fn create(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    name: &str,
) -> Result<i64, ApiError> {
    Ok(db
        .query_one(
            "with t as (insert into user_tag (company_id, name) values ($1, $3) returning id),
                  l as (insert into user_tag_link (user_id, tag_id) select $2, id from t)
             select id from t",
            &[&company_id, &user_id, &name],
        )
        .await?
        .get(0))
}

/// Replaces the card's tag set; every id must be a tag of the company (302 otherwise).
pub async fn save(
    tx: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    tags: &[i64],
) -> Result<(), ApiError> {
    let distinct = super::all_in_company(tx, super::Owned::UserTag, company_id, tags).await?;
    tx.execute("delete from user_tag_link where user_id = $1", &[&user_id])
        .await?;
    tx.execute(
        "insert into user_tag_link (user_id, tag_id) select $1, unnest($2::bigint[]) on conflict do nothing",
        &[&user_id, &distinct],
    )
    .await?;
    Ok(())
}

/// Takes a tag off the card; the tag itself goes when no card holds it any more.
pub async fn remove(
    tx: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    tag_id: i64,
) -> Result<(), ApiError> {
    let n = tx
        .execute(
            "delete from user_tag_link l using user_tag t
             where l.tag_id = t.id and t.company_id = $1 and l.user_id = $2 and l.tag_id = $3",
            &[&company_id, &user_id, &tag_id],
        )
        .await?;
    if n == 0 {
        return Err(ApiError::not_found());
    }
    tx.execute(
        "delete from user_tag t where t.id = $1 and not exists (select 1 from user_tag_link l where l.tag_id = t.id)",
        &[&tag_id],
    )
    .await?;
    Ok(())
}

pub async fn set_phone(db: &impl GenericClient, user_id: i64, phone: &str) -> Result<(), ApiError> {
    db.execute(
        "update user_profile set mingpian_phone = $2 where id = $1",
        &[&user_id, &phone],
    )
    .await?;
    Ok(())
}

/// What a card shows that changes rarely (cached a minute by `service::chat::people`).
#[derive(Debug, Clone)]
pub struct CardStatic {
    pub id: i64,
    pub company_id: i64,
    pub username: String,
    pub avatar: String,
    pub company: String,
    pub address: Option<String>,
    pub position: Option<String>,
    pub email: Option<String>,
    pub wechat: Option<String>,
    pub mingpian_phone: Option<String>,
    pub sign: Option<String>,
    pub create_date: chrono::DateTime<chrono::Utc>,
    pub photos: Vec<(i64, String)>,
}

/// The static part of salesperson `user_id`'s card, any company (callers check it).
pub async fn card_static(
    db: &impl GenericClient,
    user_id: i64,
) -> Result<Option<CardStatic>, ApiError> {
    let r = db
        .query_opt(
            "select u.id, u.company_id, u.username, u.avatar, c.name, u.address, u.position, u.email, u.wechat,
                    coalesce(u.mingpian_phone, u.phone), u.sign, u.create_date,
                    array(select p.id from user_photo p where p.user_id = u.id order by p.id),
                    array(select p.url from user_photo p where p.user_id = u.id order by p.id)
             from user_profile u join company c on c.id = u.company_id where u.id = $1",
            &[&user_id],
        )
        .await?;
    Ok(r.map(|r| {
        let ids: Vec<i64> = r.get(12);
        let urls: Vec<String> = r.get(13);
        CardStatic {
            id: r.get(0),
            company_id: r.get(1),
            username: r.get(2),
            avatar: r.get(3),
            company: r.get(4),
            address: r.get(5),
            position: r.get(6),
            email: r.get(7),
            wechat: r.get(8),
            mingpian_phone: r.get(9),
            sign: r.get(10),
            create_date: r.get(11),
            photos: ids.into_iter().zip(urls).collect(),
        }
    }))
}

/// XCX-03: the salespeople the customer is related to, with the relation's `source`,
/// newest relation first.
pub async fn known_to(
    db: &impl GenericClient,
    company_id: i64,
    customer_id: i64,
) -> Result<Vec<(i64, i16)>, ApiError> {
    let rows = db
        .query(
            "select user_id, source from user_customer where company_id = $1 and customer_id = $2 order by id desc",
            &[&company_id, &customer_id],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
