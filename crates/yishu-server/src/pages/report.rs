//! The quality report page (质量报告): one department over a period, with the same figures as the
//! XLSX download beside it.

use super::quality::{dimension_label, failure, pct};
use super::work_orders::{OrderRow, order_row};
use super::{Chrome, PageAuth, render};
use crate::AppState;
use crate::app::reports;
use crate::app::reports::ReportQuery;
use crate::auth::SignedIn;
use crate::svg;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use yishu_quality::profile::DatasetProfile;
use yishu_quality::report::{ResourceLine, RuleLine};
use yishu_types::Role;

#[derive(Template)]
#[template(path = "quality_report.html")]
struct ReportPage {
    c: Chrome,
    /// Departments the reader may choose (only their own unless they are the bureau).
    orgs: Vec<(i64, String)>,
    org: i64,
    org_name: String,
    from: String,
    to: String,
    query: String,
    score: String,
    previous: String,
    /// "+1.20", "−3.00" or empty.
    change: String,
    batches: u64,
    records: u64,
    dimensions: Vec<(String, String)>,
    dataset: DatasetProfile,
    trend_svg: String,
    resources: Vec<ResourceLine>,
    rules: Vec<(RuleLine, String, String)>,
    opened: u64,
    closed: u64,
    open_at_end: u64,
    overdue_at_end: u64,
    orders: Vec<OrderRow>,
}

impl ReportPage {
    /// A score, or 未评估 when nothing measured it.
    fn score(&self, v: &Option<f64>) -> String {
        score_text(self.c.t, *v)
    }
}

fn score_text(t: crate::i18n::Tr, v: Option<f64>) -> String {
    v.map_or_else(
        || t.t("quality.unmeasured").to_string(),
        |v| format!("{v:.2}"),
    )
}

pub async fn report(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Query(q): Query<ReportQuery>,
) -> Response {
    page.chrome.active = "quality";
    let who = page.auth.who().clone();
    let (org, from, to) = match reports::period(&who, &q) {
        Ok(p) => p,
        Err(e) => return failure(page.chrome, e),
    };
    let r = match reports::build(&s, &who, &q).await {
        Ok(r) => r,
        Err(e) => return failure(page.chrome, e),
    };
    let orgs = if who.has(Role::DataManager) || who.has(Role::Admin) {
        match s.store.list_orgs().await {
            Ok(list) => list.into_iter().map(|o| (o.id.0, o.name)).collect(),
            Err(e) => return failure(page.chrome, e.into()),
        }
    } else {
        vec![(r.org_id.0, r.org_name.clone())]
    };
    let t = page.chrome.t;
    let change = match (r.score, r.previous_score) {
        (Some(a), Some(b)) if a >= b => format!("+{:.2}", a - b),
        (Some(a), Some(b)) => format!("−{:.2}", b - a),
        _ => String::new(),
    };
    render(&ReportPage {
        orgs,
        org: org.0,
        org_name: r.org_name.clone(),
        from: from.to_string(),
        to: to.to_string(),
        query: format!("org={}&from={from}&to={to}", org.0),
        score: score_text(t, r.score),
        previous: score_text(t, r.previous_score),
        change,
        batches: r.batches,
        records: r.records,
        dimensions: r
            .dimensions
            .iter()
            .map(|(d, v)| (dimension_label(t, d), format!("{v:.2}")))
            .collect(),
        dataset: r.dataset.clone(),
        trend_svg: svg::line(t.t("quality.score_trend"), &r.trend, 100.0),
        rules: r
            .rules
            .iter()
            .map(|x| {
                (
                    x.clone(),
                    dimension_label(t, &x.dimension),
                    pct(x.pass_rate),
                )
            })
            .collect(),
        resources: r.resources.clone(),
        opened: r.orders.opened,
        closed: r.orders.closed,
        open_at_end: r.orders.open_at_end,
        overdue_at_end: r.orders.overdue_at_end,
        orders: r.order_list.into_iter().map(|o| order_row(o, t)).collect(),
        c: page.chrome,
    })
}
