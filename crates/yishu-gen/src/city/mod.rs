//! The synthetic city beyond its files: its department table (what each department hands over
//! and the catalog entry it feeds), setting it up in a store, loading it through the pipeline,
//! its quality rules and fusion plan, measuring fusion against its truth, and the two-source
//! linkage task the linking benchmark and tests use.

pub mod accuracy;
pub mod datasets;
pub mod linkage;
pub mod load;
pub mod open;
pub mod plan;
pub mod rules;
pub mod services;
pub mod setup;
pub mod share;
pub mod subscribe;
