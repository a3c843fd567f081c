//! The catalog pages: browse entries by status, and one entry with its metadata, items and
//! versions (with what changed).

use super::{Chrome, PageAuth, render};
use crate::AppState;
use crate::app::catalog::VersionEntry;
use crate::app::search;
use crate::app::search::SearchParams;
use crate::app::search::SearchResponse;
use crate::auth::SignedIn;
use crate::i18n::Lang;
use crate::time::fmt_time;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use yishu_meta::Principal;
use yishu_meta::catalog::{ITEM_TYPES, Resource, ResourceStatus, diff};
use yishu_search::Hit;
use yishu_types::Role;

/// A label in the page language: Chinese from the enum, English as the stored word.
fn label(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// One value of a facet on the page: a link that sets (or, when selected, clears) the filter.
struct FacetLink {
    label: String,
    count: u64,
    selected: bool,
    href: String,
}

struct FacetBlock {
    title: &'static str,
    links: Vec<FacetLink>,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    c: Chrome,
    q: String,
    results: Option<SearchResponse>,
    facets: Vec<FacetBlock>,
    /// Current filters, to keep them when the words change.
    kept: Vec<(String, String)>,
    labels: HashMap<(String, String), String>,
    prev: Option<String>,
    next: Option<String>,
}

impl CatalogPage {
    fn label(&self, h: &Hit, dim: &str) -> String {
        let v = h.facets.get(dim).cloned().unwrap_or_default();
        self.labels
            .get(&(dim.to_string(), v.clone()))
            .cloned()
            .unwrap_or(v)
    }
}

/// The page's URL with `params`, dropping empty ones.
fn href(params: &[(String, String)]) -> String {
    let kept: Vec<&(String, String)> = params.iter().filter(|(_, v)| !v.is_empty()).collect();
    match serde_urlencoded::to_string(kept) {
        Ok(qs) if !qs.is_empty() => format!("/console/catalog?{qs}"),
        _ => "/console/catalog".into(),
    }
}

/// Catalog browse and search: words, facets with counts, highlighted results, pages.
pub async fn list(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Query(params): Query<SearchParams>,
) -> Response {
    page.chrome.active = "catalog";
    let lang = page.chrome.t.lang;
    let q = params.q.clone().unwrap_or_default();
    let filters = params.filters();
    let results = match search::run(&s, page.auth.who(), &params, lang).await {
        Ok(r) => Some(r),
        Err(e) => {
            page.chrome.error = Some(e.message);
            None
        }
    };
    let base: Vec<(String, String)> = std::iter::once(("q".to_string(), q.clone()))
        .chain(filters.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect();
    let mut facets = Vec::new();
    let mut labels = HashMap::new();
    let (mut prev, mut next) = (None, None);
    if let Some(r) = &results {
        for (dim, title) in FACET_TITLES {
            let values = r.facets.get(*dim).map(Vec::as_slice).unwrap_or_default();
            let links = values
                .iter()
                .map(|v| {
                    labels.insert((dim.to_string(), v.value.clone()), v.label.clone());
                    let selected = filters.get(*dim) == Some(&v.value);
                    let mut p: Vec<(String, String)> =
                        base.iter().filter(|(k, _)| k != dim).cloned().collect();
                    if !selected {
                        p.push((dim.to_string(), v.value.clone()));
                    }
                    FacetLink {
                        label: v.label.clone(),
                        count: v.count,
                        selected,
                        href: href(&p),
                    }
                })
                .collect();
            facets.push(FacetBlock {
                title: page.chrome.t.t(title),
                links,
            });
        }
        let at = |offset: usize| {
            let mut p = base.clone();
            p.push(("offset".into(), offset.to_string()));
            href(&p)
        };
        if r.offset > 0 {
            prev = Some(at(r.offset.saturating_sub(r.limit)));
        }
        if r.offset + r.hits.len() < r.total {
            next = Some(at(r.offset + r.limit));
        }
    }
    render(&CatalogPage {
        c: page.chrome,
        q,
        results,
        facets,
        kept: filters.into_iter().collect(),
        labels,
        prev,
        next,
    })
}

/// Facet dimensions in the order shown, with their heading's i18n key.
const FACET_TITLES: &[(&str, &str)] = &[
    ("provider", "catalog.provider"),
    ("class", "catalog.class"),
    ("share", "catalog.share"),
    ("open", "catalog.open"),
    ("format", "catalog.format"),
    ("cycle", "catalog.cycle"),
    ("status", "catalog.status"),
];

#[derive(Template)]
#[template(path = "resource.html")]
struct ResourcePage {
    c: Chrome,
    r: Resource,
    provider: String,
    versions: Vec<VersionEntry>,
    batches: Vec<yishu_meta::batch::Batch>,
    stats: yishu_meta::ResourceStats,
    sources: Vec<yishu_meta::source::Source>,
    drift: Option<yishu_ingest::drift::Drift>,
    /// The active grant the reader's department holds for the entry.
    granted: Option<i64>,
    attachments: Vec<yishu_meta::attachment::Attachment>,
    matters: Vec<yishu_meta::matter::Matter>,
    can: Can,
    /// Proposed `列=信息项` lines to confirm for the upload (empty when none).
    proposed: String,
    /// Names one rendering of the filling form, so sending it twice stores the row once.
    nonce: String,
    /// A change of items or share/open attributes waiting for review, and what it changes.
    pending: Option<(
        yishu_meta::proposal::Proposal,
        Vec<yishu_meta::catalog::Change>,
    )>,
}

impl ResourcePage {
    fn item_type(&self, t: &str) -> String {
        let name = ITEM_TYPES
            .iter()
            .find(|(c, _)| *c == t)
            .map(|(_, n)| *n)
            .unwrap_or("");
        format!("{t} {name}")
    }
    fn time(&self, ms: &i64) -> String {
        fmt_time(*ms)
    }
    fn size(&self, bytes: &i64) -> String {
        match *bytes {
            b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1 << 20) as f64),
            b if b >= 1 << 10 => format!("{:.1} KB", b as f64 / 1024.0),
            b => format!("{b} B"),
        }
    }
    fn config(&self, src: &yishu_meta::source::Source) -> String {
        match src.config.as_object() {
            Some(o) => o
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join(" "),
            None => String::new(),
        }
    }
    fn status(&self) -> &'static str {
        label(
            self.c.t.lang,
            self.r.status.label_zh(),
            self.r.status.as_str(),
        )
    }
    fn version_status(&self, v: &VersionEntry) -> String {
        match ResourceStatus::parse(&v.status) {
            Some(st) => label(self.c.t.lang, st.label_zh(), st.as_str()).to_string(),
            None => v.status.clone(),
        }
    }
    fn share(&self) -> &'static str {
        label(
            self.c.t.lang,
            self.r.meta.share_type.label_zh(),
            self.r.meta.share_type.as_str(),
        )
    }
    fn open(&self) -> &'static str {
        label(
            self.c.t.lang,
            self.r.meta.open_type.label_zh(),
            self.r.meta.open_type.as_str(),
        )
    }
    fn cycle(&self) -> &'static str {
        label(
            self.c.t.lang,
            self.r.meta.update_cycle.label_zh(),
            self.r.meta.update_cycle.as_str(),
        )
    }
    fn format(&self) -> &'static str {
        label(
            self.c.t.lang,
            self.r.meta.format.label_zh(),
            self.r.meta.format.as_str(),
        )
    }
    fn class(&self) -> &'static str {
        label(
            self.c.t.lang,
            self.r.meta.class_kind.label_zh(),
            self.r.meta.class_kind.as_str(),
        )
    }
    fn keywords(&self) -> String {
        self.r.meta.extended.keywords.join("、")
    }
    fn show(&self, v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::Null => "—".into(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

pub async fn detail(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
) -> Response {
    page.chrome.active = "catalog";
    let who = page.auth.who().clone();
    if crate::app::access::readable(&s, &who, id).await.is_ok() {
        let _ = s.store.count_use(yishu_meta::Counter::Views, &[id]).await;
    }
    show(&s, page.chrome, &who, id, StatusCode::OK).await
}

/// Renders entry `id` for `p` (also after a form on it was sent, with its flash or error).
pub(super) async fn show(
    s: &AppState,
    chrome: Chrome,
    p: &Principal,
    id: i64,
    status: StatusCode,
) -> Response {
    show_with(s, chrome, p, id, status, None).await
}

/// [`show`], with column → item pairs proposed for an upload the person is to confirm.
pub(super) async fn show_with(
    s: &AppState,
    mut chrome: Chrome,
    p: &Principal,
    id: i64,
    status: StatusCode,
    proposed: Option<String>,
) -> Response {
    chrome.active = "catalog";
    let r = match crate::app::access::readable(s, p, id).await {
        Ok(r) => r,
        Err(_) => {
            chrome.error = Some(format!("{}: resource {id}", chrome.t.t("common.error")));
            return (StatusCode::NOT_FOUND, render(&super::Message { c: chrome })).into_response();
        }
    };
    let stats = s.store.resource_stats(id).await.unwrap_or_default();
    let drift = yishu_ingest::drift::check(
        &s.store,
        &s.lake,
        &r,
        yishu_meta::now_ms(),
        &s.config.outbound,
    )
    .await
    .ok();
    // Sources (with their connection settings) are shown to the providing department only.
    let own = p.org_id == r.meta.provider_org_id || p.has(Role::Admin);
    let sources = if own {
        s.store
            .list_sources(id)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(crate::app::sources::shown)
            .collect()
    } else {
        Vec::new()
    };
    let provider = s
        .store
        .get_org(r.meta.provider_org_id)
        .await
        .map(|o| o.name)
        .unwrap_or_default();
    let snaps = s.store.resource_versions(id).await.unwrap_or_default();
    let versions = snaps
        .iter()
        .enumerate()
        .map(|(i, (v, at, snap))| VersionEntry {
            version: *v,
            changed_at: *at,
            status: snap
                .get("status")
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string(),
            changes: if i == 0 {
                Vec::new()
            } else {
                diff(&snaps[i - 1].2, snap)
            },
        })
        .collect();
    let batches = s.store.list_batches(id).await.unwrap_or_default();
    let cataloguer = own && (p.has(Role::ProviderOfficer) || p.has(Role::Admin));
    // A reviewer outside the providing department (the store refuses self-review as well).
    let reviewer = p.has(Role::DataManager) && p.org_id != r.meta.provider_org_id;
    let st = r.status;
    let can = Can {
        submit: cataloguer && matches!(st, ResourceStatus::Draft | ResourceStatus::Rejected),
        review: reviewer && st == ResourceStatus::Submitted,
        publish: p.has(Role::DataManager) && st == ResourceStatus::Approved,
        retire: p.has(Role::DataManager) && st == ResourceStatus::Published,
        feed: cataloguer && st == ResourceStatus::Published,
        attach: cataloguer && st != ResourceStatus::Retired,
        edit: cataloguer && st != ResourceStatus::Retired,
        raw: crate::app::access::may_read_raw(p, &r),
        apply: !own && st == ResourceStatus::Published,
        review_change: reviewer && st == ResourceStatus::Published,
    };
    let pending = match s.store.pending_change(id).await.unwrap_or_default() {
        Some(p) => {
            let mut proposed = r.clone();
            proposed.meta = p.draft.clone();
            let changes =
                yishu_meta::catalog::diff(&serde_json::json!(r), &serde_json::json!(proposed));
            Some((p, changes))
        }
        None => None,
    };
    let attachments = s.store.list_attachments(id).await.unwrap_or_default();
    let matters = s.store.resource_matters(id).await.unwrap_or_default();
    // The grant this department reads the entry through, if it holds one.
    let target = yishu_share::target::Target::Resource(id).as_string();
    let granted = match can.apply {
        true => s
            .store
            .active_grant(p.org_id, &target, yishu_meta::now_ms())
            .await
            .ok()
            .flatten()
            .map(|g| g.id),
        false => None,
    };
    let page = ResourcePage {
        granted,
        c: chrome,
        r,
        provider,
        versions,
        batches,
        stats,
        sources,
        drift,
        attachments,
        matters,
        can,
        proposed: proposed.unwrap_or_default(),
        nonce: uuid::Uuid::new_v4().simple().to_string(),
        pending,
    };
    (status, render(&page)).into_response()
}

/// Which forms the page offers this user (the server checks again when one is sent).
struct Can {
    submit: bool,
    review: bool,
    publish: bool,
    retire: bool,
    feed: bool,
    attach: bool,
    edit: bool,
    raw: bool,
    /// Apply for sharing: a published entry of another department.
    apply: bool,
    /// Approve or reject a pending change: a reviewer outside the department.
    review_change: bool,
}
