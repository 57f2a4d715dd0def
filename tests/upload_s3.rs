#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The storage interface in S3 mode, against moto's S3 server started for each test: two
//! nodes sharing one bucket and one database; chunks sent to either node; the image (and a
//! mini-program code) served by both with the same headers; refusals publish nothing; the
//! sweeper works on the bucket.
mod common;

use common::{
    moto::Moto,
    spawn_app_with,
    upload::{chunk, fake_image, fetch, header, merge, split},
    TestApp,
};
use zhugeleida::config::S3Settings;

async fn two_nodes(
    s3: &S3Settings,
    tweak: fn(&mut zhugeleida::config::Settings),
) -> (TestApp, TestApp) {
    let s3a = s3.clone();
    let a = spawn_app_with(move |s| {
        s.storage.s3 = Some(s3a);
        tweak(s);
    })
    .await;
    let db = a.state.settings.database_url.clone();
    let s3b = s3.clone();
    let b = spawn_app_with(move |s| {
        s.storage.s3 = Some(s3b);
        s.database_url = db;
        tweak(s);
    })
    .await;
    (a, b)
}

#[tokio::test]
async fn two_nodes_on_one_bucket_take_chunks_and_serve_the_image_alike() {
    let moto = Moto::start().await;
    let s3 = moto.bucket("zgld-two-nodes").await;
    let (a, b) = two_nodes(&s3, |_| {}).await;
    let (_, admin, _) = a.tenant("甲").await;
    let image = fake_image("jpeg", 2 * 1024 * 1024 + 5, 7);
    let parts = split(&image, 3);
    let id = "1530156149132";

    // Out of order across nodes, with a retry of chunk 1 on the other node.
    chunk(&b, &admin, id, "p.jpg", 2, parts[2].clone())
        .await
        .ok();
    chunk(&a, &admin, id, "p.jpg", 1, fake_image("x", 300, 1))
        .await
        .ok();
    chunk(&a, &admin, id, "p.jpg", 0, parts[0].clone())
        .await
        .ok();
    chunk(&b, &admin, id, "p.jpg", 1, parts[1].clone())
        .await
        .ok();
    let keys = moto.keys("zgld-two-nodes").await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(
        keys.iter().all(|k| k.starts_with("uploads/chunks/")),
        "{keys:?}"
    );

    let r = merge(
        &a,
        &admin,
        &[
            ("img_name", "p.jpg"),
            ("timestamp", id),
            ("chunk_num", "3"),
            ("img_source", "product_picture"),
        ],
    )
    .await
    .ok();
    let url = r.data()["ret_data"]["picture_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        moto.keys("zgld-two-nodes").await,
        vec![url.clone()],
        "chunks and staging removed"
    );

    let (sa, ha, ba) = fetch(&a, &url, &[]).await;
    let (sb, hb, bb) = fetch(&b, &url, &[]).await;
    assert_eq!((sa, sb), (200, 200));
    assert_eq!(ba, image);
    assert_eq!(bb, image);
    for h in [&ha, &hb] {
        assert_eq!(header(h, "content-type"), "image/jpeg");
        assert_eq!(header(h, "content-length"), image.len().to_string());
        assert_eq!(
            header(h, "cache-control"),
            "public, max-age=31536000, immutable"
        );
    }
    let etag = header(&ha, "etag").to_owned();
    assert_eq!(header(&hb, "etag"), etag, "the same ETag on both nodes");
    assert_eq!(header(&hb, "last-modified"), header(&ha, "last-modified"));

    let (status, h, body) = fetch(&b, &url, &[("range", "bytes=1048576-1048675")]).await;
    assert_eq!(status, 206);
    assert_eq!(body, &image[1_048_576..1_048_676]);
    assert_eq!(
        header(&h, "content-range"),
        format!("bytes 1048576-1048675/{}", image.len())
    );
    assert_eq!(header(&h, "content-type"), "image/jpeg");
    let (status, _, _) = fetch(&b, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304);
    let (status, _, _) = fetch(
        &a,
        "statics/zhugeleida/imgs/qiyeweixin/product/none.jpg",
        &[],
    )
    .await;
    assert_eq!(status, 404);

    // The mini-program code made on one node is served by the other.
    let (_, _, rep) = a.tenant("乙").await;
    a.get("/zhugeleida/qiyeweixin/qr_code_auth")
        .signed(&rep)
        .send()
        .await
        .ok();
    let path: String = a
        .db()
        .await
        .query_one(
            "select qr_code from user_profile where id = $1",
            &[&rep.user_id],
        )
        .await
        .unwrap()
        .get(0);
    let (status, h, body) = fetch(&b, &path, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), "image/png");
    assert!(body.starts_with(b"\x89PNG"));
    assert!(
        zhugeleida::service::upload::stored_image(&b.state.storage, &path)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn refusals_publish_nothing_and_the_sweeper_clears_the_bucket() {
    let moto = Moto::start().await;
    let s3 = moto.bucket("zgld-refusals").await;
    let (a, _b) = two_nodes(&s3, |s| {
        s.storage.max_file_bytes = 3000;
        s.storage.abandon_after = std::time::Duration::from_secs(2);
    })
    .await;
    let (_, admin, _) = a.tenant("甲").await;
    // Not an image (counted from 1, so only the merge can tell).
    chunk(&a, &admin, "t1", "a.jpg", 1, fake_image("text", 100, 1))
        .await
        .ok();
    let r = merge(
        &a,
        &admin,
        &[
            ("img_name", "a.jpg"),
            ("timestamp", "t1"),
            ("chunk_num", "1"),
            ("img_source", "product_picture"),
        ],
    )
    .await
    .expect_code(303);
    assert_eq!(r.msg(), "只能上传 JPEG、PNG、GIF 或 WebP 图片");
    // Too large in total.
    chunk(&a, &admin, "t2", "a.jpg", 0, fake_image("jpeg", 2000, 1))
        .await
        .ok();
    chunk(&a, &admin, "t2", "a.jpg", 1, fake_image("x", 1001, 1))
        .await
        .expect_code(303);
    let keys = moto.keys("zgld-refusals").await;
    assert!(
        keys.iter().all(|k| k.starts_with("uploads/chunks/")),
        "{keys:?}"
    );
    assert_eq!(keys.len(), 1, "{keys:?}");
    // Abandoned: swept from the bucket.
    let mut left = keys;
    for _ in 0..80 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = moto.keys("zgld-refusals").await;
    }
    assert!(left.is_empty(), "{left:?}");
}
