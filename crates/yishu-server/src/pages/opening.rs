//! The console's open-data pages (数据开放) for departments and the bureau: which of their
//! published resources are open and how often they are used, the opening decision on one
//! resource (items, rows, masks — a grant to the public), withdrawal and destruction, and the
//! public's part waiting on them: applications for conditionally open data, demand requests to
//! answer, comments and showcase entries to moderate. Every action goes through the same
//! functions as the API, so it is checked and audited the same way.

use super::quality::failure;
use super::{Chrome, PageAuth, csrf_refused, one, render};
use crate::AppState;
use crate::app::{opening, society};
use crate::auth::SignedIn;
use crate::error::ApiError;
use crate::time::fmt_time;
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use yishu_meta::Principal;
use yishu_meta::catalog::{OpenType, Resource, ResourceStatus};
use yishu_meta::open::{OpeningEvent, OpeningStatus};
use yishu_share::Mask;
use yishu_share::opening::OpeningDraft;
use yishu_types::{OrgId, Role};

/// Resources listed a page.
const PER_PAGE: i64 = 50;

/// One published resource and where it stands for the public.
pub struct OpenRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub open_type: String,
    /// `open`, `withdrawn`, `destroyed`, `not_open` or `never`.
    pub state: &'static str,
    pub state_label: String,
    pub downloads: i64,
    pub calls: i64,
    pub slug: String,
}

/// An application for conditionally open data, waiting for a decision.
pub struct AccessRow {
    pub id: i64,
    pub dataset: String,
    pub applicant: String,
    pub purpose: String,
    pub applied: String,
}

/// A demand request, answered or not.
pub struct RequestRow {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub org: String,
    pub due: String,
    pub overdue: bool,
    pub answered: bool,
    pub outcome: String,
    pub answer: String,
}

/// A comment waiting for moderation.
pub struct RatingRow {
    pub id: i64,
    pub dataset: String,
    pub stars: i64,
    pub comment: String,
    pub at: String,
}

/// A showcase entry waiting for the bureau.
pub struct ShowcaseRow {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub url: String,
}

#[derive(Template)]
#[template(path = "opening.html")]
struct OpenPage {
    c: Chrome,
    rows: Vec<OpenRow>,
    page: i64,
    pages: i64,
    access: Vec<AccessRow>,
    requests: Vec<RequestRow>,
    ratings: Vec<RatingRow>,
    showcase: Vec<ShowcaseRow>,
    bureau: bool,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    page: Option<i64>,
}

/// The department whose data `who` looks after (every department for the bureau).
fn scope(who: &Principal) -> Option<OrgId> {
    (!who.has(Role::DataManager)).then_some(who.org_id)
}

fn state_of(t: crate::i18n::Tr, r: &Resource, o: Option<OpeningStatus>) -> (&'static str, String) {
    let key = match (r.meta.open_type, o) {
        (OpenType::Never, _) => "never",
        (_, Some(OpeningStatus::Open)) => "open",
        (_, Some(OpeningStatus::Withdrawn)) => "withdrawn",
        (_, Some(OpeningStatus::Destroyed)) => "destroyed",
        (_, None) => "not_open",
    };
    (key, t.t(&format!("opening.state_{key}")).to_string())
}

async fn list_page(
    s: &AppState,
    mut c: Chrome,
    who: &Principal,
    page: i64,
    status: StatusCode,
) -> Response {
    c.active = "open";
    let t = c.t;
    let org = scope(who);
    let page = page.max(1);
    let listed = match s
        .store
        .list_resources(
            Some(ResourceStatus::Published),
            org,
            PER_PAGE,
            (page - 1) * PER_PAGE,
        )
        .await
    {
        Ok(p) => p,
        Err(e) => return failure(c, e.into()),
    };
    let mut rows = Vec::new();
    for r in listed.items {
        let o = s.store.opening(r.id).await.ok().flatten();
        let (state, state_label) = state_of(t, &r, o.as_ref().map(|o| o.status));
        rows.push(OpenRow {
            id: r.id,
            slug: crate::app::open::slug(&r.code),
            code: r.code.clone(),
            name: r.meta.name.clone(),
            open_type: r.meta.open_type.label(t.en()).to_string(),
            state,
            state_label,
            downloads: o.as_ref().map_or(0, |o| o.downloads),
            calls: o.as_ref().map_or(0, |o| o.calls),
        });
    }
    let name_of = async |id: i64| {
        s.store
            .get_resource(id)
            .await
            .map(|r| format!("{}（{}）", r.meta.name, r.code))
            .unwrap_or_default()
    };
    let mut access = Vec::new();
    if who.has(Role::ProviderOfficer) || who.has(Role::DataManager) {
        let pending = opening::visible_access(s, who)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.status == "pending" && a.user_id != who.user_id);
        for a in pending {
            access.push(AccessRow {
                id: a.id,
                dataset: name_of(a.resource_id).await,
                applicant: s
                    .store
                    .get_user(a.user_id)
                    .await
                    .map(|u| u.display_name)
                    .unwrap_or_default(),
                purpose: a.purpose,
                applied: fmt_time(a.created_at),
            });
        }
    }
    let now = yishu_meta::now_ms();
    let mut requests: Vec<RequestRow> = Vec::new();
    for r in s.store.requests(org).await.unwrap_or_default() {
        // Open ones all; answered ones only the latest few, for reference.
        if r.answered_at.is_some() && requests.iter().filter(|x| x.answered).count() >= 10 {
            continue;
        }
        let org_name = match r.org_id {
            Some(o) => s.store.get_org(o).await.map(|o| o.name).unwrap_or_default(),
            None => String::new(),
        };
        requests.push(RequestRow {
            id: r.id,
            overdue: r.overdue(now),
            answered: r.answered_at.is_some(),
            due: fmt_time(r.due_at),
            title: r.title,
            description: r.description,
            org: org_name,
            outcome: r.outcome,
            answer: r.answer,
        });
    }
    requests.sort_by_key(|r| r.answered);
    let mut ratings = Vec::new();
    for r in s
        .store
        .ratings(None, Some("pending"))
        .await
        .unwrap_or_default()
    {
        let Ok(res) = s.store.get_resource(r.resource_id).await else {
            continue;
        };
        if org.is_some_and(|o| o != res.meta.provider_org_id) {
            continue;
        }
        ratings.push(RatingRow {
            id: r.id,
            dataset: format!("{}（{}）", res.meta.name, res.code),
            stars: r.stars,
            comment: r.comment,
            at: fmt_time(r.created_at),
        });
    }
    let bureau = who.has(Role::DataManager);
    let showcase = if bureau {
        s.store
            .showcase(Some("pending"))
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|e| ShowcaseRow {
                id: e.id,
                title: e.title,
                description: e.description,
                url: e.url,
            })
            .collect()
    } else {
        Vec::new()
    };
    (
        status,
        render(&OpenPage {
            rows,
            page,
            pages: (listed.total + PER_PAGE - 1) / PER_PAGE,
            access,
            requests,
            ratings,
            showcase,
            bureau,
            c,
        }),
    )
        .into_response()
}

/// `/console/open`.
pub async fn list(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    Query(q): Query<ListQuery>,
) -> Response {
    let who = page.auth.who().clone();
    list_page(&s, page.chrome, &who, q.page.unwrap_or(1), StatusCode::OK).await
}

/// One item of the opening form: opened or not, and its mask.
pub struct ItemRow {
    pub name: String,
    pub opened: bool,
    pub mask: &'static str,
}

#[derive(Template)]
#[template(path = "opening_resource.html")]
struct ResourcePage {
    c: Chrome,
    r: Resource,
    state: &'static str,
    state_label: String,
    open_type: String,
    reason: String,
    slug: String,
    items: Vec<ItemRow>,
    row_filter: String,
    mask_choices: Vec<(&'static str, &'static str)>,
    events: Vec<(String, OpeningEvent)>,
    may_decide: bool,
}

async fn resource_page(
    s: &AppState,
    mut c: Chrome,
    who: &Principal,
    id: i64,
    status: StatusCode,
) -> Response {
    c.active = "open";
    let t = c.t;
    let r = match s.store.get_resource(id).await {
        Ok(r) => r,
        Err(e) => return failure(c, e.into()),
    };
    let o = s.store.opening(id).await.ok().flatten();
    let grant = match &o {
        Some(o) if o.status == OpeningStatus::Open => s.store.grant(o.grant_id).await.ok(),
        _ => None,
    };
    let source = yishu_share::target::source_of(&s.store, &r).await;
    let items = source
        .items
        .iter()
        .map(|(name, _)| {
            let level = source.levels.get(name).map_or("", String::as_str);
            let (opened, mask) = match &grant {
                Some(g) => (
                    g.items.contains(name),
                    g.masks
                        .get(name)
                        .and_then(|m| Mask::parse(m))
                        .unwrap_or_else(|| Mask::default_for(name, level)),
                ),
                None => (true, Mask::default_for(name, level)),
            };
            ItemRow {
                name: name.clone(),
                opened,
                mask: mask.as_str(),
            }
        })
        .collect();
    let (state, state_label) = state_of(t, &r, o.as_ref().map(|o| o.status));
    let mask_choices = super::mask_choices(t);
    let events = s
        .store
        .opening_events(id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| (fmt_time(e.at), e))
        .collect();
    (
        status,
        render(&ResourcePage {
            state,
            state_label,
            open_type: r.meta.open_type.label(t.en()).to_string(),
            reason: o.map(|o| o.reason).unwrap_or_default(),
            slug: crate::app::open::slug(&r.code),
            items,
            row_filter: grant.map(|g| g.row_filter).unwrap_or_default(),
            mask_choices,
            events,
            may_decide: yishu_share::opening::may_decide(who, &r),
            r,
            c,
        }),
    )
        .into_response()
}

/// `/console/open/{id}`.
pub async fn resource(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
) -> Response {
    let who = page.auth.who().clone();
    resource_page(&s, page.chrome, &who, id, StatusCode::OK).await
}

/// The flash for a done action, or the error on the page; the status to answer with.
fn outcome<T>(c: &mut Chrome, done: Result<T, ApiError>, flash: &str) -> StatusCode {
    match done {
        Ok(_) => {
            c.flash = Some(c.t.t(flash).to_string());
            StatusCode::OK
        }
        Err(e) => super::failed(c, &e.0),
    }
}

/// `POST /console/open/{id}`: open the resource, or update an open one's terms.
pub async fn decide(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !page.csrf_ok(&one(&form, "_csrf")) {
        return csrf_refused();
    }
    let items: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "item")
        .map(|(_, v)| v.clone())
        .collect();
    let draft = OpeningDraft {
        masks: form
            .iter()
            .filter_map(|(k, v)| {
                let item = k.strip_prefix("mask.")?;
                items
                    .iter()
                    .any(|i| i == item)
                    .then(|| (item.to_string(), v.clone()))
            })
            .collect(),
        row_filter: one(&form, "row_filter"),
        items,
    };
    let who = page.auth.who().clone();
    let done = if draft.items.is_empty() {
        Err(ApiError(yishu_types::Error::field(
            "items",
            "choose at least one item to open",
        )))
    } else {
        opening::open(&s, &who, &page.auth.meta, id, &draft).await
    };
    let status = outcome(&mut page.chrome, done, "opening.opened_flash");
    resource_page(&s, page.chrome, &who, id, status).await
}

/// `POST /console/open/{id}/end`: withdraw or destroy, with the reason the public will see.
pub async fn end(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !page.csrf_ok(&one(&form, "_csrf")) {
        return csrf_refused();
    }
    let who = page.auth.who().clone();
    let to = match one(&form, "to").as_str() {
        "destroyed" => OpeningStatus::Destroyed,
        _ => OpeningStatus::Withdrawn,
    };
    let reason = one(&form, "reason");
    let done = if reason.trim().is_empty() {
        Err(ApiError(yishu_types::Error::field(
            "reason",
            "say why: the public sees the reason",
        )))
    } else {
        opening::end(&s, &who, &page.auth.meta, id, to, reason.trim()).await
    };
    let status = outcome(&mut page.chrome, done, "opening.ended");
    resource_page(&s, page.chrome, &who, id, status).await
}

/// `POST /console/open/access/{id}`: grant (for some days) or refuse an application.
pub async fn decide_access(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !page.csrf_ok(&one(&form, "_csrf")) {
        return csrf_refused();
    }
    let who = page.auth.who().clone();
    let granted = one(&form, "granted") == "yes";
    let days = one(&form, "days").trim().parse::<i64>().unwrap_or(365);
    let done = opening::decide(
        &s,
        &who,
        &page.auth.meta,
        id,
        granted,
        one(&form, "reason").trim(),
        days,
    )
    .await;
    let status = outcome(&mut page.chrome, done, "opening.decided");
    list_page(&s, page.chrome, &who, 1, status).await
}

/// `POST /console/open/requests/{id}`: answer a demand request in public.
pub async fn answer(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !page.csrf_ok(&one(&form, "_csrf")) {
        return csrf_refused();
    }
    let who = page.auth.who().clone();
    let done = society::answer(
        &s,
        &who,
        &page.auth.meta,
        id,
        one(&form, "outcome").trim(),
        one(&form, "answer").trim(),
    )
    .await;
    let status = outcome(&mut page.chrome, done, "opening.answered");
    list_page(&s, page.chrome, &who, 1, status).await
}

/// `POST /console/open/ratings/{id}`: show or hide a comment.
pub async fn moderate_rating(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    moderate(s, page, Moderated::Rating, id, form).await
}

/// `POST /console/open/showcase/{id}`: show or hide a showcase entry (the bureau).
pub async fn moderate_showcase(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    moderate(s, page, Moderated::Showcase, id, form).await
}

enum Moderated {
    Rating,
    Showcase,
}

async fn moderate(
    s: AppState,
    mut page: PageAuth<SignedIn>,
    what: Moderated,
    id: i64,
    form: Vec<(String, String)>,
) -> Response {
    if !page.csrf_ok(&one(&form, "_csrf")) {
        return csrf_refused();
    }
    let who = page.auth.who().clone();
    let status_text = one(&form, "status");
    let meta = &page.auth.meta;
    let done = match what {
        Moderated::Rating => society::moderate_rating(&s, &who, meta, id, &status_text)
            .await
            .map(|_| ()),
        Moderated::Showcase => society::moderate_showcase(&s, &who, meta, id, &status_text)
            .await
            .map(|_| ()),
    };
    let status = outcome(&mut page.chrome, done, "opening.moderated");
    list_page(&s, page.chrome, &who, 1, status).await
}
