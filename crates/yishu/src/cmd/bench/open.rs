//! `yishu bench open`: a catalog of many open datasets (100,000 by default: thirty departments,
//! Chinese names and keywords, each published and opened through the real store and gate
//! code), served in-process; then CKAN `package_search` with q + fq + facets (100 rows), the
//! harvester's worst page (`start=17000&rows=1000`), `ckanapi dump datasets --all` end to end,
//! and the portal's home and dataset pages under 16 connections. CKAN 2.11's own figures
//! (about 1 s for the worst page, ckan/ckan#8772) are the reference: CKAN needs Solr and
//! PostgreSQL and is not on the registries this machine reaches.

use super::search::SUBJECTS;
use anyhow::{Result, bail};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;
use yishu_meta::catalog::{
    Actor, ClassKind, Extended, Item, OpenType, ResourceDraft, ResourceFormat, ShareType,
    UpdateCycle,
};
use yishu_meta::{NewOrg, NewUser, OrgLevel, Store};
use yishu_types::Role;

#[derive(Args)]
pub struct OpenBenchArgs {
    /// Open datasets in the catalog.
    #[arg(long, default_value_t = 100_000)]
    pub datasets: usize,
    /// Where the catalog is kept (made once, reused by later runs of the same size).
    #[arg(long, default_value = "yishu-bench-open")]
    pub data_dir: PathBuf,
    /// `package_search` calls timed.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Connections for the page load test.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Seconds per page load test.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Skip `ckanapi dump datasets --all`.
    #[arg(long)]
    pub no_dump: bool,
}

const DEPARTMENTS: usize = 30;
const CYCLES: [UpdateCycle; 4] = [
    UpdateCycle::Daily,
    UpdateCycle::Monthly,
    UpdateCycle::Quarterly,
    UpdateCycle::Yearly,
];

/// The synthetic catalog: departments, one officer each and a data manager; every dataset
/// catalogued, reviewed, published and opened as a department would.
async fn build(store: &Store, n: usize) -> Result<()> {
    let province = store
        .create_org(&NewOrg {
            code: "BP".into(),
            name: "基准省".into(),
            level: Some(OrgLevel::Province),
            ..Default::default()
        })
        .await?;
    let city = store
        .create_org(&NewOrg {
            code: "BC".into(),
            name: "基准市".into(),
            level: Some(OrgLevel::City),
            parent_id: Some(province.id),
            ..Default::default()
        })
        .await?;
    let manager = store
        .create_user(&NewUser {
            name: "bench-manager".into(),
            display_name: None,
            org_id: city.id,
            password: yishu_gen::city::setup::random_password(),
            roles: vec![Role::DataManager],
        })
        .await?;
    let mut officers = Vec::new();
    for d in 0..DEPARTMENTS {
        let org = store
            .create_org(&NewOrg {
                code: format!("BD{d:02}"),
                name: format!(
                    "基准市{}",
                    super::search::PROVIDERS[d % super::search::PROVIDERS.len()]
                ),
                parent_id: Some(city.id),
                ..Default::default()
            })
            .await?;
        let u = store
            .create_user(&NewUser {
                name: format!("bench-officer-{d}"),
                display_name: None,
                org_id: org.id,
                password: yishu_gen::city::setup::random_password(),
                roles: vec![Role::ProviderOfficer],
            })
            .await?;
        officers.push(u);
    }
    let reviewer = Actor {
        user: manager.id,
        org: manager.org_id,
        roles: &manager.roles,
    };
    let opener = store.acting_as("bench-manager").await?;
    let started = Instant::now();
    for i in 0..n {
        let d = i % DEPARTMENTS;
        let officer = &officers[d];
        let by = Actor {
            user: officer.id,
            org: officer.org_id,
            roles: &officer.roles,
        };
        let subject = SUBJECTS[i % SUBJECTS.len()];
        let other = SUBJECTS[(i / SUBJECTS.len() + 7) % SUBJECTS.len()];
        let draft = ResourceDraft {
            class_kind: ClassKind::Department,
            class_path: format!("{:02}{:03}{:03}", d + 1, (i / 1000) % 1000 + 1, 1),
            name: format!("{subject}{other}统计（第{}批）", i / SUBJECTS.len() + 1),
            provider_org_id: officer.org_id,
            summary: format!("按区县和月份统计的{subject}与{other}信息，供社会公众查询和开发利用"),
            format: ResourceFormat::Database,
            share_type: ShareType::Unconditional,
            share_condition: String::new(),
            open_type: OpenType::Unconditional,
            open_condition: String::new(),
            update_cycle: CYCLES[i % CYCLES.len()],
            related_codes: Vec::new(),
            extended: Extended {
                contact: "数据开放专员".into(),
                keywords: vec![subject.into(), other.into()],
                ..Default::default()
            },
            items: ["统计月份", "行政区划", "指标名称", "数值", "单位"]
                .iter()
                .map(|name| Item {
                    name: name.to_string(),
                    item_type: if *name == "数值" { "N" } else { "C" }.into(),
                    length: Some(50),
                    data_element: None,
                    description: String::new(),
                })
                .collect(),
        };
        let r = store.create_resource(&draft, &by).await?;
        store.submit_resource(r.id, &by).await?;
        store.review_resource(r.id, true, "", &reviewer).await?;
        store.publish_resource(r.id, &reviewer).await?;
        yishu_share::opening::open(store, &opener, r.id, &Default::default()).await?;
        if (i + 1) % 5_000 == 0 || i + 1 == n {
            eprintln!(
                "  catalogued, published and opened {} of {n} datasets ({:.0} s)",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

/// Times `urls` one after another; returns (p50, p95, max) in ms and the answers' counts.
async fn timed(client: &reqwest::Client, urls: &[String]) -> Result<(f64, f64, f64, i64)> {
    let mut ms = Vec::new();
    let mut count = 0;
    for u in urls {
        let t = Instant::now();
        let r = client.get(u).send().await?;
        let status = r.status();
        let body: serde_json::Value = r.json().await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if !status.is_success() || body["success"] != true {
            bail!("{u}: {status} {body}");
        }
        count = body["result"]["count"].as_i64().unwrap_or(0);
    }
    ms.sort_by(f64::total_cmp);
    Ok((
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        ms.last().copied().unwrap_or(0.0),
        count,
    ))
}

pub async fn run(a: OpenBenchArgs, mut config: crate::config::Config) -> Result<u8> {
    let marker = a.data_dir.join(format!("open-bench-{}", a.datasets));
    let fresh = !marker.exists();
    if fresh && a.data_dir.exists() {
        std::fs::remove_dir_all(&a.data_dir)?;
    }
    std::fs::create_dir_all(&a.data_dir)?;
    config.data_dir = a.data_dir.clone();
    config.database_url = None;
    config.lake_root = None;
    let (store, lake) = crate::cmd::serve::open(&config).await?;
    if fresh {
        eprintln!(
            "bench open: building a catalog of {} open datasets…",
            a.datasets
        );
        let t = Instant::now();
        build(&store, a.datasets).await?;
        std::fs::write(&marker, "made by yishu bench open\n")?;
        eprintln!("  built in {:.0} s", t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let search = yishu_server::open_search(Some(&a.data_dir.join("search")), &store).await?;
    eprintln!("  search index ready in {:.1} s", t.elapsed().as_secs_f64());
    let state = yishu_server::AppState::new(
        store.clone(),
        lake,
        search,
        yishu_server::ServerConfig {
            scheduler_tick: std::time::Duration::from_secs(86_400),
            // The bench measures the server, not the per-address limit (all its load comes
            // from one address).
            open_pages_per_minute: i64::MAX / 4,
            ..Default::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    tokio::spawn(yishu_server::serve(listener, state, std::future::pending()));
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    // The first call builds the shared catalog; it is timed apart.
    let t = Instant::now();
    let first: serde_json::Value = client
        .get(format!("{base}/api/3/action/package_search?rows=1"))
        .send()
        .await?
        .json()
        .await?;
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;
    let total = first["result"]["count"].as_i64().unwrap_or(0);
    if total < a.datasets as i64 {
        bail!(
            "the catalog lists {total} open datasets, not {}",
            a.datasets
        );
    }
    println!(
        "bench open: {total} open datasets in {DEPARTMENTS} departments, in-process server on loopback, {} cores; first call (builds the shared catalog) {first_ms:.0} ms",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "{:<64} {:>8} {:>8} {:>8} {:>9}",
        "CKAN Action API", "p50 ms", "p95 ms", "max ms", "matches"
    );
    let searches: Vec<String> = (0..a.queries)
        .map(|i| {
            // A dataset's subject and department, so that every query finds something.
            let k = (i * 7_919) % a.datasets;
            format!(
                "{base}/api/3/action/package_search?q={}&fq=organization:bd{:02}&facet.field=%5B%22organization%22,%22tags%22,%22res_format%22%5D&rows=100",
                urlencode(SUBJECTS[k % SUBJECTS.len()]),
                k % DEPARTMENTS
            )
        })
        .collect();
    let (p50, p95, max, n) = timed(&client, &searches).await?;
    println!(
        "{:<64} {p50:>8.1} {p95:>8.1} {max:>8.1} {n:>9}",
        "package_search q + fq + 3 facets, rows 100 (target p95 ≤ 300)"
    );
    let worst: Vec<String> = (0..20)
        .map(|_| format!("{base}/api/3/action/package_search?start=17000&rows=1000"))
        .collect();
    let (p50, p95, max, n) = timed(&client, &worst).await?;
    println!(
        "{:<64} {p50:>8.1} {p95:>8.1} {max:>8.1} {n:>9}",
        "package_search start=17000 rows=1000 (target ≤ 1000; CKAN ≈ 1000)"
    );
    let crawl: Vec<String> = (0..20)
        .map(|p| {
            format!(
                "{base}/api/3/action/package_search?rows=100&start={}&sort=id%20asc&fq=metadata_modified:%5B2000-01-01T00:00:00Z%20TO%20*%5D",
                p * 100 * (a.datasets / 2_000).max(1)
            )
        })
        .collect();
    let (p50, p95, max, n) = timed(&client, &crawl).await?;
    println!(
        "{:<64} {p50:>8.1} {p95:>8.1} {max:>8.1} {n:>9}",
        "harvester page: sort=id asc, fq metadata_modified range, rows 100"
    );

    // A department changes one dataset's terms: the next request after the store's stamp is
    // looked at again brings the shared catalog up to date; the others are served meanwhile.
    let changed = store
        .list_resources(None, None, 1, (a.datasets / 3) as i64)
        .await?
        .items
        .into_iter()
        .next();
    if let Some(r) = changed {
        let opener = store.acting_as("bench-manager").await?;
        let mut refresh = Vec::new();
        for _ in 0..5 {
            yishu_share::opening::open(&store, &opener, r.id, &Default::default()).await?;
            tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
            let t = Instant::now();
            client
                .get(format!("{base}/api/3/action/package_search?rows=1"))
                .send()
                .await?
                .error_for_status()?;
            refresh.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        refresh.sort_by(f64::total_cmp);
        println!(
            "{:<64} {:>8.1} {:>8.1} {:>8.1} {:>9}",
            "first request after one dataset changed (catalog refresh)",
            percentile(&refresh, 0.5),
            percentile(&refresh, 0.95),
            refresh.last().copied().unwrap_or(0.0),
            refresh.len()
        );
    }

    // Portal pages under load.
    let name = {
        let v: serde_json::Value = client
            .get(format!(
                "{base}/api/3/action/package_list?limit=1&offset={}",
                a.datasets / 2
            ))
            .send()
            .await?
            .json()
            .await?;
        v["result"][0].as_str().unwrap_or_default().to_string()
    };
    let probe = client
        .get(format!("{base}/open/datasets/{name}"))
        .send()
        .await?;
    if !probe.status().is_success() {
        bail!("the dataset page of {name} answered {}", probe.status());
    }
    println!(
        "{:<64} {:>8} {:>8} {:>8} {:>9}",
        "portal pages, 16 connections", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for (label, path) in [
        ("home page / (target p99 ≤ 50)", "/".to_string()),
        (
            "dataset page (metadata, items, history; target p99 ≤ 50)",
            format!("/open/datasets/{name}"),
        ),
    ] {
        let url = format!("{base}{path}");
        let r = super::load(move |_| url.clone(), None, a.connections, a.seconds, 0).await?;
        println!(
            "{label:<64} {:>8.0} {:>8.1} {:>8.1} {:>9}",
            r.rps(),
            r.p50_us as f64 / 1000.0,
            r.p99_us as f64 / 1000.0,
            r.errors
        );
    }

    if !a.no_dump {
        let ckanapi = ckanapi()?;
        let out = tempfile::NamedTempFile::new()?;
        let t = Instant::now();
        let status = std::process::Command::new(&ckanapi)
            .env("PATH", path_with(&ckanapi))
            .args(["dump", "datasets", "--all", "-q", "-p", "2", "-O"])
            .arg(out.path())
            .args(["-r", &base])
            .status()?;
        let secs = t.elapsed().as_secs_f64();
        if !status.success() {
            bail!("ckanapi dump failed: {status}");
        }
        let lines = std::fs::read_to_string(out.path())?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count();
        println!(
            "ckanapi dump datasets --all (2 processes): {lines} datasets in {secs:.1} s ({:.0} datasets/s)",
            lines as f64 / secs
        );
    }
    Ok(crate::exit::OK)
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The ckanapi command: the virtualenv `scripts/test` makes, or one made here from PyPI.
fn ckanapi() -> Result<PathBuf> {
    let venv = PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/yishu-py");
    let exe = venv.join("bin/ckanapi");
    if exe.exists() {
        return Ok(exe);
    }
    eprintln!("installing ckanapi from PyPI into {}…", venv.display());
    let ok = std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()?
        .success()
        && std::process::Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "ckanapi==4.11"])
            .status()?
            .success();
    if !ok || !exe.exists() {
        bail!("cannot install ckanapi into {}", venv.display());
    }
    Ok(exe)
}

/// PATH with the command's directory first (`ckanapi dump` starts workers by name).
fn path_with(exe: &std::path::Path) -> std::ffi::OsString {
    let mut p = exe
        .parent()
        .map(|d| d.as_os_str().to_owned())
        .unwrap_or_default();
    p.push(":");
    p.push(std::env::var_os("PATH").unwrap_or_default());
    p
}
