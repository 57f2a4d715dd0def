#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The screens in a real browser (docs/screens.md): the server with the demo tenant, then
//! `tests/browser/screens.mjs` (playwright-core driving Debian's headless Chromium) plays a
//! salesperson, a customer and an admin. `bash .ci/services` installs Chromium, Node and the
//! script's packages.
mod common;

use std::{
    io::{BufRead, BufReader, Read, Write},
    path::Path,
    process::{Command, Stdio},
};

use common::{spawn_app, spawn_app_with, upload, TestApp};
use zhugeleida::{demo, startup::Application};

/// A real 96×96 PNG (a gradient), so the pages show a picture.
fn png(seed: u8) -> Vec<u8> {
    let (w, h) = (96u32, 96u32);
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            data.extend_from_slice(&[
                (x * 255 / w) as u8 ^ seed,
                (y * 255 / h) as u8,
                200u8.wrapping_add(seed),
            ]);
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(&data).unwrap();
    }
    out
}

async fn stored_png(app: &TestApp, who: &common::Signer, seed: u8) -> String {
    let id = format!("seed{seed}{}", uuid::Uuid::new_v4().simple());
    upload::chunk(app, who, &id, "cover.png", 0, png(seed))
        .await
        .ok();
    let r = upload::merge(
        app,
        who,
        &[
            ("img_name", "cover.png"),
            ("timestamp", &id),
            ("chunk_num", "1"),
            ("img_source", "cover_picture"),
        ],
    )
    .await
    .ok();
    r.data()["ret_data"]["picture_url"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The text of the QR code in a grayscale PNG.
fn decode_qr(bytes: &[u8]) -> String {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    grids[0].decode().unwrap().1
}

fn browser_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_salesperson_sees_a_customer_live_and_answers_in_the_browser() {
    let dir = browser_dir();
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "the browser test needs Debian's chromium and node: run `bash .ci/services`"
    );
    if !dir.join("node_modules/playwright-core").exists() {
        // A fresh worktree: install the pinned packages (from npm's cache when it has them).
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefer-offline"])
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .current_dir(dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "`npm ci` in tests/browser failed: run `bash .ci/services`"
        );
    }
    // The article pages are this server's own (/yulanwenzhang/{id}): the official account's
    // links must land on it, so its port is chosen before it starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut app = spawn_app_with(|s| {
        s.bind = format!("127.0.0.1:{port}").parse().unwrap();
        s.gzh.front_url = format!("http://127.0.0.1:{port}");
        s.gzh.public_url = format!("http://127.0.0.1:{port}");
        s.signup.page_url = format!("http://127.0.0.1:{port}/scan_code_add_user");
    })
    .await;
    let printed = demo::load(&app.state).await.unwrap();
    let company = printed["company_admin"]["company_id"].as_i64().unwrap();
    let admin = app.login(demo::ADMIN.0, demo::ADMIN.1).await;
    // A company product with a picture and a body, and a website, for the customer's pages.
    let cover = stored_png(&app, &admin, 1).await;
    let content = serde_json::json!({
        "cover_data": [{"type": "picture_url", "data": [cover]}],
        "article_data": [
            {"type": "title", "data": ["雷达旗舰版"]},
            {"type": "content", "data": ["实时掌握每位客户的兴趣,AI 预测成交率。"]},
        ],
    });
    app.post("/zhugeleida/admin/product/add/0")
        .signed(&admin)
        .form(&[
            ("product_type", "1"),
            ("name", "诸葛雷达旗舰版"),
            ("price", "2980"),
            ("reason", "销售团队的实时雷达"),
            ("content", &content.to_string()),
        ])
        .send()
        .await
        .ok();
    let banner = stored_png(&app, &admin, 2).await;
    let site = serde_json::json!([
        {"type": "guntu", "data": [{"picture_url": banner}]},
        {"type": "content", "data": [{"picture_url": cover, "text": "诸葛雷达:让每一次客户互动都被看见。"}]},
    ]);
    app.post(&format!("/zhugeleida/admin/website/edit/{company}"))
        .signed(&admin)
        .form(&[("website_content", &site.to_string())])
        .send()
        .await
        .ok();
    let rep: i64 = app
        .db()
        .await
        .query_one(
            "select id from user_profile where login_user = 'sales1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let upload_png = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screens-upload.png");
    std::fs::write(&upload_png, png(3)).unwrap();
    let base = app.addr.clone();
    // The committed screenshots are refreshed only on request, so a test run leaves the
    // work tree clean: ZGLD_UPDATE_SCREENSHOTS=1 cargo test --test screens.
    let screens = if std::env::var_os("ZGLD_UPDATE_SCREENSHOTS").is_some() {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/screens")).to_path_buf()
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screens")
    };
    let mut child = Command::new("node")
        .arg("screens.mjs")
        .current_dir(dir)
        .env("BASE_URL", base)
        .env("REP_ID", rep.to_string())
        .env("COMPANY_ID", company.to_string())
        .env("SALES_LOGIN", demo::SALES[0].0)
        .env("SALES_PASSWORD", demo::SALES_PASSWORD)
        .env("ADMIN_LOGIN", demo::ADMIN.0)
        .env("ADMIN_PASSWORD", demo::ADMIN.1)
        .env("OPERATOR_LOGIN", demo::OPERATOR.0)
        .env("OPERATOR_PASSWORD", demo::OPERATOR.1)
        .env("SCREENS_DIR", &screens)
        .env("UPLOAD_PNG", &upload_png)
        .env("SANDBOX_URL", &app.sandbox)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node");
    let mut stdin = child.stdin.take().unwrap();
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    // The script asks for a server restart (docs/screens.md): the server shuts down as on
    // SIGTERM (every socket closed with 4000) and a new one starts on the same port and
    // database; the pages reconnect and resume by themselves.
    let settings = (*app.state.settings).clone();
    let mut restarted = None;
    let mut out = String::new();
    while let Some(line) = lines.recv().await {
        println!("{line}");
        out.push_str(&line);
        out.push('\n');
        if let Some(path) = line.strip_prefix("control: decode-qr ") {
            // The sign-up QR (ADM-09) as a phone camera reads it.
            let bytes = app
                .http
                .get(format!("{}/{}", app.addr, path.trim_start_matches('/')))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            writeln!(stdin, "{}", decode_qr(&bytes)).unwrap();
            stdin.flush().unwrap();
        }
        if line == "control: restart-server" {
            app.shutdown().await;
            let mut s = settings.clone();
            s.bind = format!("127.0.0.1:{}", app.port).parse().unwrap();
            let next = Application::build(s).await.expect("restart the server");
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(async move {
                let _ = next
                    .run_until(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
            restarted = Some((stop, task));
            writeln!(stdin, "restarted").unwrap();
            stdin.flush().unwrap();
        }
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    let stderr = stderr.join().unwrap();
    eprintln!("{stderr}");
    if let Some((stop, task)) = restarted {
        let _ = stop.send(());
        let _ = task.await;
    }
    let stdout = out;
    assert!(
        status.success(),
        "browser scenario failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("scenario passed"), "{stdout}");
}

#[tokio::test]
async fn pages_are_served_with_type_and_cache_headers() {
    let app = spawn_app().await;
    for (path, ty) in [
        ("/h5/", "text/html"),
        ("/h5", "text/html"),
        ("/c/", "text/html"),
        ("/console/", "text/html"),
        ("/yulanwenzhang/1", "text/html"),
        ("/scan_code_add_user", "text/html"),
        ("/c/article.js", "text/javascript"),
        ("/web/zgld.js", "text/javascript"),
        ("/web/md5.js", "text/javascript"),
        ("/web/style.css", "text/css"),
    ] {
        let r = app
            .http
            .get(format!("{}{path}", app.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(ty),
            "{path} {h:?}"
        );
        assert_eq!(h["cache-control"], "no-cache", "{path}");
        let etag = h["etag"].to_str().unwrap().to_owned();
        let again = app
            .http
            .get(format!("{}{path}", app.addr))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    // An unknown file under a page's path is the usual envelope, not a page.
    let r = app.get("/h5/nope.js").send().await;
    assert_eq!(r.code(), 404);
}
