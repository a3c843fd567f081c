//! What the server does that is not HTTP, shared by the API (`routes`) and the pages (`pages`):
//! both call down into here, never into each other.

pub mod access;
pub mod apps;
pub mod audit;
pub mod base;
pub mod batches;
pub mod catalog;
pub mod compare;
pub mod dcat;
pub mod matters;
pub mod notify;
pub mod open;
pub mod open_read;
pub mod opening;
pub mod orgs;
pub mod quality;
pub mod reports;
pub mod search;
pub mod service_ops;
pub mod session;
pub mod share;
pub mod society;
pub mod sources;
pub mod subscriptions;
pub mod users;
