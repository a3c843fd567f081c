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

use crate::footers::{Footer, Footers, pages_read};
use crate::page_list::{self, PageList};
use crate::{Lake, Layer, key_index, lake_err};
use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, StringViewArray};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Int64Type};
use buoyant_kernel::actions::deletion_vector_writer::{
    KernelDeletionVector, StreamingDeletionVectorWriter,
};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, DeletionVectorDescriptor, Remove, StorageType};
use deltalake::parquet::arrow::ProjectionMask;
use deltalake::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelectionPolicy, RowSelector,
};
#[allow(deprecated)] // the object-store reader delta-rs itself reads with
use deltalake::parquet::arrow::async_reader::{
    ParquetObjectReader, ParquetRecordBatchStreamBuilder,
};
use deltalake::parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use deltalake::protocol::DeltaOperation;
use deltalake::{ObjectStore, Path};
use futures::{StreamExt, TryStreamExt};
use roaring::RoaringTreemap;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use yishu_types::{Error, ErrorCode};

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

fn read_err(what: &str) -> impl FnOnce(deltalake::parquet::errors::ParquetError) -> Error + '_ {
    move |e| Error::new(ErrorCode::LakeError, format!("cannot read {what}: {e}"))
}

/// The rows at `picked` (ascending positions) of a file of `rows` rows.
fn selection(picked: &[u64]) -> RowSelection {
    let mut out = Vec::new();
    let mut at = 0u64;
    for &p in picked {
        if p > at {
            out.push(RowSelector::skip((p - at) as usize));
        }
        out.push(RowSelector::select(1));
        at = p + 1;
    }
    RowSelection::from(out)
}

/// Picked rows of one data file, to decode.
#[derive(Clone)]
struct SelectedFile {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
    selection: RowSelection,
    what: String,
    /// The file's footer, read once for both passes (and kept for the next pick).
    footer: Arc<Footer>,
    /// The whole file mapped into memory, when the lake is on local disk: a pick then reads
    /// its pages in place — no read call and no copy per page.
    mapped: Option<bytes::Bytes>,
}

#[allow(deprecated)]
type FileStream = ParquetRecordBatchStreamBuilder<ParquetObjectReader>;

impl SelectedFile {
    /// Reads a data file's footer, with the offset index: pages holding no picked row are then
    /// neither fetched nor decoded. `local` is the table's directory when the lake is on
    /// local disk: the file is then mapped into memory.
    /// `footers` keeps what was decoded, for the next pick from the same file.
    async fn open(
        (store, local): (&Arc<dyn ObjectStore>, Option<&std::path::Path>),
        (path, size): (&Path, u64),
        (footers, table): (&std::sync::Mutex<Footers>, &str),
        what: &str,
    ) -> Result<Self, Error> {
        let mapped = local.and_then(|dir| map_file(&dir.join(path.as_ref()), size));
        // A mapped file's offset indexes are decoded when a read projects their columns
        // ([`Footer::for_columns`]); through the object store, all of them with the footer.
        let policy = match mapped {
            Some(_) => PageIndexPolicy::Skip,
            None => PageIndexPolicy::Optional,
        };
        let options = ArrowReaderOptions::new().with_offset_index_policy(policy);
        // Paths are relative to their table; a file is never rewritten in place, its size
        // guards against a table made again under the same name all the same.
        let key = format!("{table}/{path}#{size}");
        let kept = footers.lock().ok().and_then(|f| f.get(&key));
        let footer = match kept {
            Some(f) => f,
            None => {
                let decoded = match &mapped {
                    Some(bytes) => ArrowReaderMetadata::load(bytes, options),
                    None => {
                        #[allow(deprecated)]
                        let mut reader = ParquetObjectReader::new(store.clone(), path.clone())
                            .with_file_size(size);
                        ArrowReaderMetadata::load_async(&mut reader, options).await
                    }
                }
                .map_err(read_err(what))?;
                let pages = match (&mapped, local) {
                    (Some(_), Some(dir)) => page_list(dir, path, size, decoded.metadata()),
                    _ => None,
                };
                let footer = Arc::new(Footer::new(decoded, pages));
                if let Ok(mut f) = footers.lock() {
                    f.keep(key, footer.clone());
                }
                footer
            }
        };
        Ok(SelectedFile {
            mapped,
            store: store.clone(),
            path: path.clone(),
            size,
            selection: RowSelection::from(Vec::<RowSelector>::new()),
            what: what.to_string(),
            footer,
        })
    }

    fn builder(&self) -> FileStream {
        #[allow(deprecated)]
        let reader = ParquetObjectReader::new(self.store.clone(), self.path.clone())
            .with_file_size(self.size);
        ParquetRecordBatchStreamBuilder::new_with_metadata(reader, self.footer.metadata.clone())
    }

    /// Pass 1 by keys: the positions of the kept rows `pick` says yes to, decoding the key
    /// columns (`roots`) of every row; and how many rows the file has.
    async fn scan_keys(
        &self,
        roots: Vec<usize>,
        (keys, pick): (&[&str], &impl Fn(&[&str]) -> bool),
        kept: &impl Fn(u64) -> bool,
    ) -> Result<(u64, Vec<u64>), Error> {
        let what = &self.what;
        let builder = self.builder();
        // Key strings decoded as views (no copy into a new buffer): this pass decodes whole
        // columns, and that is most of what a pick by keys costs.
        let as_views = arrow::datatypes::Schema::new(
            builder
                .schema()
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 => {
                        f.as_ref().clone().with_data_type(DataType::Utf8View)
                    }
                    _ => f.as_ref().clone(),
                })
                .collect::<Vec<_>>(),
        );
        let options = ArrowReaderOptions::new().with_schema(Arc::new(as_views));
        let metadata = ArrowReaderMetadata::try_new(builder.metadata().clone(), options)
            .map_err(read_err(what))?;
        #[allow(deprecated)]
        let reader = ParquetObjectReader::new(self.store.clone(), self.path.clone())
            .with_file_size(self.size);
        let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata);
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let mut stream = builder
            .with_projection(mask)
            .with_batch_size(8192)
            .build()
            .map_err(read_err(what))?;
        let (mut at, mut picked) = (0u64, Vec::new());
        while let Some(b) = stream.next().await {
            let b = b.map_err(read_err(what))?;
            let yes = picks(&b, (keys, pick), |i| kept(at + i as u64), what)?;
            picked.extend((0..b.num_rows()).filter(|&i| yes[i]).map(|i| at + i as u64));
            at += b.num_rows() as u64;
        }
        Ok((at, picked))
    }

    /// Pass 1 by hash: the positions of the kept rows whose hash column (`root`) holds one of
    /// `hashes` — candidates, since two keys may share a hash; and how many rows the file has.
    async fn hits(
        &self,
        root: usize,
        hashes: &Probe<'_>,
        kept: &impl Fn(u64) -> bool,
    ) -> Result<(u64, Vec<u64>), Error> {
        let what = &self.what;
        let builder = self.builder();
        let mask = ProjectionMask::roots(builder.parquet_schema(), [root]);
        let mut stream = builder
            .with_projection(mask)
            .with_batch_size(65536)
            .build()
            .map_err(read_err(what))?;
        let (mut at, mut hits) = (0u64, Vec::new());
        while let Some(b) = stream.next().await {
            let b = b.map_err(read_err(what))?;
            let column = b.column(0).as_primitive_opt::<Int64Type>().ok_or_else(|| {
                Error::new(
                    ErrorCode::LakeError,
                    format!("{what}: a hash column must hold 64-bit integers"),
                )
            })?;
            for (i, h) in column.values().iter().enumerate() {
                if hashes.contains(*h) && !column.is_null(i) && kept(at + i as u64) {
                    hits.push(at + i as u64);
                }
            }
            at += b.num_rows() as u64;
        }
        Ok((at, hits))
    }

    /// Pass 2 after [`Self::hits`]: the candidates decoded with their keys, those `pick` says
    /// yes to kept — their positions, and their `wanted` columns (`read`, by name).
    async fn verify(
        &self,
        candidates: Vec<u64>,
        (keys, pick): (&[&str], &impl Fn(&[&str]) -> bool),
        (key_roots, wanted): (&[usize], &[usize]),
        read: Option<&[&str]>,
    ) -> Result<(Vec<u64>, Vec<RecordBatch>), Error> {
        let what = &self.what;
        let mut roots: Vec<usize> = wanted.iter().chain(key_roots).copied().collect();
        roots.sort_unstable();
        roots.dedup();
        let mut file = self.clone();
        file.selection = selection(&candidates);
        let batches = file.read_parallel(roots).await?;
        let (mut at, mut picked, mut rows) = (0usize, Vec::new(), Vec::new());
        for b in batches {
            let yes = BooleanArray::from(picks(&b, (keys, pick), |_| true, what)?);
            picked.extend(
                yes.iter()
                    .zip(&candidates[at..at + b.num_rows()])
                    .filter(|(y, _)| *y == Some(true))
                    .map(|(_, p)| *p),
            );
            at += b.num_rows();
            let kept = filter_record_batch(&b, &yes)
                .map_err(|e| Error::new(ErrorCode::Internal, format!("reading {what}: {e}")))?;
            let kept = match read {
                None => kept,
                Some(cols) => {
                    let names: Vec<usize> = cols
                        .iter()
                        .filter_map(|c| kept.schema().index_of(c).ok())
                        .collect();
                    kept.project(&names).map_err(|e| {
                        Error::new(ErrorCode::Internal, format!("reading {what}: {e}"))
                    })?
                }
            };
            if kept.num_columns() > 0 && kept.num_rows() > 0 {
                rows.push(kept);
            }
        }
        Ok((picked, rows))
    }

    /// The selected rows, columns `roots` (file positions), in file order. Always by
    /// selectors, which skip the pages holding no picked row: the reader's default turns a
    /// selection averaging under 32 rows a run into a mask over the whole file and decodes
    /// every page — what picking 15,000 of 300,000 rows did (0.82 s for one table).
    async fn read(self, roots: Vec<usize>) -> Result<Vec<RecordBatch>, Error> {
        if let Some(bytes) = self.mapped {
            let what = self.what;
            let footer = self.footer;
            let read = move || {
                let metadata = footer
                    .for_columns(&bytes, &roots, &self.selection)
                    .map_err(read_err(&what))?;
                // What pass 2 costs, for the debug line (counted only when it is shown).
                if tracing::enabled!(tracing::Level::DEBUG) {
                    let pages = pages_read(metadata.metadata(), &roots, &self.selection);
                    let rows = self.selection.row_count();
                    tracing::debug!(table = %what, rows, pages, "pages to read");
                }
                let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(bytes, metadata);
                let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
                builder
                    .with_projection(mask)
                    .with_row_selection(self.selection)
                    .with_row_selection_policy(RowSelectionPolicy::Selectors)
                    .with_batch_size(8192)
                    .build()
                    .map_err(read_err(&what))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        Error::new(ErrorCode::LakeError, format!("cannot read {what}: {e}"))
                    })
            };
            return tokio::task::spawn_blocking(read).await.map_err(|e| {
                Error::new(
                    ErrorCode::Internal,
                    format!("reading a data file failed: {e}"),
                )
            })?;
        }
        let builder = self.builder();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        builder
            .with_projection(mask)
            .with_row_selection(self.selection)
            .with_row_selection_policy(RowSelectionPolicy::Selectors)
            .with_batch_size(8192)
            .build()
            .map_err(read_err(&self.what))?
            .try_collect()
            .await
            .map_err(read_err(&self.what))
    }

    /// [`Self::read`], the columns split over two tasks (picked rows spread over a file make
    /// every page of a wide table decode, which is CPU work for both cores).
    async fn read_parallel(self, roots: Vec<usize>) -> Result<Vec<RecordBatch>, Error> {
        if roots.len() < 4 {
            return self.read(roots).await;
        }
        let (a, b) = roots.split_at(roots.len() / 2);
        let other = self.clone();
        let what = self.what.clone();
        let first = tokio::spawn(self.read(a.to_vec()));
        let second = tokio::spawn(other.read(b.to_vec()));
        let join = |e: tokio::task::JoinError| {
            Error::new(ErrorCode::Internal, format!("reading {what} failed: {e}"))
        };
        let (first, second) = (first.await.map_err(join)??, second.await.map_err(join)??);
        first
            .into_iter()
            .zip(second)
            .map(|(x, y)| {
                let mut fields = x.schema().fields().to_vec();
                fields.extend(y.schema().fields().iter().cloned());
                let mut columns = x.columns().to_vec();
                columns.extend(y.columns().iter().cloned());
                RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns)
                    .map_err(|e| Error::new(ErrorCode::Internal, format!("reading {what}: {e}")))
            })
            .collect()
    }
}

/// The page list ([`crate::page_list`]) of the data file at `path` in the table directory
/// `dir`, mapped, when it has one that matches its footer `metadata`.
fn page_list(
    dir: &std::path::Path,
    path: &Path,
    size: u64,
    metadata: &ParquetMetaData,
) -> Option<PageList> {
    let list = dir.join(page_list::list_path(path).as_ref());
    let map = crate::map_immutable(&list).ok()?;
    PageList::open(bytes::Bytes::from_owner(map), size, metadata)
        .inspect_err(|e| tracing::warn!(list = %list.display(), "page list not used: {e}"))
        .ok()
}

/// A local data file of `size` bytes mapped into memory; `None` when it cannot be (the caller
/// reads it through the object store).
fn map_file(path: &std::path::Path, size: u64) -> Option<bytes::Bytes> {
    let map = crate::map_immutable(path).ok()?;
    (map.len() as u64 == size).then(|| bytes::Bytes::from_owner(map))
}

/// The hash a hash column holds for a row's key cells: the first 8 bytes of BLAKE3 over the
/// cells separated by U+001F. Files keep it, so it must not change between versions.
pub fn key_hash(parts: &[&str]) -> i64 {
    let mut h = blake3::Hasher::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(&[0x1f]);
        }
        h.update(p.as_bytes());
    }
    let bytes: [u8; 8] = h.finalize().as_bytes()[..8]
        .try_into()
        .expect("a BLAKE3 hash has 32 bytes");
    i64::from_le_bytes(bytes)
}

/// Key hashes to look for: already uniform, so the set hashes them by identity.
pub type KeyHashes = HashSet<i64, BuildHasherDefault<Identity>>;

/// The hasher of [`KeyHashes`]: the key hash is the hash.
#[derive(Default)]
pub struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_i64(&mut self, i: i64) {
        self.0 = i as u64;
    }
}

/// [`KeyHashes`] with a bitmap in front: most rows of a big table are not looked for, and one
/// bit (of a map that stays in cache) says so, where the set would take a probe.
struct Probe<'a> {
    bits: Vec<u64>,
    mask: u64,
    set: &'a KeyHashes,
}

impl<'a> Probe<'a> {
    fn new(set: &'a KeyHashes) -> Self {
        // About 32 bits per hash looked for: one row in 32 passes the bitmap by chance.
        let len = (set.len() * 32).next_power_of_two().clamp(1 << 12, 1 << 24);
        let mut bits = vec![0u64; len / 64];
        let mask = len as u64 - 1;
        for h in set {
            let b = (*h as u64) & mask;
            bits[(b / 64) as usize] |= 1 << (b % 64);
        }
        Probe { bits, mask, set }
    }

    fn contains(&self, h: i64) -> bool {
        let b = (h as u64) & self.mask;
        self.bits[(b / 64) as usize] & (1 << (b % 64)) != 0 && self.set.contains(&h)
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
        if !self.list_tables(layer).iter().any(|t| t == name) {
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
                // An optional directory prefix, then the file's UUID in 20 Z85 characters.
                let at = code.len().saturating_sub(20);
                let (Some(prefix), Some(id)) = (code.get(..at), code.get(at..)) else {
                    return Err(bad(format!("{code:?} names no vector file")));
                };
                let uuid = z85::decode(id)
                    .ok()
                    .and_then(|b| uuid::Uuid::from_slice(&b).ok())
                    .ok_or_else(|| bad(format!("{code:?} names no vector file")))?;
                let file = match prefix {
                    "" => format!("deletion_vector_{uuid}.bin"),
                    p => format!("{p}/deletion_vector_{uuid}.bin"),
                };
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
