//! WeChat integration: the HTTP client for WeCom and mini-program APIs ([`client`]) and the
//! offline sandbox that imitates them ([`sandbox`]).

pub mod client;
pub mod sandbox;

pub use client::{
    CodeSession, WechatClient, WechatError, WechatHosts, WecomDepartment, WecomIdentity, WecomUser,
};
pub use sandbox::SandboxConfig;
