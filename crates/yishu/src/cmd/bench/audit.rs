//! `yishu bench audit`: the SM3 audit chain under load — appends with concurrent writers on
//! SQLite and PostgreSQL (target ≥ 20,000 records/s with 16 writers), the cost of one record
//! for a lone writer, and walking a chain of millions of records (target: 10,000,000 in < 60 s).

use anyhow::Result;
use clap::Args;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use yishu_meta::testing::TestDb;
use yishu_meta::{AuditEntry, Store};

#[derive(Args)]
pub struct AuditBenchArgs {
    /// Concurrent writers.
    #[arg(long, default_value_t = 16)]
    pub writers: usize,
    /// Seconds of appending per backend.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Records in the chain that is verified.
    #[arg(long, default_value_t = 10_000_000)]
    pub records: u64,
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    pub backend: String,
}

/// A read-audit record of typical size.
fn entry(i: u64) -> AuditEntry {
    AuditEntry {
        actor_id: Some(yishu_types::UserId(7)),
        actor_name: "rs_officer".into(),
        org_id: Some(yishu_types::OrgId(4)),
        action: "share.read".into(),
        object: "grant:12".into(),
        source_ip: "10.20.30.40".into(),
        request_id: format!("bench-{i}"),
        outcome: "ok".into(),
        detail: format!(
            r#"{{"target":"base:population","basis":"grant","grant":12,"purpose":"核定养老保险待遇","items":["subject_key","姓名","婚姻状况"],"rows":1,"query":"9f2c4e1a7b3d5f60","channel":"api","subjects":["{i:024x}"]}}"#
        ),
    }
}

async fn appends(store: &Store, writers: usize, seconds: u64) -> Result<(f64, f64)> {
    // A lone writer: the cost of one record.
    let n = 2_000u64;
    let t = Instant::now();
    for i in 0..n {
        store.audit(&entry(i)).await?;
    }
    let one = t.elapsed().as_secs_f64() / n as f64;
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (store, done) = (store.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = (w as u64) << 40;
            while Instant::now() < until {
                store.audit(&entry(i)).await?;
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            Ok::<(), yishu_types::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    Ok((rate, one))
}

async fn chain(store: &Store, records: u64) -> Result<(f64, f64, i64)> {
    let have = store.verify_audit().await?.records as u64;
    let t = Instant::now();
    let mut i = have;
    while i < records {
        let n = (records - i).min(100_000);
        let batch: Vec<AuditEntry> = (i..i + n).map(entry).collect();
        store.audit_all(&batch).await?;
        i += n;
        if i % 1_000_000 < 100_000 {
            eprintln!("  chain: {i} records");
        }
    }
    let fill = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let r = store.verify_audit().await?;
    anyhow::ensure!(
        r.is_intact(),
        "the benchmark chain does not verify: {:?}",
        r.broken_at
    );
    Ok((fill, t.elapsed().as_secs_f64(), r.records))
}

pub async fn run(a: AuditBenchArgs) -> Result<u8> {
    println!(
        "bench audit: {} writers for {} s per backend; a chain of {} records verified",
        a.writers, a.seconds, a.records
    );
    println!(
        "{:<11} {:>14} {:>16} {:>14} {:>12} {:>14}",
        "backend", "records/s", "one record µs", "chain fill s", "verify s", "verified/s"
    );
    let mut ok = true;
    for backend in ["sqlite", "postgres"] {
        if a.backend != "both" && a.backend != backend {
            continue;
        }
        let db = if backend == "sqlite" {
            TestDb::sqlite()
        } else {
            TestDb::postgres().await
        };
        let store = db.open().await;
        let (rate, one) = appends(&store, a.writers, a.seconds).await?;
        let (fill, verify, n) = chain(&store, a.records).await?;
        println!(
            "{backend:<11} {rate:>14.0} {:>16.1} {fill:>14.1} {verify:>12.1} {:>14.0}",
            one * 1e6,
            n as f64 / verify
        );
        ok &= rate >= 20_000.0 && (a.records < 10_000_000 || verify < 60.0);
        store.close().await;
        db.cleanup().await;
    }
    println!(
        "targets: ≥ 20,000 appends/s with 16 writers on both backends; 10,000,000 records verified in < 60 s: {}",
        if ok { "met" } else { "NOT met" }
    );
    Ok(crate::exit::OK)
}
