//! Business rules and value types, free of HTTP and SQL.

pub mod action;
pub mod ai;
pub mod article;
pub mod billing;
pub mod content;
pub mod image;
pub mod parse;
pub mod password;
pub mod qr;
pub mod role;
pub mod secret;
pub mod time;
