//! `yishu bench …`: benchmarks that print a table, this project against a named peer in the same
//! run. They are commands, not timed tests.

use crate::config::Config;
use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use std::time::{Duration, Instant};
use yishu_meta::{NewOrg, NewUser, OrgLevel, Store};
use yishu_types::Role;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Authenticated `GET /api/v1/me` with an API key vs a bare axum handler returning a constant.
    Http(HttpArgs),
    /// `gen city` throughput and peak memory.
    Gen(GenArgs),
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

pub async fn run(cmd: BenchCommand, _config: Config) -> Result<u8> {
    match cmd {
        BenchCommand::Http(a) => http(a).await,
        BenchCommand::Gen(a) => gen_city(a).await,
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

async fn load(url: String, key: Option<String>, connections: usize, secs: u64) -> Result<Round> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, url, key) = (client.clone(), url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let t = Instant::now();
                let mut req = client.get(&url);
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

async fn http(a: HttpArgs) -> Result<u8> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("meta.db").display()
    ))
    .await
    .map_err(|e| anyhow!(e))?;
    let lake = yishu_lake::Lake::open(dir.path().join("lake").to_str().unwrap_or("lake"))
        .map_err(|e| anyhow!(e))?;
    let org = store
        .create_org(&NewOrg {
            code: "B".into(),
            name: "基准".into(),
            level: Some(OrgLevel::City),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!(e))?;
    let user = store
        .create_user(&NewUser {
            name: "bench".into(),
            display_name: None,
            org_id: org.id,
            password: crate::demo::random_password(),
            roles: vec![Role::Consumer],
        })
        .await
        .map_err(|e| anyhow!(e))?;
    let key = store
        .create_api_key(user.id, "bench", None)
        .await
        .map_err(|e| anyhow!(e))?
        .secret;

    let yl = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let yaddr = yl.local_addr()?;
    let state = yishu_server::AppState::new(store, lake, yishu_server::ServerConfig::default());
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
    let (mut best_bare, mut best_yishu): (Option<Round>, Option<Round>) = (None, None);
    for _ in 0..a.rounds {
        let b = load(format!("http://{baddr}/"), None, a.connections, a.seconds).await?;
        let y = load(yurl.clone(), Some(key.clone()), a.connections, a.seconds).await?;
        if best_bare.as_ref().is_none_or(|x| b.rps() > x.rps()) {
            best_bare = Some(b);
        }
        if best_yishu.as_ref().is_none_or(|x| y.rps() > x.rps()) {
            best_yishu = Some(y);
        }
    }
    let (b, y) = (
        best_bare.ok_or_else(|| anyhow!("no rounds"))?,
        best_yishu.ok_or_else(|| anyhow!("no rounds"))?,
    );
    println!(
        "{:<42} {:>10} {:>10} {:>9} {:>9} {:>7}",
        "target", "requests", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, r) in [
        ("bare axum handler (constant)", &b),
        ("yishu GET /api/v1/me (API key)", &y),
    ] {
        println!(
            "{name:<42} {:>10} {:>10.0} {:>9.3} {:>9.3} {:>7}",
            r.requests,
            r.rps(),
            r.p50_us as f64 / 1000.0,
            r.p99_us as f64 / 1000.0,
            r.errors
        );
    }
    println!(
        "ratio yishu/bare throughput: {:.2} (target ≥ 0.50); yishu p99 {:.3} ms (target < 5 ms)",
        y.rps() / b.rps(),
        y.p99_us as f64 / 1000.0
    );
    Ok(crate::exit::OK)
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
    let s = yishu_gen::generate_city(&args, &mut yishu_gen::TermProgress::new())
        .await
        .map_err(|e| anyhow!(e))?;
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
