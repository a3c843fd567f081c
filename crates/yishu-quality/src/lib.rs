//! Data quality (数据质量, R12–R17): profiling, rules and their checks, and the violations they
//! find. The metadata (rules, reviews, results, work orders) lives in `yishu-meta`; this crate
//! looks at rows.

pub mod clean;
pub mod cleaning;
pub mod drift;
pub mod eval;
pub mod judge;
pub mod pattern;
pub mod profile;
pub mod reference;
pub mod report;
pub mod rule;
pub mod run;
pub mod scan;
pub mod score;
pub mod silence;
pub mod standard;
pub mod suggest;
pub mod text;
pub mod violations;

pub use eval::{Context, Violation};
pub use profile::{DatasetProfile, FieldProfile, TableProfile};
pub use rule::{CrossCheck, Dimension, Level, PlannedRule, RuleDef, Validator};
pub use scan::{RuleOutcome, Scan, ScanResult, scan};
