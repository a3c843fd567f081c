//! Mounting and drift (挂接与漂移): how a published resource's items compare with the data that
//! really arrives — items without a column, columns without an item, values that do not fit the
//! item's type — and whether the data is missing or stale against the update cycle.

use crate::table_name;
use serde::Serialize;
use std::collections::BTreeSet;
use yishu_lake::datafusion::prelude::{col, ident, lit};
use yishu_lake::lineage::BATCH_ID;
use yishu_lake::{Lake, Layer, TextQuery};
use yishu_meta::Store;
use yishu_meta::catalog::{Item, Resource, ResourceStatus, UpdateCycle};
use yishu_types::Error;

/// Values sampled per item from the latest batch for the type check.
const SAMPLE: usize = 1000;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TypeMismatch {
    pub item: String,
    pub item_type: String,
    /// Sampled values that do not read as the type, and one of them.
    pub bad: usize,
    pub sampled: usize,
    pub example: String,
}

impl TypeMismatch {
    /// How many of the sampled `values` of an item do not read as its type, with one of them;
    /// `None` when all do.
    fn of<'v>(
        item: &str,
        item_type: &str,
        values: impl Iterator<Item = &'v str>,
    ) -> Option<TypeMismatch> {
        let (mut sampled, mut bad, mut example) = (0, 0, String::new());
        for v in values {
            sampled += 1;
            if !fits(item_type, v) {
                bad += 1;
                if example.is_empty() {
                    example = v.chars().take(100).collect();
                }
            }
        }
        (bad > 0).then(|| TypeMismatch {
            item: item.to_string(),
            item_type: item_type.to_string(),
            bad,
            sampled,
            example,
        })
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Drift {
    /// The ods table this resource is mounted on, if it exists yet.
    pub table: Option<String>,
    /// Items with no column in the ods table, or that the latest batch's source lacked.
    pub items_without_column: Vec<String>,
    /// Columns in the ods table, or in the latest batch's source, that no item describes.
    pub columns_without_item: Vec<String>,
    pub type_mismatches: Vec<TypeMismatch>,
    /// Why the data is missing or stale against the update cycle; `None` when fresh.
    pub stale: Option<String>,
    pub last_batch_at: Option<i64>,
}

impl Drift {
    pub fn is_clean(&self) -> bool {
        self.items_without_column.is_empty()
            && self.columns_without_item.is_empty()
            && self.type_mismatches.is_empty()
            && self.stale.is_none()
    }
}

/// How long data may age before it is stale (see [`UpdateCycle::max_age_ms`]).
pub fn max_age_ms(c: UpdateCycle) -> Option<i64> {
    c.max_age_ms()
}

/// Why a published resource's data is missing or stale, if it is.
pub fn stale_reason(
    status: ResourceStatus,
    cycle: UpdateCycle,
    last_batch_at: Option<i64>,
    now: i64,
) -> Option<String> {
    if status != ResourceStatus::Published {
        return None;
    }
    match (last_batch_at, max_age_ms(cycle)) {
        (None, _) => Some("no data has arrived yet".to_string()),
        (Some(at), Some(max)) if now - at > max => Some(format!(
            "the last data arrived {} days ago; the update cycle is {}",
            (now - at) / 86_400_000,
            cycle.label_zh()
        )),
        _ => None,
    }
}

/// Whether a text value reads as the item type (C/M/G/B hold anything).
pub fn fits(item_type: &str, v: &str) -> bool {
    let t = v.trim();
    match item_type {
        "N" | "Y" | "F" => t.replace(',', "").parse::<f64>().is_ok(),
        "I" => t.parse::<i64>().is_ok(),
        "D" => yishu_types::parse_cn_date(t).is_ok(),
        "T" => {
            [
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y/%m/%d %H:%M:%S",
            ]
            .iter()
            .any(|f| chrono::NaiveDateTime::parse_from_str(t, f).is_ok())
                || chrono::DateTime::parse_from_rfc3339(t).is_ok()
                || yishu_types::parse_cn_date(t).is_ok()
        }
        "L" => matches!(
            t.to_ascii_lowercase().as_str(),
            "true" | "false" | "1" | "0" | "y" | "n" | "是" | "否"
        ),
        _ => true,
    }
}

/// Compares a resource's items with its ods table and latest batch, at `now` (Unix ms); a
/// mounted resource is read where `out` allows.
pub async fn check(
    store: &Store,
    lake: &Lake,
    r: &Resource,
    now: i64,
    out: &crate::outbound::Outbound,
) -> Result<Drift, Error> {
    if let Some(m) = crate::mount::of(store, r.id).await? {
        return Ok(check_mounted(r, &m, out).await);
    }
    let name = table_name(r);
    let batches = store.list_batches(r.id).await?;
    let last_ok = batches
        .iter()
        .find(|b| b.status == "succeeded" && b.rows_stored > 0);
    let last_batch_at = batches
        .iter()
        .filter(|b| matches!(b.status.as_str(), "succeeded" | "unchanged"))
        .filter_map(|b| b.finished_at)
        .max();
    let items: Vec<String> = r.item_names();
    let columns: Option<Vec<String>> = lake.frame(Layer::Ods, &name).await?.map(|df| {
        df.schema()
            .fields()
            .iter()
            .map(|f| f.name().to_string())
            .filter(|n| !n.starts_with('_'))
            .collect()
    });
    let mut without_column = BTreeSet::new();
    let mut without_item = BTreeSet::new();
    if let Some(cols) = &columns {
        without_column.extend(items.iter().filter(|i| !cols.contains(i)).cloned());
        without_item.extend(cols.iter().filter(|c| !items.contains(c)).cloned());
    }
    if let Some(b) = batches.iter().find(|b| b.status == "succeeded") {
        let list = |k: &str| -> Vec<String> {
            b.drift
                .get(k)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        without_column.extend(list("missing_items"));
        without_item.extend(list("extra_columns"));
    }
    let mut type_mismatches = Vec::new();
    if let (Some(cols), Some(b)) = (&columns, last_ok) {
        for it in &r.meta.items {
            let n = it.name.trim();
            if !cols.iter().any(|c| c == n)
                || matches!(it.item_type.as_str(), "C" | "M" | "G" | "B")
            {
                continue;
            }
            let q = TextQuery::new(Layer::Ods, &name)
                .filter(
                    col(BATCH_ID)
                        .eq(lit(b.id.as_str()))
                        .and(ident(n).is_not_null()),
                )
                .limit(Some(SAMPLE))
                .columns(&[n]);
            let rows = lake.text(q).await?.rows;
            let values = rows.iter().filter_map(|r| r.first()).map(String::as_str);
            type_mismatches.extend(TypeMismatch::of(n, &it.item_type, values));
        }
    }
    let stale = stale_reason(r.status, r.meta.update_cycle, last_batch_at, now);
    Ok(Drift {
        table: columns.map(|_| yishu_lake::lineage::qualified(Layer::Ods, &name)),
        items_without_column: without_column.into_iter().collect(),
        columns_without_item: without_item.into_iter().collect(),
        type_mismatches,
        stale,
        last_batch_at,
    })
}

/// Drift of a resource mounted on an external table or API: its columns and sampled values
/// against the items, read now; a mount that cannot be read is flagged as missing data.
async fn check_mounted(
    r: &Resource,
    m: &crate::mount::Mount,
    out: &crate::outbound::Outbound,
) -> Drift {
    let items: Vec<&Item> = r.meta.items.iter().collect();
    let mut d = Drift {
        table: Some(format!("mounted: {}", m.describe())),
        items_without_column: Vec::new(),
        columns_without_item: Vec::new(),
        type_mismatches: Vec::new(),
        stale: None,
        last_batch_at: None,
    };
    let sample = match m.sample(SAMPLE, out).await {
        Ok(s) => s,
        Err(e) => {
            d.stale = Some(format!("the mounted data cannot be read: {}", e.message));
            return d;
        }
    };
    let names: Vec<&str> = items.iter().map(|i| i.name.trim()).collect();
    d.items_without_column = names
        .iter()
        .filter(|n| !sample.columns.iter().any(|c| c == *n))
        .map(|n| n.to_string())
        .collect();
    d.columns_without_item = sample
        .columns
        .iter()
        .filter(|c| !names.contains(&c.as_str()))
        .cloned()
        .collect();
    for it in items {
        let Some(col) = sample.columns.iter().position(|c| c == it.name.trim()) else {
            continue;
        };
        let values = sample.rows.iter().filter_map(|row| row[col].as_deref());
        d.type_mismatches
            .extend(TypeMismatch::of(it.name.trim(), &it.item_type, values));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_follows_the_update_cycle() {
        let day = 86_400_000;
        let p = ResourceStatus::Published;
        assert_eq!(
            stale_reason(p, UpdateCycle::Daily, None, 0).as_deref(),
            Some("no data has arrived yet")
        );
        assert!(stale_reason(p, UpdateCycle::Daily, Some(0), day).is_none());
        let s = stale_reason(p, UpdateCycle::Daily, Some(0), 3 * day).unwrap();
        assert!(s.contains("3 days") && s.contains("每日"), "{s}");
        assert!(stale_reason(p, UpdateCycle::Monthly, Some(0), 20 * day).is_none());
        assert!(stale_reason(p, UpdateCycle::Irregular, Some(0), 900 * day).is_none());
        assert!(stale_reason(ResourceStatus::Draft, UpdateCycle::Daily, None, 0).is_none());
        assert!(stale_reason(p, UpdateCycle::Realtime, Some(0), 2 * 3_600_000).is_some());
    }

    #[test]
    fn values_against_item_types() {
        for (t, ok, bad) in [
            ("N", "12.5", "十二"),
            ("I", "42", "4.2"),
            ("D", "1990-01-02", "1990-13-45"),
            ("T", "2024-03-01 10:00:00", "yesterday"),
            ("L", "是", "maybe"),
        ] {
            assert!(fits(t, ok), "{t} {ok}");
            assert!(!fits(t, bad), "{t} {bad}");
        }
        assert!(fits("C", "anything"));
    }
}
