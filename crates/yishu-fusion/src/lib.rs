//! Fusion (融合, R18–R24): linking the std records that describe the same person, legal entity or
//! house, and building the base libraries' golden records from them. This first part holds the
//! subjects and their keys, the comparisons and model linking is made of, the plan, and the run
//! that writes the base libraries.

pub mod address;
pub mod batch;
pub mod compare;
pub mod fellegi_sunter;
pub mod key;
pub mod library;
pub mod link;
pub mod plan;
pub mod run;
pub mod schema;
pub mod survive;
mod tables;

pub use key::{SubjectKind, normalize_key};
