//! PUB-01/02 clients for the upload tests: chunks as multipart file parts or base64 forms,
//! and raw `/statics/` reads with headers.

use reqwest::header::HeaderMap;

use super::{Resp, Signer, TestApp};

pub const UPLOAD: &str = "/zhugeleida/public/img_upload";
pub const MERGE: &str = "/zhugeleida/public/img_merge";

/// `len` bytes that start like a `kind` image ("jpeg", "png", "gif", "webp") or like text.
pub fn fake_image(kind: &str, len: usize, seed: u64) -> Vec<u8> {
    let mut head: Vec<u8> = match kind {
        "jpeg" => vec![
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1,
        ],
        "png" => b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
        "gif" => b"GIF89a\x01\0\x01\0\0\0".to_vec(),
        "webp" => b"RIFF\x24\0\0\0WEBPVP8 ".to_vec(),
        _ => b"this is not an image at all".to_vec(),
    };
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    while head.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        head.push((x >> 24) as u8);
    }
    head.truncate(len);
    head
}

/// Splits `data` into `n` nearly equal chunks.
pub fn split(data: &[u8], n: usize) -> Vec<Vec<u8>> {
    let size = data.len().div_ceil(n);
    data.chunks(size).map(<[u8]>::to_vec).collect()
}

async fn resp(r: reqwest::Response) -> Resp {
    Resp::read(r).await
}

/// PUB-01 with `img_data` as a multipart file part.
pub async fn chunk(
    app: &TestApp,
    who: &Signer,
    file_id: &str,
    name: &str,
    index: i64,
    bytes: Vec<u8>,
) -> Resp {
    let form = reqwest::multipart::Form::new()
        .text("img_name", name.to_owned())
        .text("timestamp", file_id.to_owned())
        .text("chunk", index.to_string())
        .text("img_source", "product_picture")
        .part(
            "img_data",
            reqwest::multipart::Part::bytes(bytes).file_name("blob"),
        );
    let r = app
        .http
        .post(format!("{}{UPLOAD}", app.addr))
        .query(&who.query())
        .multipart(form)
        .send()
        .await
        .expect("upload");
    resp(r).await
}

/// PUB-01 as a urlencoded form with base64 `img_data` and extra fields.
pub async fn chunk_form(
    app: &TestApp,
    who: &Signer,
    fields: &[(&str, &str)],
    img_data: Option<String>,
) -> Resp {
    let mut form: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(d) = img_data {
        form.push(("img_data".into(), d));
    }
    let r = app
        .http
        .post(format!("{}{UPLOAD}", app.addr))
        .query(&who.query())
        .form(&form)
        .send()
        .await
        .expect("upload");
    resp(r).await
}

/// PUB-02.
pub async fn merge(app: &TestApp, who: &Signer, fields: &[(&str, &str)]) -> Resp {
    let r = app
        .http
        .post(format!("{}{MERGE}", app.addr))
        .query(&who.query())
        .form(fields)
        .send()
        .await
        .expect("merge");
    resp(r).await
}

/// Uploads `data` in `n` chunks (0-based, in order) and merges it; returns the picture url.
pub async fn upload_image(app: &TestApp, who: &Signer, data: &[u8], n: usize) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    for (i, c) in split(data, n).into_iter().enumerate() {
        chunk(app, who, &id, "a.jpg", i as i64, c).await.ok();
    }
    let r = merge(
        app,
        who,
        &[
            ("img_name", "a.jpg"),
            ("timestamp", &id),
            ("chunk_num", &n.to_string()),
            ("img_source", "product_picture"),
        ],
    )
    .await
    .ok();
    r.data()["ret_data"]["picture_url"]
        .as_str()
        .expect("picture_url")
        .to_owned()
}

/// A GET of `/<path>` with extra headers: status, headers, body.
pub async fn fetch(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, HeaderMap, Vec<u8>) {
    let mut rb = app.http.get(format!("{}/{path}", app.addr));
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.expect("get");
    let status = r.status().as_u16();
    let h = r.headers().clone();
    let body = r.bytes().await.expect("bytes").to_vec();
    (status, h, body)
}

pub fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}
