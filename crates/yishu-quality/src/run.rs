//! The quality job for one batch: profile it, check its items against their data elements and its
//! resource's active rules, store the profile, the per-rule results (naming each rule's version)
//! and the violations. A rule that cannot run is recorded as broken with the reason; the batch
//! itself is never failed by its checks.

use crate::clean::{self, Action, CleanDef, CleanJob, CleanReport, CleanRule, StdType};
use crate::eval::Context;
use crate::eval::Violation;
use crate::judge;
use crate::profile::TableProfile;
use crate::rule::{Dimension, Level};
use crate::rule::{PlannedRule, RuleDef};
use crate::scan::{RuleOutcome, Scan, scan};
use crate::score::{self, Scored};
use crate::standard::{self, Aspect, ItemConformance};
use crate::text;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
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

/// Checks one batch and stores everything it found.
pub async fn check_batch(
    store: &Store,
    lake: &Lake,
    batch_id: &str,
) -> Result<BatchQuality, Error> {
    // Two checks of one resource at once (the scheduler and a person, or two nodes) race for
    // the same tables; the one that commits second runs again. A check is safe to repeat: it
    // replaces the batch's rows and results.
    let mut attempt = 0;
    loop {
        match check_batch_once(store, lake, batch_id).await {
            Err(e) if e.code == ErrorCode::EditConflict && attempt < 4 => {
                attempt += 1;
                tracing::info!(
                    batch_id,
                    attempt,
                    "check raced another writer; again: {}",
                    e.message
                );
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            done => return done,
        }
    }
}

async fn check_batch_once(
    store: &Store,
    lake: &Lake,
    batch_id: &str,
) -> Result<BatchQuality, Error> {
    let batch = store.get_batch(batch_id).await?;
    let resource = store.get_resource(batch.resource_id).await?;
    let table = resource.table();
    let fields: Vec<String> = resource
        .meta
        .items
        .iter()
        .map(|i| i.name.trim().to_string())
        .collect();
    let mut context = Context::default();
    for t in store.code_tables().await? {
        context.code_tables.insert(
            t.id.clone(),
            t.entries.into_iter().map(|e| e.code).collect(),
        );
    }
    // Stored rules in effect, then the conformance checks of bound data elements.
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
    let found = scan(Scan {
        lake,
        table: &table,
        batch_id: Some(batch_id),
        fields: &fields,
        rules: &planned,
        context,
        threads: 0,
    })
    .await?;
    let mut outcomes = found.outcomes;
    // Rules judged on the batch as a whole.
    let recent: Vec<(yishu_meta::quality::StoredProfile, Option<BatchQuality>)> = store
        .profiles(resource.id, 5)
        .await?
        .into_iter()
        .filter(|p| p.batch_id != batch_id)
        .map(|p| {
            let q = serde_json::from_value::<BatchQuality>(p.body.clone()).ok();
            (p, q)
        })
        .collect();
    let previous = recent.first().map(|(p, _)| p.clone());
    let previous_profile: Option<TableProfile> = recent
        .first()
        .and_then(|(_, q)| q.as_ref())
        .map(|q| q.profile.clone());
    // Drift is judged against the established shape: the newest batch whose column kinds did
    // not change, so a batch back in shape after a drifting one is not drift again.
    let baseline: Option<&TableProfile> = recent
        .iter()
        .filter_map(|(_, q)| q.as_ref())
        .find(|q| q.drift.retyped.is_empty())
        .map(|q| &q.profile);
    for (i, r) in planned.iter().enumerate().take(rules_end) {
        match &r.def {
            RuleDef::Volatility { column, threshold } => {
                outcomes[i] = judge::volatility(
                    column.as_deref(),
                    *threshold,
                    &found.profile,
                    previous_profile.as_ref(),
                )
            }
            RuleDef::Timeliness { max_days } => {
                outcomes[i] = timeliness(&resource, *max_days, previous.as_ref(), batch.started_at)
            }
            _ => {}
        }
    }
    // Conformance per item.
    let mut conformance: Vec<ItemConformance> = Vec::new();
    for (k, (item, element, version, aspect)) in aspects.iter().enumerate() {
        let o = &outcomes[rules_end + k];
        let c = match conformance.iter_mut().find(|c| &c.item == item) {
            Some(c) => c,
            None => {
                conformance.push(ItemConformance {
                    item: item.clone(),
                    element: element.clone(),
                    version: *version,
                    checked: found.profile.records,
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
    let written =
        crate::violations::write(lake, &table, batch_id, &planned, &found.violations).await?;
    let now = yishu_meta::now_ms();
    let mut results: Vec<RuleResult> = planned[..rules_end]
        .iter()
        .zip(&outcomes)
        .map(|(r, o)| result(batch_id, resource.id, r.id, r.version, o, now))
        .collect();
    for (id, version, why) in broken_defs {
        let o = RuleOutcome {
            broken: Some(why),
            ..Default::default()
        };
        results.push(result(batch_id, resource.id, id, version, &o, now));
    }
    store.save_results(batch_id, &results).await?;
    let outcome = Outcome {
        batch_id,
        records: found.profile.records,
        active: &active,
        results: &results,
        violations: &found.violations,
        planned: &planned,
        conformance: &conformance,
    };
    score(store, &resource, &outcome).await?;
    work_orders(store, &resource, &outcome).await?;
    let drift = crate::drift::find(&batch.drift, &found.profile, baseline);
    crate::drift::report(store, &resource, batch_id, &drift).await?;
    crate::silence::delivered(store, resource.meta.update_cycle, &batch).await?;
    let std = clean(store, lake, &resource, batch_id).await?;
    let quality = BatchQuality {
        profile: found.profile,
        conformance,
        violations: written,
        std: Some(std),
        drift,
    };
    let body = serde_json::to_value(&quality)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("profile: {e}")))?;
    store
        .save_profile(batch_id, resource.id, quality.profile.records as i64, &body)
        .await?;
    Ok(quality)
}

/// Cleans the batch into the resource's std table under the active cleaning rules: items typed by
/// their data element (or their own type), fixes applied, failing rows filtered or tolerated.
async fn clean(
    store: &Store,
    lake: &Lake,
    resource: &Resource,
    batch_id: &str,
) -> Result<CleanReport, Error> {
    let columns = std_columns(store, resource).await?;
    if evolve_std(lake, resource, &columns).await? {
        // Every earlier batch goes into the new version again, from ods, under the new types.
        for b in store.list_batches(resource.id).await? {
            if b.status == "succeeded" && b.id != batch_id {
                clean_into_std(store, lake, resource, &columns, &b.id).await?;
            }
        }
    }
    clean_into_std(store, lake, resource, &columns, batch_id).await
}

/// When the std table's item columns no longer match the catalog (an item's type changed through
/// its item or its data element, an item was added or removed), starts a new version of the table
/// with the new schema and no rows, and says so; the version before stays readable by time
/// travel. The caller cleans the batches into it again.
async fn evolve_std(
    lake: &Lake,
    resource: &Resource,
    columns: &[(String, StdType)],
) -> Result<bool, Error> {
    let table = resource.table();
    let Some(frame) = lake.frame(yishu_lake::Layer::Std, &table).await? else {
        return Ok(false);
    };
    let have: Vec<(String, yishu_lake::arrow::datatypes::DataType)> = frame
        .schema()
        .fields()
        .iter()
        .filter(|f| !f.name().starts_with('_'))
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let want: Vec<(String, yishu_lake::arrow::datatypes::DataType)> = columns
        .iter()
        .map(|(n, t)| (n.clone(), t.arrow()))
        .collect();
    if have == want {
        return Ok(false);
    }
    let changed: Vec<String> = want
        .iter()
        .filter(|w| !have.contains(w))
        .map(|(n, t)| format!("{n}: {t}"))
        .collect();
    tracing::info!(
        table,
        ?changed,
        "std schema changed; the table gets a new version"
    );
    let empty = yishu_lake::arrow::record_batch::RecordBatch::new_empty(clean::std_schema(columns));
    let meta = HashMap::from([(
        "schema_change".to_string(),
        serde_json::json!({"changed": changed}),
    )]);
    lake.overwrite(yishu_lake::Layer::Std, &table, vec![empty], meta)
        .await?;
    Ok(true)
}

/// Cleans one batch into std under the active cleaning rules.
async fn clean_into_std(
    store: &Store,
    lake: &Lake,
    resource: &Resource,
    columns: &[(String, StdType)],
    batch_id: &str,
) -> Result<CleanReport, Error> {
    let mut rules = Vec::new();
    for (rule, v) in store.active_rules(resource.id, RulePurpose::Clean).await? {
        let Ok(def) = serde_json::from_value::<CleanDef>(v.definition.clone()) else {
            tracing::warn!(
                rule = rule.id,
                "cleaning rule definition unreadable; skipped"
            );
            continue;
        };
        let action = if def.fix.is_some() {
            Action::Fix
        } else {
            Action::parse(&v.action).unwrap_or_else(|| {
                clean::default_action(
                    Level::parse(&v.importance).unwrap_or(Level::Medium),
                    Level::parse(&v.severity).unwrap_or(Level::Medium),
                )
            })
        };
        rules.push(CleanRule {
            id: rule.id,
            version: v.version,
            name: rule.name.clone(),
            def,
            action,
        });
    }
    let local = local_code_tables(store).await?;
    let (references, lookups) = clean_references(store, lake, &rules).await;
    let table = resource.table();
    clean::clean_batch(CleanJob {
        lake,
        table: &table,
        into: &table,
        batch_id,
        columns,
        rules: &rules,
        local: &local,
        references,
        lookups,
    })
    .await
}

/// What cleaning rules read from other resources, by rule position. One that cannot be read is
/// left out, and cleaning reports the rule as broken.
pub async fn clean_references(
    store: &Store,
    lake: &Lake,
    rules: &[CleanRule],
) -> (clean::References, clean::Lookups) {
    let (mut references, mut lookups) = (HashMap::new(), HashMap::new());
    for (k, r) in rules.iter().enumerate() {
        if let Some(RuleDef::Referential { resource, item, .. }) = &r.def.check {
            match reference_keys(store, lake, resource, item).await {
                Ok(keys) => {
                    references.insert(k, keys);
                }
                Err(e) => tracing::warn!(rule = r.id, "reference unreadable: {}", e.message),
            }
        }
        if let Some(clean::Fix::FillReference {
            resource, on, take, ..
        }) = &r.def.fix
        {
            match reference_lookup(store, lake, resource, on, take).await {
                Ok(m) => {
                    lookups.insert(k, m);
                }
                Err(e) => tracing::warn!(rule = r.id, "reference unreadable: {}", e.message),
            }
        }
    }
    (references, lookups)
}

/// The std columns of a resource: its items, typed by their data element (or their own type).
pub async fn std_columns(
    store: &Store,
    resource: &Resource,
) -> Result<Vec<(String, StdType)>, Error> {
    let mut columns = Vec::new();
    for item in &resource.meta.items {
        let letter = match item
            .data_element
            .as_deref()
            .filter(|d| !d.trim().is_empty())
        {
            Some(id) => store
                .data_element(id, None)
                .await
                .map(|d| d.data_type)
                .unwrap_or_else(|_| item.item_type.clone()),
            None => item.item_type.clone(),
        };
        columns.push((item.name.trim().to_string(), StdType::of(&letter)));
    }
    Ok(columns)
}

/// The registered department code tables: code → national code.
pub async fn local_code_tables(store: &Store) -> Result<clean::LocalTables, Error> {
    Ok(store
        .code_tables()
        .await?
        .into_iter()
        .map(|t| {
            let entries = t
                .entries
                .into_iter()
                .map(|e| (e.code, e.national))
                .collect();
            (t.id, entries)
        })
        .collect())
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

/// The values of `item` in the resource with `code`, hashed, for a referential rule.
pub async fn reference_keys(
    store: &Store,
    lake: &Lake,
    code: &str,
    item: &str,
) -> Result<text::HashSet, Error> {
    let mut keys = text::HashSet::default();
    read_reference(store, lake, code, &[item], |b| {
        if let Some(c) = text::Texts::of(b.column(0)) {
            for i in 0..b.num_rows() {
                if let Some(v) = c.present(i) {
                    keys.insert(text::hash(v));
                }
            }
        }
    })
    .await?;
    Ok(keys)
}

/// Another resource's `take` value by its `on` value (the later row wins): what a
/// `fill_reference` fix fills from.
pub async fn reference_lookup(
    store: &Store,
    lake: &Lake,
    code: &str,
    on: &str,
    take: &str,
) -> Result<HashMap<String, String>, Error> {
    let mut map = HashMap::new();
    read_reference(store, lake, code, &[on, take], |b| {
        if let (Some(k), Some(v)) = (text::Texts::of(b.column(0)), text::Texts::of(b.column(1))) {
            for i in 0..b.num_rows() {
                if let (Some(k), Some(v)) = (k.present(i), v.present(i)) {
                    map.insert(k.to_string(), v.to_string());
                }
            }
        }
    })
    .await?;
    Ok(map)
}

/// Streams the named items of every row of the resource `code` to `f`.
async fn read_reference(
    store: &Store,
    lake: &Lake,
    code: &str,
    items: &[&str],
    mut f: impl FnMut(&yishu_lake::arrow::array::RecordBatch),
) -> Result<(), Error> {
    let target = store.get_resource_by_code(code).await?;
    let df = crate::scan::rows(lake, &target.table(), None)
        .await?
        .select_columns(items)
        .map_err(|e| {
            Error::new(
                ErrorCode::RuleInvalid,
                format!("{code} has no item {}: {e}", items.join(", ")),
            )
        })?;
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| Error::new(ErrorCode::LakeError, format!("cannot read {code}: {e}")))?;
    while let Some(b) = stream.next().await {
        let b =
            b.map_err(|e| Error::new(ErrorCode::LakeError, format!("cannot read {code}: {e}")))?;
        f(&b);
    }
    Ok(())
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
