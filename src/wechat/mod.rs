//! WeChat integration, one module per WeChat product on both sides:
//! the client core ([`client`]: hosts, errors, caches, request helpers), WeCom
//! ([`qyapi`]), mini program ([`wxa`]), the open-platform third-party platform
//! ([`component`], with its message crypto in [`crypt`]), the official account ([`mp`]: web
//! OAuth, `sns/userinfo`, the JS-SDK ticket); and the offline sandbox that imitates them
//! ([`sandbox`], split the same way).

pub mod client;
pub mod component;
pub mod crypt;
pub mod environment;
pub mod mp;
pub mod qyapi;
pub mod sandbox;
pub mod wxa;

pub use client::{WechatClient, WechatError, WechatHosts};
pub use qyapi::{WecomDepartment, WecomIdentity, WecomUser};
pub use sandbox::SandboxConfig;
pub use wxa::CodeSession;
