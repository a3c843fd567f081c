//! `yishu backup`, `yishu backup verify` and `yishu restore` (R38): a consistent copy of an
//! installation while its server runs — the metadata store as one snapshot, every lake table at
//! the version it had at that instant — with a manifest of SM3 checksums. Running a backup
//! again into the same directory copies only the files it does not hold yet (Delta files never
//! change once written); a restore checks every checksum before it writes anything.

use crate::config::Config;
use crate::exit;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use yishu_lake::Layer;

/// What `yishu backup` does.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
    /// The backup directory (made if missing; a backup already there is brought up to date,
    /// copying only new files).
    #[arg(long)]
    pub to: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Check a backup without restoring it: every file present, of its size and checksum.
    Verify {
        /// The backup directory.
        dir: PathBuf,
    },
}

/// What `yishu restore` does: a whole backup into a new directory, or one table of this
/// installation back to an earlier version.
#[derive(Args)]
pub struct RestoreArgs {
    /// The backup directory.
    #[arg(long, requires = "data_dir", conflicts_with = "table")]
    pub from: Option<PathBuf>,
    /// A new, empty data directory to restore into.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// A lake table of this installation (`std.r_301001001_000001`, `base.population`) to bring
    /// back to `--version`, as a new commit.
    #[arg(long, requires = "version")]
    pub table: Option<String>,
    /// The table's version to restore.
    #[arg(long)]
    pub version: Option<u64>,
}

/// The file describing a backup, written last: a backup without it is incomplete.
const MANIFEST: &str = "manifest.json";
/// Where the backed-up files are kept, as they lie under the data directory.
const FILES: &str = "files";

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    /// When the metadata was snapshotted (ms); every table is at its version of that instant.
    taken_at: i64,
    yishu_version: String,
    audit_head: yishu_meta::snapshot::AuditHead,
    /// `layer.table` → version.
    tables: BTreeMap<String, u64>,
    /// Path under the data directory → (bytes, SM3).
    files: BTreeMap<String, FileSum>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct FileSum {
    size: u64,
    sm3: String,
}

fn sm3_of(path: &Path) -> Result<String> {
    use sm3::{Digest, Sm3};
    use std::io::Read;
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sm3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let p = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&p)
        .with_context(|| format!("{} holds no complete backup (no {MANIFEST})", dir.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a backup manifest", p.display()))
}

pub async fn backup(config: &Config, a: BackupArgs) -> Result<u8> {
    match (a.command, a.to) {
        (Some(BackupCommand::Verify { dir }), _) => verify(&dir),
        (None, Some(to)) => take(config, &to).await,
        (None, None) => bail!("say where to: yishu backup --to DIR (or yishu backup verify DIR)"),
    }
}

/// Copies `from` to `to` through a temporary name, so a half-copied file never looks whole.
fn copy_file(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let part = to.with_extension("part");
    std::fs::copy(from, &part)
        .with_context(|| format!("cannot copy {} to {}", from.display(), part.display()))?;
    std::fs::rename(&part, to).with_context(|| format!("cannot write {}", to.display()))?;
    Ok(())
}

async fn take(config: &Config, to: &Path) -> Result<u8> {
    let started = std::time::Instant::now();
    std::fs::create_dir_all(to.join(FILES))
        .with_context(|| format!("cannot write the backup to {}", to.display()))?;
    let probe = to.join(".yishu-write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("cannot write the backup to {}", to.display()))?;
    let _ = std::fs::remove_file(&probe);
    let previous = read_manifest(to).ok();
    let (store, lake) = crate::cmd::serve::open(config).await?;

    // The metadata first: its instant is the one every table is taken at.
    let taken_at = yishu_meta::now_ms();
    let meta_copy = to.join(FILES).join("meta.db");
    let fresh = to.join(FILES).join("meta.db.part");
    let _ = std::fs::remove_file(&fresh);
    let audit_head = store.snapshot_into(&fresh).await?;
    std::fs::rename(&fresh, &meta_copy)
        .with_context(|| format!("cannot write {}", meta_copy.display()))?;
    let mut files = BTreeMap::new();
    files.insert(
        "meta.db".to_string(),
        FileSum {
            size: std::fs::metadata(&meta_copy)?.len(),
            sm3: sm3_of(&meta_copy)?,
        },
    );

    let root = PathBuf::from(config.lake_root().trim_start_matches("file://"));
    let mut tables = BTreeMap::new();
    let (mut copied, mut kept, mut bytes) = (0usize, 0usize, 0u64);
    for layer in Layer::ALL {
        for name in lake.list_tables(layer) {
            let Some(t) = lake.files_at(layer, &name, taken_at).await? else {
                continue;
            };
            tables.insert(format!("{layer}.{name}"), t.version);
            for f in &t.files {
                let rel = format!("lake/{layer}/{name}/{f}");
                let source = root.join(layer.as_str()).join(&name).join(f);
                let target = to.join(FILES).join(&rel);
                let size = std::fs::metadata(&source)
                    .with_context(|| format!("cannot read {}", source.display()))?
                    .len();
                // Delta never rewrites a file: one already backed up at its size is the same.
                let known = previous
                    .as_ref()
                    .and_then(|m| m.files.get(&rel))
                    .filter(|s| s.size == size && target.exists());
                let sum = match known {
                    Some(s) => {
                        kept += 1;
                        s.clone()
                    }
                    None => {
                        copy_file(&source, &target)?;
                        copied += 1;
                        bytes += size;
                        FileSum {
                            size,
                            sm3: sm3_of(&target)?,
                        }
                    }
                };
                files.insert(rel, sum);
            }
        }
    }
    let manifest = Manifest {
        taken_at,
        yishu_version: env!("CARGO_PKG_VERSION").to_string(),
        audit_head,
        tables,
        files,
    };
    let part = to.join("manifest.json.part");
    std::fs::write(&part, serde_json::to_vec_pretty(&manifest)?)
        .with_context(|| format!("cannot write {}", part.display()))?;
    std::fs::rename(&part, to.join(MANIFEST))
        .with_context(|| format!("cannot write the manifest in {}", to.display()))?;
    // A backup reads everything: it is in the audit chain (after the head it copied).
    store
        .audit(&crate::cmd::audit::cli_entry(
            "backup.take",
            format!("backup:{}", to.display()),
            serde_json::json!({"taken_at": taken_at, "tables": manifest.tables.len(),
                "files": manifest.files.len(), "copied": copied, "audit_head": manifest.audit_head.seq}),
        ))
        .await?;
    store.close().await;
    println!(
        "backup in {}: the metadata store and {} tables at their versions of {}; {copied} files copied ({:.1} MB), {kept} already there; audit chain head {} ({:.1} s)",
        to.display(),
        manifest.tables.len(),
        yishu_server::time::fmt_time(taken_at),
        bytes as f64 / 1e6,
        manifest.audit_head.seq,
        started.elapsed().as_secs_f64()
    );
    Ok(exit::OK)
}

/// Every file of the manifest present with its size and checksum; the first that is not,
/// named.
fn check(dir: &Path, m: &Manifest) -> Result<()> {
    for (rel, sum) in &m.files {
        let p = dir.join(FILES).join(rel);
        let size = std::fs::metadata(&p)
            .with_context(|| format!("the backup lacks {rel}"))?
            .len();
        if size != sum.size {
            bail!(
                "{rel} in the backup has {size} bytes, the manifest says {}",
                sum.size
            );
        }
        let got = sm3_of(&p)?;
        if got != sum.sm3 {
            bail!(
                "{rel} in the backup does not match its checksum (SM3 {got}, the manifest says {})",
                sum.sm3
            );
        }
    }
    Ok(())
}

fn verify(dir: &Path) -> Result<u8> {
    let m = read_manifest(dir)?;
    match check(dir, &m) {
        Ok(()) => {
            println!(
                "backup in {} is whole: {} files, {} tables, taken {}",
                dir.display(),
                m.files.len(),
                m.tables.len(),
                yishu_server::time::fmt_time(m.taken_at)
            );
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("yishu: backup damaged: {e:#}");
            Ok(exit::FAILED)
        }
    }
}

pub async fn restore(config: &Config, a: RestoreArgs) -> Result<u8> {
    match (a.from, a.data_dir, a.table, a.version) {
        (Some(from), Some(data_dir), None, _) => restore_backup(&from, &data_dir),
        (None, _, Some(table), Some(version)) => restore_table(config, &table, version).await,
        _ => bail!(
            "say what to restore: --from DIR --data-dir NEW (a backup), or --table LAYER.NAME --version N (one table)"
        ),
    }
}

/// One table back to an earlier version, audited.
async fn restore_table(config: &Config, table: &str, version: u64) -> Result<u8> {
    let (layer, name) = table
        .split_once('.')
        .and_then(|(l, n)| {
            Layer::ALL
                .into_iter()
                .find(|x| x.as_str() == l)
                .map(|l| (l, n))
        })
        .with_context(|| {
            format!("'{table}' is not LAYER.NAME (ods, std, base, theme, quarantine or quality)")
        })?;
    let (store, lake) = crate::cmd::serve::open(config).await?;
    if !lake.has_table(layer, name) {
        bail!("there is no table {layer}.{name}");
    }
    let now = lake.restore_version(layer, name, version).await?;
    store
        .audit(&crate::cmd::audit::cli_entry(
            "lake.restore",
            format!("table:{layer}.{name}"),
            serde_json::json!({"to_version": version, "new_version": now}),
        ))
        .await?;
    store.close().await;
    println!("{layer}.{name} holds again what it held at version {version} (now version {now})");
    Ok(exit::OK)
}

fn restore_backup(from: &Path, data_dir: &Path) -> Result<u8> {
    let m = read_manifest(from)?;
    if data_dir.exists()
        && std::fs::read_dir(data_dir)
            .with_context(|| format!("cannot read {}", data_dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty: restore into a new, empty data directory (nothing was written)",
            data_dir.display()
        );
    }
    // Every checksum first: a damaged backup restores nothing.
    check(from, &m).context("the backup is damaged; nothing was restored")?;
    let started = std::time::Instant::now();
    for rel in m.files.keys() {
        copy_file(&from.join(FILES).join(rel), &data_dir.join(rel))?;
    }
    println!(
        "restored {} files into {}: the metadata store and {} tables as of {}; audit chain head {} (check it with yishu audit verify) ({:.1} s)",
        m.files.len(),
        data_dir.display(),
        m.tables.len(),
        yishu_server::time::fmt_time(m.taken_at),
        m.audit_head.seq,
        started.elapsed().as_secs_f64()
    );
    Ok(exit::OK)
}
