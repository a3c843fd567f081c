//! `yishu demo`: a working platform in under a minute — a synthetic city's organisations and one
//! user per role, served on 127.0.0.1:8080.

use crate::config::Config;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use yishu_gen::city;
use yishu_meta::Store;

#[derive(Args)]
pub struct DemoArgs {
    /// People in the synthetic city.
    #[arg(long, default_value_t = 20_000)]
    pub people: usize,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Data directory of the demo; recreated on every run.
    #[arg(long, default_value = "yishu-demo")]
    pub data_dir: PathBuf,
    /// Prepare everything, print the credentials and exit instead of serving.
    #[arg(long)]
    pub no_serve: bool,
    /// Seed of the synthetic city: another seed, another city with the same shape.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Share of rows given an injected problem (0 to 0.5).
    #[arg(long, default_value_t = 0.02)]
    pub problem_rate: f64,
}

/// The PostgreSQL server the demo's subscription delivers into (`YISHU_DEMO_PG` overrides).
const DEMO_PG: &str = "postgres://postgres@127.0.0.1:5432";

/// Marks a directory as created by the demo, so a rerun may wipe it and nothing else.
const MARKER: &str = ".yishu-demo";

pub async fn run(args: DemoArgs, mut config: Config) -> Result<u8> {
    let started = std::time::Instant::now();
    let dir = &args.data_dir;
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            bail!(
                "{} exists and was not made by `yishu demo`; choose another --data-dir",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(MARKER), "created by yishu demo\n")?;
    config.data_dir = dir.clone();
    config.database_url = None;
    config.lake_root = None;

    let city = yishu_gen::CityArgs {
        people: args.people,
        seed: args.seed,
        out: dir.join("city"),
        problem_rate: args.problem_rate,
    };
    let summary = yishu_gen::generate_city(&city, &mut yishu_gen::TermProgress::new()).await?;
    eprintln!("{summary}");

    let (store, lake) = crate::cmd::serve::open(&config).await?;
    let users = seed_city(&store).await?;
    let resources = catalog_city(&store).await?;
    let ingested = city::load::ingest_city(&store, &lake, &dir.join("city")).await?;
    let checked = city::rules::quality_city(&store, &lake).await?;
    let plan = city::plan::city_plan(&store).await?;
    crate::cmd::fusion::save_plan(&store, &plan, None).await?;
    let fused = crate::cmd::fusion::fuse(&store, &lake, yishu_fusion::run::RunMode::Auto).await?;
    let shared = city::share::share_city(&store, &lake).await?;
    let services = city::services::publish_services(&store, &lake).await?;
    let opened = city::open::open_city(&store).await?;
    let pg = std::env::var("YISHU_DEMO_PG").unwrap_or_else(|_| DEMO_PG.to_string());
    let subscribed = city::subscribe::subscribe_city(&store, &pg).await?;
    if subscribed.is_some()
        && let Ok(u) = url::Url::parse(&pg)
        && let Some(host) = u.host_str()
    {
        // The demo's subscription delivers into this PostgreSQL: the server may connect there.
        config.outbound.allow.push(host.to_string());
    }
    println!("\n一数 Yishu demo — data in {}", dir.display());
    println!(
        "  console: http://{}/console    API docs: http://{}/api/v1/docs/",
        args.listen, args.listen
    );
    println!("  users (passwords are random and shown only now):");
    for (name, role, password) in &users {
        println!("    {name:<10} {role:<18} {password}");
    }
    println!("  catalog: {resources} published resources");
    for line in &ingested {
        println!("  ingested {line}");
    }
    println!(
        "  quality: {checked} batches profiled, checked and cleaned into std (console → 质量)"
    );
    println!(
        "  fusion: {} people, {} legal entities, {} houses in the base libraries; {} records in review, {} conflicts in {} work orders (console → 基础库)",
        fused.subjects.get("person").copied().unwrap_or_default(),
        fused.subjects.get("entity").copied().unwrap_or_default(),
        fused.subjects.get("house").copied().unwrap_or_default(),
        fused.review_queued,
        fused.conflicts,
        fused.work_orders
    );
    for line in &shared {
        println!("  sharing: {line} (console → 共享)");
    }
    for line in &services {
        println!("  services: {line}");
    }
    for line in &opened {
        println!("  open data: {line} (portal: http://{}/)", args.listen);
    }
    match &subscribed {
        Some(line) => println!("  subscriptions: {line}"),
        None => println!(
            "  subscriptions: no PostgreSQL answered at {pg}; set YISHU_DEMO_PG to subscribe the population library into one"
        ),
    }
    println!("  ready in {:.1} s", started.elapsed().as_secs_f64());
    if args.no_serve {
        return Ok(crate::exit::OK);
    }
    crate::cmd::serve::serve(store, lake, &config, &args.listen).await?;
    Ok(crate::exit::OK)
}

/// Creates the province, the city, its districts and departments, and one user per role, each
/// change audited as the demo. Returns (user name, role, password).
pub async fn seed_city(store: &Store) -> Result<Vec<(String, String, String)>> {
    let out = city::setup::seed_city(store).await?;
    for o in store.list_orgs().await? {
        let entry = crate::cmd::audit::cli_entry(
            "org.create",
            format!("org:{}", o.id),
            serde_json::json!({"code": o.code, "name": o.name}),
        );
        store.audit(&entry).await?;
    }
    for u in store.list_users(None, 1000, 0).await?.items {
        let entry = crate::cmd::audit::cli_entry(
            "user.create",
            format!("user:{}", u.id),
            serde_json::json!({"name": u.name, "roles": u.roles}),
        );
        store.audit(&entry).await?;
    }
    Ok(out)
}

/// Catalogues and publishes the city's datasets, each step audited like the console does;
/// returns how many.
async fn catalog_city(store: &Store) -> Result<usize> {
    let published = city::setup::catalog_city(store).await?;
    for r in &published {
        for action in [
            "resource.create",
            "resource.submit",
            "resource.approve",
            "resource.publish",
        ] {
            let entry = crate::cmd::audit::cli_entry(
                action,
                format!("resource:{}", r.code),
                serde_json::json!({"name": r.meta.name}),
            );
            store.audit(&entry).await?;
        }
    }
    Ok(published.len())
}
