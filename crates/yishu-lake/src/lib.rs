//! The lake: one Delta table per resource and layer under a root (a local directory, or object
//! storage when built with the `s3` feature), and a DataFusion session that sees them as
//! `<layer>.<table>`.

use arrow::array::RecordBatch;
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::prelude::{DataFrame, SessionContext};
use deltalake::DeltaTable;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use url::Url;
use yishu_types::{Error, ErrorCode};

mod footers;
mod key_index;
mod keyed;
pub mod lineage;
mod page_list;
pub mod snapshot;
mod text;
pub use keyed::{Finder, KeyHashes, Picked, key_hash};
use lineage::HASH_COLUMNS;
pub use text::{TextQuery, TextRows, text_rows};

pub use arrow;
pub use datafusion;
pub use deltalake;

/// The layers data passes through, left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// 贴源层: every extraction, unchanged.
    Ods,
    /// 标准层: typed, validated, cleaned.
    Std,
    /// 基础库: fused golden records.
    Base,
    /// 主题库: theme tables.
    Theme,
    /// Rejected rows with their reasons.
    Quarantine,
    /// Quality check results: one row per violation, per resource.
    Quality,
}

impl Layer {
    pub const ALL: [Layer; 6] = [
        Layer::Ods,
        Layer::Std,
        Layer::Base,
        Layer::Theme,
        Layer::Quarantine,
        Layer::Quality,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Ods => "ods",
            Layer::Std => "std",
            Layer::Base => "base",
            Layer::Theme => "theme",
            Layer::Quarantine => "quarantine",
            Layer::Quality => "quality",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lake failure in words. Another writer committing to the same table first is a conflict
/// (`edit_conflict`, 409): the work is safe to run again, and callers that can, do.
fn lake_err(what: impl fmt::Display) -> impl FnOnce(deltalake::DeltaTableError) -> Error {
    move |e| {
        let code = if is_conflict(&e) {
            ErrorCode::EditConflict
        } else {
            ErrorCode::LakeError
        };
        Error::new(code, format!("{what}: {e}"))
    }
}

fn is_conflict(e: &deltalake::DeltaTableError) -> bool {
    use deltalake::kernel::transaction::TransactionError;
    matches!(
        e,
        deltalake::DeltaTableError::VersionAlreadyExists(_)
            | deltalake::DeltaTableError::Transaction {
                source: TransactionError::CommitConflict(_)
                    | TransactionError::VersionAlreadyExists(_)
                    | TransactionError::MaxCommitAttempts(_)
            }
    )
}

fn df_err(what: impl fmt::Display) -> impl FnOnce(datafusion::error::DataFusionError) -> Error {
    move |e| Error::new(ErrorCode::LakeError, format!("{what}: {e}"))
}

/// Handle to the lake root.
#[derive(Clone)]
pub struct Lake {
    root: Url,
    /// Tables opened to find rows in, kept to bring up to date rather than open again: an
    /// incremental run picks from the same tables twenty-odd times, and opening one replays
    /// its log from the last checkpoint.
    opened: Arc<std::sync::Mutex<HashMap<(Layer, String), DeltaTable>>>,
    /// Footers of the data files picked from, decoded: see [`footers::Footers`].
    footers: Arc<std::sync::Mutex<footers::Footers>>,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake").field("root", &self.root).finish()
    }
}

/// Properties of a table the lake creates. A checkpoint every 10 commits (Spark's default;
/// delta-rs's is 100): opening a table replays its log from the last checkpoint, and an
/// incremental run commits to each base table every time — 26 commits on, opening the base
/// tables a 1k run picks from cost 183–381 ms on the 1M city, 57–73 ms from a checkpoint.
const NEW_TABLE_CONFIG: [(&str, Option<&str>); 1] = [("delta.checkpointInterval", Some("10"))];

/// Table names are identifiers: lower-case ASCII letters, digits and underscores, so they are safe
/// in paths and SQL without quoting.
pub fn check_table_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 120
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            "table",
            format!("'{name}' must start with a-z and hold only a-z, 0-9 and _ (at most 120)"),
        ))
    }
}

/// A kept table against its log (see `Lake::log_state`).
enum LogState {
    Current,
    Behind,
    Unknown,
}

impl Lake {
    /// Opens the lake at `root`: a local path (created if missing) or an `s3://` URL.
    pub fn open(root: &str) -> Result<Self, Error> {
        let url = if root.contains("://") {
            let url = Url::parse(root).map_err(|e| {
                Error::new(
                    ErrorCode::ConfigInvalid,
                    format!("lake root '{root}' is not a URL: {e}"),
                )
            })?;
            if url.scheme() == "s3" && !cfg!(feature = "s3") {
                return Err(Error::new(
                    ErrorCode::ConfigInvalid,
                    format!(
                        "lake root '{root}' is on S3, but this build has no S3 support; rebuild with `--features s3`"
                    ),
                ));
            }
            if url.scheme() != "s3" && url.scheme() != "file" {
                return Err(Error::new(
                    ErrorCode::ConfigInvalid,
                    format!(
                        "lake root '{root}': only local paths, file:// and s3:// are supported"
                    ),
                ));
            }
            url
        } else {
            let path = PathBuf::from(root);
            std::fs::create_dir_all(&path).map_err(|e| {
                Error::new(
                    ErrorCode::ConfigInvalid,
                    format!("cannot create lake root {}: {e}", path.display()),
                )
            })?;
            let abs = path.canonicalize().map_err(|e| {
                Error::new(
                    ErrorCode::ConfigInvalid,
                    format!("cannot resolve lake root {}: {e}", path.display()),
                )
            })?;
            Url::from_directory_path(&abs).map_err(|_| {
                Error::new(
                    ErrorCode::ConfigInvalid,
                    format!("lake root {} is not absolute", abs.display()),
                )
            })?
        };
        Ok(Lake {
            root: ensure_dir_url(url),
            opened: Arc::default(),
            footers: Arc::default(),
        })
    }

    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The local file of object `key` (attachments: PDF, DOCX, images) under `objects/`. Keys are
    /// made by the platform (`<table>/<checksum>.<ext>`), checked here all the same.
    fn object_path(&self, key: &str) -> Result<PathBuf, Error> {
        let ok = !key.is_empty()
            && key.len() <= 300
            && !key.contains("..")
            && !key.starts_with('/')
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b));
        if !ok {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("'{key}' is not an object key"),
            ));
        }
        if self.root.scheme() != "file" {
            return Err(Error::new(
                ErrorCode::ConfigInvalid,
                "attachments are kept on a local lake only in this build",
            ));
        }
        let root = self
            .root
            .to_file_path()
            .map_err(|_| Error::new(ErrorCode::LakeError, "the lake root is not a local path"))?;
        Ok(root.join("objects").join(key))
    }

    /// Stores an object: written beside its place, then renamed, so a reader never sees half.
    pub async fn put_object(&self, key: &str, bytes: &[u8]) -> Result<(), Error> {
        let path = self.object_path(key)?;
        let io = |e: std::io::Error| {
            Error::new(
                ErrorCode::LakeError,
                format!("cannot store object {key}: {e}"),
            )
        };
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        let tmp = path.with_extension("part");
        tokio::fs::write(&tmp, bytes).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)
    }

    /// Reads an object back.
    pub async fn get_object(&self, key: &str) -> Result<Vec<u8>, Error> {
        let path = self.object_path(key)?;
        tokio::fs::read(&path).await.map_err(|e| {
            Error::new(
                ErrorCode::LakeError,
                format!("cannot read object {key}: {e}"),
            )
        })
    }

    /// Where the table of `name` in `layer` lives.
    pub fn table_url(&self, layer: Layer, name: &str) -> Result<Url, Error> {
        check_table_name(name)?;
        self.root
            .join(&format!("{}/{name}/", layer.as_str()))
            .map_err(|e| Error::new(ErrorCode::LakeError, format!("bad table location: {e}")))
    }

    /// Opens an existing table at its newest version.
    pub async fn open_table(&self, layer: Layer, name: &str) -> Result<DeltaTable, Error> {
        let url = self.table_url(layer, name)?;
        deltalake::open_table(url)
            .await
            .map_err(lake_err(format_args!("cannot open table {layer}.{name}")))
    }

    /// Opens a table as it was at `version` (time travel).
    pub async fn open_table_at(
        &self,
        layer: Layer,
        name: &str,
        version: u64,
    ) -> Result<DeltaTable, Error> {
        let url = self.table_url(layer, name)?;
        deltalake::open_table_with_version(url, version)
            .await
            .map_err(lake_err(format_args!(
                "cannot open table {layer}.{name} at version {version}"
            )))
    }

    /// Appends batches to a table in one commit, creating the table on first write. Either all
    /// rows become visible or none. `meta` is recorded in the commit (batch id, checksum, who).
    /// Returns the new table version.
    pub async fn append(
        &self,
        layer: Layer,
        name: &str,
        batches: Vec<RecordBatch>,
        meta: HashMap<String, serde_json::Value>,
    ) -> Result<u64, Error> {
        let url = self.table_url(layer, name)?;
        if let Ok(path) = url.to_file_path() {
            std::fs::create_dir_all(&path).map_err(|e| {
                Error::new(
                    ErrorCode::LakeError,
                    format!("cannot create {}: {e}", path.display()),
                )
            })?;
        }
        let table = DeltaTable::try_from_url(url)
            .await
            .map_err(lake_err(format_args!("cannot open table {layer}.{name}")))?;
        let new = table.version().is_none();
        let mut write = table
            .write(batches)
            .with_save_mode(SaveMode::Append)
            .with_commit_properties(CommitProperties::default().with_metadata(meta));
        if new {
            write = write.with_configuration(NEW_TABLE_CONFIG);
        }
        if let Some(props) = writer_properties(layer) {
            write = write.with_writer_properties(props);
        }
        if let Some(bytes) = file_bytes(layer) {
            write = write.with_target_file_size(Some(bytes));
        }
        let table = write.await.map_err(lake_err(format_args!(
            "cannot append to table {layer}.{name}"
        )))?;
        index_missing(&table, false).await?;
        Ok(table.version().unwrap_or_default())
    }

    /// Replaces the rows whose `column` equals `value` with `batches` in one commit (Delta's
    /// replaceWhere), creating the table on first write: re-running a job for the same batch
    /// leaves one set of its rows, never two. Every new row must match the predicate.
    pub async fn replace_rows(
        &self,
        layer: Layer,
        name: &str,
        (column, value): (&str, &str),
        batches: Vec<RecordBatch>,
        meta: HashMap<String, serde_json::Value>,
    ) -> Result<u64, Error> {
        use datafusion::prelude::{col, lit};
        let predicate = col(column).eq(lit(value.to_string()));
        self.write_over(layer, name, Some(predicate), batches, meta)
            .await
    }

    /// Replaces the rows matching `predicate` with `batches` in one commit (Delta's
    /// replaceWhere; every new row must match it): an incremental run rewrites the rows of the
    /// subjects it touched and leaves the rest as they were.
    pub async fn replace_where(
        &self,
        layer: Layer,
        name: &str,
        predicate: datafusion::prelude::Expr,
        batches: Vec<RecordBatch>,
        meta: HashMap<String, serde_json::Value>,
    ) -> Result<u64, Error> {
        self.write_over(layer, name, Some(predicate), batches, meta)
            .await
    }

    /// Replaces the whole table with `batches` in one commit (schema included), creating it on
    /// first write; earlier versions stay readable by time travel. For tables rebuilt from their
    /// inputs on each run (the base libraries).
    pub async fn overwrite(
        &self,
        layer: Layer,
        name: &str,
        batches: Vec<RecordBatch>,
        meta: HashMap<String, serde_json::Value>,
    ) -> Result<u64, Error> {
        self.write_over(layer, name, None, batches, meta).await
    }

    /// An overwriting commit: of the rows `predicate` matches, or of the whole table (schema
    /// included) without one; a missing table is created.
    async fn write_over(
        &self,
        layer: Layer,
        name: &str,
        predicate: Option<datafusion::prelude::Expr>,
        batches: Vec<RecordBatch>,
        meta: HashMap<String, serde_json::Value>,
    ) -> Result<u64, Error> {
        let url = self.table_url(layer, name)?;
        if deltalake::open_table(url.clone()).await.is_err() {
            return self.append(layer, name, batches, meta).await;
        }
        let table = DeltaTable::try_from_url(url)
            .await
            .map_err(lake_err(format_args!("cannot open table {layer}.{name}")))?;
        let mut write = table
            .write(batches)
            .with_save_mode(SaveMode::Overwrite)
            .with_commit_properties(CommitProperties::default().with_metadata(meta));
        if let Some(props) = writer_properties(layer) {
            write = write.with_writer_properties(props);
        }
        if let Some(bytes) = file_bytes(layer) {
            write = write.with_target_file_size(Some(bytes));
        }
        let write = match predicate {
            Some(p) => write.with_replace_where(p),
            None => write.with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite),
        };
        let table = write.await.map_err(lake_err(format_args!(
            "cannot overwrite rows of {layer}.{name}"
        )))?;
        index_missing(&table, true).await?;
        Ok(table.version().unwrap_or_default())
    }

    /// A DataFrame over one table at its newest version, in a session of its own; `None` when
    /// the table does not exist yet.
    pub async fn frame(&self, layer: Layer, name: &str) -> Result<Option<DataFrame>, Error> {
        if !self.has_table(layer, name) {
            return Ok(None);
        }
        let table = self.open_table(layer, name).await?;
        read_in_session(table, layer, name).await.map(Some)
    }

    /// A DataFrame over one table as it was at `version`, in a session of its own: what a
    /// delivery reads so that the rows it sends and the version it records agree.
    pub async fn frame_at(
        &self,
        layer: Layer,
        name: &str,
        version: u64,
    ) -> Result<DataFrame, Error> {
        let table = self.open_table_at(layer, name, version).await?;
        read_in_session(table, layer, name).await
    }

    /// The newest version of a table, `None` when it does not exist yet.
    pub async fn version(&self, layer: Layer, name: &str) -> Result<Option<u64>, Error> {
        if !self.has_table(layer, name) {
            return Ok(None);
        }
        Ok(self.open_table(layer, name).await?.version())
    }

    /// The commit information (operation, timestamp, the writer's metadata) of versions
    /// `after + 1 ..= upto`, oldest first, read from the log's entries: `None` when one of them
    /// is gone (the log was cleaned up) or the root is not local — the caller then cannot tell
    /// what changed and reads the table whole.
    pub fn commit_infos(
        &self,
        layer: Layer,
        name: &str,
        after: u64,
        upto: u64,
    ) -> Option<Vec<serde_json::Map<String, serde_json::Value>>> {
        let log = self
            .table_url(layer, name)
            .ok()?
            .to_file_path()
            .ok()?
            .join("_delta_log");
        let mut out = Vec::new();
        for v in after + 1..=upto {
            let text = std::fs::read_to_string(log.join(format!("{v:020}.json"))).ok()?;
            let info = text.lines().find_map(|l| {
                let mut j: serde_json::Value = serde_json::from_str(l).ok()?;
                match j.get_mut("commitInfo")?.take() {
                    serde_json::Value::Object(m) => Some(m),
                    _ => None,
                }
            });
            out.push(info.unwrap_or_default());
        }
        Some(out)
    }

    /// The rows of one table that `filter` keeps, at its newest version; `None` when the table
    /// does not exist yet. The filter is evaluated while Parquet is decoded (late
    /// materialization): the filter's columns first, the others only for the rows it keeps —
    /// for picking a few thousand rows out of millions.
    pub async fn frame_where(
        &self,
        layer: Layer,
        name: &str,
        filter: datafusion::prelude::Expr,
    ) -> Result<Option<DataFrame>, Error> {
        if !self.has_table(layer, name) {
            return Ok(None);
        }
        let table = self.open_table(layer, name).await?;
        let mut config = datafusion::prelude::SessionConfig::new();
        config.options_mut().execution.parquet.pushdown_filters = true;
        config.options_mut().execution.parquet.reorder_filters = true;
        let ctx = SessionContext::new_with_config(config);
        table
            .update_datafusion_session(&ctx.state())
            .map_err(lake_err("cannot prepare the query session"))?;
        let provider = table
            .table_provider()
            .await
            .map_err(df_err(format_args!("cannot read table {layer}.{name}")))?;
        ctx.read_table(provider)
            .and_then(|f| f.filter(filter))
            .map(Some)
            .map_err(df_err(format_args!("cannot read table {layer}.{name}")))
    }

    /// A table at its newest version and its live data files (with their statistics and
    /// deletion vectors).
    async fn files(
        &self,
        layer: Layer,
        name: &str,
    ) -> Result<(DeltaTable, Vec<deltalake::kernel::LogicalFileView>), Error> {
        let table = self.current(layer, name).await?;
        let views = live_files(&table, &format!("{layer}.{name}")).await?;
        Ok((table, views))
    }

    /// A table at its newest version, kept open between calls: only the log entries since the
    /// last call are read.
    async fn current(&self, layer: Layer, name: &str) -> Result<DeltaTable, Error> {
        let key = (layer, name.to_string());
        let known = self.opened.lock().ok().and_then(|o| o.get(&key).cloned());
        let table = match known.map(|t| (self.log_state(layer, name, t.version()), t)) {
            Some((LogState::Current, t)) => t,
            Some((LogState::Behind, mut t)) => {
                t.update_incremental(None)
                    .await
                    .map_err(lake_err(format_args!("cannot open table {layer}.{name}")))?;
                t
            }
            Some((LogState::Unknown, _)) | None => self.open_table(layer, name).await?,
        };
        if let Ok(mut o) = self.opened.lock() {
            o.insert(key, table.clone());
        }
        Ok(table)
    }

    /// The column names of a table at its newest version, in order; `None` when the table does
    /// not exist yet. Cheap enough for every request (the table stays open).
    pub async fn columns(&self, layer: Layer, name: &str) -> Result<Option<Vec<String>>, Error> {
        if !self.has_table(layer, name) {
            return Ok(None);
        }
        let table = self.current(layer, name).await?;
        let snapshot = table
            .snapshot()
            .map_err(lake_err(format_args!("cannot read table {layer}.{name}")))?;
        Ok(Some(
            snapshot
                .schema()
                .fields()
                .map(|f| f.name().clone())
                .collect(),
        ))
    }

    /// The values of a column whose every data file holds one value (a batch id in the files of
    /// one batch), read from the files' statistics in the log: as many look-ups as files, no
    /// row read. `None` when a file's statistics do not say one value (read the column then);
    /// an empty set for a table that does not exist yet.
    pub async fn file_values(
        &self,
        layer: Layer,
        name: &str,
        column: &str,
    ) -> Result<Option<std::collections::BTreeSet<String>>, Error> {
        let mut out = std::collections::BTreeSet::new();
        if !self.has_table(layer, name) {
            return Ok(Some(out));
        }
        let (_, views) = self.files(layer, name).await?;
        for view in views {
            if view.num_records() == Some(0) {
                continue;
            }
            let Some(stats) = view
                .stats()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            else {
                return Ok(None);
            };
            let (min, max) = (&stats["minValues"][column], &stats["maxValues"][column]);
            match (min.as_str(), stats["nullCount"][column].as_i64()) {
                (Some(v), Some(0)) if min == max => {
                    out.insert(v.to_string());
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    /// Deletes the rows whose `column` equals `value` (a job about to write a batch's rows again);
    /// a missing table has none. Returns how many rows were deleted.
    pub async fn delete_rows(
        &self,
        layer: Layer,
        name: &str,
        (column, value): (&str, &str),
    ) -> Result<u64, Error> {
        use datafusion::prelude::{col, lit};
        let url = self.table_url(layer, name)?;
        let Ok(table) = deltalake::open_table(url).await else {
            return Ok(0);
        };
        // Deliveries read from the log which rows a commit took away.
        let meta = HashMap::from([("deleted".to_string(), serde_json::json!({ column: value }))]);
        let (_, metrics) = table
            .delete()
            .with_predicate(col(column).eq(lit(value.to_string())))
            .with_commit_properties(CommitProperties::default().with_metadata(meta))
            .await
            .map_err(lake_err(format_args!(
                "cannot delete rows of {layer}.{name}"
            )))?;
        Ok(metrics.num_deleted_rows.unwrap_or_default() as u64)
    }

    /// The provenance metadata of the newest commit to a table whose `key` equals `value`, if
    /// any (how an interrupted batch learns whether its commit landed). A missing table has none.
    pub async fn find_commit(
        &self,
        layer: Layer,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<Option<HashMap<String, serde_json::Value>>, Error> {
        use futures::TryStreamExt;
        let url = self.table_url(layer, name)?;
        let Ok(table) = deltalake::open_table(url).await else {
            return Ok(None);
        };
        let commits: Vec<_> =
            table
                .history(None)
                .try_collect()
                .await
                .map_err(lake_err(format_args!(
                    "cannot read the history of {layer}.{name}"
                )))?;
        Ok(commits
            .into_iter()
            .find(|c| c.info.get(key).and_then(|v| v.as_str()) == Some(value))
            .map(|c| c.info))
    }

    /// Whether table `layer.name` exists (a directory holding a Delta log): one `stat`, cheap
    /// enough for every read. Local roots only, as [`Self::list_tables`].
    pub fn has_table(&self, layer: Layer, name: &str) -> bool {
        self.table_url(layer, name)
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .is_some_and(|p| p.join("_delta_log").is_dir())
    }

    /// How a table kept at `version` stands against its log. Every commit writes its entry
    /// `_delta_log/<version>.json`, so two `stat`s tell whether the kept table is still the
    /// newest — instead of listing the log on every read. Other roots are always read again.
    fn log_state(&self, layer: Layer, name: &str, version: Option<u64>) -> LogState {
        let (Some(v), Some(log)) = (
            version,
            self.table_url(layer, name)
                .ok()
                .and_then(|u| u.to_file_path().ok())
                .map(|p| p.join("_delta_log")),
        ) else {
            return LogState::Unknown;
        };
        let entry = |v: u64| log.join(format!("{v:020}.json")).try_exists().ok();
        match (entry(v), entry(v + 1)) {
            (Some(true), Some(false)) => LogState::Current,
            (Some(true), Some(true)) => LogState::Behind,
            // The kept version's entry is gone: the table was made anew.
            _ => LogState::Unknown,
        }
    }

    /// Names of the tables in a layer (directories holding a Delta log). Local roots only.
    pub fn list_tables(&self, layer: Layer) -> Vec<String> {
        let Ok(dir) = self.root.join(&format!("{}/", layer.as_str())) else {
            return Vec::new();
        };
        let Ok(path) = dir.to_file_path() else {
            return Vec::new();
        };
        let mut names: Vec<String> = std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("_delta_log").is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| check_table_name(n).is_ok())
            .collect();
        names.sort();
        names
    }

    /// A DataFusion session in which every table of every layer is registered as
    /// `<layer>.<table>` at its newest version.
    pub async fn session(&self) -> Result<SessionContext, Error> {
        let mut tables = Vec::new();
        for layer in Layer::ALL {
            tables.extend(self.list_tables(layer).into_iter().map(|n| (layer, n)));
        }
        self.session_of(&tables).await
    }

    /// A DataFusion session in which only `tables` are registered, each as `<layer>.<table>` at
    /// its newest version (every layer is a schema, empty when none of its tables is asked
    /// for): a query in it can read nothing else.
    pub async fn session_of(&self, tables: &[(Layer, String)]) -> Result<SessionContext, Error> {
        let ctx = SessionContext::new();
        let catalog = ctx
            .catalog("datafusion")
            .ok_or_else(|| Error::new(ErrorCode::Internal, "DataFusion has no default catalog"))?;
        for layer in Layer::ALL {
            let schema = Arc::new(MemorySchemaProvider::new());
            for (_, name) in tables.iter().filter(|(l, _)| *l == layer) {
                let table = self.open_table(layer, name).await?;
                table
                    .update_datafusion_session(&ctx.state())
                    .map_err(lake_err("cannot prepare the query session"))?;
                let provider = table
                    .table_provider()
                    .await
                    .map_err(df_err(format_args!("cannot read table {layer}.{name}")))?;
                schema
                    .register_table(name.clone(), provider)
                    .map_err(df_err("cannot register a table"))?;
            }
            catalog
                .register_schema(layer.as_str(), schema)
                .map_err(df_err("cannot register a layer"))?;
        }
        Ok(ctx)
    }

    /// Registers one table at a given version in a session under `name`.
    pub async fn register_version(
        &self,
        ctx: &SessionContext,
        layer: Layer,
        table: &str,
        version: u64,
        name: &str,
    ) -> Result<(), Error> {
        let t = self.open_table_at(layer, table, version).await?;
        t.update_datafusion_session(&ctx.state())
            .map_err(lake_err("cannot prepare the query session"))?;
        let provider = t
            .table_provider()
            .await
            .map_err(df_err(format_args!("cannot read table {layer}.{table}")))?;
        ctx.register_table(name, provider)
            .map_err(df_err("cannot register a table"))?;
        Ok(())
    }
}

/// A file of the lake that is never modified once in place — a Delta data file, a key index —
/// mapped into memory, so a reader touches only the pages it needs. Mappings are kept for the
/// next read (a lookup by key reads the same few files every time, and mapping and unmapping
/// them costs more than the lookup's own work), checked against the file's identity (inode,
/// size, time) on each use: an index found bad is written again under the same name. A file
/// vacuum unlinks stays mapped until the cache is next emptied, when it holds [`MAPPED_FILES`].
pub(crate) fn map_immutable(path: &std::path::Path) -> std::io::Result<bytes::Bytes> {
    use std::os::unix::fs::MetadataExt;
    type Seen = (u64, u64, i64, i64);
    static MAPPED: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, (Seen, bytes::Bytes)>>,
    > = std::sync::LazyLock::new(Default::default);
    let file = std::fs::File::open(path)?;
    let m = file.metadata()?;
    let seen: Seen = (m.ino(), m.len(), m.mtime(), m.mtime_nsec());
    let known = MAPPED.lock().ok().and_then(|c| c.get(path).cloned());
    if let Some((at, b)) = known
        && at == seen
    {
        return Ok(b);
    }
    // SAFETY: the lake writes these files whole (data files before the commit that adds them,
    // indexes under a temporary name renamed into place) and never changes them after; a
    // vacuum may unlink one, which leaves a mapping intact.
    let map = bytes::Bytes::from_owner(unsafe { memmap2::Mmap::map(&file) }?);
    if let Ok(mut c) = MAPPED.lock() {
        if c.len() >= MAPPED_FILES {
            c.clear();
        }
        c.insert(path.to_path_buf(), (seen, map.clone()));
    }
    Ok(map)
}

/// Mapped files kept for the next read.
const MAPPED_FILES: usize = 512;

/// Bytes per Parquet data page in the base and std layers. Their tables are read by key — a
/// few rows of many ([`Lake::find`]: base rows by subject, std rows by lineage) — and a reader
/// with the page index decodes only the pages that hold them: small pages make that a few of
/// many. The hash columns, read whole, keep big pages.
const PAGE_BYTES: usize = 4 * 1024;
/// Rows per row group: the writer (and a query over a whole table) holds a row group's column
/// chunks in memory, so files of [`BASE_FILE_BYTES`] keep about the row groups of 100 MiB files
/// (with parquet's 1,048,576 the full run of the 1M city peaked at 10.8 GB, with this 10.05;
/// 100 MiB files 9.9).
const ROW_GROUP_ROWS: usize = 262_144;
/// Bytes of a column chunk's dictionary before its values are written plain. A pick decodes
/// the whole dictionary of every column chunk it reads a row from, so an unbounded one (names,
/// addresses: hundreds of KB a row group) makes a pick cost grow with the library.
const DICTIONARY_BYTES: usize = 32 * 1024;
/// Bytes per data page of a hash column: every row's hash is read, so fewer, larger pages.
const HASH_PAGE_BYTES: usize = 1024 * 1024;

/// Columns whose values are (nearly) all different: ids, keys, lineage refs, content hashes.
/// A dictionary of them fills to its limit (1 MiB) and falls back to plain anyway, and a pick
/// reading one row of a column chunk decodes that whole dictionary page first — once per row
/// group, so more as the library grows. Without one it decodes only the row's page: pass 2 of a
/// 1k run on the 1M city 405–488 → 335–406 ms, base layer no bigger.
const UNIQUE_COLUMNS: [&str; 6] = [
    "subject_id",
    "subject_key",
    "_hash",
    lineage::ODS_REF,
    "from_key",
    "to_key",
];

/// Parquet settings for a layer's files (delta-rs's defaults elsewhere).
fn writer_properties(
    layer: Layer,
) -> Option<deltalake::parquet::file::properties::WriterProperties> {
    use deltalake::parquet::basic::{Compression, Encoding};
    use deltalake::parquet::file::properties::WriterProperties;
    use deltalake::parquet::schema::types::ColumnPath;
    // Pages in LZ4: a pick decompresses the whole page of each picked row, and LZ4 does that
    // faster than Snappy at about the same size (pass 2 of a 1k run on the 1M city
    // 1.13 -> 0.84 s; base layer 978 -> 928 MiB). A page is checked for size every 64 rows.
    if !matches!(layer, Layer::Base | Layer::Std) {
        return None;
    }
    let mut b = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_data_page_size_limit(PAGE_BYTES)
        .set_dictionary_page_size_limit(DICTIONARY_BYTES)
        // A lookup by key in a base library decodes, for each column, the dictionary of the
        // row's column chunk and then the row's page: ~30 dictionaries of up to 32 KiB against
        // 4 KiB pages, most of its work. Base tables are served by key, so they have none
        // (LZ4 keeps repeated values small all the same).
        .set_dictionary_enabled(layer != Layer::Base)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_write_batch_size(64);
    for c in UNIQUE_COLUMNS {
        b = b.set_column_dictionary_enabled(ColumnPath::from(c), false);
    }
    for c in HASH_COLUMNS {
        let c = ColumnPath::from(c);
        b = b
            .set_column_data_page_size_limit(c.clone(), HASH_PAGE_BYTES)
            .set_column_dictionary_enabled(c.clone(), false)
            .set_column_encoding(c.clone(), Encoding::PLAIN)
            .set_column_compression(c, Compression::UNCOMPRESSED);
    }
    Some(b.build())
}

/// Bytes a data file of the base layer may grow to (delta-rs's default: 100 MiB). A pick pays
/// for each file of a table a batch touches — its key index, footer and deletion vector — and
/// a batch of a few thousand subjects spread at random touches every file of a library: a
/// 2,000,000-person population in 100 MiB files is 7 of them. Files of 1 GiB (~2.9 million
/// people) keep that from growing with the library; delta-rs holds a file in memory until it
/// is stored, which bounds the size.
const BASE_FILE_BYTES: std::num::NonZeroU64 = std::num::NonZeroU64::new(1 << 30).unwrap();

/// The file size a layer's writes aim at; `None` for delta-rs's default.
fn file_bytes(layer: Layer) -> Option<std::num::NonZeroU64> {
    matches!(layer, Layer::Base).then_some(BASE_FILE_BYTES)
}

/// Bytes of buffered rows after which an [`Appender`] writes a Parquet file.
const FLUSH_BYTES: usize = 64 * 1024 * 1024;

/// A streaming append to one table: rows go to Parquet files as they arrive (memory stays bounded
/// by [`FLUSH_BYTES`]), and all files become visible in one commit at [`Appender::commit`]. An
/// appender dropped without committing leaves only unreferenced files, which readers never see.
pub struct Appender {
    table: DeltaTable,
    writer: deltalake::writer::RecordBatchWriter,
    adds: Vec<deltalake::kernel::Add>,
    what: String,
}

/// A table's live data files (with their statistics and deletion vectors).
pub(crate) async fn live_files(
    table: &DeltaTable,
    what: &str,
) -> Result<Vec<deltalake::kernel::LogicalFileView>, Error> {
    use futures::TryStreamExt;
    let snapshot = table
        .snapshot()
        .map_err(lake_err(format_args!("cannot read {what}")))?;
    snapshot
        .snapshot()
        .file_views(table.log_store().as_ref(), None)
        .try_collect()
        .await
        .map_err(lake_err(format_args!("cannot list the files of {what}")))
}

/// The hash columns ([`HASH_COLUMNS`]) a table has: its files get a key index for each.
fn hash_columns(table: &DeltaTable) -> Result<Vec<&'static str>, Error> {
    let schema = table
        .snapshot()
        .map_err(lake_err(format_args!("cannot read {}", table.table_url())))?
        .schema();
    Ok(HASH_COLUMNS
        .into_iter()
        .filter(|c| schema.field(c).is_some())
        .collect())
}

/// Writes the key indexes ([`key_index`]) and page lists ([`page_list`]) of data files just
/// written, before they are committed: a file visible to readers has its index, or (after a
/// crash between the two) none, and is scanned.
async fn index_written(table: &DeltaTable, adds: &[deltalake::kernel::Add]) -> Result<(), Error> {
    let columns = hash_columns(table)?;
    if columns.is_empty() {
        return Ok(());
    }
    let store = table.log_store().object_store(None);
    for add in adds {
        let path = deltalake::Path::from_url_path(&add.path).map_err(|e| {
            Error::new(
                ErrorCode::LakeError,
                format!("bad data file path {}: {e}", add.path),
            )
        })?;
        key_index::index_file(&store, &path, add.size as u64, &columns).await?;
        page_list::write(&store, &path, add.size as u64).await?;
    }
    Ok(())
}

/// Indexes the live files of a table that lack a key index or page list — after a commit delta-rs's write
/// made, whose files are only known from the log — and with `prune` deletes the indexes of files
/// no longer live (an overwrite replaced them). Files of a table without hash columns get none.
async fn index_missing(table: &DeltaTable, prune: bool) -> Result<(), Error> {
    use deltalake::logstore::object_store::ObjectStoreExt;
    use futures::TryStreamExt;
    let what = table.table_url().to_string();
    let columns = hash_columns(table)?;
    if columns.is_empty() {
        return Ok(());
    }
    let store = table.log_store().object_store(None);
    let mut present: std::collections::HashSet<deltalake::Path> = store
        .list(Some(&deltalake::Path::from("_yishu_index")))
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .map_err(|e| {
            Error::new(
                ErrorCode::LakeError,
                format!("cannot list the indexes of {what}: {e}"),
            )
        })?;
    for view in live_files(table, &what).await? {
        let data = view.object_store_path();
        let indexes: Vec<deltalake::Path> = columns
            .iter()
            .map(|c| key_index::index_path(&data, c))
            .collect();
        // Taken out of `present`: what is left belongs to files no longer live.
        let mut missing = false;
        for i in &indexes {
            missing |= !present.remove(i);
        }
        if missing {
            key_index::index_file(&store, &data, view.size() as u64, &columns).await?;
        }
        if !present.remove(&page_list::list_path(&data)) {
            page_list::write(&store, &data, view.size() as u64).await?;
        }
    }
    if prune {
        for stale in present {
            // Only an accelerator: one that cannot be deleted is left.
            if let Err(e) = store.delete(&stale).await {
                tracing::warn!(index = %stale, "cannot delete a stale key index: {e}");
            }
        }
    }
    Ok(())
}

impl Lake {
    /// Starts a streaming append, creating the table with `schema` if it does not exist yet.
    pub async fn appender(
        &self,
        layer: Layer,
        name: &str,
        schema: arrow::datatypes::SchemaRef,
    ) -> Result<Appender, Error> {
        let what = format!("{layer}.{name}");
        let url = self.table_url(layer, name)?;
        if let Ok(path) = url.to_file_path() {
            std::fs::create_dir_all(&path).map_err(|e| {
                Error::new(
                    ErrorCode::LakeError,
                    format!("cannot create {}: {e}", path.display()),
                )
            })?;
        }
        let mut table = DeltaTable::try_from_url(url)
            .await
            .map_err(lake_err(format_args!("cannot open table {what}")))?;
        if table.version().is_none() {
            table = table
                .write(vec![RecordBatch::new_empty(schema)])
                .with_save_mode(SaveMode::Append)
                .with_configuration(NEW_TABLE_CONFIG)
                .await
                .map_err(lake_err(format_args!("cannot create table {what}")))?;
        }
        let mut writer = deltalake::writer::RecordBatchWriter::for_table(&table)
            .map_err(lake_err(format_args!("cannot write to {what}")))?;
        if let Some(props) = writer_properties(layer) {
            writer = writer.with_writer_properties(props);
        }
        Ok(Appender {
            table,
            writer,
            adds: Vec::new(),
            what,
        })
    }
}

impl Appender {
    /// Whether the table has a column (one written by an earlier version may lack a new one).
    pub fn has_column(&self, name: &str) -> bool {
        self.table
            .snapshot()
            .is_ok_and(|s| s.schema().field(name).is_some())
    }

    /// Buffers a batch, writing a Parquet file when the buffer is large.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<(), Error> {
        use deltalake::writer::DeltaWriter;
        self.writer
            .write(batch)
            .await
            .map_err(lake_err(format_args!("cannot write to {}", self.what)))?;
        if self.writer.buffer_len() >= FLUSH_BYTES {
            let adds = self
                .writer
                .flush()
                .await
                .map_err(lake_err(format_args!("cannot write to {}", self.what)))?;
            index_written(&self.table, &adds).await?;
            self.adds.extend(adds);
        }
        Ok(())
    }

    /// Writes what is buffered and commits every file in one Delta commit carrying `meta`.
    /// Returns the new table version.
    pub async fn commit(mut self, meta: HashMap<String, serde_json::Value>) -> Result<u64, Error> {
        use deltalake::kernel::Action;
        use deltalake::kernel::transaction::CommitBuilder;
        use deltalake::protocol::DeltaOperation;
        use deltalake::writer::DeltaWriter;
        let adds = self
            .writer
            .flush()
            .await
            .map_err(lake_err(format_args!("cannot write to {}", self.what)))?;
        index_written(&self.table, &adds).await?;
        self.adds.extend(adds);
        let actions: Vec<Action> = self.adds.into_iter().map(Action::Add).collect();
        let op = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: None,
            predicate: None,
        };
        let snapshot = self
            .table
            .snapshot()
            .map_err(lake_err(format_args!("cannot read {}", self.what)))?;
        let done = CommitBuilder::from(CommitProperties::default().with_metadata(meta))
            .with_actions(actions)
            .build(Some(snapshot), self.table.log_store(), op)
            .await
            .map_err(lake_err(format_args!("cannot commit to {}", self.what)))?;
        Ok(done.version())
    }
}

/// A DataFrame over an opened table in a session of its own.
async fn read_in_session(table: DeltaTable, layer: Layer, name: &str) -> Result<DataFrame, Error> {
    let ctx = SessionContext::new();
    table
        .update_datafusion_session(&ctx.state())
        .map_err(lake_err("cannot prepare the query session"))?;
    let provider = table
        .table_provider()
        .await
        .map_err(df_err(format_args!("cannot read table {layer}.{name}")))?;
    ctx.read_table(provider)
        .map_err(df_err(format_args!("cannot read table {layer}.{name}")))
}

/// Runs SQL in a session and collects the result (for small results: pages, tests).
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, Error> {
    let df: DataFrame = ctx.sql(sql).await.map_err(df_err("query failed"))?;
    df.collect().await.map_err(df_err("query failed"))
}

fn ensure_dir_url(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    url
}
