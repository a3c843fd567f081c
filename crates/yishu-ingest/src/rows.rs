//! What every connector shares once it has a header and rows of text: mapping columns to the
//! resource's items, building ods and quarantine Arrow batches with lineage, and counting so that
//! rows read = rows stored + rows quarantined.

use std::fmt::Write as _;
use std::sync::Arc;
use yishu_lake::arrow::array::{
    ArrayRef, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use yishu_lake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use yishu_lake::lineage::{BATCH_ID, INGESTED_AT, SOURCE_REF};
use yishu_meta::catalog::Item;
use yishu_types::{Error, ErrorCode};

/// Rows per Arrow batch.
pub const BATCH_ROWS: usize = 8192;

/// The ods schema of a resource: one nullable text column per item (raw, unchanged values) and the
/// lineage columns.
pub fn ods_schema(items: &[Item]) -> Arc<Schema> {
    let mut fields: Vec<Field> = items
        .iter()
        .map(|i| Field::new(i.name.trim(), DataType::Utf8, true))
        .collect();
    fields.push(Field::new(BATCH_ID, DataType::Utf8, false));
    fields.push(Field::new(SOURCE_REF, DataType::Utf8, false));
    fields.push(Field::new(
        INGESTED_AT,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        false,
    ));
    Arc::new(Schema::new(fields))
}

/// The quarantine schema: the raw row, where it was and why it was rejected.
pub fn quarantine_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new(BATCH_ID, DataType::Utf8, false),
        Field::new(SOURCE_REF, DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("raw", DataType::Utf8, false),
        Field::new("reason_code", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
    ]))
}

/// What a quarantine reason code means, in Chinese, for the department fixing its rows.
pub fn reason_zh(code: &str) -> &'static str {
    match code {
        "ingest_field_count" => "字段个数与表头不一致",
        "ingest_bad_encoding" => "含有与声明编码不符的字节",
        "ingest_bad_json" => "不是有效的 JSON",
        "ingest_not_object" => "不是 JSON 对象（一条记录应为 {…}）",
        "ingest_no_known_field" => "不含本资源的任何信息项",
        "ingest_line_too_long" => "行过长（超过 16 MiB）",
        "ingest_cast" => "值无法转换为文本",
        "ingest_cell_error" => "单元格是 Excel 错误值（如 #REF!、#N/A）",
        _ => "其他原因",
    }
}

/// Introduces the proposed pairs (`列=信息项 …`) in the error for a file that matches no item.
pub const PROPOSED: &str = "; proposed mapping (confirm with --map): ";

/// The proposed pairs in such an error's message, one `列=信息项` per line, for a person to confirm.
pub fn proposed_pairs(message: &str) -> Option<String> {
    let (_, pairs) = message.split_once(PROPOSED)?;
    Some(pairs.split(' ').collect::<Vec<_>>().join("\n"))
}

/// Confirmed column → item pairs for names that differ (see [`crate::mapping`]).
pub type Mapping = std::collections::BTreeMap<String, String>;

/// How a file's columns line up with the resource's items.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    /// Item i reads column `map[i]` (None: the file has no such column).
    pub map: Vec<Option<usize>>,
    pub width: usize,
    pub missing_items: Vec<String>,
    pub extra_columns: Vec<String>,
}

impl ColumnMap {
    /// Maps header names to items by exact (trimmed) name. Refuses duplicate column names and a
    /// header that matches no item, naming what it found.
    pub fn new(
        what: &str,
        header: &[String],
        items: &[Item],
        mapping: &Mapping,
    ) -> Result<Self, Error> {
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = header.iter().find(|h| !seen.insert(h.as_str())) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("{what}: the header names column '{dup}' twice"),
            ));
        }
        for (col, item) in mapping {
            if !header.contains(col) {
                return Err(Error::field(
                    "map",
                    format!(
                        "{what} has no column '{col}' (columns: {})",
                        header.join(", ")
                    ),
                ));
            }
            if !items.iter().any(|i| i.name.trim() == item) {
                return Err(Error::field(
                    "map",
                    format!("the resource has no item '{item}'"),
                ));
            }
        }
        // A confirmed mapping first; otherwise the column of the same name.
        let map: Vec<Option<usize>> = items
            .iter()
            .map(|it| {
                let name = it.name.trim();
                mapping
                    .iter()
                    .find(|(_, i)| i.as_str() == name)
                    .and_then(|(c, _)| header.iter().position(|h| h == c))
                    .or_else(|| {
                        header
                            .iter()
                            .position(|h| h == name && !mapping.contains_key(h))
                    })
            })
            .collect();
        if map.iter().all(Option::is_none) {
            let items_text: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
            let proposals = crate::mapping::propose(header, items);
            let hint = if proposals.is_empty() {
                String::new()
            } else {
                format!(
                    "{PROPOSED}{}",
                    proposals
                        .iter()
                        .map(|p| format!("{}={}", p.column, p.item))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            };
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "{what}: no column matches an item of the resource (columns: {}; items: {}){hint}",
                    header.join(", "),
                    items_text.join(", ")
                ),
            ));
        }
        let used: std::collections::HashSet<usize> = map.iter().flatten().copied().collect();
        Ok(ColumnMap {
            missing_items: items
                .iter()
                .zip(&map)
                .filter(|(_, m)| m.is_none())
                .map(|(i, _)| i.name.clone())
                .collect(),
            extra_columns: header
                .iter()
                .enumerate()
                .filter(|(k, _)| !used.contains(k))
                .map(|(_, h)| h.clone())
                .collect(),
            map,
            width: header.len(),
        })
    }
}

/// Column names a batch record keeps of those no item describes.
const DRIFT_NAMES: usize = 200;

/// Counts and quarantined rows of one batch (ods rows went to the sink as they were built).
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub quarantine: Vec<RecordBatch>,
    pub rows_read: i64,
    pub rows_stored: i64,
    pub rows_quarantined: i64,
    pub missing_items: Vec<String>,
    pub extra_columns: Vec<String>,
    /// For pulls: the largest watermark value seen, to start the next pull after.
    pub watermark: Option<String>,
    /// For pulls: the checksum of the rows read (files are summed before reading).
    pub checksum: Option<String>,
}

impl Parsed {
    /// The source's shape as this batch found it, for the batch record.
    pub fn drift(&self) -> serde_json::Value {
        // A file of 10,000 columns keeps the batch record small: the first names and the count.
        let extra: Vec<&String> = self.extra_columns.iter().take(DRIFT_NAMES).collect();
        serde_json::json!({
            "missing_items": self.missing_items,
            "extra_columns": extra,
            "extra_column_count": self.extra_columns.len(),
        })
    }
}

/// Builds the ods and quarantine batches of one run.
pub struct RowWriter<'a> {
    batch_id: String,
    map: ColumnMap,
    schema: Arc<Schema>,
    cols: Vec<StringBuilder>,
    batch: StringBuilder,
    source: StringBuilder,
    at: TimestampMicrosecondBuilder,
    now: i64,
    len: usize,
    q: [StringBuilder; 5],
    q_line: Int64Builder,
    parsed: Parsed,
    sink: &'a mut dyn FnMut(RecordBatch) -> Result<(), Error>,
    progress: &'a mut dyn FnMut(u64),
}

impl<'a> RowWriter<'a> {
    pub fn new(
        batch_id: &str,
        items: &[Item],
        map: ColumnMap,
        sink: &'a mut dyn FnMut(RecordBatch) -> Result<(), Error>,
        progress: &'a mut dyn FnMut(u64),
    ) -> Self {
        let parsed = Parsed {
            missing_items: map.missing_items.clone(),
            extra_columns: map.extra_columns.clone(),
            ..Default::default()
        };
        RowWriter {
            batch_id: batch_id.to_string(),
            schema: ods_schema(items),
            cols: (0..items.len()).map(|_| StringBuilder::new()).collect(),
            map,
            batch: StringBuilder::new(),
            source: StringBuilder::new(),
            at: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            now: chrono::Utc::now().timestamp_micros(),
            len: 0,
            q: std::array::from_fn(|_| StringBuilder::new()),
            q_line: Int64Builder::new(),
            parsed,
            sink,
            progress,
        }
    }

    /// The number of columns the header has.
    pub fn width(&self) -> usize {
        self.map.width
    }

    /// Stores one row; `field(c)` gives column c's text (empty or None → null).
    /// `source_ref` (file and line, or a key) is formatted straight into the column.
    pub fn accept<'r>(
        &mut self,
        source_ref: std::fmt::Arguments<'_>,
        field: impl Fn(usize) -> Option<&'r str>,
    ) -> Result<(), Error> {
        self.parsed.rows_read += 1;
        for (i, m) in self.map.map.iter().enumerate() {
            match m.and_then(&field) {
                Some(v) if !v.is_empty() => self.cols[i].append_value(v),
                _ => self.cols[i].append_null(),
            }
        }
        self.batch.append_value(&self.batch_id);
        let _ = self.source.write_fmt(source_ref);
        self.source.append_value("");
        self.at.append_value(self.now);
        self.len += 1;
        self.parsed.rows_stored += 1;
        if self.len == BATCH_ROWS {
            self.flush()?;
            (self.progress)(self.parsed.rows_read as u64);
        }
        Ok(())
    }

    /// Quarantines one row with its raw text, line and reason.
    pub fn reject(
        &mut self,
        source_ref: std::fmt::Arguments<'_>,
        line: i64,
        raw: &str,
        code: &str,
        reason: &str,
    ) {
        self.parsed.rows_read += 1;
        self.parsed.rows_quarantined += 1;
        let [batch, source, raw_b, code_b, reason_b] = &mut self.q;
        batch.append_value(&self.batch_id);
        let _ = source.write_fmt(source_ref);
        source.append_value("");
        raw_b.append_value(raw);
        code_b.append_value(code);
        reason_b.append_value(reason);
        self.q_line.append_value(line);
    }

    fn flush(&mut self) -> Result<(), Error> {
        let mut arrays: Vec<ArrayRef> = self
            .cols
            .iter_mut()
            .map(|c| Arc::new(c.finish()) as ArrayRef)
            .collect();
        arrays.push(Arc::new(self.batch.finish()));
        arrays.push(Arc::new(self.source.finish()));
        arrays.push(Arc::new(self.at.finish()));
        self.len = 0;
        let b = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("arrow batch: {e}")))?;
        (self.sink)(b)
    }

    /// Sends the last rows and returns the counts and the quarantine batch.
    pub fn finish(mut self) -> Result<Parsed, Error> {
        if self.len > 0 {
            self.flush()?;
        }
        if self.parsed.rows_quarantined > 0 {
            let [b, s, r, c, why] = &mut self.q;
            let arrays: Vec<ArrayRef> = vec![
                Arc::new(b.finish()),
                Arc::new(s.finish()),
                Arc::new(self.q_line.finish()),
                Arc::new(r.finish()),
                Arc::new(c.finish()),
                Arc::new(why.finish()),
            ];
            let q = RecordBatch::try_new(quarantine_schema(), arrays)
                .map_err(|e| Error::new(ErrorCode::Internal, format!("arrow batch: {e}")))?;
            self.parsed.quarantine.push(q);
        }
        (self.progress)(self.parsed.rows_read as u64);
        Ok(self.parsed)
    }
}
