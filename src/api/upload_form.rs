//! The body of an upload request (PUB-01/02, card photos): its form fields, read from the
//! body only (A-89: the query's `timestamp` is the signature's, the body's is the file id),
//! and its `img_data`, streamed to a staged key as it arrives.
//!
//! `img_data` may be a multipart file part (streamed, never held whole), or a string in a
//! multipart text part, a urlencoded form or a JSON body: base64 (with or without a
//! `data:...;base64,` prefix) or else the raw bytes. A string is held once, bounded by the
//! limit.

use axum::{
    extract::{FromRequest, Multipart, Request},
    http::header::CONTENT_TYPE,
};
use base64::Engine as _;
use bytes::Bytes;

use crate::{
    api::params::Params,
    error::ApiError,
    storage::{Staged, Staging, Storage, WriteError},
};

/// Field name of the file content.
const DATA: &str = "img_data";
/// Largest other field, and most fields.
const FIELD_MAX: usize = 16 * 1024;
const FIELDS_MAX: usize = 64;

/// A read upload body.
pub struct UploadForm {
    /// The form fields (not the query).
    pub params: Params,
    /// `img_data`, staged (not yet published).
    pub data: Option<Staged>,
}

fn too_large(what: &str, limit: u64) -> ApiError {
    ApiError::form(format!("{what}不能超过 {limit} 字节"))
}

fn malformed(e: impl std::fmt::Display) -> ApiError {
    ApiError::form(format!("请求体解析失败: {e}"))
}

impl UploadForm {
    /// Reads `req`'s body; `img_data` of at most `limit` bytes (after decoding) goes to a
    /// staged key of `storage`. `what` names the thing in the size refusal (`分片`, `图片`).
    pub async fn read(
        req: Request,
        storage: &Storage,
        limit: u64,
        what: &str,
    ) -> Result<UploadForm, ApiError> {
        let ctype = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut data: Option<Staged> = None;
        let result = if ctype.starts_with("multipart/form-data") {
            read_multipart(req, storage, limit, what, &mut fields, &mut data).await
        } else {
            read_plain(req, &ctype, storage, limit, what, &mut fields, &mut data).await
        };
        if let Err(e) = result {
            if let Some(d) = data {
                storage.delete(&d.key).await;
            }
            return Err(e);
        }
        Ok(UploadForm {
            params: Params::from_pairs(fields),
            data,
        })
    }

    /// Drops the staged `img_data`, if any (a refused request).
    pub async fn discard(self, storage: &Storage) {
        if let Some(d) = self.data {
            storage.delete(&d.key).await;
        }
    }
}

async fn read_multipart(
    req: Request,
    storage: &Storage,
    limit: u64,
    what: &str,
    fields: &mut Vec<(String, String)>,
    data: &mut Option<Staged>,
) -> Result<(), ApiError> {
    let mut mp = Multipart::from_request(req, &()).await.map_err(malformed)?;
    while let Some(mut field) = mp.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == DATA {
            if data.is_some() {
                return Err(ApiError::form("img_data 只能有一个"));
            }
            let is_file = field.file_name().is_some()
                || field
                    .content_type()
                    .is_some_and(|c| !c.starts_with("text/"));
            if is_file {
                let mut w = storage.stage(limit);
                loop {
                    let piece = match field.chunk().await {
                        Ok(Some(b)) => b,
                        Ok(None) => break,
                        Err(e) => {
                            w.abort().await;
                            return Err(malformed(e));
                        }
                    };
                    if let Err(e) = w.put(piece).await {
                        w.abort().await;
                        return Err(write_error(e, what, limit));
                    }
                }
                *data = Some(w.finish().await?);
            } else {
                let text = read_capped(&mut field, text_cap(limit), what, limit).await?;
                *data = Some(stage_bytes(storage, decode(&text), limit, what).await?);
            }
            continue;
        }
        if fields.len() >= FIELDS_MAX {
            return Err(ApiError::form("表单字段过多"));
        }
        let bytes = read_capped(&mut field, FIELD_MAX as u64, &name, FIELD_MAX as u64).await?;
        fields.push((name, String::from_utf8_lossy(&bytes).into_owned()));
    }
    Ok(())
}

/// A base64 text of `limit` bytes is 4/3 as long, plus line breaks and form escapes.
fn text_cap(limit: u64) -> u64 {
    limit.saturating_mul(2).saturating_add(64 * 1024)
}

async fn read_capped(
    field: &mut axum::extract::multipart::Field<'_>,
    cap: u64,
    what: &str,
    limit: u64,
) -> Result<Vec<u8>, ApiError> {
    let mut buf = Vec::new();
    while let Some(piece) = field.chunk().await.map_err(malformed)? {
        if (buf.len() + piece.len()) as u64 > cap {
            return Err(too_large(what, limit));
        }
        buf.extend_from_slice(&piece);
    }
    Ok(buf)
}

#[allow(clippy::too_many_arguments)]
async fn read_plain(
    req: Request,
    ctype: &str,
    storage: &Storage,
    limit: u64,
    what: &str,
    fields: &mut Vec<(String, String)>,
    data: &mut Option<Staged>,
) -> Result<(), ApiError> {
    let cap = usize::try_from(text_cap(limit)).unwrap_or(usize::MAX);
    let body = axum::body::to_bytes(req.into_body(), cap)
        .await
        .map_err(|_| too_large(what, limit))?;
    let mut raw_data: Option<Vec<u8>> = None;
    if ctype.starts_with("application/json") {
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| ApiError::form("JSON 格式错误"))?;
        if let serde_json::Value::Object(map) = v {
            for (k, v) in map {
                let s = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                if k == DATA {
                    raw_data = Some(s.into_bytes());
                } else {
                    fields.push((k, s));
                }
            }
        }
    } else {
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[..0]),
            };
            let k = String::from_utf8_lossy(&form_decode(k)).into_owned();
            let v = form_decode(v);
            if k == DATA {
                raw_data = Some(v);
            } else {
                if fields.len() >= FIELDS_MAX {
                    return Err(ApiError::form("表单字段过多"));
                }
                fields.push((k, String::from_utf8_lossy(&v).into_owned()));
            }
        }
    }
    if let Some(raw) = raw_data {
        *data = Some(stage_bytes(storage, decode(&raw), limit, what).await?);
    }
    Ok(())
}

/// `application/x-www-form-urlencoded` decoding to bytes (`+` is a space).
fn form_decode(s: &[u8]) -> Vec<u8> {
    let plus: Vec<u8> = s
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&plus).collect()
}

/// A string `img_data`: base64 (a `data:` prefix, line breaks, and `+` turned into spaces by
/// a careless form encoder are tolerated), else the bytes as sent.
fn decode(raw: &[u8]) -> Bytes {
    if let Ok(text) = std::str::from_utf8(raw) {
        // Not `trim()`: a leading `+` may have become a space.
        let t = text.trim_matches(|c| matches!(c, '\r' | '\n' | '\t'));
        let t = match t.strip_prefix("data:") {
            Some(rest) => rest.split_once(',').map(|(_, b)| b).unwrap_or(rest),
            None => t,
        };
        let cleaned: String = t
            .chars()
            .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
            .map(|c| if c == ' ' { '+' } else { c })
            .collect();
        if !cleaned.is_empty() {
            use base64::engine::general_purpose::{
                STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
            };
            for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
                if let Ok(b) = engine.decode(cleaned.as_bytes()) {
                    return Bytes::from(b);
                }
            }
        }
    }
    Bytes::copy_from_slice(raw)
}

async fn stage_bytes(
    storage: &Storage,
    bytes: Bytes,
    limit: u64,
    what: &str,
) -> Result<Staged, ApiError> {
    let mut w: Staging = storage.stage(limit);
    if let Err(e) = w.put(bytes).await {
        w.abort().await;
        return Err(write_error(e, what, limit));
    }
    Ok(w.finish().await?)
}

fn write_error(e: WriteError, what: &str, limit: u64) -> ApiError {
    match e {
        WriteError::TooLarge(_) => too_large(what, limit),
        WriteError::Store(e) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_base64_when_they_can_be() {
        assert_eq!(decode(b"aGVsbG8="), Bytes::from_static(b"hello"));
        assert_eq!(
            decode(b"data:image/png;base64,aGVsbG8="),
            Bytes::from_static(b"hello")
        );
        assert_eq!(decode(b"aGVs\r\nbG8"), Bytes::from_static(b"hello"));
        // `+` sent unescaped in a form arrives as a space.
        assert_eq!(decode(b"+/8="), decode(b" /8="));
        assert_eq!(decode(b"+/8=").as_ref(), &[0xFB, 0xFF]);
        assert_eq!(
            decode(b"\xFF\xD8\xFFraw"),
            Bytes::from_static(b"\xFF\xD8\xFFraw")
        );
        assert_eq!(decode(b"not base64!"), Bytes::from_static(b"not base64!"));
    }

    #[test]
    fn form_values_decode_to_bytes() {
        assert_eq!(form_decode(b"a%2Bb+c%FF"), b"a+b c\xFF".to_vec());
    }
}
