//! Running sources (数据源调度): the in-process scheduler claims due sources and pulls them as
//! jobs — a front-end database table from its watermark, or every new file of a drop directory.
//! Each run is audited and recorded on its source; a failed run is retried with back-off.

use crate::feed::amqp::{self, AmqpFeed};
use crate::feed::nats::{self, NatsFeed};
use crate::{Outcome, db, ingest_file, ingest_pull};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use yishu_lake::Lake;
use yishu_meta::catalog::Resource;
use yishu_meta::source::{RunResult, Source};
use yishu_meta::{AuditEntry, Store, now_ms};
use yishu_types::{Error, ErrorCode};

/// Settings of a drop directory: files put here are ingested, then moved to `done/` (or to
/// `failed/` with a `.error.txt` saying why).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropDir {
    pub dir: PathBuf,
    /// Confirmed column → item pairs for files whose names differ (CSV and workbooks).
    #[serde(default)]
    pub mapping: crate::rows::Mapping,
}

/// Checks a source's settings before it is saved, so mistakes show at set-up, not at 2 a.m.
pub fn validate(kind: &str, config: &serde_json::Value) -> Result<(), Error> {
    match kind {
        "database" => {
            let p: db::DbPull = serde_json::from_value(config.clone()).map_err(|e| {
                Error::field(
                    "config",
                    format!(
                        "a database source needs url, table and optionally watermark_column: {e}"
                    ),
                )
            })?;
            db::check(&p)
        }
        "drop_dir" => {
            let d: DropDir = serde_json::from_value(config.clone())
                .map_err(|e| Error::field("config", format!("a drop directory needs dir: {e}")))?;
            if !d.dir.is_dir() {
                return Err(Error::field(
                    "config.dir",
                    format!("{} is not a directory", d.dir.display()),
                ));
            }
            Ok(())
        }
        "nats" => feed_config::<NatsFeed>(config, "url and stream")?
            .check()
            .map(drop),
        "rabbitmq" => feed_config::<AmqpFeed>(config, "url and queue")?
            .check()
            .map(drop),
        other => Err(Error::field(
            "kind",
            format!("'{other}': use database, drop_dir, nats or rabbitmq"),
        )),
    }
}

fn feed_config<T: serde::de::DeserializeOwned>(
    config: &serde_json::Value,
    needs: &str,
) -> Result<T, Error> {
    serde_json::from_value(config.clone()).map_err(|e| {
        Error::field(
            "config",
            format!("a feed needs {needs}, optionally window_ms, max_rows and mapping: {e}"),
        )
    })
}

/// Takes one window of a queue feed. A window with no new message is `unchanged`.
async fn run_feed(
    store: &Store,
    lake: &Lake,
    s: &Source,
    r: &Resource,
) -> Result<RunResult, Error> {
    let run = match s.kind.as_str() {
        "nats" => {
            let cfg: NatsFeed = feed_config(&s.config, "url and stream")?;
            nats::drain(store, lake, r, s.id, &cfg).await?
        }
        _ => {
            let cfg: AmqpFeed = feed_config(&s.config, "url and queue")?;
            amqp::drain(store, lake, r, s.id, &cfg).await?
        }
    };
    Ok(RunResult {
        status: if matches!(run.outcome, Some(Outcome::Ingested(_))) {
            "succeeded"
        } else {
            "unchanged"
        },
        message: run.message(),
        watermark: None,
        quiet: run.received == 0,
    })
}

fn move_into(file: &Path, sub: &str) -> std::io::Result<PathBuf> {
    let dir = file.parent().unwrap_or(Path::new(".")).join(sub);
    std::fs::create_dir_all(&dir)?;
    let name = file
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let mut to = dir.join(&name);
    let mut n = 1;
    while to.exists() {
        to = dir.join(format!("{n}-{name}"));
        n += 1;
    }
    std::fs::rename(file, &to)?;
    Ok(to)
}

async fn run_drop_dir(
    store: &Store,
    lake: &Lake,
    s: &Source,
    r: &Resource,
) -> Result<RunResult, Error> {
    let d: DropDir = serde_json::from_value(s.config.clone())
        .map_err(|e| Error::field("config", e.to_string()))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&d.dir)
        .map_err(|e| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("cannot read {}: {e}", d.dir.display()),
            )
        })?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for f in files {
        let opts = crate::ReadOptions {
            mapping: d.mapping.clone(),
            ..Default::default()
        };
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        match ingest_file(store, lake, r, &f, &opts, &mut |_| {}).await {
            Ok(Outcome::Ingested(b)) => {
                ok.push(format!(
                    "{name}: {} rows stored, {} quarantined",
                    b.rows_stored, b.rows_quarantined
                ));
                move_into(&f, "done").ok();
            }
            Ok(Outcome::AlreadyIngested(b) | Outcome::Unchanged(b)) => {
                ok.push(format!("{name}: already ingested by batch {}", b.id));
                move_into(&f, "done").ok();
            }
            Err(e) => {
                failed.push(format!("{name}: {}", e.message));
                if let Ok(to) = move_into(&f, "failed") {
                    let note = to.with_file_name(format!(
                        "{}.error.txt",
                        to.file_name().unwrap_or_default().to_string_lossy()
                    ));
                    std::fs::write(note, format!("{}: {}\n", e.code, e.message)).ok();
                }
            }
        }
    }
    let mut message = if ok.is_empty() && failed.is_empty() {
        "no new files".to_string()
    } else {
        ok.join("; ")
    };
    if !failed.is_empty() {
        message = format!(
            "{} file(s) failed and were moved to failed/: {}{}",
            failed.len(),
            failed.join("; "),
            if ok.is_empty() {
                String::new()
            } else {
                format!(" — done: {message}")
            }
        );
    }
    Ok(RunResult {
        status: if failed.is_empty() {
            "succeeded"
        } else {
            "failed"
        },
        message,
        watermark: None,
        quiet: false,
    })
}

async fn run_database(
    store: &Store,
    lake: &Lake,
    s: &Source,
    r: &Resource,
) -> Result<RunResult, Error> {
    let p: db::DbPull = serde_json::from_value(s.config.clone())
        .map_err(|e| Error::field("config", e.to_string()))?;
    let since = p.watermark_column.as_ref().and(s.watermark.as_deref());
    let (out, watermark) = ingest_pull(store, lake, r, &p, since, &mut |_| {}).await?;
    Ok(match out {
        Outcome::Ingested(b) => RunResult {
            status: "succeeded",
            message: format!(
                "batch {}: {} rows read = {} stored + {} quarantined",
                b.id, b.rows_read, b.rows_stored, b.rows_quarantined
            ),
            watermark,
            quiet: false,
        },
        Outcome::Unchanged(b) | Outcome::AlreadyIngested(b) => RunResult {
            status: "unchanged",
            message: b.message,
            watermark,
            quiet: false,
        },
    })
}

/// Runs one source now and records the outcome (and audits it).
pub async fn run(store: &Store, lake: &Lake, s: &Source) -> Result<Source, Error> {
    let started = std::time::Instant::now();
    let r = store.get_resource(s.resource_id).await?;
    let result = match s.kind.as_str() {
        "database" => run_database(store, lake, s, &r).await,
        "drop_dir" => run_drop_dir(store, lake, s, &r).await,
        "nats" | "rabbitmq" => run_feed(store, lake, s, &r).await,
        other => Err(Error::field(
            "kind",
            format!("unknown source kind '{other}'"),
        )),
    };
    let result = result.unwrap_or_else(|e| RunResult {
        status: "failed",
        message: format!("{}: {}", e.code, e.message),
        watermark: None,
        quiet: false,
    });
    if !result.quiet {
        audit_run(store, s, &r, &result, started).await?;
    }
    if result.status == "failed" {
        tracing::warn!(source = s.id, "source run failed: {}", result.message);
    }
    store.record_run(s.id, &result).await
}

async fn audit_run(
    store: &Store,
    s: &Source,
    r: &Resource,
    result: &RunResult,
    started: std::time::Instant,
) -> Result<(), Error> {
    store
        .audit(&AuditEntry {
            actor_name: "scheduler".into(),
            action: "source.run".into(),
            object: format!("resource:{}", r.code),
            source_ip: "local".into(),
            outcome: if result.status == "failed" { "failed" } else { "ok" }.into(),
            detail: serde_json::json!({"source": s.id, "kind": s.kind, "status": result.status, "message": result.message, "ms": started.elapsed().as_millis() as u64}).to_string(),
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// Claims and runs every due source, one after another; returns how many ran. A source is
/// leased for an hour while it runs, so another node does not start it too.
pub async fn run_due(store: &Store, lake: &Lake) -> Result<usize, Error> {
    let mut ran = 0;
    for s in store.due_sources(now_ms()).await? {
        if store.claim_source(&s, now_ms() + 3_600_000).await? {
            run(store, lake, &s).await?;
            ran += 1;
        }
    }
    Ok(ran)
}
