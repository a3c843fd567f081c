//! A full run: every std row of every source, linked from scratch (a model fitted on all of
//! them), and every library written whole.

use super::FullBecause;
use super::assign::{Anchored, link_rows};
use super::build::{Build, build};
use super::source::{Only, Read, read_source, sources};
use super::{FusionReport, Run};
use crate::schema::LAYOUT;
use std::collections::{BTreeSet, HashMap};
use yishu_meta::fusion::ReviewStatus;
use yishu_types::Error;

/// A full run: every std row of every source.
pub(super) async fn fuse_all(
    run: &Run<'_>,
    why: FullBecause,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<FusionReport, Error> {
    let mut report = FusionReport {
        run_id: run.run_id.to_string(),
        plan_version: run.plan_version,
        mode: "full".into(),
        full_because: why.message,
        full_code: why.code.into(),
        layout: LAYOUT,
        ..Default::default()
    };
    let srcs = sources(run.store, run.plan).await?;
    // 1. Read.
    let mut read = Read::default();
    let mut seen = BTreeSet::new();
    for (si, s) in srcs.iter().enumerate() {
        let n = read_source(run.lake, s, si, &mut read, Only::All, &mut seen).await?;
        progress(&format!(
            "read {} ({}, {}): {n} rows",
            s.resource.meta.name, s.map.resource, s.map.role
        ));
        report
            .rows
            .insert(format!("{} {}", s.map.resource, s.map.role), n);
    }
    report.batches = seen.into_iter().collect();
    // 2. Link, following every decision reviewers made.
    let decisions: HashMap<String, (ReviewStatus, String)> = run
        .store
        .review_decisions()
        .await?
        .into_iter()
        .map(|r| {
            (
                format!("{}|{}|{}", r.resource_code, r.ods_ref, r.role),
                (r.status, r.subject_key),
            )
        })
        .collect();
    let how = Anchored {
        anchors: Vec::new(),
        model: None,
        decisions,
    };
    let subject_of = link_rows(run, &srcs, &mut read, how, &mut report, progress).await?;
    // 3. Build and write every subject.
    let cx = Build::new(run, &srcs, &read, &subject_of, None);
    build(&cx, &mut report, progress).await?;
    Ok(report)
}
