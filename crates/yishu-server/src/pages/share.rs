//! The sharing pages: applying for a resource, my applications, those waiting for my decision and
//! the bureau's overview with timings, one application with its steps and the decision form, and
//! the grants with their one-click suspension.

use super::{Chrome, PageAuth, csrf_refused, one, render};
use crate::AppState;
use crate::app::audit::audited;
use crate::app::share::{self, Listing, is_bureau, workflow};
use crate::auth::SignedIn;
use crate::error::ApiError;
use crate::pages::quality::failure;
use crate::time::fmt_time;
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use yishu_meta::now_ms;
use yishu_meta::share::{Application, Grant, Step};
use yishu_meta::{Principal, Store};
use yishu_share::Mask;
use yishu_share::application::{Apply, Decision};
use yishu_share::target::{Target, resolve};
use yishu_types::{OrgId, Role};

/// Chinese and English names of an application's status.
fn status_label(c: &Chrome, status: &str) -> String {
    c.t.t(&format!("share.status.{status}")).to_string()
}

/// Names of departments and targets for tables.
struct Names {
    orgs: HashMap<OrgId, String>,
    targets: HashMap<String, String>,
}

impl Names {
    async fn load(store: &Store) -> Names {
        let orgs = store
            .list_orgs()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        Names {
            orgs,
            targets: HashMap::new(),
        }
    }

    fn org(&self, id: OrgId) -> String {
        self.orgs
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.0.to_string())
    }

    async fn target(&mut self, store: &Store, target: &str) -> String {
        if let Some(n) = self.targets.get(target) {
            return n.clone();
        }
        let name = match Target::parse(target) {
            Ok(Target::Resource(id)) => store
                .get_resource(id)
                .await
                .map(|r| r.meta.name)
                .unwrap_or_else(|_| target.to_string()),
            Ok(Target::Base(k)) => format!("{}基础库", k.label_zh()),
            Ok(Target::Service(name)) => format!("数据服务 {name}"),
            Ok(Target::Verify(k)) => format!("{}基础库核验", k.label_zh()),
            Err(_) => target.to_string(),
        };
        self.targets.insert(target.to_string(), name.clone());
        name
    }
}

pub struct AppRow {
    pub a: Application,
    pub target: String,
    pub consumer: String,
    pub provider: String,
    pub status: String,
    pub applied: String,
    pub due: String,
    pub overdue: bool,
    /// Hours from application to its last change.
    pub hours: String,
}

async fn app_rows(c: &Chrome, store: &Store, apps: Vec<Application>) -> Vec<AppRow> {
    let mut names = Names::load(store).await;
    let now = now_ms();
    let mut out = Vec::new();
    for a in apps {
        let open = matches!(a.status.as_str(), "submitted" | "provider_approved");
        out.push(AppRow {
            target: names.target(store, &a.target).await,
            consumer: names.org(a.consumer_org_id),
            provider: names.org(a.provider_org_id),
            status: status_label(c, &a.status),
            applied: fmt_time(a.created_at),
            due: a.step_deadline.map(fmt_time).unwrap_or_default(),
            overdue: open && a.step_deadline.is_some_and(|d| d < now),
            hours: format!(
                "{:.1}",
                ((if open { now } else { a.updated_at }) - a.created_at) as f64 / 3_600_000.0
            ),
            a,
        });
    }
    out
}

#[derive(Template)]
#[template(path = "share_applications.html")]
struct Applications {
    c: Chrome,
    list: &'static str,
    rows: Vec<AppRow>,
    bureau: bool,
    /// (status label, count, mean hours to the last change)
    timings: Vec<(String, usize, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    list: Option<String>,
}

pub async fn applications(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Query(q): Query<ListQuery>,
) -> Response {
    page.chrome.active = "share";
    let who = page.auth.who().clone();
    let which = q
        .list
        .as_deref()
        .and_then(Listing::parse)
        .unwrap_or_default();
    let list = match which {
        Listing::Mine => "mine",
        Listing::ToDecide => "to_decide",
        Listing::All => "all",
    };
    let apps = match share::applications(&s, &who, which, None).await {
        Ok(a) => a,
        Err(e) => return failure(page.chrome, e),
    };
    let rows = app_rows(&page.chrome, &s.store, apps).await;
    let mut by_status: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    if which == Listing::All {
        for r in &rows {
            let e = by_status.entry(r.status.clone()).or_default();
            e.0 += 1;
            e.1 += r.hours.parse::<f64>().unwrap_or(0.0);
        }
    }
    let timings = by_status
        .into_iter()
        .map(|(k, (n, h))| (k, n, format!("{:.1}", h / n.max(1) as f64)))
        .collect();
    render(&Applications {
        list,
        rows,
        bureau: is_bureau(&who),
        timings,
        c: page.chrome,
    })
}

#[derive(Template)]
#[template(path = "share_apply.html")]
struct ApplyPage {
    c: Chrome,
    target: String,
    name: String,
    provider: String,
    share_type: String,
    items: Vec<String>,
    today: String,
    next_year: String,
}

#[derive(Debug, Deserialize)]
pub struct ApplyQuery {
    target: String,
}

pub async fn apply_form(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Query(q): Query<ApplyQuery>,
) -> Response {
    page.chrome.active = "share";
    let r = match Target::parse(&q.target) {
        Ok(t) => resolve(&s.store, &s.lake, t).await,
        Err(e) => Err(e),
    };
    let r = match r {
        Ok(r) => r,
        Err(e) => return failure(page.chrome, e.into()),
    };
    let provider = Names::load(&s.store).await.org(r.source.provider_org);
    let day = |ms: i64| fmt_time(ms).chars().take(10).collect::<String>();
    let now = now_ms();
    render(&ApplyPage {
        target: r.target.as_string(),
        name: r.name.clone(),
        provider,
        share_type: r.share_type.label_zh().to_string(),
        items: r.source.names(),
        today: day(now),
        next_year: day(now + 365 * 86_400_000),
        c: page.chrome,
    })
}

/// Form fields repeated by name (`items`) arrive as a list.
fn list(form: &[(String, String)], name: &str) -> Vec<String> {
    form.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

/// A date field (YYYY-MM-DD) as the start of that day, China time.
fn day_ms(v: &str) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").ok()?;
    let t = d.and_hms_opt(0, 0, 0)?;
    Some(t.and_utc().timestamp_millis() - 8 * 3_600_000)
}

pub async fn apply(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !page.csrf_ok(&one(&form, "_csrf")) {
        return csrf_refused();
    }
    page.chrome.active = "share";
    let a = Apply {
        target: one(&form, "target"),
        items: list(&form, "items"),
        purpose: one(&form, "purpose"),
        legal_basis: one(&form, "legal_basis"),
        scenario: one(&form, "scenario"),
        period_from: day_ms(&one(&form, "period_from")).unwrap_or(0),
        period_to: day_ms(&one(&form, "period_to")).map_or(0, |d| d + 86_400_000 - 1),
        expected_volume: one(&form, "expected_volume"),
        contact: one(&form, "contact"),
    };
    let done = workflow(&s)
        .apply(page.auth.who(), &a, now_ms())
        .await
        .map_err(ApiError::from);
    let detail = json!({"target": a.target, "items": a.items, "purpose": a.purpose});
    match audited(
        &s,
        &page.auth,
        "share.apply",
        a.target.clone(),
        detail,
        done,
    )
    .await
    {
        Ok(app) => Redirect::to(&format!("/console/share/applications/{}", app.id)).into_response(),
        Err(e) => failure(page.chrome, e),
    }
}

pub struct StepRow {
    pub s: Step,
    pub at: String,
    pub who: String,
    pub due: String,
}

#[derive(Template)]
#[template(path = "share_application.html")]
struct OneApplication {
    c: Chrome,
    row: AppRow,
    period: String,
    steps: Vec<StepRow>,
    /// provider, bureau or empty: which decision the caller may take now.
    decide: &'static str,
    may_withdraw: bool,
    /// (item, its default mask) for the provider's form.
    masks: Vec<(String, &'static str)>,
    mask_choices: Vec<(&'static str, &'static str)>,
    terms: String,
}

async fn application_page(
    s: &AppState,
    mut c: Chrome,
    who: &Principal,
    id: i64,
    status: StatusCode,
) -> Response {
    c.active = "share";
    let d = match share::application(s, who, id).await {
        Ok(d) => d,
        Err(e) => return failure(c, e),
    };
    let a = &d.application;
    let decide = match a.status.as_str() {
        "submitted" if a.provider_org_id == who.org_id => "provider",
        "provider_approved" if who.has(Role::DataManager) => "bureau",
        _ => "",
    };
    let may_withdraw = a.consumer_org_id == who.org_id
        && matches!(a.status.as_str(), "submitted" | "provider_approved");
    let masks = a
        .items
        .iter()
        .map(|i| (i.clone(), Mask::default_for(i, "").as_str()))
        .collect();
    let mask_choices = super::mask_choices(c.t);
    let terms = if a.terms.per_minute > 0 {
        format!(
            "{} · {} · {}/min · {}/day · {}",
            if a.terms.row_filter.is_empty() {
                "—"
            } else {
                &a.terms.row_filter
            },
            a.terms
                .masks
                .iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect::<Vec<_>>()
                .join(", "),
            a.terms.per_minute,
            a.terms.rows_per_day,
            fmt_time(a.terms.expires_at)
        )
    } else {
        String::new()
    };
    let period = format!("{} — {}", fmt_time(a.period_from), fmt_time(a.period_to));
    let names = Names::load(&s.store).await;
    let steps = d
        .steps
        .iter()
        .map(|st| StepRow {
            at: fmt_time(st.at),
            who: st
                .org_id
                .map(|o| names.org(o))
                .unwrap_or_else(|| c.t.t("share.system").into()),
            due: st.deadline.map(fmt_time).unwrap_or_default(),
            s: st.clone(),
        })
        .collect();
    let row = app_rows(&c, &s.store, vec![d.application.clone()])
        .await
        .remove(0);
    (
        status,
        render(&OneApplication {
            row,
            period,
            steps,
            decide,
            may_withdraw,
            masks,
            mask_choices,
            terms,
            c,
        }),
    )
        .into_response()
}

pub async fn application(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
) -> Response {
    let who = page.auth.who().clone();
    application_page(&s, page.chrome, &who, id, StatusCode::OK).await
}

pub async fn decide(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !page.csrf_ok(&one(&form, "_csrf")) {
        return csrf_refused();
    }
    let num = |k: &str| one(&form, k).trim().parse::<i64>().ok();
    let d = Decision {
        approve: one(&form, "approve") == "yes",
        reason: one(&form, "reason"),
        row_filter: Some(one(&form, "row_filter")).filter(|f| !f.trim().is_empty()),
        masks: form
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("mask.")?.to_string(), v.clone())))
            .collect(),
        per_minute: num("per_minute"),
        rows_per_day: num("rows_per_day"),
        expires_at: day_ms(&one(&form, "expires_at")).map(|d| d + 86_400_000 - 1),
    };
    let flow = workflow(&s);
    let who = page.auth.who().clone();
    let done = match s.store.application(id).await {
        Ok(a) if a.status == "provider_approved" => flow.bureau_decide(&who, id, &d).await,
        Ok(_) => flow.provider_decide(&who, id, &d, now_ms()).await,
        Err(e) => Err(e),
    }
    .map_err(ApiError::from);
    let detail = json!({"approve": d.approve, "reason": d.reason, "row_filter": d.row_filter, "masks": d.masks});
    let status = match audited(
        &s,
        &page.auth,
        "share.decide",
        format!("application:{id}"),
        detail,
        done,
    )
    .await
    {
        Ok(_) => {
            page.chrome.flash = Some(page.chrome.t.t("share.decided").to_string());
            StatusCode::OK
        }
        Err(e) => super::failed(&mut page.chrome, &e.0),
    };
    application_page(&s, page.chrome, &who, id, status).await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: String,
}

pub async fn withdraw(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let who = page.auth.who().clone();
    let done = workflow(&s)
        .withdraw(&who, id)
        .await
        .map_err(ApiError::from);
    let status = match audited(
        &s,
        &page.auth,
        "share.withdraw",
        format!("application:{id}"),
        json!({}),
        done,
    )
    .await
    {
        Ok(_) => StatusCode::OK,
        Err(e) => super::failed(&mut page.chrome, &e.0),
    };
    application_page(&s, page.chrome, &who, id, status).await
}

pub struct GrantRow {
    pub g: Grant,
    pub target: String,
    pub consumer: String,
    pub provider: String,
    pub expires: String,
    pub status: String,
    pub may_control: bool,
}

#[derive(Template)]
#[template(path = "share_grants.html")]
struct Grants {
    c: Chrome,
    rows: Vec<GrantRow>,
}

async fn grants_page(s: &AppState, mut c: Chrome, who: &Principal, status: StatusCode) -> Response {
    c.active = "share";
    let list = match share::grants(s, who).await {
        Ok(l) => l,
        Err(e) => return failure(c, e),
    };
    let mut names = Names::load(&s.store).await;
    let mut rows = Vec::new();
    for g in list {
        rows.push(GrantRow {
            target: names.target(&s.store, &g.target).await,
            consumer: names.org(g.consumer_org_id),
            provider: names.org(g.provider_org_id),
            expires: fmt_time(g.expires_at),
            status: c.t.t(&format!("share.grant.{}", g.status)).to_string(),
            may_control: who.has(Role::DataManager) || g.provider_org_id == who.org_id,
            g,
        });
    }
    (status, render(&Grants { rows, c })).into_response()
}

pub async fn grants(State(s): State<AppState>, page: PageAuth<SignedIn>) -> Response {
    let who = page.auth.who().clone();
    grants_page(&s, page.chrome, &who, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    status: String,
    #[serde(default)]
    reason: String,
}

pub async fn set_grant_status(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
    Form(f): Form<StatusForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let who = page.auth.who().clone();
    let done = share::set_grant_status(&s, &who, id, &f.status, &f.reason).await;
    let detail = json!({"status": f.status, "reason": f.reason});
    let status = match audited(
        &s,
        &page.auth,
        "grant.status",
        format!("grant:{id}"),
        detail,
        done,
    )
    .await
    {
        Ok(_) => {
            page.chrome.flash = Some(page.chrome.t.t("share.grant_changed").to_string());
            StatusCode::OK
        }
        Err(e) => super::failed(&mut page.chrome, &e.0),
    };
    grants_page(&s, page.chrome, &who, status).await
}

/// One grant's use, as the usage page shows it.
pub struct UsageRow {
    pub grant: i64,
    pub target: String,
    pub consumer: String,
    pub status: String,
    pub purpose: String,
    pub calls: i64,
    pub rows: i64,
    pub refused: i64,
    pub last: String,
    /// An inline SVG of the calls of each of the last 30 days.
    pub trend: String,
}

/// A read of one person's record.
pub struct ReadRow {
    pub when: String,
    pub reader: String,
    pub org: String,
    pub target: String,
    pub purpose: String,
    pub channel: String,
}

#[derive(Template)]
#[template(path = "share_usage.html")]
struct Usage {
    c: Chrome,
    rows: Vec<UsageRow>,
    may_ask: bool,
    asked: bool,
    key: String,
    reads: Vec<ReadRow>,
}

#[derive(Deserialize)]
pub struct WhoReadForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    key: String,
}

/// The calls of each of the `days` days up to today (oldest first), from a usage's by-day counts.
fn daily(by_day: &[(String, i64)], days: i64) -> Vec<f64> {
    let today = chrono::Utc::now() + chrono::Duration::hours(8);
    (0..days)
        .rev()
        .map(|back| {
            let d = (today - chrono::Duration::days(back))
                .format("%Y-%m-%d")
                .to_string();
            by_day
                .iter()
                .find(|(day, _)| *day == d)
                .map_or(0.0, |(_, n)| *n as f64)
        })
        .collect()
}

/// Who used my data: the grants my department gives (every grant for the bureau) with calls,
/// rows, refusals, last use and a 30-day trend.
pub async fn usage(State(s): State<AppState>, page: PageAuth<SignedIn>) -> Response {
    usage_page(&s, page, String::new()).await
}

/// Who read one person's record in the last 90 days, for the bureau and the auditor: posted, so
/// the number stays out of addresses and logs; the question is audited.
pub async fn who_read(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    Form(f): Form<WhoReadForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    usage_page(&s, page, f.key).await
}

async fn usage_page(s: &AppState, mut page: PageAuth<SignedIn>, key: String) -> Response {
    page.chrome.active = "share";
    let who = page.auth.who().clone();
    let list = match share::usage(s, &who, 30).await {
        Ok(l) => l,
        Err(e) => return failure(page.chrome, e),
    };
    let mut names = Names::load(&s.store).await;
    let mut rows = Vec::new();
    for u in list {
        let days = daily(&u.by_day, 30);
        let max = days.iter().copied().fold(0.0, f64::max);
        let title = format!("{}: {}", page.chrome.t.t("share.trend"), u.calls);
        rows.push(UsageRow {
            grant: u.grant.id,
            target: names.target(&s.store, &u.grant.target).await,
            consumer: names.org(u.grant.consumer_org_id),
            status: page
                .chrome
                .t
                .t(&format!("share.grant.{}", u.grant.status))
                .to_string(),
            purpose: u.grant.purpose.clone(),
            calls: u.calls,
            rows: u.rows,
            refused: u.refused,
            last: u.last_at.map(fmt_time).unwrap_or_default(),
            trend: crate::svg::spark(&title, &days, max),
        });
    }
    let may_ask = <crate::auth::WhoRead as crate::auth::Right>::ROLES
        .iter()
        .any(|r| who.has(*r));
    let key = key.trim().to_string();
    let asked = may_ask && !key.is_empty();
    let mut reads = Vec::new();
    if asked {
        let since = now_ms() - 90 * 86_400_000;
        let found = yishu_share::usage::who_read(&s.store, &key, since)
            .await
            .map_err(ApiError::from);
        let detail =
            json!({"days": 90, "subject": yishu_share::audit::subject_digest(&s.store, &key)});
        match audited(
            s,
            &page.auth,
            "share.who_read",
            "subject".into(),
            detail,
            found,
        )
        .await
        {
            Ok(found) => {
                for r in found {
                    let d = yishu_share::audit::detail(&r);
                    let text = |k: &str| d[k].as_str().unwrap_or_default().to_string();
                    reads.push(ReadRow {
                        when: fmt_time(r.at),
                        reader: r.actor_name.clone(),
                        org: r.org_id.map(|o| names.org(o)).unwrap_or_default(),
                        target: names.target(&s.store, &text("target")).await,
                        purpose: text("purpose"),
                        channel: text("channel"),
                    });
                }
            }
            Err(e) => {
                super::failed(&mut page.chrome, &e.0);
            }
        }
    }
    render(&Usage {
        c: page.chrome,
        rows,
        may_ask,
        asked,
        key,
        reads,
    })
}
