//! The WeChat third-party platform (第三方平台) use cases: the platform's own credentials and
//! the tokens of the accounts companies authorize ([`token`]), the receiver of WeChat's pushes
//! ([`receiver`]). See docs/wechat-platform.md.

pub mod authorize;
pub mod receiver;
pub mod release;
pub mod token;
pub mod wxacode;
