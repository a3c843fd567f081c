//! One module per command of the `yishu` binary: its arguments and what it does, in terms of the
//! platform's crates.

pub mod audit;
pub mod backup;
pub mod bench;
pub mod catalog;
pub mod demo;
pub mod fusion;
pub mod generate;
pub mod ingest;
pub mod org;
pub mod quality;
pub mod serve;
pub mod service;
pub mod share;
pub mod user;
pub mod watermark;
