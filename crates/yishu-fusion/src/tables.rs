//! Reading and writing the base layer's tables as text columns: rows built one at a time, scans
//! of the rows a predicate keeps, and the writes of a run — the whole table in a full run, only
//! what differs for the touched subjects in an incremental one.

use crate::key::SubjectKind;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use yishu_lake::arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, StringBuilder,
};
use yishu_lake::arrow::compute::cast;
use yishu_lake::arrow::datatypes::{DataType, Field, Schema};
use yishu_lake::datafusion::prelude::{Expr, ident, lit};
use yishu_lake::{Finder, KeyHashes, Lake, Layer, key_hash};
use yishu_types::{Error, ErrorCode};

pub(crate) fn lake_err(
    what: String,
) -> impl FnOnce(yishu_lake::datafusion::error::DataFusionError) -> Error {
    move |e| Error::new(ErrorCode::LakeError, format!("{what}: {e}"))
}

pub(crate) fn arrow_err(e: yishu_lake::arrow::error::ArrowError) -> Error {
    Error::new(ErrorCode::Internal, format!("cannot build a batch: {e}"))
}

/// Reads the text cells of a batch by column position.
pub(crate) fn texts(b: &RecordBatch) -> Result<Vec<StringArray>, Error> {
    b.columns()
        .iter()
        .map(|c| {
            let c = cast(c, &DataType::Utf8).map_err(|e| {
                Error::new(ErrorCode::LakeError, format!("cannot read a column: {e}"))
            })?;
            Ok(c.as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .unwrap_or_else(|| StringArray::from(vec![None::<&str>; c.len()])))
        })
        .collect()
}

/// A subject kind as the tables write it.
pub(crate) fn kind_of(s: &str) -> SubjectKind {
    match s {
        "entity" => SubjectKind::Entity,
        "house" => SubjectKind::House,
        _ => SubjectKind::Person,
    }
}

/// A cell as text ("" for null).
pub(crate) fn cell(cols: &[StringArray], c: usize, i: usize) -> &str {
    if cols[c].is_null(i) {
        ""
    } else {
        cols[c].value(i)
    }
}

/// `columns` of the rows of a table the finder picks, as text, to `each` (nothing when the
/// table does not exist yet). Only the key columns (or the hash column) of the other rows are
/// read ([`Lake::find`]): a set of thousands of keys is a hash lookup here, where as a predicate
/// Delta and DataFusion would unfold it into an expression too deep to walk.
pub(crate) async fn scan(
    lake: &Lake,
    (layer, table): (Layer, &str),
    finder: Finder<'_, impl Fn(&[&str]) -> bool>,
    columns: &[&str],
    mut each: impl FnMut(&[StringArray], usize),
) -> Result<(), Error> {
    let picked = lake.find(layer, table, finder, Some(columns)).await?;
    for b in &picked.rows {
        let cols = named_texts(b, columns)?;
        for i in 0..b.num_rows() {
            each(&cols, i);
        }
    }
    Ok(())
}

/// The column of every base table keyed by subject that holds [`subject_hash`]: what an
/// incremental run finds a subject's rows by.
pub(crate) const KEY_HASH: &str = yishu_lake::lineage::KEY_HASH;

/// A subject's hash, as [`KEY_HASH`] columns hold it.
pub(crate) fn subject_hash(kind: SubjectKind, key: &str) -> i64 {
    key_hash(&[kind.as_str(), key])
}

/// The batch with a hash column `name` more: the [`key_hash`] of each row's `columns` (as
/// `hash` combines their text).
pub(crate) fn with_hash(
    batch: RecordBatch,
    name: &str,
    columns: &[&str],
    hash: impl Fn(&[&str]) -> i64,
) -> Result<RecordBatch, Error> {
    let cols = named_texts(&batch, columns)?;
    let mut cells: Vec<&str> = Vec::with_capacity(cols.len());
    let hashes: Int64Array = (0..batch.num_rows())
        .map(|i| {
            cells.clear();
            cells.extend((0..cols.len()).map(|c| cell(&cols, c, i)));
            hash(&cells)
        })
        .collect::<Vec<i64>>()
        .into();
    let mut fields = batch.schema().fields().to_vec();
    fields.push(Arc::new(Field::new(name, DataType::Int64, false)));
    let mut arrays = batch.columns().to_vec();
    arrays.push(Arc::new(hashes));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(arrow_err)
}

/// The text of `columns` of a batch, in that order (all null for a column it lacks: a file
/// written before the column existed).
pub(crate) fn named_texts(b: &RecordBatch, columns: &[&str]) -> Result<Vec<StringArray>, Error> {
    columns
        .iter()
        .map(|c| match b.column_by_name(c) {
            Some(a) => Ok(texts(
                &RecordBatch::try_from_iter([(*c, a.clone())]).map_err(arrow_err)?,
            )?
            .remove(0)),
            None => Ok(StringArray::from(vec![None::<&str>; b.num_rows()])),
        })
        .collect()
}

/// Keys per `IN` list: Delta turns an `IN` list into a chain of `=` … `OR` for file skipping,
/// which a list of thousands makes too deep to walk.
const IN_LIST_CHUNK: usize = 64;

/// `key_col IN (keys…)`, as a balanced `OR` of short lists (however many keys there are, the
/// expression stays shallow).
pub(crate) fn keys_in<'a>(key_col: &str, keys: impl Iterator<Item = &'a String>) -> Expr {
    let list: Vec<Expr> = keys.map(|k| lit(k.clone())).collect();
    if list.is_empty() {
        return lit(false);
    }
    let mut parts: Vec<Expr> = list
        .chunks(IN_LIST_CHUNK)
        .map(|c| ident(key_col).in_list(c.to_vec(), false))
        .collect();
    while parts.len() > 1 {
        let mut next = Vec::with_capacity(parts.len().div_ceil(2));
        let mut it = parts.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => a.or(b),
                None => a,
            });
        }
        parts = next;
    }
    parts.pop().unwrap_or(lit(false))
}

/// Subjects, by kind, and their [`subject_hash`]es.
#[derive(Default, Clone)]
pub(crate) struct Subjects {
    keys: BTreeMap<SubjectKind, HashSet<String>>,
    hashes: KeyHashes,
}

impl Subjects {
    pub fn insert(&mut self, kind: SubjectKind, key: String) {
        self.hashes.insert(subject_hash(kind, &key));
        self.keys.entry(kind).or_default().insert(key);
    }

    pub fn contains(&self, kind: SubjectKind, key: &str) -> bool {
        self.keys.get(&kind).is_some_and(|k| k.contains(key))
    }

    pub fn len(&self) -> usize {
        self.keys.values().map(HashSet::len).sum()
    }

    pub fn hashes(&self) -> &KeyHashes {
        &self.hashes
    }
}

/// How a table names the subject a row is about.
#[derive(Clone, Copy)]
pub(crate) enum KeyedBy<'a> {
    /// A kind column and a key column.
    Any(&'a str, &'a str),
    /// One kind; a key column.
    Kind(SubjectKind, &'a str),
}

impl KeyedBy<'_> {
    /// The columns naming the subject.
    pub fn columns(&self) -> Vec<&str> {
        match *self {
            KeyedBy::Any(kind, key) => vec![kind, key],
            KeyedBy::Kind(_, key) => vec![key],
        }
    }

    /// The [`subject_hash`] of a row whose [`Self::columns`] hold `cells`.
    pub fn hash(&self, cells: &[&str]) -> i64 {
        match *self {
            KeyedBy::Any(..) => key_hash(cells),
            KeyedBy::Kind(kind, _) => subject_hash(kind, cells[0]),
        }
    }

    /// Whether a row whose [`Self::columns`] hold `cells` is about one of `s`'s subjects.
    pub fn holds(&self, s: &Subjects, cells: &[&str]) -> bool {
        match *self {
            KeyedBy::Any(..) => s.contains(kind_of(cells[0]), cells[1]),
            KeyedBy::Kind(kind, _) => s.contains(kind, cells[0]),
        }
    }
}

/// Replaces a whole table (a full run).
pub(crate) async fn overwrite(
    lake: &Lake,
    table: &str,
    batches: Vec<RecordBatch>,
    meta: &HashMap<String, Value>,
) -> Result<(), Error> {
    lake.overwrite(Layer::Base, table, batches, meta.clone())
        .await
        .map(|_| ())
}

/// Writes an incremental run's rows of `scope`'s subjects to a table keyed by subject: their
/// old rows are deleted (deletion vectors; no file is rewritten) and `batch` appended, in one
/// commit. Rows of other subjects are not touched, and running it again changes nothing.
pub(crate) async fn write_changes(
    lake: &Lake,
    table: &str,
    batch: RecordBatch,
    keyed: KeyedBy<'_>,
    scope: &Subjects,
    meta: &HashMap<String, Value>,
) -> Result<(), Error> {
    let finder = Finder {
        keys: &keyed.columns(),
        pick: |k: &[&str]| keyed.holds(scope, k),
        hashed: Some((KEY_HASH, scope.hashes())),
    };
    let picked = lake.find(Layer::Base, table, finder, Some(&[])).await?;
    if picked.is_empty() && batch.num_rows() == 0 {
        return Ok(());
    }
    lake.replace_picked(Layer::Base, table, picked, vec![batch], meta.clone())
        .await
        .map(|_| ())
}

/// Text columns built row by row.
pub(crate) struct Cols {
    names: Vec<String>,
    builders: Vec<StringBuilder>,
}

impl Cols {
    pub fn new(names: &[&str]) -> Self {
        Cols {
            names: names.iter().map(|s| s.to_string()).collect(),
            builders: names.iter().map(|_| StringBuilder::new()).collect(),
        }
    }

    pub fn row(&mut self, values: &[&str]) {
        for (b, v) in self.builders.iter_mut().zip(values) {
            b.append_value(v);
        }
    }

    pub fn finish(mut self) -> Result<RecordBatch, Error> {
        let fields: Vec<Field> = self
            .names
            .iter()
            .map(|n| Field::new(n, DataType::Utf8, false))
            .collect();
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(arrow_err)
    }
}
