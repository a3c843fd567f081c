//! Cleaning into the std (标准) layer (R17): per item, fixes (trim, full-width → half-width, one
//! date format, local codes and synonyms → the national code, 15-digit IDs → 18, fill from a
//! dependency), then checks whose violating rows are filtered (to quarantine, with the reason) or
//! tolerated (kept, flagged). Output is typed per data element, one row per ods row kept, with
//! `_ods_ref` lineage and the fixes applied. A batch's std rows are written once per ods batch.

mod batch;
mod fix;

use crate::rule::{Level, RuleDef};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use yishu_lake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use yishu_lake::lineage::{BATCH_ID, ODS_REF};
use yishu_lake::{Lake, Layer};
use yishu_types::{Error, ErrorCode};

/// A fix of one item's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fix {
    /// Spaces at the ends, and spaces (also U+3000) between Chinese characters.
    Trim { column: String },
    /// Full-width letters, digits and punctuation to half-width.
    HalfWidth { column: String },
    /// Any Chinese way of writing a date to yyyy-mm-dd.
    UnifyDate { column: String },
    /// Names, synonyms and department codes to the code of a national table (`sex`, …), or
    /// through a registered department table's mapping.
    MapCodes { column: String, table: String },
    /// A 15-digit 公民身份号码 to its 18-digit form.
    UpgradeId15 { column: String },
    /// A birth date that is missing or contradicts the row's valid 公民身份号码 (item `id`) takes
    /// the date the number holds (digits 7–14, GB 11643): the number is the authority on it.
    BirthFromId { column: String, id: String },
    /// Traditional characters to simplified (规范汉字), e.g. for names in mainland registers.
    Simplify { column: String },
    /// An empty value from the value most rows with the same `lhs` have.
    FillDependency { column: String, lhs: Vec<String> },
    /// An empty value from another resource: its `take` item on the row whose `on` item equals
    /// this row's `key` (e.g. a division name from the divisions resource by code).
    FillReference {
        column: String,
        key: String,
        resource: String,
        on: String,
        take: String,
    },
}

impl Fix {
    pub fn column(&self) -> &str {
        match self {
            Fix::Trim { column }
            | Fix::HalfWidth { column }
            | Fix::UnifyDate { column }
            | Fix::MapCodes { column, .. }
            | Fix::UpgradeId15 { column }
            | Fix::BirthFromId { column, .. }
            | Fix::Simplify { column }
            | Fix::FillDependency { column, .. }
            | Fix::FillReference { column, .. } => column,
        }
    }
    fn name(&self) -> &'static str {
        match self {
            Fix::Trim { .. } => "trim",
            Fix::HalfWidth { .. } => "half_width",
            Fix::UnifyDate { .. } => "unify_date",
            Fix::MapCodes { .. } => "map_codes",
            Fix::UpgradeId15 { .. } => "upgrade_id15",
            Fix::BirthFromId { .. } => "birth_from_id",
            Fix::Simplify { .. } => "simplify",
            Fix::FillDependency { .. } => "fill_dependency",
            Fix::FillReference { .. } => "fill_reference",
        }
    }
}

/// What a cleaning rule does with a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Fix,
    /// The row goes to quarantine with the reason; it is not in std.
    Filter,
    /// The row stays, flagged.
    Tolerate,
}

impl Action {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fix" => Some(Action::Fix),
            "filter" => Some(Action::Filter),
            "tolerate" => Some(Action::Tolerate),
            _ => None,
        }
    }
}

/// The default for a check: high severity filters unless the rule matters little; everything
/// else is tolerated (kept and flagged), so nothing is dropped on a weak rule.
pub fn default_action(importance: Level, severity: Level) -> Action {
    match (severity, importance) {
        (Level::High, Level::High | Level::Medium) => Action::Filter,
        _ => Action::Tolerate,
    }
}

/// A cleaning rule: a fix, or a check whose failing rows are filtered or tolerated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CleanDef {
    #[serde(default)]
    pub fix: Option<Fix>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub check: Option<RuleDef>,
}

impl CleanDef {
    /// Checks the definition against the resource's items at save time.
    pub fn check(&self, items: &[String], code_tables: &[String]) -> Result<(), Error> {
        let bad = |m: String| Error::new(ErrorCode::RuleInvalid, m);
        match (&self.fix, &self.check) {
            (Some(f), None) => {
                let mut cols = vec![f.column().to_string()];
                if let Fix::FillDependency { lhs, .. } = f {
                    if lhs.is_empty() {
                        return Err(bad("fill_dependency needs lhs columns".into()));
                    }
                    cols.extend(lhs.iter().cloned());
                }
                if let Fix::FillReference { key, .. } = f {
                    cols.push(key.clone());
                }
                if let Fix::BirthFromId { id, .. } = f {
                    cols.push(id.clone());
                }
                if let Fix::MapCodes { table, .. } = f
                    && yishu_types::codes::table(table).is_none()
                    && !code_tables.contains(table)
                {
                    return Err(bad(format!("no code table '{table}'")));
                }
                for c in cols {
                    if !items.contains(&c) {
                        return Err(bad(format!("column '{c}' is not an item of this resource")));
                    }
                }
                Ok(())
            }
            (None, Some(c)) => {
                if matches!(
                    c,
                    RuleDef::Volatility { .. } | RuleDef::Timeliness { .. } | RuleDef::Sql { .. }
                ) {
                    return Err(bad(
                        "a cleaning check must look at rows (not volatility, timeliness or SQL)"
                            .into(),
                    ));
                }
                c.check(items, code_tables)
            }
            _ => Err(bad("a cleaning rule has either a fix or a check".into())),
        }
    }
}

/// A cleaning rule as the job runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanRule {
    pub id: i64,
    pub version: i64,
    pub name: String,
    pub def: CleanDef,
    pub action: Action,
}

/// The type of a std column, from the item's data element (or the item's own type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdType {
    Text,
    Number,
    Date,
    DateTime,
}

impl StdType {
    /// From a GB/T 21063.3 item type letter.
    pub fn of(letter: &str) -> Self {
        match letter {
            "N" | "Y" => StdType::Number,
            "D" => StdType::Date,
            "T" => StdType::DateTime,
            _ => StdType::Text,
        }
    }
    pub fn arrow(self) -> DataType {
        match self {
            StdType::Text => DataType::Utf8,
            StdType::Number => DataType::Float64,
            StdType::Date => DataType::Date32,
            StdType::DateTime => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }
}

/// The std schema: typed items, then lineage (`_batch_id`, `_ods_ref`), the fixes applied,
/// the problems tolerated, and the lineage's hash (what fusion finds a row again by).
pub fn std_schema(columns: &[(String, StdType)]) -> Arc<Schema> {
    let mut f: Vec<Field> = columns
        .iter()
        .map(|(n, t)| Field::new(n, t.arrow(), true))
        .collect();
    f.push(Field::new(BATCH_ID, DataType::Utf8, false));
    f.push(Field::new(ODS_REF, DataType::Utf8, false));
    f.push(Field::new("_fixes", DataType::Utf8, false));
    f.push(Field::new("_flags", DataType::Utf8, false));
    f.push(Field::new(
        yishu_lake::lineage::REF_HASH,
        DataType::Int64,
        false,
    ));
    Arc::new(Schema::new(f))
}

/// Rows filtered out of std, with the rule and reason.
pub fn filtered_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new(BATCH_ID, DataType::Utf8, false),
        Field::new(ODS_REF, DataType::Utf8, false),
        Field::new("rule_id", DataType::Int64, false),
        Field::new("rule_version", DataType::Int64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
    ]))
}

/// The quarantine table of rows filtered on the way to std.
pub fn filtered_table(table: &str) -> String {
    format!("s_{table}")
}

/// Registered department code tables by id: each code with the national code it maps to.
pub type LocalTables = HashMap<String, Vec<(String, Option<String>)>>;

/// What cleaning one batch did: rows in = rows out + rows filtered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CleanReport {
    pub rows_in: u64,
    pub rows_out: u64,
    pub rows_filtered: u64,
    /// Rows kept with at least one tolerated problem.
    pub rows_flagged: u64,
    /// Values changed, per fix (`trim@姓名`).
    pub fixes: BTreeMap<String, u64>,
    /// Values that could not become their column's type (kept as null, flagged).
    pub type_failures: u64,
    /// Rules that could not run, with the reason.
    #[serde(default)]
    pub broken: Vec<String>,
}

/// Keys of other resources that referential checks read, by rule position.
pub type References = HashMap<usize, crate::text::HashSet>;
/// Key → value of other resources that `fill_reference` fixes read, by rule position.
pub type Lookups = HashMap<usize, HashMap<String, String>>;

/// What cleaning one batch needs.
pub struct CleanJob<'a> {
    pub lake: &'a Lake,
    /// The ods table read.
    pub table: &'a str,
    /// The std table written: the same name, except when rules are tried out.
    pub into: &'a str,
    pub batch_id: &'a str,
    /// The items with their std types.
    pub columns: &'a [(String, StdType)],
    pub rules: &'a [CleanRule],
    /// The registered department code tables (code → national code).
    pub local: &'a LocalTables,
    /// What rules on other resources read, by rule position: keys for referential checks, and
    /// key → value for `fill_reference`. A rule whose entry is missing is skipped as broken.
    pub references: References,
    pub lookups: Lookups,
}

pub use batch::clean_batch;

/// The newest rows of a std table (by batch, then source row), at most `limit`, as text: what a
/// provider looks at to see its data as cleaned, lineage and fixes included.
pub async fn newest_std_rows(
    lake: &Lake,
    table: &str,
    limit: usize,
) -> Result<yishu_lake::TextRows, Error> {
    use yishu_lake::datafusion::prelude::col;
    use yishu_lake::lineage::{BATCH_ID, ODS_REF};
    let q = yishu_lake::TextQuery::new(Layer::Std, table)
        .order(vec![
            col(BATCH_ID).sort(false, true),
            col(ODS_REF).sort(true, false),
        ])
        .limit(Some(limit));
    lake.text(q).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_checked() {
        let items = vec!["姓名".to_string(), "性别".to_string()];
        let d: CleanDef =
            serde_json::from_value(serde_json::json!({"fix": {"kind": "trim", "column": "姓名"}}))
                .unwrap();
        d.check(&items, &[]).unwrap();
        let d: CleanDef = serde_json::from_value(
            serde_json::json!({"fix": {"kind": "map_codes", "column": "性别", "table": "x"}}),
        )
        .unwrap();
        assert!(
            d.check(&items, &[])
                .unwrap_err()
                .message
                .contains("no code table")
        );
        let d: CleanDef = serde_json::from_value(serde_json::json!({})).unwrap();
        assert!(d.check(&items, &[]).is_err());
    }
}
