//! The open data portal (数据开放门户, R33): public pages without sign-in — the home page
//! (newest, most used, recently updated, by department, by theme), search with facets, a
//! dataset's page (metadata, items, a preview as a table and a chart drawn here, downloads, an
//! API example, its history) and a department's page. Readable without JavaScript; every value
//! is escaped by the templates; previews pass the gate like any open read.

use super::{lang, render};
use crate::AppState;
use crate::app::open::{Catalog, Clause, FORMATS, org_slug, slug};
use crate::app::open_read::{self, Reader};
use crate::i18n::Tr;
use crate::time::fmt_time;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use yishu_meta::catalog::{OpenType, Resource};
use yishu_meta::open::{OpeningEvent, OpeningStatus};
use yishu_types::ErrorCode;

/// Datasets a search page lists.
const PER_PAGE: usize = 20;

/// A dataset as lists show it.
pub struct Card {
    pub name: String,
    pub title: String,
    pub summary: String,
    pub org: String,
    pub org_slug: String,
    pub updated: String,
    pub open_type: String,
    pub conditional: bool,
    pub uses: i64,
}

impl Card {
    fn of(c: &Catalog, r: &Resource, t: Tr) -> Card {
        let org = c.orgs.get(&r.meta.provider_org_id);
        let o = c.openings.get(&r.id);
        Card {
            name: slug(&r.code),
            title: r.meta.name.clone(),
            summary: r.meta.summary.chars().take(120).collect(),
            org: org.map(|o| o.name.clone()).unwrap_or_default(),
            org_slug: org.map(org_slug).unwrap_or_default(),
            updated: fmt_time(updated(c, r)),
            open_type: r.meta.open_type.label(t.en()).into(),
            conditional: r.meta.open_type == OpenType::Conditional,
            uses: o.map_or(0, |o| o.downloads + o.calls),
        }
    }
}

/// A facet value's English label, for the fields whose values are the catalog's closed sets.
fn english_label(t: Tr, field: &str, value: &str) -> Option<String> {
    if !t.en() {
        return None;
    }
    match field {
        "open_type" => OpenType::parse(value).map(|v| v.label_en().into()),
        "class_kind" => yishu_meta::catalog::ClassKind::parse(value).map(|v| v.label_en().into()),
        _ => None,
    }
}

fn updated(c: &Catalog, r: &Resource) -> i64 {
    c.modified(r)
}

/// A facet value with the link that selects or clears it.
pub struct FacetLink {
    pub label: String,
    pub count: usize,
    pub href: String,
    pub selected: bool,
}

pub struct Facet {
    pub title: &'static str,
    pub links: Vec<FacetLink>,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct Home {
    t: Tr,
    datasets: usize,
    departments: usize,
    uses: i64,
    newest: Vec<Card>,
    hottest: Vec<Card>,
    recent: Vec<Card>,
    orgs: Vec<(String, String, usize)>,
    themes: Vec<(String, usize)>,
}

/// `/`: the portal's home page.
pub async fn home(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let t = lang(&headers);
    let c = match Catalog::current(&s).await {
        Ok(c) => c,
        Err(e) => return failed(t, e),
    };
    let h = c.home_lists();
    let cards = |ids: &[usize]| {
        ids.iter()
            .map(|n| Card::of(&c, &c.datasets[*n], t))
            .collect()
    };
    let (newest, hottest, recent) = (cards(&h.newest), cards(&h.hottest), cards(&h.recent));
    let orgs = h
        .orgs
        .iter()
        .map(|((n, l), k)| (n.clone(), l.clone(), *k))
        .collect();
    let themes = h.themes.iter().map(|((n, _), k)| (n.clone(), *k)).collect();
    render(&Home {
        t,
        datasets: c.datasets.len(),
        departments: c.providers().len(),
        uses: c
            .openings
            .values()
            .filter(|o| o.status == OpeningStatus::Open)
            .map(|o| o.downloads + o.calls)
            .sum(),
        newest,
        hottest,
        recent,
        orgs,
        themes,
    })
}

/// What a search asks.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub org: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default, rename = "type")]
    pub open_type: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub page: String,
}

impl SearchQuery {
    /// This search's address with `key` set to `value` (empty: cleared), back on page 1.
    fn with(&self, key: &str, value: &str) -> String {
        let mut u = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &self.q),
            ("org", &self.org),
            ("tag", &self.tag),
            ("type", &self.open_type),
            ("kind", &self.kind),
            ("sort", &self.sort),
        ] {
            let v = if k == key { value } else { v.as_str() };
            if !v.is_empty() {
                u.append_pair(k, v);
            }
        }
        format!("/open/datasets?{}", u.finish())
    }

    fn page(&self) -> usize {
        self.page
            .trim()
            .parse::<usize>()
            .unwrap_or(1)
            .clamp(1, 10_000)
    }
}

#[derive(Template)]
#[template(path = "open_search.html")]
struct SearchPage {
    t: Tr,
    q: SearchQuery,
    count: usize,
    cards: Vec<Card>,
    facets: Vec<Facet>,
    sorts: Vec<(&'static str, &'static str, String, bool)>,
    prev: Option<String>,
    next: Option<String>,
    page: usize,
}

/// `/open/datasets`: search with facets by department, theme, open type and kind.
pub async fn search(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> Response {
    let t = lang(&headers);
    let c = match Catalog::current(&s).await {
        Ok(c) => c,
        Err(e) => return failed(t, e),
    };
    let ranked = match c.ranked(&s, &q.q) {
        Ok(r) => r,
        Err(e) => return failed(t, e),
    };
    let clauses: Vec<Clause> = [
        ("organization", &q.org),
        ("tags", &q.tag),
        ("open_type", &q.open_type),
        ("class_kind", &q.kind),
    ]
    .into_iter()
    .filter(|(_, v)| !v.trim().is_empty())
    .map(|(k, v)| Clause::Is(k.into(), v.trim().to_string()))
    .collect();
    let mut matched = c.matching(ranked.as_ref(), &clauses);
    match q.sort.as_str() {
        "updated" => matched.sort_by_key(|(_, r)| std::cmp::Reverse((updated(&c, r), r.id))),
        "newest" => matched.sort_by_key(|(_, r)| {
            std::cmp::Reverse((c.openings.get(&r.id).map_or(0, |o| o.opened_at), r.id))
        }),
        "uses" => matched.sort_by_key(|(_, r)| {
            std::cmp::Reverse((
                c.openings.get(&r.id).map_or(0, |o| o.downloads + o.calls),
                r.id,
            ))
        }),
        _ => matched.sort_by_key(|(rank, r)| (*rank, std::cmp::Reverse(updated(&c, r)))),
    }
    let facet = |title: &'static str, field: &str, key: &str, current: &str| Facet {
        title,
        links: c
            .facet(&matched, field, 1, 30)
            .into_iter()
            .map(|((name, label), count)| FacetLink {
                selected: name == current,
                href: q.with(key, if name == current { "" } else { &name }),
                label: english_label(t, field, &name).unwrap_or(label),
                count,
            })
            .collect(),
    };
    let facets = vec![
        facet("open.by_org", "organization", "org", &q.org),
        facet("open.by_theme", "tags", "tag", &q.tag),
        facet("open.open_type", "open_type", "type", &q.open_type),
        facet("open.class_kind", "class_kind", "kind", &q.kind),
    ];
    let page = q.page();
    let count = matched.len();
    let cards = matched
        .iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .map(|(_, r)| Card::of(&c, r, t))
        .collect();
    let at = |p: usize| {
        let mut h = q.with("", "");
        h.push_str(&format!("&page={p}"));
        h
    };
    let sorts = [
        ("", "open.sort_relevance"),
        ("updated", "open.sort_updated"),
        ("newest", "open.sort_newest"),
        ("uses", "open.sort_uses"),
    ]
    .into_iter()
    .map(|(k, label)| (k, label, q.with("sort", k), q.sort == k))
    .collect();
    render(&SearchPage {
        t,
        count,
        cards,
        facets,
        sorts,
        prev: (page > 1).then(|| at(page - 1)),
        next: (page * PER_PAGE < count).then(|| at(page + 1)),
        page,
        q,
    })
}

/// An item as the dataset page lists it.
pub struct ItemRow {
    pub name: String,
    pub kind: String,
    pub description: String,
    pub masked: bool,
}

#[derive(Template)]
#[template(path = "open_dataset.html")]
struct DatasetPage {
    t: Tr,
    name: String,
    r: Resource,
    org: String,
    org_slug: String,
    status: OpeningStatus,
    reason: String,
    opened: String,
    updated: String,
    downloads: i64,
    calls: i64,
    items: Vec<ItemRow>,
    /// The preview's headings and first rows, or why there is none.
    preview: Option<(Vec<String>, Vec<Vec<String>>)>,
    notice: String,
    total: u64,
    chart: String,
    formats: Vec<(String, String)>,
    events: Vec<OpeningEvent>,
    example: String,
    /// The signed-in reader's session token, for the application form (conditional datasets).
    csrf: Option<String>,
    /// The reader's applications for this dataset (status, expiry), newest first.
    applied: Vec<(String, String)>,
    /// The average of the shown ratings and how many there are, and their comments.
    rating: Option<(String, usize)>,
    comments: Vec<(i64, String, String)>,
}

impl DatasetPage {
    fn time(&self, ms: &i64) -> String {
        fmt_time(*ms)
    }

    fn event_key(&self, event: &str) -> &'static str {
        match event {
            "opened" => "open.ev_opened",
            "updated" => "open.ev_updated",
            "reopened" => "open.ev_reopened",
            "withdrawn" => "open.ev_withdrawn",
            _ => "open.ev_destroyed",
        }
    }
}

/// Rows the preview table shows, and rows its chart counts.
const PREVIEW_ROWS: usize = 10;
const CHART_ROWS: usize = 200;

/// `/open/datasets/{name}`: a dataset's page; a withdrawn or destroyed one's record (410).
pub async fn dataset(
    State(s): State<AppState>,
    headers: HeaderMap,
    reader: Result<Reader, crate::error::ApiError>,
    Path(name): Path<String>,
) -> Response {
    let t = lang(&headers);
    let c = match Catalog::current(&s).await {
        Ok(c) => c,
        Err(e) => return failed(t, e),
    };
    let Some((r, o)) = c.lookup(&name) else {
        return failed(
            t,
            yishu_types::Error::new(
                ErrorCode::DatasetNotFound,
                format!("no open dataset named '{name}'"),
            ),
        );
    };
    let org = c.orgs.get(&r.meta.provider_org_id);
    let open = o.status == OpeningStatus::Open;
    let (mut preview, mut notice, mut total, mut chart) = (None, String::new(), 0, String::new());
    let mut masked_items = std::collections::BTreeSet::new();
    let mut shown_items: Option<Vec<String>> = None;
    if open {
        match &reader {
            Ok(reader) => {
                let q = yishu_share::read::Query {
                    limit: CHART_ROWS,
                    total: true,
                    ..Default::default()
                };
                match open_read::query(&s, reader, &name, Vec::new(), &[], q, "open_page").await {
                    Ok(found) => {
                        total = found.total.unwrap_or(0);
                        chart = chart_of(t, &found.items, &found.rows, &found.masked);
                        masked_items = found.masked.iter().cloned().collect();
                        shown_items = Some(found.items.clone());
                        preview = Some((
                            found.items,
                            found.rows.into_iter().take(PREVIEW_ROWS).collect(),
                        ));
                    }
                    Err(e) => notice = e.0.message,
                }
            }
            Err(e) => notice = e.0.message.clone(),
        }
    }
    let items = r
        .meta
        .items
        .iter()
        .filter(|i| {
            shown_items
                .as_ref()
                .is_none_or(|shown| shown.contains(&i.name))
        })
        .map(|i| ItemRow {
            name: i.name.clone(),
            kind: yishu_meta::catalog::ITEM_TYPES
                .iter()
                .find(|(code, _)| *code == i.item_type)
                .map_or_else(|| i.item_type.clone(), |(_, label)| label.to_string()),
            description: i.description.clone(),
            masked: masked_items.contains(&i.name),
        })
        .collect();
    let shown = s
        .store
        .ratings(Some(r.id), Some("shown"))
        .await
        .unwrap_or_default();
    let rating = (!shown.is_empty()).then(|| {
        let avg = shown.iter().map(|x| x.stars as f64).sum::<f64>() / shown.len() as f64;
        (format!("{avg:.1}"), shown.len())
    });
    let comments = shown
        .iter()
        .filter(|x| !x.comment.is_empty())
        .map(|x| (x.stars, x.comment.clone(), fmt_time(x.created_at)))
        .collect();
    let (csrf, applied) = match &reader {
        Ok(rd) if rd.user.is_some() && r.meta.open_type == OpenType::Conditional => {
            let uid = rd.user.as_ref().map(|u| u.user_id);
            let mine = s
                .store
                .open_accesses(uid, Some(r.id))
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|a| {
                    let until = if a.status == "granted" {
                        fmt_time(a.expires_at)
                    } else {
                        a.reason.clone()
                    };
                    (a.status, until)
                })
                .collect();
            (rd.csrf.clone(), mine)
        }
        _ => (None, Vec::new()),
    };
    let name = slug(&r.code);
    let page = DatasetPage {
        csrf,
        applied,
        rating,
        comments,
        t,
        example: format!(
            "curl '/api/3/action/datastore_search?resource_id={name}&limit=5'\nckanapi action package_show id={name} -r http://<host>"
        ),
        formats: FORMATS
            .iter()
            .map(|f| {
                let ext = f.to_ascii_lowercase();
                (
                    f.to_string(),
                    format!("/open/datasets/{name}/download.{ext}"),
                )
            })
            .collect(),
        events: s.store.opening_events(r.id).await.unwrap_or_default(),
        name,
        org: org.map(|o| o.name.clone()).unwrap_or_default(),
        org_slug: org.map(org_slug).unwrap_or_default(),
        status: o.status,
        reason: o.reason.clone(),
        opened: fmt_time(o.opened_at),
        updated: fmt_time(updated(&c, r)),
        downloads: o.downloads,
        calls: o.calls,
        items,
        preview,
        notice,
        total,
        chart,
        r: r.clone(),
    };
    let status = if open {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    (status, render(&page)).into_response()
}

/// A bar chart of the most frequent values of the first clear item with few distinct values in
/// the sample (a district, a type, a status), or nothing when no item has.
fn chart_of(t: Tr, items: &[String], rows: &[Vec<String>], masked: &[String]) -> String {
    for (n, item) in items.iter().enumerate() {
        if masked.contains(item) {
            continue;
        }
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for r in rows {
            let v = r.get(n).map_or("", String::as_str);
            if !v.is_empty() {
                *counts.entry(v).or_default() += 1;
            }
        }
        if counts.len() >= 2 && counts.len() <= 12 && counts.values().sum::<usize>() >= 5 {
            let mut bars: Vec<(String, f64)> = counts
                .into_iter()
                .map(|(k, v)| (k.chars().take(12).collect(), v as f64))
                .collect();
            bars.sort_by(|a, b| b.1.total_cmp(&a.1));
            let max = bars.first().map_or(1.0, |b| b.1);
            return crate::svg::bars(
                &format!(
                    "{}：{item}（{} {}）",
                    t.t("open.chart"),
                    rows.len(),
                    t.t("open.rows")
                ),
                &bars,
                max,
            );
        }
    }
    String::new()
}

#[derive(Template)]
#[template(path = "open_org.html")]
struct OrgPage {
    t: Tr,
    name: String,
    slug: String,
    cards: Vec<Card>,
}

/// `/open/orgs/{slug}`: a department's open datasets.
pub async fn org(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let t = lang(&headers);
    let c = match Catalog::current(&s).await {
        Ok(c) => c,
        Err(e) => return failed(t, e),
    };
    let Some(o) = c
        .org_by_name(&name)
        .filter(|o| c.datasets.iter().any(|r| r.meta.provider_org_id == o.id))
    else {
        return failed(
            t,
            yishu_types::Error::new(
                ErrorCode::OrgNotFound,
                format!("no department '{name}' with open data"),
            ),
        );
    };
    let cards = c
        .datasets
        .iter()
        .filter(|r| r.meta.provider_org_id == o.id)
        .map(|r| Card::of(&c, r, t))
        .collect();
    render(&OrgPage {
        t,
        name: o.name.clone(),
        slug: org_slug(o),
        cards,
    })
}

#[derive(Template)]
#[template(path = "open_message.html")]
struct MessagePage {
    t: Tr,
    message: String,
}

/// A portal page for a failure, with the status of its code.
fn failed(t: Tr, e: yishu_types::Error) -> Response {
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        render(&MessagePage {
            t,
            message: e.message,
        }),
    )
        .into_response()
}

/// A demand request as the portal lists it.
pub struct RequestRow {
    pub r: yishu_meta::society::DemandRequest,
    pub org: String,
    pub created: String,
    pub due: String,
    pub answered: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "open_requests.html")]
struct RequestsPage {
    t: Tr,
    rows: Vec<RequestRow>,
    orgs: Vec<(String, String)>,
    message: String,
}

impl RequestsPage {
    fn outcome_key(&self, outcome: &str) -> &'static str {
        match outcome {
            "granted" => "open.req_granted",
            "partly" => "open.req_partly",
            _ => "open.req_refused",
        }
    }
}

async fn request_rows(s: &AppState, c: &Catalog) -> Result<Vec<RequestRow>, yishu_types::Error> {
    let now = yishu_meta::now_ms();
    Ok(s.store
        .requests(None)
        .await?
        .into_iter()
        .map(|r| RequestRow {
            org: r
                .org_id
                .and_then(|o| c.orgs.get(&o))
                .map(|o| o.name.clone())
                .unwrap_or_default(),
            created: fmt_time(r.created_at),
            due: fmt_time(r.due_at),
            answered: r.answered_at.map(fmt_time).unwrap_or_default(),
            overdue: r.overdue(now),
            r,
        })
        .collect())
}

/// `/open/requests`: every demand request with its deadline and public answer, and the form to
/// ask (no sign-in needed).
pub async fn requests(State(s): State<AppState>, headers: HeaderMap) -> Response {
    requests_page(&s, lang(&headers), String::new(), StatusCode::OK).await
}

async fn requests_page(s: &AppState, t: Tr, message: String, status: StatusCode) -> Response {
    let c = match Catalog::current(s).await {
        Ok(c) => c,
        Err(e) => return failed(t, e),
    };
    let rows = match request_rows(s, &c).await {
        Ok(r) => r,
        Err(e) => return failed(t, e),
    };
    let orgs = c
        .orgs
        .values()
        .filter(|o| o.kind == yishu_meta::OrgKind::Department && !o.code.starts_with('_'))
        .map(|o| (org_slug(o), o.name.clone()))
        .collect();
    (
        status,
        render(&RequestsPage {
            t,
            rows,
            orgs,
            message,
        }),
    )
        .into_response()
}

/// The request form.
#[derive(Debug, Deserialize)]
pub struct AskForm {
    title: String,
    description: String,
    #[serde(default)]
    org: String,
}

/// `POST /open/requests`: records the request and shows the list with it.
pub async fn ask(
    State(s): State<AppState>,
    headers: HeaderMap,
    reader: Result<Reader, crate::error::ApiError>,
    axum::extract::Form(f): axum::extract::Form<AskForm>,
) -> Response {
    let t = lang(&headers);
    let reader = match reader {
        Ok(r) => r,
        Err(e) => return failed(t, e.0),
    };
    let draft = crate::app::society::RequestDraft {
        title: f.title,
        description: f.description,
        org: f.org,
    };
    match crate::app::society::ask(&s, &reader, &draft).await {
        Ok(r) => {
            requests_page(
                &s,
                t,
                format!("{} #{}", t.t("open.asked"), r.id),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let status =
                StatusCode::from_u16(e.0.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            requests_page(&s, t, e.0.message, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "open_showcase.html")]
struct ShowcasePage {
    t: Tr,
    entries: Vec<yishu_meta::society::Showcase>,
}

/// `/open/showcase`: applications built on open data, as reviewed.
pub async fn showcase(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let t = lang(&headers);
    match s.store.showcase(Some("shown")).await {
        Ok(entries) => render(&ShowcasePage { t, entries }),
        Err(e) => failed(t, e),
    }
}

#[derive(Template)]
#[template(path = "open_evaluation.html")]
struct EvaluationPage {
    t: Tr,
    rows: Vec<crate::app::society::Openness>,
    period: String,
    from: String,
    to: String,
}

impl EvaluationPage {
    fn num(&self, v: &f64) -> String {
        format!("{v:.1}")
    }

    fn maybe(&self, v: &Option<f64>) -> String {
        v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "—".into())
    }
}

/// `/open/evaluation`: the openness evaluation per department, with its workbook.
pub async fn evaluation(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<crate::routes::society::Period>,
) -> Response {
    let t = lang(&headers);
    let (from, to, period) = match p.range() {
        Ok(r) => r,
        Err(e) => return failed(t, e),
    };
    match crate::app::society::evaluation(&s, from, to).await {
        Ok(rows) => render(&EvaluationPage {
            t,
            rows,
            period,
            from: p.from.unwrap_or_default(),
            to: p.to.unwrap_or_default(),
        }),
        Err(e) => failed(t, e.0),
    }
}

#[derive(Template)]
#[template(path = "open_register.html")]
struct RegisterPage {
    t: Tr,
    message: String,
    done: bool,
}

/// `/open/register`: developers and companies register themselves (no role inside the
/// platform: they sign in to make API keys and apply for conditionally open data).
pub async fn register_form(headers: HeaderMap) -> Response {
    render(&RegisterPage {
        t: lang(&headers),
        message: String::new(),
        done: false,
    })
}

/// The registration form.
#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    name: String,
    display_name: String,
    password: String,
    password2: String,
}

/// `POST /open/register`: a user of the public organisation, audited; a few a minute per address.
pub async fn register(
    State(s): State<AppState>,
    headers: HeaderMap,
    reader: Result<Reader, crate::error::ApiError>,
    axum::extract::Form(f): axum::extract::Form<RegisterForm>,
) -> Response {
    let t = lang(&headers);
    let done = async {
        let reader = reader.map_err(|e| e.0)?;
        let (key, _, _) = reader.limit_key();
        // Registrations draw on their own counter: five a minute per address.
        s.open_limiter
            .request(key ^ 0x5245_4749, yishu_meta::now_ms(), 5, i64::MAX / 4)
            .map_err(|(e, _)| e)?;
        if f.password != f.password2 {
            return Err(yishu_types::Error::field(
                "password2",
                "the two passwords differ",
            ));
        }
        let public = s.store.public_org().await?;
        let u = s
            .store
            .create_user(&yishu_meta::NewUser {
                name: f.name.trim().to_string(),
                display_name: Some(f.display_name.trim().to_string()).filter(|d| !d.is_empty()),
                org_id: public,
                password: f.password.clone(),
                roles: Vec::new(),
            })
            .await?;
        s.store
            .audit(&reader.meta.entry(
                None,
                "user.register",
                format!("user:{}", u.id.0),
                "ok",
                serde_json::json!({"name": u.name}).to_string(),
            ))
            .await?;
        Ok::<_, yishu_types::Error>(u)
    }
    .await;
    match done {
        Ok(u) => render(&RegisterPage {
            t,
            message: format!("{} {}", t.t("open.registered"), u.name),
            done: true,
        }),
        Err(e) => {
            let status =
                StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            (
                status,
                render(&RegisterPage {
                    t,
                    message: e.message,
                    done: false,
                }),
            )
                .into_response()
        }
    }
}

/// The application form.
#[derive(Debug, Deserialize)]
pub struct ApplyForm {
    purpose: String,
    #[serde(rename = "_csrf")]
    csrf: String,
}

/// `POST /open/datasets/{name}/applications`: a signed-in reader applies for a conditionally
/// open dataset from its page; back to the page, which shows the application.
pub async fn apply(
    State(s): State<AppState>,
    headers: HeaderMap,
    reader: Result<Reader, crate::error::ApiError>,
    Path(name): Path<String>,
    axum::extract::Form(f): axum::extract::Form<ApplyForm>,
) -> Response {
    let t = lang(&headers);
    let done = async {
        let reader = reader.map_err(|e| e.0)?;
        let (Some(user), Some(token)) = (&reader.user, &reader.csrf) else {
            return Err(yishu_types::Error::new(
                ErrorCode::Unauthenticated,
                "sign in to apply for this dataset",
            ));
        };
        if !crate::auth::constant_eq(token, &f.csrf) {
            return Err(yishu_types::Error::new(
                ErrorCode::CsrfMismatch,
                "the form is stale; reload the page and apply again",
            ));
        }
        let c = Catalog::current(&s).await?;
        let (r, _) = open_read::dataset(&c, &name)?;
        crate::app::opening::apply(&s, user, &reader.meta, r.id, &f.purpose)
            .await
            .map_err(|e| e.0)?;
        Ok(())
    }
    .await;
    match done {
        Ok(()) => axum::response::Redirect::to(&format!("/open/datasets/{}", slug_safe(&name)))
            .into_response(),
        Err(e) => failed(t, e),
    }
}

/// A dataset name fit for a local redirect.
fn slug_safe(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}
