//! Quality pages (R12–R16): the bureau's overview (ranking, trend, weights), a resource's quality
//! (profile, conformance, rules and their review, suggestions, results, violations), and the
//! departments' work orders. Every form goes through the same functions as the API.

use super::{Chrome, PageAuth, csrf_refused, render};
use crate::AppState;
use crate::app::quality as api;
use crate::auth::SignedIn;
use crate::error::{ApiError, ApiResult};
use crate::svg;
use crate::time::fmt_time;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yishu_meta::quality::{NewRule, ReviewSide, RuleBody, RulePurpose, RuleView, StoredScore};
use yishu_quality::Dimension;
use yishu_quality::profile::{FieldProfile, rate};
use yishu_quality::run::BatchQuality;
use yishu_types::{ErrorCode, Role};

pub(super) fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

pub(super) fn dimension_label(t: crate::i18n::Tr, d: &str) -> String {
    match (Dimension::parse(d), t.lang) {
        (Some(d), crate::i18n::Lang::Zh) => d.label_zh().to_string(),
        (Some(d), crate::i18n::Lang::En) => d.as_str().to_string(),
        (None, _) => d.to_string(),
    }
}

/// Shows an error on a page that could not be built.
pub(super) fn failure(mut c: Chrome, e: ApiError) -> Response {
    let status = super::failed(&mut c, &e.0);
    (status, render(&super::Message { c })).into_response()
}

/// A resource whose provider has gone silent.
pub struct SilentRow {
    pub order_id: i64,
    pub title: String,
    pub org: String,
    pub last: String,
    pub days_late: i64,
}

pub struct RankRow {
    pub org: String,
    pub score: String,
    pub resources: usize,
    pub open: usize,
    pub overdue: usize,
}

#[derive(Template)]
#[template(path = "quality.html")]
struct Overview {
    c: Chrome,
    ranking: Vec<RankRow>,
    /// Departments that publish resources but have no measured score (未评估), listed apart.
    unmeasured: Vec<RankRow>,
    /// Resources past their update cycle (open timeliness work orders).
    silent: Vec<SilentRow>,
    ranking_svg: String,
    trend_svg: String,
    weights: Vec<(String, String, f64)>,
    may_weigh: bool,
}

/// Daily mean of `scores`' totals, as chart points.
fn daily(scores: &[StoredScore]) -> Vec<(String, f64)> {
    let mut days: std::collections::BTreeMap<String, (f64, u32)> = Default::default();
    for s in scores {
        let Some(total) = s.total else { continue };
        let day = fmt_time(s.created_at)[..10].to_string();
        let e = days.entry(day).or_default();
        e.0 += total;
        e.1 += 1;
    }
    days.into_iter()
        .map(|(d, (sum, n))| (d, (sum / n as f64 * 100.0).round() / 100.0))
        .collect()
}

pub async fn overview(State(s): State<AppState>, mut page: PageAuth<SignedIn>) -> Response {
    page.chrome.active = "quality";
    let built: ApiResult<Overview> = async {
        let ranked = api::ranking(&s).await?;
        let scores = s
            .store
            .scores(None, None, yishu_meta::now_ms() - 90 * 86_400_000)
            .await?;
        let weights = api::weight_map(&s).await?;
        let t = page.chrome.t;
        let row = |r: api::Ranked| RankRow {
            org: r.org_name,
            score: r.score.map(|v| format!("{v:.2}")).unwrap_or_default(),
            resources: r.resources,
            open: r.open_orders,
            overdue: r.overdue_orders,
        };
        let (measured, unmeasured): (Vec<_>, Vec<_>) =
            ranked.into_iter().partition(|r| r.score.is_some());
        let mut silent = Vec::new();
        for o in s.store.work_orders(None, true).await? {
            if o.kind != yishu_quality::silence::KIND {
                continue;
            }
            let org = s
                .store
                .get_org(o.org_id)
                .await
                .map(|g| g.name)
                .unwrap_or_default();
            silent.push(SilentRow {
                order_id: o.id,
                title: o.title,
                org,
                last: o.evidence["last_at"]
                    .as_i64()
                    .map(fmt_time)
                    .unwrap_or_default(),
                days_late: o.evidence["days_late"].as_i64().unwrap_or_default(),
            });
        }
        Ok(Overview {
            ranking_svg: svg::bars(
                t.t("quality.ranking"),
                &measured
                    .iter()
                    .filter_map(|r| Some((r.org_name.clone(), r.score?)))
                    .collect::<Vec<_>>(),
                100.0,
            ),
            trend_svg: svg::line(t.t("quality.trend"), &daily(&scores), 100.0),
            ranking: measured.into_iter().map(row).collect(),
            unmeasured: unmeasured.into_iter().map(row).collect(),
            silent,
            weights: Dimension::ALL
                .iter()
                .map(|d| {
                    (
                        d.as_str().to_string(),
                        dimension_label(t, d.as_str()),
                        weights[d.as_str()].as_f64().unwrap_or(1.0),
                    )
                })
                .collect(),
            may_weigh: page.auth.who().has(Role::DataManager) || page.auth.who().has(Role::Admin),
            c: page.chrome.hand_over(),
        })
    }
    .await;
    match built {
        Ok(o) => render(&o),
        Err(e) => failure(page.chrome, e),
    }
}

pub async fn set_weights(
    State(s): State<AppState>,
    page: PageAuth<crate::auth::ManageStandards>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "_csrf")
        .map(|(_, v)| v.as_str());
    if !page.csrf_ok(csrf.unwrap_or_default()) {
        return csrf_refused();
    }
    for (k, v) in &fields {
        if let (Some(d), Ok(w)) = (Dimension::parse(k), v.trim().parse::<f64>())
            && let Err(e) = s.store.set_quality_weight(d.as_str(), w).await
        {
            return failure(page.chrome, e.into());
        }
    }
    Redirect::to("/console/quality").into_response()
}

/// A field's profile as the page shows it.
pub struct FieldRow {
    pub name: String,
    pub missing: String,
    pub distinct: String,
    pub duplicate: String,
    pub zero: u64,
    pub lengths: String,
    pub range: String,
    pub quantiles: String,
    pub top: String,
    pub kind: String,
    pub pattern: String,
    pub code_table: String,
    /// The missing rate over the resource's recent batches (SVG sparkline).
    pub trend: String,
}

fn field_row(f: &FieldProfile, t: crate::i18n::Tr) -> FieldRow {
    let present = f.records - f.missing;
    FieldRow {
        name: f.name.clone(),
        missing: format!("{} ({})", f.missing, pct(f.missing_rate())),
        distinct: format!("{} ({})", f.distinct, pct(rate(f.distinct, present))),
        duplicate: format!("{} ({})", f.duplicate, pct(f.duplicate_rate())),
        zero: f.zero,
        lengths: format!("{} / {:.1} / {}", f.min_len, f.avg_len, f.max_len),
        range: match (&f.min, &f.max) {
            (Some(a), Some(b)) => format!(
                "{a} – {b}{}",
                f.mean
                    .as_ref()
                    .map(|m| format!("（{} {m}）", t.t("quality.mean")))
                    .unwrap_or_default()
            ),
            _ => String::new(),
        },
        quantiles: f.quantiles.join(" / "),
        top: f
            .top
            .iter()
            .take(5)
            .map(|v| format!("{}×{}", v.value, v.count))
            .collect::<Vec<_>>()
            .join("，"),
        kind: format!("{:?}", f.inferred_type).to_lowercase(),
        pattern: f
            .main_pattern()
            .map(|(p, share)| format!("{} {}", p.label_zh(), pct(share)))
            .unwrap_or_default(),
        code_table: f.code_table.clone().unwrap_or_default(),
        trend: String::new(),
    }
}

pub struct ResultRow {
    pub name: String,
    pub version: i64,
    pub checked: i64,
    pub failed: i64,
    pub status: String,
    pub message: String,
}

pub struct SuggestionRow {
    pub name: String,
    pub definition: String,
    pub dimension: String,
    pub why: String,
}

#[derive(Template)]
#[template(path = "resource_quality.html")]
struct ResourcePage {
    c: Chrome,
    id: i64,
    name: String,
    code: String,
    batch: Option<String>,
    q: Option<BatchQuality>,
    fields: Vec<FieldRow>,
    /// Every GB/T 36344 dimension of the newest batch: its score, or `None` (未评估).
    dims: Vec<(String, Option<f64>)>,
    /// Whether the newest batch was checked at all.
    checked: bool,
    /// Its total; `None` (未评估) when nothing measured it.
    total: Option<f64>,
    score_svg: String,
    missing_svg: String,
    results: Vec<ResultRow>,
    rules: Vec<RuleView>,
    suggestions: Vec<SuggestionRow>,
    may_raw: bool,
    may_write: bool,
    form: RuleForm,
}

impl ResourcePage {
    fn dim(&self, d: &str) -> String {
        dimension_label(self.c.t, d)
    }
    fn def(&self, v: &serde_json::Value) -> String {
        v.to_string()
    }
    fn pct(&self, part: &u64, whole: &u64) -> String {
        pct(rate(*part, *whole))
    }
    fn conform(&self, k: &yishu_quality::standard::ItemConformance) -> String {
        pct(k.rate())
    }
}

/// The new-rule form's fields, kept when a rule is refused so the person can correct it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RuleForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub business_rule: String,
    #[serde(default)]
    pub definition: String,
    #[serde(default)]
    pub dimension: String,
    #[serde(default)]
    pub importance: String,
    #[serde(default)]
    pub severity: String,
    /// check or clean.
    #[serde(default)]
    pub purpose: String,
    /// For a cleaning check: filter or tolerate (empty: from importance × severity).
    #[serde(default)]
    pub action: String,
}

async fn resource_page(
    s: &AppState,
    mut c: Chrome,
    who: &yishu_meta::Principal,
    id: i64,
    status: StatusCode,
    form: RuleForm,
) -> Response {
    c.active = "quality";
    let built: ApiResult<ResourcePage> = async {
        let r = crate::app::access::readable(s, who, id).await?;
        let may_raw = crate::app::access::may_read_raw(who, &r);
        let profiles = s.store.profiles(r.id, 30).await?;
        let newest = profiles.first();
        let mut q: Option<BatchQuality> =
            newest.and_then(|p| serde_json::from_value(p.body.clone()).ok());
        if !may_raw && let Some(q) = q.as_mut() {
            api::redact(q);
        }
        let rules = s.store.rules_of(r.id).await?;
        let name_of = |rid: i64| {
            rules
                .iter()
                .find(|v| v.rule.id == rid)
                .map(|v| v.rule.name.clone())
                .unwrap_or_else(|| format!("#{rid}"))
        };
        let results = match newest {
            Some(p) => s
                .store
                .batch_results(&p.batch_id)
                .await?
                .into_iter()
                .map(|x| ResultRow {
                    name: name_of(x.rule_id),
                    version: x.rule_version,
                    checked: x.checked,
                    failed: x.failed,
                    status: x.status,
                    message: x.message,
                })
                .collect(),
            None => Vec::new(),
        };
        let scores = s.store.scores(Some(r.id), None, 0).await?;
        let latest_score = scores.last();
        let t = c.t;
        // The recent batches' profiles, oldest first, for the trends.
        let history: Vec<(i64, BatchQuality)> = profiles
            .iter()
            .rev()
            .filter_map(|p| Some((p.created_at, serde_json::from_value(p.body.clone()).ok()?)))
            .collect();
        let missing: Vec<(String, f64)> = history
            .iter()
            .map(|(at, q)| {
                (
                    fmt_time(*at)[5..16].to_string(),
                    (q.profile.missing_cell_rate() * 10_000.0).round() / 100.0,
                )
            })
            .collect();
        let field_trend = |name: &str| {
            let rates: Vec<f64> = history
                .iter()
                .filter_map(|(_, q)| q.profile.fields.iter().find(|f| f.name == name))
                .map(|f| f.missing_rate())
                .collect();
            let max = rates.iter().copied().fold(0.01, f64::max);
            svg::spark(
                &format!("{name} {}", t.t("quality.missing_trend")),
                &rates,
                max,
            )
        };
        let suggestions = api::suggestions(s, &r)
            .await?
            .into_iter()
            .map(|x| SuggestionRow {
                name: x.name,
                definition: serde_json::to_string(&x.definition).unwrap_or_default(),
                dimension: x.dimension.as_str().to_string(),
                why: x.why,
            })
            .collect();
        Ok(ResourcePage {
            id: r.id,
            name: r.meta.name.clone(),
            code: r.code.clone(),
            batch: newest.map(|p| p.batch_id.clone()),
            fields: q
                .as_ref()
                .map(|q| {
                    q.profile
                        .fields
                        .iter()
                        .map(|f| FieldRow {
                            trend: field_trend(&f.name),
                            ..field_row(f, t)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            q,
            dims: latest_score
                .map(|sc| {
                    Dimension::ALL
                        .iter()
                        .map(|d| {
                            let v = sc.dimensions.get(d.as_str()).and_then(|v| v.as_f64());
                            (dimension_label(t, d.as_str()), v)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            checked: latest_score.is_some(),
            total: latest_score.and_then(|sc| sc.total),
            score_svg: svg::line(
                t.t("quality.score_trend"),
                &scores
                    .iter()
                    .filter_map(|sc| Some((fmt_time(sc.created_at)[5..16].to_string(), sc.total?)))
                    .collect::<Vec<_>>(),
                100.0,
            ),
            missing_svg: svg::line(
                t.t("quality.missing_trend"),
                &missing,
                missing.iter().map(|m| m.1).fold(1.0, f64::max),
            ),
            results,
            rules,
            suggestions,
            may_raw,
            may_write: who.has(Role::ProviderOfficer) && who.org_id == r.meta.provider_org_id
                || who.has(Role::DataManager)
                || who.has(Role::Admin),
            form,
            c: c.hand_over(),
        })
    }
    .await;
    match built {
        Ok(p) => (status, render(&p)).into_response(),
        Err(e) => failure(c, e),
    }
}

pub async fn resource(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
) -> Response {
    let who = page.auth.who().clone();
    let form = RuleForm {
        dimension: "completeness".into(),
        importance: "medium".into(),
        severity: "medium".into(),
        ..Default::default()
    };
    resource_page(&s, page.chrome, &who, id, StatusCode::OK, form).await
}

/// Shows the resource page again after a form, with its flash or error.
async fn after<T>(
    s: &AppState,
    mut page: PageAuth<crate::auth::Quality>,
    id: i64,
    result: ApiResult<T>,
    done: &str,
    form: RuleForm,
) -> Response {
    let (status, form) = match result {
        Ok(_) => {
            page.chrome.flash = Some(page.chrome.t.t(done).to_string());
            (
                StatusCode::OK,
                RuleForm {
                    definition: String::new(),
                    name: String::new(),
                    ..form
                },
            )
        }
        Err(e) => (super::failed(&mut page.chrome, &e.0), form),
    };
    let who = page.auth.who().clone();
    resource_page(s, page.chrome, &who, id, status, form).await
}

/// The new-rule form.
pub async fn create_rule(
    State(s): State<AppState>,
    page: PageAuth<crate::auth::Quality>,
    Path(id): Path<i64>,
    Form(f): Form<RuleForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let result = async {
        let definition: serde_json::Value = serde_json::from_str(&f.definition).map_err(|e| {
            ApiError::new(
                ErrorCode::RuleInvalid,
                format!("definition is not JSON: {e}"),
            )
        })?;
        let body = RuleBody {
            definition,
            dimension: f.dimension.clone(),
            importance: f.importance.clone(),
            severity: f.severity.clone(),
            action: f.action.clone(),
        };
        let purpose = if f.purpose == "clean" {
            RulePurpose::Clean
        } else {
            RulePurpose::Check
        };
        // `create_rule` checks the caller may read the resource.
        let n = NewRule {
            resource_id: id,
            name: f.name.clone(),
            business_rule: f.business_rule.clone(),
            purpose,
            body,
        };
        api::create_rule(&s, &page.auth, &n).await.map(|_| ())
    }
    .await;
    let form = f.clone();
    after(&s, page, id, result, "quality.rule_saved", form).await
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    version: i64,
    /// business, technical, reject or retire.
    decision: String,
    #[serde(default)]
    note: String,
}

/// Approve (as business or technical owner), reject or retire a rule.
pub async fn review(
    State(s): State<AppState>,
    page: PageAuth<crate::auth::Quality>,
    Path(rule): Path<i64>,
    Form(f): Form<ReviewForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let view = match s.store.rule(rule).await {
        Ok(v) => v,
        Err(e) => return failure(page.chrome, e.into()),
    };
    let a = crate::app::audit::actor(page.auth.who());
    let result: ApiResult<RuleView> = match f.decision.as_str() {
        "business" => s
            .store
            .approve_rule(rule, f.version, ReviewSide::Business, &a)
            .await
            .map_err(Into::into),
        "technical" => s
            .store
            .approve_rule(rule, f.version, ReviewSide::Technical, &a)
            .await
            .map_err(Into::into),
        "reject" => s
            .store
            .reject_rule(rule, f.version, &f.note, &a)
            .await
            .map_err(Into::into),
        "retire" => s.store.retire_rule(rule, &a).await.map_err(Into::into),
        other => Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("unknown decision '{other}'"),
        )),
    };
    let result = match result {
        Ok(_) => {
            crate::app::audit::audit(
                &s,
                &page.auth,
                &format!("rule.{}", f.decision),
                format!("rule:{rule}"),
                serde_json::json!({}),
            )
            .await
        }
        Err(e) => Err(e),
    };
    let id = view.rule.resource_id;
    after(
        &s,
        page,
        id,
        result,
        "quality.reviewed",
        RuleForm::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct SuggestionForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    name: String,
    definition: String,
    dimension: String,
    /// accept or discard.
    decision: String,
}

/// Accept a suggestion (a rule goes to review) or discard it.
pub async fn suggestion(
    State(s): State<AppState>,
    page: PageAuth<crate::auth::Quality>,
    Path(id): Path<i64>,
    Form(f): Form<SuggestionForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let result: ApiResult<()> = async {
        let r = crate::app::access::readable(&s, page.auth.who(), id).await?;
        let definition: serde_json::Value = serde_json::from_str(&f.definition)
            .map_err(|e| ApiError::new(ErrorCode::RuleInvalid, format!("definition: {e}")))?;
        if f.decision == "discard" {
            s.store
                .discard_suggestion(r.id, &definition, page.auth.who().user_id)
                .await?;
            return Ok(());
        }
        let body = RuleBody {
            definition,
            dimension: f.dimension.clone(),
            importance: "medium".into(),
            severity: "medium".into(),
            action: String::new(),
        };
        let n = NewRule {
            resource_id: r.id,
            name: f.name.clone(),
            business_rule: String::new(),
            purpose: RulePurpose::Check,
            body,
        };
        api::create_rule(&s, &page.auth, &n).await.map(|_| ())
    }
    .await;
    after(
        &s,
        page,
        id,
        result,
        "quality.suggestion_done",
        RuleForm::default(),
    )
    .await
}

#[derive(Template)]
#[template(path = "std.html")]
struct StdRows {
    c: Chrome,
    id: i64,
    name: String,
    table: String,
    headings: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// The newest rows of a resource's std table, with lineage and the fixes applied (provider and
/// bureau only: they are the data itself).
pub async fn std_rows(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
) -> Response {
    page.chrome.active = "quality";
    let who = page.auth.who().clone();
    let built: ApiResult<StdRows> = async {
        let r = crate::app::access::readable(&s, &who, id).await?;
        let ch = page.auth.meta.channel("page");
        let plan = crate::app::access::raw_plan(&s, &who, &ch, &r).await?;
        let table = r.table();
        let yishu_lake::TextRows { headings, rows } =
            yishu_quality::clean::newest_std_rows(&s.lake, &table, 100).await?;
        crate::app::share::read_done(&s, &who, &ch, &plan, rows.len(), &[]).await?;
        Ok(StdRows {
            c: page.chrome.hand_over(),
            id: r.id,
            name: r.meta.name.clone(),
            table,
            headings,
            rows,
        })
    }
    .await;
    match built {
        Ok(p) => render(&p),
        Err(e) => failure(page.chrome, e),
    }
}
