//! Which WeChat a node talks to, and the production switch (`ZGLD_ENV=production`): a
//! production node refuses to start on the offline sandbox or with the sandbox's built-in demo
//! mini program, so a forgotten setting fails loudly at start instead of failing every login.

use serde_json::{json, Value};

use crate::{config::Settings, wechat::WechatHosts};

/// The sandbox's built-in demo mini program (src/wechat/sandbox/config.rs), never valid on
/// the real WeChat.
pub const DEMO_XCX_APPID: &str = "wxsandboxminiapp";
/// The sandbox's demo official account (src/wechat/sandbox/mp.rs).
pub const DEMO_GZH_APPID: &str = "wxsandboxgzh";
pub const DEMO_SECRETS: &[&str] = &[
    "sandbox-gzh-secret",
    "sandbox-miniapp-secret",
    "sandbox-tongxunlu-secret",
    "sandbox-ai-radar-secret",
    "sandbox-boss-radar-secret",
];

/// Where the node's WeChat calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The real hosts (`https://api.weixin.qq.com` …).
    Production,
    /// All four hosts on one sandbox (`ZGLD_WECHAT_SANDBOX`, or the local default).
    Sandbox { base: String },
    /// Hosts overridden one by one (`ZGLD_WECHAT_API_BASE` …).
    Custom,
}

impl Target {
    pub fn of(hosts: &WechatHosts) -> Self {
        if *hosts == WechatHosts::production() {
            Target::Production
        } else if *hosts == WechatHosts::sandbox(&hosts.api) {
            Target::Sandbox {
                base: hosts.api.clone(),
            }
        } else {
            Target::Custom
        }
    }
}

/// One line for the start-up log.
pub fn describe(s: &Settings) -> String {
    match Target::of(&s.wechat.hosts) {
        Target::Production => "the real WeChat hosts".to_owned(),
        Target::Sandbox { base } => format!(
            "the offline WeChat sandbox at {base} (set ZGLD_WECHAT_PRODUCTION=1 and ZGLD_XCX_APPID/ZGLD_XCX_SECRET for the real WeChat)"
        ),
        Target::Custom => format!(
            "custom WeChat hosts api={} qyapi={} open={} mp={}",
            s.wechat.hosts.api, s.wechat.hosts.qyapi, s.wechat.hosts.open, s.wechat.hosts.mp
        ),
    }
}

/// What `/readyz` says about it.
pub fn readiness(s: &Settings) -> Value {
    let h = &s.wechat.hosts;
    let mode = match Target::of(h) {
        Target::Production => "production",
        Target::Sandbox { .. } => "sandbox",
        Target::Custom => "custom",
    };
    json!({
        "environment": if s.production { "production" } else { "development" },
        "wechat": {"mode": mode, "api": h.api, "qyapi": h.qyapi, "open": h.open, "mp": h.mp},
    })
}

/// With `ZGLD_ENV=production`: the reasons the node must not start (empty = fine).
pub fn production_problems(s: &Settings) -> Vec<String> {
    let mut out = vec![];
    if !s.production {
        return out;
    }
    match Target::of(&s.wechat.hosts) {
        Target::Sandbox { base } => out.push(format!(
            "WeChat points at the sandbox ({base}): set ZGLD_WECHAT_PRODUCTION=1 (or the ZGLD_WECHAT_*_BASE hosts) and unset ZGLD_WECHAT_SANDBOX"
        )),
        Target::Production | Target::Custom => {}
    }
    let hosts = &s.wechat.hosts;
    for h in [&hosts.api, &hosts.qyapi, &hosts.open, &hosts.mp] {
        if h.starts_with("http://127.") || h.starts_with("http://localhost") {
            out.push(format!("WeChat host {h} is local"));
        }
    }
    match s.wechat.xcx_appid.as_deref() {
        None => out.push("ZGLD_XCX_APPID is not set".to_owned()),
        Some(DEMO_XCX_APPID) => {
            out.push("ZGLD_XCX_APPID is the sandbox's demo mini program".to_owned())
        }
        Some(_) => {}
    }
    match &s.wechat.xcx_secret {
        None => out.push("ZGLD_XCX_SECRET is not set".to_owned()),
        Some(secret) if DEMO_SECRETS.contains(&secret.expose()) => {
            out.push("ZGLD_XCX_SECRET is a sandbox demo secret".to_owned())
        }
        Some(_) => {}
    }
    if s.gzh.appid == DEMO_GZH_APPID {
        out.push("ZGLD_GZH_APPID is the sandbox's demo official account".to_owned());
    }
    if DEMO_SECRETS.contains(&s.gzh.secret.expose()) {
        out.push("ZGLD_GZH_SECRET is a sandbox demo secret".to_owned());
    }
    if let Some(c) = &s.wechat.component {
        let demo = crate::config::ComponentSettings::sandbox();
        if c.appid == demo.appid {
            out.push("ZGLD_COMPONENT_APPID is the sandbox's demo platform (set it, or set it empty to run without the third-party platform)".to_owned());
        }
        if c.secret.expose() == demo.secret.expose()
            || c.token.expose() == demo.token.expose()
            || c.aes_key.expose() == demo.aes_key.expose()
        {
            out.push("ZGLD_COMPONENT_SECRET/_TOKEN/_AES_KEY: a sandbox demo value".to_owned());
        }
    }
    out
}

/// Refuses a production start on the sandbox or its demo secrets.
pub fn check(s: &Settings) -> anyhow::Result<()> {
    let problems = production_problems(s);
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "ZGLD_ENV=production refuses to start: {}",
            problems.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::secret::Secret;

    fn production() -> Settings {
        let mut s = Settings::local_default();
        s.production = true;
        s.wechat.hosts = WechatHosts::production();
        s.wechat.xcx_appid = Some("wx0123456789abcdef".into());
        s.wechat.xcx_secret = Some(Secret::new("a-real-secret"));
        s.wechat.component = None;
        s.gzh.appid = "wx00000000000000aa".into();
        s.gzh.secret = Secret::new("a-real-gzh-secret");
        s
    }

    #[test]
    fn production_needs_real_hosts_and_real_secrets() {
        assert!(check(&production()).is_ok());
        let mut s = production();
        s.wechat.hosts = WechatHosts::sandbox("http://127.0.0.1:9100");
        let e = check(&s).unwrap_err().to_string();
        assert!(e.contains("sandbox (http://127.0.0.1:9100)"), "{e}");
        let mut s = production();
        s.wechat.xcx_secret = Some(Secret::new("sandbox-miniapp-secret"));
        assert!(check(&s).unwrap_err().to_string().contains("demo secret"));
        let mut s = production();
        s.wechat.xcx_appid = Some(DEMO_XCX_APPID.into());
        assert!(check(&s).is_err());
        let mut s = production();
        s.wechat.xcx_secret = None;
        assert!(check(&s).is_err());
        let mut s = production();
        s.wechat.component = Some(crate::config::ComponentSettings::sandbox());
        let e = check(&s).unwrap_err().to_string();
        assert!(e.contains("demo platform"), "{e}");
        let mut s = production();
        s.gzh = crate::service::gzh::GzhSettings::local_default();
        let e = check(&s).unwrap_err().to_string();
        assert!(e.contains("demo official account"), "{e}");
    }

    #[test]
    fn development_starts_on_the_sandbox_and_says_so() {
        let s = Settings::local_default();
        assert!(check(&s).is_ok());
        assert!(describe(&s).contains("sandbox at http://127.0.0.1:9100"));
        assert_eq!(readiness(&s)["wechat"]["mode"], "sandbox");
        assert_eq!(readiness(&production())["wechat"]["mode"], "production");
    }
}
