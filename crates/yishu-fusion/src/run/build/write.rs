//! Writing one base library: the current version of every subject (a subject whose golden
//! values did not change keeps its valid-from), and the versions it supersedes to the history
//! table with their valid-to.

use super::{Build, Scope};
use crate::key::SubjectKind;
use crate::run::ConflictCounts;
use crate::schema::{VALID_AT, base_table, history_table};
use crate::tables::{self, arrow_err, lake_err};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use yishu_lake::arrow::array::{
    Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringBuilder,
    TimestampMicrosecondArray,
};
use yishu_lake::arrow::compute::filter_record_batch;
use yishu_lake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use yishu_lake::{Finder, Layer, Picked};
use yishu_types::Error;

/// One subject's current golden row, ready to write.
pub(super) struct LibRow {
    pub key: String,
    pub values: Vec<Option<String>>,
    /// Per attribute: where the value came from, who agrees, who disagrees.
    pub provenance: String,
    /// The attributes in conflict with the resources involved (what incremental runs count).
    pub conflicts: String,
    pub records: i64,
}

/// A hash of a golden row's values: unchanged rows keep their version.
fn row_hash(values: &[Option<&str>]) -> String {
    let mut h = blake3::Hasher::new();
    for v in values {
        h.update(v.unwrap_or("\u{0}").as_bytes());
        h.update(b"\x1f");
    }
    h.finalize().to_hex()[..32].to_string()
}

/// What writing a library did.
pub(super) struct LibraryWrite {
    /// Subjects new or changed.
    pub changed: u64,
    /// Subjects in the library afterwards.
    pub subjects: u64,
    /// Conflicts of the subjects an incremental run left as they were.
    pub kept: ConflictCounts,
}

/// Remembers each row's key → (hash, valid-from, subject id): what says whether it changed.
fn remember(old: &mut Versions, b: &RecordBatch) -> Result<(), Error> {
    let t = tables::named_texts(b, &["subject_key", "_hash", "subject_id"])?;
    let Some(from) = b
        .column_by_name("_valid_from")
        .and_then(|f| f.as_any().downcast_ref::<TimestampMicrosecondArray>())
    else {
        return Ok(());
    };
    for i in 0..b.num_rows() {
        old.insert(
            t[0].value(i).to_string(),
            (
                t[1].value(i).to_string(),
                from.value(i),
                t[2].value(i).to_string(),
            ),
        );
    }
    Ok(())
}

/// Rows of a base library built into one batch: small enough that no string column reaches
/// Arrow's 2 GiB offset limit, big enough that a full run writes few batches.
const LIBRARY_CHUNK: usize = 100_000;

/// A subject's current version: its row hash, valid-from and subject id, by key.
type Versions = HashMap<String, (String, i64, String)>;

/// Writes one base library. With a scope, only the scope's subjects are read and replaced:
/// their rows are found by key and deleted by deletion vector, the other rows are neither read
/// nor rewritten.
pub(super) async fn write_library(
    cx: &Build<'_>,
    kind: SubjectKind,
    attrs: &[&str],
    rows: Vec<LibRow>,
    now_us: i64,
) -> Result<LibraryWrite, Error> {
    let (lake, table) = (cx.run.lake, base_table(kind));
    let mut out = LibraryWrite {
        changed: 0,
        subjects: rows.len() as u64,
        kept: ConflictCounts::default(),
    };
    if let Some(s) = cx.scope
        && rows.is_empty()
    {
        (out.subjects, out.kept) = before(s, kind);
        return Ok(out);
    }
    let (old, picked) = match cx.scope {
        Some(s) => {
            let (old, picked) = scope_versions(cx, s, kind, rows.len(), &mut out).await?;
            (old, Some(picked))
        }
        None => (all_versions(cx, kind).await?, None),
    };
    let (batches, current) = library_batches(kind, attrs, &rows, &old, cx.run.run_id, now_us)?;
    out.changed = current.changed;
    let superseded = superseded(cx, kind, &old, picked.as_ref(), &current.hashes, now_us).await?;
    // The run's time in the commits: a subscription reads from the log up to which time the
    // versions it sends (valid-from) and the ones they close (valid-to) go.
    let mut meta = cx.meta.clone();
    meta.insert(VALID_AT.to_string(), now_us.into());
    if !superseded.is_empty() {
        lake.append(Layer::Base, &history_table(kind), superseded, meta.clone())
            .await?;
    }
    match picked {
        None => tables::overwrite(lake, table, batches, &meta).await?,
        Some(p) => {
            lake.replace_picked(Layer::Base, table, p, batches, meta)
                .await?;
        }
    }
    Ok(out)
}

/// The library's subjects and conflicts before an incremental run, from the last run's report.
fn before(s: &Scope, kind: SubjectKind) -> (u64, ConflictCounts) {
    (
        s.subjects_before
            .get(kind.as_str())
            .copied()
            .unwrap_or_default(),
        s.conflicts_before
            .get(kind.as_str())
            .cloned()
            .unwrap_or_default(),
    )
}

/// A full run's current versions: four columns of every row.
async fn all_versions(cx: &Build<'_>, kind: SubjectKind) -> Result<Versions, Error> {
    let table = base_table(kind);
    let mut old = Versions::new();
    if let Some(frame) = cx.run.lake.frame(Layer::Base, table).await? {
        let batches = frame
            .select_columns(&["subject_key", "_hash", "_valid_from", "subject_id"])
            .map_err(lake_err(format!("cannot read base.{table}")))?
            .collect()
            .await
            .map_err(lake_err(format!("cannot read base.{table}")))?;
        for b in &batches {
            remember(&mut old, b)?;
        }
    }
    Ok(old)
}

/// An incremental run's current versions: the whole rows of its subjects, found by key. Counts
/// the subjects the library will hold and the conflicts of the ones it keeps into `out`.
async fn scope_versions(
    cx: &Build<'_>,
    s: &Scope,
    kind: SubjectKind,
    rows: usize,
    out: &mut LibraryWrite,
) -> Result<(Versions, Picked), Error> {
    let finder = Finder {
        keys: &["subject_key"],
        pick: |k: &[&str]| s.contains(kind, k[0]),
        hashed: Some((tables::KEY_HASH, s.keys.hashes())),
    };
    let p = cx
        .run
        .lake
        .find(Layer::Base, base_table(kind), finder, None)
        .await?;
    let mut old = Versions::new();
    let (subjects, mut kept) = before(s, kind);
    out.subjects = subjects.saturating_sub(p.len() as u64) + rows as u64;
    for b in &p.rows {
        remember(&mut old, b)?;
        let c = tables::named_texts(b, &["_conflicts"])?;
        for i in 0..b.num_rows() {
            kept.count(tables::cell(&c, 0, i), -1);
        }
    }
    out.kept = kept;
    Ok((old, p))
}

/// The schema of a library with `attrs`.
fn library_schema(attrs: &[&str]) -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let mut fields = vec![
        Field::new("subject_key", DataType::Utf8, false),
        Field::new("subject_id", DataType::Utf8, false),
    ];
    fields.extend(attrs.iter().map(|a| Field::new(*a, DataType::Utf8, true)));
    fields.extend([
        Field::new("_provenance", DataType::Utf8, false),
        Field::new("_conflicts", DataType::Utf8, false),
        Field::new("_records", DataType::Int64, false),
        Field::new("_hash", DataType::Utf8, false),
        Field::new("_valid_from", ts.clone(), false),
        Field::new("_valid_to", ts, true),
        Field::new("_run", DataType::Utf8, false),
    ]);
    Arc::new(Schema::new(fields))
}

/// The new current versions: each key's row hash, and how many are new or changed.
struct Current<'r> {
    hashes: HashMap<&'r str, String>,
    changed: u64,
}

/// The rows as batches of the library's schema, in chunks: one string column of a whole
/// library overflows Arrow's 32-bit offsets (`_provenance` is ~1.8 KB a person: a 2M-person
/// city panicked here).
fn library_batches<'r>(
    kind: SubjectKind,
    attrs: &[&str],
    rows: &'r [LibRow],
    old: &Versions,
    run_id: &str,
    now_us: i64,
) -> Result<(Vec<RecordBatch>, Current<'r>), Error> {
    let schema = library_schema(attrs);
    let mut current = Current {
        hashes: HashMap::with_capacity(rows.len()),
        changed: 0,
    };
    let mut batches = Vec::with_capacity(rows.len().div_ceil(LIBRARY_CHUNK));
    for chunk in rows.chunks(LIBRARY_CHUNK) {
        let mut key_b = StringBuilder::new();
        let mut id_b = StringBuilder::new();
        let mut attr_b: Vec<StringBuilder> = attrs.iter().map(|_| StringBuilder::new()).collect();
        let mut prov_b = StringBuilder::new();
        let mut hash_b = StringBuilder::new();
        let mut recs_b = Vec::with_capacity(chunk.len());
        let mut from_b = Vec::with_capacity(chunk.len());
        let mut run_b = StringBuilder::new();
        let mut conflicts_b = StringBuilder::new();
        for row in chunk {
            let vals: Vec<Option<&str>> = row.values.iter().map(|v| v.as_deref()).collect();
            let key = &row.key;
            let hash = row_hash(&vals);
            let valid_from = match old.get(key.as_str()) {
                Some((h, f, _)) if *h == hash => *f,
                _ => {
                    current.changed += 1;
                    now_us
                }
            };
            // An opaque, stable id: pages and links name a subject without showing its number.
            match old.get(key.as_str()) {
                Some((_, _, id)) if !id.is_empty() => id_b.append_value(id),
                _ => id_b.append_value(uuid::Uuid::new_v4().simple().to_string()),
            }
            current.hashes.insert(key.as_str(), hash.clone());
            key_b.append_value(key.as_str());
            for (b, v) in attr_b.iter_mut().zip(&vals) {
                b.append_option(*v);
            }
            prov_b.append_value(&row.provenance);
            conflicts_b.append_value(&row.conflicts);
            hash_b.append_value(&hash);
            recs_b.push(row.records);
            from_b.push(valid_from);
            run_b.append_value(run_id);
        }
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(key_b.finish()), Arc::new(id_b.finish())];
        arrays.extend(attr_b.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        arrays.push(Arc::new(prov_b.finish()));
        arrays.push(Arc::new(conflicts_b.finish()));
        arrays.push(Arc::new(Int64Array::from(recs_b)));
        arrays.push(Arc::new(hash_b.finish()));
        arrays.push(Arc::new(
            TimestampMicrosecondArray::from(from_b).with_timezone("UTC"),
        ));
        arrays.push(Arc::new(
            TimestampMicrosecondArray::from(vec![None::<i64>; chunk.len()]).with_timezone("UTC"),
        ));
        arrays.push(Arc::new(run_b.finish()));
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(arrow_err)?;
        batches.push(tables::with_hash(
            batch,
            tables::KEY_HASH,
            &["subject_key"],
            |c| tables::subject_hash(kind, c[0]),
        )?);
    }
    Ok((batches, current))
}

/// Superseded versions: old current rows whose subject changed or is gone, closed at `now_us`.
async fn superseded(
    cx: &Build<'_>,
    kind: SubjectKind,
    old: &Versions,
    picked: Option<&Picked>,
    current: &HashMap<&str, String>,
    now_us: i64,
) -> Result<Vec<RecordBatch>, Error> {
    let mut out = Vec::new();
    match picked {
        Some(p) => {
            for b in &p.rows {
                out.extend(close(b, current, now_us)?);
            }
        }
        None => {
            let table = base_table(kind);
            let stale = old
                .iter()
                .any(|(k, (h, _, _))| current.get(k.as_str()) != Some(h));
            if stale && let Some(f) = cx.run.lake.frame(Layer::Base, table).await? {
                let what = format!("cannot read base.{table}");
                let mut stream = f.execute_stream().await.map_err(lake_err(what.clone()))?;
                while let Some(b) = stream.next().await {
                    out.extend(close(&b.map_err(lake_err(what.clone()))?, current, now_us)?);
                }
            }
        }
    }
    Ok(out)
}

/// The rows of `b` no longer current, with their valid-to set.
fn close(
    b: &RecordBatch,
    current: &HashMap<&str, String>,
    now_us: i64,
) -> Result<Option<RecordBatch>, Error> {
    let t = tables::named_texts(b, &["subject_key", "_hash"])?;
    let mask: BooleanArray = (0..b.num_rows())
        .map(|i| Some(current.get(t[0].value(i)).map(String::as_str) != Some(t[1].value(i))))
        .collect();
    let mut gone = filter_record_batch(b, &mask).map_err(arrow_err)?;
    // History is read by time, never picked by key: no hash column.
    if let Ok(i) = gone.schema().index_of(tables::KEY_HASH) {
        gone.remove_column(i);
    }
    if gone.num_rows() == 0 {
        return Ok(None);
    }
    let mut cols: Vec<ArrayRef> = gone.columns().to_vec();
    if let Ok(i) = gone.schema().index_of("_valid_to") {
        cols[i] = Arc::new(
            TimestampMicrosecondArray::from(vec![now_us; gone.num_rows()]).with_timezone("UTC"),
        );
    }
    RecordBatch::try_new(gone.schema(), cols)
        .map(Some)
        .map_err(arrow_err)
}
