//! Cleaning one ods batch into std, Arrow batch by Arrow batch: the fixes, then the checks on the
//! fixed values (violating rows filtered to quarantine with the reason, or kept and flagged),
//! then the typed columns with lineage; rows in = rows out + rows filtered, in one commit.

use super::fix::{
    Columns, Ready, as_utf8, birth_from_id, code_map, joined, key_of, lake_err, parse_number,
};
use super::{
    Action, CleanJob, CleanReport, CleanRule, Fix, LocalTables, Lookups, StdType, filtered_schema,
    filtered_table, std_schema,
};
use crate::eval::{Context, Eval, Violation};
use crate::text::Texts;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use yishu_lake::arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Builder, Float64Builder, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondBuilder,
};
use yishu_lake::arrow::compute::filter_record_batch;
use yishu_lake::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use yishu_lake::lineage::{BATCH_ID, REF_HASH, SOURCE_REF};
use yishu_lake::{Lake, Layer};
use yishu_types::{Error, ErrorCode};

/// A fix ready to run: its rule's position, its column, and what it does.
type ReadyFix = (usize, String, Ready);
/// A dependency fill: its rule's position, the column it fills, the columns it keys on.
type Fill = (usize, String, Vec<String>);

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
    let (mut fixes, fills) = ready_fixes(rules, columns, local, &mut lookups, &mut report);
    if !fills.is_empty() {
        learn_fills(lake, table, batch_id, &fills, &mut fixes).await?;
    }
    let checks = ready_checks(rules, local, references, &mut report);
    // A re-run replaces the batch's rows.
    lake.delete_rows(Layer::Std, into, (BATCH_ID, batch_id))
        .await?;
    lake.delete_rows(
        Layer::Quarantine,
        &filtered_table(into),
        (BATCH_ID, batch_id),
    )
    .await?;
    let schema = std_schema(columns);
    let mut out = lake.appender(Layer::Std, into, schema.clone()).await?;
    let mut cleaner = Cleaner {
        batch_id,
        columns,
        rules,
        labels: Labels::new(rules, columns, &fixes, &checks),
        fixes,
        checks,
        schema,
        // A std table written before rows carried their lineage's hash keeps its columns.
        ref_hash: out.has_column(REF_HASH),
    };
    let mut filtered_rows: Vec<RecordBatch> = Vec::new();
    let mut rows = OdsRows::open(lake, table, batch_id).await?;
    while let Some(b) = rows.next().await? {
        let (kept, filtered) = cleaner.clean(&b, &mut report)?;
        if kept.num_rows() > 0 {
            out.write(kept).await?;
        }
        filtered_rows.extend(filtered);
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
        let meta = HashMap::from([("batch_id".to_string(), serde_json::json!(batch_id))]);
        lake.append(
            Layer::Quarantine,
            &filtered_table(into),
            filtered_rows,
            meta,
        )
        .await?;
    }
    let meta = HashMap::from([
        ("batch_id".to_string(), serde_json::json!(batch_id)),
        ("report".to_string(), serde_json::json!(report)),
    ]);
    out.commit(meta).await?;
    Ok(report)
}

/// A batch's ods rows, streamed.
struct OdsRows {
    stream: yishu_lake::datafusion::physical_plan::SendableRecordBatchStream,
    what: String,
}

impl OdsRows {
    async fn open(lake: &Lake, table: &str, batch_id: &str) -> Result<Self, Error> {
        let what = format!("cannot read {table}");
        let stream = crate::scan::rows(lake, table, Some(batch_id))
            .await?
            .execute_stream()
            .await
            .map_err(lake_err(what.clone()))?;
        Ok(OdsRows { stream, what })
    }

    async fn next(&mut self) -> Result<Option<RecordBatch>, Error> {
        match self.stream.next().await {
            Some(b) => b.map(Some).map_err(lake_err(self.what.clone())),
            None => Ok(None),
        }
    }
}

/// The rules' fixes, ready to run, in rule order; and the dependency fills among them, which
/// learn their values from the batch first. A `fill_reference` whose lookup could not be read is
/// reported broken and skipped.
fn ready_fixes(
    rules: &[CleanRule],
    columns: &[(String, StdType)],
    local: &LocalTables,
    lookups: &mut Lookups,
    report: &mut CleanReport,
) -> (Vec<ReadyFix>, Vec<Fill>) {
    let mut fixes = Vec::new();
    let mut fills = Vec::new();
    for (k, r) in rules.iter().enumerate() {
        let Some(f) = &r.def.fix else {
            continue;
        };
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
    (fixes, fills)
}

/// A dependency fill learns the majority value per left side from the batch.
async fn learn_fills(
    lake: &Lake,
    table: &str,
    batch_id: &str,
    fills: &[Fill],
    fixes: &mut [ReadyFix],
) -> Result<(), Error> {
    let mut counts: Vec<HashMap<String, HashMap<String, u64>>> = vec![HashMap::new(); fills.len()];
    let mut rows = OdsRows::open(lake, table, batch_id).await?;
    while let Some(b) = rows.next().await? {
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
    Ok(())
}

/// The rules' checks, ready to evaluate on fixed values; one that cannot be set up is reported
/// broken and skipped.
fn ready_checks(
    rules: &[CleanRule],
    local: &LocalTables,
    references: super::References,
    report: &mut CleanReport,
) -> Vec<(usize, Eval)> {
    let mut ctx = Context {
        code_tables: local
            .iter()
            .map(|(k, v)| (k.clone(), v.iter().map(|(c, _)| c.clone()).collect()))
            .collect(),
        references,
    };
    let mut checks = Vec::new();
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
    checks
}

/// What a std row's `_fixes` and `_flags` say, made once: each fix (`trim@姓名`), each check
/// (`rule#version`), each column's type failure (`类型@出生日期`).
struct Labels {
    fixes: Vec<String>,
    checks: Vec<String>,
    types: Vec<String>,
}

impl Labels {
    fn new(
        rules: &[CleanRule],
        columns: &[(String, StdType)],
        fixes: &[ReadyFix],
        checks: &[(usize, Eval)],
    ) -> Self {
        Labels {
            fixes: fixes
                .iter()
                .map(|(k, column, _)| {
                    let name = rules[*k].def.fix.as_ref().map_or("", |f| f.name());
                    format!("{name}@{column}")
                })
                .collect(),
            checks: checks
                .iter()
                .map(|(k, _)| format!("{}#{}", rules[*k].name, rules[*k].version))
                .collect(),
            types: columns.iter().map(|(c, _)| format!("类型@{c}")).collect(),
        }
    }
}

/// A row's flag: a check it failed (tolerated) or a column whose value is not of its type.
#[derive(Clone, Copy)]
enum Flag {
    Check(usize),
    Type(usize),
}

/// A row filtered by a check: its position, the rule's id and version, and why.
type Filtered = (usize, i64, i64, String);

/// Cleaning applied to each Arrow batch of a batch's ods rows.
struct Cleaner<'a> {
    batch_id: &'a str,
    columns: &'a [(String, StdType)],
    rules: &'a [CleanRule],
    fixes: Vec<ReadyFix>,
    checks: Vec<(usize, Eval)>,
    labels: Labels,
    schema: SchemaRef,
    ref_hash: bool,
}

impl Cleaner<'_> {
    /// The std rows kept of `b`, and its filtered rows for quarantine.
    fn clean(
        &mut self,
        b: &RecordBatch,
        report: &mut CleanReport,
    ) -> Result<(RecordBatch, Option<RecordBatch>), Error> {
        let n = b.num_rows();
        report.rows_in += n as u64;
        // The batch's columns; a fix replaces only the values it changes.
        let mut cols = Columns::new(b, self.columns);
        let applied = self.fix(b, &mut cols, report);
        // The checks see the fixed values.
        let mut flags: Vec<Vec<Flag>> = vec![Vec::new(); n];
        let mut reasons = self.check(&cols, n, &mut flags)?;
        let mut drop_row = vec![false; n];
        for r in &reasons {
            drop_row[r.0] = true;
        }
        let mut arrays = self.typed(&cols, n, &mut flags, report)?;
        let refs = b.column_by_name(SOURCE_REF).and_then(Texts::of);
        arrays.push(Arc::new(StringArray::from(vec![self.batch_id; n])));
        arrays.push(match b.column_by_name(SOURCE_REF) {
            Some(r) => as_utf8(r)?,
            None => Arc::new(StringArray::from(vec![""; n])),
        });
        let labels = &self.labels;
        let applied: Vec<Vec<&str>> = applied
            .iter()
            .map(|row| row.iter().map(|f| labels.fixes[*f].as_str()).collect())
            .collect();
        arrays.push(joined(&applied));
        for (i, f) in flags.iter().enumerate() {
            if !f.is_empty() && !drop_row[i] {
                report.rows_flagged += 1;
            }
        }
        let flags: Vec<Vec<&str>> = flags
            .iter()
            .map(|row| {
                row.iter()
                    .map(|f| match *f {
                        Flag::Check(c) => labels.checks[c].as_str(),
                        Flag::Type(c) => labels.types[c].as_str(),
                    })
                    .collect()
            })
            .collect();
        arrays.push(joined(&flags));
        let hashes: Int64Array = (0..n)
            .map(|i| {
                let r = refs.and_then(|t| t.get(i)).unwrap_or_default();
                yishu_lake::key_hash(&[self.batch_id, r])
            })
            .collect::<Vec<i64>>()
            .into();
        arrays.push(Arc::new(hashes));
        let mut all = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("std batch: {e}")))?;
        if !self.ref_hash {
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
        if reasons.is_empty() {
            return Ok((kept, None));
        }
        // One quarantine row per filtered row (its first reason), with the raw values.
        reasons.sort_by_key(|r| r.0);
        reasons.dedup_by_key(|r| r.0);
        report.rows_filtered += reasons.len() as u64;
        Ok((kept, Some(self.filtered(b, &reasons)?)))
    }

    /// Applies the fixes to `cols`; returns the fixes applied to each row.
    fn fix(
        &self,
        b: &RecordBatch,
        cols: &mut Columns<'_>,
        report: &mut CleanReport,
    ) -> Vec<Vec<usize>> {
        let mut applied: Vec<Vec<usize>> = vec![Vec::new(); b.num_rows()];
        for (f, (_, column, ready)) in self.fixes.iter().enumerate() {
            let Some(ci) = self.columns.iter().position(|(c, _)| c == column) else {
                continue;
            };
            for (i, done) in applied.iter_mut().enumerate() {
                let new = match ready {
                    Ready::Fill(lhs, majority) => {
                        if cols.get(ci, i).is_some_and(|v| !v.trim().is_empty()) {
                            None
                        } else {
                            majority.get(&key_of(b, lhs, i)).cloned()
                        }
                    }
                    Ready::BirthFromId(id) => {
                        birth_from_id(id.and_then(|k| cols.get(k, i)), cols.get(ci, i))
                    }
                    r => cols.get(ci, i).and_then(|v| r.apply(v)),
                };
                if let Some(v) = new {
                    cols.set(ci, i, v);
                    done.push(f);
                    *report
                        .fixes
                        .entry(self.labels.fixes[f].clone())
                        .or_default() += 1;
                }
            }
        }
        applied
    }

    /// Evaluates the checks on the fixed values: a tolerated violation flags its row, a
    /// filtering one returns the row with its reason.
    fn check(
        &mut self,
        cols: &Columns<'_>,
        n: usize,
        flags: &mut [Vec<Flag>],
    ) -> Result<Vec<Filtered>, Error> {
        let mut reasons = Vec::new();
        if self.checks.is_empty() {
            return Ok(reasons);
        }
        let mut fields: Vec<Field> = Vec::with_capacity(self.columns.len() + 1);
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len() + 1);
        for (ci, (c, _)) in self.columns.iter().enumerate() {
            let a = cols.array(ci);
            fields.push(Field::new(c, a.data_type().clone(), true));
            arrays.push(a);
        }
        // Row positions stand in for the refs, to map violations back to rows.
        fields.push(Field::new(SOURCE_REF, DataType::Utf8, false));
        arrays.push(Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| i.to_string()),
        )));
        let fixed = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("cleaning: {e}")))?;
        let positions = Texts::of(fixed.column(self.columns.len())).expect("text column");
        for (c, (k, e)) in self.checks.iter_mut().enumerate() {
            let mut found: Vec<Violation> = Vec::new();
            e.feed(*k, &fixed, positions, &mut found);
            let r = &self.rules[*k];
            for v in found {
                let Ok(i) = v.source_ref.parse::<usize>() else {
                    continue;
                };
                match r.action {
                    Action::Filter => {
                        let why = format!("{}：{} {}", r.name, v.value, v.detail);
                        reasons.push((i, r.id, r.version, why));
                    }
                    _ => flags[i].push(Flag::Check(c)),
                }
            }
        }
        Ok(reasons)
    }

    /// The item columns in their std types; a value that is not of its type is null and
    /// flagged.
    fn typed(
        &self,
        cols: &Columns<'_>,
        n: usize,
        flags: &mut [Vec<Flag>],
        report: &mut CleanReport,
    ) -> Result<Vec<ArrayRef>, Error> {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len() + 5);
        for (ci, (_, ty)) in self.columns.iter().enumerate() {
            let mut failed = |i: usize| {
                flags[i].push(Flag::Type(ci));
                report.type_failures += 1;
            };
            let value = |i: usize| cols.get(ci, i).map(str::trim).filter(|s| !s.is_empty());
            let array: ArrayRef = match ty {
                StdType::Text => cols.text_array(ci)?,
                StdType::Number => {
                    let mut bld = Float64Builder::with_capacity(n);
                    for i in 0..n {
                        match value(i).map(|s| parse_number(s).ok_or(())) {
                            None => bld.append_null(),
                            Some(Ok(x)) => bld.append_value(x),
                            Some(Err(())) => {
                                bld.append_null();
                                failed(i);
                            }
                        }
                    }
                    Arc::new(bld.finish())
                }
                StdType::Date => {
                    let mut bld = Date32Builder::with_capacity(n);
                    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
                    for i in 0..n {
                        match value(i).map(yishu_types::date::parse_cn_date) {
                            None => bld.append_null(),
                            Some(Ok(d)) => bld.append_value((d - epoch).num_days() as i32),
                            Some(Err(_)) => {
                                bld.append_null();
                                failed(i);
                            }
                        }
                    }
                    Arc::new(bld.finish())
                }
                StdType::DateTime => {
                    let mut bld = TimestampMicrosecondBuilder::with_capacity(n);
                    for i in 0..n {
                        match value(i).map(parse_datetime) {
                            None => bld.append_null(),
                            Some(Some(t)) => bld.append_value(t.and_utc().timestamp_micros()),
                            Some(None) => {
                                bld.append_null();
                                failed(i);
                            }
                        }
                    }
                    Arc::new(bld.finish())
                }
            };
            arrays.push(array);
        }
        Ok(arrays)
    }

    /// The quarantine rows of the filtered rows of `b`: where each was, the rule that filtered
    /// it, why, and its raw values.
    fn filtered(&self, b: &RecordBatch, reasons: &[Filtered]) -> Result<RecordBatch, Error> {
        let refs = b.column_by_name(SOURCE_REF).and_then(Texts::of);
        let raw = |i: usize| {
            let obj: serde_json::Map<String, serde_json::Value> = self
                .columns
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
        RecordBatch::try_new(
            filtered_schema(),
            vec![
                Arc::new(StringArray::from(vec![self.batch_id; reasons.len()])),
                Arc::new(StringArray::from_iter_values(reasons.iter().map(|r| {
                    refs.and_then(|x| x.get(r.0))
                        .unwrap_or_default()
                        .to_string()
                }))),
                Arc::new(Int64Array::from_iter_values(reasons.iter().map(|r| r.1))),
                Arc::new(Int64Array::from_iter_values(reasons.iter().map(|r| r.2))),
                Arc::new(StringArray::from_iter_values(
                    reasons.iter().map(|r| r.3.clone()),
                )),
                Arc::new(StringArray::from_iter_values(
                    reasons.iter().map(|r| raw(r.0)),
                )),
            ],
        )
        .map_err(|e| Error::new(ErrorCode::Internal, format!("filtered rows: {e}")))
    }
}

/// A date-time as departments write it: `2024-03-05 08:00:00` or `2024-03-05T08:00:00`.
fn parse_datetime(s: &str) -> Option<chrono::NaiveDateTime> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .ok()
}
