//! `yishu bench …`: benchmarks that print a table, this project against a named peer in the same
//! run. They are commands, not timed tests.

use crate::config::Config;
use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use std::time::{Duration, Instant};
use yishu_meta::{NewOrg, NewUser, OrgLevel, Store};
use yishu_types::Role;

mod audit;
mod fusion;
mod link;
mod open;
mod quality;
mod search;
mod services;
mod share;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Authenticated `GET /api/v1/me` with an API key vs a bare axum handler returning a constant.
    Http(HttpArgs),
    /// `gen city` throughput and peak memory.
    Gen(GenArgs),
    /// CSV ingest into ods (UTF-8 and GBK) vs DuckDB `COPY (SELECT * FROM read_csv(...)) TO parquet`.
    Ingest(IngestBenchArgs),
    /// Catalog search: index build time and query latency over a synthetic catalog.
    Search(search::SearchBenchArgs),
    /// Profiling plus ten rules on a people table vs DuckDB `SUMMARIZE` plus ten SQL checks.
    Quality(quality::QualityBenchArgs),
    /// Person linkage of two generated sources with known truth vs Splink (DuckDB backend).
    Link(link::LinkBenchArgs),
    /// An incremental fusion run over a batch of changed rows vs a full run, on a fused city.
    Fusion(fusion::FusionBenchArgs),
    /// The audit chain: appends with 16 writers on SQLite and PostgreSQL, and verifying 10M records.
    Audit(audit::AuditBenchArgs),
    /// Base-library lookups by key through a grant (gate, masking, audit) vs the gate bypassed.
    Share(share::ShareBenchArgs),
    /// A published lookup service (app key, grant, masking, audit) vs pgbench's indexed lookup
    /// and Datasette's canned query of the same rows; a verification of 10,000 records.
    Services(services::ServicesBenchArgs),
    /// Open data at 100,000 datasets: CKAN package_search (q + fq + facets; the harvester's
    /// worst page), `ckanapi dump datasets --all`, and the portal's pages under load.
    Open(open::OpenBenchArgs),
}

#[derive(Args)]
pub struct IngestBenchArgs {
    /// Rows in the generated people file.
    #[arg(long, default_value_t = 5_000_000)]
    pub rows: usize,
    /// Working directory (default: a temporary one, removed afterwards).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

#[derive(Args)]
pub struct HttpArgs {
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Seconds per measured round.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Alternating rounds per target (the best round counts).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

#[derive(Args)]
pub struct GenArgs {
    #[arg(long, default_value_t = 1_000_000)]
    pub people: usize,
    /// Output directory (default: a temporary one, removed afterwards).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

pub async fn run(cmd: BenchCommand, config: Config) -> Result<u8> {
    match cmd {
        BenchCommand::Http(a) => http(a).await,
        BenchCommand::Gen(a) => gen_city(a).await,
        BenchCommand::Ingest(a) => ingest(a).await,
        BenchCommand::Search(a) => tokio::task::spawn_blocking(move || search::run(a)).await?,
        BenchCommand::Quality(a) => quality::run(a).await,
        BenchCommand::Link(a) => tokio::task::spawn_blocking(move || link::run(a)).await?,
        BenchCommand::Fusion(a) => fusion::run(a, config).await,
        BenchCommand::Audit(a) => audit::run(a).await,
        BenchCommand::Share(a) => share::run(a, config).await,
        BenchCommand::Services(a) => services::run(a, config).await,
        BenchCommand::Open(a) => open::run(a, config).await,
    }
}

struct Round {
    requests: usize,
    errors: usize,
    secs: f64,
    p50_us: u64,
    p99_us: u64,
}

impl Round {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }
}

/// `connections` clients requesting for `secs` seconds, each request's URL from `url` by a
/// running number (`round` shifts where the clients start).
async fn load(
    url: impl Fn(usize) -> String + Clone + Send + 'static,
    key: Option<String>,
    connections: usize,
    secs: u64,
    round: usize,
) -> Result<Round> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (client, url, key) = (client.clone(), url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0usize;
            let mut n = (round * connections + c) * 7_919;
            while Instant::now() < deadline {
                let t = Instant::now();
                n += connections;
                let mut req = client.get(url(n));
                if let Some(k) = &key {
                    req = req.bearer_auth(k);
                }
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    _ => errors += 1,
                }
                lat.push(t.elapsed().as_micros() as u64);
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Ok(Round {
        requests: all.len(),
        errors,
        secs,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    })
}

/// One side of a side-by-side load test: its label, the URL of each request, its API key.
struct Side<F> {
    name: &'static str,
    url: F,
    key: Option<String>,
}

/// Alternating rounds of `first` and `second` with (connections, seconds, rounds); the best
/// round of each counts. Printed as a table whose first column is headed `heading`.
async fn duel<F, G>(
    heading: &str,
    first: Side<F>,
    second: Side<G>,
    (connections, seconds, rounds): (usize, u64, usize),
) -> Result<(Round, Round)>
where
    F: Fn(usize) -> String + Clone + Send + 'static,
    G: Fn(usize) -> String + Clone + Send + 'static,
{
    let (mut best_a, mut best_b): (Option<Round>, Option<Round>) = (None, None);
    for round in 0..rounds {
        let x = load(
            first.url.clone(),
            first.key.clone(),
            connections,
            seconds,
            round,
        )
        .await?;
        let y = load(
            second.url.clone(),
            second.key.clone(),
            connections,
            seconds,
            round,
        )
        .await?;
        if best_a.as_ref().is_none_or(|b| x.rps() > b.rps()) {
            best_a = Some(x);
        }
        if best_b.as_ref().is_none_or(|b| y.rps() > b.rps()) {
            best_b = Some(y);
        }
    }
    let (x, y) = (
        best_a.ok_or_else(|| anyhow!("no rounds"))?,
        best_b.ok_or_else(|| anyhow!("no rounds"))?,
    );
    println!(
        "{heading:<52} {:>9} {:>9} {:>8} {:>8} {:>7}",
        "requests", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, r) in [(first.name, &x), (second.name, &y)] {
        println!(
            "{name:<52} {:>9} {:>9.0} {:>8.3} {:>8.3} {:>7}",
            r.requests,
            r.rps(),
            r.p50_us as f64 / 1000.0,
            r.p99_us as f64 / 1000.0,
            r.errors
        );
    }
    Ok((x, y))
}

async fn http(a: HttpArgs) -> Result<u8> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("meta.db").display()
    ))
    .await?;
    let lake = yishu_lake::Lake::open(dir.path().join("lake").to_str().unwrap_or("lake"))?;
    let (_, user) = bench_org(&store, Role::Consumer).await?;
    let key = store.create_api_key(user.id, "bench", None).await?.secret;

    let yl = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let yaddr = yl.local_addr()?;
    let search = yishu_server::open_search(None, &store).await?;
    let state =
        yishu_server::AppState::new(store, lake, search, yishu_server::ServerConfig::default());
    tokio::spawn(yishu_server::serve(yl, state, std::future::pending()));
    let bl = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let baddr = bl.local_addr()?;
    let bare = axum::Router::new().route("/", axum::routing::get(|| async { "{\"ok\":true}" }));
    tokio::spawn(async move { axum::serve(bl, bare).await });

    let yurl = format!("http://{yaddr}/api/v1/me");
    let check = reqwest::Client::new()
        .get(&yurl)
        .bearer_auth(&key)
        .send()
        .await?;
    if !check.status().is_success() {
        bail!("GET /api/v1/me answered {}", check.status());
    }
    println!(
        "bench http: {} connections, {} s rounds, best of {} alternating rounds, loopback, {} cores",
        a.connections,
        a.seconds,
        a.rounds,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let bare = format!("http://{baddr}/");
    let (b, y) = duel(
        "target",
        Side {
            name: "bare axum handler (constant)",
            url: move |_| bare.clone(),
            key: None,
        },
        Side {
            name: "yishu GET /api/v1/me (API key)",
            url: move |_| yurl.clone(),
            key: Some(key.clone()),
        },
        (a.connections, a.seconds, a.rounds),
    )
    .await?;
    println!(
        "ratio yishu/bare throughput: {:.2} (target ≥ 0.50); yishu p99 {:.3} ms (target < 5 ms)",
        y.rps() / b.rps(),
        y.p99_us as f64 / 1000.0
    );
    Ok(crate::exit::OK)
}

/// Installs DuckDB from PyPI when Python cannot import it (the peer is not vendored).
pub(crate) fn ensure_duckdb() -> Result<()> {
    ensure_python_package("duckdb", "duckdb")
}

/// Installs a Python package from PyPI for a comparison when `import module` fails.
pub(crate) fn ensure_python_package(module: &str, package: &str) -> Result<()> {
    let has = |py: &str| {
        std::process::Command::new(py)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has("python3") {
        return Ok(());
    }
    eprintln!("installing {package} from PyPI for the comparison…");
    for extra in [&[][..], &["--break-system-packages"][..]] {
        let ok = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", package])
            .args(extra)
            .status()
            .is_ok_and(|s| s.success());
        if ok && has("python3") {
            return Ok(());
        }
    }
    bail!("cannot install {package} (python3 -m pip install {package}) for the comparison")
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn gen_city(a: GenArgs) -> Result<u8> {
    let tmp = tempfile::tempdir()?;
    let out = a.out.unwrap_or_else(|| tmp.path().to_path_buf());
    let args = yishu_gen::CityArgs {
        people: a.people,
        seed: 42,
        out,
        problem_rate: 0.02,
    };
    let s = yishu_gen::generate_city(&args, &mut yishu_gen::TermProgress::new()).await?;
    let rows: usize = s.files.iter().map(|f| f.1).sum();
    println!("{s}");
    println!(
        "bench gen: {} people, {} department rows in {:.1} s: {:.0} people/s, {:.0} rows/s, peak RSS {:.0} MiB",
        a.people,
        rows,
        s.seconds,
        a.people as f64 / s.seconds,
        rows as f64 / s.seconds,
        peak_rss_mib().unwrap_or(f64::NAN)
    );
    Ok(crate::exit::OK)
}

/// The people file's header (12 items).
pub(crate) const PEOPLE_HEADER: &str = "公民身份号码,姓名,性别,民族,出生日期,婚姻状况,住址,行政区划代码,联系电话,工作单位,登记日期,备注";

/// Creates a metadata store under `data` with one org, an admin, and a draft resource per
/// `(name, comma-separated items)` (`name:D` gives an item a type other than text); returns the
/// resources' codes.
pub(crate) async fn bench_resources(
    data: &std::path::Path,
    resources: &[(&str, &str)],
) -> Result<Vec<String>> {
    use yishu_meta::catalog::*;
    std::fs::create_dir_all(data)?;
    let store = Store::open(&format!("sqlite://{}", data.join("meta.db").display())).await?;
    let (org, u) = bench_org(&store, Role::Admin).await?;
    let by = Actor {
        user: u.id,
        org: org.id,
        roles: &[Role::Admin],
    };
    let mut codes = Vec::new();
    for (n, (name, items)) in resources.iter().enumerate() {
        let items: Vec<Item> = items
            .split(',')
            .map(|n| n.split_once(':').unwrap_or((n, "C")))
            .map(|(n, t)| Item {
                name: n.into(),
                item_type: t.into(),
                length: None,
                data_element: None,
                description: String::new(),
            })
            .collect();
        let d = ResourceDraft {
            class_kind: ClassKind::Department,
            class_path: format!("0100100{}", n + 1),
            name: name.to_string(),
            provider_org_id: org.id,
            summary: "基准".into(),
            format: ResourceFormat::Database,
            share_type: ShareType::Unconditional,
            share_condition: String::new(),
            open_type: OpenType::Never,
            open_condition: String::new(),
            update_cycle: UpdateCycle::Daily,
            related_codes: vec![],
            extended: Extended::default(),
            items,
        };
        codes.push(store.create_resource(&d, &by).await?.code);
    }
    store.close().await;
    Ok(codes)
}

/// Writes a people CSV of `rows` rows and 12 columns (Chinese names, IDs, dates, addresses) in
/// UTF-8 and in GBK; returns the two paths and the UTF-8 size in bytes.
pub(crate) fn people_csv(
    dir: &std::path::Path,
    rows: usize,
) -> Result<(std::path::PathBuf, std::path::PathBuf, u64)> {
    use rand::{Rng, SeedableRng};
    use std::io::Write;
    const HEADER: &str = PEOPLE_HEADER;
    let utf8 = dir.join("people.csv");
    let gbk = dir.join("people_gbk.csv");
    let mut wu = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&utf8)?);
    let mut wg = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&gbk)?);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"];
    let given = [
        "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超",
    ];
    let roads = [
        "人民南路",
        "天府大道",
        "蜀都大道",
        "春熙路",
        "建设路",
        "红星路",
    ];
    let mut line = String::with_capacity(256);
    let (h, _, _) = encoding_rs::GBK.encode(HEADER);
    writeln!(wu, "{HEADER}")?;
    wg.write_all(&h)?;
    wg.write_all(b"\n")?;
    for i in 0..rows {
        line.clear();
        let y = rng.random_range(1940..2020);
        let (m, d) = (rng.random_range(1..13), rng.random_range(1..29));
        let body = format!("510107{y:04}{m:02}{d:02}{:03}", i % 1000);
        let id = format!(
            "{body}{}",
            yishu_types::citizen_id::check_char(body.as_bytes())
        );
        use std::fmt::Write as _;
        let _ = writeln!(
            line,
            "{id},{}{}{},{},01,{y:04}-{m:02}-{d:02},20,四川省成都市武侯区{}{}号,510107,138{:08},成都市第{}有限公司,2024-0{}-1{},无",
            surnames[i % 10],
            given[i % 15],
            given[(i / 15) % 15],
            1 + i % 2,
            roads[i % 6],
            i % 500,
            i % 100_000_000,
            i % 900,
            1 + i % 9,
            i % 10
        );
        wu.write_all(line.as_bytes())?;
        let (g, _, _) = encoding_rs::GBK.encode(&line);
        wg.write_all(&g)?;
    }
    wu.flush()?;
    wg.flush()?;
    let size = std::fs::metadata(&utf8)?.len();
    Ok((utf8, gbk, size))
}

/// Runs `yishu ingest` as a child process and returns (seconds, peak RSS MiB, its output).
pub(crate) fn timed_ingest(
    data: &std::path::Path,
    file: &std::path::Path,
    code: &str,
) -> Result<(f64, f64, String)> {
    let t = Instant::now();
    let out = std::process::Command::new(std::env::current_exe()?)
        .args([
            "ingest",
            file.to_str().unwrap_or_default(),
            "--resource",
            code,
        ])
        .env("YISHU_DATA_DIR", data)
        .env("YISHU_PRINT_PEAK_RSS", "1")
        .output()?;
    let secs = t.elapsed().as_secs_f64();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("yishu ingest failed: {text}");
    }
    let rss = text
        .lines()
        .find_map(|l| l.strip_prefix("peak RSS MiB: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN);
    Ok((secs, rss, text))
}

async fn ingest(a: IngestBenchArgs) -> Result<u8> {
    let tmp = tempfile::tempdir()?;
    let dir = a.dir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    eprintln!("writing {} rows (UTF-8 and GBK)…", a.rows);
    let (utf8, gbk, size) = people_csv(&dir, a.rows)?;
    // A catalog entry whose items are the file's columns.
    let data = dir.join("data");
    let codes = bench_resources(
        &data,
        &[("基准人口1", PEOPLE_HEADER), ("基准人口2", PEOPLE_HEADER)],
    )
    .await?;
    ensure_duckdb()?;
    let (ys, yrss, _) = timed_ingest(&data, &utf8, &codes[0])?;
    let (gs, grss, _) = timed_ingest(&data, &gbk, &codes[1])?;
    let duck = {
        let sql = format!(
            "COPY (SELECT * FROM read_csv('{}')) TO '{}' (FORMAT parquet)",
            utf8.display(),
            dir.join("duck.parquet").display()
        );
        let t = Instant::now();
        let out = std::process::Command::new("python3")
            .args(["-c", &format!("import duckdb; duckdb.sql(\"{sql}\")")])
            .output()?;
        if !out.status.success() {
            bail!(
                "DuckDB failed (pip install duckdb): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        t.elapsed().as_secs_f64()
    };
    let rows = a.rows as f64;
    println!(
        "bench ingest: {} rows, {:.0} MB UTF-8, {} cores",
        a.rows,
        size as f64 / 1e6,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "{:<52} {:>9} {:>12} {:>10}",
        "run", "seconds", "rows/s", "peak MiB"
    );
    println!(
        "{:<52} {:>9.2} {:>12.0} {:>10}",
        "DuckDB COPY (SELECT * FROM read_csv) TO parquet",
        duck,
        rows / duck,
        "-"
    );
    println!(
        "{:<52} {:>9.2} {:>12.0} {:>10.0}",
        "yishu ingest UTF-8 → ods Delta (batch, lineage)",
        ys,
        rows / ys,
        yrss
    );
    println!(
        "{:<52} {:>9.2} {:>12.0} {:>10.0}",
        "yishu ingest GBK → ods Delta",
        gs,
        rows / gs,
        grss
    );
    println!(
        "ratio yishu/DuckDB rows/s (UTF-8): {:.2} (target ≥ 1.0); GBK/UTF-8: {:.2}; peak memory target < 1024 MiB",
        duck / ys,
        ys / gs
    );
    Ok(crate::exit::OK)
}

/// The benchmark's organisation and its one user, with `role`.
async fn bench_org(store: &Store, role: Role) -> Result<(yishu_meta::Org, yishu_meta::User)> {
    let org = store
        .create_org(&NewOrg {
            code: "B".into(),
            name: "基准".into(),
            level: Some(OrgLevel::City),
            ..Default::default()
        })
        .await?;
    let user = store
        .create_user(&NewUser {
            name: "bench".into(),
            display_name: None,
            org_id: org.id,
            password: yishu_gen::city::setup::random_password(),
            roles: vec![role],
        })
        .await?;
    Ok((org, user))
}
