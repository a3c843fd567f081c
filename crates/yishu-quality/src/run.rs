//! The quality job for one batch: profile it, check its items against their data elements and its
//! resource's active rules, store the profile, the per-rule results (naming each rule's version)
//! and the violations. A rule that cannot run is recorded as broken with the reason; the batch
//! itself is never failed by its checks. Cleaning into std ([`crate::cleaning`]) is a job of its
//! own that the check schedules after it.

use crate::eval::Context;
use crate::eval::Violation;
use crate::judge;
use crate::profile::TableProfile;
use crate::reference::reference_keys;
use crate::rule::{Dimension, Level};
use crate::rule::{PlannedRule, RuleDef};
use crate::scan::{RuleOutcome, Scan, scan};
use crate::score::{self, Scored};
use crate::standard::{self, Aspect, ItemConformance};
use serde::{Deserialize, Serialize};
use yishu_lake::Lake;
use yishu_meta::Store;
use yishu_meta::catalog::Resource;
use yishu_meta::quality::{Rule, RulePurpose, RuleResult, RuleVersion, StoredScore};
use yishu_meta::workorder::Failure;
use yishu_types::{Error, ErrorCode};

/// What a batch's check found, as stored in its profile record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchQuality {
    pub profile: TableProfile,
    pub conformance: Vec<ItemConformance>,
    pub violations: u64,
    /// What cleaning into std did with the batch.
    #[serde(default)]
    pub std: Option<crate::clean::CleanReport>,
    /// How the batch's shape differed from the catalog and the established shape.
    #[serde(default)]
    pub drift: crate::drift::Drift,
}

/// Rule id recorded with violations of data-element conformance (not a stored rule).
pub const CONFORMANCE_RULE: i64 = 0;

/// Checks one batch and stores everything it found, then runs the batch's cleaning into std
/// ([`crate::cleaning`]), a job of its own scheduled once the check's results are stored.
pub async fn check_batch(
    store: &Store,
    lake: &Lake,
    batch_id: &str,
) -> Result<BatchQuality, Error> {
    let (mut quality, resource_id) =
        retry_conflicts(batch_id, "check", || check(store, lake, batch_id)).await?;
    quality.std = Some(crate::cleaning::clean_batch(store, lake, batch_id).await?);
    let body = serde_json::to_value(&quality)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("profile: {e}")))?;
    store
        .save_profile(batch_id, resource_id, quality.profile.records as i64, &body)
        .await?;
    Ok(quality)
}

/// Runs `job` again when its commit raced another writer's: two checks of one resource at once
/// (the scheduler and a person, or two nodes) race for the same tables, and the one that commits
/// second runs again. The jobs here are safe to repeat: they replace the batch's rows and results.
pub(crate) async fn retry_conflicts<T, Fut>(
    batch_id: &str,
    what: &str,
    mut job: impl FnMut() -> Fut,
) -> Result<T, Error>
where
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let mut attempt = 0;
    loop {
        match job().await {
            Err(e) if e.code == ErrorCode::EditConflict && attempt < 8 => {
                attempt += 1;
                tracing::info!(
                    batch_id,
                    attempt,
                    "{what} raced another writer; again: {}",
                    e.message
                );
                // Spread out, so writers that collided do not collide again in step.
                let jitter = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| u64::from(d.subsec_nanos() % 100))
                    .unwrap_or_default();
                let wait = 50 * attempt + jitter;
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            done => return done,
        }
    }
}

/// The check of one batch, stage by stage: the rules in effect, one scan, the rules judged on
/// the batch as a whole, conformance per item, then results, scores, work orders and drift.
/// Returns what it found and the batch's resource.
async fn check(store: &Store, lake: &Lake, batch_id: &str) -> Result<(BatchQuality, i64), Error> {
    let batch = store.get_batch(batch_id).await?;
    let resource = store.get_resource(batch.resource_id).await?;
    let table = resource.table();
    let fields: Vec<String> = resource.item_names();
    let mut plan = RulePlan::of(store, lake, &resource).await?;
    let found = scan(Scan {
        lake,
        table: &table,
        batch_id: Some(batch_id),
        fields: &fields,
        rules: &plan.planned,
        context: std::mem::take(&mut plan.context),
        threads: 0,
    })
    .await?;
    let mut outcomes = found.outcomes;
    let history = History::of(store, &resource, batch_id).await?;
    plan.judge_whole(&mut outcomes, &found.profile, &history, &resource, &batch);
    let conformance = plan.conformance(&outcomes, found.profile.records);
    let written =
        crate::violations::write(lake, &table, batch_id, &plan.planned, &found.violations).await?;
    let results = plan.results(batch_id, resource.id, &outcomes);
    store.save_results(batch_id, &results).await?;
    let outcome = Outcome {
        batch_id,
        records: found.profile.records,
        active: &plan.active,
        results: &results,
        violations: &found.violations,
        planned: &plan.planned,
        conformance: &conformance,
    };
    score(store, &resource, &outcome).await?;
    work_orders(store, &resource, &outcome).await?;
    let drift = crate::drift::find(&batch.drift, &found.profile, history.baseline());
    crate::drift::report(store, &resource, batch_id, &drift).await?;
    crate::silence::delivered(store, resource.meta.update_cycle, &batch).await?;
    let quality = BatchQuality {
        profile: found.profile,
        conformance,
        violations: written,
        std: None,
        drift,
    };
    Ok((quality, resource.id))
}

/// What a check runs: the resource's stored rules in effect (those whose definition cannot be
/// read, as broken), then the conformance checks of its items' data elements, with what the
/// rules read from code tables and other resources.
struct RulePlan {
    active: Vec<(Rule, RuleVersion)>,
    planned: Vec<PlannedRule>,
    /// The stored rules are `planned[..rules_end]`; conformance checks follow.
    rules_end: usize,
    broken_defs: Vec<(i64, i64, String)>,
    /// Per conformance check: item, data element, its version, the aspect checked.
    aspects: Vec<(String, String, i64, Aspect)>,
    context: Context,
}

impl RulePlan {
    async fn of(store: &Store, lake: &Lake, resource: &Resource) -> Result<Self, Error> {
        let mut context = Context::default();
        for t in store.code_tables().await? {
            context.code_tables.insert(
                t.id.clone(),
                t.entries.into_iter().map(|e| e.code).collect(),
            );
        }
        let mut planned = Vec::new();
        let mut broken_defs = Vec::new();
        let active = store.active_rules(resource.id, RulePurpose::Check).await?;
        for (rule, v) in &active {
            match serde_json::from_value::<RuleDef>(v.definition.clone()) {
                Ok(def) => planned.push(PlannedRule {
                    id: rule.id,
                    version: v.version,
                    def,
                }),
                Err(e) => broken_defs.push((rule.id, v.version, format!("定义无法读取：{e}"))),
            }
        }
        let rules_end = planned.len();
        let mut aspects = Vec::new();
        for item in &resource.meta.items {
            let Some(id) = item
                .data_element
                .as_deref()
                .filter(|d| !d.trim().is_empty())
            else {
                continue;
            };
            let Ok(de) = store.data_element(id, None).await else {
                continue;
            };
            for c in standard::checks(item.name.trim(), &de) {
                aspects.push((c.item.clone(), c.element.clone(), c.version, c.aspect));
                planned.push(PlannedRule {
                    id: CONFORMANCE_RULE,
                    version: c.version,
                    def: c.def,
                });
            }
        }
        for (i, r) in planned.iter().enumerate() {
            if let RuleDef::Referential {
                resource: code,
                item,
                ..
            } = &r.def
            {
                match reference_keys(store, lake, code, item).await {
                    Ok(keys) => {
                        context.references.insert(i, keys);
                    }
                    Err(e) => tracing::warn!(rule = r.id, "reference not readable: {e}"),
                }
            }
        }
        Ok(RulePlan {
            active,
            planned,
            rules_end,
            broken_defs,
            aspects,
            context,
        })
    }

    /// Rules judged on the batch as a whole: volatility against the previous profile,
    /// timeliness against the previous batch.
    fn judge_whole(
        &self,
        outcomes: &mut [RuleOutcome],
        profile: &TableProfile,
        history: &History,
        resource: &Resource,
        batch: &yishu_meta::batch::Batch,
    ) {
        for (i, r) in self.planned.iter().enumerate().take(self.rules_end) {
            match &r.def {
                RuleDef::Volatility { column, threshold } => {
                    outcomes[i] = judge::volatility(
                        column.as_deref(),
                        *threshold,
                        profile,
                        history.previous_profile(),
                    )
                }
                RuleDef::Timeliness { max_days } => {
                    outcomes[i] =
                        timeliness(resource, *max_days, history.previous(), batch.started_at)
                }
                _ => {}
            }
        }
    }

    /// Conformance per item: what failed of each aspect of its data element.
    fn conformance(&self, outcomes: &[RuleOutcome], records: u64) -> Vec<ItemConformance> {
        let mut conformance: Vec<ItemConformance> = Vec::new();
        for (k, (item, element, version, aspect)) in self.aspects.iter().enumerate() {
            let o = &outcomes[self.rules_end + k];
            let c = match conformance.iter_mut().find(|c| &c.item == item) {
                Some(c) => c,
                None => {
                    conformance.push(ItemConformance {
                        item: item.clone(),
                        element: element.clone(),
                        version: *version,
                        checked: records,
                        ..Default::default()
                    });
                    conformance.last_mut().expect("just pushed")
                }
            };
            match aspect {
                Aspect::Type => c.type_failed += o.failed,
                Aspect::Length => c.length_failed += o.failed,
                Aspect::Domain => c.domain_failed += o.failed,
            }
            if let Some(b) = &o.broken {
                c.broken.push(b.clone());
            }
        }
        conformance
    }

    /// The stored rules' results (naming each rule's version), broken definitions included.
    fn results(
        &self,
        batch_id: &str,
        resource_id: i64,
        outcomes: &[RuleOutcome],
    ) -> Vec<RuleResult> {
        let now = yishu_meta::now_ms();
        let mut results: Vec<RuleResult> = self.planned[..self.rules_end]
            .iter()
            .zip(outcomes)
            .map(|(r, o)| result(batch_id, resource_id, r.id, r.version, o, now))
            .collect();
        for (id, version, why) in &self.broken_defs {
            let o = RuleOutcome {
                broken: Some(why.clone()),
                ..Default::default()
            };
            results.push(result(batch_id, resource_id, *id, *version, &o, now));
        }
        results
    }
}

/// The resource's recent checks before this batch, newest first, with what they found.
struct History {
    recent: Vec<(yishu_meta::quality::StoredProfile, Option<BatchQuality>)>,
}

impl History {
    async fn of(store: &Store, resource: &Resource, batch_id: &str) -> Result<Self, Error> {
        let recent = store
            .profiles(resource.id, 5)
            .await?
            .into_iter()
            .filter(|p| p.batch_id != batch_id)
            .map(|p| {
                let q = serde_json::from_value::<BatchQuality>(p.body.clone()).ok();
                (p, q)
            })
            .collect();
        Ok(History { recent })
    }

    fn previous(&self) -> Option<&yishu_meta::quality::StoredProfile> {
        self.recent.first().map(|(p, _)| p)
    }

    fn previous_profile(&self) -> Option<&TableProfile> {
        self.recent
            .first()
            .and_then(|(_, q)| q.as_ref())
            .map(|q| &q.profile)
    }

    /// The established shape drift is judged against: the newest batch whose column kinds did
    /// not change, so a batch back in shape after a drifting one is not drift again.
    fn baseline(&self) -> Option<&TableProfile> {
        self.recent
            .iter()
            .filter_map(|(_, q)| q.as_ref())
            .find(|q| q.drift.retyped.is_empty())
            .map(|q| &q.profile)
    }
}

/// What a check found, for the steps after it (scores, work orders).
struct Outcome<'a> {
    batch_id: &'a str,
    records: u64,
    active: &'a [(Rule, RuleVersion)],
    results: &'a [RuleResult],
    violations: &'a [Violation],
    planned: &'a [PlannedRule],
    conformance: &'a [ItemConformance],
}

/// Scores the batch on the GB/T 36344 dimensions: the active rules by their dimension and
/// importance, and data-element conformance under 规范性.
async fn score(store: &Store, resource: &Resource, o: &Outcome<'_>) -> Result<(), Error> {
    let mut scored = Vec::new();
    for r in o.results.iter().filter(|r| r.status != "broken") {
        let Some((_, v)) = o.active.iter().find(|(rule, _)| rule.id == r.rule_id) else {
            continue;
        };
        let dimension = Dimension::parse(&v.dimension).unwrap_or(Dimension::Accuracy);
        scored.push(Scored {
            dimension,
            importance: Level::parse(&v.importance).unwrap_or(Level::Medium),
            // Rules judged on the whole batch count as one check.
            checked: r.checked as u64,
            failed: r.failed as u64,
        });
    }
    for c in o.conformance {
        let failed = (c.type_failed + c.length_failed + c.domain_failed).min(c.checked);
        scored.push(Scored {
            dimension: Dimension::Conformity,
            importance: Level::Medium,
            checked: c.checked,
            failed,
        });
    }
    let dims = score::dimensions(&scored);
    let weights = store.quality_weights().await?;
    let total = score::total(&dims, &weights);
    let dimensions: serde_json::Map<String, serde_json::Value> = dims
        .iter()
        .map(|(d, v)| (d.as_str().to_string(), serde_json::json!(v)))
        .collect();
    store
        .save_score(&StoredScore {
            batch_id: o.batch_id.to_string(),
            resource_id: resource.id,
            org_id: resource.meta.provider_org_id,
            records: o.records as i64,
            dimensions: serde_json::Value::Object(dimensions),
            total,
            created_at: yishu_meta::now_ms(),
        })
        .await
}

/// Samples of violations kept as a work order's evidence.
const EVIDENCE_SAMPLES: usize = 10;

/// Opens or updates a work order per failing rule, and closes the open order of a rule that now
/// passes (the re-check that verifies a fix).
async fn work_orders(store: &Store, resource: &Resource, o: &Outcome<'_>) -> Result<(), Error> {
    for r in o.results {
        let Some((rule, v)) = o.active.iter().find(|(rule, _)| rule.id == r.rule_id) else {
            continue;
        };
        match r.status.as_str() {
            "passed" => {
                store
                    .report_pass("quality", resource.id, rule.id, o.batch_id)
                    .await?;
            }
            "failed" => {
                let idx = o.planned.iter().position(|p| p.id == rule.id);
                let samples: Vec<serde_json::Value> = o
                    .violations
                    .iter()
                    .filter(|v| Some(v.rule) == idx)
                    .take(EVIDENCE_SAMPLES)
                    .map(|v| serde_json::json!({"row": v.source_ref, "value": v.value, "detail": v.detail}))
                    .collect();
                let severity = Level::parse(&v.severity).unwrap_or(Level::Medium);
                let title = format!("{}：{}", resource.meta.name, rule.name);
                store
                    .report_failure(&Failure {
                        kind: "quality",
                        resource_id: resource.id,
                        rule_id: rule.id,
                        org_id: resource.meta.provider_org_id,
                        title: &title,
                        batch_id: o.batch_id,
                        failed: r.failed,
                        evidence: serde_json::json!({
                            "batch_id": o.batch_id,
                            "rule_version": r.rule_version,
                            "checked": r.checked,
                            "failed": r.failed,
                            "message": r.message,
                            "samples": samples,
                        }),
                        sla_days: severity.sla_days(),
                    })
                    .await?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn result(
    batch_id: &str,
    resource_id: i64,
    rule_id: i64,
    version: i64,
    o: &RuleOutcome,
    now: i64,
) -> RuleResult {
    let status = if o.broken.is_some() {
        "broken"
    } else if o.failed > 0 {
        "failed"
    } else {
        "passed"
    };
    RuleResult {
        batch_id: batch_id.to_string(),
        rule_id,
        rule_version: version,
        resource_id,
        checked: o.checked as i64,
        failed: o.failed as i64,
        status: status.into(),
        message: o
            .broken
            .clone()
            .or_else(|| o.note.clone())
            .unwrap_or_default(),
        created_at: now,
    }
}

/// Timeliness of a batch: the gap since the previous checked batch against the update cycle.
fn timeliness(
    resource: &Resource,
    max_days: Option<u32>,
    previous: Option<&yishu_meta::quality::StoredProfile>,
    started_at: i64,
) -> RuleOutcome {
    let days = max_days.or_else(|| {
        resource
            .meta
            .update_cycle
            .max_age_ms()
            .map(|ms| (ms / 86_400_000) as u32)
    });
    match (days, previous) {
        (Some(d), Some(p)) => judge::timeliness(d, Some(p.created_at), started_at),
        (_, _) => RuleOutcome {
            checked: 1,
            ran: true,
            note: Some("没有上一批次或更新周期为不定期".into()),
            ..Default::default()
        },
    }
}

/// Checks every succeeded batch that has not been checked yet, oldest first; returns how many
/// were checked.
pub async fn check_pending(store: &Store, lake: &Lake, limit: i64) -> Result<usize, Error> {
    let pending = store.unchecked_batches(limit).await?;
    let mut checked = 0;
    for (batch, resource) in &pending {
        if !store.claim_check(batch, *resource).await? {
            continue;
        }
        // One batch that cannot be checked (its table unreadable) must not hold up the others.
        match check_batch(store, lake, batch).await {
            Ok(_) => checked += 1,
            Err(e) => tracing::warn!(batch = %batch, "quality check failed: {e}"),
        }
    }
    Ok(checked)
}
