//! CSV in UTF-8, GBK or GB18030 (declared, or detected from a BOM and the bytes), with delimiter
//! and header detection. Columns map to the resource's items by name; a row with the wrong number
//! of fields or undecodable bytes goes to quarantine with its line and the reason.

use crate::io_err;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use yishu_lake::arrow::array::{
    ArrayRef, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use yishu_lake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use yishu_meta::catalog::Item;
use yishu_types::{Error, ErrorCode};

/// Rows per Arrow batch.
pub const BATCH_ROWS: usize = 8192;

/// The text encoding of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Gbk,
    Gb18030,
}

impl std::str::FromStr for TextEncoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "utf8" => Ok(TextEncoding::Utf8),
            "gbk" | "cp936" => Ok(TextEncoding::Gbk),
            "gb18030" => Ok(TextEncoding::Gb18030),
            other => Err(format!(
                "unknown encoding '{other}': use utf-8, gbk or gb18030"
            )),
        }
    }
}

/// How to read the file; `None` fields are detected.
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    pub encoding: Option<TextEncoding>,
    pub delimiter: Option<u8>,
}

/// The parsed batch: quarantined rows as Arrow batches and the counts (ods rows went to the
/// caller's sink as they were read).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub quarantine: Vec<RecordBatch>,
    pub rows_read: i64,
    pub rows_stored: i64,
    pub rows_quarantined: i64,
    pub encoding: TextEncoding,
    pub delimiter: u8,
    /// Items with no column in the file, and columns with no item (drift).
    pub missing_items: Vec<String>,
    pub extra_columns: Vec<String>,
}

/// Guesses the encoding from a BOM or from whether the bytes are valid UTF-8.
pub fn detect_encoding(head: &[u8]) -> TextEncoding {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return TextEncoding::Utf8;
    }
    match std::str::from_utf8(head) {
        Ok(_) => TextEncoding::Utf8,
        // A multi-byte character cut at the end of the sample is still UTF-8.
        Err(e) if e.error_len().is_none() && head.len() - e.valid_up_to() < 4 => TextEncoding::Utf8,
        Err(_) => TextEncoding::Gb18030,
    }
}

/// The most frequent of `,` tab `|` `;` in the first line.
pub fn detect_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|b| *b == b'\n').next().unwrap_or(head);
    [b',', b'\t', b'|', b';']
        .into_iter()
        .max_by_key(|d| line.iter().filter(|b| *b == d).count())
        .unwrap_or(b',')
}

/// The ods schema of a resource: one nullable text column per item (raw, unchanged values) and the
/// lineage columns.
pub fn ods_schema(items: &[Item]) -> Arc<Schema> {
    let mut fields: Vec<Field> = items
        .iter()
        .map(|i| Field::new(i.name.trim(), DataType::Utf8, true))
        .collect();
    fields.push(Field::new("_batch_id", DataType::Utf8, false));
    fields.push(Field::new("_source_ref", DataType::Utf8, false));
    fields.push(Field::new(
        "_ingested_at",
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        false,
    ));
    Arc::new(Schema::new(fields))
}

/// The quarantine schema: the raw row, where it was and why it was rejected.
pub fn quarantine_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("_batch_id", DataType::Utf8, false),
        Field::new("_source_ref", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("raw", DataType::Utf8, false),
        Field::new("reason_code", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
    ]))
}

struct OdsBuilder {
    schema: Arc<Schema>,
    cols: Vec<StringBuilder>,
    batch: StringBuilder,
    source: StringBuilder,
    at: TimestampMicrosecondBuilder,
    len: usize,
}

impl OdsBuilder {
    fn new(schema: Arc<Schema>, n: usize) -> Self {
        OdsBuilder {
            schema,
            cols: (0..n).map(|_| StringBuilder::new()).collect(),
            batch: StringBuilder::new(),
            source: StringBuilder::new(),
            at: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            len: 0,
        }
    }

    fn finish(&mut self) -> Result<RecordBatch, Error> {
        let mut arrays: Vec<ArrayRef> = self
            .cols
            .iter_mut()
            .map(|c| Arc::new(c.finish()) as ArrayRef)
            .collect();
        arrays.push(Arc::new(self.batch.finish()));
        arrays.push(Arc::new(self.source.finish()));
        arrays.push(Arc::new(self.at.finish()));
        self.len = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("arrow batch: {e}")))
    }
}

/// Reads a CSV file: ods rows go to `sink` in Arrow batches of [`BATCH_ROWS`] as they are read
/// (so memory stays bounded); quarantined rows and the counts are returned. `progress` is called
/// with rows read so far.
pub fn read(
    path: &Path,
    items: &[Item],
    batch_id: &str,
    opts: &CsvOptions,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(RecordBatch) -> Result<(), Error>,
) -> Result<Parsed, Error> {
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut head = vec![0u8; 64 * 1024];
    let n = {
        use std::io::Read;
        let mut f = &file;
        let mut got = 0;
        while got < head.len() {
            let k = f.read(&mut head[got..]).map_err(|e| io_err(path, e))?;
            if k == 0 {
                break;
            }
            got += k;
        }
        got
    };
    head.truncate(n);
    if n == 0 {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("{} is empty: no header, no rows", path.display()),
        ));
    }
    let encoding = opts.encoding.unwrap_or_else(|| detect_encoding(&head));
    let delimiter = opts.delimiter.unwrap_or_else(|| detect_delimiter(&head));
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let enc = match encoding {
        TextEncoding::Utf8 => encoding_rs::UTF_8,
        TextEncoding::Gbk => encoding_rs::GBK,
        TextEncoding::Gb18030 => encoding_rs::GB18030,
    };
    let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(enc))
        .bom_override(true)
        .build(std::io::BufReader::with_capacity(1 << 20, file));
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(decoded);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("{}: cannot read the header line: {e}", path.display()),
            )
        })?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = header.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("{}: the header names column '{dup}' twice", path.display()),
        ));
    }
    // Item i reads column map[i] (None: the file has no such column).
    let map: Vec<Option<usize>> = items
        .iter()
        .map(|it| header.iter().position(|h| h == it.name.trim()))
        .collect();
    if map.iter().all(Option::is_none) {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "{}: no column matches an item of the resource (columns: {}; items: {})",
                path.display(),
                header.join(", "),
                items
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let missing_items = items
        .iter()
        .zip(&map)
        .filter(|(_, m)| m.is_none())
        .map(|(i, _)| i.name.clone())
        .collect();
    let extra_columns = header
        .iter()
        .filter(|h| !items.iter().any(|i| i.name.trim() == h.as_str()))
        .cloned()
        .collect();
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let now = chrono::Utc::now().timestamp_micros();
    let schema = ods_schema(items);
    let mut ods = OdsBuilder::new(schema.clone(), items.len());
    let qschema = quarantine_schema();
    let (mut q_batch, mut q_src, mut q_line, mut q_raw, mut q_code, mut q_reason) = (
        StringBuilder::new(),
        StringBuilder::new(),
        Int64Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let mut parsed = Parsed {
        quarantine: Vec::new(),
        rows_read: 0,
        rows_stored: 0,
        rows_quarantined: 0,
        encoding,
        delimiter,
        missing_items,
        extra_columns,
    };
    let mut record = csv::StringRecord::new();
    let mut source_ref = String::with_capacity(file_name.len() + 12);
    let d = char::from(delimiter).to_string();
    loop {
        let more = match rdr.read_record(&mut record) {
            Ok(m) => m,
            Err(e) => {
                // A broken quote or I/O error: the rest of the file cannot be split into rows.
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("{}: {e}", path.display()),
                ));
            }
        };
        if !more {
            break;
        }
        let line = record.position().map(|p| p.line() as i64).unwrap_or(0);
        parsed.rows_read += 1;
        // One reused buffer instead of an allocation per row.
        source_ref.clear();
        let _ = write!(source_ref, "{file_name}:{line}");
        let reject = if record.len() != header.len() {
            Some((
                "ingest_field_count",
                format!(
                    "line {line} has {} fields, the header has {}",
                    record.len(),
                    header.len()
                ),
            ))
        } else if record.as_slice().contains('\u{FFFD}') {
            Some((
                "ingest_bad_encoding",
                format!("line {line} has bytes that are not valid {encoding:?}"),
            ))
        } else {
            None
        };
        if let Some((code, reason)) = reject {
            q_batch.append_value(batch_id);
            q_src.append_value(&source_ref);
            q_line.append_value(line);
            q_raw.append_value(record.iter().collect::<Vec<_>>().join(&d));
            q_code.append_value(code);
            q_reason.append_value(reason);
            parsed.rows_quarantined += 1;
            continue;
        }
        for (i, m) in map.iter().enumerate() {
            match m.and_then(|c| record.get(c)) {
                Some(v) if !v.is_empty() => ods.cols[i].append_value(v),
                _ => ods.cols[i].append_null(),
            }
        }
        ods.batch.append_value(batch_id);
        ods.source.append_value(&source_ref);
        ods.at.append_value(now);
        ods.len += 1;
        parsed.rows_stored += 1;
        if ods.len == BATCH_ROWS {
            sink(ods.finish()?)?;
            progress(parsed.rows_read as u64);
        }
    }
    if ods.len > 0 {
        sink(ods.finish()?)?;
    }
    if parsed.rows_quarantined > 0 {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(q_batch.finish()),
            Arc::new(q_src.finish()),
            Arc::new(q_line.finish()),
            Arc::new(q_raw.finish()),
            Arc::new(q_code.finish()),
            Arc::new(q_reason.finish()),
        ];
        parsed.quarantine.push(
            RecordBatch::try_new(qschema, arrays)
                .map_err(|e| Error::new(ErrorCode::Internal, format!("arrow batch: {e}")))?,
        );
    }
    progress(parsed.rows_read as u64);
    Ok(parsed)
}
