//! A fusion run: reads every std resource the plan names, links its rows to subjects (by key, by
//! the model, by a person's earlier decision), builds each subject's golden record under the
//! survivorship rules, and writes the base libraries — `base.population`, `base.entities`,
//! `base.houses` (current versions; superseded versions go to `<table>_history` with their
//! valid-from and valid-to), `base.subject_records` (which rows make each subject),
//! `base.events` (the timeline) and `base.relations` (the graph). Records in doubt go to the
//! review queue; a disagreement with an authoritative value opens a work order to the
//! departments involved.
//!
//! The stages, each calling only the ones below it: `full` and `incremental` drive a run;
//! `assign` links rows to subjects; `build` writes everything after linking (the graph, golden
//! records, tags and conflicts, their work orders, the records of each subject, the timeline
//! and the linking index) over one context; `source` reads the plan's std rows.

mod assign;
mod build;
mod full;
mod incremental;
mod source;

use crate::plan::Plan;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use yishu_lake::Lake;
use yishu_meta::Store;
use yishu_types::{Error, ErrorCode};

pub(crate) use incremental::{anchors, last_run};
pub use source::known_resources;

/// What a run did, for the CLI, the console and the run record.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FusionReport {
    pub run_id: String,
    pub plan_version: i64,
    /// `full` (every std row read again) or `incremental` (only batches no run had read).
    pub mode: String,
    /// Why a run was full, in words and as a code: first_run, asked, plan_changed, no_index,
    /// decisions, corrections.
    pub full_because: String,
    pub full_code: String,
    /// Every std batch the libraries have read, this run included (what the next incremental
    /// run skips).
    pub batches: Vec<String>,
    /// Batches this run read for the first time (incremental runs).
    pub new_batches: u64,
    /// Subjects an incremental run rewrote (those its new rows touched, and their spouses).
    pub touched: u64,
    /// The linking model the last full run fitted on the whole library; incremental runs link
    /// with it.
    pub model: Option<crate::fellegi_sunter::Model>,
    /// Rows read per resource code and role.
    pub rows: BTreeMap<String, u64>,
    /// Subjects per kind in the libraries.
    pub subjects: BTreeMap<String, u64>,
    pub linked_by_key: u64,
    pub linked_by_model: u64,
    pub linked_by_decision: u64,
    /// Person records that formed a subject of their own without a valid number.
    pub unkeyed_subjects: u64,
    /// Entity and house rows whose key is missing or invalid (not in the libraries).
    pub unlinked: u64,
    pub review_queued: u64,
    pub review_new: u64,
    pub collisions: u64,
    pub conflicts: u64,
    pub work_orders: u64,
    pub events: u64,
    pub relations: u64,
    /// Tags given (a person may have several).
    pub tagged: u64,
    /// Subjects whose golden record changed (or appeared) in this run.
    pub changed: u64,
    /// Conflicts in the libraries afterwards, per subject kind: what an incremental run counts
    /// on from (it reads only the subjects it touches).
    pub conflicts_of: BTreeMap<String, ConflictCounts>,
    /// The layout of the base tables the run wrote ([`crate::schema::LAYOUT`]); an incremental
    /// run needs the current one.
    pub layout: u32,
    /// The libraries' indicators after the run (tag counts by division, events by month): worked
    /// out once per run, so pages and the API show them without reading the tables. `None` in
    /// records of runs made before they were kept.
    pub indicators: Option<Vec<crate::library::Indicator>>,
    pub seconds: f64,
}

/// Conflicts in one library: golden values in conflict, and per involved resource and
/// attribute.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ConflictCounts {
    pub values: u64,
    pub by: BTreeMap<String, BTreeMap<String, u64>>,
}

impl ConflictCounts {
    /// Adds another library part's counts.
    pub(crate) fn add(&mut self, other: &ConflictCounts) {
        self.values += other.values;
        for (res, by) in &other.by {
            let mine = self.by.entry(res.clone()).or_default();
            for (attribute, n) in by {
                *mine.entry(attribute.clone()).or_default() += n;
            }
        }
    }

    /// Adds (or with `sign` -1 takes away) the conflicts a row's `_conflicts` cell lists.
    pub(crate) fn count(&mut self, cell: &str, sign: i64) {
        let add = |n: &mut u64| *n = n.saturating_add_signed(sign);
        for (attribute, involved) in build::conflict_entries(cell) {
            add(&mut self.values);
            for res in involved {
                let by_res = self.by.entry(res.to_string()).or_default();
                add(by_res.entry(attribute.to_string()).or_default());
            }
        }
    }
}

/// Whether a run may read only what is new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Only the std batches the last run did not read, when the last run allows it (same plan,
    /// no review decision or accepted correction since); otherwise everything.
    Auto,
    /// Everything again.
    Full,
}

/// Runs fusion under the plan in force; `progress` hears each step.
pub async fn fuse(
    store: &Store,
    lake: &Lake,
    mode: RunMode,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<FusionReport, Error> {
    let started = std::time::Instant::now();
    let saved = store.fusion_plan().await?.ok_or_else(|| {
        Error::new(
            ErrorCode::FusionPlanInvalid,
            "no fusion plan has been saved yet (yishu fusion plan --file …)",
        )
    })?;
    let plan: Plan = serde_json::from_value(saved.body.clone()).map_err(|e| {
        Error::new(
            ErrorCode::FusionPlanInvalid,
            format!("the saved plan cannot be read: {e}"),
        )
    })?;
    let last = match mode {
        RunMode::Full => Err(FullBecause::new("asked", "a full run was asked for")),
        RunMode::Auto => incremental::last_run(store, lake, saved.version).await?,
    };
    let run_id = uuid::Uuid::now_v7().to_string();
    store.start_fusion_run(&run_id, saved.version).await?;
    let run = Run {
        store,
        lake,
        plan: &plan,
        run_id: &run_id,
        plan_version: saved.version,
    };
    let outcome = match last {
        Ok(last) => incremental::fuse_new(&run, last, progress).await,
        Err(why) => {
            progress(&format!("full run: {}", why.message));
            full::fuse_all(&run, why, progress).await
        }
    };
    match outcome {
        Ok(mut report) => {
            report.indicators = Some(crate::library::indicator_table(lake).await?);
            report.seconds = started.elapsed().as_secs_f64();
            store
                .finish_fusion_run(
                    &run_id,
                    true,
                    &serde_json::to_value(&report).unwrap_or_default(),
                )
                .await?;
            Ok(report)
        }
        Err(e) => {
            store
                .finish_fusion_run(&run_id, false, &json!({"error": e.message}))
                .await?;
            Err(e)
        }
    }
}

/// Why a run reads everything: a stable code (for pages in any language) and words.
pub(crate) struct FullBecause {
    pub code: &'static str,
    pub message: String,
}

impl FullBecause {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        FullBecause {
            code,
            message: message.into(),
        }
    }
}

/// What every stage of a run needs to know.
pub(crate) struct Run<'a> {
    pub store: &'a Store,
    pub lake: &'a Lake,
    pub plan: &'a Plan,
    pub run_id: &'a str,
    pub plan_version: i64,
}
