//! Creating, changing, enabling and deleting staff, with the tenancy and quota rules.

use crate::{
    auth::{login::blocking, Staff},
    db::{self, user::StaffRow},
    domain::{password, role::Level},
    error::ApiError,
    state::AppState,
};

/// Input of ADM-29/30 and QYW-03/05; `None` = not sent.
#[derive(Debug, Default, Clone)]
pub struct StaffInput {
    pub login_user: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub role_id: Option<i64>,
    pub company_id: Option<i64>,
    pub position: Option<String>,
    pub userid: Option<String>,
}

/// The target user as the caller may see it: any company for the operator's
/// cross-company views, otherwise only the caller's own company (302 for the rest).
pub async fn visible(
    state: &AppState,
    caller: &Staff,
    id: i64,
    cross_company: bool,
) -> Result<StaffRow, ApiError> {
    let db = state.db.get().await?;
    let row = if cross_company && caller.is_operator() {
        db::user::get(&db, id).await?
    } else {
        db::user::get_in(&db, caller.company_id, id).await?
    };
    row.ok_or_else(ApiError::not_found)
}

/// Which company a write targets: the operator may name any, others only their own.
fn target_company(
    caller: &Staff,
    requested: Option<i64>,
    cross_company: bool,
) -> Result<i64, ApiError> {
    match requested {
        Some(c) if c != caller.company_id && !(cross_company && caller.is_operator()) => {
            Err(ApiError::not_found())
        }
        Some(c) => Ok(c),
        None => Ok(caller.company_id),
    }
}

/// Checks the role exists for the company and the caller may hand it out.
async fn check_role(
    db: &impl deadpool_postgres::GenericClient,
    caller: &Staff,
    company_id: i64,
    role_id: i64,
) -> Result<(), ApiError> {
    let role = db::org::role_visible(db, company_id, role_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if Level::from_db(role.level) == Level::Operator && !caller.is_operator() {
        return Err(ApiError::illegal(
            "only the operator grants the operator role",
        ));
    }
    Ok(())
}

async fn hash(plain: String) -> Result<String, ApiError> {
    blocking(move || password::hash(&plain))
        .await?
        .map_err(ApiError::Unexpected)
}

/// Adds a staff member (enabled, so it takes a card from the quota).
pub async fn create(
    state: &AppState,
    caller: &Staff,
    input: StaffInput,
    cross_company: bool,
) -> Result<i64, ApiError> {
    caller.require_admin()?;
    let company_id = target_company(caller, input.company_id, cross_company)?;
    let role_id = input
        .role_id
        .ok_or_else(|| ApiError::form("role_id 不能为空"))?;
    let plain = input
        .password
        .clone()
        .ok_or_else(|| ApiError::form("password 不能为空"))?;
    let mut client = state.db.get().await?;
    check_role(&client, caller, company_id, role_id).await?;
    let password_hash = Some(hash(plain).await?);
    let login_user = input.login_user.clone();
    let username = input
        .username
        .clone()
        .or_else(|| login_user.clone())
        .ok_or_else(|| ApiError::form("username 不能为空"))?;
    let tx = client.transaction().await?;
    let id = db::user::insert(
        &tx,
        &db::user::NewStaff {
            company_id,
            role_id,
            userid: input.userid,
            login_user,
            username,
            password_hash,
            status: 1,
            position: input.position,
            avatar: None,
            gender: None,
            phone: None,
            email: None,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(new_user = id, company_id, "staff created");
    Ok(id)
}

/// Changes a staff member. A new password ends all of the user's sessions and asks for a reset.
pub async fn update(
    state: &AppState,
    caller: &Staff,
    id: i64,
    input: StaffInput,
    cross_company: bool,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    let target = visible(state, caller, id, cross_company).await?;
    if target.level() == Level::Operator && !caller.is_operator() {
        return Err(ApiError::not_found());
    }
    let company_id = match input.company_id {
        Some(c) if c != target.company_id => target_company(caller, Some(c), cross_company)?,
        _ => target.company_id,
    };
    let mut client = state.db.get().await?;
    if let Some(role_id) = input
        .role_id
        .filter(|r| *r != target.role_id || company_id != target.company_id)
    {
        check_role(&client, caller, company_id, role_id).await?;
    } else if company_id != target.company_id {
        check_role(&client, caller, company_id, target.role_id).await?;
    }
    let password_hash = match input.password {
        Some(p) => Some(hash(p).await?),
        None => None,
    };
    let password_changed = password_hash.is_some();
    let tx = client.transaction().await?;
    if company_id != target.company_id && target.status == 1 {
        db::user::check_quota(&tx, company_id, Some(id)).await?;
    }
    db::user::update(
        &tx,
        id,
        &db::user::StaffChanges {
            company_id: Some(company_id),
            role_id: input.role_id,
            login_user: input.login_user,
            username: input.username,
            password_hash,
            position: input.position,
            userid: input.userid,
        },
    )
    .await?;
    if password_changed {
        db::session::end_all(&tx, db::session::Owner::Staff(id)).await?;
    }
    tx.commit().await?;
    state.auth_cache.forget_staff(id);
    Ok(())
}

/// Deletes a staff member; never oneself (305).
pub async fn delete(
    state: &AppState,
    caller: &Staff,
    id: i64,
    cross_company: bool,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    if id == caller.id {
        return Err(ApiError::Code305("不允许删除自己".into()));
    }
    let target = visible(state, caller, id, cross_company).await?;
    if target.level() == Level::Operator && !caller.is_operator() {
        return Err(ApiError::not_found());
    }
    let db = state.db.get().await?;
    db::user::delete(&db, id).await?;
    state.auth_cache.forget_staff(id);
    Ok(())
}

/// Enables (1, quota-checked) or disables (2) a staff member.
pub async fn set_status(
    state: &AppState,
    caller: &Staff,
    id: i64,
    status: i64,
    cross_company: bool,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    let status = match status {
        1 => 1i16,
        2 => 2i16,
        _ => return Err(ApiError::form("status 只能是 1 (启用) 或 2 (未启用)")),
    };
    if id == caller.id && status == 2 {
        return Err(ApiError::Code305("不允许禁用自己".into()));
    }
    let target = visible(state, caller, id, cross_company).await?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::user::set_status(&tx, &target, status).await?;
    tx.commit().await?;
    state.auth_cache.forget_staff(id);
    Ok(())
}
