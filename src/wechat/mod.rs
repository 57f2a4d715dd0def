//! TEMPORARY stub; replaced by the real client and sandbox.
use serde::{Deserialize, Serialize};
#[derive(Clone, Debug)]
pub struct WechatHosts {
    pub api: String,
    pub qyapi: String,
    pub open: String,
    pub mp: String,
}
impl WechatHosts {
    pub fn production() -> Self {
        Self::sandbox("https://api.weixin.qq.com")
    }
    pub fn sandbox(base: &str) -> Self {
        WechatHosts {
            api: base.into(),
            qyapi: format!("{base}/qyapi"),
            open: format!("{base}/open"),
            mp: format!("{base}/mp"),
        }
    }
}
#[derive(Debug, thiserror::Error)]
pub enum WechatError {
    #[error("{errcode} : {errmsg}")]
    Api { errcode: i64, errmsg: String },
    #[error("wechat transport: {0:#}")]
    Transport(anyhow::Error),
}
#[derive(Clone)]
pub struct WechatClient;
pub struct WecomIdentity {
    pub userid: Option<String>,
    pub openid: Option<String>,
}
pub struct WecomUser {
    pub userid: String,
    pub name: String,
    pub department: Vec<i64>,
    pub position: Option<String>,
    pub mobile: Option<String>,
    pub gender: Option<i32>,
    pub email: Option<String>,
    pub avatar: Option<String>,
}
pub struct CodeSession {
    pub openid: String,
    pub session_key: String,
    pub unionid: Option<String>,
}
fn e() -> WechatError {
    WechatError::Transport(anyhow::anyhow!("stub"))
}
impl WechatClient {
    pub fn new(_h: WechatHosts, _c: reqwest::Client) -> Self {
        WechatClient
    }
    pub async fn wecom_check_credentials(&self, _a: &str, _b: &str) -> Result<(), WechatError> {
        Err(e())
    }
    pub async fn wecom_code_to_user(
        &self,
        _a: &str,
        _b: &str,
        _c: &str,
    ) -> Result<WecomIdentity, WechatError> {
        Err(e())
    }
    pub async fn wecom_user_get(
        &self,
        _a: &str,
        _b: &str,
        _c: &str,
    ) -> Result<WecomUser, WechatError> {
        Err(e())
    }
    pub async fn jscode2session(
        &self,
        _a: &str,
        _b: &str,
        _c: &str,
    ) -> Result<CodeSession, WechatError> {
        Err(e())
    }
}
pub mod sandbox {
    #[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
    pub struct SandboxConfig {}
    impl SandboxConfig {
        pub fn demo() -> Self {
            SandboxConfig {}
        }
        pub fn from_file(_p: &std::path::Path) -> anyhow::Result<Self> {
            Ok(SandboxConfig {})
        }
    }
    pub fn router(_c: SandboxConfig) -> axum::Router {
        axum::Router::new()
    }
    pub async fn serve(l: tokio::net::TcpListener, c: SandboxConfig) -> std::io::Result<()> {
        axum::serve(l, router(c)).await
    }
}
#[allow(unused)]
#[derive(Serialize, Deserialize)]
struct _X;
