//! Plugins (ADM-51..63): cards, sign-up activities with their sign-ups, goods. Every query is
//! scoped by company.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::{
    db::{touched, Query},
    error::ApiError,
};

/// A plugin card's fields (ADM-52/53).
#[derive(Debug, Clone, Default)]
pub struct CardInput {
    pub name: String,
    pub avatar: String,
    pub username: String,
    pub phone: String,
    pub webchat_code: String,
    pub position: String,
}

#[derive(Debug, Clone)]
pub struct CardRow {
    pub id: i64,
    pub fields: CardInput,
    pub create_date: DateTime<Utc>,
}

pub async fn cards(
    db: &impl GenericClient,
    company_id: i64,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<CardRow>, i64), ApiError> {
    let total: i64 = db
        .query_one(
            "select count(*) from plugin_mingpian where company_id = $1",
            &[&company_id],
        )
        .await?
        .get(0);
    let mut q = Query::new(
        "select id, name, avatar, username, phone, webchat_code, position, create_date
         from plugin_mingpian where company_id = $1 order by id desc",
    );
    q.arg(company_id);
    q.page(paging);
    let rows = db.query(&q.sql, &q.params()).await?;
    Ok((
        rows.iter()
            .map(|r| CardRow {
                id: r.get(0),
                fields: CardInput {
                    name: r.get(1),
                    avatar: r.get(2),
                    username: r.get(3),
                    phone: r.get(4),
                    webchat_code: r.get(5),
                    position: r.get(6),
                },
                create_date: r.get(7),
            })
            .collect(),
        total,
    ))
}

pub async fn insert_card(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    c: &CardInput,
) -> Result<i64, ApiError> {
    Ok(db
        .query_one(
            "insert into plugin_mingpian (company_id, user_id, name, avatar, username, phone, webchat_code, position)
             values ($1, $2, $3, $4, $5, $6, $7, $8) returning id",
            &[&company_id, &user_id, &c.name, &c.avatar, &c.username, &c.phone, &c.webchat_code, &c.position],
        )
        .await?
        .get(0))
}

pub async fn update_card(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
    c: &CardInput,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update plugin_mingpian set name = $3, avatar = $4, username = $5, phone = $6,
                webchat_code = $7, position = $8
             where id = $1 and company_id = $2",
            &[
                &id,
                &company_id,
                &c.name,
                &c.avatar,
                &c.username,
                &c.phone,
                &c.webchat_code,
                &c.position,
            ],
        )
        .await?;
    touched(n)
}

/// Deletes a row of one of the plugin tables of the company (302 when there is none).
pub async fn delete(
    db: &impl GenericClient,
    table: Plugin,
    company_id: i64,
    id: i64,
) -> Result<(), ApiError> {
    let sql = format!(
        "delete from {} where id = $1 and company_id = $2",
        table.table()
    );
    let n = db.execute(&sql, &[&id, &company_id]).await?;
    touched(n)
}

#[derive(Debug, Clone, Copy)]
pub enum Plugin {
    Card,
    Activity,
    Goods,
}

impl Plugin {
    fn table(self) -> &'static str {
        match self {
            Plugin::Card => "plugin_mingpian",
            Plugin::Activity => "plugin_report",
            Plugin::Goods => "plugin_goods",
        }
    }
}

/// An activity's fields (ADM-56/57).
#[derive(Debug, Clone, Default)]
pub struct ActivityInput {
    pub title: String,
    pub ad_slogan: String,
    pub sign_up_button: String,
    pub introduce: String,
    pub is_get_phone_code: bool,
    pub leave_message: String,
    pub skip_link: String,
}

#[derive(Debug, Clone)]
pub struct SignUpRow {
    pub customer_name: String,
    pub phone: String,
    pub leave_message: String,
    pub sign_up_time: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ActivityRow {
    pub id: i64,
    pub user_id: Option<i64>,
    pub belong_user: Option<String>,
    pub fields: ActivityInput,
    pub read_count: i64,
    pub join_num: i64,
    pub create_date: DateTime<Utc>,
    /// Filled for the admin list only (customers never see each other's sign-ups).
    pub sign_ups: Vec<SignUpRow>,
}

const ACTIVITY: &str = "select a.id, a.user_id, u.username, a.title, a.ad_slogan, a.sign_up_button,
    a.introduce, a.is_get_phone_code, a.leave_message, a.skip_link, a.read_count,
    (select count(*) from activity_signup s where s.activity_id = a.id), a.create_date
    from plugin_report a left join user_profile u on u.id = a.user_id";

fn activity_row(r: &tokio_postgres::Row) -> ActivityRow {
    ActivityRow {
        id: r.get(0),
        user_id: r.get(1),
        belong_user: r.get(2),
        fields: ActivityInput {
            title: r.get(3),
            ad_slogan: r.get(4),
            sign_up_button: r.get(5),
            introduce: r.get(6),
            is_get_phone_code: r.get(7),
            leave_message: r.get(8),
            skip_link: r.get(9),
        },
        read_count: r.get(10),
        join_num: r.get(11),
        create_date: r.get(12),
        sign_ups: vec![],
    }
}

/// Activities newest first; with their sign-ups when `with_sign_ups`.
pub async fn activities(
    db: &impl GenericClient,
    company_id: i64,
    paging: Option<(i64, i64)>,
    with_sign_ups: bool,
) -> Result<(Vec<ActivityRow>, i64), ApiError> {
    let total: i64 = db
        .query_one(
            "select count(*) from plugin_report where company_id = $1",
            &[&company_id],
        )
        .await?
        .get(0);
    let mut q = Query::new(&format!(
        "{ACTIVITY} where a.company_id = $1 order by a.id desc"
    ));
    q.arg(company_id);
    q.page(paging);
    let mut rows: Vec<ActivityRow> = db
        .query(&q.sql, &q.params())
        .await?
        .iter()
        .map(activity_row)
        .collect();
    if with_sign_ups && !rows.is_empty() {
        let ids: Vec<i64> = rows.iter().map(|a| a.id).collect();
        let mut by_activity: HashMap<i64, Vec<SignUpRow>> = HashMap::new();
        for r in db
            .query(
                "select activity_id, customer_name, phone, leave_message, sign_up_time
                 from activity_signup where activity_id = any($1) and company_id = $2 order by id",
                &[&ids, &company_id],
            )
            .await?
        {
            by_activity.entry(r.get(0)).or_default().push(SignUpRow {
                customer_name: r.get(1),
                phone: r.get(2),
                leave_message: r.get(3),
                sign_up_time: r.get(4),
            });
        }
        for a in &mut rows {
            a.sign_ups = by_activity.remove(&a.id).unwrap_or_default();
        }
    }
    Ok((rows, total))
}

/// One activity of the company; `count_read` adds one read first (a customer's view).
pub async fn activity(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
    count_read: bool,
) -> Result<Option<ActivityRow>, ApiError> {
    if count_read {
        db.execute(
            "update plugin_report set read_count = read_count + 1 where id = $1 and company_id = $2",
            &[&id, &company_id],
        )
        .await?;
    }
    Ok(db
        .query_opt(
            &format!("{ACTIVITY} where a.id = $1 and a.company_id = $2"),
            &[&id, &company_id],
        )
        .await?
        .as_ref()
        .map(activity_row))
}

pub async fn insert_activity(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    a: &ActivityInput,
) -> Result<i64, ApiError> {
    Ok(db
        .query_one(
            "insert into plugin_report (company_id, user_id, title, ad_slogan, sign_up_button, introduce,
                is_get_phone_code, leave_message, skip_link)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id",
            &[
                &company_id,
                &user_id,
                &a.title,
                &a.ad_slogan,
                &a.sign_up_button,
                &a.introduce,
                &a.is_get_phone_code,
                &a.leave_message,
                &a.skip_link,
            ],
        )
        .await?
        .get(0))
}

pub async fn update_activity(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
    a: &ActivityInput,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update plugin_report set title = $3, ad_slogan = $4, sign_up_button = $5, introduce = $6,
                is_get_phone_code = $7, leave_message = $8, skip_link = $9
             where id = $1 and company_id = $2",
            &[
                &id,
                &company_id,
                &a.title,
                &a.ad_slogan,
                &a.sign_up_button,
                &a.introduce,
                &a.is_get_phone_code,
                &a.leave_message,
                &a.skip_link,
            ],
        )
        .await?;
    touched(n)
}

/// A sign-up (ADM-59).
#[derive(Debug, Clone)]
pub struct NewSignUp {
    pub customer_id: Option<i64>,
    pub user_id: Option<i64>,
    pub customer_name: String,
    pub phone: String,
    pub phone_verify_code: Option<String>,
    pub leave_message: String,
}

/// Inserts a sign-up for an activity of the company (302 when there is none).
pub async fn insert_sign_up(
    db: &impl GenericClient,
    company_id: i64,
    activity_id: i64,
    s: &NewSignUp,
) -> Result<i64, ApiError> {
    db.query_opt(
        "insert into activity_signup (company_id, activity_id, customer_id, user_id, customer_name,
            phone, phone_verify_code, leave_message)
         select a.company_id, a.id, $3, $4, $5, $6, $7, $8
         from plugin_report a where a.id = $2 and a.company_id = $1
         returning id",
        &[
            &company_id,
            &activity_id,
            &s.customer_id,
            &s.user_id,
            &s.customer_name,
            &s.phone,
            &s.phone_verify_code,
            &s.leave_message,
        ],
    )
    .await?
    .map(|r| r.get(0))
    .ok_or_else(ApiError::not_found)
}

#[derive(Debug, Clone)]
pub struct GoodsRow {
    pub id: i64,
    pub title: String,
    pub content: String,
    pub create_date: DateTime<Utc>,
}

fn goods_row(r: &tokio_postgres::Row) -> GoodsRow {
    GoodsRow {
        id: r.get(0),
        title: r.get(1),
        content: r.get(2),
        create_date: r.get(3),
    }
}

pub async fn goods(
    db: &impl GenericClient,
    company_id: i64,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<GoodsRow>, i64), ApiError> {
    let total: i64 = db
        .query_one(
            "select count(*) from plugin_goods where company_id = $1",
            &[&company_id],
        )
        .await?
        .get(0);
    let mut q = Query::new(
        "select id, title, content, create_date from plugin_goods where company_id = $1 order by id desc",
    );
    q.arg(company_id);
    q.page(paging);
    let rows = db.query(&q.sql, &q.params()).await?;
    Ok((rows.iter().map(goods_row).collect(), total))
}

pub async fn one_goods(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
) -> Result<Option<GoodsRow>, ApiError> {
    Ok(db
        .query_opt(
            "select id, title, content, create_date from plugin_goods where id = $1 and company_id = $2",
            &[&id, &company_id],
        )
        .await?
        .as_ref()
        .map(goods_row))
}

pub async fn insert_goods(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    title: &str,
    content: &str,
) -> Result<i64, ApiError> {
    Ok(db
        .query_one(
            "insert into plugin_goods (company_id, user_id, title, content) values ($1, $2, $3, $4) returning id",
            &[&company_id, &user_id, &title, &content],
        )
        .await?
        .get(0))
}

pub async fn update_goods(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
    title: &str,
    content: &str,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update plugin_goods set title = $3, content = $4 where id = $1 and company_id = $2",
            &[&id, &company_id, &title, &content],
        )
        .await?;
    touched(n)
}
