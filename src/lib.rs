//! zhugeleida (诸葛雷达, "Zhuge Radar"): a real-time sales-radar server for sales teams
//! working inside WeChat. See `docs/architecture.md` for the map.

pub mod api;
pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod hub;
pub mod monitoring;
pub mod redis_keys;
pub mod serve;
pub mod service;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod web;
pub mod wechat;
