//! Cleaning into std as a job of its own, which a batch's check schedules once the check's own
//! results are stored: the std columns, a new std version when the schema changed, and each
//! batch cleaned under the active cleaning rules with what they read from other resources.

use crate::clean::{self, Action, CleanDef, CleanJob, CleanReport, CleanRule, StdType};
use crate::reference::{reference_keys, reference_lookup};
use crate::rule::{Level, RuleDef};
use std::collections::HashMap;
use yishu_lake::Lake;
use yishu_meta::Store;
use yishu_meta::catalog::Resource;
use yishu_meta::quality::RulePurpose;
use yishu_types::Error;

/// The cleaning job of one batch: into the resource's std table under the active cleaning rules
/// (items typed by their data element or their own type, fixes applied, failing rows filtered
/// or tolerated). When the std schema changed, every earlier batch is cleaned into the new
/// version too. Safe to repeat; a commit that races another writer runs again.
pub async fn clean_batch(store: &Store, lake: &Lake, batch_id: &str) -> Result<CleanReport, Error> {
    let batch = store.get_batch(batch_id).await?;
    let resource = store.get_resource(batch.resource_id).await?;
    crate::run::retry_conflicts(batch_id, "cleaning", || {
        clean(store, lake, &resource, batch_id)
    })
    .await
}

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
