//! `yishu bench services`: a published data service looking one person up by 公民身份号码 in
//! the population library of a fused city (`yishu demo --people N --no-serve --data-dir DIR`),
//! called by a consumer app through its grant (masking and the read audit on), side by side
//! in one run with PostgreSQL's own indexed lookup of the same rows (pgbench, custom script)
//! and Datasette (PyPI) serving them from SQLite with a canned query; then one verification
//! call of 10,000 records.

use super::share::{fused_city, sample_keys};
use super::{Round, load};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use yishu_lake::Layer;
use yishu_meta::app::AppDraft;
use yishu_meta::service::{Param, ServiceDraft, ServiceStatus};
use yishu_meta::{Store, now_ms};
use yishu_share::application::{Apply, Decision, Workflow};
use yishu_share::service::{self, param::Given};

#[derive(Args)]
pub struct ServicesBenchArgs {
    /// The data directory of a fused city (the demo's `--data-dir`).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Concurrent connections (HTTP clients, pgbench clients).
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Seconds per measured round.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Rounds per side, alternating (the best round of each counts).
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// Distinct people looked up, spread over the library.
    #[arg(long, default_value_t = 20_000)]
    pub keys: usize,
    /// PostgreSQL for the pgbench side (host, port, user; trust auth), its database.
    #[arg(long, default_value = "127.0.0.1")]
    pub pg_host: String,
    #[arg(long, default_value_t = 5432)]
    pub pg_port: u16,
    #[arg(long, default_value = "postgres")]
    pub pg_user: String,
    #[arg(long, default_value = "test")]
    pub pg_db: String,
    /// Leave Datasette out (it is installed from PyPI when missing).
    #[arg(long)]
    pub no_datasette: bool,
}

const SERVICE: &str = "bench-marriage-status";
const NAME: &str = "姓名";
const MARITAL: &str = "婚姻状况";

/// The service every call asks: two items of one person by key.
fn draft() -> ServiceDraft {
    ServiceDraft {
        name: SERVICE.into(),
        title: "基准测试：婚姻状况查询".into(),
        description: "yishu bench services".into(),
        sql: format!("SELECT {NAME}, {MARITAL} FROM base.population WHERE subject_key = :id"),
        params: vec![Param::citizen_number("id")],
        steps: Vec::new(),
        row_cap: 10,
        timeout_ms: 5_000,
    }
}

/// The bench service published (once per data directory), a grant of it to the consumer's
/// department with the name masked and limits no benchmark reaches, and a key of a new app of
/// that department allowed from loopback: what every yishu call goes through.
async fn published_and_granted(
    store: &Store,
    lake: &yishu_lake::Lake,
    key: &str,
) -> Result<String> {
    let manager = store.acting_as("manager").await?;
    let reviewer = store.acting_as("reviewer").await?;
    let consumer = store.acting_as("consumer").await?;
    let exists = store
        .services()
        .await?
        .into_iter()
        .any(|s| s.name == SERVICE && s.status == ServiceStatus::Published);
    if !exists {
        let mut given = Given::default();
        given.query.insert("id".into(), key.to_string());
        let s = service::define(store, lake, &manager, &draft()).await?;
        let (s, _) = service::test(store, lake, &manager, s.id, &given).await?;
        service::review(store, &reviewer, s.id, true, "基准测试").await?;
        service::publish(store, &manager, s.id).await?;
    }
    grant(
        store,
        lake,
        &format!("service:{SERVICE}"),
        &[NAME, MARITAL],
        &[(NAME, "partial")],
    )
    .await?;
    let app = store
        .create_app(
            consumer.org_id,
            consumer.user_id,
            &AppDraft {
                name: format!("bench {}", now_ms()),
                description: "yishu bench services".into(),
                ip_allow: vec!["127.0.0.0/8".into()],
                per_minute: 0,
            },
        )
        .await?;
    Ok(store
        .create_app_key(app.id, consumer.user_id, "bench", None)
        .await?
        .secret)
}

/// Grants `target`'s `items` to the consumer's department (the name partly masked, limits no
/// benchmark reaches).
async fn grant(
    store: &Store,
    lake: &yishu_lake::Lake,
    target: &str,
    items: &[&str],
    masks: &[(&str, &str)],
) -> Result<i64> {
    let flow = Workflow::new(store, lake);
    let consumer = store.acting_as("consumer").await?;
    let manager = store.acting_as("manager").await?;
    let now = now_ms();
    let applied = flow
        .apply(
            &consumer,
            &Apply {
                target: target.into(),
                items: items.iter().map(|s| s.to_string()).collect(),
                purpose: "基准测试".into(),
                legal_basis: "yishu bench services".into(),
                scenario: "基准测试".into(),
                period_from: now,
                period_to: now + 86_400_000,
                expected_volume: "按需".into(),
                contact: "bench".into(),
            },
            now,
        )
        .await?;
    let decided = flow
        .provider_decide(
            &manager,
            applied.id,
            &Decision {
                approve: true,
                reason: "基准测试".into(),
                masks: masks
                    .iter()
                    .map(|(i, m)| (i.to_string(), m.to_string()))
                    .collect(),
                per_minute: Some(i64::MAX / 2),
                rows_per_day: Some(i64::MAX / 2),
                ..Default::default()
            },
            now,
        )
        .await?;
    decided
        .grant_id
        .ok_or_else(|| anyhow!("the bench application for {target} was not granted"))
}

/// The library's (key, name, marital status) rows as CSV at `path` — what the peers load.
async fn export(lake: &yishu_lake::Lake, path: &Path) -> Result<usize> {
    let frame = lake
        .frame(Layer::Base, "population")
        .await?
        .ok_or_else(|| anyhow!("the city has no population base library"))?;
    let batches = frame
        .select_columns(&["subject_key", NAME, MARITAL])?
        .collect()
        .await?;
    let mut w = csv::Writer::from_path(path)?;
    let mut n = 0;
    for b in &batches {
        for row in yishu_lake::text_rows(b) {
            w.write_record(&row)?;
            n += 1;
        }
    }
    w.flush()?;
    Ok(n)
}

fn run_ok(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// PostgreSQL's side: the rows and the sampled keys in tables with their indexes, and a
/// pgbench script looking one person up by 公民身份号码 (found through the sampled key's number).
struct Postgres<'a> {
    a: &'a ServicesBenchArgs,
}

impl Postgres<'_> {
    fn psql(&self) -> Command {
        let mut c = Command::new("psql");
        c.args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            &self.a.pg_host,
            "-p",
            &self.a.pg_port.to_string(),
            "-U",
            &self.a.pg_user,
            "-d",
            &self.a.pg_db,
        ]);
        c
    }

    fn load(&self, rows: &Path, keys: &Path) -> Result<()> {
        let script = format!(
            "DROP TABLE IF EXISTS bench_population, bench_keys;\n\
             CREATE TABLE bench_population (idno text PRIMARY KEY, name text, marital text);\n\
             \\copy bench_population FROM '{}' WITH (FORMAT csv)\n\
             CREATE TABLE bench_keys (seq int PRIMARY KEY, idno text NOT NULL);\n\
             \\copy bench_keys FROM '{}' WITH (FORMAT csv)\n\
             ANALYZE bench_population; ANALYZE bench_keys;\n",
            rows.display(),
            keys.display()
        );
        let mut c = self.psql();
        c.stdin(Stdio::piped());
        let mut child = c
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run psql (PostgreSQL's client) for the pgbench side")?;
        use std::io::Write;
        child
            .stdin
            .take()
            .ok_or_else(|| anyhow!("psql has no stdin"))?
            .write_all(script.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "loading PostgreSQL failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// One pgbench round: throughput from its report, percentiles from its transaction log.
    fn round(&self, script: &Path, dir: &Path, round: usize) -> Result<Round> {
        let prefix = dir.join(format!("pgbench-{round}"));
        let started = Instant::now();
        let out = run_ok(
            Command::new("pgbench")
                .args([
                    "-n",
                    "-h",
                    &self.a.pg_host,
                    "-p",
                    &self.a.pg_port.to_string(),
                    "-U",
                    &self.a.pg_user,
                    "-c",
                    &self.a.connections.to_string(),
                    "-j",
                    "2",
                    "-T",
                    &self.a.seconds.to_string(),
                    "-l",
                    "--log-prefix",
                ])
                .arg(&prefix)
                .arg("-f")
                .arg(script)
                .arg(&self.a.pg_db),
            "pgbench",
        )?;
        let secs = started.elapsed().as_secs_f64();
        let tps: f64 = out
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| anyhow!("pgbench printed no tps: {out}"))?;
        let failed: usize = out
            .lines()
            .find_map(|l| l.strip_prefix("number of failed transactions: "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        // Each log line: client, transaction, latency in µs, …
        let mut lat = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            let own = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("pgbench-{round}.")));
            if own {
                for line in std::fs::read_to_string(&p)?.lines() {
                    if let Some(us) = line.split(' ').nth(2).and_then(|v| v.parse::<u64>().ok()) {
                        lat.push(us);
                    }
                }
                std::fs::remove_file(&p)?;
            }
        }
        lat.sort_unstable();
        let pct = |q: f64| {
            lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        // pgbench's own tps excludes connecting; its count over the measured time.
        let requests = (tps * self.a.seconds as f64) as usize;
        let _ = secs;
        Ok(Round {
            requests,
            errors: failed,
            secs: self.a.seconds as f64,
            p50_us: pct(0.50),
            p99_us: pct(0.99),
        })
    }
}

/// Datasette serving the rows from SQLite with a canned query; killed when dropped.
struct Datasette(std::process::Child);

impl Drop for Datasette {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Datasette {
    async fn start(rows: &Path, dir: &Path) -> Result<(Datasette, String)> {
        super::ensure_python_package("datasette", "datasette")?;
        let db = dir.join("bench.db");
        let load = format!(
            "import csv, sqlite3\n\
             c = sqlite3.connect({db:?})\n\
             c.execute('CREATE TABLE population (idno TEXT PRIMARY KEY, 姓名 TEXT, 婚姻状况 TEXT)')\n\
             c.executemany('INSERT INTO population VALUES (?, ?, ?)', csv.reader(open({rows:?}, encoding='utf-8')))\n\
             c.commit()\n",
            db = db.display().to_string(),
            rows = rows.display().to_string()
        );
        run_ok(
            Command::new("python3").args(["-c", &load]),
            "loading SQLite for Datasette",
        )?;
        let meta = dir.join("metadata.json");
        std::fs::write(
            &meta,
            serde_json::json!({"databases": {"bench": {"queries": {"lookup": {
                "sql": "SELECT 姓名, 婚姻状况 FROM population WHERE idno = :id"}}}}})
            .to_string(),
        )?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("python3")
            .args(["-m", "datasette", "serve"])
            .arg(&db)
            .arg("-m")
            .arg(&meta)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start Datasette")?;
        let d = Datasette(child);
        let base = format!("http://127.0.0.1:{port}/bench/lookup.json?_shape=array&id=");
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client
                .get(format!("{base}0"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok((d, base));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!("Datasette did not answer on port {port}")
    }
}

fn print_row(name: &str, r: &Round) {
    println!(
        "{name:<58} {:>9} {:>9.0} {:>8.3} {:>8.3} {:>7}",
        r.requests,
        r.rps(),
        r.p50_us as f64 / 1000.0,
        r.p99_us as f64 / 1000.0,
        r.errors
    );
}

fn better(best: &mut Option<Round>, r: Round) {
    if best.as_ref().is_none_or(|b| r.rps() > b.rps()) {
        *best = Some(r);
    }
}

pub async fn run(a: ServicesBenchArgs, config: crate::config::Config) -> Result<u8> {
    let (store, lake) = fused_city(&a.data_dir, config).await?;
    let keys = sample_keys(&lake, a.keys).await?;
    let app_key = published_and_granted(&store, &lake, &keys[0]).await?;
    let tmp = tempfile::tempdir()?;
    let rows_csv = tmp.path().join("population.csv");
    let rows = export(&lake, &rows_csv).await?;
    let keys_csv = tmp.path().join("keys.csv");
    let mut w = csv::Writer::from_path(&keys_csv)?;
    for (i, k) in keys.iter().enumerate() {
        w.write_record([i.to_string(), k.clone()])?;
    }
    w.flush()?;

    // The city's own subscriptions (the demo's) would deliver beside the measured rounds.
    for sub in store.subscriptions(None).await? {
        if sub.status == "active" {
            store
                .set_subscription_status(sub.id, false, "paused by yishu bench services")
                .await?;
        }
    }
    let search = yishu_server::open_search(None, &store).await?;
    let state = yishu_server::AppState::new(
        store.clone(),
        lake.clone(),
        search,
        yishu_server::ServerConfig {
            // The subscription delivers into the bench's PostgreSQL.
            outbound: yishu_ingest::outbound::Outbound::new(&[a.pg_host.as_str()])?,
            // The bench delivers its subscription itself, timed; the scheduler stays out.
            scheduler_tick: std::time::Duration::from_secs(86_400),
            ..Default::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    tokio::spawn(yishu_server::serve(
        listener,
        state.clone(),
        std::future::pending(),
    ));
    let base = format!("http://{addr}/api/v1/services/{SERVICE}/v1?id=");
    let probe = reqwest::Client::new()
        .get(format!("{base}{}", keys[0]))
        .bearer_auth(&app_key)
        .send()
        .await?;
    let status = probe.status();
    let body: serde_json::Value = probe.json().await.unwrap_or_default();
    if !status.is_success() || body["rows"].as_array().map(Vec::len) != Some(1) {
        bail!("the service did not answer before the bench: {status} {body}");
    }

    let pg = Postgres { a: &a };
    pg.load(&rows_csv, &keys_csv)?;
    let script = tmp.path().join("lookup.sql");
    std::fs::write(
        &script,
        format!(
            "\\set n random(0, {})\n\
             SELECT p.name, p.marital FROM bench_population p WHERE p.idno = (SELECT k.idno FROM bench_keys k WHERE k.seq = :n);\n",
            keys.len() - 1
        ),
    )?;
    let datasette = if a.no_datasette {
        None
    } else {
        Some(Datasette::start(&rows_csv, tmp.path()).await?)
    };

    println!(
        "bench services: base.population ({rows} people, {} keys looked up), {} connections, {} s rounds, best of {} alternating rounds, loopback, {} cores",
        keys.len(),
        a.connections,
        a.seconds,
        a.rounds,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let (mut ys, mut ps, mut ds) = (None, None, None);
    for round in 0..a.rounds {
        let (b, k) = (base.clone(), keys.clone());
        let url = move |i: usize| format!("{b}{}", k[i % k.len()]);
        better(
            &mut ys,
            load(url, Some(app_key.clone()), a.connections, a.seconds, round).await?,
        );
        better(&mut ps, pg.round(&script, tmp.path(), round)?);
        if let Some((_, dbase)) = &datasette {
            let (b, k) = (dbase.clone(), keys.clone());
            let url = move |i: usize| format!("{b}{}", k[i % k.len()]);
            better(
                &mut ds,
                load(url, None, a.connections, a.seconds, round).await?,
            );
        }
    }
    println!(
        "{:<58} {:>9} {:>9} {:>8} {:>8} {:>7}",
        "lookup by 公民身份号码", "requests", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let y = ys.ok_or_else(|| anyhow!("no rounds"))?;
    let p = ps.ok_or_else(|| anyhow!("no rounds"))?;
    print_row("yishu service (app key, grant, mask, audit; HTTP)", &y);
    print_row("PostgreSQL indexed lookup (pgbench, custom script)", &p);
    if let Some(d) = &ds {
        print_row("Datasette canned query on SQLite (HTTP)", d);
    }
    println!(
        "PostgREST: not measured — no package of its server in the registries this machine reaches (Debian, PyPI, npm)"
    );
    println!(
        "yishu/PostgreSQL throughput: {:.2} (target ≥ 0.50); yishu p99 {:.2} ms (target ≤ 10 ms)",
        y.rps() / p.rps(),
        y.p99_us as f64 / 1000.0
    );
    if let Some(d) = &ds {
        println!(
            "yishu/Datasette throughput: {:.2} (target ≥ 2)",
            y.rps() / d.rps()
        );
    }
    drop(datasette);

    verification(&store, &lake, addr, &app_key, &rows_csv, &keys).await?;
    subscription(&a, &state, &rows_csv, rows).await?;
    Ok(crate::exit::OK)
}

/// One verification call of 10,000 records (every tenth with a wrong name), timed over five
/// calls; the answer's counts are checked against what was sent.
async fn verification(
    store: &Store,
    lake: &yishu_lake::Lake,
    addr: SocketAddr,
    app_key: &str,
    rows_csv: &Path,
    keys: &[String],
) -> Result<()> {
    grant(
        store,
        lake,
        "verify:population",
        &[NAME],
        &[(NAME, "partial")],
    )
    .await?;
    let wanted: std::collections::HashSet<&str> =
        keys.iter().take(10_000).map(String::as_str).collect();
    let mut names = std::collections::HashMap::new();
    for r in csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(rows_csv)?
        .records()
    {
        let r = r?;
        if wanted.contains(&r[0]) {
            names.insert(r[0].to_string(), r[1].to_string());
        }
    }
    let mut wrong = 0;
    let records: Vec<serde_json::Value> = keys
        .iter()
        .take(10_000)
        .enumerate()
        .map(|(i, k)| {
            let mut name = names.get(k).cloned().unwrap_or_default();
            if i % 10 == 0 {
                name.push('某');
                wrong += 1;
            }
            serde_json::json!({"key": k, "items": {NAME: name}})
        })
        .collect();
    let body = serde_json::json!({ "records": records });
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/v1/verifications/population");
    let mut times = Vec::new();
    let mut last = serde_json::Value::Null;
    for _ in 0..5 {
        let t = Instant::now();
        let r = client
            .post(&url)
            .bearer_auth(app_key)
            .json(&body)
            .send()
            .await?;
        let status = r.status();
        last = r.json().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if !status.is_success() {
            bail!("the verification failed: {status} {last}");
        }
    }
    times.sort_by(f64::total_cmp);
    let mismatched = last["tally"][NAME]["mismatched"].as_u64().unwrap_or(0);
    println!(
        "verification: {} records in one call, median {:.0} ms, best {:.0} ms (target < 1,000 ms); found {}, name mismatches {mismatched} (sent {wrong} wrong)",
        records.len(),
        times[times.len() / 2],
        times[0],
        last["found"]
    );
    if mismatched != wrong as u64 {
        bail!("the verification counted {mismatched} mismatches, {wrong} were sent");
    }
    Ok(())
}

/// A subscription of the whole population library into PostgreSQL (its first delivery: every
/// row, through the gate, masked, audited, by COPY in one transaction), timed against
/// PostgreSQL's own `\copy` of the same number of rows from a CSV file.
async fn subscription(
    a: &ServicesBenchArgs,
    state: &yishu_server::AppState,
    rows_csv: &Path,
    rows: usize,
) -> Result<()> {
    let (store, lake) = (&state.store, &state.lake);
    let grant_id = grant(
        store,
        lake,
        "base:population",
        &["subject_key", NAME, MARITAL],
        &[
            ("subject_key", "partial"),
            (NAME, "partial"),
            (MARITAL, "keep"),
        ],
    )
    .await?;
    let pg = Postgres { a };
    run_ok(
        pg.psql().args([
            "-c",
            "DROP TABLE IF EXISTS bench_subscription, bench_copy; CREATE TABLE bench_copy (a text, b text, c text, d text)",
        ]),
        "psql",
    )?;
    let consumer = store.acting_as("consumer").await?;
    let url = format!(
        "postgres://{}@{}:{}/{}",
        a.pg_user, a.pg_host, a.pg_port, a.pg_db
    );
    let sub = store
        .create_subscription(
            consumer.org_id,
            consumer.user_id,
            &yishu_meta::subscription::SubscriptionDraft {
                grant_id,
                name: format!("bench-{}", now_ms()),
                destination: serde_json::json!({"kind": "database", "url": url, "table": "bench_subscription"}),
                every_minutes: yishu_meta::subscription::MAX_EVERY,
            },
        )
        .await?;
    let t = Instant::now();
    let d = yishu_server::app::subscriptions::deliver(state, &sub, true).await?;
    let ours = t.elapsed().as_secs_f64();
    let delivered = run_ok(
        pg.psql()
            .args(["-tA", "-c", "SELECT count(*) FROM bench_subscription"]),
        "psql",
    )?;
    if delivered.trim() != d.rows.to_string() || d.rows as usize != rows {
        bail!(
            "the subscription reported {} rows, the table holds {}, the library {rows}",
            d.rows,
            delivered.trim()
        );
    }
    // The peer: PostgreSQL's own COPY of as many rows (one more column: the key).
    let keyed = rows_csv.with_extension("keyed.csv");
    {
        let mut w = csv::Writer::from_path(&keyed)?;
        for (i, r) in csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(rows_csv)?
            .records()
            .enumerate()
        {
            let r = r?;
            w.write_record([&format!("{i:016x}"), &r[0], &r[1], &r[2]])?;
        }
        w.flush()?;
    }
    let t = Instant::now();
    run_ok(
        pg.psql().args([
            "-c",
            &format!(
                "\\copy bench_copy FROM '{}' WITH (FORMAT csv)",
                keyed.display()
            ),
        ]),
        "psql \\copy",
    )?;
    let theirs = t.elapsed().as_secs_f64();
    println!(
        "subscription delivery into PostgreSQL: {} rows in {ours:.2} s = {:.0} rows/s (target ≥ 100,000); PostgreSQL's own \\copy of a CSV of as many rows: {theirs:.2} s = {:.0} rows/s; ratio {:.2}",
        d.rows,
        d.rows as f64 / ours,
        rows as f64 / theirs,
        theirs / ours
    );
    Ok(())
}
