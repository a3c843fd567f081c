//! Violations are stored per resource in the lake (`quality.v_<table>`), one row per record and
//! rule, so a batch with a million bad rows costs a Parquet file, not a million store rows.

use crate::eval::Violation;
use crate::rule::PlannedRule;
use std::collections::HashMap;
use std::sync::Arc;
use yishu_lake::arrow::array::{Int64Array, RecordBatch, StringArray};
use yishu_lake::arrow::datatypes::{DataType, Field, Schema};
use yishu_lake::datafusion::prelude::{col, lit};
use yishu_lake::lineage::{BATCH_ID, SOURCE_REF};
use yishu_lake::{Lake, Layer, TextQuery};
use yishu_types::{Error, ErrorCode};

pub fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new(BATCH_ID, DataType::Utf8, false),
        Field::new(SOURCE_REF, DataType::Utf8, false),
        Field::new("rule_id", DataType::Int64, false),
        Field::new("rule_version", DataType::Int64, false),
        Field::new("column", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, false),
    ]))
}

/// The violations table of a resource's table.
pub fn table_name(ods_table: &str) -> String {
    format!("v_{ods_table}")
}

/// Rows per written Arrow batch.
const CHUNK: usize = 65_536;

/// Stores a check's violations for a batch in one commit, replacing those of an earlier check of
/// the same batch. Returns how many were written.
pub async fn write(
    lake: &Lake,
    ods_table: &str,
    batch_id: &str,
    rules: &[PlannedRule],
    found: &[Violation],
) -> Result<u64, Error> {
    let columns: Vec<String> = rules.iter().map(|r| r.def.column()).collect();
    let mut batches = vec![RecordBatch::new_empty(schema())];
    for chunk in found.chunks(CHUNK) {
        let n = chunk.len();
        let b = RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(StringArray::from(vec![batch_id; n])),
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|v| v.source_ref.as_str()),
                )),
                Arc::new(Int64Array::from_iter_values(
                    chunk.iter().map(|v| rules[v.rule].id),
                )),
                Arc::new(Int64Array::from_iter_values(
                    chunk.iter().map(|v| rules[v.rule].version),
                )),
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|v| columns[v.rule].as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|v| v.value.as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|v| v.detail.as_str()),
                )),
            ],
        )
        .map_err(|e| Error::new(ErrorCode::Internal, format!("violation batch: {e}")))?;
        batches.push(b);
    }
    let mut meta = HashMap::new();
    meta.insert("batch_id".into(), serde_json::json!(batch_id));
    lake.replace_rows(
        Layer::Quality,
        &table_name(ods_table),
        (BATCH_ID, batch_id),
        batches,
        meta,
    )
    .await?;
    Ok(found.len() as u64)
}

/// Headings of a violation row, in the order [`of_batch`] gives its fields.
pub const HEADINGS: [&str; 6] = ["记录位置", "规则编号", "规则版本", "信息项", "值", "问题"];

/// A batch's violations by rule and record (at most `limit`), each as [`HEADINGS`].
pub async fn of_batch(
    lake: &Lake,
    ods_table: &str,
    batch_id: &str,
    limit: Option<usize>,
) -> Result<Vec<[String; 6]>, Error> {
    let table = table_name(ods_table);
    let q = TextQuery::new(Layer::Quality, &table)
        .filter(col(BATCH_ID).eq(lit(batch_id)))
        .order(vec![
            col("rule_id").sort(true, false),
            col(SOURCE_REF).sort(true, false),
        ])
        .limit(limit)
        .columns(&[
            SOURCE_REF,
            "rule_id",
            "rule_version",
            "column",
            "value",
            "detail",
        ]);
    Ok(lake
        .text(q)
        .await?
        .rows
        .into_iter()
        .map(|row| std::array::from_fn(|k| row.get(k).cloned().unwrap_or_default()))
        .collect())
}
