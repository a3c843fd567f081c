//! The metadata store: organisations, users and roles, API keys, login sessions and the audit
//! chain. One implementation over sqlx's `Any` driver serves SQLite (default, WAL) and PostgreSQL
//! with the same SQL; each backend has its own migrations for the few DDL differences.

pub mod app;
pub mod attachment;
pub mod audit;
pub mod auth;
pub mod batch;
pub mod catalog;
pub mod download;
pub mod feed;
pub mod fusion;
mod lane;
pub mod matter;
pub mod open;
pub mod org;
pub mod proposal;
pub mod quality;
pub mod schedule;
pub mod service;
pub mod service_stats;
pub mod share;
pub mod snapshot;
pub mod society;
pub mod source;
pub mod stats;
mod store;
pub mod subscription;
pub mod testing;
pub mod user;
pub mod watch;
pub mod workorder;

pub use audit::{AuditEntry, AuditFilter, AuditRecord, Broken, ChainReport};
pub use auth::{ApiKey, Credential, NewApiKey, Principal};
pub use org::{NewOrg, Org, OrgKind, OrgLevel};
pub use stats::{Counter, ResourceStats};
pub use store::{Backend, Clock, Page, Store, now_ms, redact as store_redacted_url};
pub use user::{NewUser, User};
