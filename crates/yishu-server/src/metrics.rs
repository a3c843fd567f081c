//! Prometheus text metrics: request counts and latency histograms per route, method and status.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default, Clone)]
struct Hist {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// (method, matched route, status) of a series.
type SeriesKey = (String, String, u16);

/// Per-process request metrics (a cache of counts: each process exports its own).
#[derive(Default, Clone)]
pub struct Metrics {
    inner: Arc<Mutex<BTreeMap<SeriesKey, Hist>>>,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        let Ok(mut m) = self.inner.lock() else { return };
        let h = m
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP yishu_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE yishu_http_requests_total counter\n");
        let Ok(m) = self.inner.lock() else { return out };
        for ((method, route, status), h) in m.iter() {
            let _ = writeln!(
                out,
                "yishu_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                h.count
            );
        }
        out.push_str(
            "# HELP yishu_http_request_duration_seconds Request latency by route and method.\n",
        );
        out.push_str("# TYPE yishu_http_request_duration_seconds histogram\n");
        let mut by_route: BTreeMap<(String, String), Hist> = BTreeMap::new();
        for ((method, route, _), h) in m.iter() {
            let agg = by_route.entry((method.clone(), route.clone())).or_default();
            for i in 0..BUCKETS.len() {
                agg.counts[i] += h.counts[i];
            }
            agg.sum += h.sum;
            agg.count += h.count;
        }
        for ((method, route), h) in by_route {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "yishu_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "yishu_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "yishu_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "yishu_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}

/// Middleware recording one observation per request, labelled by the matched route (not the raw
/// path, so ids do not explode the label set).
pub async fn record(metrics: axum::extract::State<Metrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let resp = next.run(req).await;
    metrics.observe(
        &method,
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}
