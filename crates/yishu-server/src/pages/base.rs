//! The base-library pages (基础库): the overview with the last fusion run, indicators and a
//! search; a subject's page with its golden record and provenance, history, timeline (R22),
//! relationship graph (R23) and source rows; the review queue with both records side by side.

use super::quality::failure;
use super::{Chrome, PageAuth, csrf_refused, render};
use crate::AppState;
use crate::app::access::clear_for;
use crate::app::access::masked_review;
use crate::app::base;
use crate::app::base::SubjectDetail;
use crate::app::base::kind_of;
use crate::auth::SeePersonal;
use crate::auth::SignedIn;
use crate::error::ApiError;
use crate::svg;
use crate::time::fmt_time;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use yishu_fusion::SubjectKind;
use yishu_fusion::library;
use yishu_fusion::run::FusionReport;
use yishu_meta::fusion::{FusionRun, Review, ReviewStatus};

#[derive(Template)]
#[template(path = "base_overview.html")]
struct Overview {
    c: Chrome,
    libraries: Vec<(String, u64)>,
    run: Option<FusionRun>,
    run_at: String,
    report: FusionReport,
    pending: i64,
    /// How the last run read its input: incremental (what it read) or full (why).
    mode: String,
    /// (tag, subjects, rule)
    indicators: Vec<(String, u64, String)>,
    /// (event, month, count, previous month, change)
    monthly: Vec<(String, String, u64, u64, String)>,
    /// (value, label, selected)
    kinds: Vec<(&'static str, &'static str, bool)>,
    kind: &'static str,
    q: String,
    headings: Vec<String>,
    /// (subject id, cells)
    found: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct FindForm {
    kind: Option<String>,
    q: Option<String>,
}

const KINDS: [(&str, &str); 3] = [
    ("person", "人口库"),
    ("entity", "法人库"),
    ("house", "房屋库"),
];

pub async fn overview(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Query(f): Query<FindForm>,
) -> Response {
    page.chrome.active = "base";
    let who = page.auth.who().clone();
    let runs = match s.store.fusion_runs(1).await {
        Ok(r) => r,
        Err(e) => return failure(page.chrome, e.into()),
    };
    let run = runs.into_iter().next();
    let report: FusionReport = run
        .as_ref()
        .and_then(|r| serde_json::from_value(r.report.clone()).ok())
        .unwrap_or_default();
    let libraries = KINDS
        .iter()
        .map(|(k, label)| {
            (
                label.to_string(),
                report.subjects.get(*k).copied().unwrap_or_default(),
            )
        })
        .collect();
    let pending = s
        .store
        .reviews(Some(ReviewStatus::Pending), 1, 0)
        .await
        .map(|r| r.1)
        .unwrap_or(0);
    let kind = KINDS
        .iter()
        .map(|k| k.0)
        .find(|k| Some(*k) == f.kind.as_deref())
        .unwrap_or("person");
    let q = f.q.unwrap_or_default();
    let mut headings = Vec::new();
    let mut found = Vec::new();
    if !q.trim().is_empty() {
        let k = match kind_of(kind) {
            Ok(k) => k,
            Err(e) => return failure(page.chrome, e),
        };
        let ch = page.auth.meta.channel("page");
        match base::find(&s, &who, &ch, k, &q, 50).await {
            Ok(rows) => {
                if let Some(first) = rows.first() {
                    headings = std::iter::once("subject_key".to_string())
                        .chain(
                            first
                                .keys()
                                .filter(|c| !c.starts_with('_') && !c.starts_with("subject_"))
                                .cloned(),
                        )
                        .collect();
                }
                found = rows
                    .iter()
                    .map(|r| {
                        (
                            r.get("subject_id").cloned().unwrap_or_default(),
                            headings
                                .iter()
                                .map(|h| r.get(h).cloned().unwrap_or_default())
                                .collect(),
                        )
                    })
                    .collect();
            }
            Err(e) => return failure(page.chrome, e),
        }
    }
    let plan: yishu_fusion::plan::Plan = s
        .store
        .fusion_plan()
        .await
        .ok()
        .flatten()
        .and_then(|p| serde_json::from_value(p.body).ok())
        .unwrap_or_default();
    // The indicators the last run worked out: a view reads no library table for them.
    let table = library::current_indicators(&s.lake, report.indicators.as_deref())
        .await
        .unwrap_or_default();
    let mut indicators = library::tag_totals(&table);
    // Every tag the plan defines, with its rule, even when nobody has it.
    for t in &plan.tags {
        match indicators.iter_mut().find(|i| i.0 == t.tag) {
            Some(i) => i.2 = t.description.clone(),
            None => indicators.push((t.tag.clone(), 0, t.description.clone())),
        }
    }
    // Each event's newest month with the month before (环比).
    let mut monthly: Vec<(String, String, u64, u64, String)> = Vec::new();
    for i in table {
        let Some(prev) = i.previous else { continue };
        match monthly.iter_mut().find(|m| m.0 == i.name) {
            Some(m) if m.1 >= i.by => {}
            Some(m) => *m = (i.name.clone(), i.by.clone(), i.count, prev, String::new()),
            None => monthly.push((i.name.clone(), i.by.clone(), i.count, prev, String::new())),
        }
    }
    for m in &mut monthly {
        m.4 = if m.3 == 0 {
            "—".into()
        } else {
            format!("{:+.1}%", (m.2 as f64 - m.3 as f64) * 100.0 / m.3 as f64)
        };
    }
    let mode = if report.mode == "incremental" {
        format!(
            "{} {} · {} {}",
            report.new_batches,
            page.chrome.t.t("base.new_batches"),
            report.touched,
            page.chrome.t.t("base.touched")
        )
    } else {
        let why = format!("base.full_{}", report.full_code);
        format!("{}{}", page.chrome.t.t("base.full"), page.chrome.t.t(&why))
    };
    render(&Overview {
        mode,
        monthly,
        run_at: run
            .as_ref()
            .map(|r| fmt_time(r.started_at))
            .unwrap_or_default(),
        c: page.chrome,
        libraries,
        run,
        report,
        pending,
        indicators,
        kinds: KINDS.iter().map(|(k, l)| (*k, *l, *k == kind)).collect(),
        kind,
        q,
        headings,
        found,
    })
}

#[derive(Template)]
#[template(path = "subject.html")]
struct SubjectPage {
    c: Chrome,
    title: String,
    d: SubjectDetail,
    graph_svg: String,
    truncated: bool,
}

impl SubjectPage {
    /// How a golden value was chosen, in the page's language.
    fn by_label(&self, by: &str) -> String {
        let key = format!("base.by.{by}");
        match self.c.t.t(&key) {
            k if k == key => by.to_string(),
            label => label.to_string(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DepthQuery {
    depth: Option<usize>,
}

fn kind_class(k: SubjectKind) -> &'static str {
    match k {
        SubjectKind::Person => "person",
        SubjectKind::Entity => "entity",
        SubjectKind::House => "house",
    }
}

pub async fn subject(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path((kind, id)): Path<(String, String)>,
    Query(q): Query<DepthQuery>,
) -> Response {
    page.chrome.active = "base";
    let who = page.auth.who().clone();
    let kind = match kind_of(&kind) {
        Ok(k) => k,
        Err(e) => return failure(page.chrome, e),
    };
    let ch = page.auth.meta.channel("page");
    let d = match base::load(&s, &who, &ch, kind, &id).await {
        Ok(d) => d,
        Err(e) => return failure(page.chrome, e),
    };
    // The graph reaches past any grant: the bureau's own reads only.
    let g = if d.subject.clear {
        match base::neighbourhood(&s, &who, &ch, kind, &id, q.depth.unwrap_or(1), 60).await {
            Ok(g) => g,
            Err(e) => return failure(page.chrome, e),
        }
    } else {
        library::Graph::default()
    };
    let name = d
        .subject
        .values
        .first()
        .map(|a| a.value.clone())
        .unwrap_or_default();
    let title = format!("{} · {name}", kind.label_zh());
    let nodes: Vec<svg::GraphNode> = g
        .nodes
        .iter()
        .map(|n| svg::GraphNode {
            label: n.label.clone(),
            kind: kind_class(n.kind),
            ring: n.depth,
            href: (!n.id.is_empty()).then(|| format!("/console/base/{}/{}", n.kind.as_str(), n.id)),
        })
        .collect();
    let edges: Vec<(usize, usize, String)> = g
        .edges
        .iter()
        .map(|e| (e.from, e.to, e.relation.clone()))
        .collect();
    render(&SubjectPage {
        graph_svg: svg::graph(&title, &nodes, &edges),
        truncated: g.truncated,
        c: page.chrome,
        title,
        d,
    })
}

/// A review as the page shows it: the fields side by side with their comparison levels.
struct ReviewRow {
    review: Review,
    reason: String,
    probability: String,
    status: String,
    pending: bool,
    /// (field, this record, candidate, level)
    fields: Vec<(String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct Reviews {
    c: Chrome,
    items: Vec<ReviewRow>,
    total: i64,
    may_decide: bool,
}

fn level_label(field: &str, level: u64) -> &'static str {
    match (field, level) {
        (_, 0) => "一致",
        ("name", 1) => "同音",
        ("name", 2) => "相近",
        ("birth", 1) => "笔误",
        ("birth", 2) => "相近",
        ("id", 1) => "差两位",
        ("address", 1) => "同街道",
        ("address", 2) => "同区县",
        ("name", 4) | ("birth", 4) | ("address", 4) | ("id", 3) | ("sex", 2) => "缺失",
        _ => "不一致",
    }
}

async fn reviews_page(s: &AppState, mut c: Chrome, clear: bool, may_decide: bool) -> Response {
    c.active = "base";
    let (items, total) = match s.store.reviews(None, 100, 0).await {
        Ok(r) => r,
        Err(e) => return failure(c, e.into()),
    };
    let labels = ["公民身份号码", "姓名", "出生日期", "性别", "住址"];
    let keys = ["id", "name", "birth", "sex", "address"];
    let items = items
        .into_iter()
        .map(|r| masked_review(r, clear))
        .map(|r| {
            let ev = &r.evidence;
            let text =
                |side: &str, k: &str| ev[side][k].as_str().map(str::to_string).unwrap_or_default();
            let levels: Vec<u64> = ev["levels"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_u64())
                .collect();
            let fields = keys
                .iter()
                .zip(labels)
                .enumerate()
                .map(|(i, (k, label))| {
                    (
                        label.to_string(),
                        text("record", k),
                        text("candidate", k),
                        levels
                            .get(i)
                            .map(|l| level_label(k, *l))
                            .unwrap_or("")
                            .to_string(),
                    )
                })
                .collect();
            ReviewRow {
                reason: if r.reason == "collision" {
                    "号码冲突".into()
                } else {
                    "概率匹配待定".into()
                },
                probability: format!("{:.3}", r.probability),
                status: r.status.label_zh().into(),
                pending: r.status == ReviewStatus::Pending,
                fields,
                review: r,
            }
        })
        .collect();
    render(&Reviews {
        c,
        items,
        total,
        may_decide,
    })
}

pub async fn reviews(State(s): State<AppState>, page: PageAuth<SignedIn>) -> Response {
    let who = page.auth.who().clone();
    reviews_page(&s, page.chrome, clear_for(&who), clear_for(&who)).await
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    decision: String,
    #[serde(default)]
    note: String,
}

pub async fn decide(
    State(s): State<AppState>,
    mut page: PageAuth<SeePersonal>,
    Path(id): Path<i64>,
    Form(f): Form<DecisionForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let to = match ReviewStatus::parse(&f.decision) {
        Some(t) if t != ReviewStatus::Pending => t,
        _ => {
            return failure(
                page.chrome,
                ApiError::new(
                    yishu_types::ErrorCode::InvalidInput,
                    "decision is linked or rejected",
                ),
            );
        }
    };
    let who = page.auth.who().clone();
    match s.store.decide_review(id, to, &f.note, who.user_id).await {
        Ok(_) => {
            let _ = crate::app::audit::audit(
                &s,
                &page.auth,
                "fusion.review",
                format!("review:{id}"),
                serde_json::json!({"decision": to.as_str()}),
            )
            .await;
            page.chrome.flash = Some(page.chrome.t.t("base.decided").to_string());
        }
        Err(e) => {
            super::failed(&mut page.chrome, &e);
        }
    }
    reviews_page(&s, page.chrome, true, true).await
}

struct CorrectionRow {
    id: i64,
    subject: String,
    attribute: String,
    value: String,
    reason: String,
    from_org: String,
    to_org: String,
    status: String,
    confirmation: String,
    pending: bool,
    confirmed: bool,
    /// The reader's department is the lead department: it confirms and decides.
    lead: bool,
}

#[derive(Template)]
#[template(path = "corrections.html")]
struct Corrections {
    c: Chrome,
    items: Vec<CorrectionRow>,
}

/// Correction requests (R20) the reader's department proposed or leads (all of them for the
/// bureau's data managers), with the lead department's confirm and decide forms.
async fn corrections_page(
    s: &AppState,
    mut c: Chrome,
    who: &yishu_meta::auth::Principal,
) -> Response {
    c.active = "base";
    let loaded = async {
        let own = s.store.get_org(who.org_id).await?;
        let orgs = s.store.list_orgs().await?;
        let list = s.store.corrections(None).await?;
        Ok::<_, yishu_types::Error>((own, orgs, list))
    }
    .await;
    let (own, orgs, list) = match loaded {
        Ok(x) => x,
        Err(e) => return failure(c, e.into()),
    };
    let clear = clear_for(who);
    let org_name = |code: &str| {
        orgs.iter()
            .find(|o| o.code == code)
            .map(|o| o.name.clone())
            .unwrap_or_else(|| code.to_string())
    };
    let items = list
        .into_iter()
        .filter(|x| clear || x.to_org == own.code || x.from_org == own.id.0)
        .map(|x| {
            let lead = x.to_org == own.code;
            let key_label = match x.subject_kind.as_str() {
                "person" => "公民身份号码",
                _ => "",
            };
            CorrectionRow {
                id: x.id,
                subject: if clear {
                    x.subject_key.clone()
                } else {
                    yishu_share::mask::masked(key_label, &x.subject_key)
                },
                value: if clear || lead {
                    x.value.clone()
                } else {
                    yishu_share::mask::masked(&x.attribute, &x.value)
                },
                from_org: orgs
                    .iter()
                    .find(|o| o.id.0 == x.from_org)
                    .map(|o| o.name.clone())
                    .unwrap_or_default(),
                to_org: org_name(&x.to_org),
                status: match x.status.as_str() {
                    "accepted" => "已采纳",
                    "rejected" => "未采纳",
                    _ => "待处理",
                }
                .to_string(),
                pending: x.status == "pending",
                confirmed: x.confirmed_at.is_some(),
                confirmation: x.confirmation.clone(),
                attribute: x.attribute,
                reason: x.reason,
                lead,
            }
        })
        .collect();
    render(&Corrections { c, items })
}

pub async fn corrections(State(s): State<AppState>, page: PageAuth<SignedIn>) -> Response {
    let who = page.auth.who().clone();
    corrections_page(&s, page.chrome, &who).await
}

#[derive(Debug, Deserialize)]
pub struct CorrectionForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    /// confirm, accept or reject.
    action: String,
    #[serde(default)]
    how: String,
    #[serde(default)]
    note: String,
}

/// The lead department records the person's confirmation, accepts or rejects.
pub async fn act_on_correction(
    State(s): State<AppState>,
    mut page: PageAuth<crate::auth::Correct>,
    Path(id): Path<i64>,
    Form(f): Form<CorrectionForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let who = page.auth.who().clone();
    let done: Result<(), ApiError> = async {
        let c = s.store.correction(id).await?;
        base::lead_department(&s, who.org_id, &c).await?;
        let (action, detail) = match f.action.as_str() {
            "confirm" => {
                let how = f.how.trim();
                if how.is_empty() {
                    return Err(ApiError::new(
                        yishu_types::ErrorCode::InvalidInput,
                        "say how the person confirmed the change (channel and reference)",
                    ));
                }
                s.store.confirm_correction(id, how, who.user_id).await?;
                (
                    "fusion.correction_confirmation",
                    serde_json::json!({"how": how}),
                )
            }
            "accept" | "reject" => {
                let accept = f.action == "accept";
                s.store
                    .decide_correction(id, accept, &f.note, who.user_id)
                    .await?;
                (
                    "fusion.correction_decision",
                    serde_json::json!({"accept": accept}),
                )
            }
            _ => {
                return Err(ApiError::new(
                    yishu_types::ErrorCode::InvalidInput,
                    "action is confirm, accept or reject",
                ));
            }
        };
        crate::app::audit::audit(&s, &page.auth, action, format!("correction:{id}"), detail)
            .await?;
        Ok(())
    }
    .await;
    match done {
        Ok(()) => page.chrome.flash = Some(page.chrome.t.t("base.recorded").to_string()),
        Err(e) => {
            super::failed(&mut page.chrome, &e.0);
        }
    }
    corrections_page(&s, page.chrome, &who).await
}
