//! `yishu bench share`: key lookups in the population base library over HTTP — through a grant
//! (the gate's plan, masking and a read-audit record each) against the same lookups by the
//! bureau's data manager with the gate bypassed, on a route this benchmark adds to its own
//! server and that the product does not have — on a fused city
//! (`yishu demo --people N --no-serve --data-dir DIR`).

use super::{Side, duel};
use anyhow::{Result, anyhow, bail};
use axum::Json;
use axum::extract::{Path, Query, State};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use yishu_fusion::library::{self, Row};
use yishu_lake::Layer;
use yishu_meta::{Principal, Store, now_ms};
use yishu_server::AppState;
use yishu_server::auth::{Auth, SignedIn};
use yishu_server::error::ApiResult;
use yishu_share::application::{Apply, Decision, Workflow};
use yishu_share::audit::{self, Channel};
use yishu_share::{ReadRequest, gate, masker_for};

#[derive(Args)]
pub struct ShareBenchArgs {
    /// The data directory of a fused city (the demo's `--data-dir`).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Seconds per measured round.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Alternating rounds per side (the best round of each counts).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Distinct subjects looked up, spread over the library.
    #[arg(long, default_value_t = 20_000)]
    pub keys: usize,
}

#[derive(serde::Deserialize)]
struct Find {
    q: Option<String>,
}

/// The bypass: the same authentication and the same lookup by key as `GET /api/v1/base/{kind}`,
/// without plan, masking or audit record.
async fn bypass(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
    Path(kind): Path<String>,
    Query(q): Query<Find>,
) -> ApiResult<Json<Vec<Row>>> {
    let kind = yishu_server::app::base::kind_of(&kind)?;
    let q = q.q.unwrap_or_default();
    Ok(Json(library::find(&s.lake, kind, &q, 50, true).await?))
}

/// A grant of the population library to the consumer's department with limits no benchmark
/// reaches, its key masked by token and the name partly: the plan every gated lookup gets.
async fn bench_grant(store: &Store, lake: &yishu_lake::Lake) -> Result<i64> {
    let flow = Workflow::new(store, lake);
    let consumer = store.acting_as("consumer").await?;
    let manager = store.acting_as("manager").await?;
    let columns = lake
        .columns(Layer::Base, "population")
        .await?
        .ok_or_else(|| anyhow!("the city has no population base library"))?;
    let items: Vec<String> = columns
        .into_iter()
        .filter(|c| !c.starts_with('_') && c != "subject_id")
        .collect();
    let now = now_ms();
    let applied = flow
        .apply(
            &consumer,
            &Apply {
                target: "base:population".into(),
                items: items.clone(),
                purpose: "基准测试：按身份证号查询人口基础信息".into(),
                legal_basis: "yishu bench share".into(),
                scenario: "基准测试".into(),
                period_from: now,
                period_to: now + 86_400_000,
                expected_volume: "按需".into(),
                contact: "bench".into(),
            },
            now,
        )
        .await?;
    let name = items.iter().find(|i| *i == "姓名").cloned();
    let decision = Decision {
        approve: true,
        reason: "基准测试".into(),
        masks: [("subject_key".to_string(), "token".to_string())]
            .into_iter()
            .chain(name.map(|n| (n, "partial".to_string())))
            .collect(),
        per_minute: Some(i64::MAX / 2),
        rows_per_day: Some(i64::MAX / 2),
        ..Default::default()
    };
    let decided = flow
        .provider_decide(&manager, applied.id, &decision, now)
        .await?;
    decided
        .grant_id
        .ok_or_else(|| anyhow!("the bench application was not granted: {}", decided.status))
}

/// Keys of `n` subjects spread evenly over the library.
pub(super) async fn sample_keys(lake: &yishu_lake::Lake, n: usize) -> Result<Vec<String>> {
    let frame = lake
        .frame(Layer::Base, "population")
        .await?
        .ok_or_else(|| anyhow!("the city has no population base library"))?;
    let batches = frame.select_columns(&["subject_key"])?.collect().await?;
    let all: Vec<String> = batches
        .iter()
        .flat_map(yishu_lake::text_rows)
        .filter_map(|r| r.into_iter().next())
        .collect();
    if all.is_empty() {
        bail!("the population base library is empty");
    }
    let step = (all.len() / n.max(1)).max(1);
    Ok(all.into_iter().step_by(step).take(n).collect())
}

/// The cost of one read-audit record: alone (one writer, one at a time) and with 16 writers
/// (group commit), in µs a record.
async fn audit_cost(store: &Store, who: &Principal, plan: &gate::ReadPlan) -> Result<(f64, f64)> {
    let ch = Channel {
        kind: "bench",
        source_ip: "127.0.0.1".into(),
        request_id: String::new(),
    };
    let subjects = vec![audit::subject_digest(store, "bench")];
    let e = audit::entry(who, "base:population", Ok(plan), 1, &subjects, &ch);
    let n = 500;
    let t = Instant::now();
    for _ in 0..n {
        audit::record(store, &e).await?;
    }
    let alone = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let t = Instant::now();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, e) = (store.clone(), e.clone());
            tokio::spawn(async move {
                for _ in 0..n {
                    audit::record(&store, &e).await?;
                }
                Ok::<_, yishu_types::Error>(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let shared = t.elapsed().as_secs_f64() * 1e6 / (16 * n) as f64;
    Ok((alone, shared))
}

/// The gate's own CPU per lookup, apart from the store: planning (with the consumer's masker),
/// masking one row, building its read record — µs each.
fn gate_cpu(
    store: &Store,
    who: &Principal,
    grant: &yishu_meta::share::Grant,
    source: &yishu_share::Source,
    row: &Row,
) -> Result<[f64; 3]> {
    let ch = Channel {
        kind: "bench",
        source_ip: "127.0.0.1".into(),
        request_id: String::new(),
    };
    let req = ReadRequest {
        limit: gate::MAX_PAGE,
        ..Default::default()
    };
    let n = 2_000;
    let mut spent = [0f64; 3];
    for _ in 0..n {
        let t = Instant::now();
        let plan = gate::plan(
            who,
            Some(grant),
            source,
            &req,
            now_ms(),
            masker_for(store, who.org_id),
        )?;
        spent[0] += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let shown = plan.apply(row);
        spent[1] += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let key = row.get("subject_key").cloned().unwrap_or_default();
        let subjects = vec![audit::subject_digest(store, &key)];
        let e = audit::entry(who, &plan.target, Ok(&plan), 1, &subjects, &ch);
        spent[2] += t.elapsed().as_secs_f64();
        std::hint::black_box((shown, e));
    }
    Ok(spent.map(|s| s * 1e6 / n as f64))
}

/// The store and lake of the fused city in `dir` (the demo's `--data-dir`), or what to run to
/// make one.
pub(super) async fn fused_city(
    dir: &std::path::Path,
    mut config: crate::config::Config,
) -> Result<(Store, yishu_lake::Lake)> {
    config.data_dir = dir.to_path_buf();
    config.database_url = None;
    config.lake_root = None;
    let (store, lake) = crate::cmd::serve::open(&config).await?;
    if lake.columns(Layer::Base, "population").await?.is_none() {
        bail!(
            "{} holds no fused city: make one with `yishu demo --people 1000000 --no-serve --data-dir {}`",
            dir.display(),
            dir.display()
        );
    }
    Ok((store, lake))
}

pub async fn run(a: ShareBenchArgs, config: crate::config::Config) -> Result<u8> {
    let (store, lake) = fused_city(&a.data_dir, config).await?;
    let grant = bench_grant(&store, &lake).await?;
    let consumer = store.get_user_by_name("consumer").await?;
    let manager = store.get_user_by_name("manager").await?;
    let consumer_key = store
        .create_api_key(consumer.id, "bench share", None)
        .await?
        .secret;
    let manager_key = store
        .create_api_key(manager.id, "bench share", None)
        .await?
        .secret;
    let keys = Arc::new(sample_keys(&lake, a.keys).await?);

    let search = yishu_server::open_search(None, &store).await?;
    let state = AppState::new(
        store.clone(),
        lake.clone(),
        search,
        yishu_server::ServerConfig::default(),
    );
    // The bypass sits behind the same layers as the API (request id, errors, metrics).
    let router = yishu_server::app_with(
        state,
        axum::Router::new().route("/bench/bypass/{kind}", axum::routing::get(bypass)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let gated = format!("http://{addr}/api/v1/base/person?q=");
    let bypassed = format!("http://{addr}/api/v1/bench/bypass/person?q=");

    // Both sides answer, and differently: the gate masks the key, the bypass shows it.
    let client = reqwest::Client::new();
    let probe = |url: String, key: String| {
        let client = client.clone();
        async move {
            let r = client.get(url).bearer_auth(key).send().await?;
            let status = r.status();
            let rows: Vec<Row> = r.json().await.unwrap_or_default();
            anyhow::Ok((status, rows))
        }
    };
    let k0 = &keys[0];
    let (gs, g_rows) = probe(format!("{gated}{k0}"), consumer_key.clone()).await?;
    let (bs, b_rows) = probe(format!("{bypassed}{k0}"), manager_key.clone()).await?;
    if !gs.is_success() || g_rows.len() != 1 || !bs.is_success() || b_rows.len() != 1 {
        bail!("a lookup failed before the bench: gate {gs} {g_rows:?}, bypass {bs} {b_rows:?}");
    }
    if g_rows[0].get("subject_key") == Some(k0) || b_rows[0].get("subject_key") != Some(k0) {
        bail!("the gate did not mask the key, or the bypass did not find it");
    }

    println!(
        "bench share: base.population ({} keys looked up), {} connections, {} s rounds, best of {} alternating rounds, loopback, {} cores; grant {grant}",
        keys.len(),
        a.connections,
        a.seconds,
        a.rounds,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let urls = |base: String| {
        let keys = keys.clone();
        move |i: usize| format!("{base}{}", keys[i % keys.len()])
    };
    let (b, g) = duel(
        "lookup by 公民身份号码",
        Side {
            name: "bureau data manager, gate bypassed (bench route)",
            url: urls(bypassed),
            key: Some(manager_key),
        },
        Side {
            name: "consumer through the grant (gate + mask + audit)",
            url: urls(gated),
            key: Some(consumer_key),
        },
        (a.connections, a.seconds, a.rounds),
    )
    .await?;
    let cost = 1.0 - g.rps() / b.rps();
    println!(
        "gate + audit cost: {:.1}% of throughput (target ≤ 20%); gated p99 {:.2} ms (target ≤ 10 ms)",
        cost * 100.0,
        g.p99_us as f64 / 1000.0
    );
    // One record's cost, measured apart from the lookups.
    let who = store.acting_as("consumer").await?;
    let g_row = store.grant(grant).await?;
    let source = yishu_share::target::resolve(
        &store,
        &lake,
        yishu_share::target::Target::Base(yishu_fusion::SubjectKind::Person),
    )
    .await?
    .source;
    let plan = gate::plan(
        &who,
        Some(&g_row),
        &source,
        &ReadRequest {
            limit: 1,
            ..Default::default()
        },
        now_ms(),
        masker_for(&store, who.org_id),
    )?;
    let row = library::find(&lake, yishu_fusion::SubjectKind::Person, &keys[0], 1, false)
        .await?
        .pop()
        .ok_or_else(|| anyhow!("subject {} not found", keys[0]))?;
    let [planned, masked, recorded] = gate_cpu(&store, &who, &g_row, &source, &row)?;
    println!(
        "gate CPU per lookup: plan {planned:.1} µs, masking one row {masked:.1} µs, its read record built {recorded:.1} µs"
    );
    let (alone, shared) = audit_cost(&store, &who, &plan).await?;
    println!(
        "one read-audit record: {alone:.0} µs written alone; {shared:.1} µs a record with 16 writers ({:.0} records/s)",
        1e6 / shared
    );
    Ok(crate::exit::OK)
}
