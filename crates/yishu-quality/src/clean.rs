//! Cleaning into the std (标准) layer (R17): per item, fixes (trim, full-width → half-width, one
//! date format, local codes and synonyms → the national code, 15-digit IDs → 18, fill from a
//! dependency), then checks whose violating rows are filtered (to quarantine, with the reason) or
//! tolerated (kept, flagged). Output is typed per data element, one row per ods row kept, with
//! `_ods_ref` lineage and the fixes applied. A batch's std rows are written once per ods batch.

use crate::eval::{Context, Eval, Violation};
use crate::rule::{Level, RuleDef};
use crate::text::Texts;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use yishu_lake::arrow::array::{
    ArrayRef, BooleanArray, Date32Builder, Float64Builder, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondBuilder,
};
use yishu_lake::arrow::compute::filter_record_batch;
use yishu_lake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
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
    /// An empty value from the value most rows with the same `lhs` have.
    FillDependency { column: String, lhs: Vec<String> },
}

impl Fix {
    pub fn column(&self) -> &str {
        match self {
            Fix::Trim { column }
            | Fix::HalfWidth { column }
            | Fix::UnifyDate { column }
            | Fix::MapCodes { column, .. }
            | Fix::UpgradeId15 { column }
            | Fix::FillDependency { column, .. } => column,
        }
    }
    fn name(&self) -> &'static str {
        match self {
            Fix::Trim { .. } => "trim",
            Fix::HalfWidth { .. } => "half_width",
            Fix::UnifyDate { .. } => "unify_date",
            Fix::MapCodes { .. } => "map_codes",
            Fix::UpgradeId15 { .. } => "upgrade_id15",
            Fix::FillDependency { .. } => "fill_dependency",
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
    #[schema(value_type = Object)]
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
    fn arrow(self) -> DataType {
        match self {
            StdType::Text => DataType::Utf8,
            StdType::Number => DataType::Float64,
            StdType::Date => DataType::Date32,
            StdType::DateTime => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }
}

/// The std schema: typed items, then lineage (`_batch_id`, `_ods_ref`), the fixes applied and
/// the problems tolerated.
pub fn std_schema(columns: &[(String, StdType)]) -> Arc<Schema> {
    let mut f: Vec<Field> = columns
        .iter()
        .map(|(n, t)| Field::new(n, t.arrow(), true))
        .collect();
    f.push(Field::new("_batch_id", DataType::Utf8, false));
    f.push(Field::new("_ods_ref", DataType::Utf8, false));
    f.push(Field::new("_fixes", DataType::Utf8, false));
    f.push(Field::new("_flags", DataType::Utf8, false));
    Arc::new(Schema::new(f))
}

/// Rows filtered out of std, with the rule and reason.
pub fn filtered_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("_batch_id", DataType::Utf8, false),
        Field::new("_ods_ref", DataType::Utf8, false),
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
}

/// Removes spaces at the ends and spaces next to a Chinese character.
fn trim_cjk(s: &str) -> String {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}');
    let chars: Vec<char> = t.chars().collect();
    let cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c) || c == '·';
    let mut out = String::with_capacity(t.len());
    for (i, &c) in chars.iter().enumerate() {
        if c.is_whitespace() || c == '\u{3000}' {
            let prev = chars[..i]
                .iter()
                .rev()
                .find(|c| !c.is_whitespace() && **c != '\u{3000}');
            let next = chars[i + 1..]
                .iter()
                .find(|c| !c.is_whitespace() && **c != '\u{3000}');
            if prev.is_some_and(|p| cjk(*p)) || next.is_some_and(|n| cjk(*n)) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// A fix ready to run, with what it needs (code lookups, dependency majorities).
enum Ready {
    Trim,
    HalfWidth,
    UnifyDate,
    MapCodes(HashMap<String, String>),
    UpgradeId15,
    Fill(Vec<String>, HashMap<String, String>),
}

impl Ready {
    fn apply(&self, v: &str) -> Option<String> {
        let out = match self {
            Ready::Trim => trim_cjk(v),
            Ready::HalfWidth => yishu_types::text::fold_width(v),
            Ready::UnifyDate => match yishu_types::date::parse_cn_date(v) {
                Ok(d) => d.format("%Y-%m-%d").to_string(),
                Err(_) => return None,
            },
            Ready::MapCodes(m) => m.get(&map_key(v))?.clone(),
            Ready::UpgradeId15 => yishu_types::citizen_id::CitizenId::upgrade15(v.trim())
                .ok()?
                .as_str()
                .to_string(),
            Ready::Fill(..) => return None,
        };
        (out != v).then_some(out)
    }
}

fn map_key(s: &str) -> String {
    yishu_types::text::fold_width(s).trim().to_lowercase()
}

/// Every spelling a national table resolves, and a department table's mapped codes.
fn code_map(
    table: &str,
    local: &HashMap<String, Vec<(String, Option<String>)>>,
) -> HashMap<String, String> {
    let mut m = HashMap::new();
    if let Some(t) = yishu_types::codes::table(table) {
        for e in &t.entries {
            for s in std::iter::once(&e.code)
                .chain(std::iter::once(&e.name))
                .chain(&e.aliases)
            {
                m.insert(map_key(s), e.code.clone());
            }
        }
    } else if let Some(entries) = local.get(table) {
        for (code, national) in entries {
            if let Some(n) = national {
                m.insert(map_key(code), n.clone());
            }
        }
    }
    m
}

fn lake_err(what: String) -> impl FnOnce(yishu_lake::datafusion::error::DataFusionError) -> Error {
    move |e| Error::new(ErrorCode::LakeError, format!("{what}: {e}"))
}

/// The values of `cols` in row `i`, joined as a lookup key.
fn key_of(b: &RecordBatch, cols: &[String], i: usize) -> String {
    cols.iter()
        .map(|c| {
            b.column_by_name(c)
                .and_then(Texts::of)
                .and_then(|t| t.present(i))
                .unwrap_or_default()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// Cleans one ods batch into std. `columns` are the items with their std types; `local` the
/// registered department code tables (code → national code).
pub async fn clean_batch(
    lake: &Lake,
    table: &str,
    batch_id: &str,
    columns: &[(String, StdType)],
    rules: &[CleanRule],
    local: &HashMap<String, Vec<(String, Option<String>)>>,
) -> Result<CleanReport, Error> {
    // Fixes per column, in rule order.
    let mut fixes: Vec<(usize, String, Ready)> = Vec::new();
    let mut fills: Vec<(usize, String, Vec<String>)> = Vec::new();
    for (k, r) in rules.iter().enumerate() {
        if let Some(f) = &r.def.fix {
            let ready = match f {
                Fix::Trim { .. } => Ready::Trim,
                Fix::HalfWidth { .. } => Ready::HalfWidth,
                Fix::UnifyDate { .. } => Ready::UnifyDate,
                Fix::MapCodes { table, .. } => Ready::MapCodes(code_map(table, local)),
                Fix::UpgradeId15 { .. } => Ready::UpgradeId15,
                Fix::FillDependency { column, lhs } => {
                    fills.push((k, column.clone(), lhs.clone()));
                    Ready::Fill(lhs.clone(), HashMap::new())
                }
            };
            fixes.push((k, f.column().to_string(), ready));
        }
    }
    // A dependency fill learns the majority value per left side from the batch first.
    if !fills.is_empty() {
        let mut counts: Vec<HashMap<String, HashMap<String, u64>>> =
            vec![HashMap::new(); fills.len()];
        let mut stream = crate::scan::rows(lake, table, Some(batch_id))
            .await?
            .execute_stream()
            .await
            .map_err(lake_err(format!("cannot read {table}")))?;
        while let Some(b) = stream.next().await {
            let b = b.map_err(lake_err(format!("cannot read {table}")))?;
            for (f, (_, column, lhs)) in fills.iter().enumerate() {
                let rhs = b.column_by_name(column).and_then(Texts::of);
                for i in 0..b.num_rows() {
                    if let Some(v) = rhs.and_then(|r| r.present(i)) {
                        *counts[f]
                            .entry(key_of(&b, lhs, i))
                            .or_default()
                            .entry(v.to_string())
                            .or_default() += 1;
                    }
                }
            }
        }
        for (f, (k, _, _)) in fills.iter().enumerate() {
            let majority: HashMap<String, String> = counts[f]
                .drain()
                .filter_map(|(key, vs)| {
                    vs.into_iter()
                        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                        .map(|(v, _)| (key, v))
                })
                .collect();
            if let Some((_, _, Ready::Fill(_, m))) = fixes.iter_mut().find(|(x, _, _)| x == k) {
                *m = majority;
            }
        }
    }
    // Checks, evaluated on the fixed values.
    let mut ctx = Context {
        code_tables: local
            .iter()
            .map(|(k, v)| (k.clone(), v.iter().map(|(c, _)| c.clone()).collect()))
            .collect(),
        ..Default::default()
    };
    let mut checks: Vec<(usize, Eval)> = Vec::new();
    for (k, r) in rules.iter().enumerate() {
        if let Some(c) = &r.def.check
            && let Some(e) =
                Eval::new(c, k, &mut ctx).map_err(|e| Error::new(ErrorCode::RuleInvalid, e))?
        {
            checks.push((k, e));
        }
    }
    let std_name = table.to_string();
    let schema = std_schema(columns);
    // A re-run replaces the batch's rows.
    lake.delete_rows(Layer::Std, &std_name, ("_batch_id", batch_id))
        .await?;
    lake.delete_rows(
        Layer::Quarantine,
        &filtered_table(table),
        ("_batch_id", batch_id),
    )
    .await?;
    let mut out = lake.appender(Layer::Std, &std_name, schema.clone()).await?;
    let mut filtered_rows: Vec<RecordBatch> = Vec::new();
    let mut report = CleanReport::default();
    let mut stream = crate::scan::rows(lake, table, Some(batch_id))
        .await?
        .execute_stream()
        .await
        .map_err(lake_err(format!("cannot read {table}")))?;
    while let Some(b) = stream.next().await {
        let b = b.map_err(lake_err(format!("cannot read {table}")))?;
        let n = b.num_rows();
        report.rows_in += n as u64;
        let refs = b.column_by_name("_source_ref").and_then(Texts::of);
        let mut applied: Vec<Vec<String>> = vec![Vec::new(); n];
        let mut flags: Vec<Vec<String>> = vec![Vec::new(); n];
        // Fixed text per column.
        let mut text: Vec<Vec<Option<String>>> = columns
            .iter()
            .map(|(c, _)| {
                let t = b.column_by_name(c).and_then(Texts::of);
                (0..n)
                    .map(|i| t.and_then(|t| t.get(i)).map(str::to_string))
                    .collect()
            })
            .collect();
        for (k, column, ready) in &fixes {
            let Some(ci) = columns.iter().position(|(c, _)| c == column) else {
                continue;
            };
            let label = format!(
                "{}@{column}",
                rules[*k].def.fix.as_ref().map_or("", |f| f.name())
            );
            for i in 0..n {
                let new = match ready {
                    Ready::Fill(lhs, majority) => {
                        if text[ci][i].as_deref().is_some_and(|v| !v.trim().is_empty()) {
                            None
                        } else {
                            majority.get(&key_of(&b, lhs, i)).cloned()
                        }
                    }
                    r => text[ci][i].as_deref().and_then(|v| r.apply(v)),
                };
                if let Some(v) = new {
                    text[ci][i] = Some(v);
                    applied[i].push(label.clone());
                    *report.fixes.entry(label.clone()).or_default() += 1;
                }
            }
        }
        // The checks see the fixed values.
        let mut drop_row = vec![false; n];
        let mut reasons: Vec<(usize, i64, i64, String)> = Vec::new();
        if !checks.is_empty() {
            let mut fields: Vec<Field> = columns
                .iter()
                .map(|(c, _)| Field::new(c, DataType::Utf8, true))
                .collect();
            fields.push(Field::new("_source_ref", DataType::Utf8, false));
            let mut arrays: Vec<ArrayRef> = text
                .iter()
                .map(|col| {
                    Arc::new(StringArray::from_iter(col.iter().map(|v| v.as_deref()))) as ArrayRef
                })
                .collect();
            // Row positions stand in for the refs, to map violations back to rows.
            arrays.push(Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| i.to_string()),
            )));
            let fixed = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
                .map_err(|e| Error::new(ErrorCode::Internal, format!("cleaning: {e}")))?;
            let positions = Texts::of(fixed.column(columns.len())).expect("text column");
            for (k, e) in checks.iter_mut() {
                let mut found: Vec<Violation> = Vec::new();
                e.feed(*k, &fixed, positions, &mut found);
                let r = &rules[*k];
                for v in found {
                    let Ok(i) = v.source_ref.parse::<usize>() else {
                        continue;
                    };
                    let why = format!("{}：{} {}", r.name, v.value, v.detail);
                    match r.action {
                        Action::Filter => {
                            drop_row[i] = true;
                            reasons.push((i, r.id, r.version, why));
                        }
                        _ => flags[i].push(format!("{}#{}", r.name, r.version)),
                    }
                }
            }
        }
        // Typed columns.
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len() + 4);
        for (ci, (name, ty)) in columns.iter().enumerate() {
            let vals = &text[ci];
            let array: ArrayRef =
                match ty {
                    StdType::Text => Arc::new(StringArray::from_iter(
                        vals.iter()
                            .map(|v| v.as_deref().filter(|s| !s.trim().is_empty())),
                    )),
                    StdType::Number => {
                        let mut bld = Float64Builder::with_capacity(n);
                        for (i, v) in vals.iter().enumerate() {
                            match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                                None => bld.append_null(),
                                Some(s) => match s.replace(',', "").parse::<f64>() {
                                    Ok(x) => bld.append_value(x),
                                    Err(_) => {
                                        bld.append_null();
                                        flags[i].push(format!("类型@{name}"));
                                        report.type_failures += 1;
                                    }
                                },
                            }
                        }
                        Arc::new(bld.finish())
                    }
                    StdType::Date => {
                        let mut bld = Date32Builder::with_capacity(n);
                        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
                        for (i, v) in vals.iter().enumerate() {
                            match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                                None => bld.append_null(),
                                Some(s) => match yishu_types::date::parse_cn_date(s) {
                                    Ok(d) => bld.append_value((d - epoch).num_days() as i32),
                                    Err(_) => {
                                        bld.append_null();
                                        flags[i].push(format!("类型@{name}"));
                                        report.type_failures += 1;
                                    }
                                },
                            }
                        }
                        Arc::new(bld.finish())
                    }
                    StdType::DateTime => {
                        let mut bld = TimestampMicrosecondBuilder::with_capacity(n);
                        for (i, v) in vals.iter().enumerate() {
                            match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                                None => bld.append_null(),
                                Some(s) => match chrono::NaiveDateTime::parse_from_str(
                                    s,
                                    "%Y-%m-%d %H:%M:%S",
                                )
                                .or_else(|_| {
                                    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                                }) {
                                    Ok(t) => bld.append_value(t.and_utc().timestamp_micros()),
                                    Err(_) => {
                                        bld.append_null();
                                        flags[i].push(format!("类型@{name}"));
                                        report.type_failures += 1;
                                    }
                                },
                            }
                        }
                        Arc::new(bld.finish())
                    }
                };
            arrays.push(array);
        }
        arrays.push(Arc::new(StringArray::from(vec![batch_id; n])));
        arrays.push(Arc::new(StringArray::from_iter_values((0..n).map(|i| {
            refs.and_then(|r| r.get(i)).unwrap_or_default().to_string()
        }))));
        arrays.push(Arc::new(StringArray::from_iter_values(
            applied.iter().map(|a| a.join(";")),
        )));
        let mut fb = StringBuilder::new();
        for (i, f) in flags.iter().enumerate() {
            if !f.is_empty() && !drop_row[i] {
                report.rows_flagged += 1;
            }
            fb.append_value(f.join(";"));
        }
        arrays.push(Arc::new(fb.finish()));
        let all = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("std batch: {e}")))?;
        let keep = BooleanArray::from(drop_row.iter().map(|d| !d).collect::<Vec<_>>());
        let kept = filter_record_batch(&all, &keep)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("std batch: {e}")))?;
        report.rows_out += kept.num_rows() as u64;
        if kept.num_rows() > 0 {
            out.write(kept).await?;
        }
        if !reasons.is_empty() {
            // One quarantine row per filtered row (its first reason), with the raw values.
            reasons.sort_by_key(|r| r.0);
            reasons.dedup_by_key(|r| r.0);
            report.rows_filtered += reasons.len() as u64;
            let raw = |i: usize| {
                let obj: serde_json::Map<String, serde_json::Value> = columns
                    .iter()
                    .map(|(c, _)| {
                        let v = b
                            .column_by_name(c)
                            .and_then(Texts::of)
                            .and_then(|t| t.get(i));
                        (c.clone(), serde_json::json!(v))
                    })
                    .collect();
                serde_json::Value::Object(obj).to_string()
            };
            let q = RecordBatch::try_new(
                filtered_schema(),
                vec![
                    Arc::new(StringArray::from(vec![batch_id; reasons.len()])),
                    Arc::new(StringArray::from_iter_values(reasons.iter().map(|r| {
                        refs.and_then(|x| x.get(r.0))
                            .unwrap_or_default()
                            .to_string()
                    }))),
                    Arc::new(yishu_lake::arrow::array::Int64Array::from_iter_values(
                        reasons.iter().map(|r| r.1),
                    )),
                    Arc::new(yishu_lake::arrow::array::Int64Array::from_iter_values(
                        reasons.iter().map(|r| r.2),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        reasons.iter().map(|r| r.3.clone()),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        reasons.iter().map(|r| raw(r.0)),
                    )),
                ],
            )
            .map_err(|e| Error::new(ErrorCode::Internal, format!("filtered rows: {e}")))?;
            filtered_rows.push(q);
        }
    }
    if report.rows_in != report.rows_out + report.rows_filtered {
        return Err(Error::new(
            ErrorCode::Internal,
            format!(
                "cleaning lost rows: {} in, {} out, {} filtered",
                report.rows_in, report.rows_out, report.rows_filtered
            ),
        ));
    }
    // Filtered rows first: if the std commit then fails, a re-run replaces both.
    if !filtered_rows.is_empty() {
        let mut meta = std::collections::HashMap::new();
        meta.insert("batch_id".to_string(), serde_json::json!(batch_id));
        lake.append(
            Layer::Quarantine,
            &filtered_table(table),
            filtered_rows,
            meta,
        )
        .await?;
    }
    let mut meta = std::collections::HashMap::new();
    meta.insert("batch_id".to_string(), serde_json::json!(batch_id));
    meta.insert("report".to_string(), serde_json::json!(report));
    out.commit(meta).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_do_what_they_say() {
        assert_eq!(trim_cjk(" 张\u{3000}三 "), "张三");
        assert_eq!(trim_cjk("王 小 明"), "王小明");
        assert_eq!(trim_cjk("John Smith"), "John Smith");
        assert_eq!(Ready::HalfWidth.apply("５１０１"), Some("5101".into()));
        assert_eq!(
            Ready::UnifyDate.apply("2024年3月5日"),
            Some("2024-03-05".into())
        );
        assert_eq!(
            Ready::UnifyDate.apply("2024-03-05"),
            None,
            "already right: no fix recorded"
        );
        let sex = Ready::MapCodes(code_map("sex", &HashMap::new()));
        assert_eq!(sex.apply("男"), Some("1".into()));
        assert_eq!(sex.apply("女性"), sex.apply("女"));
        let up = Ready::UpgradeId15.apply("110105491231002").unwrap();
        assert!(
            up.starts_with("11010519491231002") && up.len() == 18,
            "{up}"
        );
        assert_eq!(default_action(Level::High, Level::High), Action::Filter);
        assert_eq!(default_action(Level::Low, Level::High), Action::Tolerate);
        assert_eq!(default_action(Level::High, Level::Medium), Action::Tolerate);
    }

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
