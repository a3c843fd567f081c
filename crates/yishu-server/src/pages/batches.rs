//! One batch's page (归集作业): where it came from, how far it got (refreshing while it runs), its
//! log, the source's shape, and its rejected rows with the downloads to fix them.

use super::{Chrome, PageAuth, render};
use crate::AppState;
use crate::app::access::may_read_raw;
use crate::app::access::visible_batch;
use crate::app::batches::reason_counts;
use crate::app::batches::rejected;
use crate::auth::SignedIn;
use crate::time::fmt_time;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use yishu_meta::batch::Batch;
use yishu_meta::catalog::Resource;

/// Rejected rows shown on the page; the downloads hold them all.
const SHOWN: usize = 100;

#[derive(Template)]
#[template(path = "batch.html")]
struct BatchPage {
    c: Chrome,
    b: Batch,
    r: Resource,
    log: Vec<(String, String)>,
    rows: Vec<[String; 6]>,
    may_read: bool,
}

impl BatchPage {
    fn running(&self) -> bool {
        self.b.status == "running"
    }
}

fn names(v: &serde_json::Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The job's log, in the page language, from what the batch recorded.
fn log(t: crate::i18n::Tr, b: &Batch, reasons: &[(String, i64)]) -> Vec<(String, String)> {
    let mut out = vec![(
        fmt_time(b.started_at),
        format!("{}：{}", t.t("batch.started"), b.source),
    )];
    let at = b.finished_at.map(fmt_time).unwrap_or_default();
    match b.status.as_str() {
        "running" => out.push((
            String::new(),
            format!(
                "{}：{} {}",
                t.t("batch.running"),
                b.rows_read,
                t.t("batch.rows")
            ),
        )),
        "failed" => out.push((at, format!("{}：{}", t.t("batch.failed"), b.message))),
        "unchanged" => out.push((at, format!("{}：{}", t.t("batch.unchanged"), b.message))),
        _ => {
            let missing = names(&b.drift, "missing_items");
            let extra = names(&b.drift, "extra_columns");
            if !missing.is_empty() {
                out.push((
                    String::new(),
                    format!("{}：{}", t.t("drift.no_column"), missing.join("、")),
                ));
            }
            if !extra.is_empty() {
                out.push((
                    String::new(),
                    format!("{}：{}", t.t("drift.no_item"), extra.join("、")),
                ));
            }
            for (code, n) in reasons {
                out.push((
                    String::new(),
                    format!(
                        "{}：{}（{code}）× {n}",
                        t.t("batch.rejected"),
                        yishu_ingest::rows::reason_zh(code)
                    ),
                ));
            }
            out.push((
                at,
                format!(
                    "{}：{} {} = {} {} + {} {}{}",
                    t.t("batch.done"),
                    t.t("catalog.rows_read"),
                    b.rows_read,
                    t.t("catalog.rows_stored"),
                    b.rows_stored,
                    t.t("catalog.rows_quarantined"),
                    b.rows_quarantined,
                    b.lake_version
                        .map(|v| format!("（{} {v}）", t.t("batch.version")))
                        .unwrap_or_default()
                ),
            ));
        }
    }
    out
}

pub async fn detail(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    page.chrome.active = "catalog";
    let p = page.auth.who().clone();
    let (b, r) = match visible_batch(&s, &p, &id).await {
        Ok(v) => v,
        Err(e) => {
            let _ = super::failed(&mut page.chrome, &e.0);
            return (
                StatusCode::NOT_FOUND,
                render(&super::Message { c: page.chrome }),
            )
                .into_response();
        }
    };
    let may_read = may_read_raw(&p, &r);
    let (mut rows, mut reasons) = (Vec::new(), Vec::new());
    if may_read && b.rows_quarantined > 0 {
        let read = async {
            Ok::<_, crate::error::ApiError>((
                rejected(
                    &s,
                    &p,
                    &page.auth.meta.channel("page"),
                    (&b, &r),
                    Some(SHOWN),
                )
                .await?,
                reason_counts(&s, &b, &r).await?,
            ))
        };
        match read.await {
            Ok((first, counts)) => (rows, reasons) = (first, counts),
            Err(e) => page.chrome.error = Some(e.0.message),
        }
    }
    let log = log(page.chrome.t, &b, &reasons);
    render(&BatchPage {
        c: page.chrome,
        b,
        r,
        log,
        rows,
        may_read,
    })
}
