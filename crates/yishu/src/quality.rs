//! `yishu quality …`: check batches, try rules before they go to review, seed the national data
//! elements.

use crate::config::Config;
use crate::exit;
use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use std::path::PathBuf;
use std::time::Instant;
use yishu_quality::rule::PlannedRule;

#[derive(Subcommand)]
pub enum QualityCommand {
    /// Profile and check batches: one by id, or every batch not checked yet.
    Check {
        #[arg(long)]
        batch: Option<String>,
    },
    /// Run rules from a JSON file (a list of rule definitions) on a resource's rows without
    /// storing anything: to see what a rule finds before sending it to review.
    Try {
        /// The resource's code.
        #[arg(long)]
        resource: String,
        /// JSON file: `[{"kind": "not_null", "column": "姓名"}, …]`.
        #[arg(long)]
        rules: PathBuf,
        /// Only this batch (default: every row of the resource).
        #[arg(long)]
        batch: Option<String>,
    },
    /// Register the national data elements (identity numbers, division codes, the code tables'
    /// elements). Saving them again changes nothing.
    Seed,
}

pub async fn run(config: &Config, cmd: QualityCommand) -> Result<u8> {
    let (store, lake) = crate::open(config).await?;
    match cmd {
        QualityCommand::Check { batch } => {
            let t = Instant::now();
            match batch {
                Some(b) => {
                    let q = yishu_quality::run::check_batch(&store, &lake, &b)
                        .await
                        .map_err(|e| anyhow!(e))?;
                    println!(
                        "batch {b}: {} records profiled, {} violations",
                        q.profile.records, q.violations
                    );
                }
                None => {
                    let n = yishu_quality::run::check_pending(&store, &lake, 1_000)
                        .await
                        .map_err(|e| anyhow!(e))?;
                    println!("checked {n} batches");
                }
            }
            eprintln!("{:.2} s", t.elapsed().as_secs_f64());
        }
        QualityCommand::Try {
            resource,
            rules,
            batch,
        } => {
            let text = std::fs::read_to_string(&rules)
                .with_context(|| format!("cannot read {}", rules.display()))?;
            let defs: Vec<yishu_quality::RuleDef> =
                serde_json::from_str(&text).with_context(|| {
                    format!("{} is not a list of rule definitions", rules.display())
                })?;
            let res = store
                .get_resource_by_code(&resource)
                .await
                .map_err(|e| anyhow!(e))?;
            let items: Vec<String> = res
                .meta
                .items
                .iter()
                .map(|i| i.name.trim().to_string())
                .collect();
            for (i, d) in defs.iter().enumerate() {
                d.check(&items, &[])
                    .map_err(|e| anyhow!("rule {}: {}", i + 1, e.message))?;
            }
            let planned: Vec<PlannedRule> = defs
                .into_iter()
                .enumerate()
                .map(|(i, def)| PlannedRule {
                    id: i as i64 + 1,
                    version: 0,
                    def,
                })
                .collect();
            let mut context = yishu_quality::Context::default();
            for (i, r) in planned.iter().enumerate() {
                if let yishu_quality::RuleDef::Referential { resource, item, .. } = &r.def {
                    let keys = yishu_quality::run::reference_keys(&store, &lake, resource, item)
                        .await
                        .map_err(|e| anyhow!(e))?;
                    context.references.insert(i, keys);
                }
            }
            let t = Instant::now();
            let out = yishu_quality::scan(yishu_quality::Scan {
                lake: &lake,
                table: &res.table(),
                batch_id: batch.as_deref(),
                fields: &items,
                rules: &planned,
                context,
                threads: 0,
            })
            .await
            .map_err(|e| anyhow!(e))?;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "{} records, {} fields profiled, {} duplicate records, {:.2} s",
                out.profile.records,
                out.profile.fields.len(),
                out.profile.duplicate_records,
                secs
            );
            println!(
                "{:<4} {:<60} {:>10} {:>10}",
                "#", "rule", "checked", "failed"
            );
            for (r, o) in planned.iter().zip(&out.outcomes) {
                let what = serde_json::to_string(&r.def).unwrap_or_default();
                let what: String = what.chars().take(60).collect();
                match &o.broken {
                    Some(why) => println!("{:<4} {:<60} broken: {why}", r.id, what),
                    None => println!(
                        "{:<4} {:<60} {:>10} {:>10}",
                        r.id, what, o.checked, o.failed
                    ),
                }
            }
            if out.outcomes.iter().any(|o| o.broken.is_some()) {
                bail!("some rules could not run");
            }
        }
        QualityCommand::Seed => {
            let n = yishu_quality::standard::seed(&store)
                .await
                .map_err(|e| anyhow!(e))?;
            println!("{n} national data elements registered");
        }
    }
    Ok(exit::OK)
}
