//! The sandbox seed (WECHAT.md §G.1, restricted to WeCom, mini-program login and mini-program
//! codes): apps, mini-program users, the WeCom corp with its agents, departments and members,
//! plus clock and lifetime settings. Loaded from JSON; every section has a default.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Seed of the sandbox. `POST /__sandbox/reset` returns to it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SandboxConfig {
    /// How sandbox time moves.
    pub clock: ClockConfig,
    /// Token lifetimes.
    pub tokens: TokenConfig,
    /// Lifetime of codes minted by the authorize page.
    pub codes: CodeConfig,
    /// Accept `sandbox-<openid>` codes for openids missing from `users`.
    pub allow_unknown_openid: bool,
    /// Official accounts and mini programs (`api` host).
    pub apps: Vec<AppSeed>,
    /// WeChat users of the official accounts and mini programs.
    pub users: Vec<UserSeed>,
    /// The WeCom corp; `None` disables the `qyapi` endpoints (every call → 40013).
    pub wecom: Option<WecomSeed>,
    /// The third-party platform; `None` disables the component endpoints (→ 61011).
    pub component: Option<ComponentSeed>,
    /// Accounts that may authorize the platform (mini programs and official accounts).
    pub authorizers: Vec<AuthorizerSeed>,
    /// The platform's code templates (`wxa/gettemplatelist`).
    pub templates: Vec<TemplateSeed>,
    /// Categories every mini program may choose in `submit_audit` (`wxa/get_category`).
    pub categories: Vec<CategorySeed>,
    /// How code audits end (G.6).
    pub audit: AuditConfig,
}

/// `[component]`: the third-party platform (G.1, G.5).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct ComponentSeed {
    /// component_appid.
    pub appid: String,
    /// component_appsecret.
    pub appsecret: String,
    /// Message-check token.
    pub token: String,
    /// 43-character EncodingAESKey.
    pub encoding_aes_key: String,
    /// The server's authorization event URL (also settable at run time:
    /// `POST /__sandbox/component/target`).
    pub event_url: Option<String>,
    /// The server's message URL, `$APPID$` replaced by the authorizer.
    pub message_url_template: Option<String>,
    /// How long a pushed ticket buys tokens (12 h).
    pub ticket_ttl_secs: i64,
}

impl Default for ComponentSeed {
    fn default() -> Self {
        Self {
            appid: "wx0000000000c0ffee".into(),
            appsecret: "sandbox-component-secret".into(),
            token: "sandbox-token".into(),
            encoding_aes_key: "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR".into(),
            event_url: None,
            message_url_template: None,
            ticket_ttl_secs: 43_200,
        }
    }
}

/// `[[authorizers]]`: an account that can authorize the platform.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AuthorizerSeed {
    /// Its appid.
    pub appid: String,
    /// `miniprogram` or `mp`.
    #[serde(default)]
    pub kind: AppKind,
    /// nick_name.
    #[serde(default)]
    pub nick_name: String,
    /// principal_name (主体).
    #[serde(default)]
    pub principal_name: String,
    /// `service_type_info.id`.
    #[serde(default)]
    pub service_type: i64,
    /// `verify_type_info.id` (-1 unverified).
    #[serde(default)]
    pub verify_type: i64,
    /// Permission sets granted on authorization (18 = code management, 17 = codes).
    #[serde(default)]
    pub func_ids: Vec<i64>,
    /// Pages of the released version before any release through the platform.
    #[serde(default)]
    pub released_pages: Vec<String>,
}

/// `[[templates]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TemplateSeed {
    pub template_id: i64,
    pub user_version: String,
    #[serde(default)]
    pub user_desc: String,
    #[serde(default)]
    pub create_time: i64,
    #[serde(default)]
    pub source_miniprogram_appid: String,
    #[serde(default)]
    pub source_miniprogram: String,
    #[serde(default)]
    pub developer: String,
    /// Pages of the code; `get_page` returns them after a commit.
    #[serde(default)]
    pub pages: Vec<String>,
}

/// `[[categories]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CategorySeed {
    pub first_class: String,
    pub first_id: i64,
    pub second_class: String,
    pub second_id: i64,
}

/// `[audit]` (G.6).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct AuditConfig {
    /// `auto` (decided `auto_delay_secs` after submission) or `manual`.
    pub mode: String,
    /// Sandbox seconds until an automatic decision.
    pub auto_delay_secs: i64,
    /// 0 approve, 1 reject, 4 delay.
    pub auto_outcome: i64,
    /// Push `weapp_audit_*` events to the message URL when an audit is decided.
    pub push_events: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            mode: "auto".into(),
            auto_delay_secs: 60,
            auto_outcome: 0,
            push_events: false,
        }
    }
}

/// `[clock]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ClockConfig {
    /// `virtual` (time moves only through `POST /__sandbox/clock`), `real`, or `scaled`
    /// (`factor` sandbox seconds per real second).
    pub mode: ClockMode,
    /// Unix second the virtual or scaled clock starts at; the real time at start-up when absent.
    pub start_unix: Option<i64>,
    /// `scaled` mode: sandbox seconds per real second (e.g. 120: two hours in one minute).
    /// Token answers then report `expires_in` in real seconds (`ttl_secs / factor`), so a
    /// client that reads `expires_in` as real seconds, as every WeChat client does, sees the
    /// token die when the sandbox kills it (docs/wechat-sandbox.md "Scaled clock").
    pub factor: Option<f64>,
}

/// How the sandbox clock moves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// Frozen except for explicit advances.
    #[default]
    Virtual,
    /// Wall-clock time plus any explicit advances.
    Real,
    /// Wall-clock time sped up by `clock.factor`, plus any explicit advances.
    Scaled,
}

/// `[tokens]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct TokenConfig {
    /// Returned as `expires_in`.
    pub ttl_secs: i64,
    /// Real lifetime; below `ttl_secs` it exercises the client's reactive refresh (42001).
    pub invalidate_after_secs: i64,
    /// How long a superseded `cgi-bin/token` token keeps working.
    pub oa_old_token_grace_secs: i64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            ttl_secs: 7200,
            invalidate_after_secs: 7200,
            oa_old_token_grace_secs: 300,
        }
    }
}

/// `[codes]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct CodeConfig {
    /// Lifetime of codes minted by `/open/connect/oauth2/authorize`.
    pub ttl_secs: i64,
}

impl Default for CodeConfig {
    fn default() -> Self {
        Self { ttl_secs: 300 }
    }
}

/// `[[apps]]`: an official account or mini program.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AppSeed {
    /// AppID.
    pub appid: String,
    /// AppSecret.
    pub secret: String,
    /// `mp` (official account) or `miniprogram`.
    #[serde(default)]
    pub kind: AppKind,
    /// Bound to an open platform account: answers carry the user's `unionid`.
    #[serde(default)]
    pub unionid: bool,
    /// Pages of the released version (mini programs), e.g. `pages/index/index`.
    /// `wxa/getwxacodeunlimit` with `check_path` (the default) and a page outside this list
    /// answers 41030; an empty list means pages are not modelled and every page is accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released_pages: Vec<String>,
}

/// Kind of an `[[apps]]` entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppKind {
    /// Official account (公众号).
    Mp,
    /// Mini program (小程序).
    #[default]
    Miniprogram,
}

/// `[[users]]`: a WeChat user.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct UserSeed {
    /// The openid (the sandbox uses one openid for every app).
    pub openid: String,
    /// Nickname.
    #[serde(default)]
    pub nickname: String,
    /// Avatar URL.
    #[serde(default)]
    pub headimgurl: String,
    /// UnionID, returned by apps with `unionid = true`.
    #[serde(default)]
    pub unionid: Option<String>,
}

/// `[wecom]`: one WeCom corp.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct WecomSeed {
    /// CorpID.
    pub corpid: String,
    /// Address-book (通讯录) secret: its token sees every department.
    #[serde(default)]
    pub contacts_secret: Option<String>,
    /// Self-built apps.
    #[serde(default)]
    pub agents: Vec<AgentSeed>,
    /// The department tree.
    #[serde(default)]
    pub departments: Vec<DepartmentSeed>,
    /// Members.
    #[serde(default)]
    pub users: Vec<WecomUserSeed>,
}

/// `[[wecom.agents]]`: a self-built app with its own secret.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AgentSeed {
    /// AgentId.
    pub agentid: i64,
    /// The app's secret.
    pub secret: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Departments (with their subtrees) this app may read; empty means all (G.7).
    #[serde(default)]
    pub visible_departments: Vec<i64>,
}

/// `[[wecom.departments]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct DepartmentSeed {
    /// Id; the root is 1.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Parent id; 0 for the root.
    #[serde(default)]
    pub parentid: i64,
    /// Sort order within the parent.
    #[serde(default)]
    pub order: i64,
}

/// `[[wecom.users]]`: a corp member.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct WecomUserSeed {
    /// UserId.
    pub userid: String,
    /// Name.
    pub name: String,
    /// Department ids.
    #[serde(default)]
    pub department: Vec<i64>,
    /// Job title.
    #[serde(default)]
    pub position: Option<String>,
    /// Mobile.
    #[serde(default)]
    pub mobile: Option<String>,
    /// 0 unknown, 1 male, 2 female (sent as a string, like WeCom).
    #[serde(default)]
    pub gender: Option<i32>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub avatar: Option<String>,
}

impl AuthorizerSeed {
    /// Sandbox mini program number `n`: appid `wxsbxma<n, 10 digits>`, code management granted.
    pub fn mini_program(n: usize) -> Self {
        Self {
            appid: format!("wxsbxma{n:010}"),
            kind: AppKind::Miniprogram,
            nick_name: format!("沙盒小程序{n}"),
            principal_name: format!("沙盒公司{n}"),
            service_type: 0,
            verify_type: 0,
            func_ids: vec![17, 18],
            released_pages: Vec::new(),
        }
    }
}

impl SandboxConfig {
    /// Reads a JSON seed file.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading sandbox seed {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("parsing sandbox seed {}", path.display()))
    }

    /// The demo seed: corp `wwsandbox` with two agents and three sales reps, and the mini
    /// program `wxsandboxminiapp` with three customers.
    pub fn demo() -> Self {
        let rep = |userid: &str, name: &str, mobile: &str, gender: i32| WecomUserSeed {
            userid: userid.to_owned(),
            name: name.to_owned(),
            department: vec![2],
            position: Some("销售经理".to_owned()),
            mobile: Some(mobile.to_owned()),
            gender: Some(gender),
            email: Some(format!("{userid}@sandbox.example")),
            avatar: Some(format!("https://sandbox.example/avatar/{userid}.png")),
        };
        let customer = |openid: &str, nickname: &str| UserSeed {
            openid: openid.to_owned(),
            nickname: nickname.to_owned(),
            headimgurl: format!("https://sandbox.example/headimg/{openid}.png"),
            unionid: Some(format!("u_{}", openid.trim_start_matches("o_"))),
        };
        let dept = |id: i64, name: &str, parentid: i64, order: i64| DepartmentSeed {
            id,
            name: name.to_owned(),
            parentid,
            order,
        };
        Self {
            allow_unknown_openid: true,
            apps: vec![
                AppSeed {
                    appid: "wxsandboxminiapp".to_owned(),
                    secret: "sandbox-miniapp-secret".to_owned(),
                    kind: AppKind::Miniprogram,
                    unionid: true,
                    released_pages: Vec::new(),
                },
                super::mp::demo_official_account(),
            ],
            users: vec![
                customer("o_alice", "Alice"),
                customer("o_bob", "Bob"),
                customer("o_carol", "Carol"),
            ],
            wecom: Some(WecomSeed {
                corpid: "wwsandbox".to_owned(),
                contacts_secret: Some("sandbox-tongxunlu-secret".to_owned()),
                agents: vec![
                    AgentSeed {
                        agentid: 1000002,
                        secret: "sandbox-ai-radar-secret".to_owned(),
                        name: "AI雷达".to_owned(),
                        visible_departments: vec![1],
                    },
                    AgentSeed {
                        agentid: 1000003,
                        secret: "sandbox-boss-radar-secret".to_owned(),
                        name: "Boss雷达".to_owned(),
                        visible_departments: vec![1],
                    },
                ],
                departments: vec![
                    dept(1, "公司", 0, 100),
                    dept(2, "销售部", 1, 90),
                    dept(3, "技术部", 1, 80),
                ],
                users: vec![
                    rep("rep01", "销售一", "13800000001", 1),
                    rep("rep02", "销售二", "13800000002", 2),
                    rep("rep03", "销售三", "13800000003", 1),
                ],
            }),
            component: Some(ComponentSeed::default()),
            authorizers: (1..=3)
                .map(AuthorizerSeed::mini_program)
                .chain((1..=3).map(|n| AuthorizerSeed {
                    appid: format!("wxsbxoa{n:010}"),
                    kind: AppKind::Mp,
                    nick_name: format!("沙盒公众号{n}"),
                    principal_name: format!("沙盒公司{n}"),
                    service_type: 2,
                    verify_type: 0,
                    func_ids: vec![1, 2, 3],
                    released_pages: Vec::new(),
                }))
                .collect(),
            templates: vec![TemplateSeed {
                template_id: 1,
                user_version: "1.0.1".into(),
                user_desc: "增加获取 ext 中的数据，登录时提交公司id".into(),
                create_time: 1_533_469_940,
                source_miniprogram_appid: "wxsbxtemplate0001".into(),
                source_miniprogram: "诸葛雷达".into(),
                developer: "sandbox".into(),
                pages: vec!["pages/index/index".into(), "pages/card/index".into()],
            }],
            categories: vec![CategorySeed {
                first_class: "工具".into(),
                first_id: 1,
                second_class: "效率".into(),
                second_id: 2,
            }],
            ..Self::default()
        }
    }
}
