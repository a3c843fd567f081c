//! `yishu fusion …`: save the plan (checked first), run fusion, and measure it against a
//! synthetic city's ground truth.

use crate::config::Config;
use crate::exit;
use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use std::path::PathBuf;
use yishu_fusion::plan::Plan;
use yishu_fusion::run::RunMode;
use yishu_lake::Lake;
use yishu_meta::Store;

#[derive(Subcommand)]
pub enum FusionCommand {
    /// Save a plan from a JSON file after checking it (resources, columns, one authority per
    /// attribute, no cycles); `--show` prints the plan in force.
    Plan {
        #[arg(long, conflicts_with = "show")]
        file: Option<PathBuf>,
        #[arg(long)]
        show: bool,
    },
    /// Run fusion under the plan in force: link, build golden records, write the base libraries.
    /// Reads only the std batches no run has read and rebuilds only the subjects they touch,
    /// unless the plan changed, a person decided a review or a correction was accepted since the
    /// last run, or `--full` asks to read everything again.
    Run {
        #[arg(long)]
        full: bool,
    },
    /// Compare the base libraries with a synthetic city's ground truth (`yishu gen city` or the
    /// demo's `city/`): person linkage precision and recall, golden values, injected conflicts,
    /// and the same per injected problem kind.
    Accuracy {
        #[arg(long)]
        city: PathBuf,
        /// Also list the first N golden values that differ from the truth, with the problems
        /// injected into that person's records (to tell a defect from data no rule can mend).
        #[arg(long, default_value_t = 0)]
        misses: usize,
    },
}

pub async fn run(config: &Config, cmd: FusionCommand) -> Result<u8> {
    let (store, lake) = crate::cmd::serve::open(config).await?;
    match cmd {
        FusionCommand::Plan { file, show } => {
            if show || file.is_none() {
                match store.fusion_plan().await? {
                    Some(p) => println!("{}", serde_json::to_string_pretty(&p.body)?),
                    None => bail!("no fusion plan has been saved yet"),
                }
                return Ok(exit::OK);
            }
            let path = file.unwrap_or_default();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let plan: Plan = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a fusion plan", path.display()))?;
            let saved = save_plan(&store, &plan, None).await?;
            println!("fusion plan version {saved} saved");
            Ok(exit::OK)
        }
        FusionCommand::Run { full } => {
            let mode = if full { RunMode::Full } else { RunMode::Auto };
            let report = fuse(&store, &lake, mode).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(exit::OK)
        }
        FusionCommand::Accuracy { city, misses } => {
            let a = yishu_gen::city::accuracy::accuracy(&store, &lake, &city).await?;
            print!("{a}");
            for m in a.misses.iter().take(misses) {
                println!("miss: {m}");
            }
            Ok(if a.meets() { exit::OK } else { exit::FAILED })
        }
    }
}

/// Checks a plan against the catalog and saves it; returns its version.
pub async fn save_plan(store: &Store, plan: &Plan, by: Option<yishu_types::UserId>) -> Result<i64> {
    let known = yishu_fusion::run::known_resources(store).await?;
    plan.check(&known)
        .map_err(|e| anyhow!("the plan is refused: {}", e.message))?;
    let saved = store
        .save_fusion_plan(&serde_json::to_value(plan)?, by)
        .await?;
    Ok(saved.version)
}

/// Runs fusion with progress on stderr.
pub async fn fuse(
    store: &Store,
    lake: &Lake,
    mode: RunMode,
) -> Result<yishu_fusion::run::FusionReport> {
    let report =
        yishu_fusion::run::fuse(store, lake, mode, &mut |m: &str| eprintln!("  fusion: {m}"))
            .await?;
    Ok(report)
}
