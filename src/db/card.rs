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

/// Card fields a salesperson edits (API.md §8 gap 9); `Some("")` clears one.
#[derive(Debug, Default, Clone)]
pub struct CardInfo<'a> {
    pub sign: Option<&'a str>,
    pub wechat: Option<&'a str>,
    pub email: Option<&'a str>,
    pub address: Option<&'a str>,
}

/// Writes the given fields of salesperson `user_id`'s card (an empty value stores NULL).
pub async fn set_info(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    info: &CardInfo<'_>,
) -> Result<(), ApiError> {
    let norm = |v: Option<&str>| v.map(|s| (!s.is_empty()).then(|| s.to_owned()));
    let n = db
        .execute(
            "update user_profile set
                 sign    = case when $3 then $4 else sign end,
                 wechat  = case when $5 then $6 else wechat end,
                 email   = case when $7 then $8 else email end,
                 address = case when $9 then $10 else address end
             where id = $2 and company_id = $1",
            &[
                &company_id,
                &user_id,
                &info.sign.is_some(),
                &norm(info.sign).flatten(),
                &info.wechat.is_some(),
                &norm(info.wechat).flatten(),
                &info.email.is_some(),
                &norm(info.email).flatten(),
                &info.address.is_some(),
                &norm(info.address).flatten(),
            ],
        )
        .await?;
    super::touched(n)
}

/// The card's photos, oldest first.
pub async fn photos_of(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
) -> Result<Vec<(i64, String)>, ApiError> {
    let rows = db
        .query(
            "select id, url from user_photo where company_id = $1 and user_id = $2 order by id",
            &[&company_id, &user_id],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Adds a photo to the card unless it already has `max`; the salesperson's row is locked so
/// two adds cannot both pass the count. `Ok(None)` when the card is full.
pub async fn add_photo(
    tx: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    url: &str,
    max: i64,
) -> Result<Option<i64>, ApiError> {
    let locked = tx
        .query_opt(
            "select 1 from user_profile where id = $1 and company_id = $2 for update",
            &[&user_id, &company_id],
        )
        .await?;
    if locked.is_none() {
        return Err(ApiError::not_found());
    }
    let n: i64 = tx
        .query_one(
            "select count(*) from user_photo where user_id = $1",
            &[&user_id],
        )
        .await?
        .get(0);
    if n >= max {
        return Ok(None);
    }
    let id: i64 = tx
        .query_one(
            "insert into user_photo (company_id, user_id, url) values ($1, $2, $3) returning id",
            &[&company_id, &user_id, &url],
        )
        .await?
        .get(0);
    Ok(Some(id))
}

/// Takes photo `photo_id` off salesperson `user_id`'s card (302 for anyone else's); returns
/// its url and whether another card still shows the same url.
pub async fn remove_photo(
    tx: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    photo_id: i64,
) -> Result<(String, bool), ApiError> {
    let row = tx
        .query_opt(
            "delete from user_photo where id = $1 and company_id = $2 and user_id = $3 returning url",
            &[&photo_id, &company_id, &user_id],
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    let url: String = row.get(0);
    let shared = tx
        .query_opt("select 1 from user_photo where url = $1 limit 1", &[&url])
        .await?
        .is_some();
    Ok((url, shared))
}
