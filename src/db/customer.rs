//! Customers (mini-program and official-account users) and their relation to salespeople.

use deadpool_postgres::GenericClient;

use crate::{
    auth::{AuthRecord, Customer},
    error::ApiError,
};

pub async fn load_auth(
    db: &impl GenericClient,
    id: i64,
) -> Result<Option<AuthRecord<Customer>>, ApiError> {
    let r = super::opt_cached(
        db,
        "select k.id, k.company_id, c.account_expired_time
         from customer k join company c on c.id = k.company_id where k.id = $1",
        &[&id],
    )
    .await?;
    let Some(r) = r else { return Ok(None) };
    let sessions = super::session::of(db, super::session::Owner::Customer(id)).await?;
    let expired_on: Option<chrono::NaiveDate> = r.get(2);
    Ok(Some(AuthRecord {
        principal: Customer {
            id: r.get(0),
            company_id: r.get(1),
        },
        sessions,
        disabled: false,
        company_expired: crate::domain::billing::is_expired(
            expired_on,
            crate::domain::time::today(),
        ),
    }))
}

/// What a WeChat login tells us about a customer.
#[derive(Debug, Clone)]
pub struct WechatIdentity {
    pub company_id: i64,
    pub openid: String,
    pub unionid: Option<String>,
    pub session_key: Option<String>,
    pub user_type: i16,
    pub username: Option<String>,
    pub headimgurl: Option<String>,
    pub sex: Option<i16>,
}

/// Finds or creates the customer by (company, openid); the caller starts its session
/// (`db::session::create`). Returns `(customer_id, created)`.
pub async fn login(db: &impl GenericClient, w: &WechatIdentity) -> Result<(i64, bool), ApiError> {
    let r = db
        .query_one(
            "insert into customer (company_id, openid, unionid, session_key, user_type, username, headimgurl, sex)
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             on conflict on constraint customer_openid_key do update set
                unionid = coalesce(excluded.unionid, customer.unionid),
                session_key = coalesce(excluded.session_key, customer.session_key),
                username = coalesce(excluded.username, customer.username),
                headimgurl = coalesce(excluded.headimgurl, customer.headimgurl),
                sex = coalesce(excluded.sex, customer.sex)
             returning id, (xmax = 0)",
            &[
                &w.company_id,
                &w.openid,
                &w.unionid,
                &w.session_key,
                &w.user_type,
                &w.username,
                &w.headimgurl,
                &w.sex,
            ],
        )
        .await?;
    Ok((r.get(0), r.get(1)))
}

/// Creates the salesperson ↔ customer relation if it does not exist yet (first source wins).
pub async fn relate(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    customer_id: i64,
    source: i16,
) -> Result<bool, ApiError> {
    let n = db
        .execute(
            "insert into user_customer (company_id, user_id, customer_id, source, last_activity_time)
             values ($1, $2, $3, $4, now()) on conflict on constraint user_customer_pair_key do nothing",
            &[&company_id, &user_id, &customer_id, &source],
        )
        .await?;
    Ok(n == 1)
}

/// A customer as the salesperson sees it: the customer row, its relation to one salesperson,
/// and its tags (QYW-06 rows).
#[derive(Debug, Clone)]
pub struct CustomerView {
    pub id: i64,
    pub user_id: i64,
    pub belonger: String,
    pub username: String,
    pub openid: String,
    pub headimgurl: String,
    pub expected_time: Option<chrono::NaiveDate>,
    pub expedted_pr: Option<i16>,
    pub ai_energy: f64,
    pub ai_energy_at: Option<chrono::DateTime<chrono::Utc>>,
    pub superior: Option<String>,
    pub source: i16,
    pub memo_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub position: Option<String>,
    pub address: Option<String>,
    pub birthday: Option<chrono::NaiveDate>,
    pub mem: Option<String>,
    pub sex: Option<i16>,
    pub tags: Vec<String>,
    pub last_follow_time: Option<chrono::DateTime<chrono::Utc>>,
    pub last_activity_time: Option<chrono::DateTime<chrono::Utc>>,
    pub create_date: chrono::DateTime<chrono::Utc>,
}

const VIEW_COLS: &str = "k.id, uc.user_id, u.username, coalesce(k.username, ''), k.openid,
    coalesce(k.headimgurl, 'statics/imgs/setAvator.jpg'), uc.expected_time, uc.expedted_pr,
    uc.ai_energy, uc.ai_energy_at, case when s.id is not null then coalesce(s.memo_name, s.username, '') end, uc.source, k.memo_name, k.phone,
    k.email, k.company, k.position, k.address, k.birthday, k.mem, k.sex,
    array(select t.name from customer_tag_link tl join customer_tag t on t.id = tl.tag_id
          where tl.customer_id = k.id order by t.id),
    uc.last_follow_time, uc.last_activity_time, uc.create_date
    from user_customer uc join customer k on k.id = uc.customer_id
    join user_profile u on u.id = uc.user_id
    left join customer s on s.id = k.superior_id";

fn view(r: &tokio_postgres::Row) -> CustomerView {
    CustomerView {
        id: r.get(0),
        user_id: r.get(1),
        belonger: r.get(2),
        username: r.get(3),
        openid: r.get(4),
        headimgurl: r.get(5),
        expected_time: r.get(6),
        expedted_pr: r.get(7),
        ai_energy: r.get(8),
        ai_energy_at: r.get(9),
        superior: r.get(10),
        source: r.get(11),
        memo_name: r.get(12),
        phone: r.get(13),
        email: r.get(14),
        company: r.get(15),
        position: r.get(16),
        address: r.get(17),
        birthday: r.get(18),
        mem: r.get(19),
        sex: r.get(20),
        tags: r.get(21),
        last_follow_time: r.get(22),
        last_activity_time: r.get(23),
        create_date: r.get(24),
    }
}

/// QYW-06 list filters (all fuzzy).
#[derive(Debug, Default)]
pub struct CustomerFilter {
    pub username: Option<String>,
    pub belonger: Option<String>,
    pub superior: Option<String>,
    pub expected_time: Option<String>,
    pub expedted_pr: Option<String>,
    pub create_date: Option<String>,
}

/// QYW-06 list: relations of the company (`only_user`: of one salesperson), newest first.
pub async fn list(
    db: &impl GenericClient,
    company_id: i64,
    only_user: Option<i64>,
    f: &CustomerFilter,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<CustomerView>, i64), ApiError> {
    let mut q = super::Query::new(" where true");
    q.and("uc.company_id = {}", company_id);
    if let Some(u) = only_user {
        q.and("uc.user_id = {}", u);
    }
    let fuzzy = [
        (
            "coalesce(k.memo_name, '') || ' ' || coalesce(k.username, '')",
            &f.username,
        ),
        ("u.username", &f.belonger),
        (
            "coalesce(s.memo_name, '') || ' ' || coalesce(s.username, '')",
            &f.superior,
        ),
        ("coalesce(uc.expected_time::text, '')", &f.expected_time),
        ("coalesce(uc.expedted_pr::text, '')", &f.expedted_pr),
        (
            "to_char(uc.create_date at time zone 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS')",
            &f.create_date,
        ),
    ];
    for (expr, v) in fuzzy {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            q.and(&format!("{expr} ilike {{}}"), super::contains(v));
        }
    }
    let filter = q.sql.clone();
    let count_sql = format!(
        "select count(*) from user_customer uc join customer k on k.id = uc.customer_id
         join user_profile u on u.id = uc.user_id left join customer s on s.id = k.superior_id{filter}"
    );
    let total: i64 = db.query_one(&count_sql, &q.params()).await?.get(0);
    q.sql = format!("select {VIEW_COLS}{filter} order by uc.id desc");
    q.page(paging);
    let rows = db.query(&q.sql, &q.params()).await?;
    Ok((rows.iter().map(view).collect(), total))
}

/// One customer of the company through a relation: the caller's own relation when there is
/// one, otherwise (`any_user`, for administrators) the oldest.
pub async fn one(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    any_user: bool,
    customer_id: i64,
) -> Result<Option<CustomerView>, ApiError> {
    let sql = format!(
        "select {VIEW_COLS} where uc.company_id = $1 and uc.customer_id = $2 and (uc.user_id = $3 or $4)
         order by (uc.user_id = $3) desc, uc.id limit 1"
    );
    let r = db
        .query_opt(&sql, &[&company_id, &customer_id, &user_id, &any_user])
        .await?;
    Ok(r.as_ref().map(view))
}

/// Profile fields of QYW-07 (each `None` is left as it is).
#[derive(Debug, Default)]
pub struct ProfileUpdate {
    pub username: Option<String>,
    pub memo_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub position: Option<String>,
    pub address: Option<String>,
    pub mem: Option<String>,
    pub birthday: Option<chrono::NaiveDate>,
    pub sex: Option<i16>,
    pub superior_id: Option<i64>,
}

pub async fn update_profile(
    db: &impl GenericClient,
    company_id: i64,
    customer_id: i64,
    p: &ProfileUpdate,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update customer set username = coalesce($3, username), memo_name = coalesce($4, memo_name),
                phone = coalesce($5, phone), email = coalesce($6, email), company = coalesce($7, company),
                position = coalesce($8, position), address = coalesce($9, address), mem = coalesce($10, mem),
                birthday = coalesce($11, birthday), sex = coalesce($12, sex), superior_id = coalesce($13, superior_id)
             where company_id = $1 and id = $2",
            &[
                &company_id,
                &customer_id,
                &p.username,
                &p.memo_name,
                &p.phone,
                &p.email,
                &p.company,
                &p.position,
                &p.address,
                &p.mem,
                &p.birthday,
                &p.sex,
                &p.superior_id,
            ],
        )
        .await?;
    super::touched(n)
}

/// Pipeline fields of one relation (each `None` is left as it is).
pub async fn update_relation(
    db: &impl GenericClient,
    user_id: i64,
    customer_id: i64,
    expected_time: Option<chrono::NaiveDate>,
    expedted_pr: Option<i16>,
    source: Option<i16>,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update user_customer set expected_time = coalesce($3, expected_time),
                expedted_pr = coalesce($4, expedted_pr), source = coalesce($5, source)
             where user_id = $1 and customer_id = $2",
            &[
                &user_id,
                &customer_id,
                &expected_time,
                &expedted_pr,
                &source,
            ],
        )
        .await?;
    super::touched(n)
}

/// Whether the salesperson has a relation with the customer.
pub async fn is_related(
    db: &impl GenericClient,
    user_id: i64,
    customer_id: i64,
) -> Result<bool, ApiError> {
    Ok(db
        .query_opt(
            "select 1 from user_customer where user_id = $1 and customer_id = $2",
            &[&user_id, &customer_id],
        )
        .await?
        .is_some())
}

/// QYW-09: ends the salesperson's relation with the customer (its history stays).
pub async fn unrelate(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    customer_id: i64,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "delete from user_customer where company_id = $1 and user_id = $2 and customer_id = $3",
            &[&company_id, &user_id, &customer_id],
        )
        .await?;
    super::touched(n)
}

/// 通讯录 sort orders (QYW-41), all descending with nulls last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactOrder {
    ExpectedPr,
    LastFollow,
    LastActivity,
}

/// A 通讯录 row.
#[derive(Debug, Clone)]
pub struct ContactRow {
    pub customer_id: i64,
    pub username: String,
    pub headimgurl: String,
    pub expected_time: Option<chrono::NaiveDate>,
    pub expedted_pr: Option<i16>,
    pub belonger: String,
    pub source: i16,
    pub last_follow_time: Option<chrono::DateTime<chrono::Utc>>,
    pub last_activity_time: Option<chrono::DateTime<chrono::Utc>>,
}

/// QYW-41: a page of the salesperson's customers, and how many there are (from the
/// trigger-maintained `customer_count`, so the first page never counts 100k rows).
pub async fn contacts(
    db: &impl GenericClient,
    user_id: i64,
    order: ContactOrder,
    source: Option<i16>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<ContactRow>, i64), ApiError> {
    let order_by = match order {
        ContactOrder::ExpectedPr => "coalesce(uc.expedted_pr, -1) desc, uc.id desc",
        ContactOrder::LastFollow => "uc.last_follow_time desc nulls last, uc.id desc",
        ContactOrder::LastActivity => "uc.last_activity_time desc nulls last, uc.id desc",
    };
    let sql = format!(
        "select uc.customer_id, coalesce(k.memo_name, k.username, ''), coalesce(k.headimgurl, 'statics/imgs/setAvator.jpg'),
                uc.expected_time, uc.expedted_pr, u.username, uc.source, uc.last_follow_time, uc.last_activity_time
         from user_customer uc join customer k on k.id = uc.customer_id join user_profile u on u.id = uc.user_id
         where uc.user_id = $1 and ($2::int2 is null or uc.source = $2)
         order by {order_by} limit $3 offset $4"
    );
    let stmt = db.prepare_cached(&sql).await?;
    let count = db.prepare_cached(
        "select coalesce(sum(n), 0)::int8 from customer_count where user_id = $1 and ($2::int2 is null or source = $2)",
    );
    let (rows, count) = tokio::join!(
        async { db.query(&stmt, &[&user_id, &source, &limit, &offset]).await },
        async {
            let c = count.await?;
            db.query_one(&c, &[&user_id, &source]).await
        }
    );
    let total: i64 = count?.get(0);
    Ok((
        rows?
            .iter()
            .map(|r| ContactRow {
                customer_id: r.get(0),
                username: r.get(1),
                headimgurl: r.get(2),
                expected_time: r.get(3),
                expedted_pr: r.get(4),
                belonger: r.get(5),
                source: r.get(6),
                last_follow_time: r.get(7),
                last_activity_time: r.get(8),
            })
            .collect(),
        total,
    ))
}
