//! Command-line entry points: `serve`, `migrate`, `create-company`, `create-user`, `demo`,
//! `wechat-sandbox`.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;

use crate::{
    config::Settings,
    db,
    domain::{billing, password, time},
    startup::{self, Application},
    wechat::sandbox::{self, SandboxConfig},
};

#[derive(Parser, Debug)]
#[command(name = "zhugeleida", version, about = "诸葛雷达 sales-radar server")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (migrates first).
    Serve,
    /// Apply pending SQL migrations and exit.
    Migrate,
    /// Create a tenant company; prints `{"id":N}`.
    CreateCompany {
        #[arg(long)]
        name: String,
        /// Cards (enabled users) the company may have.
        #[arg(long, default_value_t = 10)]
        card_quota: i32,
        /// Billing period in months from today (1, 2, 3, 12 or 24 map to the plans); none = no expiry.
        #[arg(long)]
        months: Option<u32>,
    },
    /// Create a user; prints `{"id":N}`. The first platform operator is made this way (role 1).
    CreateUser {
        #[arg(long)]
        company_id: i64,
        #[arg(long)]
        login: String,
        /// Plain password, or with --legacy-md5 the md5 hex imported from the old system.
        #[arg(long)]
        password: String,
        /// 1 超级管理员 (operator), 2 管理员 (company admin), 3 普通成员 (salesperson).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=3))]
        role: i64,
        #[arg(long)]
        name: Option<String>,
        /// Treat --password as a legacy md5 hash (stored wrapped, upgraded at next login).
        #[arg(long)]
        legacy_md5: bool,
    },
    /// Load the demo tenant and print its logins; with --serve, also start the WeChat
    /// sandbox and the server.
    Demo {
        #[arg(long)]
        serve: bool,
        /// Where the sandbox listens when --serve is given; the server's WeChat follows it.
        /// Default: the host:port of ZGLD_WECHAT_SANDBOX, else 127.0.0.1:9100.
        #[arg(long)]
        sandbox_bind: Option<SocketAddr>,
    },
    /// Call one endpoint as LOGIN against a running server, signed (API.md 1.2), and print the
    /// reply with Chinese readable. Example: `zhugeleida call --as admin GET
    /// /zhugeleida/admin/admin_role`, `zhugeleida call --as sales1 POST
    /// /zhugeleida/qiyeweixin/follow_language/add/0 custom_language=您好`.
    Call {
        /// A staff login (demo logins need no --password), or customer:OPENID@UID (sandbox).
        #[arg(long = "as")]
        login: String,
        #[arg(long)]
        password: Option<String>,
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        url: String,
        /// GET or POST.
        method: String,
        path: String,
        /// Parameters as k=v (query for GET, form for POST).
        params: Vec<String>,
    },
    /// Open LOGIN's WebSocket on a running server and print every frame (Ctrl-C to stop).
    Watch {
        #[arg(long = "as")]
        login: String,
        #[arg(long)]
        password: Option<String>,
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        url: String,
    },
    /// Check the dashboard counters against a scan of the log, and time both
    /// (`user` 0 = the whole company), the article counters against the access trees, and
    /// that no event row outlived its customer or article. Prints JSON.
    CheckCounters {
        #[arg(long)]
        company: i64,
        #[arg(long, default_value_t = 0)]
        user: i64,
        /// Timed repetitions of each.
        #[arg(long, default_value_t = 3)]
        repeat: u32,
    },
    /// Run the offline WeChat sandbox (docs/wechat-sandbox.md).
    WechatSandbox {
        #[arg(long, default_value = "127.0.0.1:9100")]
        bind: SocketAddr,
        /// JSON seed file; the built-in demo seed otherwise.
        #[arg(long)]
        seed: Option<PathBuf>,
    },
}

/// Runs one command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => serve(Settings::from_env()?).await,
        Command::Migrate => {
            let s = Settings::from_env()?;
            db::create_database_if_missing(&s.database_url).await?;
            let pool = db::pool(&s.database_url, 2)?;
            let applied = db::migrate(&pool).await?;
            println!("{}", json!({"applied": applied}));
            Ok(())
        }
        Command::CreateCompany {
            name,
            card_quota,
            months,
        } => {
            let pool = connect().await?;
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let id = create_company(&tx, &name, card_quota, months).await?;
            tx.commit().await?;
            println!("{}", json!({"id": id}));
            Ok(())
        }
        Command::CreateUser {
            company_id,
            login,
            password: pass,
            role,
            name,
            legacy_md5,
        } => {
            let pool = connect().await?;
            let mut client = pool.get().await?;
            let hash = if legacy_md5 {
                password::wrap_legacy_md5(&pass)?
            } else {
                password::hash(&pass)?
            };
            let tx = client.transaction().await?;
            let name = name.unwrap_or_else(|| login.clone());
            let id = db::user::insert(
                &tx,
                &db::user::NewStaff::with_login(company_id, role, &login, &name, hash),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{} ({})", e.msg(), e))?;
            tx.commit().await?;
            println!("{}", json!({"id": id}));
            Ok(())
        }
        Command::Call {
            login,
            password,
            url,
            method,
            path,
            params,
        } => {
            let params = crate::client::parse_params(&params)?;
            let session = crate::client::Session::login(&url, &login, password.as_deref()).await?;
            let reply = session.call(&method, &path, &params).await?;
            println!("{}", crate::client::pretty(&reply));
            Ok(())
        }
        Command::Watch {
            login,
            password,
            url,
        } => {
            let session = crate::client::Session::login(&url, &login, password.as_deref()).await?;
            eprintln!(
                "watching {} as user {} (Ctrl-C to stop)",
                session.ws_path(),
                session.user_id
            );
            let code = session
                .watch(|frame| {
                    println!("{}", crate::client::pretty(&frame));
                    true
                })
                .await?;
            eprintln!("closed by the server (code {code:?})");
            Ok(())
        }
        Command::Demo {
            serve: run_server,
            sandbox_bind,
        } => {
            let mut settings = Settings::from_env()?;
            // The sandbox's port is one setting: --sandbox-bind, else ZGLD_WECHAT_SANDBOX's.
            let sandbox = crate::wechat::environment::Target::of(&settings.wechat.hosts);
            let sandbox_bind = match (sandbox_bind, &sandbox) {
                (Some(b), _) => b,
                (None, crate::wechat::environment::Target::Sandbox { base }) => {
                    url::Url::parse(base)
                        .ok()
                        .and_then(|u| u.socket_addrs(|| Some(80)).ok())
                        .and_then(|a| a.into_iter().next())
                        .with_context(|| format!("ZGLD_WECHAT_SANDBOX {base}: no host:port"))?
                }
                (None, _) => SocketAddr::from(([127, 0, 0, 1], 9100)),
            };
            if let crate::wechat::environment::Target::Sandbox { .. } = sandbox {
                settings.wechat.hosts =
                    crate::wechat::WechatHosts::sandbox(&format!("http://{sandbox_bind}"));
            }
            if run_server {
                let listener = tokio::net::TcpListener::bind(sandbox_bind)
                    .await
                    .with_context(|| format!("binding the WeChat sandbox on {sandbox_bind}"))?;
                tokio::spawn(async move {
                    if let Err(e) = sandbox::serve(listener, SandboxConfig::demo()).await {
                        tracing::error!(error = %e, "WeChat sandbox stopped");
                    }
                });
                tracing::info!(%sandbox_bind, "WeChat sandbox listening");
            }
            // The server serves the official account's article page itself (/yulanwenzhang/{id},
            // and the sign-up page, docs/screens.md): unless configured, their links land here.
            let here = format!("http://{}", settings.bind);
            if std::env::var_os("ZGLD_GZH_FRONT_URL").is_none() {
                settings.gzh.front_url = here.clone();
            }
            if std::env::var_os("ZGLD_SIGNUP_PAGE_URL").is_none() {
                settings.signup.page_url = format!("{here}/scan_code_add_user");
            }
            if std::env::var_os("ZGLD_PUBLIC_URL").is_none() {
                settings.gzh.public_url = here;
            }
            let state = startup::build_state(settings.clone()).await?;
            let mut logins = crate::demo::load(&state).await?;
            let screens = crate::demo::screens(&format!("http://{}", settings.bind), &logins);
            if let Some(o) = logins.as_object_mut() {
                o.insert("open_in_a_browser".into(), screens);
            }
            println!("{}", serde_json::to_string_pretty(&logins)?);
            let server = format!("http://{}", settings.bind);
            println!(
                "{}",
                crate::demo::guide(&logins, &server, &settings.wechat.hosts.api)
            );
            if run_server {
                serve(settings).await?;
            }
            Ok(())
        }
        Command::CheckCounters {
            company,
            user,
            repeat,
        } => {
            let pool = connect().await?;
            let db = pool.get().await?;
            let today = crate::domain::time::today();
            let mut counters_ms = Vec::new();
            let mut scan_ms = Vec::new();
            let (mut fast, mut slow) = Default::default();
            for _ in 0..repeat.max(1) {
                let t = std::time::Instant::now();
                fast = db::dashboard::windows(&db, company, user, today).await?;
                counters_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                let t = std::time::Instant::now();
                slow = db::dashboard::windows_by_scan(&db, company, user, today).await?;
                scan_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
            println!(
                "{}",
                json!({
                    "equal": fast == slow,
                    "counters_ms_best": best(&counters_ms),
                    "scan_ms_best": best(&scan_ms),
                    "counters": fast,
                    "scan": slow,
                })
            );
            let spread = db::article_spread::check(&db, company).await?;
            println!(
                "{}",
                json!({"article_counters_equal": spread.is_empty(), "article_disagreements": spread})
            );
            let talk = db::talk::check(&db, company).await?;
            println!(
                "{}",
                json!({"talk_counters_equal": talk.is_empty(), "talk_disagreements": talk})
            );
            let dangling = db::radar::dangling(&db, company).await?;
            println!(
                "{}",
                json!({"events_without_parent": dangling.is_empty(), "dangling_events": dangling})
            );
            if fast != slow {
                anyhow::bail!("the counters disagree with the log");
            }
            if !spread.is_empty() {
                anyhow::bail!("the article counters disagree with the access tree");
            }
            if !dangling.is_empty() {
                anyhow::bail!("event rows whose customer or article is gone");
            }
            if !talk.is_empty() {
                anyhow::bail!("talk phrases whose sendNum disagrees with their uses");
            }
            Ok(())
        }
        Command::WechatSandbox { bind, seed } => {
            let config = match seed {
                Some(p) => SandboxConfig::from_file(&p)?,
                None => SandboxConfig::demo(),
            };
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("binding {bind}"))?;
            tracing::info!(%bind, "WeChat sandbox listening");
            sandbox::serve(listener, config).await?;
            Ok(())
        }
    }
}

async fn connect() -> anyhow::Result<deadpool_postgres::Pool> {
    let s = Settings::from_env()?;
    db::create_database_if_missing(&s.database_url).await?;
    let pool = db::pool(&s.database_url, 2)?;
    db::migrate(&pool).await?;
    Ok(pool)
}

/// Creates a company whose billing starts today.
pub async fn create_company(
    db: &impl deadpool_postgres::GenericClient,
    name: &str,
    card_quota: i32,
    months: Option<u32>,
) -> anyhow::Result<i64> {
    let today = time::today();
    let plan = months.and_then(|m| match m {
        1 => Some(1i16),
        2 => Some(2),
        3 => Some(3),
        12 => Some(4),
        24 => Some(5),
        _ => None,
    });
    let expiry = match (plan, months) {
        (Some(p), _) => billing::expiry(today, p),
        (None, Some(m)) => today.checked_add_months(chrono::Months::new(m)),
        (None, None) => None,
    };
    let input = db::company::CompanyInput {
        name: Some(name.to_owned()),
        charging_start_time: Some(today),
        open_length_time: plan,
        account_expired_time: expiry,
        mingpian_available_num: Some(card_quota),
        remarks: None,
    };
    db::company::insert(db, &input)
        .await
        .map_err(|e| anyhow::anyhow!("{} ({})", e.msg(), e))
}

/// `serve`: run until Ctrl-C / SIGTERM, then drain.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "zhugeleida listening");
    app.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        _ = term => tracing::info!("SIGTERM: shutting down"),
    }
}
