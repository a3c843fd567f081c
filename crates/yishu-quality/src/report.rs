//! A department's quality report for a period (R15, 质量报告): its score and how it moved, the
//! dataset's profile totals, each resource's score, each rule's results, and the work orders of
//! the period. The console shows it as a page and hands it out as XLSX.

use crate::profile::{DatasetProfile, TableProfile};
use crate::run::BatchQuality;
use crate::score;
use serde::Serialize;
use std::collections::BTreeMap;
use yishu_meta::Store;
use yishu_meta::quality::StoredScore;
use yishu_meta::workorder::WorkOrder;
use yishu_types::{Error, OrgId};

/// Days in ms.
const DAY_MS: i64 = 86_400_000;

/// Days are Beijing days (UTC+8).
pub fn beijing() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("+8h is a valid offset")
}

/// The start (ms) of a Beijing day.
pub fn day_start(d: chrono::NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_local_timezone(beijing())
        .single()
        .map_or(0, |t| t.timestamp_millis())
}

/// One department's quality over `[from, to)`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DepartmentReport {
    pub org_id: OrgId,
    pub org_name: String,
    /// Start of the period (ms, inclusive).
    pub from: i64,
    /// End of the period (ms, exclusive).
    pub to: i64,
    pub generated_at: i64,
    /// The department's score at the end of the period: each resource's newest score in the
    /// period, weighted by its records. None when nothing was checked.
    pub score: Option<f64>,
    /// The same over the period of equal length before this one.
    pub previous_score: Option<f64>,
    /// Per GB/T 36344 dimension, weighted the same way.
    pub dimensions: BTreeMap<String, f64>,
    /// Batches checked in the period, and their records.
    pub batches: u64,
    pub records: u64,
    /// Totals over each resource's newest profile in the period (数据集探查).
    pub dataset: DatasetProfile,
    /// The department's daily mean score over the period.
    pub trend: Vec<(String, f64)>,
    pub resources: Vec<ResourceLine>,
    pub rules: Vec<RuleLine>,
    pub orders: OrderCounts,
    /// Work orders open at some time in the period, newest first.
    pub order_list: Vec<WorkOrder>,
}

/// One resource in a report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ResourceLine {
    pub resource_id: i64,
    pub code: String,
    pub name: String,
    pub batches: u64,
    pub records: u64,
    /// Newest measured score in the period, and the first (to see the move); `None` (未评估) when
    /// nothing measured its batches.
    pub score: Option<f64>,
    pub first_score: Option<f64>,
    pub violations: u64,
}

/// One rule's results in a report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleLine {
    pub rule_id: i64,
    pub name: String,
    pub resource: String,
    pub dimension: String,
    /// Batches checked, failing, and where the rule could not run.
    pub runs: u64,
    pub failed_runs: u64,
    pub broken_runs: u64,
    /// Violating records over all runs.
    pub violations: u64,
    /// Pass rate over all checked records (0–1).
    pub pass_rate: f64,
}

/// Work orders in a period.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct OrderCounts {
    pub opened: u64,
    pub closed: u64,
    /// Not closed at the end of the period.
    pub open_at_end: u64,
    /// Of those, past their due date at the end of the period.
    pub overdue_at_end: u64,
}

/// The department's score from each resource's newest score among `scores` (oldest first), and
/// per dimension. Resources whose newest batch nothing measured are left out; `None` (未评估) when
/// no resource is left.
pub fn department_score<'a>(
    scores: impl IntoIterator<Item = &'a StoredScore>,
) -> (Option<f64>, BTreeMap<String, f64>) {
    let mut newest: BTreeMap<i64, &StoredScore> = BTreeMap::new();
    for s in scores {
        newest.insert(s.resource_id, s);
    }
    let parts: Vec<(f64, u64)> = newest
        .values()
        .filter_map(|s| Some((s.total?, s.records.max(0) as u64)))
        .collect();
    let mut dims: BTreeMap<String, Vec<(f64, u64)>> = BTreeMap::new();
    for s in newest.values() {
        if let Some(m) = s.dimensions.as_object() {
            for (d, v) in m {
                if let Some(v) = v.as_f64() {
                    dims.entry(d.clone())
                        .or_default()
                        .push((v, s.records.max(0) as u64));
                }
            }
        }
    }
    (
        score::weighted_by_records(&parts),
        dims.into_iter()
            .filter_map(|(d, p)| score::weighted_by_records(&p).map(|v| (d, v)))
            .collect(),
    )
}

/// Builds the report of `org` over `[from, to)`.
pub async fn department_report(
    store: &Store,
    org: OrgId,
    from: i64,
    to: i64,
) -> Result<DepartmentReport, Error> {
    let org_name = store.get_org(org).await?.name;
    let len = (to - from).max(DAY_MS);
    let all = store.scores(None, Some(org), from - len).await?;
    let (before, now): (Vec<&StoredScore>, Vec<&StoredScore>) = all
        .iter()
        .filter(|s| s.created_at < to)
        .partition(|s| s.created_at < from);
    let (score, dimensions) = department_score(now.iter().copied());
    let (previous_score, _) = department_score(before.iter().copied());
    let mut days: BTreeMap<String, (f64, u64)> = BTreeMap::new();
    for s in &now {
        let Some(total) = s.total else { continue };
        let day = chrono::DateTime::from_timestamp_millis(s.created_at)
            .map(|t| t.with_timezone(&beijing()).format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let e = days.entry(day).or_default();
        e.0 += total;
        e.1 += 1;
    }
    let trend = days
        .into_iter()
        .map(|(d, (sum, n))| (d, (sum / n as f64 * 100.0).round() / 100.0))
        .collect();

    let results = store.org_results(org, from, to).await?;
    let mut resource_ids: Vec<i64> = now.iter().map(|s| s.resource_id).collect();
    resource_ids.extend(results.iter().map(|r| r.resource_id));
    resource_ids.sort_unstable();
    resource_ids.dedup();
    let mut resources = Vec::new();
    let mut rules = Vec::new();
    let mut profiles: Vec<TableProfile> = Vec::new();
    for id in resource_ids {
        let r = store.get_resource(id).await?;
        let mine: Vec<&&StoredScore> = now.iter().filter(|s| s.resource_id == id).collect();
        let mine_results: Vec<_> = results.iter().filter(|x| x.resource_id == id).collect();
        resources.push(ResourceLine {
            resource_id: id,
            code: r.code.clone(),
            name: r.meta.name.clone(),
            batches: mine.len() as u64,
            records: mine.iter().map(|s| s.records.max(0) as u64).sum(),
            score: mine.iter().rev().find_map(|s| s.total),
            first_score: mine.iter().find_map(|s| s.total),
            violations: mine_results.iter().map(|x| x.failed.max(0) as u64).sum(),
        });
        // The newest profile in the period stands for the table.
        if let Some(p) = store
            .profiles(id, 1_000)
            .await?
            .into_iter()
            .find(|p| p.created_at >= from && p.created_at < to)
            && let Ok(q) = serde_json::from_value::<BatchQuality>(p.body)
        {
            profiles.push(q.profile);
        }
        let views = store.rules_of(id).await?;
        let mut by_rule: BTreeMap<i64, Vec<_>> = BTreeMap::new();
        for x in &mine_results {
            by_rule.entry(x.rule_id).or_default().push(*x);
        }
        for (rule_id, runs) in by_rule {
            let view = views.iter().find(|v| v.rule.id == rule_id);
            let dimension = match runs.last() {
                Some(x) => store
                    .rule_version(rule_id, x.rule_version)
                    .await
                    .map(|v| v.dimension)
                    .unwrap_or_default(),
                None => String::new(),
            };
            let checked: i64 = runs.iter().map(|x| x.checked.max(0)).sum();
            let failed: i64 = runs.iter().map(|x| x.failed.max(0)).sum();
            rules.push(RuleLine {
                rule_id,
                name: view.map_or_else(
                    || {
                        if rule_id == crate::run::CONFORMANCE_RULE {
                            "数据元符合性".to_string()
                        } else {
                            format!("#{rule_id}")
                        }
                    },
                    |v| v.rule.name.clone(),
                ),
                resource: r.meta.name.clone(),
                dimension,
                runs: runs.len() as u64,
                failed_runs: runs.iter().filter(|x| x.status == "failed").count() as u64,
                broken_runs: runs.iter().filter(|x| x.status == "broken").count() as u64,
                violations: failed as u64,
                pass_rate: if checked > 0 {
                    1.0 - failed.min(checked) as f64 / checked as f64
                } else {
                    1.0
                },
            });
        }
    }
    // Worst rules first.
    rules.sort_by(|a, b| {
        a.pass_rate
            .total_cmp(&b.pass_rate)
            .then(b.violations.cmp(&a.violations))
    });

    let mut orders = OrderCounts::default();
    let mut order_list = Vec::new();
    for o in store.work_orders(Some(org), false).await? {
        let closed_before = o.closed_at.is_some_and(|c| c < from);
        if o.opened_at >= to || closed_before {
            continue;
        }
        if o.opened_at >= from {
            orders.opened += 1;
        }
        match o.closed_at {
            Some(c) if c < to => orders.closed += 1,
            _ => {
                orders.open_at_end += 1;
                if o.due_at < to.min(yishu_meta::now_ms()) {
                    orders.overdue_at_end += 1;
                }
            }
        }
        order_list.push(o);
    }
    Ok(DepartmentReport {
        org_id: org,
        org_name,
        from,
        to,
        generated_at: yishu_meta::now_ms(),
        score,
        previous_score,
        dimensions,
        batches: now.len() as u64,
        records: now.iter().map(|s| s.records.max(0) as u64).sum(),
        dataset: DatasetProfile::of(&profiles),
        trend,
        resources,
        rules,
        orders,
        order_list,
    })
}
