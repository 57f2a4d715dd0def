//! Staff (`user_profile`): radar users and backend users, their tokens, passwords,
//! departments and the company card quota.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::{
    auth::{AuthRecord, Staff},
    domain::{billing, role::Level, time},
    error::ApiError,
};

use super::Query;

/// A staff row with its company and role names, as lists and logins show it.
#[derive(Debug, Clone)]
pub struct StaffRow {
    pub id: i64,
    pub company_id: i64,
    pub company_name: String,
    pub role_id: i64,
    pub role_name: String,
    pub role_level: i16,
    pub userid: String,
    pub login_user: Option<String>,
    pub username: String,
    pub status: i16,
    pub avatar: String,
    pub set_avatar: Option<String>,
    pub position: Option<String>,
    pub gender: Option<i16>,
    pub phone: Option<String>,
    pub mingpian_phone: Option<String>,
    pub qr_code: Option<String>,
    pub is_reset_password: bool,
    pub last_login_date: Option<DateTime<Utc>>,
    pub create_date: DateTime<Utc>,
    pub password_hash: Option<String>,
    pub company_expired_on: Option<chrono::NaiveDate>,
}

const SELECT: &str = "select u.id, u.company_id, c.name as company_name, u.role_id, r.name as role_name, r.level,
    u.userid, u.login_user, u.username, u.status, u.avatar, u.set_avatar, u.position, u.gender, u.phone,
    u.mingpian_phone, u.qr_code, u.is_reset_password, u.last_login_date, u.create_date, u.password_hash, c.account_expired_time
    from user_profile u join company c on c.id = u.company_id join role r on r.id = u.role_id";

fn row(r: &Row) -> StaffRow {
    StaffRow {
        id: r.get(0),
        company_id: r.get(1),
        company_name: r.get(2),
        role_id: r.get(3),
        role_name: r.get(4),
        role_level: r.get(5),
        userid: r.get(6),
        login_user: r.get(7),
        username: r.get(8),
        status: r.get(9),
        avatar: r.get(10),
        set_avatar: r.get(11),
        position: r.get(12),
        gender: r.get(13),
        phone: r.get(14),
        mingpian_phone: r.get(15),
        qr_code: r.get(16),
        is_reset_password: r.get(17),
        last_login_date: r.get(18),
        create_date: r.get(19),
        password_hash: r.get(20),
        company_expired_on: r.get(21),
    }
}

impl StaffRow {
    pub fn level(&self) -> Level {
        Level::from_db(self.role_level)
    }
    /// The company account has run out (the platform operator is never locked out).
    pub fn company_expired(&self) -> bool {
        self.level() != Level::Operator
            && billing::is_expired(self.company_expired_on, time::today())
    }
    /// The auth record, with the sessions read separately (`db::session::of`).
    pub fn auth(self, sessions: Vec<super::session::Session>) -> AuthRecord<Staff> {
        let company_expired = self.company_expired();
        AuthRecord {
            principal: Staff {
                id: self.id,
                company_id: self.company_id,
                role_id: self.role_id,
                level: self.level(),
            },
            sessions,
            disabled: self.status != 1,
            company_expired,
        }
    }
}

/// One staff member by id, any company (callers check the company).
pub async fn get(db: &impl GenericClient, id: i64) -> Result<Option<StaffRow>, ApiError> {
    Ok(
        super::opt_cached(db, &format!("{SELECT} where u.id = $1"), &[&id])
            .await?
            .as_ref()
            .map(row),
    )
}

/// One staff member by id inside `company_id`: `None` for another company's user.
pub async fn get_in(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
) -> Result<Option<StaffRow>, ApiError> {
    Ok(db
        .query_opt(
            &format!("{SELECT} where u.id = $1 and u.company_id = $2"),
            &[&id, &company_id],
        )
        .await?
        .as_ref()
        .map(row))
}

/// The login-name match of ADM-01: `login_user`, else a unique `username` among
/// rows without a login name.
pub async fn find_login(
    db: &impl GenericClient,
    login: &str,
) -> Result<Option<StaffRow>, ApiError> {
    if let Some(r) = db
        .query_opt(&format!("{SELECT} where u.login_user = $1"), &[&login])
        .await?
    {
        return Ok(Some(row(&r)));
    }
    let rows = db
        .query(
            &format!("{SELECT} where u.login_user is null and u.username = $1 limit 2"),
            &[&login],
        )
        .await?;
    Ok(if rows.len() == 1 {
        rows.first().map(row)
    } else {
        None
    })
}

/// By WeCom UserID inside a company (QYW-01).
pub async fn find_wecom(
    db: &impl GenericClient,
    company_id: i64,
    userid: &str,
) -> Result<Option<StaffRow>, ApiError> {
    Ok(db
        .query_opt(
            &format!("{SELECT} where u.company_id = $1 and u.userid = $2"),
            &[&company_id, &userid],
        )
        .await?
        .as_ref()
        .map(row))
}

/// Records a successful login; returns the previous login time.
pub async fn record_login(
    db: &impl GenericClient,
    id: i64,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let r = db
        .query_one(
            "update user_profile u set last_login_date = now() from user_profile old
             where u.id = $1 and old.id = u.id returning old.last_login_date",
            &[&id],
        )
        .await?;
    Ok(r.get(0))
}

/// Stores a new password hash; `reset_done` is ADM-02's `is_reset_password`. The caller
/// ends the sessions that must go (`db::session`).
pub async fn set_password(
    db: &impl GenericClient,
    id: i64,
    hash: &str,
    reset_done: bool,
) -> Result<(), ApiError> {
    db.execute(
        "update user_profile set password_hash = $2, is_reset_password = $3 where id = $1",
        &[&id, &hash, &reset_done],
    )
    .await?;
    Ok(())
}

/// Upgrades a legacy hash in place without touching the sessions.
pub async fn upgrade_hash(db: &impl GenericClient, id: i64, hash: &str) -> Result<(), ApiError> {
    db.execute(
        "update user_profile set password_hash = $2 where id = $1",
        &[&id, &hash],
    )
    .await?;
    Ok(())
}

/// Filters shared by the staff lists (ADM-05, ADM-28, QYW-02).
#[derive(Debug, Default)]
pub struct StaffFilter {
    /// `None` = every company (operator views only).
    pub company_id: Option<i64>,
    pub status: Option<i16>,
    pub department_id: Option<i64>,
    pub position: Option<String>,
    pub username: Option<String>,
    pub role_name: Option<String>,
    pub company_name: Option<String>,
    pub created_on: Option<chrono::NaiveDate>,
    pub newest_first: bool,
}

/// A page of staff and the total count before paging.
pub async fn list(
    db: &impl GenericClient,
    f: &StaffFilter,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<StaffRow>, i64), ApiError> {
    let mut q = Query::new(&format!("{SELECT} where true"));
    if let Some(c) = f.company_id {
        q.and("u.company_id = {}", c);
    }
    if let Some(s) = f.status {
        q.and("u.status = {}", s);
    }
    if let Some(d) = f.department_id {
        q.and("exists (select 1 from user_department ud where ud.user_id = u.id and ud.department_id = {})", d);
    }
    if let Some(p) = &f.position {
        q.and("u.position ilike {}", super::contains(p));
    }
    if let Some(n) = &f.username {
        q.and("u.username ilike {}", super::contains(n));
    }
    if let Some(n) = &f.role_name {
        q.and("r.name ilike {}", super::contains(n));
    }
    if let Some(n) = &f.company_name {
        q.and("c.name ilike {}", super::contains(n));
    }
    if let Some(d) = f.created_on {
        let start = time::day_start(d);
        q.and("u.create_date >= {}", start);
        q.and("u.create_date < {}", start + chrono::Duration::days(1));
    }
    let count_sql = format!("select count(*) from ({}) t", q.sql);
    let total: i64 = db.query_one(&count_sql, &q.params()).await?.get(0);
    q.push(if f.newest_first {
        " order by u.id desc"
    } else {
        " order by u.id"
    });
    q.page(paging);
    let rows = db.query(&q.sql, &q.params()).await?;
    Ok((rows.iter().map(row).collect(), total))
}

/// Departments of each user: `(user_id, department_id, name)`.
pub async fn departments_of(
    db: &impl GenericClient,
    user_ids: &[i64],
) -> Result<Vec<(i64, i64, String)>, ApiError> {
    let rows = db
        .query(
            "select ud.user_id, d.id, d.name from user_department ud join department d on d.id = ud.department_id
             where ud.user_id = any($1) order by d.id",
            &[&user_ids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// All departments of a company: `(id, name)`.
pub async fn company_departments(
    db: &impl GenericClient,
    company_id: i64,
) -> Result<Vec<(i64, String)>, ApiError> {
    let rows = db
        .query(
            "select id, name from department where company_id = $1 order by id",
            &[&company_id],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Fields of a new staff member.
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub company_id: i64,
    pub role_id: i64,
    pub userid: Option<String>,
    pub login_user: Option<String>,
    pub username: String,
    pub password_hash: Option<String>,
    pub status: i16,
    pub position: Option<String>,
    pub avatar: Option<String>,
    pub gender: Option<i16>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl NewStaff {
    /// An enabled user with a login name and password hash; profile fields empty.
    pub fn with_login(
        company_id: i64,
        role_id: i64,
        login: &str,
        username: &str,
        password_hash: String,
    ) -> Self {
        NewStaff {
            company_id,
            role_id,
            userid: None,
            login_user: Some(login.to_owned()),
            username: username.to_owned(),
            password_hash: Some(password_hash),
            status: 1,
            position: None,
            avatar: None,
            gender: None,
            phone: None,
            email: None,
        }
    }
}

/// Locks the company row and checks one more enabled card fits its quota (303 otherwise).
/// Call inside the transaction that enables or adds the user.
pub async fn check_quota(
    tx: &impl GenericClient,
    company_id: i64,
    exclude_user: Option<i64>,
) -> Result<(), ApiError> {
    let quota: i32 = tx
        .query_opt(
            "select mingpian_available_num from company where id = $1 for update",
            &[&company_id],
        )
        .await?
        .ok_or_else(ApiError::not_found)?
        .get(0);
    let used: i64 = tx
        .query_one(
            "select count(*) from user_profile where company_id = $1 and status = 1 and id <> coalesce($2::bigint, 0)",
            &[&company_id, &exclude_user],
        )
        .await?
        .get(0);
    if used >= i64::from(quota) {
        return Err(ApiError::form(format!(
            "名片数量已达上限({quota}),请联系管理员增加可开通名片数"
        )));
    }
    Ok(())
}

/// Inserts a staff member inside `tx`, enforcing the card quota when enabled.
pub async fn insert(tx: &impl GenericClient, n: &NewStaff) -> Result<i64, ApiError> {
    if n.status == 1 {
        check_quota(tx, n.company_id, None).await?;
    }
    // Locally created users get a ms-timestamp-like UserID as the old system did, made unique
    // by appending the new row's id (the timestamp always has 13 digits).
    let r = tx
        .query_one(
            "with n as (select nextval('user_profile_id_seq') as id)
             insert into user_profile (id, company_id, role_id, userid, login_user, username, password_hash, status,
                position, avatar, gender, phone, email)
             select n.id, $1, $2,
                coalesce($3, (floor(extract(epoch from clock_timestamp()) * 1000))::bigint::text || n.id::text),
                $4, $5, $6, $7, $8, coalesce($9, 'statics/imgs/setAvator.jpg'), $10, $11, $12
             from n
             returning id",
            &[
                &n.company_id,
                &n.role_id,
                &n.userid,
                &n.login_user,
                &n.username,
                &n.password_hash,
                &n.status,
                &n.position,
                &n.avatar,
                &n.gender,
                &n.phone,
                &n.email,
            ],
        )
        .await?;
    Ok(r.get(0))
}

/// Changes to a staff member; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct StaffChanges {
    pub company_id: Option<i64>,
    pub role_id: Option<i64>,
    pub login_user: Option<String>,
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub position: Option<String>,
    pub userid: Option<String>,
}

pub async fn update(tx: &impl GenericClient, id: i64, c: &StaffChanges) -> Result<(), ApiError> {
    let password_changed = c.password_hash.is_some();
    tx.execute(
        "update user_profile set
            company_id = coalesce($2, company_id), role_id = coalesce($3, role_id),
            login_user = coalesce($4, login_user), username = coalesce($5, username),
            password_hash = coalesce($6, password_hash), position = coalesce($7, position),
            userid = coalesce($8, userid),
            is_reset_password = case when $9 then false else is_reset_password end
         where id = $1",
        &[
            &id,
            &c.company_id,
            &c.role_id,
            &c.login_user,
            &c.username,
            &c.password_hash,
            &c.position,
            &c.userid,
            &password_changed,
        ],
    )
    .await?;
    Ok(())
}

/// Enables (quota-checked) or disables a user; disabling ends all of the user's sessions
/// (a trigger, sql/007, so that every path that disables does it).
pub async fn set_status(
    tx: &impl GenericClient,
    user: &StaffRow,
    status: i16,
) -> Result<(), ApiError> {
    if status == 1 && user.status != 1 {
        check_quota(tx, user.company_id, Some(user.id)).await?;
    }
    tx.execute(
        "update user_profile set status = $2 where id = $1",
        &[&user.id, &status],
    )
    .await?;
    Ok(())
}

pub async fn delete(db: &impl GenericClient, id: i64) -> Result<(), ApiError> {
    // action_log has no foreign key to user_profile (sql/005: cheaper event inserts), so its
    // rows go explicitly, in the same statement.
    db.execute(
        "with logs as (delete from action_log where user_id = $1) delete from user_profile where id = $1",
        &[&id],
    )
    .await?;
    Ok(())
}

/// What WeCom's `user/get` says about a member.
#[derive(Debug, Clone, Copy)]
pub struct WecomProfile<'a> {
    pub name: &'a str,
    pub avatar: Option<&'a str>,
    pub position: Option<&'a str>,
    pub gender: Option<i16>,
    pub mobile: Option<&'a str>,
    pub email: Option<&'a str>,
}

/// Refreshes a WeCom user's profile from `user/get` (QYW-01).
pub async fn refresh_wecom_profile(
    db: &impl GenericClient,
    id: i64,
    p: WecomProfile<'_>,
) -> Result<(), ApiError> {
    db.execute(
        "update user_profile set username = $2, avatar = coalesce($3, avatar), position = coalesce($4, position),
            gender = coalesce($5, gender), phone = coalesce($6, phone),
            mingpian_phone = coalesce(mingpian_phone, $6), email = coalesce($7, email)
         where id = $1",
        &[&id, &p.name, &p.avatar, &p.position, &p.gender, &p.mobile, &p.email],
    )
    .await?;
    Ok(())
}

/// Links a user to the company's departments that carry these WeCom department ids.
pub async fn link_wecom_departments(
    db: &impl GenericClient,
    user_id: i64,
    company_id: i64,
    wecom_ids: &[i64],
) -> Result<(), ApiError> {
    db.execute(
        "insert into user_department (user_id, department_id)
         select $1, d.id from department d where d.company_id = $2 and d.wecom_dept_id = any($3)
         on conflict do nothing",
        &[&user_id, &company_id, &wecom_ids],
    )
    .await?;
    Ok(())
}

/// Pending (temporary) users of a company (ADM-05 mode B).
pub async fn temp_users(
    db: &impl GenericClient,
    company_id: i64,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<Row>, i64), ApiError> {
    let total: i64 = db
        .query_one(
            "select count(*) from temp_user where company_id = $1",
            &[&company_id],
        )
        .await?
        .get(0);
    let mut q = Query::new(
        "select t.id, t.username, t.create_date, t.position, t.wechat, t.mingpian_phone, t.wechat_phone, c.name, c.id,
            coalesce((select string_agg(d.name, ',' order by d.id) from temp_user_department td join department d on d.id = td.department_id where td.temp_user_id = t.id), ''),
            coalesce((select array_agg(td.department_id order by td.department_id) from temp_user_department td where td.temp_user_id = t.id), '{}')
         from temp_user t join company c on c.id = t.company_id where t.company_id = ",
    );
    let p = q.arg(company_id);
    q.push(&p);
    q.push(" order by t.id desc");
    q.page(paging);
    Ok((db.query(&q.sql, &q.params()).await?, total))
}

/// Stores the path of the salesperson's mini-program code (QYW-46); 302 outside the company.
pub async fn set_qr_code(
    db: &impl GenericClient,
    company_id: i64,
    user_id: i64,
    path: &str,
) -> Result<(), ApiError> {
    let n = db
        .execute(
            "update user_profile set qr_code = $1 where id = $2 and company_id = $3",
            &[&path, &user_id, &company_id],
        )
        .await?;
    super::touched(n)
}
