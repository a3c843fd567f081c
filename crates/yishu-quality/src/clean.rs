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
    Array, ArrayRef, BooleanArray, Date32Builder, Float64Builder, Int64Array, RecordBatch,
    StringArray, StringBuilder, TimestampMicrosecondBuilder,
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
    f.push(Field::new("_batch_id", DataType::Utf8, false));
    f.push(Field::new("_ods_ref", DataType::Utf8, false));
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
    Simplify,
    /// The position of the ID column among the std columns.
    BirthFromId(Option<usize>),
    Fill(Vec<String>, HashMap<String, String>),
}

impl Ready {
    fn apply(&self, v: &str) -> Option<String> {
        // Most values need no fix: say so without building a new string.
        let untouched = match self {
            Ready::Trim => !v.chars().any(|c| c.is_whitespace() || c == '\u{3000}'),
            Ready::HalfWidth => v.is_ascii(),
            Ready::UnifyDate => is_iso_date(v),
            Ready::MapCodes(m) => m.get(v).is_some_and(|c| c == v),
            Ready::UpgradeId15 => v.trim().len() != 15,
            Ready::Simplify => v.is_ascii(),
            Ready::BirthFromId(_) | Ready::Fill(..) => true,
        };
        if untouched {
            return None;
        }
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
            Ready::Simplify => fast2s::convert(v),
            Ready::BirthFromId(_) | Ready::Fill(..) => return None,
        };
        (out != v).then_some(out)
    }
}

/// The birth date a valid citizen ID holds, when `birth` is missing or another date.
fn birth_from_id(id: Option<&str>, birth: Option<&str>) -> Option<String> {
    let id = yishu_types::citizen_id::CitizenId::parse(id?.trim()).ok()?;
    let want = id.birth_date();
    let given = birth
        .filter(|b| !b.trim().is_empty())
        .and_then(|b| yishu_types::date::parse_cn_date(b.trim()).ok());
    (given != Some(want)).then(|| want.format("%Y-%m-%d").to_string())
}

/// `yyyy-mm-dd` already.
fn is_iso_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn map_key(s: &str) -> String {
    yishu_types::text::fold_width(s).trim().to_lowercase()
}

/// Every spelling a national table resolves, and a department table's mapped codes.
fn code_map(table: &str, local: &LocalTables) -> HashMap<String, String> {
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

/// One batch's item columns as read, with the values fixes replaced. Untouched columns are passed
/// through without copying their values.
struct Columns<'a> {
    read: Vec<Option<&'a ArrayRef>>,
    texts: Vec<Option<Texts<'a>>>,
    /// Per column, when a fix changed any value: the replaced values by row.
    fixed: Vec<Option<Vec<Option<String>>>>,
    rows: usize,
}

impl<'a> Columns<'a> {
    fn new(b: &'a RecordBatch, columns: &[(String, StdType)]) -> Self {
        let read: Vec<Option<&ArrayRef>> =
            columns.iter().map(|(c, _)| b.column_by_name(c)).collect();
        Columns {
            texts: read.iter().map(|a| a.and_then(Texts::of)).collect(),
            read,
            fixed: vec![None; columns.len()],
            rows: b.num_rows(),
        }
    }

    /// The value at row `i`, after the fixes so far.
    fn get(&self, c: usize, i: usize) -> Option<&str> {
        if let Some(v) = self.fixed[c].as_ref().and_then(|f| f[i].as_deref()) {
            return Some(v);
        }
        self.texts[c].and_then(|t| t.get(i))
    }

    fn set(&mut self, c: usize, i: usize, v: String) {
        let rows = self.rows;
        self.fixed[c].get_or_insert_with(|| vec![None; rows])[i] = Some(v);
    }

    /// The column as text, fixes included (the read array itself when nothing changed).
    fn array(&self, c: usize) -> ArrayRef {
        match (&self.fixed[c], self.read[c]) {
            (None, Some(a)) if self.texts[c].is_some() => a.clone(),
            _ => Arc::new(StringArray::from_iter(
                (0..self.rows).map(|i| self.get(c, i)),
            )),
        }
    }

    /// The std text column: fixes included, blank values as null.
    fn text_array(&self, c: usize) -> Result<ArrayRef, Error> {
        let blank = |i: usize| self.get(c, i).is_some_and(|s| s.trim().is_empty());
        if self.fixed[c].is_none()
            && let Some(a) = self.read[c]
            && self.texts[c].is_some()
            && !(0..self.rows).any(blank)
        {
            return as_utf8(a);
        }
        Ok(Arc::new(StringArray::from_iter(
            (0..self.rows).map(|i| self.get(c, i).filter(|s| !s.trim().is_empty())),
        )))
    }
}

/// A text array in the std layer's layout (Utf8).
fn as_utf8(a: &ArrayRef) -> Result<ArrayRef, Error> {
    if a.data_type() == &DataType::Utf8 {
        return Ok(a.clone());
    }
    yishu_lake::arrow::compute::cast(a, &DataType::Utf8)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("std text column: {e}")))
}

/// A number as departments write it (thousands separators allowed).
fn parse_number(s: &str) -> Option<f64> {
    if s.contains(',') {
        s.replace(',', "").parse().ok()
    } else {
        s.parse().ok()
    }
}

/// One text value per row: the row's labels joined by `;`.
fn joined(rows: &[Vec<&str>]) -> ArrayRef {
    let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 4);
    for r in rows {
        match r.as_slice() {
            [] => b.append_value(""),
            [one] => b.append_value(one),
            many => b.append_value(many.join(";")),
        }
    }
    Arc::new(b.finish())
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

/// Cleans one ods batch into std. A rule that cannot run (its reference could not be read) is
/// skipped and named in the report; the batch is still cleaned.
pub async fn clean_batch(job: CleanJob<'_>) -> Result<CleanReport, Error> {
    let CleanJob {
        lake,
        table,
        into,
        batch_id,
        columns,
        rules,
        local,
        references,
        mut lookups,
    } = job;
    let mut report = CleanReport::default();
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
                Fix::Simplify { .. } => Ready::Simplify,
                Fix::BirthFromId { id, .. } => {
                    Ready::BirthFromId(columns.iter().position(|(c, _)| c == id))
                }
                Fix::FillDependency { column, lhs } => {
                    fills.push((k, column.clone(), lhs.clone()));
                    Ready::Fill(lhs.clone(), HashMap::new())
                }
                Fix::FillReference { key, resource, .. } => match lookups.remove(&k) {
                    Some(m) => Ready::Fill(vec![key.clone()], m),
                    None => {
                        report.broken.push(format!(
                            "{}：引用资源 {resource} 无法读取，本规则未执行",
                            r.name
                        ));
                        continue;
                    }
                },
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
        references,
    };
    let mut checks: Vec<(usize, Eval)> = Vec::new();
    for (k, r) in rules.iter().enumerate() {
        if let Some(c) = &r.def.check {
            match Eval::new(c, k, &mut ctx) {
                Ok(Some(e)) => checks.push((k, e)),
                Ok(None) => {}
                Err(why) => report
                    .broken
                    .push(format!("{}：{why}，本规则未执行", r.name)),
            }
        }
    }
    let schema = std_schema(columns);
    // A re-run replaces the batch's rows.
    lake.delete_rows(Layer::Std, into, ("_batch_id", batch_id))
        .await?;
    lake.delete_rows(
        Layer::Quarantine,
        &filtered_table(into),
        ("_batch_id", batch_id),
    )
    .await?;
    let mut out = lake.appender(Layer::Std, into, schema.clone()).await?;
    // A std table written before rows carried their lineage's hash keeps its columns.
    let ref_hash = out.has_column(yishu_lake::lineage::REF_HASH);
    // Labels written per row, made once.
    let fix_labels: Vec<String> = fixes
        .iter()
        .map(|(k, column, _)| {
            let name = rules[*k].def.fix.as_ref().map_or("", |f| f.name());
            format!("{name}@{column}")
        })
        .collect();
    let check_flags: Vec<String> = checks
        .iter()
        .map(|(k, _)| format!("{}#{}", rules[*k].name, rules[*k].version))
        .collect();
    let type_flags: Vec<String> = columns.iter().map(|(c, _)| format!("类型@{c}")).collect();
    let mut filtered_rows: Vec<RecordBatch> = Vec::new();
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
        let mut applied: Vec<Vec<&str>> = vec![Vec::new(); n];
        let mut flags: Vec<Vec<&str>> = vec![Vec::new(); n];
        // The batch's columns; a fix replaces only the values it changes.
        let mut cols = Columns::new(&b, columns);
        for (f, (_, column, ready)) in fixes.iter().enumerate() {
            let Some(ci) = columns.iter().position(|(c, _)| c == column) else {
                continue;
            };
            let label = fix_labels[f].as_str();
            for (i, done) in applied.iter_mut().enumerate() {
                let new = match ready {
                    Ready::Fill(lhs, majority) => {
                        if cols.get(ci, i).is_some_and(|v| !v.trim().is_empty()) {
                            None
                        } else {
                            majority.get(&key_of(&b, lhs, i)).cloned()
                        }
                    }
                    Ready::BirthFromId(id) => {
                        birth_from_id(id.and_then(|k| cols.get(k, i)), cols.get(ci, i))
                    }
                    r => cols.get(ci, i).and_then(|v| r.apply(v)),
                };
                if let Some(v) = new {
                    cols.set(ci, i, v);
                    done.push(label);
                    *report.fixes.entry(fix_labels[f].clone()).or_default() += 1;
                }
            }
        }
        // The checks see the fixed values.
        let mut drop_row = vec![false; n];
        let mut reasons: Vec<(usize, i64, i64, String)> = Vec::new();
        if !checks.is_empty() {
            let mut fields: Vec<Field> = Vec::with_capacity(columns.len() + 1);
            let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len() + 1);
            for (ci, (c, _)) in columns.iter().enumerate() {
                let a = cols.array(ci);
                fields.push(Field::new(c, a.data_type().clone(), true));
                arrays.push(a);
            }
            // Row positions stand in for the refs, to map violations back to rows.
            fields.push(Field::new("_source_ref", DataType::Utf8, false));
            arrays.push(Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| i.to_string()),
            )));
            let fixed = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
                .map_err(|e| Error::new(ErrorCode::Internal, format!("cleaning: {e}")))?;
            let positions = Texts::of(fixed.column(columns.len())).expect("text column");
            for (c, (k, e)) in checks.iter_mut().enumerate() {
                let mut found: Vec<Violation> = Vec::new();
                e.feed(*k, &fixed, positions, &mut found);
                let r = &rules[*k];
                for v in found {
                    let Ok(i) = v.source_ref.parse::<usize>() else {
                        continue;
                    };
                    match r.action {
                        Action::Filter => {
                            drop_row[i] = true;
                            let why = format!("{}：{} {}", r.name, v.value, v.detail);
                            reasons.push((i, r.id, r.version, why));
                        }
                        _ => flags[i].push(check_flags[c].as_str()),
                    }
                }
            }
        }
        // Typed columns.
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len() + 4);
        for (ci, (_, ty)) in columns.iter().enumerate() {
            let type_flag = type_flags[ci].as_str();
            let mut failed = |i: usize| {
                flags[i].push(type_flag);
                report.type_failures += 1;
            };
            let value = |i: usize| cols.get(ci, i).map(str::trim).filter(|s| !s.is_empty());
            let array: ArrayRef =
                match ty {
                    StdType::Text => cols.text_array(ci)?,
                    StdType::Number => {
                        let mut bld = Float64Builder::with_capacity(n);
                        for i in 0..n {
                            match value(i) {
                                None => bld.append_null(),
                                Some(s) => match parse_number(s) {
                                    Some(x) => bld.append_value(x),
                                    None => {
                                        bld.append_null();
                                        failed(i);
                                    }
                                },
                            }
                        }
                        Arc::new(bld.finish())
                    }
                    StdType::Date => {
                        let mut bld = Date32Builder::with_capacity(n);
                        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
                        for i in 0..n {
                            match value(i) {
                                None => bld.append_null(),
                                Some(s) => match yishu_types::date::parse_cn_date(s) {
                                    Ok(d) => bld.append_value((d - epoch).num_days() as i32),
                                    Err(_) => {
                                        bld.append_null();
                                        failed(i);
                                    }
                                },
                            }
                        }
                        Arc::new(bld.finish())
                    }
                    StdType::DateTime => {
                        let mut bld = TimestampMicrosecondBuilder::with_capacity(n);
                        for i in 0..n {
                            match value(i) {
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
                                        failed(i);
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
        arrays.push(match b.column_by_name("_source_ref") {
            Some(r) => as_utf8(r)?,
            None => Arc::new(StringArray::from(vec![""; n])),
        });
        arrays.push(joined(&applied));
        for (i, f) in flags.iter().enumerate() {
            if !f.is_empty() && !drop_row[i] {
                report.rows_flagged += 1;
            }
        }
        arrays.push(joined(&flags));
        let hashes: Int64Array = (0..n)
            .map(|i| {
                let r = refs.and_then(|t| t.get(i)).unwrap_or_default();
                yishu_lake::key_hash(&[batch_id, r])
            })
            .collect::<Vec<i64>>()
            .into();
        arrays.push(Arc::new(hashes));
        let mut all = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("std batch: {e}")))?;
        if !ref_hash {
            all.remove_column(all.num_columns() - 1);
        }
        let kept = if drop_row.iter().any(|d| *d) {
            let keep = BooleanArray::from_iter(drop_row.iter().map(|d| Some(!d)));
            filter_record_batch(&all, &keep)
                .map_err(|e| Error::new(ErrorCode::Internal, format!("std batch: {e}")))?
        } else {
            all
        };
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
            &filtered_table(into),
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
        assert_eq!(Ready::Simplify.apply("唐偉斌"), Some("唐伟斌".into()));
        assert_eq!(Ready::Simplify.apply("唐伟斌"), None);
        // The ID holds 1949-12-31: a missing or impossible date takes it; the right one stays.
        let id = Some("11010519491231002X");
        assert_eq!(
            birth_from_id(id, Some("2045-01-01")),
            Some("1949-12-31".into())
        );
        assert_eq!(birth_from_id(id, None), Some("1949-12-31".into()));
        assert_eq!(birth_from_id(id, Some("1949年12月31日")), None);
        assert_eq!(
            birth_from_id(Some("110105194912310021"), Some("2045-01-01")),
            None
        );
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
