//! XCX-01: mini-program login (both documented paths, A-74).

use axum::extract::State;
use axum::http::HeaderMap;

use crate::{
    api::{
        params::Params,
        reply::{ApiResult, Reply},
    },
    error::ApiError,
    service::{self, login::MiniLogin},
    state::AppState,
};

/// The mini program's appid from the `Referer` WeChat sends with every request of a mini
/// program: `https://servicewechat.com/<appid>/<version>/page-frame.html`.
fn appid_from_referer(headers: &HeaderMap) -> Option<String> {
    let referer = headers.get("referer")?.to_str().ok()?;
    let rest = referer
        .strip_prefix("https://servicewechat.com/")
        .or_else(|| referer.strip_prefix("http://servicewechat.com/"))?;
    let appid = rest.split('/').next()?;
    let valid = appid.starts_with("wx")
        && appid.len() <= 34
        && appid.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| appid.to_owned())
}

/// `?code=…&user_type=2&source=1|2[&appid=…][&company_id=…][&uid=…]` → `{user_id, token}`.
/// With a third-party platform the company comes from the mini program (`appid`, else the
/// `Referer`); without one, from `company_id` or the salesperson `uid` (docs/wechat-platform.md).
pub async fn login(State(state): State<AppState>, headers: HeaderMap, p: Params) -> ApiResult {
    let code = p.req_str("code")?;
    let user_type = match p.i64("user_type")?.unwrap_or(2) {
        t @ (1 | 2) => t as i16,
        _ => return Err(ApiError::form("user_type 只能是 1 或 2")),
    };
    let source = match p.i64("source")?.unwrap_or(1) {
        s @ (1 | 2) => s as i16,
        _ => return Err(ApiError::form("source 只能是 1 (扫码) 或 2 (转发)")),
    };
    let req = MiniLogin {
        code,
        user_type,
        source,
        company_id: p.i64("company_id")?,
        uid: p.i64("uid")?,
        appid: p
            .str("appid")
            .map(|a| a.trim().to_owned())
            .or_else(|| appid_from_referer(&headers)),
    };
    let data = service::login::miniprogram(&state, req).await?;
    Ok(Reply::ok("登录成功", data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_appid_is_read_from_the_mini_program_referer() {
        let mut h = HeaderMap::new();
        h.insert(
            "referer",
            "https://servicewechat.com/wxsbxma0000000001/3/page-frame.html"
                .parse()
                .unwrap_or_else(|_| axum::http::HeaderValue::from_static("")),
        );
        assert_eq!(appid_from_referer(&h).as_deref(), Some("wxsbxma0000000001"));
        h.insert(
            "referer",
            axum::http::HeaderValue::from_static("https://example.com/wx1/1/page-frame.html"),
        );
        assert_eq!(appid_from_referer(&h), None);
        assert_eq!(appid_from_referer(&HeaderMap::new()), None);
    }
}
