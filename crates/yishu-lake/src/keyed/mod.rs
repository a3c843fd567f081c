//! Replacing the rows of a few keys in a big table without rewriting it (merge-on-read).
//!
//! Delta's replaceWhere and MERGE in delta-rs rewrite every file that holds a matching row, and
//! the rows of a few thousand keys spread at random sit in every file: an incremental fusion run
//! would rewrite the whole library. Instead, [`Lake::pick`] finds the rows by reading only the
//! key columns — [`Lake::find`] only a 64-bit hash column of them, [`key_hash`], and of a file
//! with a key index ([`crate::key_index`]) only the index blocks of the wanted hashes — (the
//! other columns are decoded for the picked rows alone), and
//! [`Lake::replace_picked`] marks them deleted in Delta deletion vectors — a small bitmap per
//! file — and appends the new rows, in one commit. Any Delta reader (delta-rs, Spark, DuckDB,
//! Trino) applies the deletion vectors; a full rewrite of the table (a full fusion run) drops
//! them.

use crate::{Lake, Layer, key_index, lake_err};
use arrow::array::{Array, RecordBatch, StringViewArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use buoyant_kernel::actions::deletion_vector_writer::{
    KernelDeletionVector, StreamingDeletionVectorWriter,
};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, DeletionVectorDescriptor, Remove, StorageType};
use deltalake::protocol::DeltaOperation;
use deltalake::{ObjectStore, Path};
use roaring::RoaringTreemap;
use std::collections::HashMap;
use std::sync::Arc;
use yishu_types::{Error, ErrorCode};

mod decode;
mod hash;
use crate::keyed::decode::selection;
use decode::SelectedFile;
use hash::Probe;
pub use hash::{KeyHashes, key_hash};

/// Rows picked by key from one table, and where they sit — to hand to
/// [`Lake::replace_picked`].
pub struct Picked {
    /// The picked rows (rows deleted before are not picked), every column, as the files hold
    /// them.
    pub rows: Vec<RecordBatch>,
    /// The table as it was read; `None` when it does not exist yet.
    table: Option<DeltaTable>,
    files: Vec<PickedFile>,
}

/// A data file holding picked rows.
struct PickedFile {
    add: Add,
    remove: Remove,
    /// Positions deleted before, and the positions picked now.
    deleted: Vec<u64>,
    picked: Vec<u64>,
}

impl Picked {
    /// How many rows were picked.
    pub fn len(&self) -> usize {
        self.files.iter().map(|f| f.picked.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a pick finds the rows: `pick` says yes to the text of their `keys` columns (null as
/// ""); with `hashed`, a hash column narrows the rows first — only rows whose hash is in the
/// set are decoded at all (files written without the column fall back to the keys).
pub struct Finder<'a, F> {
    pub keys: &'a [&'a str],
    pub pick: F,
    pub hashed: Option<(&'a str, &'a KeyHashes)>,
}

impl Lake {
    /// The rows of a table for which `pick` says yes, given the text of their `keys` columns
    /// (null as ""): `read` of their columns (every one with `None`, none with `Some(&[])` —
    /// enough to replace them). Only the key columns of every row are decoded; the other
    /// columns only on the pages that hold picked rows.
    pub async fn pick(
        &self,
        layer: Layer,
        name: &str,
        keys: &[&str],
        pick: impl Fn(&[&str]) -> bool,
        read: Option<&[&str]>,
    ) -> Result<Picked, Error> {
        let finder = Finder {
            keys,
            pick,
            hashed: None,
        };
        self.find(layer, name, finder, read).await
    }

    /// [`Self::pick`] with a [`Finder`]: given a hash column, a pick decodes one 64-bit integer
    /// per row, not the key strings — what keeps it cheap in a library of millions of rows.
    pub async fn find(
        &self,
        layer: Layer,
        name: &str,
        finder: Finder<'_, impl Fn(&[&str]) -> bool>,
        read: Option<&[&str]>,
    ) -> Result<Picked, Error> {
        let mut out = Picked {
            rows: Vec::new(),
            table: None,
            files: Vec::new(),
        };
        if !self.has_table(layer, name) {
            return Ok(out);
        }
        let what = format!("{layer}.{name}");
        let started = std::time::Instant::now();
        let (mut scanned, mut hashed_files, mut indexed_files) = (0u64, 0usize, 0usize);
        let probe = finder.hashed.map(|(c, set)| (c, Probe::new(set)));
        // Where the time goes, for the debug line: the log (the table opened and its files
        // listed), deletion vectors and key indexes, file footers, pass 1 (keys or hashes of
        // every row of a file without an index), pass 2 (the picked rows' columns).
        let mut ms = [0u128; 5];
        let mut lap = std::time::Instant::now();
        let mut split = |slot: usize, ms: &mut [u128; 5]| {
            ms[slot] += lap.elapsed().as_micros();
            lap = std::time::Instant::now();
        };
        let (table, views) = self.files(layer, name).await?;
        split(0, &mut ms);
        let store = table.log_store().object_store(None);
        let gone = deleted_rows(&table, &store, &views, &what).await?;
        // With a hash column, the wanted hashes sorted, to look up in the files' indexes.
        let sorted: Vec<i64> = match finder.hashed {
            Some((_, set)) => {
                let mut v: Vec<i64> = set.iter().copied().collect();
                v.sort_unstable();
                v
            }
            None => Vec::new(),
        };
        let url = self.table_url(layer, name).ok();
        let local = url.as_ref().and_then(|u| u.to_file_path().ok());
        let table_url = url.map(|u| u.to_string()).unwrap_or_else(|| what.clone());
        for view in &views {
            let path = view.object_store_path();
            let size = view.size() as u64;
            let deleted = gone.get(path.as_ref());
            let kept = |pos: u64| deleted.is_none_or(|d| !d.contains(pos));
            // Candidates from the file's index, when it has one: no pass 1, and a file
            // holding none of the hashes is not opened at all.
            let indexed = match &probe {
                Some((c, _)) => {
                    key_index::positions((&store, local.as_deref()), &path, size, c, &sorted)
                        .await?
                }
                None => None,
            }
            .map(|mut c| {
                c.retain(|p| kept(*p));
                c
            });
            split(1, &mut ms);
            if let Some(c) = &indexed {
                indexed_files += 1;
                if c.is_empty() {
                    continue;
                }
            }
            let file = SelectedFile::open(
                (&store, local.as_deref()),
                (&path, size),
                (&self.footers, &table_url),
                &what,
            )
            .await?;
            split(2, &mut ms);
            let file_schema = file.footer.metadata.schema().clone();
            let index = |k: &str| {
                file_schema.index_of(k).map_err(|_| {
                    Error::new(ErrorCode::LakeError, format!("{what} has no column {k}"))
                })
            };
            let key_roots: Vec<usize> = finder
                .keys
                .iter()
                .map(|k| index(k))
                .collect::<Result<_, _>>()?;
            // The columns asked for that this file has (a file written before a column was
            // added lacks it).
            let wanted: Vec<usize> = match read {
                None => (0..file_schema.fields().len()).collect(),
                Some(cols) => cols
                    .iter()
                    .filter_map(|c| file_schema.index_of(c).ok())
                    .collect(),
            };
            let hash_root = probe
                .as_ref()
                .and_then(|(c, p)| file_schema.index_of(c).ok().map(|i| (i, p)));
            let candidates = match (indexed, hash_root) {
                (Some(c), _) => Some(c),
                (None, Some((root, hashes))) => {
                    hashed_files += 1;
                    let (n, c) = file.hits(root, hashes, &kept).await?;
                    scanned += n;
                    split(3, &mut ms);
                    Some(c)
                }
                (None, None) => None,
            };
            let (picked, rows) = match candidates {
                Some(c) if c.is_empty() => (c, Vec::new()),
                Some(c) => {
                    file.verify(c, (finder.keys, &finder.pick), (&key_roots, &wanted), read)
                        .await?
                }
                None => {
                    let (n, picked) = file
                        .scan_keys(key_roots, (finder.keys, &finder.pick), &kept)
                        .await?;
                    scanned += n;
                    let rows = if picked.is_empty() || wanted.is_empty() {
                        Vec::new()
                    } else {
                        let mut f = file.clone();
                        f.selection = selection(&picked);
                        f.read_parallel(wanted).await?
                    };
                    (picked, rows)
                }
            };
            split(4, &mut ms);
            if picked.is_empty() {
                continue;
            }
            out.rows.extend(rows);
            #[allow(deprecated)] // the Add action is what a commit re-adds with a new vector
            let add = view.add_action();
            out.files.push(PickedFile {
                remove: view.remove_action(true),
                add,
                deleted: deleted.map(|d| d.iter().collect()).unwrap_or_default(),
                picked,
            });
        }
        out.table = Some(table);
        tracing::debug!(
            table = %what,
            scanned,
            hashed_files,
            indexed_files,
            log_dvidx_footer_pass1_pass2_us = ?ms,
            picked = out.len(),
            ms = started.elapsed().as_millis() as u64,
            "picked rows by key"
        );
        Ok(out)
    }

    /// Deletes the picked rows and appends `batches`, in one commit: the files keep their rows
    /// and gain a deletion vector. A table that does not exist yet is created.
    pub async fn replace_picked(
        &self,
        layer: Layer,
        name: &str,
        picked: Picked,
        batches: Vec<RecordBatch>,
        meta: HashMap<String, serde_json::Value>,
    ) -> Result<u64, Error> {
        let what = format!("{layer}.{name}");
        // A new table, or nothing picked and nothing to write: a plain append, as ever.
        let Some(mut table) = picked
            .table
            .filter(|_| !picked.files.is_empty() || batches.iter().any(|b| b.num_rows() > 0))
        else {
            return self.append(layer, name, batches, meta).await;
        };
        let mut actions = Vec::new();
        // Rows picked: one deletion-vector file for the commit, one vector per file in it.
        if !picked.files.is_empty() {
            let protocol = table
                .snapshot()
                .map_err(lake_err(format_args!("cannot read {what}")))?
                .protocol()
                .clone();
            let has_dv = protocol.writer_features().is_some_and(|f| {
                f.contains(&buoyant_kernel::table_features::TableFeature::DeletionVectors)
            });
            if !has_dv {
                table = table
                    .add_feature()
                    .with_feature(deltalake::kernel::TableFeatures::DeletionVectors)
                    .with_allow_protocol_versions_increase(true)
                    .await
                    .map_err(lake_err(format_args!(
                        "cannot turn on deletion vectors for {what}"
                    )))?;
            }
            let uuid = uuid::Uuid::new_v4();
            let mut bytes = Vec::new();
            {
                let mut writer = StreamingDeletionVectorWriter::new(&mut bytes);
                for f in picked.files {
                    let mut dv = KernelDeletionVector::new();
                    dv.add_deleted_row_indexes(f.deleted.iter().chain(&f.picked).copied());
                    let written = writer.write_deletion_vector(dv).map_err(|e| {
                        Error::new(
                            ErrorCode::LakeError,
                            format!("cannot write a deletion vector for {what}: {e}"),
                        )
                    })?;
                    let mut add = f.add;
                    add.deletion_vector = Some(DeletionVectorDescriptor {
                        storage_type: StorageType::UuidRelativePath,
                        path_or_inline_dv: z85::encode(uuid.as_bytes()),
                        offset: Some(written.offset),
                        size_in_bytes: written.size_in_bytes,
                        cardinality: written.cardinality,
                    });
                    add.data_change = true;
                    add.modification_time = now_ms();
                    actions.push(Action::Remove(f.remove));
                    actions.push(Action::Add(add));
                }
                writer.finalize().map_err(|e| {
                    Error::new(
                        ErrorCode::LakeError,
                        format!("cannot write a deletion vector for {what}: {e}"),
                    )
                })?;
            }
            let store = table.log_store().object_store(None);
            store
                .put_opts(
                    &Path::from(format!("deletion_vector_{uuid}.bin")),
                    bytes.into(),
                    Default::default(),
                )
                .await
                .map_err(|e| {
                    Error::new(
                        ErrorCode::LakeError,
                        format!("cannot write a deletion vector for {what}: {e}"),
                    )
                })?;
        }
        if batches.iter().any(|b| b.num_rows() > 0) {
            use deltalake::writer::DeltaWriter;
            let mut writer = deltalake::writer::RecordBatchWriter::for_table(&table)
                .map_err(lake_err(format_args!("cannot write to {what}")))?;
            if let Some(props) = crate::writer_properties(layer) {
                writer = writer.with_writer_properties(props);
            }
            for b in batches {
                writer
                    .write(b)
                    .await
                    .map_err(lake_err(format_args!("cannot write to {what}")))?;
            }
            let adds = writer
                .flush()
                .await
                .map_err(lake_err(format_args!("cannot write to {what}")))?;
            crate::index_written(&table, &adds).await?;
            actions.extend(adds.into_iter().map(Action::Add));
        }
        let snapshot = table
            .snapshot()
            .map_err(lake_err(format_args!("cannot read {what}")))?;
        let done = CommitBuilder::from(CommitProperties::default().with_metadata(meta))
            .with_actions(actions)
            .build(
                Some(snapshot),
                table.log_store(),
                DeltaOperation::Update { predicate: None },
            )
            .await
            .map_err(|e| {
                Error::new(
                    ErrorCode::LakeError,
                    format!("cannot commit to {what}: {e}"),
                )
            })?;
        Ok(done.version())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Whether `pick` takes each row of a batch, given the text of its `keys` columns (null as "");
/// rows `consider` rejects are not taken.
fn picks(
    b: &RecordBatch,
    (keys, pick): (&[&str], &impl Fn(&[&str]) -> bool),
    consider: impl Fn(usize) -> bool,
    what: &str,
) -> Result<Vec<bool>, Error> {
    let cols: Vec<StringViewArray> = keys
        .iter()
        .map(|k| text_column(b, k, what))
        .collect::<Result<_, _>>()?;
    let mut cells: Vec<&str> = Vec::with_capacity(keys.len());
    Ok((0..b.num_rows())
        .map(|i| {
            if !consider(i) {
                return false;
            }
            cells.clear();
            cells.extend(
                cols.iter()
                    .map(|c| if c.is_null(i) { "" } else { c.value(i) }),
            );
            pick(&cells)
        })
        .collect())
}

/// A column of a batch as text.
fn text_column(b: &RecordBatch, name: &str, what: &str) -> Result<StringViewArray, Error> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| Error::new(ErrorCode::LakeError, format!("{what} has no column {name}")))?;
    let c = cast(c, &DataType::Utf8View).map_err(|e| {
        Error::new(
            ErrorCode::LakeError,
            format!("cannot read {what}.{name}: {e}"),
        )
    })?;
    Ok(c.as_any()
        .downcast_ref::<StringViewArray>()
        .cloned()
        .unwrap_or_else(|| StringViewArray::from(vec![None::<&str>; c.len()])))
}

/// The file (relative to the table) a UUID-relative deletion vector is in: an optional directory
/// prefix, then the file's UUID in 20 Z85 characters.
pub(crate) fn vector_file(code: &str) -> Option<String> {
    let at = code.len().saturating_sub(20);
    let (prefix, id) = (code.get(..at)?, code.get(at..)?);
    let uuid = z85::decode(id)
        .ok()
        .and_then(|b| uuid::Uuid::from_slice(&b).ok())?;
    Some(match prefix {
        "" => format!("deletion_vector_{uuid}.bin"),
        p => format!("{p}/deletion_vector_{uuid}.bin"),
    })
}

/// The magic number of a deletion vector serialised as a portable 64-bit roaring bitmap.
const PORTABLE_ROARING: u32 = 1681511377;

/// The rows deleted from each data file that has a deletion vector, by the file's path in the
/// table: read straight from the vector files — each once, however many data files it serves —
/// not through a scan of the table, which would expand every vector to a flag per row.
async fn deleted_rows(
    table: &DeltaTable,
    store: &Arc<dyn ObjectStore>,
    views: &[deltalake::kernel::LogicalFileView],
    what: &str,
) -> Result<HashMap<String, RoaringTreemap>, Error> {
    let bad = |why: String| {
        Error::new(
            ErrorCode::LakeError,
            format!("cannot read the deletion vectors of {what}: {why}"),
        )
    };
    let mut out = HashMap::new();
    let mut vector_files = HashMap::new();
    for view in views {
        let Some(d) = view.deletion_vector_descriptor() else {
            continue;
        };
        let rows = match d.storage_type {
            StorageType::Inline => {
                let bytes = z85::decode(&d.path_or_inline_dv)
                    .map_err(|e| bad(format!("an inline vector is not Z85: {e}")))?;
                if bytes.len() < 4
                    || u32::from_le_bytes(bytes[..4].try_into().unwrap()) != PORTABLE_ROARING
                {
                    return Err(bad(
                        "an inline vector is not a portable roaring bitmap".into()
                    ));
                }
                RoaringTreemap::deserialize_from(&bytes[4..]).map_err(|e| bad(e.to_string()))?
            }
            // Written by another engine at a path of its choice: let delta-rs resolve it.
            StorageType::AbsolutePath => return keep_masks(table, views, what).await,
            StorageType::UuidRelativePath => {
                let code = &d.path_or_inline_dv;
                let file = vector_file(code)
                    .ok_or_else(|| bad(format!("{code:?} names no vector file")))?;
                if !vector_files.contains_key(&file) {
                    let bytes = store
                        .get_opts(&Path::from(file.as_str()), Default::default())
                        .await
                        .map_err(|e| bad(format!("{file}: {e}")))?
                        .bytes()
                        .await
                        .map_err(|e| bad(format!("{file}: {e}")))?;
                    vector_files.insert(file.clone(), bytes);
                }
                let at = usize::try_from(d.offset.unwrap_or(1)).unwrap_or(usize::MAX);
                let size = usize::try_from(d.size_in_bytes).unwrap_or(usize::MAX);
                vector_in(&vector_files[&file], at, size)
                    .map_err(|why| bad(format!("{file} at {at}: {why}")))?
            }
        };
        if rows.len() != d.cardinality as u64 {
            return Err(bad(format!(
                "a vector holds {} rows, the log says {}",
                rows.len(),
                d.cardinality
            )));
        }
        out.insert(view.object_store_path().to_string(), rows);
    }
    Ok(out)
}

/// One vector of a deletion-vector file: its size (big-endian), the magic number, the bitmap,
/// and a CRC-32 of magic and bitmap (big-endian).
fn vector_in(file: &[u8], at: usize, size: usize) -> Result<RoaringTreemap, String> {
    // Offsets and sizes come from the log: a wrong one is an error, not an overflow.
    let end = at.checked_add(4).and_then(|e| e.checked_add(size));
    let Some(end) = end.filter(|e| size >= 4 && e.checked_add(4).is_some_and(|x| x <= file.len()))
    else {
        return Err("the file is shorter than the log says".into());
    };
    let word = |i: usize| -> [u8; 4] { file[i..i + 4].try_into().unwrap() };
    if u32::from_be_bytes(word(at)) as usize != size {
        return Err("the size in the file differs from the log's".into());
    }
    if u32::from_le_bytes(word(at + 4)) != PORTABLE_ROARING {
        return Err("not a portable roaring bitmap".into());
    }
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&file[at + 4..end]);
    if crc != u32::from_be_bytes(word(end)) {
        return Err("the checksum does not match".into());
    }
    RoaringTreemap::deserialize_from(&file[at + 8..end]).map_err(|e| e.to_string())
}

/// The rows each file with a deletion vector has deleted, by its path in the table, as
/// delta-rs resolves them (a vector at an absolute path another engine wrote).
async fn keep_masks(
    table: &DeltaTable,
    views: &[deltalake::kernel::LogicalFileView],
    what: &str,
) -> Result<HashMap<String, RoaringTreemap>, Error> {
    let ctx = SessionContext::new();
    table
        .update_datafusion_session(&ctx.state())
        .map_err(lake_err(format_args!("cannot read {what}")))?;
    let scan = table
        .table_provider()
        .build()
        .await
        .map_err(|e| Error::new(ErrorCode::LakeError, format!("cannot read {what}: {e}")))?;
    let masks = scan.deletion_vectors(&ctx.state()).await.map_err(|e| {
        Error::new(
            ErrorCode::LakeError,
            format!("cannot read the deletion vectors of {what}: {e}"),
        )
    })?;
    // The scan names files by URI: match them to the table's paths as a reader would.
    Ok(masks
        .into_iter()
        .filter_map(|m| {
            let view = views
                .iter()
                .find(|v| m.filepath.ends_with(v.object_store_path().as_ref()))?;
            let path = view.object_store_path().to_string();
            let gone = m
                .keep_mask
                .iter()
                .enumerate()
                .filter(|(_, k)| !**k)
                .map(|(i, _)| i as u64);
            Some((path, gone.collect()))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::vector_in;

    #[test]
    fn a_vector_the_log_places_outside_its_file_is_an_error() {
        let file = [0u8; 32];
        for (at, size) in [(usize::MAX, 8), (1, usize::MAX), (1, 2), (20, 16)] {
            let e = vector_in(&file, at, size).unwrap_err();
            assert!(e.contains("shorter"), "{at} {size}: {e}");
        }
        // In bounds but not a vector: the size word says 0.
        assert!(vector_in(&file, 1, 8).unwrap_err().contains("size"));
    }
}
