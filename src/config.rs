//! Runtime configuration, read from `ZGLD_*` environment variables with defaults that
//! run on a developer machine. Every variable is listed in the README.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;

use crate::wechat::WechatHosts;

/// Everything the server needs to start. Built once; cloned into [`crate::startup::AppState`].
#[derive(Clone, Debug)]
pub struct Settings {
    /// Address the HTTP server binds (`ZGLD_BIND`).
    pub bind: SocketAddr,
    /// PostgreSQL URL (`ZGLD_DATABASE_URL`); the database is created when missing.
    pub database_url: String,
    /// Connections in the pool (`ZGLD_DB_POOL_SIZE`).
    pub db_pool_size: usize,
    /// Redis URL (`ZGLD_REDIS_URL`); `None` runs a single node without Redis.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel (`ZGLD_REDIS_PREFIX`); `None` derives it from the
    /// database (`src/redis_keys.rs`), so installations sharing a Redis stay apart.
    pub redis_prefix: Option<String>,
    /// Auth policy: token lifetimes, signature freshness, login throttling.
    pub auth: AuthSettings,
    /// Frames a WebSocket connection may have queued before it is closed as slow
    /// (`ZGLD_WS_QUEUE`).
    pub ws_queue: usize,
    /// WebSocket limits: write timeout, command rate, connections per identity.
    pub ws_limits: WsLimits,
    /// How fast and how much clients catching up may replay (src/hub/catchup.rs).
    pub catchup: CatchUpSettings,
    /// Parallel chat writer lanes, each with its own connection (`ZGLD_CHAT_WRITERS`).
    pub chat_writers: usize,
    /// Parallel radar event writer lanes (`ZGLD_RADAR_WRITERS`, default `ZGLD_CHAT_WRITERS`):
    /// fewer lanes make bigger batches, which cost less per event; more keep up with a higher
    /// rate (docs/BENCHMARKS.md, eleventh sitting).
    pub radar_writers: usize,
    /// Batch radar events into shared transactions (`ZGLD_RADAR_BATCH`, default on; `0` writes
    /// each event in its own transaction, the benchmark's baseline).
    pub radar_batching: bool,
    /// WeChat hosts and the mini-program app used for customer login.
    pub wechat: WechatSettings,
    /// Root of the files the server writes and serves (`ZGLD_STATIC_DIR`): stored paths such as
    /// `statics/zhugeleida/imgs/...` (API.md 1.9) are relative to it, and its `statics/`
    /// folder is served at `/statics/`.
    pub static_dir: PathBuf,
    /// Sign-up by QR code (ADM-09/10): the registration page and how long a QR stays valid.
    pub signup: SignupSettings,
    /// Where stored files live (local directory or S3) and the upload limits (src/storage).
    pub storage: StorageSettings,
    /// Proxies whose `X-Forwarded-For` names the client (`ZGLD_TRUSTED_PROXIES`, comma-separated
    /// addresses or CIDR networks; empty = the socket peer is the client).
    pub trusted_proxies: Vec<crate::api::client_addr::TrustedNet>,
    /// Read timeouts and the per-address connection cap of the accept loop (src/serve.rs).
    pub edge: crate::serve::EdgeLimits,
    /// `ZGLD_ENV=production`: refuse to start on the WeChat sandbox or its demo secrets
    /// (src/wechat/environment.rs).
    pub production: bool,
    /// Refusals carry their internal reason in an `x-zgld-reason` header
    /// (`ZGLD_REFUSAL_REASONS=1`; for tests and debugging, off by default: a reason such as
    /// "session ended" tells a stranger more than `404 非法请求`).
    pub refusal_reasons: bool,
    /// The official account and the URLs of its pages (`ZGLD_GZH_*`, `ZGLD_PUBLIC_URL`).
    pub gzh: crate::service::gzh::GzhSettings,
}

/// The file store behind `/statics/` and the image upload (PUB-01/02), docs/upload.md.
#[derive(Clone, Debug)]
pub struct StorageSettings {
    /// `None`: the local directory `static_dir`; `Some`: an S3-compatible store
    /// (`ZGLD_STORAGE=s3` and the `ZGLD_S3_*` variables).
    pub s3: Option<S3Settings>,
    /// Largest chunk PUB-01 accepts, after decoding (`ZGLD_UPLOAD_MAX_CHUNK_BYTES`, 10 MiB).
    pub max_chunk_bytes: u64,
    /// Largest merged image, and largest card photo (`ZGLD_UPLOAD_MAX_FILE_BYTES`, 10 MiB).
    pub max_file_bytes: u64,
    /// Most chunks one image may have (`ZGLD_UPLOAD_MAX_CHUNKS`, 1,000).
    pub max_chunks: u32,
    /// Chunks (and staged writes) older than this are removed by the sweeper
    /// (`ZGLD_UPLOAD_ABANDON_SECS`, 3,600).
    pub abandon_after: Duration,
}

/// An S3-compatible bucket (AWS, MinIO, moto, ...).
#[derive(Clone, Debug)]
pub struct S3Settings {
    /// `ZGLD_S3_ENDPOINT`, e.g. `http://127.0.0.1:9000`; `None` = AWS for the region.
    pub endpoint: Option<String>,
    /// `ZGLD_S3_BUCKET` (required in S3 mode).
    pub bucket: String,
    /// `ZGLD_S3_REGION` (default `us-east-1`).
    pub region: String,
    /// `ZGLD_S3_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// `ZGLD_S3_SECRET_ACCESS_KEY`. Never logged.
    pub secret_access_key: Option<crate::domain::secret::Secret>,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            s3: None,
            max_chunk_bytes: 10 * 1024 * 1024,
            max_file_bytes: 10 * 1024 * 1024,
            max_chunks: 1000,
            abandon_after: Duration::from_secs(3600),
        }
    }
}

/// Limits on WebSocket clients (docs/realtime.md).
#[derive(Clone, Debug)]
pub struct WsLimits {
    /// A frame (or the close frame) the client does not take within this long ends the
    /// connection: the TCP connection is dropped (`ZGLD_WS_WRITE_TIMEOUT_MS`).
    pub write_timeout: Duration,
    /// Client frames per second a connection may send on average (`ZGLD_WS_RATE`, 0 = no limit).
    pub rate: u32,
    /// Client frames a connection may send at once above the rate (`ZGLD_WS_BURST`).
    pub burst: u32,
    /// Open connections of one identity (salesperson or customer) on one node; a newer one
    /// closes the oldest with 4002 (`ZGLD_WS_MAX_PER_IDENTITY`, 0 = no limit).
    pub max_per_identity: usize,
    /// Bytes of a connection's read buffer, allocated for its whole life and the most read from
    /// the socket at once (`ZGLD_WS_READ_BUFFER`; client frames are small commands).
    pub read_buffer: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            write_timeout: Duration::from_secs(10),
            rate: 20,
            burst: 60,
            max_per_identity: 16,
            read_buffer: 1024,
        }
    }
}

/// Catching up on missed messages (docs/realtime.md, "Catch-up budget").
#[derive(Clone, Debug)]
pub struct CatchUpSettings {
    /// Bytes of stored messages this node replays per second to clients catching up: `resume`
    /// and the paged history together (`ZGLD_CATCHUP_BYTES_PER_SEC`, 0 = unlimited).
    pub bytes_per_sec: u64,
    /// Bytes one `resume` may replay; past them the client gets `reload` and pages the history
    /// at its own pace while its live frames flow (`ZGLD_RESUME_MAX_BYTES`, 0 = no cap).
    pub resume_max_bytes: u64,
}

impl Default for CatchUpSettings {
    /// 4 MiB/s: the 20 slow consumers of docs/RELIABILITY.md scenario 3 coming back with ~4.5 MB
    /// each (about 90 MB replayed in a few seconds) raised the others' p99 by 125 % on 2 cores;
    /// at 4 MiB/s the same backlog takes over 20 s, while a reconnect after a node loss (a few
    /// KB per client) still fits the burst (1 MiB) at once. 1 MiB per resume: far above 500
    /// ordinary messages, well below a slow consumer's megabytes. To be tuned with the chaos
    /// benchmark (docs/RELIABILITY.md).
    fn default() -> Self {
        CatchUpSettings {
            bytes_per_sec: 4 * 1024 * 1024,
            resume_max_bytes: 1024 * 1024,
        }
    }
}

/// ADM-09/10 (docs/signup-and-sync.md).
#[derive(Clone, Debug)]
pub struct SignupSettings {
    /// The front-end registration page the QR code opens (`ZGLD_SIGNUP_PAGE_URL`); the
    /// registration triple is appended as its query (A-21: the documented `xxx` placeholder).
    pub page_url: String,
    /// How long a QR code's registration credential is accepted by ADM-10
    /// (`ZGLD_SIGNUP_QR_TTL_SECS`, default 7 days; 0 = until the admin is disabled or deleted).
    pub qr_ttl: Duration,
}

impl Default for SignupSettings {
    fn default() -> Self {
        SignupSettings {
            page_url: "http://zhugeleida.zhugeyingxiao.com/scan_code_add_user".into(),
            qr_ttl: Duration::from_secs(7 * 86_400),
        }
    }
}

/// Token and signature policy (API.md 1.2, hardened).
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// A token unused for this long stops working (`ZGLD_TOKEN_IDLE_SECS`, 0 = never).
    pub token_idle: Duration,
    /// A token older than this stops working (`ZGLD_TOKEN_MAX_AGE_SECS`, 0 = never).
    pub token_max_age: Duration,
    /// Allowed distance between the request's `timestamp` and now
    /// (`ZGLD_SIGNATURE_WINDOW_SECS`, 0 turns the check off).
    pub signature_window: Duration,
    /// How long a used `rand_str` of a state-changing request is remembered
    /// (the window when it is on, `ZGLD_REPLAY_TTL_SECS` otherwise).
    pub replay_ttl: Duration,
    /// How long a node may reuse a caller's auth record (`ZGLD_AUTH_CACHE_SECS`, 0 = off);
    /// changes reach every node at once through PostgreSQL NOTIFY (src/auth/cache.rs).
    pub auth_cache_ttl: Duration,
    /// Failed password logins allowed per login name from one client address inside
    /// `login_lock` (`ZGLD_LOGIN_MAX_FAILURES`).
    pub login_max_failures: i64,
    /// Failed password logins allowed from one client address over all login names inside
    /// `login_lock` (`ZGLD_LOGIN_MAX_FAILURES_PER_ADDRESS`).
    pub login_max_failures_per_address: i64,
    /// The sliding window of the login limit (`ZGLD_LOGIN_LOCK_SECS`).
    pub login_lock: Duration,
}

/// Where WeChat lives and which mini program customers log into.
#[derive(Clone, Debug)]
pub struct WechatSettings {
    /// Base URLs of the four WeChat hosts (`ZGLD_WECHAT_SANDBOX` points all at the sandbox,
    /// or `ZGLD_WECHAT_API_BASE`, `_QYAPI_BASE`, `_OPEN_BASE`, `_MP_BASE` one by one).
    pub hosts: WechatHosts,
    /// Mini-program appid for `sns/jscode2session` and the salespeople's mini-program codes
    /// (`ZGLD_XCX_APPID`).
    pub xcx_appid: Option<String>,
    /// Its secret (`ZGLD_XCX_SECRET`). Never logged.
    pub xcx_secret: Option<crate::domain::secret::Secret>,
    /// The open platform third-party platform (第三方平台) this installation runs as; `None`
    /// when `ZGLD_COMPONENT_APPID` is set empty (then the single mini program above is used).
    pub component: Option<ComponentSettings>,
    /// Public base URL of this server (`ZGLD_PUBLIC_BASE_URL`), for the authorization
    /// callback `redirect_uri` of the grant links (ADM-76/88).
    pub public_base_url: String,
    /// Code release batches (ADM-81..86): concurrency, back-off, leases.
    pub release: ReleaseSettings,
    /// How often each node's background renewer looks for component and authorizer tokens
    /// due for renewal (`ZGLD_TOKEN_RENEWER_MS`, default 20 000). Keep it well under a
    /// twelfth of the token lifetime (10 min of WeChat's 2 h); only sped-up sandbox runs need
    /// less (docs/wechat-sandbox.md "Scaled clock").
    pub token_renewer: Duration,
}

/// How code release batches run (docs/wechat-platform.md "Code release").
#[derive(Clone, Debug)]
pub struct ReleaseSettings {
    /// Apps worked on at once per batch (`ZGLD_RELEASE_CONCURRENCY`, default 16).
    pub concurrency: usize,
    /// How long ADM-81..86 wait for their batch before answering "still running"
    /// (`ZGLD_RELEASE_WAIT_SECS`, default 20).
    pub wait: Duration,
    /// First back-off after a rate limit (45009/45011) or a transient failure; it doubles per
    /// attempt (`ZGLD_RELEASE_BACKOFF_MS`, default 1000).
    pub backoff: Duration,
    /// Tries of one WeChat call before the step fails (`ZGLD_RELEASE_ATTEMPTS`, default 5).
    pub attempts: u32,
    /// The runner's lease on a batch: another node resumes a batch whose lease ran out
    /// (`ZGLD_RELEASE_LEASE_SECS`, default 30).
    pub lease: Duration,
    /// WeChat calls per second that this node's release batches make together
    /// (`ZGLD_RELEASE_RATE`, default 150; 0 = as fast as `concurrency` allows). A batch is
    /// background work: paced, it leaves the cores to chat and the radar (1,000 apps, 7 calls
    /// each, take about 50 s at 150/s; docs/wechat-platform.md "Code release").
    pub rate: u32,
}

impl Default for ReleaseSettings {
    fn default() -> Self {
        Self {
            concurrency: 16,
            wait: Duration::from_secs(20),
            backoff: Duration::from_millis(1000),
            attempts: 5,
            lease: Duration::from_secs(30),
            rate: 150,
        }
    }
}

/// Credentials of the third-party platform (WECHAT.md §D; docs/wechat-platform.md).
#[derive(Clone, Debug)]
pub struct ComponentSettings {
    /// `component_appid` (`ZGLD_COMPONENT_APPID`).
    pub appid: String,
    /// `component_appsecret` (`ZGLD_COMPONENT_SECRET`).
    pub secret: crate::domain::secret::Secret,
    /// The message-check token (`ZGLD_COMPONENT_TOKEN`).
    pub token: crate::domain::secret::Secret,
    /// The 43-character EncodingAESKey (`ZGLD_COMPONENT_AES_KEY`).
    pub aes_key: crate::domain::secret::Secret,
}

impl ComponentSettings {
    /// The sandbox's demo platform (WECHAT.md §G.1, worked example 3).
    pub fn sandbox() -> Self {
        use crate::domain::secret::Secret;
        Self {
            appid: "wx0000000000c0ffee".into(),
            secret: Secret::new("sandbox-component-secret"),
            token: Secret::new("sandbox-token"),
            aes_key: Secret::new("kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"),
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            token_idle: Duration::from_secs(30 * 86_400),
            token_max_age: Duration::from_secs(90 * 86_400),
            signature_window: Duration::from_secs(15 * 60),
            replay_ttl: Duration::from_secs(86_400),
            login_max_failures: 5,
            login_max_failures_per_address: 20,
            login_lock: Duration::from_secs(30 * 60),
            auth_cache_ttl: Duration::from_secs(30),
        }
    }
}

impl Settings {
    /// The namespace of this installation's Redis keys and channels.
    pub fn redis_ns(&self) -> crate::redis_keys::RedisNs {
        crate::redis_keys::RedisNs::for_installation(
            self.redis_prefix.as_deref(),
            &self.database_url,
        )
    }

    /// Local defaults: 127.0.0.1:8000, PostgreSQL on 127.0.0.1:5432, no Redis, the WeChat
    /// sandbox on 127.0.0.1:9100 with its demo mini program.
    pub fn local_default() -> Self {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            database_url: "postgres://postgres@127.0.0.1:5432/zhugeleida".into(),
            db_pool_size: 16,
            redis_url: None,
            redis_prefix: None,
            auth: AuthSettings::default(),
            ws_queue: 256,
            ws_limits: WsLimits::default(),
            catchup: CatchUpSettings::default(),
            chat_writers: cpus(),
            radar_writers: cpus(),
            radar_batching: true,
            wechat: WechatSettings {
                hosts: WechatHosts::sandbox("http://127.0.0.1:9100"),
                xcx_appid: Some("wxsandboxminiapp".into()),
                xcx_secret: Some(crate::domain::secret::Secret::new("sandbox-miniapp-secret")),
                component: Some(ComponentSettings::sandbox()),
                public_base_url: "http://127.0.0.1:8000".into(),
                release: ReleaseSettings::default(),
                token_renewer: Duration::from_secs(20),
            },
            static_dir: PathBuf::from("."),
            storage: StorageSettings::default(),
            signup: SignupSettings::default(),
            trusted_proxies: Vec::new(),
            edge: crate::serve::EdgeLimits::default(),
            production: false,
            refusal_reasons: false,
            gzh: crate::service::gzh::GzhSettings::local_default(),
        }
    }

    /// Reads the environment on top of [`Settings::local_default`].
    pub fn from_env() -> anyhow::Result<Self> {
        let mut s = Settings::local_default();
        if let Some(v) = env("ZGLD_BIND") {
            s.bind = v.parse().context("ZGLD_BIND is not host:port")?;
        }
        if let Some(v) = env("ZGLD_DATABASE_URL") {
            s.database_url = v;
        }
        if let Some(v) = env("ZGLD_DB_POOL_SIZE") {
            s.db_pool_size = v.parse().context("ZGLD_DB_POOL_SIZE")?;
        }
        s.redis_url = env("ZGLD_REDIS_URL");
        s.redis_prefix = env("ZGLD_REDIS_PREFIX");
        if let Some(v) = env("ZGLD_WS_QUEUE") {
            s.ws_queue = v.parse().context("ZGLD_WS_QUEUE")?;
        }
        if let Some(v) = env("ZGLD_WS_WRITE_TIMEOUT_MS") {
            s.ws_limits.write_timeout =
                Duration::from_millis(v.parse().context("ZGLD_WS_WRITE_TIMEOUT_MS")?);
        }
        if let Some(v) = env("ZGLD_WS_RATE") {
            s.ws_limits.rate = v.parse().context("ZGLD_WS_RATE")?;
        }
        if let Some(v) = env("ZGLD_WS_BURST") {
            s.ws_limits.burst = v.parse().context("ZGLD_WS_BURST")?;
        }
        if let Some(v) = env("ZGLD_WS_MAX_PER_IDENTITY") {
            s.ws_limits.max_per_identity = v.parse().context("ZGLD_WS_MAX_PER_IDENTITY")?;
        }
        if let Some(v) = env("ZGLD_WS_READ_BUFFER") {
            s.ws_limits.read_buffer = v.parse().context("ZGLD_WS_READ_BUFFER")?;
        }
        if let Some(v) = env("ZGLD_CATCHUP_BYTES_PER_SEC") {
            s.catchup.bytes_per_sec = v.parse().context("ZGLD_CATCHUP_BYTES_PER_SEC")?;
        }
        if let Some(v) = env("ZGLD_RESUME_MAX_BYTES") {
            s.catchup.resume_max_bytes = v.parse().context("ZGLD_RESUME_MAX_BYTES")?;
        }
        if let Some(v) = env("ZGLD_CHAT_WRITERS") {
            s.chat_writers = lanes(&v).context("ZGLD_CHAT_WRITERS")?;
            s.radar_writers = s.chat_writers;
        }
        if let Some(v) = env("ZGLD_RADAR_WRITERS") {
            s.radar_writers = lanes(&v).context("ZGLD_RADAR_WRITERS")?;
        }
        if let Some(v) = env("ZGLD_RADAR_BATCH") {
            s.radar_batching = !matches!(v.trim(), "0" | "false" | "off" | "no");
        }
        let secs = |name: &str, d: &mut Duration| -> anyhow::Result<()> {
            if let Some(v) = env(name) {
                *d = Duration::from_secs(
                    v.parse()
                        .with_context(|| format!("{name} is not seconds"))?,
                );
            }
            Ok(())
        };
        secs("ZGLD_TOKEN_IDLE_SECS", &mut s.auth.token_idle)?;
        secs("ZGLD_TOKEN_MAX_AGE_SECS", &mut s.auth.token_max_age)?;
        secs("ZGLD_SIGNATURE_WINDOW_SECS", &mut s.auth.signature_window)?;
        secs("ZGLD_REPLAY_TTL_SECS", &mut s.auth.replay_ttl)?;
        secs("ZGLD_LOGIN_LOCK_SECS", &mut s.auth.login_lock)?;
        secs("ZGLD_AUTH_CACHE_SECS", &mut s.auth.auth_cache_ttl)?;
        secs("ZGLD_SIGNUP_QR_TTL_SECS", &mut s.signup.qr_ttl)?;
        if let Some(v) = env("ZGLD_SIGNUP_PAGE_URL") {
            s.signup.page_url = v;
        }
        secs("ZGLD_HEADER_TIMEOUT_SECS", &mut s.edge.header_timeout)?;
        secs("ZGLD_BODY_TIMEOUT_SECS", &mut s.edge.body_timeout)?;
        if let Some(v) = env("ZGLD_MAX_CONNECTIONS_PER_ADDRESS") {
            s.edge.per_address = v.parse().context("ZGLD_MAX_CONNECTIONS_PER_ADDRESS")?;
        }
        if let Some(v) = env("ZGLD_LOGIN_MAX_FAILURES") {
            s.auth.login_max_failures = v.parse().context("ZGLD_LOGIN_MAX_FAILURES")?;
        }
        if let Some(v) = env("ZGLD_LOGIN_MAX_FAILURES_PER_ADDRESS") {
            s.auth.login_max_failures_per_address =
                v.parse().context("ZGLD_LOGIN_MAX_FAILURES_PER_ADDRESS")?;
        }
        if let Some(base) = env("ZGLD_WECHAT_SANDBOX") {
            s.wechat.hosts = WechatHosts::sandbox(&base);
        } else if env("ZGLD_WECHAT_API_BASE").is_some() || env("ZGLD_WECHAT_PRODUCTION").is_some() {
            s.wechat.hosts = WechatHosts::production();
        }
        for (name, slot) in [
            ("ZGLD_WECHAT_API_BASE", &mut s.wechat.hosts.api),
            ("ZGLD_WECHAT_QYAPI_BASE", &mut s.wechat.hosts.qyapi),
            ("ZGLD_WECHAT_OPEN_BASE", &mut s.wechat.hosts.open),
            ("ZGLD_WECHAT_MP_BASE", &mut s.wechat.hosts.mp),
        ] {
            if let Some(v) = env(name) {
                *slot = v;
            }
        }
        if let Some(v) = env("ZGLD_XCX_APPID") {
            s.wechat.xcx_appid = Some(v);
        }
        if let Some(v) = env("ZGLD_XCX_SECRET") {
            s.wechat.xcx_secret = Some(crate::domain::secret::Secret::new(v));
        }
        crate::config::component_from_env(&mut s.wechat)?;
        if let Some(v) = env("ZGLD_ENV") {
            s.production = match v.trim().to_ascii_lowercase().as_str() {
                "production" | "prod" => true,
                "development" | "dev" | "test" => false,
                other => anyhow::bail!("ZGLD_ENV={other}: production or development"),
            };
        }
        s.gzh.read_env();
        if env("ZGLD_PUBLIC_URL").is_none() {
            // One public address for the platform's callback and the official account's links.
            s.gzh.public_url = s.wechat.public_base_url.clone();
        }
        if let Some(v) = env("ZGLD_STATIC_DIR") {
            s.static_dir = PathBuf::from(v);
        }
        storage_from_env(&mut s.storage)?;
        s.refusal_reasons = env("ZGLD_REFUSAL_REASONS").is_some_and(|v| v == "1" || v == "true");
        if let Some(v) = env("ZGLD_TRUSTED_PROXIES") {
            s.trusted_proxies = crate::api::client_addr::parse_list(&v).map_err(|bad| {
                anyhow::anyhow!("ZGLD_TRUSTED_PROXIES: {bad:?} is not an address or network")
            })?;
        }
        Ok(s)
    }
}

fn storage_from_env(st: &mut StorageSettings) -> anyhow::Result<()> {
    match env("ZGLD_STORAGE").as_deref().map(str::trim) {
        None | Some("local") => {}
        Some("s3") => {
            st.s3 = Some(S3Settings {
                endpoint: env("ZGLD_S3_ENDPOINT"),
                bucket: env("ZGLD_S3_BUCKET").context("ZGLD_STORAGE=s3 needs ZGLD_S3_BUCKET")?,
                region: env("ZGLD_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                access_key_id: env("ZGLD_S3_ACCESS_KEY_ID"),
                secret_access_key: env("ZGLD_S3_SECRET_ACCESS_KEY")
                    .map(crate::domain::secret::Secret::new),
            })
        }
        Some(other) => anyhow::bail!("ZGLD_STORAGE must be local or s3, not {other:?}"),
    }
    if let Some(v) = env("ZGLD_UPLOAD_MAX_CHUNK_BYTES") {
        st.max_chunk_bytes = v.parse().context("ZGLD_UPLOAD_MAX_CHUNK_BYTES")?;
    }
    if let Some(v) = env("ZGLD_UPLOAD_MAX_FILE_BYTES") {
        st.max_file_bytes = v.parse().context("ZGLD_UPLOAD_MAX_FILE_BYTES")?;
    }
    if let Some(v) = env("ZGLD_UPLOAD_MAX_CHUNKS") {
        st.max_chunks = v.parse().context("ZGLD_UPLOAD_MAX_CHUNKS")?;
    }
    if let Some(v) = env("ZGLD_UPLOAD_ABANDON_SECS") {
        st.abandon_after = Duration::from_secs(
            v.parse()
                .context("ZGLD_UPLOAD_ABANDON_SECS is not seconds")?,
        );
    }
    Ok(())
}

/// `ZGLD_COMPONENT_*` and `ZGLD_PUBLIC_BASE_URL`. An empty `ZGLD_COMPONENT_APPID` turns the
/// platform off; otherwise each variable overrides the sandbox default.
fn component_from_env(w: &mut WechatSettings) -> anyhow::Result<()> {
    use crate::domain::secret::Secret;
    let r = &mut w.release;
    if let Some(v) = env("ZGLD_RELEASE_CONCURRENCY") {
        r.concurrency = v
            .parse::<usize>()
            .context("ZGLD_RELEASE_CONCURRENCY")?
            .max(1);
    }
    if let Some(v) = env("ZGLD_RELEASE_WAIT_SECS") {
        r.wait = Duration::from_secs(v.parse().context("ZGLD_RELEASE_WAIT_SECS")?);
    }
    if let Some(v) = env("ZGLD_RELEASE_BACKOFF_MS") {
        r.backoff = Duration::from_millis(v.parse().context("ZGLD_RELEASE_BACKOFF_MS")?);
    }
    if let Some(v) = env("ZGLD_RELEASE_ATTEMPTS") {
        r.attempts = v.parse::<u32>().context("ZGLD_RELEASE_ATTEMPTS")?.max(1);
    }
    if let Some(v) = env("ZGLD_RELEASE_LEASE_SECS") {
        r.lease = Duration::from_secs(v.parse::<u64>().context("ZGLD_RELEASE_LEASE_SECS")?.max(3));
    }
    if let Some(v) = env("ZGLD_RELEASE_RATE") {
        r.rate = v.parse::<u32>().context("ZGLD_RELEASE_RATE")?;
    }
    if let Some(v) = env("ZGLD_TOKEN_RENEWER_MS") {
        w.token_renewer =
            Duration::from_millis(v.parse::<u64>().context("ZGLD_TOKEN_RENEWER_MS")?.max(10));
    }
    if let Some(v) = env("ZGLD_PUBLIC_BASE_URL") {
        w.public_base_url = v.trim_end_matches('/').to_owned();
    }
    if std::env::var("ZGLD_COMPONENT_APPID").is_ok_and(|v| v.trim().is_empty()) {
        w.component = None;
        return Ok(());
    }
    let mut c = w
        .component
        .take()
        .unwrap_or_else(ComponentSettings::sandbox);
    if let Some(v) = env("ZGLD_COMPONENT_APPID") {
        c.appid = v;
    }
    if let Some(v) = env("ZGLD_COMPONENT_SECRET") {
        c.secret = Secret::new(v);
    }
    if let Some(v) = env("ZGLD_COMPONENT_TOKEN") {
        c.token = Secret::new(v);
    }
    if let Some(v) = env("ZGLD_COMPONENT_AES_KEY") {
        crate::wechat::crypt::MsgCrypt::new("", &v, "")
            .context("ZGLD_COMPONENT_AES_KEY is not a 43-character EncodingAESKey")?;
        c.aes_key = Secret::new(v);
    }
    w.component = Some(c);
    Ok(())
}

/// The machine's cores: one writer lane per core measured best for chat (docs/BENCHMARKS.md:
/// 2 lanes 9.7k msg/s on 2 cores, 4 lanes 8.9k, 8 lanes 8.5k).
fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Threads the runtime may start for blocking work (`ZGLD_BLOCKING_THREADS`, 1–512, default
/// 16): the local store's file operations and password hashing. Tokio's own default, 512, let
/// 100 concurrent uploads start 145 threads, each keeping its stack and allocator heap: RSS grew
/// 205–309 MiB where issue 11 allows 200, 140–144 MiB with 16 (docs/BENCHMARKS.md, twelfth
/// sitting). Read before the runtime starts, so apart from [`Settings`].
pub fn blocking_threads() -> anyhow::Result<usize> {
    let Some(v) = env("ZGLD_BLOCKING_THREADS") else {
        return Ok(16);
    };
    whole_in(&v, 1..=512).context("ZGLD_BLOCKING_THREADS")
}

/// A writer lane count: a whole number from 1 to 64.
fn lanes(v: &str) -> anyhow::Result<usize> {
    whole_in(v, 1..=64)
}

/// A whole number within `range`, or an error that names the range and the value.
fn whole_in(v: &str, range: std::ops::RangeInclusive<usize>) -> anyhow::Result<usize> {
    match v.trim().parse::<usize>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => anyhow::bail!(
            "must be a whole number from {} to {}, not {v:?}",
            range.start(),
            range.end()
        ),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
