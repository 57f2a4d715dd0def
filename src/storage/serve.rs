//! `GET /statics/{*path}`: stored files (API.md 1.9) through the storage interface, so every
//! node serves the same files in S3 mode. HTTP caching and ranges: `ETag` (the store's,
//! identical on every node reading the same bucket), `Last-Modified`, `Cache-Control`,
//! `If-None-Match` / `If-Modified-Since` (304), `Range` (one range: 206, unsatisfiable: 416),
//! `If-Range`. The `Content-Type` of an image comes from its bytes (a mini-program code is PNG
//! under its documented `.jpg` name), of anything else from its extension.

use std::time::SystemTime;

use axum::{
    body::Body,
    extract::{Path as UrlPath, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use object_store::ObjectMeta;

use crate::{
    domain::image::{mime_by_name, ImageKind, SNIFF_LEN},
    state::AppState,
};

/// Files the server names itself (timestamped or random, never rewritten) may be cached for
/// good; anything else an operator put there is revalidated after an hour.
fn cache_control(key: &str) -> &'static str {
    if key.starts_with("statics/zhugeleida/") {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    }
}

fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

fn server_error(e: anyhow::Error) -> Response {
    tracing::error!(error = ?e, "serving a stored file failed");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// The quoted strong entity tag of an object (S3 quotes its own, the local store does not).
fn etag(meta: &ObjectMeta) -> String {
    let raw = meta.e_tag.as_deref().unwrap_or_default().trim();
    let bare = raw.trim_start_matches("W/").trim_matches('"');
    if bare.is_empty() {
        format!(
            "\"{:x}-{:x}\"",
            meta.size,
            meta.last_modified.timestamp_millis()
        )
    } else {
        format!("\"{bare}\"")
    }
}

fn http_date(meta: &ObjectMeta) -> String {
    httpdate::fmt_http_date(SystemTime::from(meta.last_modified))
}

/// `If-None-Match` against `tag` (weak comparison, `*` matches anything).
fn none_match(headers: &HeaderMap, tag: &str) -> Option<bool> {
    let v = headers.get(header::IF_NONE_MATCH)?.to_str().ok()?;
    let bare = tag.trim_matches('"');
    Some(
        v.split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_start_matches("W/").trim_matches('"') == bare),
    )
}

/// `If-Modified-Since`: true when the file has not changed since (second precision).
fn not_modified_since(headers: &HeaderMap, meta: &ObjectMeta) -> bool {
    let Some(since) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    else {
        return false;
    };
    let since = chrono::DateTime::<chrono::Utc>::from(since).timestamp();
    meta.last_modified.timestamp() <= since
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Ranged {
    /// No range, several ranges or a malformed one: the whole file (RFC 9110 allows it).
    Whole,
    /// One satisfiable range, end exclusive.
    Part(u64, u64),
    /// A range that starts past the end.
    Unsatisfiable,
}

fn parse_range(v: &str, size: u64) -> Ranged {
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ranged::Whole;
    };
    if spec.contains(',') {
        return Ranged::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ranged::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // Suffix: the last `b` bytes.
        return match b.parse::<u64>() {
            Ok(0) => Ranged::Unsatisfiable,
            Ok(_) if size == 0 => Ranged::Unsatisfiable,
            Ok(n) => Ranged::Part(size.saturating_sub(n), size),
            Err(_) => Ranged::Whole,
        };
    }
    let Ok(start) = a.parse::<u64>() else {
        return Ranged::Whole;
    };
    let end = if b.is_empty() {
        size
    } else {
        match b.parse::<u64>() {
            Ok(last) if last >= start => last.saturating_add(1).min(size),
            _ => return Ranged::Whole,
        }
    };
    if start >= size {
        Ranged::Unsatisfiable
    } else {
        Ranged::Part(start, end)
    }
}

/// `If-Range`: the range applies only while the file is still the one the client has.
fn if_range_holds(headers: &HeaderMap, tag: &str, meta: &ObjectMeta) -> bool {
    let Some(v) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let v = v.trim();
    if v.starts_with('"') {
        return v == tag;
    }
    httpdate::parse_http_date(v)
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t).timestamp() == meta.last_modified.timestamp()
        })
        .unwrap_or(false)
}

fn common_headers(resp: &mut Response, key: &str, tag: &str, meta: &ObjectMeta) {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(meta)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control(key)),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
}

/// The handler.
pub async fn statics(
    State(state): State<AppState>,
    UrlPath(rest): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let relative = format!("{}/{rest}", super::PUBLIC_PREFIX);
    let Some(key) = super::public_key(&relative) else {
        return not_found();
    };
    let storage = &state.storage;
    let meta = match storage.head(&key).await {
        Ok(Some(m)) => m,
        Ok(None) => return not_found(),
        Err(e) => return server_error(e),
    };
    let tag = etag(&meta);
    let fresh = match none_match(&headers, &tag) {
        Some(matched) => matched,
        None => not_modified_since(&headers, &meta),
    };
    if fresh {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        common_headers(&mut resp, &relative, &tag, &meta);
        return resp;
    }
    let size = meta.size;
    let ranged = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(v) if if_range_holds(&headers, &tag, &meta) => parse_range(v, size),
        _ => Ranged::Whole,
    };
    let (status, start, end) = match ranged {
        Ranged::Whole => (StatusCode::OK, 0, size),
        Ranged::Part(s, e) => (StatusCode::PARTIAL_CONTENT, s, e),
        Ranged::Unsatisfiable => {
            let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            common_headers(&mut resp, &relative, &tag, &meta);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return resp;
        }
    };
    // The type from the bytes: the body's own first bytes when it starts at 0, else a
    // small read of them.
    let mut prefix: Vec<Bytes> = Vec::new();
    let body_stream = if end > start {
        match storage.stream(&key, Some(start..end)).await {
            Ok(Some(s)) => Some(s),
            Ok(None) => return not_found(),
            Err(e) => return server_error(e),
        }
    } else {
        None
    };
    let mut body_stream = body_stream;
    let head: Vec<u8> = if start == 0 {
        let mut head = Vec::with_capacity(SNIFF_LEN);
        if let Some(s) = body_stream.as_mut() {
            while head.len() < SNIFF_LEN {
                match s.next().await {
                    Some(Ok(b)) => {
                        let take = (SNIFF_LEN - head.len()).min(b.len());
                        head.extend_from_slice(&b[..take]);
                        prefix.push(b);
                    }
                    Some(Err(e)) => return server_error(e),
                    None => break,
                }
            }
        }
        head
    } else {
        match storage.first_bytes(&key, SNIFF_LEN as u64).await {
            Ok(Some(b)) => b.to_vec(),
            Ok(None) => return not_found(),
            Err(e) => return server_error(e),
        }
    };
    let mime = ImageKind::sniff(&head)
        .map(ImageKind::mime)
        .unwrap_or_else(|| mime_by_name(&relative));
    let body = match body_stream {
        Some(s) => Body::from_stream(stream::iter(prefix.into_iter().map(Ok)).chain(s)),
        None => Body::empty(),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    common_headers(&mut resp, &relative, &tag, &meta);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) =
            HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end.saturating_sub(1)))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    metrics::counter!("zgld_statics_served_total").increment(1);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Ranged::Part(0, 100));
        assert_eq!(parse_range("bytes=900-", 1000), Ranged::Part(900, 1000));
        assert_eq!(parse_range("bytes=-100", 1000), Ranged::Part(900, 1000));
        assert_eq!(parse_range("bytes=-5000", 1000), Ranged::Part(0, 1000));
        assert_eq!(parse_range("bytes=990-5000", 1000), Ranged::Part(990, 1000));
        assert_eq!(parse_range("bytes=1000-", 1000), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 1000), Ranged::Whole);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Ranged::Whole);
        assert_eq!(parse_range("items=0-1", 1000), Ranged::Whole);
        assert_eq!(parse_range("bytes=x-1", 1000), Ranged::Whole);
    }
}
