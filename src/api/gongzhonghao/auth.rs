//! GZH-05, GZH-07, GZH-08, GZH-09: the official account's OAuth URLs, sign-in (both forms of
//! A-84, the packed `relate` answered with a 302 to the front-end page) and the JS-SDK signature.

use axum::{
    extract::{FromRequestParts, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
        OId,
    },
    auth::{CustomerRead, StaffRead},
    db,
    domain::article::Relate,
    error::ApiError,
    service::gzh::{self, SignIn, SignInInput},
    state::AppState,
};

/// A request signed by a customer or by a staff member (GZH-05 is called from the admin
/// backend and the salesperson app as well as from customer pages).
pub struct AnySigned {
    pub company_id: i64,
    /// The staff member, when it is one.
    pub staff_id: Option<i64>,
}

impl FromRequestParts<AppState> for AnySigned {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match CustomerRead::from_request_parts(parts, state).await {
            Ok(c) => Ok(AnySigned {
                company_id: c.company_id,
                staff_id: None,
            }),
            Err(ApiError::Illegal(_)) => {
                let s = StaffRead::from_request_parts(parts, state).await?;
                Ok(AnySigned {
                    company_id: s.company_id,
                    staff_id: Some(s.id),
                })
            }
            Err(e) => Err(e),
        }
    }
}

/// GZH-05: `o_id` = company id. Extension: with `article_id` (and `uid`, default the
/// calling salesperson) the URL lands on that article's page, level 1: how a salesperson
/// shares an article.
pub async fn auth_url(
    State(state): State<AppState>,
    caller: AnySigned,
    OId(company_id): OId,
    p: Params,
) -> ApiResult {
    if company_id != caller.company_id {
        return Err(ApiError::not_found());
    }
    let redirect = match p.i64("article_id")? {
        Some(article_id) => {
            let uid = p
                .i64("uid")?
                .or(caller.staff_id)
                .ok_or_else(|| ApiError::form("uid 不能为空"))?;
            let db = state.db.get().await?;
            let (c, _, _) = db::article::brief(&db, article_id)
                .await?
                .ok_or_else(ApiError::not_found)?;
            if c != company_id || state.people.user(&state, uid).await?.company_id != company_id {
                return Err(ApiError::not_found());
            }
            let r = Relate {
                article_id: Some(article_id),
                pid: None,
                level: Some(1),
                uid: Some(uid),
                company_id: Some(company_id),
            };
            gzh::article_page(&state, article_id, &r)
        }
        None => state.settings.gzh.redirect_uri.clone(),
    };
    Ok(Reply::ok(
        "返回成功成功",
        json!({"authorize_url": gzh::authorize_url(&state, &redirect, "snsapi_base")}),
    ))
}

/// GZH-07 (no signature). With `relate` the request is WeChat sending the browser back from
/// a share link: the code is not spent here but handed to the front-end page by a 302.
pub async fn sign_in(State(state): State<AppState>, p: Params) -> Result<Response, ApiError> {
    if let Some(packed) = p.str("relate") {
        let r =
            Relate::parse(packed).ok_or_else(|| ApiError::DataType("relate 格式错误".into()))?;
        let article_id = r
            .article_id
            .ok_or_else(|| ApiError::form("relate 缺少 article_id"))?;
        let mut target = gzh::article_page(&state, article_id, &r);
        for key in ["code", "state"] {
            if let Some(v) = p.str(key) {
                target.push_str(&format!(
                    "&{key}={}",
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                ));
            }
        }
        target.push_str(&format!("&appid={}", state.settings.gzh.appid));
        let location =
            HeaderValue::from_str(&target).map_err(|_| ApiError::form("relate 格式错误"))?;
        return Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response());
    }
    let code = p.req_str("code")?.to_owned();
    let input = SignInInput {
        code,
        appid: p.str("appid").map(str::to_owned),
        scope: p.str("state").map(str::to_owned),
        article_id: p.i64("article_id")?,
        relate: Relate {
            article_id: p.i64("article_id")?,
            pid: p.i64("pid")?,
            level: p.i64("level")?.or(Some(1)),
            uid: p.i64_any(&["uid", "u_id"])?,
            company_id: p.i64("company_id")?,
        },
    };
    let data = match gzh::sign_in(&state, input).await? {
        SignIn::Verify(url) => json!({"authorize_url": url, "is_verify": false}),
        SignIn::LoggedIn { user_id, token } => {
            json!({"user_id": user_id, "token": token, "is_verify": true})
        }
    };
    Ok(Reply::ok("返回成功", data).into_response())
}

/// GZH-08: the caller becomes the new `pid`, `level` + 1.
pub async fn share_url(
    State(state): State<AppState>,
    caller: CustomerRead,
    p: Params,
) -> ApiResult {
    let article_id = p.req_i64("article_id")?;
    let uid = p
        .i64_any(&["uid", "u_id"])?
        .ok_or_else(|| ApiError::form("uid 不能为空"))?;
    let level = p.i64("level")?.unwrap_or(1);
    if !(1..=10_000).contains(&level) {
        return Err(ApiError::form("level 不正确"));
    }
    if p.i64("company_id")?.is_some_and(|c| c != caller.company_id) {
        return Err(ApiError::not_found());
    }
    let db = state.db.get().await?;
    let (c, _, _) = db::article::brief(&db, article_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if c != caller.company_id || state.people.user(&state, uid).await?.company_id != c {
        return Err(ApiError::not_found());
    }
    let r = Relate {
        article_id: Some(article_id),
        pid: Some(caller.id),
        level: Some(level + 1),
        uid: Some(uid),
        company_id: Some(c),
    };
    Ok(Reply::ok(
        "返回成功",
        json!({"share_url": gzh::share_url(&state, &r)}),
    ))
}

/// GZH-09: the page URL from `url`, else the `Referer`.
pub async fn share_sign(
    State(state): State<AppState>,
    caller: CustomerRead,
    headers: HeaderMap,
    p: Params,
) -> ApiResult {
    if p.i64("company_id")?.is_some_and(|c| c != caller.company_id) {
        return Err(ApiError::not_found());
    }
    let referer = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let url = p
        .str("url")
        .map(str::to_owned)
        .or(referer)
        .ok_or_else(|| ApiError::form("url 不能为空"))?;
    Ok(Reply::ok(
        "查询成功",
        gzh::jssdk_config(&state, &url).await?,
    ))
}
