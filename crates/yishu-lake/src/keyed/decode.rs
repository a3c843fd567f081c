//! Decoding picked rows of one data file: only their pages, through the file's page list
//! when it has one, from a memory map when the file is local.

use crate::footers::{Footer, Footers, pages_read};
use crate::keyed::Probe;
use crate::keyed::picks;
use crate::page_list::{self, PageList};
use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, Int64Type};
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
use deltalake::{ObjectStore, Path};
use futures::{StreamExt, TryStreamExt};
use std::sync::Arc;
use yishu_types::{Error, ErrorCode};

pub(super) fn read_err(
    what: &str,
) -> impl FnOnce(deltalake::parquet::errors::ParquetError) -> Error + '_ {
    move |e| Error::new(ErrorCode::LakeError, format!("cannot read {what}: {e}"))
}

/// The rows at `picked` (ascending positions) of a file of `rows` rows.
pub(super) fn selection(picked: &[u64]) -> RowSelection {
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
pub(super) struct SelectedFile {
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) path: Path,
    pub(super) size: u64,
    pub(super) selection: RowSelection,
    pub(super) what: String,
    /// The file's footer, read once for both passes (and kept for the next pick).
    pub(super) footer: Arc<Footer>,
    /// The whole file mapped into memory, when the lake is on local disk: a pick then reads
    /// its pages in place — no read call and no copy per page.
    pub(super) mapped: Option<bytes::Bytes>,
}

#[allow(deprecated)]
pub(super) type FileStream = ParquetRecordBatchStreamBuilder<ParquetObjectReader>;

impl SelectedFile {
    /// Reads a data file's footer, with the offset index: pages holding no picked row are then
    /// neither fetched nor decoded. `local` is the table's directory when the lake is on
    /// local disk: the file is then mapped into memory.
    /// `footers` keeps what was decoded, for the next pick from the same file.
    pub(super) async fn open(
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

    pub(super) fn builder(&self) -> FileStream {
        #[allow(deprecated)]
        let reader = ParquetObjectReader::new(self.store.clone(), self.path.clone())
            .with_file_size(self.size);
        ParquetRecordBatchStreamBuilder::new_with_metadata(reader, self.footer.metadata.clone())
    }

    /// Pass 1 by keys: the positions of the kept rows `pick` says yes to, decoding the key
    /// columns (`roots`) of every row; and how many rows the file has.
    pub(super) async fn scan_keys(
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
    pub(super) async fn hits(
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
    pub(super) async fn verify(
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
    pub(super) async fn read(self, roots: Vec<usize>) -> Result<Vec<RecordBatch>, Error> {
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
    pub(super) async fn read_parallel(self, roots: Vec<usize>) -> Result<Vec<RecordBatch>, Error> {
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
pub(super) fn page_list(
    dir: &std::path::Path,
    path: &Path,
    size: u64,
    metadata: &ParquetMetaData,
) -> Option<PageList> {
    let list = dir.join(page_list::list_path(path).as_ref());
    let map = crate::map_immutable(&list).ok()?;
    PageList::open(map, size, metadata)
        .inspect_err(|e| tracing::warn!(list = %list.display(), "page list not used: {e}"))
        .ok()
}

/// A local data file of `size` bytes mapped into memory; `None` when it cannot be (the caller
/// reads it through the object store).
pub(super) fn map_file(path: &std::path::Path, size: u64) -> Option<bytes::Bytes> {
    let map = crate::map_immutable(path).ok()?;
    (map.len() as u64 == size).then_some(map)
}
