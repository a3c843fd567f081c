//! A table as it was at one instant, as the files that make it: what a backup copies so that
//! every table is restored at the version it had when the metadata was snapshotted. Delta never
//! changes a file once written, so copying those files while writers go on is consistent.

use crate::{Lake, Layer, lake_err, live_files};
use deltalake::kernel::StorageType;
use yishu_types::{Error, ErrorCode};

/// The files of one table at one version, relative to the table's directory.
#[derive(Debug, Clone)]
pub struct TableFiles {
    pub layer: Layer,
    pub name: String,
    pub version: u64,
    /// Log entries (commits and checkpoints) up to the version, then the data files and
    /// deletion-vector files that version reads.
    pub files: Vec<String>,
}

impl Lake {
    /// The files of `layer.name` at the newest version committed at or before `at` (ms); `None`
    /// when the table did not exist yet. Local roots only.
    pub async fn files_at(
        &self,
        layer: Layer,
        name: &str,
        at: i64,
    ) -> Result<Option<TableFiles>, Error> {
        let what = format!("{layer}.{name}");
        let url = self.table_url(layer, name)?;
        let dir = url.to_file_path().map_err(|_| {
            Error::new(
                ErrorCode::LakeError,
                format!("{what}: only a lake on local disk is backed up file by file"),
            )
        })?;
        let mut table = deltalake::open_table(url)
            .await
            .map_err(lake_err(format_args!("cannot open table {what}")))?;
        let Some(when) = chrono::DateTime::from_timestamp_millis(at) else {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("bad instant {at}"),
            ));
        };
        if table.load_with_datetime(when).await.is_err() {
            return Ok(None);
        }
        let Some(version) = table.version() else {
            return Ok(None);
        };
        let mut files = Vec::new();
        let log = dir.join("_delta_log");
        let mut entries: Vec<String> = std::fs::read_dir(&log)
            .map_err(|e| Error::new(ErrorCode::LakeError, format!("{}: {e}", log.display())))?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                // Commits and checkpoints up to the version; `_last_checkpoint` may point past it.
                n.split('.')
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_some_and(|v| v <= version)
                    && (n.ends_with(".json") || n.ends_with(".parquet"))
            })
            .collect();
        entries.sort();
        files.extend(entries.into_iter().map(|n| format!("_delta_log/{n}")));
        let mut vectors = std::collections::BTreeSet::new();
        for view in live_files(&table, &what).await? {
            files.push(view.path().to_string());
            if let Some(d) = view.deletion_vector_descriptor() {
                match d.storage_type {
                    StorageType::Inline => {}
                    StorageType::UuidRelativePath => {
                        let file =
                            crate::keyed::vector_file(&d.path_or_inline_dv).ok_or_else(|| {
                                Error::new(
                                    ErrorCode::LakeError,
                                    format!(
                                        "{what}: {:?} names no vector file",
                                        d.path_or_inline_dv
                                    ),
                                )
                            })?;
                        vectors.insert(file);
                    }
                    StorageType::AbsolutePath => {
                        return Err(Error::new(
                            ErrorCode::LakeError,
                            format!(
                                "{what} has a deletion vector outside the table ({}), written by another engine",
                                d.path_or_inline_dv
                            ),
                        ));
                    }
                }
            }
        }
        files.extend(vectors);
        Ok(Some(TableFiles {
            layer,
            name: name.to_string(),
            version,
            files,
        }))
    }
}

impl Lake {
    /// Makes `layer.name` hold again what it held at `version` (point-in-time restore), as a
    /// new commit: the versions in between stay in the log, so the restore can itself be undone.
    /// Returns the new version.
    pub async fn restore_version(
        &self,
        layer: Layer,
        name: &str,
        version: u64,
    ) -> Result<u64, Error> {
        let what = format!("{layer}.{name}");
        let table = self.open_table(layer, name).await?;
        let newest = table.version().unwrap_or_default();
        if version >= newest {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("{what} is at version {newest}: name an earlier version to restore"),
            ));
        }
        let (table, _) = table
            .restore()
            .with_version_to_restore(version)
            .await
            .map_err(lake_err(format_args!(
                "cannot restore {what} to version {version}"
            )))?;
        Ok(table.version().unwrap_or_default())
    }
}
