//! Test harness: a fresh database per test (cloned from a migrated template), the server on
//! port 0, the WeChat sandbox on port 0, and one signed-request builder for every endpoint.
#![allow(dead_code)]

pub mod moto;
pub mod upload;

use std::{
    sync::atomic::{AtomicI64, Ordering},
    time::Duration,
};

use md5::{Digest, Md5};
use serde_json::Value;
use tokio_postgres::NoTls;
use zhugeleida::{
    config::Settings,
    db,
    domain::password,
    startup::Application,
    state::AppState,
    wechat::{sandbox, WechatHosts},
};

/// The maintenance database the harness creates test databases from.
pub fn admin_url() -> String {
    std::env::var("ZGLD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("ZGLD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

fn db_url(name: &str) -> String {
    let base = admin_url();
    match base.rfind('/') {
        Some(i) => format!("{}/{}", &base[..i], name),
        None => format!("{base}/{name}"),
    }
}

async fn admin_client() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&admin_url(), NoTls)
        .await
        .expect("connect to test PostgreSQL");
    tokio::spawn(conn);
    client
}

/// A client of the maintenance database (to make a test's database go away and come back).
pub async fn admin_client_pub() -> tokio_postgres::Client {
    admin_client().await
}

/// The migrated template, named after the migrations so a schema change makes a new one.
async fn template() -> String {
    let mut h = Md5::new();
    for (v, name, sql) in db::MIGRATIONS {
        h.update(v.to_string());
        h.update(name);
        h.update(sql);
    }
    let name = format!("zgld_tpl_{}", &hex::encode(h.finalize())[..12]);
    let admin = admin_client().await;
    admin
        .batch_execute("select pg_advisory_lock(7426002)")
        .await
        .expect("lock");
    let exists = admin
        .query_opt("select 1 from pg_database where datname = $1", &[&name])
        .await
        .expect("q")
        .is_some();
    if !exists {
        let tmp = format!("{name}_build");
        let _ = admin
            .batch_execute(&format!("drop database if exists {tmp} with (force)"))
            .await;
        admin
            .batch_execute(&format!("create database {tmp}"))
            .await
            .expect("create template");
        {
            let pool = db::pool(&db_url(&tmp), 1).expect("pool");
            db::migrate(&pool).await.expect("migrate template");
            pool.close();
        }
        admin
            .batch_execute(&format!("alter database {tmp} rename to {name}"))
            .await
            .expect("rename template");
        // Templates of older schemas are of no further use.
        let old = admin
            .query(
                r"select datname from pg_database where datname like 'zgld\_tpl\_%' and datname not like '%\_build' and datname <> $1",
                &[&name],
            )
            .await
            .unwrap_or_default();
        for row in old {
            let db: String = row.get(0);
            let _ = admin
                .batch_execute(&format!("drop database if exists {db}"))
                .await;
        }
    }
    admin
        .batch_execute("select pg_advisory_unlock(7426002)")
        .await
        .expect("unlock");
    name
}

/// A running server with its own database and WeChat sandbox.
pub struct TestApp {
    pub addr: String,
    pub port: u16,
    pub db_name: String,
    pub state: AppState,
    pub http: reqwest::Client,
    pub sandbox: String,
    server: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Settings a test may adjust before the app starts.
pub fn test_settings() -> Settings {
    let mut s = Settings::local_default();
    s.bind = "127.0.0.1:0".parse().expect("addr");
    s.db_pool_size = 4;
    s.refusal_reasons = true;
    s
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A second node on `a`'s database, with the default settings otherwise (no Redis: what the
/// nodes share goes through PostgreSQL).
#[allow(dead_code)]
pub async fn second_node(a: &TestApp) -> TestApp {
    let db_url = a.state.settings.database_url.clone();
    spawn_app_with(|s| s.database_url = db_url).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var("ZGLD_TEST_LOG").is_ok() {
        zhugeleida::telemetry::init();
    }
    let tpl = template().await;
    let db_name = format!("zgld_t_{}", uuid::Uuid::new_v4().simple());
    let admin = admin_client().await;
    let mut tries = 0;
    loop {
        match admin
            .batch_execute(&format!("create database {db_name} template {tpl}"))
            .await
        {
            Ok(()) => break,
            Err(e) if tries < 20 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("create test database: {e}"),
        }
    }
    let sandbox_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sandbox");
    let sandbox_base = format!("http://{}", sandbox_listener.local_addr().expect("addr"));
    tokio::spawn(sandbox::serve(
        sandbox_listener,
        sandbox::SandboxConfig::demo(),
    ));
    let mut settings = test_settings();
    settings.database_url = db_url(&db_name);
    settings.wechat.hosts = WechatHosts::sandbox(&sandbox_base);
    tweak(&mut settings);
    let app = Application::build(settings).await.expect("build app");
    let port = app.port();
    let state = app.state().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = app
            .run_until(async move {
                let _ = rx.await;
            })
            .await;
    });
    TestApp {
        addr: format!("http://127.0.0.1:{port}"),
        port,
        db_name,
        state,
        http: reqwest::Client::new(),
        sandbox: sandbox_base,
        server,
        stop: Some(tx),
    }
}

impl TestApp {
    /// Graceful shutdown, as on SIGTERM; waits for the server to finish.
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), &mut self.server).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.server.abort();
        let name = self.db_name.clone();
        // Drop the database from a thread with its own runtime (we may be inside one).
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async move {
                if let Ok((c, conn)) = tokio_postgres::connect(&admin_url(), NoTls).await {
                    tokio::spawn(conn);
                    let _ = c
                        .batch_execute(&format!("drop database if exists {name} with (force)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A caller's credentials: `user_id` + token.
#[derive(Clone, Debug)]
pub struct Signer {
    pub user_id: i64,
    pub token: String,
}

static NONCE: AtomicI64 = AtomicI64::new(0);

impl Signer {
    /// A fresh `(rand_str, timestamp)`: a distinct timestamp per call, so writes never repeat.
    pub fn sign(&self) -> (String, String) {
        let ts = (chrono::Utc::now().timestamp_millis()
            + NONCE.fetch_add(1, Ordering::SeqCst) % 1000)
            .to_string();
        (sign_with(&ts, &self.token), ts)
    }
    pub fn query(&self) -> Vec<(String, String)> {
        let (r, ts) = self.sign();
        vec![
            ("rand_str".into(), r),
            ("timestamp".into(), ts),
            ("user_id".into(), self.user_id.to_string()),
        ]
    }
}

pub fn sign_with(timestamp: &str, token: &str) -> String {
    hex::encode(Md5::digest(format!("{timestamp}{token}").as_bytes()))
}

/// A parsed response: HTTP status, envelope and raw body.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub raw: String,
    /// Why the server refused the request (`x-zgld-reason`, on in tests).
    pub reason: Option<String>,
}

impl Resp {
    /// Reads a server reply: status, envelope and the refusal reason header.
    pub async fn read(resp: reqwest::Response) -> Resp {
        let status = resp.status().as_u16();
        let reason = resp
            .headers()
            .get("x-zgld-reason")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let raw = resp.text().await.expect("body");
        let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            raw,
            reason,
        }
    }
    pub fn code(&self) -> i64 {
        self.body["code"].as_i64().unwrap_or(-999)
    }
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    pub fn msg(&self) -> &str {
        self.body["msg"].as_str().unwrap_or_default()
    }
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code(), 200, "expected 200, got {}", self.raw);
        self
    }
    /// The envelope says `code`. For `404 非法请求` use [`Resp::refused`], which also names the
    /// reason: an unrouted path answers 404 too, and must never pass for a refusal.
    #[track_caller]
    pub fn expect_code(self, code: i64) -> Self {
        assert_eq!(self.code(), code, "expected code {code}, got {}", self.raw);
        assert!(
            code != 404 || std::env::var_os("ZGLD_CAPTURE_REFUSALS").is_some(),
            "a 404 refusal must name its reason: use .refused(404, reason)"
        );
        if let Some(f) = std::env::var_os("ZGLD_CAPTURE_REFUSALS") {
            use std::io::Write;
            let at = std::panic::Location::caller();
            if let Ok(mut out) = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(f)
            {
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    at.file(),
                    at.line(),
                    code,
                    self.reason.as_deref().unwrap_or("-")
                );
            }
        }
        self
    }
    /// Refused with `code` for the reason `why` (a part of the `x-zgld-reason` header, or of
    /// the `msg` when the refusal names no reason).
    #[track_caller]
    pub fn refused(self, code: i64, why: &str) -> Self {
        assert_eq!(self.code(), code, "expected code {code}, got {}", self.raw);
        let said = self.reason.clone().unwrap_or_else(|| self.msg().to_owned());
        assert!(
            said.contains(why),
            "refused for {said:?}, expected {why:?}: {}",
            self.raw
        );
        self
    }
}

/// One request to the server; build with [`TestApp::get`] / [`TestApp::post`].
pub struct Req<'a> {
    app: &'a TestApp,
    method: reqwest::Method,
    path: String,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
    json: Option<Value>,
    multipart: bool,
}

impl<'a> Req<'a> {
    pub fn signed(mut self, s: &Signer) -> Self {
        self.query.extend(s.query());
        self
    }
    /// Signs with an explicit (possibly wrong) triple.
    pub fn raw_auth(mut self, rand_str: &str, timestamp: &str, user_id: &str) -> Self {
        self.query.push(("rand_str".into(), rand_str.into()));
        self.query.push(("timestamp".into(), timestamp.into()));
        self.query.push(("user_id".into(), user_id.into()));
        self
    }
    pub fn query(mut self, q: &[(&str, &str)]) -> Self {
        self.query
            .extend(q.iter().map(|(a, b)| (a.to_string(), b.to_string())));
        self
    }
    pub fn form(mut self, f: &[(&str, &str)]) -> Self {
        self.form
            .extend(f.iter().map(|(a, b)| (a.to_string(), b.to_string())));
        self
    }
    pub fn json(mut self, v: Value) -> Self {
        self.json = Some(v);
        self
    }
    pub fn multipart(mut self) -> Self {
        self.multipart = true;
        self
    }
    pub async fn send(self) -> Resp {
        let url = format!("{}{}", self.app.addr, self.path);
        let mut rb = self.app.http.request(self.method, url).query(&self.query);
        if let Some(j) = self.json {
            rb = rb.json(&j);
        } else if self.multipart {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in self.form {
                form = form.text(k, v);
            }
            rb = rb.multipart(form);
        } else if !self.form.is_empty() {
            rb = rb.form(&self.form);
        }
        Resp::read(rb.send().await.expect("request")).await
    }
}

impl TestApp {
    pub fn get(&self, path: &str) -> Req<'_> {
        self.req(reqwest::Method::GET, path)
    }
    pub fn post(&self, path: &str) -> Req<'_> {
        self.req(reqwest::Method::POST, path)
    }
    pub fn req(&self, method: reqwest::Method, path: &str) -> Req<'_> {
        Req {
            app: self,
            method,
            path: path.to_owned(),
            query: vec![],
            form: vec![],
            json: None,
            multipart: false,
        }
    }

    pub async fn db(&self) -> deadpool_postgres::Object {
        self.state.db.get().await.expect("db")
    }

    /// Waits until this node's auth cache has dropped staff `id` after a direct SQL change
    /// (the NOTIFY from PostgreSQL arrives asynchronously, as on every other node).
    pub async fn settle_staff(&self, id: i64) {
        for _ in 0..200 {
            if !self.state.auth_cache.holds_staff(id) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("auth cache still holds staff {id}: no NOTIFY arrived");
    }

    /// A company made the way the CLI makes one (billing from today, `months` long).
    pub async fn company(&self, name: &str, quota: i32) -> i64 {
        let db = self.db().await;
        zhugeleida::cli::create_company(&db, name, quota, Some(12))
            .await
            .expect("company")
    }

    /// A user made the way the CLI makes one; returns its id.
    pub async fn user(&self, company_id: i64, login: &str, pass: &str, role: i64) -> i64 {
        let hash = password::hash(pass).expect("hash");
        let mut db = self.db().await;
        let tx = db.transaction().await.expect("tx");
        let id = db::user::insert(
            &tx,
            &db::user::NewStaff::with_login(company_id, role, login, login, hash),
        )
        .await
        .expect("insert user");
        tx.commit().await.expect("commit");
        id
    }

    /// Logs in through ADM-01 and returns the signer.
    pub async fn login(&self, login: &str, pass: &str) -> Signer {
        let r = self
            .post("/zhugeleida/admin/login")
            .form(&[("username", login), ("password", pass)])
            .send()
            .await
            .ok();
        Signer {
            user_id: r.data()["user_id"].as_i64().expect("user_id"),
            token: r.data()["token"].as_str().expect("token").to_owned(),
        }
    }

    /// A tenant (company + admin + salesperson) logged in: `(company_id, admin, sales)`.
    pub async fn tenant(&self, name: &str) -> (i64, Signer, Signer) {
        let c = self.company(name, 10).await;
        self.user(c, &format!("{name}-admin"), "Passw0rdX", 2).await;
        self.user(c, &format!("{name}-sales"), "Passw0rdX", 3).await;
        let a = self.login(&format!("{name}-admin"), "Passw0rdX").await;
        let s = self.login(&format!("{name}-sales"), "Passw0rdX").await;
        (c, a, s)
    }

    /// Points the sandbox's pushes at this server's receiver and pushes a verify ticket, as
    /// WeChat does every 10 minutes (docs/wechat-platform.md); the platform can then get its
    /// `component_access_token`.
    pub async fn platform_ready(&self) {
        let target = serde_json::json!({
            "event_url": format!("{}/zhugeleida/admin/open_weixin/component_event", self.addr),
            "message_url_template": format!("{}/zhugeleida/admin/open_weixin/message/$APPID$", self.addr),
        });
        self.http
            .post(format!("{}/__sandbox/component/target", self.sandbox))
            .json(&target)
            .send()
            .await
            .expect("sandbox target");
        let push: Value = self
            .http
            .post(format!("{}/__sandbox/component/push_ticket", self.sandbox))
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("push ticket")
            .json()
            .await
            .expect("push json");
        assert_eq!(
            push["push"]["reply"], "success",
            "ticket push refused: {push}"
        );
    }

    /// POSTs JSON to the sandbox admin API (`/__sandbox/<path>`) and returns its answer.
    pub async fn sandbox_admin(&self, path: &str, body: Value) -> Value {
        self.http
            .post(format!("{}/__sandbox/{path}", self.sandbox))
            .json(&body)
            .send()
            .await
            .expect("sandbox admin")
            .json()
            .await
            .unwrap_or(Value::Null)
    }

    /// The sandbox's recorded calls to `path`.
    pub async fn sandbox_calls(&self, path: &str) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/__sandbox/calls", self.sandbox))
            .query(&[("path", path)])
            .send()
            .await
            .expect("sandbox calls")
            .json()
            .await
            .expect("calls json");
        v["calls"].as_array().cloned().unwrap_or_default()
    }

    /// The platform operator (role 1) in its own company.
    pub async fn operator(&self) -> Signer {
        let c = self.company("平台", 5).await;
        self.user(c, "op", "Passw0rdX", 1).await;
        self.login("op", "Passw0rdX").await
    }
}

/// A real WebSocket client for the tests.
pub mod ws {
    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};
    use serde_json::Value;
    use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

    use super::{Signer, TestApp};

    pub type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

    /// Connects to `path` (e.g. `/zhugeleida/qiyeweixin/ws`) signed as `who`, and reads the hello.
    pub async fn connect(app: &TestApp, path: &str, who: &Signer) -> (Socket, Value) {
        let mut s = connect_raw(app, path, who).await;
        let hello = next_of(&mut s, "hello").await;
        (s, hello)
    }

    pub async fn connect_raw(app: &TestApp, path: &str, who: &Signer) -> Socket {
        let q: Vec<String> = who
            .query()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let url = format!("ws://127.0.0.1:{}{}?{}", app.port, path, q.join("&"));
        let (s, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connect");
        s
    }

    pub async fn send(s: &mut Socket, v: Value) {
        s.send(Message::Text(v.to_string().into()))
            .await
            .expect("ws send");
    }

    /// The next JSON frame, or `None` on close / timeout.
    pub async fn next(s: &mut Socket, wait: Duration) -> Option<Value> {
        loop {
            match tokio::time::timeout(wait, s.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(t.as_str()).ok(),
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Err(_) | Ok(Some(Err(_))) => {
                    return None
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next frame of type `kind`, skipping others; panics after 10 s.
    pub async fn next_of(s: &mut Socket, kind: &str) -> Value {
        loop {
            let v = next(s, Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("no {kind} frame"));
            if v["type"] == kind {
                return v;
            }
        }
    }

    /// Sends `resume` for one conversation and collects the replayed messages up to
    /// `resumed`; returns them and the `resumed` frame.
    pub async fn resume(s: &mut Socket, conversation: i64, after: i64) -> (Vec<Value>, Value) {
        send(s, serde_json::json!({"type": "resume", "conversations": {conversation.to_string(): after}})).await;
        let mut got = vec![];
        loop {
            let f = next(s, Duration::from_secs(10)).await.expect("frame");
            match f["type"].as_str() {
                Some("message") => got.push(f["message"].clone()),
                Some("resumed") => return (got, f),
                _ => {}
            }
        }
    }

    /// The close code the server sent, waiting at most `wait`.
    pub async fn close_code(s: &mut Socket, wait: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, s.next()).await {
                Ok(Some(Ok(Message::Close(Some(f))))) => return Some(f.code.into()),
                Ok(Some(Ok(Message::Close(None)))) => return Some(1005),
                Ok(Some(Ok(_))) => continue,
                _ => return None,
            }
        }
    }
}

/// A customer of `company` logged in through the mini program, related to `rep`.
pub async fn customer(app: &TestApp, rep: i64, openid: &str) -> Signer {
    let r = app
        .get("/zhugeleida/xiaochengxu/login")
        .query(&[
            (
                "code",
                &format!("sandbox-{openid}.{}", uuid::Uuid::new_v4().simple()),
            ),
            ("uid", &rep.to_string()),
            ("source", "1"),
        ])
        .send()
        .await
        .ok();
    Signer {
        user_id: r.data()["user_id"].as_i64().expect("id"),
        token: r.data()["token"].as_str().expect("token").into(),
    }
}
