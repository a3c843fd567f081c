//! Reading and writing the base layer's tables as text columns: rows built one at a time, scans
//! of the rows a predicate keeps, and the writes of a run — the whole table in a full run, only
//! what differs for the touched subjects in an incremental one.

use crate::key::SubjectKind;
use futures::StreamExt;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use yishu_lake::arrow::array::{
    Array, ArrayRef, BooleanArray, RecordBatch, StringArray, StringBuilder,
};
use yishu_lake::arrow::compute::{cast, filter_record_batch};
use yishu_lake::arrow::datatypes::{DataType, Field, Schema};
use yishu_lake::datafusion::prelude::{Expr, ident, lit};
use yishu_lake::{Lake, Layer};
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

/// Streams `columns` of every row of a table, as text, to `each` (nothing when the table does
/// not exist yet). Callers pick the rows they want: a set of thousands of keys is a hash lookup
/// here, where as a predicate Delta and DataFusion would unfold it into an expression too deep
/// to walk.
pub(crate) async fn scan(
    lake: &Lake,
    (layer, table): (Layer, &str),
    columns: &[&str],
    mut each: impl FnMut(&[StringArray], usize),
) -> Result<(), Error> {
    let what = format!("cannot read {layer}.{table}");
    let Some(frame) = lake.frame(layer, table).await? else {
        return Ok(());
    };
    let mut stream = frame
        .select(columns.iter().map(|c| ident(*c)).collect::<Vec<Expr>>())
        .map_err(lake_err(what.clone()))?
        .execute_stream()
        .await
        .map_err(lake_err(what.clone()))?;
    while let Some(b) = stream.next().await {
        let b = b.map_err(lake_err(what.clone()))?;
        let cols = texts(&b)?;
        for i in 0..b.num_rows() {
            each(&cols, i);
        }
    }
    Ok(())
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

/// Subjects, by kind.
#[derive(Default, Clone)]
pub(crate) struct Subjects(pub BTreeMap<SubjectKind, HashSet<String>>);

impl Subjects {
    pub fn insert(&mut self, kind: SubjectKind, key: String) {
        self.0.entry(kind).or_default().insert(key);
    }

    pub fn contains(&self, kind: SubjectKind, key: &str) -> bool {
        self.0.get(&kind).is_some_and(|k| k.contains(key))
    }

    pub fn len(&self) -> usize {
        self.0.values().map(HashSet::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows of these subjects in a table of one kind keyed by `key_col`.
    pub fn of_kind(&self, kind: SubjectKind, key_col: &str) -> Expr {
        keys_in(key_col, self.0.get(&kind).into_iter().flatten())
    }

    /// Rows of these subjects in a table of every kind (`kind_col`, `key_col`).
    pub fn of_any(&self, kind_col: &str, key_col: &str) -> Expr {
        self.0
            .iter()
            .filter(|(_, keys)| !keys.is_empty())
            .map(|(kind, keys)| {
                ident(kind_col)
                    .eq(lit(kind.as_str()))
                    .and(keys_in(key_col, keys.iter()))
            })
            .reduce(Expr::or)
            .unwrap_or(lit(false))
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
    fn rows_of(&self, s: &Subjects) -> Expr {
        match *self {
            KeyedBy::Any(kind, key) => s.of_any(kind, key),
            KeyedBy::Kind(kind, key) => s.of_kind(kind, key),
        }
    }
}

/// Replaces a whole table (a full run).
pub(crate) async fn overwrite(
    lake: &Lake,
    table: &str,
    batch: RecordBatch,
    meta: &HashMap<String, Value>,
) -> Result<(), Error> {
    lake.overwrite(Layer::Base, table, vec![batch], meta.clone())
        .await
        .map(|_| ())
}

/// Writes an incremental run's rows of `scope`'s subjects to a table keyed by subject: what
/// differs from the rows the table holds for them. A subject that only gained rows gets them
/// appended; one whose rows changed or went has its rows replaced (Delta replaceWhere). Rows
/// of other subjects are not touched, and running it again changes nothing.
pub(crate) async fn write_changes(
    lake: &Lake,
    table: &str,
    batch: RecordBatch,
    keyed: KeyedBy<'_>,
    scope: &Subjects,
    meta: &HashMap<String, Value>,
) -> Result<(), Error> {
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let (kind_at, key_at) = match keyed {
        KeyedBy::Any(kind, key) => (names.iter().position(|n| n == kind), key),
        KeyedBy::Kind(_, key) => (None, key),
    };
    let key_at = names.iter().position(|n| n == key_at).unwrap_or(0);
    let subject = |cols: &[StringArray], i: usize| -> (String, String) {
        let kind = match (kind_at, keyed) {
            (Some(k), _) => cell(cols, k, i).to_string(),
            (None, KeyedBy::Kind(kind, _)) => kind.as_str().to_string(),
            (None, _) => String::new(),
        };
        (kind, cell(cols, key_at, i).to_string())
    };
    let line = |cols: &[StringArray], i: usize| -> String {
        (0..cols.len())
            .map(|c| cell(cols, c, i))
            .collect::<Vec<_>>()
            .join("\u{1f}")
    };
    // The table's rows of these subjects, as text.
    let mut old: HashMap<(String, String), Vec<String>> = HashMap::new();
    let columns: Vec<&str> = names.iter().map(String::as_str).collect();
    scan(lake, (Layer::Base, table), &columns, |cols, i| {
        let s = subject(cols, i);
        if scope.contains(kind_of(&s.0), &s.1) {
            old.entry(s).or_default().push(line(cols, i));
        }
    })
    .await?;
    let cols = texts(&batch)?;
    let mut new: HashMap<(String, String), Vec<(String, usize)>> = HashMap::new();
    for i in 0..batch.num_rows() {
        new.entry(subject(&cols, i))
            .or_default()
            .push((line(&cols, i), i));
    }
    let mut append = vec![false; batch.num_rows()];
    let mut replaced = Subjects::default();
    let mut subjects: HashSet<&(String, String)> = old.keys().collect();
    subjects.extend(new.keys());
    for s in subjects {
        let mut was: Vec<&str> = old
            .get(s)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let mut now: Vec<(&str, usize)> = new
            .get(s)
            .map(|v| v.iter().map(|(l, i)| (l.as_str(), *i)).collect())
            .unwrap_or_default();
        was.sort_unstable();
        now.sort_unstable();
        // Walk both: rows only in `now` are additions; a row only in `was` means a change.
        let (mut a, mut b) = (0, 0);
        let mut added = Vec::new();
        let mut changed = false;
        while a < was.len() || b < now.len() {
            match (was.get(a), now.get(b)) {
                (Some(w), Some((n, _))) if w == n => {
                    a += 1;
                    b += 1;
                }
                (Some(w), Some((n, i))) if n < w => {
                    added.push(*i);
                    b += 1;
                }
                (None, Some((_, i))) => {
                    added.push(*i);
                    b += 1;
                }
                _ => {
                    changed = true;
                    break;
                }
            }
        }
        if changed {
            replaced.insert(kind_of(&s.0), s.1.clone());
        } else {
            for i in added {
                append[i] = true;
            }
        }
    }
    let rows_of =
        |mask: Vec<bool>| filter_record_batch(&batch, &BooleanArray::from(mask)).map_err(arrow_err);
    if append.iter().any(|x| *x) {
        let rows = rows_of(append)?;
        lake.append(Layer::Base, table, vec![rows], meta.clone())
            .await?;
    }
    if !replaced.is_empty() {
        let mask: Vec<bool> = (0..batch.num_rows())
            .map(|i| {
                let (k, key) = subject(&cols, i);
                replaced.contains(kind_of(&k), &key)
            })
            .collect();
        let rows = rows_of(mask)?;
        if replaced.len() <= REPLACE_BY_PREDICATE {
            lake.replace_where(
                Layer::Base,
                table,
                keyed.rows_of(&replaced),
                vec![rows],
                meta.clone(),
            )
            .await?;
        } else {
            rewrite(lake, table, keyed, &replaced, rows, meta).await?;
        }
    }
    Ok(())
}

/// Subjects whose rows are replaced by a Delta predicate at most; more are replaced by
/// rewriting the table (which is what Delta would do for keys spread over every file anyway).
const REPLACE_BY_PREDICATE: usize = 32;

/// Rewrites a table without the rows of `drop`'s subjects and with `add`, in one commit.
pub(crate) async fn rewrite(
    lake: &Lake,
    table: &str,
    keyed: KeyedBy<'_>,
    drop: &Subjects,
    add: RecordBatch,
    meta: &HashMap<String, Value>,
) -> Result<(), Error> {
    let what = format!("cannot read base.{table}");
    let schema = add.schema();
    let mut out = Vec::new();
    if let Some(frame) = lake.frame(Layer::Base, table).await? {
        let mut stream = frame
            .execute_stream()
            .await
            .map_err(lake_err(what.clone()))?;
        while let Some(b) = stream.next().await {
            let b = b.map_err(lake_err(what.clone()))?;
            let (kind_col, key_col) = match keyed {
                KeyedBy::Any(kind, key) => (Some(kind), key),
                KeyedBy::Kind(_, key) => (None, key),
            };
            let column = |name: &str| -> Result<StringArray, Error> {
                let c = b.column_by_name(name).ok_or_else(|| {
                    Error::new(ErrorCode::LakeError, format!("base.{table} has no {name}"))
                })?;
                Ok(
                    texts(&RecordBatch::try_from_iter([(name, c.clone())]).map_err(arrow_err)?)?
                        .remove(0),
                )
            };
            let keys = column(key_col)?;
            let kinds = kind_col.map(column).transpose()?;
            let keep: BooleanArray = (0..b.num_rows())
                .map(|i| {
                    let kind = match (&kinds, keyed) {
                        (Some(k), _) => kind_of(k.value(i)),
                        (None, KeyedBy::Kind(kind, _)) => kind,
                        (None, KeyedBy::Any(..)) => SubjectKind::Person,
                    };
                    Some(!drop.contains(kind, keys.value(i)))
                })
                .collect();
            let kept = filter_record_batch(&b, &keep).map_err(arrow_err)?;
            let columns = schema
                .fields()
                .iter()
                .map(|f| {
                    // Read back as the reader likes (string views); written as the table is.
                    let c = kept.column_by_name(f.name()).ok_or_else(|| {
                        Error::new(
                            ErrorCode::LakeError,
                            format!("base.{table} has no {}", f.name()),
                        )
                    })?;
                    cast(c, f.data_type()).map_err(arrow_err)
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(RecordBatch::try_new(schema.clone(), columns).map_err(arrow_err)?);
        }
    }
    out.push(add);
    lake.overwrite(Layer::Base, table, out, meta.clone())
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
