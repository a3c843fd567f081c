//! JSON lines (NDJSON) and JSON arrays of objects: each object is a row, its keys map to items by
//! name. A line that is not a JSON object is quarantined with its line number and the parser's
//! message; nested values are kept as their JSON text.

use crate::io_err;
use crate::rows::{ColumnMap, Parsed, RowWriter};
use serde_json::Value;
use std::io::BufRead;
use std::path::Path;
use yishu_lake::arrow::array::RecordBatch;
use yishu_meta::catalog::Item;
use yishu_types::Error;

/// Longest line accepted; a longer one is quarantined without being parsed.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Reads NDJSON (one object per line; a file that is one JSON array is read as its elements).
pub fn read(
    path: &Path,
    items: &[Item],
    batch_id: &str,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(RecordBatch) -> Result<(), Error>,
) -> Result<Parsed, Error> {
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let what = path.display().to_string();
    // The "header" of JSON rows is the items themselves: every key is looked up by name.
    let header: Vec<String> = items.iter().map(|i| i.name.trim().to_string()).collect();
    let map = ColumnMap::new(&what, &header, items, &Default::default())?;
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut out = RowWriter::new(batch_id, items, map, sink, progress);
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let emit = |out: &mut RowWriter,
                line_no: i64,
                raw: &str,
                v: Result<Value, String>|
     -> Result<(), Error> {
        let source_ref = format!("{file_name}:{line_no}");
        match v {
            Ok(Value::Object(o)) => {
                let cells: Vec<Option<String>> =
                    header.iter().map(|k| o.get(k).and_then(text)).collect();
                out.accept(format_args!("{source_ref}"), |c| {
                    cells.get(c).and_then(|t| t.as_deref())
                })
            }
            Ok(_) => {
                out.reject(
                    format_args!("{source_ref}"),
                    line_no,
                    raw,
                    "ingest_not_object",
                    &format!("line {line_no} is JSON but not an object"),
                );
                Ok(())
            }
            Err(e) => {
                out.reject(
                    format_args!("{source_ref}"),
                    line_no,
                    raw,
                    "ingest_bad_json",
                    &format!("line {line_no} is not valid JSON: {e}"),
                );
                Ok(())
            }
        }
    };
    for (i, line) in reader.split(b'\n').enumerate() {
        let line_no = i as i64 + 1;
        let bytes = line.map_err(|e| io_err(path, e))?;
        let raw = String::from_utf8_lossy(&bytes);
        let t = raw.trim().trim_start_matches('\u{feff}');
        if t.is_empty() {
            continue;
        }
        if bytes.len() > MAX_LINE {
            let cut: String = t.chars().take(200).collect();
            out.reject(
                format_args!("{file_name}:{line_no}"),
                line_no,
                &cut,
                "ingest_line_too_long",
                &format!(
                    "line {line_no} has {} bytes, more than {MAX_LINE}",
                    bytes.len()
                ),
            );
            continue;
        }
        match serde_json::from_str::<Value>(t) {
            Ok(Value::Array(elems)) => {
                for e in elems {
                    let raw = e.to_string();
                    emit(&mut out, line_no, &raw, Ok(e))?;
                }
            }
            v => emit(&mut out, line_no, t, v.map_err(|e| e.to_string()))?,
        }
    }
    out.finish()
}
