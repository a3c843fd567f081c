//! Connectors that bring departments' data into a resource's raw (贴源, ods) Delta table. Every
//! run is a batch: rows read = rows stored + rows quarantined, rejected rows keep their source line
//! and reason, and the same content ingested twice is a no-op that says so.

pub mod catalog_sheet;
pub mod code_sheet;
pub mod csv;
pub mod db;
pub mod drift;
pub mod feed;
pub mod fill_sheet;
pub mod json;
pub mod mapping;
pub mod mount;
pub mod objects;
pub mod outbound;
pub mod parquet;
pub mod quarantine;
pub mod rows;
pub mod sources;
pub mod xlsx;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use yishu_lake::arrow::array::RecordBatch;
use yishu_lake::{Lake, Layer};
use yishu_meta::Store;
use yishu_meta::batch::{Batch, BatchStart};
use yishu_meta::catalog::Resource;
use yishu_types::{Error, ErrorCode};

/// The Delta table name of a resource's data: `r_` + its code with `/` as `_`.
pub fn table_name(r: &Resource) -> String {
    r.table()
}

/// The content checksum that makes re-ingesting the same file a no-op: BLAKE3 of the file's
/// bytes as `blake3:<hex>`. BLAKE3 hashes several GB/s on one core (SM3 manages ~0.3 GB/s and
/// would cost more than parsing); SM3 stays where the standard asks for it (the audit chain).
pub fn checksum(path: &Path) -> Result<String, Error> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| io_err(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("blake3:{}", h.finalize().to_hex()))
}

pub(crate) fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        format!("cannot read {}: {e}", path.display()),
    )
}

/// How to read a file, whatever its format (chosen by its extension, [`FileFormat::of`]): what a
/// person confirmed or chose. One set for every file connector; a format ignores what it does
/// not use.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Confirmed column → item pairs where names differ (every format).
    pub mapping: rows::Mapping,
    /// Delimited text: the encoding; detected when `None`.
    pub encoding: Option<csv::TextEncoding>,
    /// Delimited text: the field delimiter; detected when `None`.
    pub delimiter: Option<u8>,
    /// Workbooks: the sheet; the first when `None`.
    pub sheet: Option<String>,
    /// Workbooks: the 1-based row of the header within the sheet's used range.
    pub header_row: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            mapping: Default::default(),
            encoding: None,
            delimiter: None,
            sheet: None,
            header_row: 1,
        }
    }
}

/// The kinds of file Yishu reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// CSV, TSV and other delimited text, in UTF-8, GBK or GB18030.
    Delimited,
    /// XLSX, XLSM, XLS, XLSB, ODS.
    Workbook,
    /// NDJSON, or a JSON array of objects.
    Json,
    Parquet,
}

impl FileFormat {
    /// By extension: `.xlsx`, `.xlsm`, `.xls`, `.xlsb`, `.ods` are workbooks,
    /// `.json`/`.ndjson`/`.jsonl` JSON, `.parquet` Parquet, everything else delimited text.
    pub fn of(path: &Path) -> FileFormat {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => FileFormat::Workbook,
            "json" | "ndjson" | "jsonl" => FileFormat::Json,
            "parquet" | "parq" => FileFormat::Parquet,
            _ => FileFormat::Delimited,
        }
    }
}

/// What an ingest run did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ingested(Batch),
    /// The same file was ingested before, by this batch; nothing was written.
    AlreadyIngested(Batch),
    /// A pull found the same rows as an earlier batch; this batch wrote nothing.
    Unchanged(Batch),
}

/// Ingests a file into the resource's ods table (and its quarantine table) as one batch named
/// by the file's name and content.
pub async fn ingest_file(
    store: &Store,
    lake: &Lake,
    resource: &Resource,
    path: &Path,
    opts: &ReadOptions,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<Outcome, Error> {
    FileIngest::new(store, lake, resource, path)
        .options(opts.clone())
        .run(progress)
        .await
}

/// One file to ingest into a resource as one batch: the steps are settling interrupted runs of
/// the same content, claiming the batch, streaming the rows into an uncommitted append, one
/// commit, then the batch's drift and counts.
pub struct FileIngest<'a> {
    store: &'a Store,
    lake: &'a Lake,
    resource: &'a Resource,
    path: &'a Path,
    options: ReadOptions,
    /// The source name and idempotency checksum (the file's name and content by default).
    named: Option<(String, String)>,
}

impl<'a> FileIngest<'a> {
    pub fn new(store: &'a Store, lake: &'a Lake, resource: &'a Resource, path: &'a Path) -> Self {
        FileIngest {
            store,
            lake,
            resource,
            path,
            options: ReadOptions::default(),
            named: None,
        }
    }

    pub fn options(mut self, options: ReadOptions) -> Self {
        self.options = options;
        self
    }

    /// Names the batch: an HTTP push names it by the client's idempotency key, so the same key
    /// twice is a no-op whatever the body.
    pub fn named(mut self, source: impl Into<String>, checksum: impl Into<String>) -> Self {
        self.named = Some((source.into(), checksum.into()));
        self
    }

    pub async fn run(self, progress: &mut (dyn FnMut(u64) + Send)) -> Result<Outcome, Error> {
        let (store, resource) = (self.store, self.resource);
        let (source, sum) = match &self.named {
            Some(n) => n.clone(),
            None => (
                self.path
                    .file_name()
                    .map(|f| f.to_string_lossy().to_string())
                    .unwrap_or_default(),
                checksum(self.path)?,
            ),
        };
        if let Some(done) = recover(store, self.lake, resource, &sum).await? {
            return Ok(Outcome::AlreadyIngested(done));
        }
        let id = match store.start_batch(resource.id, &source, &sum).await? {
            BatchStart::AlreadyIngested(b) => return Ok(Outcome::AlreadyIngested(b)),
            BatchStart::New(id) => id,
        };
        match self.write(&id, &sum, progress).await {
            Ok((parsed, version)) => {
                store.set_batch_drift(&id, &parsed.drift()).await?;
                let b = store
                    .finish_batch(
                        &id,
                        parsed.rows_read,
                        parsed.rows_stored,
                        parsed.rows_quarantined,
                        version.map(|v| v as i64),
                    )
                    .await?;
                Ok(Outcome::Ingested(b))
            }
            Err(e) => {
                store.fail_batch(&id, &e.message).await?;
                Err(e)
            }
        }
    }

    /// Streams the file's rows into the batch and commits them.
    async fn write(
        &self,
        batch_id: &str,
        sum: &str,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<(rows::Parsed, Option<u64>), Error> {
        let (path, items, id, opts) = (
            self.path.to_path_buf(),
            self.resource.meta.items.clone(),
            batch_id.to_string(),
            self.options.clone(),
        );
        let reader: Reader = Box::new(move |progress, sink| match FileFormat::of(&path) {
            FileFormat::Delimited => csv::read(&path, &items, &id, &opts, progress, sink),
            FileFormat::Workbook => xlsx::read(&path, &items, &id, &opts, progress, sink),
            FileFormat::Json => json::read(&path, &items, &id, &opts.mapping, progress, sink),
            FileFormat::Parquet => parquet::read(&path, &items, &id, &opts.mapping, progress, sink),
        });
        let (store, lake, resource) = (self.store, self.lake, self.resource);
        let (parsed, ods) = stream(store, lake, resource, batch_id, reader, progress).await?;
        let version = commit(lake, resource, batch_id, sum, &parsed, ods).await?;
        Ok((parsed, version))
    }
}

/// Settles runs of this content that were interrupted (e.g. `kill -9`): if the batch's commit
/// reached the lake, the batch is completed from the counts recorded in the commit; otherwise it
/// is marked failed — nothing of it is in ods, and its quarantine rows carry its failed batch id.
pub(crate) async fn recover(
    store: &Store,
    lake: &Lake,
    resource: &Resource,
    sum: &str,
) -> Result<Option<Batch>, Error> {
    let table = table_name(resource);
    for b in store.running_batches(resource.id, sum).await? {
        let mut info = lake
            .find_commit(Layer::Ods, &table, "yishu.batch_id", &b.id)
            .await?;
        if info.is_none() {
            // A batch with no stored rows commits to quarantine only.
            info = lake
                .find_commit(Layer::Quarantine, &table, "yishu.batch_id", &b.id)
                .await?
                .filter(|i| i.get("yishu.rows_stored").and_then(|v| v.as_i64()) == Some(0));
        }
        match info {
            Some(i) => {
                let n = |k: &str| i.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
                if let Some(real) = i.get("yishu.checksum").and_then(|v| v.as_str()) {
                    store.set_batch_checksum(&b.id, resource.id, real).await?;
                }
                let done = store
                    .finish_batch(
                        &b.id,
                        n("yishu.rows_read"),
                        n("yishu.rows_stored"),
                        n("yishu.rows_quarantined"),
                        None,
                    )
                    .await?;
                tracing::info!(batch = %b.id, "completed an interrupted batch whose commit had landed");
                return Ok(Some(done));
            }
            None => {
                store
                    .fail_batch(
                        &b.id,
                        "interrupted before its commit; nothing of it is in ods",
                    )
                    .await?
            }
        }
    }
    Ok(None)
}

/// Reads rows on a blocking thread into `sink`.
pub(crate) type Reader = Box<
    dyn FnOnce(
            &mut dyn FnMut(u64),
            &mut dyn FnMut(RecordBatch) -> Result<(), Error>,
        ) -> Result<rows::Parsed, Error>
        + Send,
>;

/// How often a running batch's rows read are written to its record.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Streams a reader's rows into an uncommitted append to the resource's ods table. Parsing runs
/// on a blocking thread; Arrow batches cross a small channel, so memory holds a few batches and
/// one Parquet buffer, whatever the source's size.
async fn stream(
    store: &Store,
    lake: &Lake,
    resource: &Resource,
    batch_id: &str,
    reader: Reader,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(rows::Parsed, yishu_lake::Appender), Error> {
    let table = table_name(resource);
    let mut ods = lake
        .appender(Layer::Ods, &table, rows::ods_schema(&resource.meta.items))
        .await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<RecordBatch>(4);
    let rows_read = Arc::new(AtomicU64::new(0));
    let parser = {
        let rows_read = rows_read.clone();
        tokio::task::spawn_blocking(move || {
            let progress = &mut |n| rows_read.store(n, Ordering::Relaxed);
            let sink = &mut |b| {
                tx.blocking_send(b).map_err(|_| {
                    Error::new(
                        ErrorCode::LakeError,
                        "the lake writer stopped; the batch is abandoned",
                    )
                })
            };
            reader(progress, sink)
        })
    };
    let mut noted = std::time::Instant::now();
    while let Some(b) = rx.recv().await {
        ods.write(b).await?;
        let n = rows_read.load(Ordering::Relaxed);
        progress(n);
        // The batch's page shows how far a long job has got.
        if noted.elapsed() >= PROGRESS_EVERY {
            noted = std::time::Instant::now();
            if let Err(e) = store.set_batch_progress(batch_id, n as i64).await {
                tracing::warn!(batch = batch_id, "cannot record progress: {e}");
            }
        }
    }
    let parsed = parser
        .await
        .map_err(|e| Error::new(ErrorCode::Internal, format!("the reader stopped: {e}")))??;
    progress(parsed.rows_read as u64);
    Ok((parsed, ods))
}

/// Makes a streamed batch visible: quarantine first, then ods in one commit whose metadata
/// carries the batch id, checksum and counts (what [`recover`] reads after a crash).
async fn commit(
    lake: &Lake,
    resource: &Resource,
    batch_id: &str,
    sum: &str,
    parsed: &rows::Parsed,
    ods: yishu_lake::Appender,
) -> Result<Option<u64>, Error> {
    let table = table_name(resource);
    let meta = HashMap::from([
        ("yishu.batch_id".to_string(), serde_json::json!(batch_id)),
        ("yishu.checksum".to_string(), serde_json::json!(sum)),
        (
            "yishu.resource".to_string(),
            serde_json::json!(resource.code),
        ),
        (
            "yishu.rows_read".to_string(),
            serde_json::json!(parsed.rows_read),
        ),
        (
            "yishu.rows_stored".to_string(),
            serde_json::json!(parsed.rows_stored),
        ),
        (
            "yishu.rows_quarantined".to_string(),
            serde_json::json!(parsed.rows_quarantined),
        ),
    ]);
    // Quarantine first: if the process dies before the ods commit, the batch stays `running`
    // and nothing of it is in ods (the next run fails it).
    if parsed.rows_quarantined > 0 {
        lake.append(
            Layer::Quarantine,
            &table,
            parsed.quarantine.clone(),
            meta.clone(),
        )
        .await?;
    }
    Ok(if parsed.rows_stored > 0 {
        Some(ods.commit(meta).await?)
    } else {
        None
    })
}

/// Checksum recorded for a pull until its rows are read.
const PULL_PENDING: &str = "pending:pull";

/// Pulls a front-end database table into the resource's ods table as one batch: the rows after
/// `since` (by the watermark column), or all of them. Returns the outcome and the watermark to
/// store for the next pull. A full pull that finds exactly the rows of an earlier batch writes
/// nothing and says so ([`Outcome::Unchanged`]).
pub async fn ingest_pull(
    store: &Store,
    lake: &Lake,
    resource: &Resource,
    pull: &db::DbPull,
    since: Option<&str>,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(Outcome, Option<String>), Error> {
    recover(store, lake, resource, PULL_PENDING).await?;
    let source = format!("{}#{}", db::redact(&pull.url), pull.table);
    let id = match store
        .start_batch(resource.id, &source, PULL_PENDING)
        .await?
    {
        BatchStart::New(id) => id,
        BatchStart::AlreadyIngested(b) => {
            return Err(Error::new(
                ErrorCode::Internal,
                format!("batch {} claims a pending pull's checksum", b.id),
            ));
        }
    };
    let rt = tokio::runtime::Handle::current();
    let (p, s, items, bid) = (
        pull.clone(),
        since.map(str::to_string),
        resource.meta.items.clone(),
        id.clone(),
    );
    let reader: Reader = Box::new(move |progress, sink| {
        db::read(&rt, &p, s.as_deref(), &items, &bid, progress, sink)
    });
    let run = land(store, lake, resource, &id, reader, progress, |p| {
        p.checksum.clone().unwrap_or_default()
    });
    match run.await {
        Ok(done) => Ok(done),
        Err(e) => {
            store.fail_batch(&id, &e.message).await?;
            Err(e)
        }
    }
}

/// Streams a batch whose checksum is known only once its rows are read (pulls, feeds) and makes
/// it visible: the same checksum as an earlier batch settles it as unchanged; otherwise one commit,
/// then the batch's drift and counts. Returns the outcome and, for pulls, the new watermark.
pub(crate) async fn land(
    store: &Store,
    lake: &Lake,
    resource: &Resource,
    id: &str,
    reader: Reader,
    progress: &mut (dyn FnMut(u64) + Send),
    sum_of: impl FnOnce(&rows::Parsed) -> String,
) -> Result<(Outcome, Option<String>), Error> {
    let (parsed, ods) = stream(store, lake, resource, id, reader, progress).await?;
    let sum = sum_of(&parsed);
    if let Some(same) = store.set_batch_checksum(id, resource.id, &sum).await? {
        let b = store.settle_unchanged(id, &same).await?;
        return Ok((Outcome::Unchanged(b), parsed.watermark));
    }
    let version = commit(lake, resource, id, &sum, &parsed, ods).await?;
    store.set_batch_drift(id, &parsed.drift()).await?;
    let b = store
        .finish_batch(
            id,
            parsed.rows_read,
            parsed.rows_stored,
            parsed.rows_quarantined,
            version.map(|v| v as i64),
        )
        .await?;
    Ok((Outcome::Ingested(b), parsed.watermark))
}
