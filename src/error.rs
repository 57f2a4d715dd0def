//! The one error type of the wire API: each variant is one documented `code`
//! (API.md 1.5). Internal causes are logged, never sent to clients.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::reply::envelope_response;

/// Every way a request can fail, as the client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 300: a name (or other unique field) already exists.
    #[error("duplicate: {0}")]
    Duplicate(Cow<'static, str>),
    /// 301: a value has the wrong type (not a number, not a date...).
    #[error("bad type: {0}")]
    DataType(Cow<'static, str>),
    /// 302: the referenced id does not exist (or belongs to another company).
    #[error("not found: {0}")]
    NotFound(Cow<'static, str>),
    /// 303: a missing or invalid form field, or a rule the input breaks.
    #[error("form: {0}")]
    Form(Cow<'static, str>),
    /// 304: the row still has children.
    #[error("has children: {0}")]
    HasChildren(Cow<'static, str>),
    /// 305: deleting oneself, or (ADM-02) a password rule.
    #[error("code 305: {0}")]
    Code305(Cow<'static, str>),
    /// 306: the account is disabled, or its company's account has expired.
    #[error("disabled: {0}")]
    Disabled(Cow<'static, str>),
    /// 401: wrong login or password (or too many failures).
    #[error("bad credentials: {0}")]
    Credentials(Cow<'static, str>),
    /// 404: illegal request: unknown path, failed signature, no permission.
    /// The reason is for the debug log only.
    #[error("illegal request: {0}")]
    Illegal(Cow<'static, str>),
    /// 404 as well (API.md 1.5), for a write whose signature was already spent: a distinct
    /// msg, so that a client does not take it for "sign in again" (docs/auth.md).
    #[error("replayed signature")]
    Replayed,
    /// A WeChat API error passed through: `code` = errcode (API.md 1.5).
    #[error("wechat {errcode}: {msg}")]
    Wechat { errcode: i64, msg: String },
    /// The database (or another backing service) is unreachable right now: code 500 with
    /// HTTP 200 (inside the envelope, like every answer) and "try again later"; WebSockets
    /// close with 1013. Not an auth failure.
    #[error("unavailable: {0}")]
    Unavailable(anyhow::Error),
    /// Anything else: logged with its cause chain, answered with a generic message.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The msg of [`ApiError::Replayed`].
pub const REPLAYED_MSG: &str = "签名已使用，请为每次写请求使用新的 timestamp";

impl ApiError {
    /// The wire `code`.
    pub fn code(&self) -> i64 {
        match self {
            ApiError::Duplicate(_) => 300,
            ApiError::DataType(_) => 301,
            ApiError::NotFound(_) => 302,
            ApiError::Form(_) => 303,
            ApiError::HasChildren(_) => 304,
            ApiError::Code305(_) => 305,
            ApiError::Disabled(_) => 306,
            ApiError::Credentials(_) => 401,
            ApiError::Illegal(_) | ApiError::Replayed => 404,
            ApiError::Wechat { errcode, .. } => *errcode,
            ApiError::Unexpected(_) | ApiError::Unavailable(_) => 500,
        }
    }

    /// The wire `msg`.
    pub fn msg(&self) -> Cow<'_, str> {
        match self {
            ApiError::Duplicate(m)
            | ApiError::DataType(m)
            | ApiError::NotFound(m)
            | ApiError::Form(m)
            | ApiError::HasChildren(m)
            | ApiError::Code305(m)
            | ApiError::Disabled(m)
            | ApiError::Credentials(m) => Cow::Borrowed(m.as_ref()),
            ApiError::Illegal(_) => Cow::Borrowed("非法请求"),
            ApiError::Replayed => Cow::Borrowed(REPLAYED_MSG),
            ApiError::Wechat { msg, .. } => Cow::Borrowed(msg),
            ApiError::Unexpected(_) => Cow::Borrowed("服务器内部错误"),
            ApiError::Unavailable(_) => Cow::Borrowed("服务暂时不可用,请稍后重试"),
        }
    }

    /// 404 非法请求 with a reason for the debug log.
    pub fn illegal(reason: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Illegal(reason.into())
    }
    /// 302 with the table's wording.
    pub fn not_found() -> Self {
        ApiError::NotFound(Cow::Borrowed("对应ID不存在"))
    }
    pub fn form(msg: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Form(msg.into())
    }
    pub fn duplicate(msg: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Duplicate(msg.into())
    }
    /// A WeChat call failed: pass its errcode through with `"<op>报错: <errcode> : <errmsg>"`.
    pub fn wechat(op: &str, err: crate::wechat::WechatError) -> Self {
        match err {
            crate::wechat::WechatError::Api { errcode, errmsg } => ApiError::Wechat {
                errcode,
                msg: format!("{op}报错: {errcode} : {errmsg}"),
            },
            other => ApiError::Unexpected(
                anyhow::Error::new(other).context(format!("{op}: WeChat unreachable")),
            ),
        }
    }
}

/// Database errors: unique violations become 300, foreign-key violations 304 or 302,
/// everything else is unexpected.
impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        if let Some(db) = e.as_db_error() {
            let constraint = db.constraint().unwrap_or_default().to_owned();
            if db.code() == &SqlState::UNIQUE_VIOLATION {
                return ApiError::Duplicate(Cow::Owned(duplicate_msg(&constraint).into()));
            }
            if db.code() == &SqlState::FOREIGN_KEY_VIOLATION {
                // A delete blocked by referencing rows vs an insert naming a missing row.
                return if db.message().contains("still referenced")
                    || db.message().contains("update or delete")
                {
                    ApiError::HasChildren(Cow::Borrowed("含有子级数据,请先删除或转移子级数据"))
                } else {
                    ApiError::not_found()
                };
            }
        }
        if is_outage(&e) {
            return ApiError::Unavailable(anyhow::Error::new(e).context("database unreachable"));
        }
        ApiError::Unexpected(anyhow::Error::new(e))
    }
}

/// The database went away or refuses connections (not a fault of the statement).
fn is_outage(e: &tokio_postgres::Error) -> bool {
    use std::error::Error as _;
    if e.is_closed() {
        return true;
    }
    match e.as_db_error() {
        // 08 connection exception, 57P01..03 shutdown / cannot connect now, 53300 too many
        Some(db) => {
            let c = db.code().code();
            c.starts_with("08") || c.starts_with("57P") || c == "53300"
        }
        None => e
            .source()
            .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some()),
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        use deadpool_postgres::PoolError;
        match e {
            // No connection could be made or none came in time: an outage.
            PoolError::Backend(_) | PoolError::Timeout(_) => {
                ApiError::Unavailable(anyhow::Error::new(e).context("database pool"))
            }
            other => ApiError::Unexpected(anyhow::Error::new(other).context("database pool")),
        }
    }
}

/// The wire message for a unique constraint, by its name.
fn duplicate_msg(constraint: &str) -> &'static str {
    match constraint {
        "role_name_key" => "角色名已存在",
        "company_name_key" => "公司名已存在",
        "user_profile_login_user_key" => "用户名已存在",
        "user_profile_userid_key" => "用户ID已存在",
        "access_rule_name_key" => "权限名已存在",
        "customer_tag_name_key" => "标签名已存在",
        "wx_authorizer_appid_key" => "该 appid 已由其他公司登记",
        "article_tag_name_key" => "标签名已存在",
        "talk_group_name_key" => "分组名已存在",
        _ => "数据已存在",
    }
}

/// Whether refusals carry their internal reason ([`Settings::refusal_reasons`]).
///
/// [`Settings::refusal_reasons`]: crate::config::Settings::refusal_reasons
static REASONS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns the `x-zgld-reason` header of refusals on (never off again in this process: several
/// servers may share a test process).
pub fn expose_reasons(on: bool) {
    if on {
        REASONS.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The header that names why a request was refused, when [`expose_reasons`] is on.
pub const REASON_HEADER: &str = "x-zgld-reason";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Unexpected(e) => tracing::error!(error = ?e, "request failed"),
            ApiError::Unavailable(e) => tracing::warn!(error = ?e, "request failed: outage"),
            ApiError::Illegal(reason) => tracing::debug!(%reason, "illegal request"),
            other => tracing::debug!(code = other.code(), msg = %other.msg(), "request refused"),
        }
        let status = match self {
            ApiError::Unexpected(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            _ => axum::http::StatusCode::OK,
        };
        let body = json!({"code": self.code(), "msg": self.msg(), "data": {}});
        let mut resp = envelope_response(status, &body);
        resp.extensions_mut()
            .insert(crate::monitoring::EnvelopeCode(self.code()));
        if let ApiError::Illegal(reason) = &self {
            if REASONS.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(v) = axum::http::HeaderValue::from_str(reason) {
                    resp.headers_mut().insert(REASON_HEADER, v);
                }
            }
        }
        resp
    }
}
