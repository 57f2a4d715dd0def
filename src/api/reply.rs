//! The `{code, msg, data}` envelope (API.md 1.4), serialized with ASCII escaping like
//! the original Django `JsonResponse` (`ensure_ascii=True`).

use std::{borrow::Cow, io};

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// A successful answer: code 200 with a message and a `data` member.
#[derive(Debug)]
pub struct Reply {
    pub msg: Cow<'static, str>,
    pub data: Value,
    /// Extra top-level keys beside code/msg/data (ADM-05 mode B's `department_list`).
    pub extra: Option<Map<String, Value>>,
}

impl Reply {
    pub fn ok(msg: impl Into<Cow<'static, str>>, data: Value) -> Self {
        Reply {
            msg: msg.into(),
            data,
            extra: None,
        }
    }
    /// `data: {}`.
    pub fn done(msg: &'static str) -> Self {
        Reply::ok(msg, json!({}))
    }
    /// `{"ret_data": rows, "data_count": n}`.
    pub fn list(msg: &'static str, rows: Vec<Value>, count: i64) -> Self {
        Reply::ok(msg, json!({"ret_data": rows, "data_count": count}))
    }
    pub fn with_extra(mut self, key: &str, v: Value) -> Self {
        self.extra
            .get_or_insert_with(Map::new)
            .insert(key.to_owned(), v);
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("code".into(), json!(200));
        body.insert("msg".into(), Value::String(self.msg.into_owned()));
        body.insert("data".into(), self.data);
        if let Some(extra) = self.extra {
            body.extend(extra);
        }
        let mut resp = envelope_response(StatusCode::OK, &Value::Object(body));
        resp.extensions_mut()
            .insert(crate::monitoring::EnvelopeCode(200));
        resp
    }
}

/// Result type of every handler.
pub type ApiResult = Result<Reply, crate::error::ApiError>;

/// `v` as the envelope writes JSON: non-ASCII escaped as `\uXXXX` (`null` if it cannot be).
pub fn ascii_json(v: &impl Serialize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, AsciiFormatter);
    if v.serialize(&mut ser).is_err() {
        return b"null".to_vec();
    }
    buf
}

/// A code-200 envelope whose `data` members were serialized before ([`ascii_json`]): the same
/// bytes as [`Reply::ok`] with those members (serde_json's maps keep their keys sorted, so
/// `members` must be in key order). For pages every customer sees alike, rendered once per
/// cache entry (`service::content_cache::Cached`).
pub struct RawReply(Vec<u8>);

impl RawReply {
    /// `members`: each key with its value's JSON in pieces.
    pub fn new(msg: &str, members: &[(&str, &[&[u8]])]) -> Self {
        debug_assert!(members.windows(2).all(|w| w[0].0 < w[1].0));
        let size: usize = members
            .iter()
            .map(|(k, v)| k.len() + 4 + v.iter().map(|p| p.len()).sum::<usize>())
            .sum();
        let mut body = Vec::with_capacity(size + msg.len() * 6 + 32);
        body.extend_from_slice(br#"{"code":200,"data":{"#);
        for (i, (key, value)) in members.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&ascii_json(key));
            body.push(b':');
            for piece in *value {
                body.extend_from_slice(piece);
            }
        }
        body.extend_from_slice(br#"},"msg":"#);
        body.extend_from_slice(&ascii_json(&msg));
        body.push(b'}');
        RawReply(body)
    }

    /// [`Reply::list`] of one row.
    pub fn list_of_one(msg: &str, row: &[u8]) -> Self {
        RawReply::new(
            msg,
            &[
                ("data_count", &[b"1".as_slice()]),
                ("ret_data", &[b"[".as_slice(), row, b"]".as_slice()]),
            ],
        )
    }
}

impl IntoResponse for RawReply {
    fn into_response(self) -> Response {
        let mut resp = (StatusCode::OK, self.0).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp.extensions_mut()
            .insert(crate::monitoring::EnvelopeCode(200));
        resp
    }
}

/// Serializes `v` with non-ASCII escaped as `\uXXXX` and wraps it in a JSON response.
pub fn envelope_response(status: StatusCode, v: &impl Serialize) -> Response {
    let mut buf = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, AsciiFormatter);
    if v.serialize(&mut ser).is_err() {
        buf = br#"{"code":500,"msg":"\u670d\u52a1\u5668\u5185\u90e8\u9519\u8bef","data":{}}"#
            .to_vec();
    }
    let mut resp = (status, buf).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// serde_json formatter that escapes every non-ASCII character (surrogate pairs above U+FFFF).
struct AsciiFormatter;

impl serde_json::ser::Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                write!(w, "\\u{:04x}", u)?;
            }
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> (Vec<u8>, Option<String>) {
        let ctype = r
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let b = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        (b.to_vec(), ctype)
    }

    #[tokio::test]
    async fn a_raw_reply_is_the_replys_bytes() {
        let row = json!({"名": "门票", "content": {"a": [1, "二"]}, "id": 7, "e": "😀\"q"});
        let want = body(Reply::list("查询成功", vec![row.clone()], 1).into_response()).await;
        let got = body(RawReply::list_of_one("查询成功", &ascii_json(&row)).into_response()).await;
        assert_eq!(
            String::from_utf8_lossy(&got.0),
            String::from_utf8_lossy(&want.0)
        );
        assert_eq!(got.1, want.1);
        let want = body(
            Reply::ok(
                "",
                json!({"ret_data": [row.clone()], "article_access_log_id": 42}),
            )
            .into_response(),
        )
        .await;
        let r = ascii_json(&row);
        let got = body(
            RawReply::new(
                "",
                &[
                    ("article_access_log_id", &[b"42".as_slice()]),
                    ("ret_data", &[b"[".as_slice(), &r, b"]".as_slice()]),
                ],
            )
            .into_response(),
        )
        .await;
        assert_eq!(
            String::from_utf8_lossy(&got.0),
            String::from_utf8_lossy(&want.0)
        );
    }

    #[test]
    fn chinese_is_escaped_like_django() {
        let mut buf = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, AsciiFormatter);
        json!({"msg": "添加成功", "e": "a😀b\"c"})
            .serialize(&mut ser)
            .unwrap();
        let s = String::from_utf8(buf).unwrap();
        assert!(s.contains(r#""\u6dfb\u52a0\u6210\u529f""#), "{s}");
        assert!(s.contains(r#""a\ud83d\ude00b\"c""#), "{s}");
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back["msg"], "添加成功");
    }
}
