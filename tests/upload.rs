#![allow(clippy::unwrap_used, clippy::expect_used)]
//! PUB-01/02 image upload on the local store: chunks out of order with a retry, merged and
//! served with caching headers and ranges; bad input refused with a code and nothing
//! published; names confined to the store; sessions per uploader; abandoned chunks swept; the
//! `stored_image` check other modules use.
mod common;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::{
    spawn_app_with,
    upload::{chunk, chunk_form, fake_image, fetch, header, merge, split, upload_image},
    TestApp,
};
use zhugeleida::config::Settings;

/// A temporary static root, removed when dropped.
struct Root(PathBuf);

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn spawn(tweak: impl FnOnce(&mut Settings)) -> (TestApp, Root) {
    let root = std::env::temp_dir().join(format!("zgld-upload-{}", uuid::Uuid::new_v4().simple()));
    let dir = root.clone();
    let app = spawn_app_with(move |s| {
        s.static_dir = dir;
        tweak(s);
    })
    .await;
    (app, Root(root))
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = vec![];
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn merge_fields<'a>(id: &'a str, n: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("img_name", "产品.jpg"),
        ("timestamp", id),
        ("chunk_num", n),
        ("img_source", "product_picture"),
    ]
}

#[tokio::test]
async fn chunks_out_of_order_with_a_retry_are_merged_and_served_with_caching_headers_and_ranges() {
    let (app, root) = spawn(|_| {}).await;
    let (_, admin, _) = app.tenant("甲").await;
    let image = fake_image("jpeg", 3 * 1024 * 1024 + 17, 1);
    let parts = split(&image, 4);
    let id = "1530156149132";

    // Out of order: 2, 0, 3, then 1 sent wrong and sent again.
    for i in [2usize, 0, 3] {
        let r = chunk(&app, &admin, id, "产品.jpg", i as i64, parts[i].clone())
            .await
            .ok();
        assert_eq!(r.msg(), "上传成功");
        assert_eq!(r.data(), &serde_json::json!({}));
    }
    chunk(&app, &admin, id, "产品.jpg", 1, fake_image("x", 1000, 9))
        .await
        .ok();
    chunk(&app, &admin, id, "产品.jpg", 1, parts[1].clone())
        .await
        .ok();
    assert!(
        files(&root.0).iter().all(|f| !f.starts_with("statics")),
        "nothing published yet"
    );

    let r = merge(&app, &admin, &merge_fields(id, "4")).await.ok();
    assert_eq!(r.msg(), "添加图片成功");
    let url = r.data()["ret_data"]["picture_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let stamp = url
        .strip_prefix("statics/zhugeleida/imgs/qiyeweixin/product/")
        .and_then(|s| s.strip_suffix(".jpg"))
        .unwrap_or_else(|| panic!("unexpected url {url}"));
    assert_eq!(stamp.len(), 20, "YYYYMMDDHHMMSS + microseconds: {stamp}");
    assert!(stamp.chars().all(|c| c.is_ascii_digit()));
    // The chunks are gone; the image is the only file.
    assert_eq!(files(&root.0), vec![url.clone()]);

    // Served whole, with its type from the bytes and caching headers.
    let (status, h, body) = fetch(&app, &url, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body, image);
    assert_eq!(header(&h, "content-type"), "image/jpeg");
    assert_eq!(header(&h, "content-length"), image.len().to_string());
    assert_eq!(header(&h, "accept-ranges"), "bytes");
    assert_eq!(
        header(&h, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let etag = header(&h, "etag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "{etag}"
    );
    let modified = header(&h, "last-modified").to_owned();
    assert!(modified.ends_with(" GMT"), "{modified}");

    // Ranges.
    let (status, h, body) = fetch(&app, &url, &[("range", "bytes=100-1123")]).await;
    assert_eq!(status, 206);
    assert_eq!(body, &image[100..1124]);
    assert_eq!(
        header(&h, "content-range"),
        format!("bytes 100-1123/{}", image.len())
    );
    assert_eq!(
        header(&h, "content-type"),
        "image/jpeg",
        "typed from the first bytes"
    );
    let (status, _, body) = fetch(&app, &url, &[("range", "bytes=-10")]).await;
    assert_eq!(status, 206);
    assert_eq!(body, &image[image.len() - 10..]);
    let (status, _, body) = fetch(&app, &url, &[("range", "bytes=0-")]).await;
    assert_eq!((status, body.len()), (206, image.len()));
    let (status, h, _) = fetch(&app, &url, &[("range", &format!("bytes={}-", image.len()))]).await;
    assert_eq!(status, 416);
    assert_eq!(
        header(&h, "content-range"),
        format!("bytes */{}", image.len())
    );
    // A stale If-Range gets the whole file.
    let (status, _, body) = fetch(
        &app,
        &url,
        &[("range", "bytes=0-9"), ("if-range", "\"other\"")],
    )
    .await;
    assert_eq!((status, body.len()), (200, image.len()));
    let (status, _, body) = fetch(&app, &url, &[("range", "bytes=0-9"), ("if-range", &etag)]).await;
    assert_eq!((status, body.len()), (206, 10));

    // Revalidation.
    let (status, h, body) = fetch(&app, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304);
    assert!(body.is_empty());
    assert_eq!(header(&h, "etag"), etag);
    let (status, _, _) = fetch(&app, &url, &[("if-none-match", "\"something-else\"")]).await;
    assert_eq!(status, 200);
    let (status, _, _) = fetch(&app, &url, &[("if-modified-since", &modified)]).await;
    assert_eq!(status, 304);
    let (status, _, _) = fetch(
        &app,
        &url,
        &[("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")],
    )
    .await;
    assert_eq!(status, 200);

    // HEAD: the headers without the body.
    let r = app
        .http
        .head(format!("{}/{url}", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(r.headers(), "content-length"),
        image.len().to_string()
    );
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn base64_form_chunks_counted_from_one_are_merged_by_their_bytes() {
    let (app, _root) = spawn(|_| {}).await;
    let (_, _, sales) = app.tenant("甲").await;
    let image = fake_image("png", 5000, 2);
    let b64 = base64::engine::general_purpose::STANDARD;
    let parts = split(&image, 2);
    let id = "1529651748322";
    // 1-based; one with a data: prefix; the name says .gif but the bytes are PNG.
    chunk_form(
        &app,
        &sales,
        &[
            ("img_name", "x.gif"),
            ("timestamp", id),
            ("chunk", "2"),
            ("img_source", "cover_picture"),
        ],
        Some(b64.encode(&parts[1])),
    )
    .await
    .ok();
    chunk_form(
        &app,
        &sales,
        &[
            ("img_name", "x.gif"),
            ("timestamp", id),
            ("chunk", "1"),
            ("img_source", "cover_picture"),
        ],
        Some(format!("data:image/png;base64,{}", b64.encode(&parts[0]))),
    )
    .await
    .ok();
    // The merge table's name for img_source (A-89).
    let r = merge(
        &app,
        &sales,
        &[
            ("img_name", "x.gif"),
            ("timestamp", id),
            ("chunk_num", "2"),
            ("cover_picture", "cover_picture"),
        ],
    )
    .await
    .ok();
    let url = r.data()["ret_data"]["picture_url"].as_str().unwrap();
    assert!(
        url.starts_with("statics/zhugeleida/imgs/qiyeweixin/cover/"),
        "{url}"
    );
    assert!(url.ends_with(".png"), "{url}");
    let (status, h, body) = fetch(&app, url, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body, image);
    assert_eq!(header(&h, "content-type"), "image/png");
}

#[tokio::test]
async fn gif_and_webp_are_images_too() {
    let (app, _root) = spawn(|_| {}).await;
    let (_, admin, _) = app.tenant("甲").await;
    for (kind, ext, mime) in [("gif", "gif", "image/gif"), ("webp", "webp", "image/webp")] {
        let image = fake_image(kind, 3000, 3);
        let url = upload_image(&app, &admin, &image, 3).await;
        assert!(url.ends_with(&format!(".{ext}")), "{url}");
        let (_, h, body) = fetch(&app, &url, &[]).await;
        assert_eq!(body, image);
        assert_eq!(header(&h, "content-type"), mime);
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_code_and_nothing_is_published() {
    let (app, root) = spawn(|s| {
        s.storage.max_chunk_bytes = 1000;
        s.storage.max_file_bytes = 2500;
        s.storage.max_chunks = 5;
    })
    .await;
    let (_, admin, _) = app.tenant("甲").await;
    let published = |root: &Root| -> Vec<String> {
        files(&root.0)
            .into_iter()
            .filter(|f| f.starts_with("statics"))
            .collect()
    };

    // Text named .jpg: chunk 0 is refused on arrival...
    let r = chunk(
        &app,
        &admin,
        "t1",
        "fake.jpg",
        0,
        fake_image("text", 500, 1),
    )
    .await
    .expect_code(303);
    assert_eq!(r.msg(), "只能上传 JPEG、PNG、GIF 或 WebP 图片");
    // ... and when counted from 1, at the merge, which also drops the chunks.
    chunk(
        &app,
        &admin,
        "t2",
        "fake.jpg",
        1,
        fake_image("text", 500, 1),
    )
    .await
    .ok();
    chunk(
        &app,
        &admin,
        "t2",
        "fake.jpg",
        2,
        fake_image("text", 500, 2),
    )
    .await
    .ok();
    let r = merge(
        &app,
        &admin,
        &[
            ("img_name", "fake.jpg"),
            ("timestamp", "t2"),
            ("chunk_num", "2"),
            ("img_source", "product_picture"),
        ],
    )
    .await
    .expect_code(303);
    assert_eq!(r.msg(), "只能上传 JPEG、PNG、GIF 或 WebP 图片");
    assert!(published(&root).is_empty());

    // Size caps: per chunk, per file.
    let r = chunk(&app, &admin, "t3", "a.jpg", 0, fake_image("jpeg", 1001, 1))
        .await
        .expect_code(303);
    assert_eq!(r.msg(), "分片不能超过 1000 字节");
    chunk(&app, &admin, "t3", "a.jpg", 0, fake_image("jpeg", 1000, 1))
        .await
        .ok();
    chunk(&app, &admin, "t3", "a.jpg", 1, fake_image("x", 1000, 2))
        .await
        .ok();
    let r = chunk(&app, &admin, "t3", "a.jpg", 2, fake_image("x", 501, 3))
        .await
        .expect_code(303);
    assert_eq!(r.msg(), "图片不能超过 2500 字节");
    // A base64 chunk too large after decoding.
    let b64 = base64::engine::general_purpose::STANDARD.encode(fake_image("jpeg", 1001, 1));
    chunk_form(
        &app,
        &admin,
        &[
            ("img_name", "b.jpg"),
            ("timestamp", "t4"),
            ("chunk", "0"),
            ("img_source", "product_picture"),
        ],
        Some(b64),
    )
    .await
    .expect_code(303);

    // Chunk count cap, chunk index type, missing fields, unknown source.
    let r = chunk(&app, &admin, "t5", "a.jpg", 6, fake_image("x", 10, 1))
        .await
        .expect_code(303);
    assert_eq!(r.msg(), "chunk 只能是 0 到 5 之间的整数");
    chunk(&app, &admin, "t5", "a.jpg", -1, fake_image("x", 10, 1))
        .await
        .expect_code(303);
    chunk_form(
        &app,
        &admin,
        &[
            ("img_name", "a.jpg"),
            ("timestamp", "t5"),
            ("chunk", "一"),
            ("img_source", "product_picture"),
        ],
        Some("aGk=".into()),
    )
    .await
    .expect_code(301);
    let r = chunk_form(
        &app,
        &admin,
        &[
            ("img_name", "a.jpg"),
            ("timestamp", "t5"),
            ("chunk", "0"),
            ("img_source", "product_picture"),
        ],
        None,
    )
    .await
    .expect_code(303);
    assert_eq!(r.msg(), "img_data 不能为空");
    // The file id comes from the body only, never from the signature's query `timestamp` (A-89).
    let r = chunk_form(
        &app,
        &admin,
        &[
            ("img_name", "a.jpg"),
            ("chunk", "0"),
            ("img_source", "product_picture"),
        ],
        Some("aGk=".into()),
    )
    .await
    .expect_code(303);
    assert_eq!(r.msg(), "timestamp 不能为空");
    let r = chunk_form(
        &app,
        &admin,
        &[
            ("img_name", "a.jpg"),
            ("timestamp", "t5"),
            ("chunk", "0"),
            ("img_source", "avatar"),
        ],
        Some("aGk=".into()),
    )
    .await
    .expect_code(303);
    assert_eq!(
        r.msg(),
        "img_source 只能是 cover_picture 或 product_picture"
    );
    let r = merge(
        &app,
        &admin,
        &[
            ("img_name", "a.jpg"),
            ("timestamp", "t5"),
            ("chunk_num", "6"),
            ("img_source", "product_picture"),
        ],
    )
    .await
    .expect_code(303);
    assert_eq!(r.msg(), "chunk_num 只能是 1 到 5 之间的整数");

    // Missing and surplus chunks: the merge waits for the client to finish.
    chunk(&app, &admin, "t6", "a.jpg", 0, fake_image("jpeg", 800, 1))
        .await
        .ok();
    chunk(&app, &admin, "t6", "a.jpg", 2, fake_image("x", 800, 2))
        .await
        .ok();
    let r = merge(&app, &admin, &merge_fields_named("t6", "3"))
        .await
        .expect_code(303);
    assert_eq!(r.msg(), "分片不完整: 缺少第 1 片");
    let r = merge(&app, &admin, &merge_fields_named("t6", "1"))
        .await
        .expect_code(303);
    assert_eq!(r.msg(), "分片数 2 与 chunk_num 1 不符");
    chunk(&app, &admin, "t6", "a.jpg", 1, fake_image("x", 800, 3))
        .await
        .ok();
    let r = merge(&app, &admin, &merge_fields_named("t6", "3"))
        .await
        .ok();
    assert!(r.data()["ret_data"]["picture_url"].as_str().is_some());
    // Merged once: a second merge finds nothing.
    let r = merge(&app, &admin, &merge_fields_named("t6", "3"))
        .await
        .expect_code(303);
    assert_eq!(r.msg(), "没有找到已上传的分片");

    // Unsigned, and a customer: refused.
    let anon = app
        .http
        .post(format!("{}/zhugeleida/public/img_upload", app.addr))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = anon.json().await.unwrap();
    assert_eq!(v["code"], 404);
    let (_, _, rep) = app.tenant("乙").await;
    let customer = common::customer(&app, rep.user_id, "o_x").await;
    chunk(
        &app,
        &customer,
        "t7",
        "a.jpg",
        0,
        fake_image("jpeg", 100, 1),
    )
    .await
    .refused(404, "signature matches no session");

    // Only the one good image was published.
    assert_eq!(published(&root).len(), 1, "{:?}", files(&root.0));
}

fn merge_fields_named<'a>(id: &'a str, n: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("img_name", "a.jpg"),
        ("timestamp", id),
        ("chunk_num", n),
        ("img_source", "product_picture"),
    ]
}

#[tokio::test]
async fn client_names_never_reach_the_store_and_work_in_progress_is_never_served() {
    let (app, root) = spawn(|_| {}).await;
    let (_, admin, _) = app.tenant("甲").await;
    let evil_name = "../../../../statics/evil.jpg";
    let evil_id = "../../../statics/x/..";
    chunk(
        &app,
        &admin,
        evil_id,
        evil_name,
        0,
        fake_image("jpeg", 100, 1),
    )
    .await
    .ok();
    let all = files(&root.0);
    assert_eq!(all.len(), 1, "{all:?}");
    let chunk_file = &all[0];
    assert!(
        chunk_file.starts_with(&format!("uploads/chunks/{}/", admin.user_id)),
        "{chunk_file}"
    );
    assert!(!chunk_file.contains(".."));
    // Nothing outside the root either.
    assert!(!root.0.parent().unwrap().join("statics/evil.jpg").exists());

    // Chunks and staged files are not under /statics/ and cannot be reached from it.
    for path in [
        format!("/statics/../{chunk_file}"),
        format!("/statics/%2e%2e/{chunk_file}"),
        format!("/{chunk_file}"),
        format!("/statics/..%2f{chunk_file}"),
    ] {
        let (status, answer) = raw_get(&app, &path).await;
        // A 404, or the API's "unknown path" envelope: never the chunk's bytes.
        assert!(!answer.contains("JFIF"), "{path}: {answer}");
        assert!(
            !status.contains(" 200 ") || answer.contains(r#""code":404"#),
            "{path}: {answer}"
        );
    }
    let r = merge(
        &app,
        &admin,
        &[
            ("img_name", evil_name),
            ("timestamp", evil_id),
            ("chunk_num", "1"),
            ("img_source", "product_picture"),
        ],
    )
    .await
    .ok();
    let url = r.data()["ret_data"]["picture_url"].as_str().unwrap();
    assert!(url.starts_with("statics/zhugeleida/imgs/qiyeweixin/product/"));
}

async fn raw_get(app: &TestApp, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    (answer.lines().next().unwrap_or_default().to_owned(), answer)
}

#[tokio::test]
async fn upload_sessions_belong_to_their_uploader() {
    let (app, _root) = spawn(|_| {}).await;
    let (_, admin_a, sales_a) = app.tenant("甲").await;
    let (_, admin_b, _) = app.tenant("乙").await;
    let mine = fake_image("jpeg", 4000, 1);
    let parts = split(&mine, 2);
    chunk(
        &app,
        &sales_a,
        "1530000000000",
        "a.jpg",
        0,
        parts[0].clone(),
    )
    .await
    .ok();
    chunk(
        &app,
        &sales_a,
        "1530000000000",
        "a.jpg",
        1,
        parts[1].clone(),
    )
    .await
    .ok();

    // Another company's user, and an admin of the same company, with the same file id and
    // name: they see no chunks of it and cannot merge or overwrite them.
    for other in [&admin_b, &admin_a] {
        let r = merge(
            &app,
            other,
            &[
                ("img_name", "a.jpg"),
                ("timestamp", "1530000000000"),
                ("chunk_num", "2"),
                ("img_source", "product_picture"),
            ],
        )
        .await
        .expect_code(303);
        assert_eq!(r.msg(), "没有找到已上传的分片");
        chunk(
            &app,
            other,
            "1530000000000",
            "a.jpg",
            1,
            fake_image("x", 10, 5),
        )
        .await
        .ok();
    }
    let r = merge(
        &app,
        &sales_a,
        &[
            ("img_name", "a.jpg"),
            ("timestamp", "1530000000000"),
            ("chunk_num", "2"),
            ("img_source", "product_picture"),
        ],
    )
    .await
    .ok();
    let url = r.data()["ret_data"]["picture_url"].as_str().unwrap();
    let (_, _, body) = fetch(&app, url, &[]).await;
    assert_eq!(body, mine, "the uploader's own bytes");
}

#[tokio::test]
async fn abandoned_chunks_are_swept() {
    let (app, root) =
        spawn(|s| s.storage.abandon_after = std::time::Duration::from_millis(800)).await;
    let (_, admin, _) = app.tenant("甲").await;
    chunk(&app, &admin, "old", "a.jpg", 0, fake_image("jpeg", 100, 1))
        .await
        .ok();
    assert_eq!(files(&root.0).len(), 1);
    let mut gone = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if files(&root.0).is_empty() {
            gone = true;
            break;
        }
    }
    assert!(gone, "chunk still there: {:?}", files(&root.0));
    let r = merge(
        &app,
        &admin,
        &[
            ("img_name", "a.jpg"),
            ("timestamp", "old"),
            ("chunk_num", "1"),
            ("img_source", "product_picture"),
        ],
    )
    .await
    .expect_code(303);
    assert_eq!(r.msg(), "没有找到已上传的分片");
}

#[tokio::test]
async fn stored_image_accepts_only_images_the_store_holds() {
    use zhugeleida::service::upload::stored_image;
    let (app, root) = spawn(|_| {}).await;
    let (_, admin, _) = app.tenant("甲").await;
    let url = upload_image(&app, &admin, &fake_image("webp", 2000, 1), 1).await;
    let storage = &app.state.storage;
    assert_eq!(stored_image(storage, &url).await.unwrap(), url);
    assert_eq!(
        stored_image(storage, &format!("/{url}")).await.unwrap(),
        url
    );
    std::fs::create_dir_all(root.0.join("statics/imgs")).unwrap();
    std::fs::write(root.0.join("statics/imgs/hello.txt"), "hello").unwrap();
    std::fs::write(root.0.join("statics/imgs/empty.jpg"), "").unwrap();
    for bad in [
        "statics/imgs/hello.txt",
        "statics/imgs/empty.jpg",
        "statics/zhugeleida/imgs/qiyeweixin/product/missing.jpg",
        "statics/../statics/imgs/hello.txt",
        "uploads/tmp/x",
        "http://example.com/statics/a.jpg",
        "",
    ] {
        let e = stored_image(storage, bad).await.unwrap_err();
        assert_eq!((e.code(), e.msg().as_ref()), (303, "图片地址无效"), "{bad}");
    }
}

#[tokio::test]
async fn the_mini_program_code_is_written_through_the_storage_interface() {
    let (app, root) = spawn(|_| {}).await;
    let (_, _, rep) = app.tenant("甲").await;
    app.get("/zhugeleida/qiyeweixin/qr_code_auth")
        .signed(&rep)
        .send()
        .await
        .ok();
    let path: String = app
        .db()
        .await
        .query_one(
            "select qr_code from user_profile where id = $1",
            &[&rep.user_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        files(&root.0),
        vec![path.clone()],
        "no staged file left behind"
    );
    let (status, h, body) = fetch(&app, &path, &[]).await;
    assert_eq!(status, 200);
    // PNG bytes under the documented .jpg name: typed by the bytes.
    assert_eq!(header(&h, "content-type"), "image/png");
    assert!(body.starts_with(b"\x89PNG"));
}
