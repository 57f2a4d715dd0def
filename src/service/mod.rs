//! Use cases shared by several API surfaces (the admin backend and the older qiyeweixin
//! forms act on the same rows). Each enforces who may do what and keeps multi-row writes
//! in one transaction; handlers only parse input and render output.

pub mod article;
pub mod batch;
pub mod card;
pub mod card_cache;
pub mod chat;
pub mod company;
pub mod content_cache;
pub mod customer;
pub mod gzh;
pub mod login;
pub mod org;
pub mod platform;
pub mod plugin;
pub mod product;
pub mod radar;
pub mod showcase;
pub mod signup;
pub mod staff;
pub mod tongxunlu;
pub mod upload;
pub mod website;
