//! `yishu bench fusion`: an incremental fusion run over a day's changes, against a full run over
//! the same data, on a city already fused (`yishu demo --people N --no-serve --data-dir DIR`).

use anyhow::{Result, anyhow, bail};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use yishu_fusion::run::RunMode;

#[derive(Args)]
pub struct FusionBenchArgs {
    /// The data directory of a fused city (the demo's `--data-dir`).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Changed 人社 rows in the new batch.
    #[arg(long, default_value_t = 10_000)]
    pub changes: usize,
    /// Only the incremental run (no full run to compare with): for series over batch sizes.
    #[arg(long)]
    pub incremental_only: bool,
}

/// Bytes in the files under a directory (what a run wrote, by difference).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or_default(),
        })
        .sum()
}

pub async fn run(a: FusionBenchArgs, mut config: crate::config::Config) -> Result<u8> {
    let city = a.data_dir.join("city");
    if !city.join("renshe_canbao.csv").exists() {
        bail!(
            "{} holds no city: make one with `yishu demo --people 1000000 --no-serve --data-dir {}`",
            a.data_dir.display(),
            a.data_dir.display()
        );
    }
    config.data_dir = a.data_dir.clone();
    config.database_url = None;
    config.lake_root = None;
    let (store, lake) = crate::cmd::serve::open(&config).await?;
    // The day's batch, fed the way every batch is: ingest, then check and clean into std.
    let resource = store
        .all_resources()
        .await?
        .into_iter()
        .find(|r| r.meta.name == "社会保险参保信息")
        .ok_or_else(|| anyhow!("the catalog has no 社会保险参保信息"))?;
    // Each run of the bench changes other rows than the last.
    let earlier = store
        .list_batches(resource.id)
        .await?
        .len()
        .saturating_sub(1);
    let file = a.data_dir.join("renshe_changes.csv");
    let n = yishu_gen::write_changes(&yishu_gen::ChangesArgs {
        city: city.clone(),
        records: a.changes,
        skip: earlier * a.changes,
        out: file.clone(),
    })?;
    let opts = yishu_ingest::ReadOptions::default();
    yishu_ingest::ingest_file(&store, &lake, &resource, &file, &opts, &mut |_| {}).await?;
    yishu_quality::run::check_pending(&store, &lake, 1_000).await?;
    let base_dir = a.data_dir.join("lake").join("base");
    let base_before = dir_bytes(&base_dir);
    let t = Instant::now();
    let progress = &mut |m: &str| eprintln!("  {:6.2} s  {m}", t.elapsed().as_secs_f64());
    let inc = yishu_fusion::run::fuse(&store, &lake, RunMode::Auto, progress).await?;
    let inc_s = t.elapsed().as_secs_f64();
    let inc_rss = super::peak_rss_mib().unwrap_or_default();
    if inc.mode != "incremental" {
        bail!("the run was not incremental: {}", inc.full_because);
    }
    let written = dir_bytes(&base_dir).saturating_sub(base_before);
    let mib = |b: u64| b as f64 / 1048576.0;
    let people = inc.subjects.get("person").copied().unwrap_or_default();
    let wrote = format!(
        "the incremental run wrote {:.1} MiB to the base layer, which held {:.1} MiB",
        mib(written),
        mib(base_before)
    );
    if a.incremental_only {
        println!(
            "\nincremental fusion of a {people}-person city after a batch of {n} changed 人社 rows: \
             {inc_s:.2} s, {} subjects rebuilt, {} changed, peak RSS {inc_rss:.0} MiB\n{wrote}",
            inc.touched, inc.changed
        );
        return Ok(crate::exit::OK);
    }
    let t = Instant::now();
    let progress = &mut |m: &str| eprintln!("  {:6.2} s  {m}", t.elapsed().as_secs_f64());
    let full = yishu_fusion::run::fuse(&store, &lake, RunMode::Full, progress).await?;
    let full_s = t.elapsed().as_secs_f64();
    println!("\nfusion of a {people}-person city after a batch of {n} changed 人社 rows");
    println!(
        "{:<34} {:>10} {:>12} {:>10}",
        "run", "seconds", "subjects", "changed"
    );
    println!(
        "{:<34} {:>10.2} {:>12} {:>10}",
        "Yishu incremental (the batch)", inc_s, inc.touched, inc.changed
    );
    println!(
        "{:<34} {:>10.2} {:>12} {:>10}",
        "Yishu full (everything again)",
        full_s,
        full.subjects.values().sum::<u64>(),
        full.changed
    );
    println!(
        "ratio full / incremental: {:.1}; peak RSS through the incremental run {:.0} MiB",
        full_s / inc_s,
        inc_rss
    );
    println!("{wrote}");
    println!(
        "a full run after the incremental one changed {} subjects (0: it left what a full run leaves)",
        full.changed
    );
    Ok(if full.changed == 0 {
        crate::exit::OK
    } else {
        crate::exit::FAILED
    })
}
