//! JSON lines (NDJSON) and JSON arrays of objects: each object is a row, its keys map to items by
//! name or by a confirmed mapping. A line that is not a JSON object is quarantined with its line
//! number and the parser's message; nested values are kept as their JSON text. The same object
//! rows come from queue feeds ([`crate::feed`]).

use crate::io_err;
use crate::rows::{ColumnMap, Mapping, Parsed, RowWriter};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::io::BufRead;
use std::path::Path;
use yishu_lake::arrow::array::RecordBatch;
use yishu_meta::catalog::Item;
use yishu_types::Error;

/// Longest line accepted; a longer one is quarantined without being parsed.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// Objects sampled for their keys before a file is read, to refuse one that matches no item.
const SAMPLE: usize = 100;

/// A value's text without copying strings: null is no value, nested values their JSON.
fn text_ref(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        other => Some(Cow::Owned(other.to_string())),
    }
}

pub(crate) fn text(v: &Value) -> Option<String> {
    text_ref(v).map(Cow::into_owned)
}

/// Writes JSON objects as rows: looks up every item by its own name or its mapped key, notes keys
/// no item describes and items no row carried (the batch's drift), and quarantines a row with
/// none of the items (it would be a row of nulls).
pub(crate) struct ObjectRows<'a> {
    header: Vec<String>,
    known: HashSet<String>,
    used: Vec<bool>,
    found: Vec<bool>,
    extra: BTreeSet<String>,
    items: Vec<Item>,
    mapping: Mapping,
    out: RowWriter<'a>,
}

impl<'a> ObjectRows<'a> {
    pub fn new(
        what: &str,
        items: &[Item],
        mapping: &Mapping,
        batch_id: &str,
        sink: &'a mut dyn FnMut(RecordBatch) -> Result<(), Error>,
        progress: &'a mut dyn FnMut(u64),
    ) -> Result<Self, Error> {
        let mut header: Vec<String> = mapping.keys().cloned().collect();
        for it in items {
            let name = it.name.trim().to_string();
            if !header.contains(&name) {
                header.push(name);
            }
        }
        let map = ColumnMap::new(what, &header, items, mapping)?;
        let used = (0..header.len())
            .map(|c| map.map.contains(&Some(c)))
            .collect();
        Ok(ObjectRows {
            found: vec![false; header.len()],
            known: header.iter().cloned().collect(),
            used,
            header,
            extra: BTreeSet::new(),
            items: items.to_vec(),
            mapping: mapping.clone(),
            out: RowWriter::new(batch_id, items, map, sink, progress),
        })
    }

    /// Stores one object (or quarantines it, naming `what()` it was). Each key is looked up once.
    pub fn row(
        &mut self,
        at: &str,
        line: i64,
        what: &dyn Fn() -> String,
        o: &Map<String, Value>,
    ) -> Result<(), Error> {
        for k in o.keys() {
            if !self.known.contains(k) && !self.extra.contains(k) {
                self.extra.insert(k.clone());
            }
        }
        let vals: Vec<Option<&Value>> = self.header.iter().map(|k| o.get(k)).collect();
        if !vals.iter().zip(&self.used).any(|(v, u)| *u && v.is_some()) {
            self.out.reject(
                format_args!("{at}"),
                line,
                &Value::Object(o.clone()).to_string(),
                "ingest_no_known_field",
                &format!(
                    "{} has none of the resource's items (keys: {})",
                    what(),
                    o.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
            return Ok(());
        }
        for (f, v) in self.found.iter_mut().zip(&vals) {
            *f |= v.is_some();
        }
        let cells: Vec<Option<Cow<str>>> = vals.iter().map(|v| v.and_then(text_ref)).collect();
        self.out.accept(format_args!("{at}"), |c| {
            cells.get(c).and_then(|t| t.as_deref())
        })
    }

    /// Quarantines a value that is not an object, or not JSON.
    pub fn reject(&mut self, at: &str, line: i64, raw: &str, code: &str, why: &str) {
        self.out.reject(format_args!("{at}"), line, raw, code, why);
    }

    pub fn finish(self) -> Result<Parsed, Error> {
        let mut parsed = self.out.finish()?;
        parsed.extra_columns = self.extra.into_iter().collect();
        parsed.missing_items = self
            .items
            .iter()
            .filter(|it| {
                let name = it.name.trim();
                let col = self
                    .mapping
                    .iter()
                    .find(|(_, i)| i.as_str() == name)
                    .map(|(c, _)| c.as_str())
                    .unwrap_or(name);
                !self
                    .header
                    .iter()
                    .position(|h| h == col)
                    .is_some_and(|c| self.found[c])
            })
            .map(|it| it.name.clone())
            .collect();
        Ok(parsed)
    }
}

/// The keys of the first objects of a file, in order of first appearance.
fn sample_keys(path: &Path) -> Result<Vec<String>, Error> {
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut keys: Vec<String> = Vec::new();
    let mut objects = 0;
    let mut add = |o: &Map<String, Value>| {
        for k in o.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    };
    for line in std::io::BufReader::new(file).split(b'\n') {
        let bytes = line.map_err(|e| io_err(path, e))?;
        if bytes.len() > MAX_LINE || objects >= SAMPLE {
            break;
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(o)) => {
                add(&o);
                objects += 1;
            }
            Ok(Value::Array(a)) => {
                for o in a.iter().take(SAMPLE).filter_map(Value::as_object) {
                    add(o);
                    objects += 1;
                }
            }
            _ => {}
        }
    }
    Ok(keys)
}

/// Reads NDJSON (one object per line; a file that is one JSON array is read as its elements).
pub fn read(
    path: &Path,
    items: &[Item],
    batch_id: &str,
    mapping: &Mapping,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(RecordBatch) -> Result<(), Error>,
) -> Result<Parsed, Error> {
    let what = path.display().to_string();
    let sampled = sample_keys(path)?;
    if !sampled.is_empty() {
        // Refuses a file whose keys match no item, with proposed pairs, as for a CSV header.
        let confirmed: Mapping = mapping
            .iter()
            .filter(|(k, _)| sampled.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        ColumnMap::new(&what, &sampled, items, &confirmed)?;
    }
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut rows = ObjectRows::new(&what, items, mapping, batch_id, sink, progress)?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    // An element of an array is `file:line[k]` (k from 0), so each can be found again.
    let emit = |rows: &mut ObjectRows,
                line_no: i64,
                elem: Option<usize>,
                raw: &str,
                v: Result<Value, String>| {
        let at = match elem {
            Some(k) => format!("{file_name}:{line_no}[{k}]"),
            None => format!("{file_name}:{line_no}"),
        };
        // Only a rejected row needs its description.
        let what = || match elem {
            Some(k) => format!("line {line_no} element {k}"),
            None => format!("line {line_no}"),
        };
        match v {
            Ok(Value::Object(o)) => rows.row(&at, line_no, &what, &o),
            Ok(_) => {
                rows.reject(
                    &at,
                    line_no,
                    raw,
                    "ingest_not_object",
                    &format!("{} is JSON but not an object", what()),
                );
                Ok(())
            }
            Err(e) => {
                rows.reject(
                    &at,
                    line_no,
                    raw,
                    "ingest_bad_json",
                    &format!("{} is not valid JSON: {e}", what()),
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
            rows.reject(
                &format!("{file_name}:{line_no}"),
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
                for (k, e) in elems.into_iter().enumerate() {
                    let raw = e.to_string();
                    emit(&mut rows, line_no, Some(k), &raw, Ok(e))?;
                }
            }
            v => emit(&mut rows, line_no, None, t, v.map_err(|e| e.to_string()))?,
        }
    }
    rows.finish()
}
