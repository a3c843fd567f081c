//! Drift (结构漂移, R4: catalog and data must not drift apart): after every batch, the source's
//! shape is compared with the catalog and with the previous batch — columns no item describes,
//! items the source no longer sends, and columns whose values changed kind (numbers became text,
//! dates became numbers). Any of them opens a work order to the department; a batch without drift
//! closes it.

use crate::profile::{InferredType, TableProfile};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use yishu_meta::Store;
use yishu_meta::catalog::Resource;
use yishu_meta::workorder::Failure;
use yishu_types::Error;

/// The work-order kind of drift.
pub const KIND: &str = "drift";
const SLA_DAYS: i64 = 7;

/// A column whose values changed kind since the previous batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Retyped {
    pub column: String,
    pub from: InferredType,
    pub to: InferredType,
}

/// What changed in a batch's shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ShapeDrift)]
pub struct Drift {
    /// Columns in the source that no item describes.
    pub new_columns: Vec<String>,
    /// Items the source has no column for.
    pub missing_items: Vec<String>,
    pub retyped: Vec<Retyped>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.new_columns.is_empty() && self.missing_items.is_empty() && self.retyped.is_empty()
    }

    /// One line for the work order's title.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.new_columns.is_empty() {
            parts.push(format!("新增列 {}", self.new_columns.join("、")));
        }
        if !self.missing_items.is_empty() {
            parts.push(format!("缺少信息项 {}", self.missing_items.join("、")));
        }
        for r in &self.retyped {
            parts.push(format!(
                "{} 由{}变为{}",
                r.column,
                kind_zh(r.from),
                kind_zh(r.to)
            ));
        }
        parts.join("；")
    }
}

fn kind_zh(t: InferredType) -> &'static str {
    match t {
        InferredType::Empty => "空值",
        InferredType::Integer => "整数",
        InferredType::Decimal => "小数",
        InferredType::Date => "日期",
        InferredType::Text => "文本",
    }
}

/// Integers and decimals are one kind: a batch that happens to hold whole numbers only is not drift.
fn family(t: InferredType) -> InferredType {
    match t {
        InferredType::Decimal => InferredType::Integer,
        other => other,
    }
}

/// Compares a batch with the catalog (`batch_drift`, as ingest recorded it) and the profile of the
/// established shape (the newest earlier batch whose column kinds held).
pub fn find(batch_drift: &Value, profile: &TableProfile, previous: Option<&TableProfile>) -> Drift {
    let names = |key: &str| -> Vec<String> {
        batch_drift[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut retyped = Vec::new();
    if let Some(prev) = previous {
        for f in &profile.fields {
            let Some(p) = prev.fields.iter().find(|p| p.name == f.name) else {
                continue;
            };
            let (from, to) = (p.inferred_type, f.inferred_type);
            if from != InferredType::Empty
                && to != InferredType::Empty
                && family(from) != family(to)
            {
                retyped.push(Retyped {
                    column: f.name.clone(),
                    from,
                    to,
                });
            }
        }
    }
    Drift {
        new_columns: names("extra_columns"),
        missing_items: names("missing_items"),
        retyped,
    }
}

/// Opens (or updates) the resource's drift order when `drift` is not empty, and closes it when it
/// is.
pub async fn report(
    store: &Store,
    resource: &Resource,
    batch_id: &str,
    drift: &Drift,
) -> Result<(), Error> {
    if drift.is_empty() {
        store.report_pass(KIND, resource.id, 0, batch_id).await?;
        return Ok(());
    }
    let title = format!("{} 数据结构漂移：{}", resource.meta.name, drift.summary());
    let failed = (drift.new_columns.len() + drift.missing_items.len() + drift.retyped.len()) as i64;
    store
        .report_failure(&Failure {
            kind: KIND,
            resource_id: resource.id,
            rule_id: 0,
            org_id: resource.meta.provider_org_id,
            title: &title,
            batch_id,
            failed,
            evidence: serde_json::to_value(drift).unwrap_or_default(),
            sla_days: SLA_DAYS,
        })
        .await?;
    Ok(())
}
