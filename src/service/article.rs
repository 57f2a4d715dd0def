//! A customer reading, forwarding and staying on an article (GZH-06, GZH-10, GZH-11): checked
//! against the company, stored by the radar writer (one transaction with the relation's
//! activity and AI energy, batched with the card events), then pushed to the salesperson who
//! shared it as a `radar` frame with `"kind":"article"` (docs/realtime.md), before the request
//! answers.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use serde::Serialize;

use crate::{
    auth::{replay::Spend, Customer},
    db::{
        self,
        article::ArticleRow,
        article_spread::{ArticleEvent, ArticleOp, ArticleRecorded},
    },
    domain::{ai, time},
    error::ApiError,
    hub::Target,
    service::{content_cache::Cached, radar::ArticleOut},
    state::AppState,
};

/// The article of the caller's company (302 otherwise) and the salesperson `uid` of that
/// company (302 otherwise); a `pid` must be a customer of the company too.
async fn check(
    state: &AppState,
    customer: &Customer,
    uid: i64,
    pid: Option<i64>,
) -> Result<(), ApiError> {
    if state.people.user(state, uid).await?.company_id != customer.company_id {
        return Err(ApiError::not_found());
    }
    if let Some(p) = pid {
        if state.people.customer(state, p).await?.company_id != customer.company_id {
            return Err(ApiError::not_found());
        }
    }
    Ok(())
}

/// GZH-06: the article, after the read is stored and pushed; the request's signature is
/// spent with the event (a replay records nothing: 404 签名已使用).
pub async fn read(
    state: &AppState,
    customer: &Customer,
    spend: &Spend,
    article_id: i64,
    uid: i64,
    pid: Option<i64>,
) -> Result<(Arc<Cached<ArticleRow>>, ArticleRecorded), ApiError> {
    let article = state
        .content
        .article(state, customer.company_id, article_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    check(state, customer, uid, pid).await?;
    let out = store(
        state,
        (customer, spend),
        &article.title,
        article.read_secs,
        uid,
        article_id,
        ArticleOp::Read { pid },
    )
    .await?;
    Ok((article, out.rec))
}

/// GZH-10; the request's signature is spent with the event.
pub async fn forward(
    state: &AppState,
    customer: &Customer,
    spend: &Spend,
    article_id: i64,
    uid: i64,
    pid: Option<i64>,
    forward_type: i16,
) -> Result<ArticleRecorded, ApiError> {
    let article = state
        .content
        .article(state, customer.company_id, article_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    check(state, customer, uid, pid).await?;
    let op = ArticleOp::Forward { forward_type, pid };
    let (title, read_secs) = (&article.title, article.read_secs);
    Ok(store(
        state,
        (customer, spend),
        title,
        read_secs,
        uid,
        article_id,
        op,
    )
    .await?
    .rec)
}

/// GZH-11: the node must be the caller's, of this article; the request's signature is spent
/// with the event.
pub async fn stay(
    state: &AppState,
    customer: &Customer,
    spend: &Spend,
    article_id: i64,
    access_id: i64,
    secs: Option<i32>,
) -> Result<ArticleRecorded, ApiError> {
    let owner = {
        let db = state.db.get().await?;
        db::article_spread::node_owner(&db, customer.company_id, customer.id, access_id).await?
    };
    let uid = match owner {
        Some((uid, a)) if a == article_id => uid,
        _ => return Err(ApiError::not_found()),
    };
    let (_, title, read_secs) = brief(state, article_id).await?;
    let op = ArticleOp::Stay { access_id, secs };
    Ok(store(
        state,
        (customer, spend),
        &title,
        read_secs,
        uid,
        article_id,
        op,
    )
    .await?
    .rec)
}

async fn brief(state: &AppState, article_id: i64) -> Result<(i64, String, i32), ApiError> {
    let db = state.db.get().await?;
    db::article::brief(&db, article_id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// `caller`: the customer, and the signature the event spends in the radar writer's
/// transaction (`auth::CustomerEvent`).
async fn store(
    state: &AppState,
    (customer, spend): (&Customer, &Spend),
    title: &str,
    read_secs: i32,
    uid: i64,
    article_id: i64,
    op: ArticleOp,
) -> Result<ArticleOut, ApiError> {
    let me = state.people.customer(state, customer.id).await?;
    let (what, forward_type) = match op {
        ArticleOp::Read { .. } => ("read", None),
        ArticleOp::Forward { forward_type, .. } => ("forward", Some(forward_type)),
        ArticleOp::Stay { .. } => ("staytime", None),
    };
    let out = state
        .radar
        .store_article_signed(
            ArticleEvent {
                company_id: customer.company_id,
                user_id: uid,
                customer_id: customer.id,
                article_id,
                read_secs,
                op,
            },
            Some(spend),
        )
        .await?;
    let r = &out.rec;
    let log = log_text(&me.username, title, what, r, forward_type);
    let frame = ArticleFrame {
        kind: "radar",
        event: ArticleFrameEvent {
            kind: "article",
            article_event: what,
            id: r.access_id,
            forward_id: r.forward_id,
            user_id: uid,
            customer_id: customer.id,
            customer_username: &me.username,
            headimgurl: &me.headimgurl,
            article_id,
            article_title: title,
            level: r.level,
            pid: r.pid,
            first_visit: r.first_visit,
            read_count: r.read_count,
            stay_time: r.stay_time,
            finished: r.finished_now,
            forward_type,
            log: &log,
            create_date: time::iso(r.at),
            ai_pr: ai::rate(out.energy),
            new_customer: out.new_relation,
        },
    };
    let text = serde_json::to_string(&frame).map_err(|e| ApiError::Unexpected(e.into()))?;
    state
        .hub
        .publish(&[Target::User(uid)], Utf8Bytes::from(text));
    metrics::counter!("zgld_article_events_total", "event" => what).increment(1);
    Ok(out)
}

/// The line shown to the salesperson.
fn log_text(
    name: &str,
    title: &str,
    what: &str,
    r: &ArticleRecorded,
    forward_type: Option<i16>,
) -> String {
    match what {
        "read" if r.first_visit => format!("{name}查看了您分享的文章《{title}》"),
        "read" => format!("{name}第{}次查看了您分享的文章《{title}》", r.read_count),
        "forward" if forward_type == Some(2) => {
            format!("{name}把您分享的文章《{title}》转发到了朋友圈")
        }
        "forward" => format!("{name}把您分享的文章《{title}》转发给了朋友"),
        _ if r.finished_now => format!("{name}读完了文章《{title}》,用时{}秒", r.stay_time),
        _ => format!("{name}阅读文章《{title}》{}秒", r.stay_time),
    }
}

#[derive(Serialize)]
struct ArticleFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    event: ArticleFrameEvent<'a>,
}

#[derive(Serialize)]
struct ArticleFrameEvent<'a> {
    kind: &'static str,
    article_event: &'static str,
    id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forward_id: Option<i64>,
    user_id: i64,
    customer_id: i64,
    #[serde(rename = "customer__username")]
    customer_username: &'a str,
    headimgurl: &'a str,
    article_id: i64,
    article_title: &'a str,
    level: i16,
    pid: Option<i64>,
    first_visit: bool,
    read_count: i32,
    stay_time: i32,
    finished: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    forward_type: Option<i16>,
    log: &'a str,
    create_date: String,
    ai_pr: i16,
    new_customer: bool,
}
