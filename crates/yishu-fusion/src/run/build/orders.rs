//! Conflicts become work orders to the departments involved; orders whose conflicts are gone
//! close as verified.

use super::Build;
use super::golden::Conflicts;
use crate::key::SubjectKind;
use crate::plan::Plan;
use crate::run::FusionReport;
use serde_json::json;
use std::collections::HashSet;
use yishu_meta::workorder::Failure;
use yishu_types::Error;

/// Days a department has to answer a conflict work order.
const CONFLICT_SLA_DAYS: i64 = 10;

/// Work-order rule ids of fusion conflicts: the attribute's place in its kind's rules, in a
/// range per kind.
fn kind_base(kind: SubjectKind) -> i64 {
    match kind {
        SubjectKind::Person => 0,
        SubjectKind::Entity => 1000,
        SubjectKind::House => 2000,
    }
}

fn conflict_rule_id(plan: &Plan, kind: SubjectKind, attribute: &str) -> i64 {
    let n = plan
        .rules(kind)
        .iter()
        .position(|r| r.attribute == attribute)
        .unwrap_or(0);
    kind_base(kind) + n as i64 + 1
}

/// Opens (or updates) a work order per involved resource and attribute in conflict, and closes
/// the others.
pub(super) async fn conflict_orders(
    cx: &Build<'_>,
    conflicts: &Conflicts,
    report: &mut FusionReport,
) -> Result<(), Error> {
    let (store, plan, run_id) = (cx.run.store, cx.run.plan, cx.run.run_id);
    let mut opened = HashSet::new();
    for ((res_code, kind, attribute), (count, samples)) in conflicts {
        let Some(src) = cx.srcs.iter().find(|s| &s.map.resource == res_code) else {
            continue;
        };
        let rule_id = conflict_rule_id(plan, *kind, attribute);
        opened.insert((src.resource.id, rule_id));
        // An incremental run that found none of these conflicts itself leaves the order (and
        // its evidence) as the run that found them wrote it.
        if cx.scope.is_some() && samples.is_empty() {
            continue;
        }
        let title = format!(
            "{}「{}」与其他部门不一致（{count} 个{}）",
            src.resource.meta.name,
            attribute,
            kind.label_zh()
        );
        store
            .report_failure(&Failure {
                kind: "fusion",
                resource_id: src.resource.id,
                rule_id,
                org_id: src.resource.meta.provider_org_id,
                title: &title,
                batch_id: run_id,
                failed: *count as i64,
                evidence: json!({
                    "attribute": attribute,
                    "subject_kind": kind.as_str(),
                    "conflicts": count,
                    "samples": samples,
                    "run": run_id,
                }),
                sla_days: CONFLICT_SLA_DAYS,
            })
            .await?;
        report.work_orders += 1;
    }
    // Orders whose conflicts are gone close as verified.
    for s in cx.srcs {
        for kind in SubjectKind::ALL {
            for (n, _) in plan.rules(kind).iter().enumerate() {
                let rule_id = kind_base(kind) + n as i64 + 1;
                if !opened.contains(&(s.resource.id, rule_id)) {
                    store
                        .report_pass("fusion", s.resource.id, rule_id, run_id)
                        .await?;
                }
            }
        }
    }
    Ok(())
}
