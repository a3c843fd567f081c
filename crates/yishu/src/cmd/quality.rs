//! `yishu quality …`: check batches, try rules before they go to review, seed the national data
//! elements.

use crate::config::Config;
use crate::exit;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Instant;
use yishu_lake::Lake;
use yishu_meta::Store;
use yishu_quality::clean::{Action, CleanDef, CleanJob, CleanReport, CleanRule};
use yishu_quality::rule::PlannedRule;

#[derive(Subcommand)]
pub enum QualityCommand {
    /// Profile and check batches: one by id, or every batch not checked yet.
    Check {
        #[arg(long)]
        batch: Option<String>,
    },
    /// Run rules from a JSON file (a list of rule definitions, e.g.
    /// `[{"kind": "not_null", "column": "姓名"}, …]`) on a resource's rows without storing
    /// anything: to see what a rule finds before sending it to review.
    Try(TryArgs),
    /// Clean a resource's batches with cleaning rules from a JSON file (e.g.
    /// `[{"fix": {"kind": "trim", "column": "姓名"}}, {"check": {…}, "action": "filter"}, …]`)
    /// into a scratch std table (`std.try_<table>`), to see what the rules do before they go to
    /// review (nothing reaches the real std table without review).
    TryClean(TryArgs),
    /// Register the national data elements (identity numbers, division codes, the code tables'
    /// elements). Saving them again changes nothing.
    Seed,
}

/// What a trial of rules reads: a resource, the rules, and optionally one batch.
#[derive(Args)]
pub struct TryArgs {
    /// The resource's code.
    #[arg(long)]
    resource: String,
    /// JSON file with the rules.
    #[arg(long)]
    rules: PathBuf,
    /// Only this batch (default: every batch of the resource).
    #[arg(long)]
    batch: Option<String>,
}

pub async fn run(config: &Config, cmd: QualityCommand) -> Result<u8> {
    let (store, lake) = crate::cmd::serve::open(config).await?;
    match cmd {
        QualityCommand::Check { batch } => check(&store, &lake, batch).await?,
        QualityCommand::Try(a) => try_rules(&store, &lake, a).await?,
        QualityCommand::TryClean(a) => try_clean(&store, &lake, a).await?,
        QualityCommand::Seed => {
            let n = yishu_quality::standard::seed(&store).await?;
            println!("{n} national data elements registered");
        }
    }
    Ok(exit::OK)
}

/// `yishu quality check`: one batch, or every batch not checked yet.
async fn check(store: &Store, lake: &Lake, batch: Option<String>) -> Result<()> {
    let t = Instant::now();
    match batch {
        Some(b) => {
            let q = yishu_quality::run::check_batch(store, lake, &b).await?;
            println!(
                "batch {b}: {} records profiled, {} violations",
                q.profile.records, q.violations
            );
        }
        None => {
            let n = yishu_quality::run::check_pending(store, lake, 1_000).await?;
            println!("checked {n} batches");
        }
    }
    eprintln!("{:.2} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// `yishu quality try`: what rules find, nothing stored.
async fn try_rules(store: &Store, lake: &Lake, a: TryArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.rules)
        .with_context(|| format!("cannot read {}", a.rules.display()))?;
    let defs: Vec<yishu_quality::RuleDef> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a list of rule definitions", a.rules.display()))?;
    let res = store.get_resource_by_code(&a.resource).await?;
    let items: Vec<String> = res.item_names();
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
            let keys =
                yishu_quality::reference::reference_keys(store, lake, resource, item).await?;
            context.references.insert(i, keys);
        }
    }
    let t = Instant::now();
    let out = yishu_quality::scan(yishu_quality::Scan {
        lake,
        table: &res.table(),
        batch_id: a.batch.as_deref(),
        fields: &items,
        rules: &planned,
        context,
        threads: 0,
    })
    .await?;
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
    Ok(())
}

/// `yishu quality try-clean`: cleaning rules into a scratch std table.
async fn try_clean(store: &Store, lake: &Lake, a: TryArgs) -> Result<()> {
    let res = store.get_resource_by_code(&a.resource).await?;
    let columns = yishu_quality::cleaning::std_columns(store, &res).await?;
    let local = yishu_quality::cleaning::local_code_tables(store).await?;
    let items: Vec<String> = columns.iter().map(|(c, _)| c.clone()).collect();
    let tables: Vec<String> = local.keys().cloned().collect();
    let text = std::fs::read_to_string(&a.rules)
        .with_context(|| format!("cannot read {}", a.rules.display()))?;
    let list: Vec<serde_json::Value> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a list of cleaning rules", a.rules.display()))?;
    let mut planned = Vec::new();
    for (i, mut v) in list.into_iter().enumerate() {
        let action = v
            .as_object_mut()
            .and_then(|o| o.remove("action"))
            .and_then(|a| a.as_str().map(str::to_string));
        let def: CleanDef = serde_json::from_value(v)
            .with_context(|| format!("rule {} is not a cleaning rule", i + 1))?;
        def.check(&items, &tables)
            .map_err(|e| anyhow!("rule {}: {}", i + 1, e.message))?;
        let action = match (&def.fix, action.as_deref()) {
            (Some(_), _) => Action::Fix,
            (None, None) => Action::Tolerate,
            (None, Some(a)) => Action::parse(a).ok_or_else(|| {
                anyhow!(
                    "rule {}: action is fix, filter or tolerate, not '{a}'",
                    i + 1
                )
            })?,
        };
        planned.push(CleanRule {
            id: i as i64 + 1,
            version: 0,
            name: format!("rule {}", i + 1),
            def,
            action,
        });
    }
    let batches: Vec<String> = match a.batch {
        Some(b) => vec![b],
        None => store
            .list_batches(res.id)
            .await?
            .into_iter()
            .filter(|b| b.rows_stored > 0)
            .map(|b| b.id)
            .collect(),
    };
    let table = res.table();
    let into = format!("try_{table}");
    let t = Instant::now();
    let mut total = CleanReport::default();
    for b in &batches {
        let (references, lookups) =
            yishu_quality::cleaning::clean_references(store, lake, &planned).await;
        let r = yishu_quality::clean::clean_batch(CleanJob {
            lake,
            table: &table,
            into: &into,
            batch_id: b,
            columns: &columns,
            rules: &planned,
            local: &local,
            references,
            lookups,
        })
        .await?;
        for why in &r.broken {
            eprintln!("  {why}");
        }
        println!(
            "batch {b}: {} rows in, {} out, {} filtered, {} flagged, {} type failures",
            r.rows_in, r.rows_out, r.rows_filtered, r.rows_flagged, r.type_failures
        );
        total.rows_in += r.rows_in;
        total.rows_out += r.rows_out;
        total.rows_filtered += r.rows_filtered;
        for (k, n) in r.fixes {
            *total.fixes.entry(k).or_default() += n;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    for (k, n) in &total.fixes {
        println!("  {k}: {n} values fixed");
    }
    println!(
        "cleaned {} rows into std.{into} in {secs:.2} s ({:.0} rows/s)",
        total.rows_in,
        total.rows_in as f64 / secs.max(1e-9)
    );
    Ok(())
}
