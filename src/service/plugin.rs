//! Plugins (ADM-51..63): cards, sign-up activities, goods. Every staff member of the company
//! reads them; administrators write them. A sign-up (ADM-59) comes from a customer of the
//! company (or, A-39, a staff member filling the form in), with a mainland mobile number.

use crate::{
    auth::{Customer, Staff},
    db::{
        self,
        plugin::{ActivityInput, ActivityRow, CardInput, CardRow, GoodsRow, NewSignUp, Plugin},
    },
    domain::content,
    error::ApiError,
    state::AppState,
};

pub async fn cards(
    state: &AppState,
    caller: &Staff,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<CardRow>, i64), ApiError> {
    let db = state.db.get().await?;
    db::plugin::cards(&db, caller.company_id, paging).await
}

fn check_card(c: &CardInput) -> Result<(), ApiError> {
    let form = |e: content::Invalid| ApiError::form(e.0);
    fn opt(s: &str) -> Option<&str> {
        Some(s).filter(|s| !s.is_empty())
    }
    content::optional_image("avatar", opt(&c.avatar)).map_err(form)?;
    content::optional_image("webchat_code", opt(&c.webchat_code)).map_err(form)?;
    if !c.phone.is_empty() && !content::phone_like(&c.phone) {
        return Err(ApiError::form("phone 不是有效的电话号码"));
    }
    Ok(())
}

pub async fn add_card(state: &AppState, caller: &Staff, c: &CardInput) -> Result<i64, ApiError> {
    caller.require_admin()?;
    check_card(c)?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let id = db::plugin::insert_card(&tx, caller.company_id, caller.id, c).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update_card(
    state: &AppState,
    caller: &Staff,
    id: i64,
    c: &CardInput,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    check_card(c)?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::plugin::update_card(&tx, caller.company_id, id, c).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete(
    state: &AppState,
    caller: &Staff,
    table: Plugin,
    id: i64,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::plugin::delete(&tx, table, caller.company_id, id).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn activities(
    state: &AppState,
    caller: &Staff,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<ActivityRow>, i64), ApiError> {
    let db = state.db.get().await?;
    db::plugin::activities(&db, caller.company_id, paging, true).await
}

fn check_activity(a: &ActivityInput) -> Result<(), ApiError> {
    if a.title.is_empty() {
        return Err(ApiError::form("title 不能为空"));
    }
    let link = &a.skip_link;
    let link_ok = link.is_empty()
        || link.starts_with("http://")
        || link.starts_with("https://")
        || link.starts_with('/');
    if !link_ok {
        return Err(ApiError::form("skip_link 应为 http(s) 链接"));
    }
    Ok(())
}

pub async fn add_activity(
    state: &AppState,
    caller: &Staff,
    a: &ActivityInput,
) -> Result<i64, ApiError> {
    caller.require_admin()?;
    check_activity(a)?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let id = db::plugin::insert_activity(&tx, caller.company_id, caller.id, a).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update_activity(
    state: &AppState,
    caller: &Staff,
    id: i64,
    a: &ActivityInput,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    check_activity(a)?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::plugin::update_activity(&tx, caller.company_id, id, a).await?;
    tx.commit().await?;
    Ok(())
}

/// Who signs up (A-39: a customer, or a staff member of the company).
pub enum SignUpBy<'a> {
    Customer(&'a Customer),
    Staff(&'a Staff),
}

/// ADM-59: checks the name, the mainland mobile number and the message, then stores the
/// sign-up for an activity of the signer's company (302 otherwise). `join_num` is counted
/// from the sign-ups.
pub async fn sign_up(
    state: &AppState,
    by: SignUpBy<'_>,
    activity_id: i64,
    mut s: NewSignUp,
) -> Result<i64, ApiError> {
    if s.customer_name.chars().count() > 64 {
        return Err(ApiError::form("customer_name 不能超过64个字符"));
    }
    if !content::mobile(&s.phone) {
        return Err(ApiError::form("phone 不是有效的手机号"));
    }
    if s.leave_message.chars().count() > 1000 {
        return Err(ApiError::form("leave_message 不能超过1000个字符"));
    }
    let company_id = match by {
        SignUpBy::Customer(c) => {
            s.customer_id = Some(c.id);
            c.company_id
        }
        SignUpBy::Staff(u) => {
            s.user_id = Some(u.id);
            u.company_id
        }
    };
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let id = db::plugin::insert_sign_up(&tx, company_id, activity_id, &s).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn goods(
    state: &AppState,
    caller: &Staff,
    paging: Option<(i64, i64)>,
) -> Result<(Vec<GoodsRow>, i64), ApiError> {
    let db = state.db.get().await?;
    db::plugin::goods(&db, caller.company_id, paging).await
}

fn check_goods(title: &str, raw: &str) -> Result<String, ApiError> {
    if title.chars().count() > 128 {
        return Err(ApiError::form("title 不能超过128个字符"));
    }
    Ok(content::goods(raw).map_err(|e| ApiError::form(e.0))?.text)
}

pub async fn add_goods(
    state: &AppState,
    caller: &Staff,
    title: &str,
    raw: &str,
) -> Result<i64, ApiError> {
    caller.require_admin()?;
    let text = check_goods(title, raw)?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let id = db::plugin::insert_goods(&tx, caller.company_id, caller.id, title, &text).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update_goods(
    state: &AppState,
    caller: &Staff,
    id: i64,
    title: &str,
    raw: &str,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    let text = check_goods(title, raw)?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    db::plugin::update_goods(&tx, caller.company_id, id, title, &text).await?;
    tx.commit().await?;
    Ok(())
}
