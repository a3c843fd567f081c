//! Operating data services (R29, R30, R37): every call counted per version, consumer department
//! and day — in this process first, added to the store every few seconds (and before any
//! report) — exported at `/metrics`, and reported per API: per consumer calls, rows, refusals,
//! failures, p50/p99, last call and the trend by day; the SLA and the days that broke it; the
//! cut-off switches.

use crate::AppState;
use crate::error::ApiResult;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;
use yishu_meta::service_stats::{BUCKETS_MS, CutOff, DayStat, Outcome, Sla, Tally};
use yishu_meta::{Store, now_ms};
use yishu_share::usage::day;
use yishu_types::{Error, OrgId};

/// (service, version, consumer department).
type Series = (String, i64, i64);

/// Calls counted in this process: the days not yet in the store, and everything since start
/// for `/metrics`.
#[derive(Default)]
pub struct Meter {
    pending: Mutex<HashMap<(Series, String), Tally>>,
    totals: Mutex<BTreeMap<Series, Tally>>,
}

impl Meter {
    /// Counts one call of version `version` of `service` by department `org`.
    pub fn observe(
        &self,
        service: &str,
        version: i64,
        org: OrgId,
        outcome: Outcome,
        rows: usize,
        ms: f64,
    ) {
        let now = now_ms();
        let series = (service.to_string(), version, org.0);
        if let Ok(mut p) = self.pending.lock() {
            p.entry((series.clone(), day(now)))
                .or_default()
                .observe(outcome, rows as i64, ms, now);
        }
        if let Ok(mut t) = self.totals.lock() {
            t.entry(series)
                .or_default()
                .observe(outcome, rows as i64, ms, now);
        }
    }

    /// Adds the pending counts to the store; kept for the next time when the store fails.
    pub async fn flush(&self, store: &Store) -> Result<(), Error> {
        let taken: Vec<((Series, String), Tally)> = match self.pending.lock() {
            Ok(mut p) => p.drain().collect(),
            Err(_) => return Ok(()),
        };
        let stats: Vec<DayStat> = taken
            .iter()
            .map(|((s, d), t)| DayStat {
                service: s.0.clone(),
                version: s.1,
                org_id: OrgId(s.2),
                day: d.clone(),
                tally: t.clone(),
            })
            .collect();
        if let Err(e) = store.add_service_stats(&stats).await {
            if let Ok(mut p) = self.pending.lock() {
                for (k, t) in taken {
                    p.entry(k).or_default().add(&t);
                }
            }
            return Err(e);
        }
        Ok(())
    }

    /// The Prometheus exposition of the calls since this process started.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP yishu_service_calls_total Data service calls by service, version, consumer department and outcome.\n");
        out.push_str("# TYPE yishu_service_calls_total counter\n");
        let Ok(t) = self.totals.lock() else {
            return out;
        };
        for ((s, v, org), tally) in t.iter() {
            let labels = format!("service=\"{s}\",version=\"v{v}\",consumer=\"{org}\"");
            for (outcome, n) in [
                ("ok", tally.calls - tally.refused - tally.failed),
                ("refused", tally.refused),
                ("failed", tally.failed),
            ] {
                let _ = writeln!(
                    out,
                    "yishu_service_calls_total{{{labels},outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP yishu_service_rows_total Rows data services returned.\n");
        out.push_str("# TYPE yishu_service_rows_total counter\n");
        for ((s, v, org), tally) in t.iter() {
            let _ = writeln!(
                out,
                "yishu_service_rows_total{{service=\"{s}\",version=\"v{v}\",consumer=\"{org}\"}} {}",
                tally.rows
            );
        }
        out.push_str("# HELP yishu_service_latency_seconds Data service call latency.\n");
        out.push_str("# TYPE yishu_service_latency_seconds histogram\n");
        for ((s, v, org), tally) in t.iter() {
            let labels = format!("service=\"{s}\",version=\"v{v}\",consumer=\"{org}\"");
            let mut cumulative = 0;
            for (i, b) in BUCKETS_MS.iter().enumerate() {
                cumulative += tally.hist[i];
                let _ = writeln!(
                    out,
                    "yishu_service_latency_seconds_bucket{{{labels},le=\"{}\"}} {cumulative}",
                    *b as f64 / 1000.0
                );
            }
            let _ = writeln!(
                out,
                "yishu_service_latency_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                tally.calls
            );
            let _ = writeln!(
                out,
                "yishu_service_latency_seconds_count{{{labels}}} {}",
                tally.calls
            );
        }
        out
    }
}

/// One consumer department's use of an API.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsumerOps {
    pub org_id: OrgId,
    pub org_name: String,
    pub tally: Tally,
    pub p50_ms: Option<i64>,
    pub p99_ms: Option<i64>,
    /// (day, calls), oldest first.
    pub by_day: Vec<(String, i64)>,
    /// The switch that stops it, when it is cut off.
    pub cut_off: Option<CutOff>,
}

/// A day the API missed its SLA.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Breach {
    pub day: String,
    pub availability: f64,
    pub p99_ms: Option<i64>,
    /// What was missed, in words.
    pub missed: String,
}

/// An API's operation over recent days.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceOps {
    pub service: String,
    pub days: i64,
    pub total: Tally,
    pub p50_ms: Option<i64>,
    pub p99_ms: Option<i64>,
    /// (day, calls, failed), oldest first.
    pub by_day: Vec<(String, i64, i64)>,
    pub consumers: Vec<ConsumerOps>,
    pub sla: Option<Sla>,
    pub breaches: Vec<Breach>,
    /// Cut off for everybody, when it is.
    pub cut_off_all: Option<CutOff>,
}

/// API `name`'s operation over the last `days` days (every version), the process's pending
/// counts included.
pub async fn report(s: &AppState, name: &str, days: i64) -> ApiResult<ServiceOps> {
    let _ = s.service_meter.flush(&s.store).await;
    let days = days.clamp(1, 92);
    let since = day(now_ms() - (days - 1) * 86_400_000);
    let stats = s.store.service_stats(name, &since).await?;
    let cutoffs = s.store.service_cutoffs(name).await?;
    let sla = s.store.service_sla(name).await?;
    let mut total = Tally::default();
    let mut by_day: BTreeMap<String, Tally> = BTreeMap::new();
    let mut per_org: BTreeMap<i64, (Tally, BTreeMap<String, i64>)> = BTreeMap::new();
    for st in &stats {
        total.add(&st.tally);
        by_day.entry(st.day.clone()).or_default().add(&st.tally);
        let e = per_org.entry(st.org_id.0).or_default();
        e.0.add(&st.tally);
        *e.1.entry(st.day.clone()).or_default() += st.tally.calls;
    }
    let mut consumers = Vec::new();
    for (org, (tally, days)) in per_org {
        let org_name = s
            .store
            .get_org(OrgId(org))
            .await
            .map(|o| o.name)
            .unwrap_or_else(|_| org.to_string());
        consumers.push(ConsumerOps {
            org_id: OrgId(org),
            org_name,
            p50_ms: tally.percentile_ms(0.5),
            p99_ms: tally.percentile_ms(0.99),
            tally,
            by_day: days.into_iter().collect(),
            cut_off: cutoffs
                .iter()
                .find(|c| c.org_id == Some(OrgId(org)))
                .cloned(),
        });
    }
    let breaches = sla
        .as_ref()
        .map(|sla| {
            by_day
                .iter()
                .filter_map(|(d, t)| {
                    let p99 = t.percentile_ms(0.99);
                    let mut missed = Vec::new();
                    if t.availability() < sla.availability {
                        missed.push(format!(
                            "availability {:.2}% < {}%",
                            t.availability(),
                            sla.availability
                        ));
                    }
                    if p99.is_some_and(|p| p > sla.p99_ms) {
                        missed.push(format!(
                            "p99 ≤ {} ms > {} ms",
                            p99.unwrap_or_default(),
                            sla.p99_ms
                        ));
                    }
                    (!missed.is_empty()).then(|| Breach {
                        day: d.clone(),
                        availability: t.availability(),
                        p99_ms: p99,
                        missed: missed.join("; "),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ServiceOps {
        service: name.to_string(),
        days,
        p50_ms: total.percentile_ms(0.5),
        p99_ms: total.percentile_ms(0.99),
        total,
        by_day: by_day
            .into_iter()
            .map(|(d, t)| (d, t.calls, t.failed))
            .collect(),
        consumers,
        sla,
        breaches,
        cut_off_all: cutoffs.into_iter().find(|c| c.org_id.is_none()),
    })
}
