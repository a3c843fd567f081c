//! The subscription pages (数据订阅): the department's subscriptions with their state and lag,
//! a form to subscribe a grant into a database table or a drop directory, and one
//! subscription's page with its last delivery, its error in words, and the buttons that deliver
//! now, pause and resume it.

use super::{Chrome, PageAuth, csrf_refused, render};
use crate::AppState;
use crate::app::subscriptions;
use crate::auth::{SignedIn, Subscribe};
use crate::error::ApiError;
use crate::time::fmt_time;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yishu_meta::share::Grant;
use yishu_meta::subscription::{Subscription, SubscriptionDraft};

/// A subscription as the pages show it: where it delivers and how far behind it is.
pub struct Row {
    pub sub: Subscription,
    pub destination: String,
    pub lag: String,
}

impl Row {
    fn of(sub: Subscription) -> Row {
        let destination = subscriptions::destination(&sub)
            .map(|d| d.label())
            .unwrap_or_default();
        let lag = match sub.behind_since {
            Some(t) => lag_text(yishu_meta::now_ms() - t),
            None => String::new(),
        };
        Row {
            sub,
            destination,
            lag,
        }
    }
}

/// A lag in minutes, hours or days.
fn lag_text(ms: i64) -> String {
    let min = (ms.max(0) / 60_000).max(1);
    match min {
        m if m < 120 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h", m / 60),
        m => format!("{} d", m / 1440),
    }
}

#[derive(Template)]
#[template(path = "subscriptions.html")]
struct List {
    c: Chrome,
    subs: Vec<Row>,
    grants: Vec<Grant>,
    form: SubscribeForm,
}

impl List {
    fn time(&self, ms: &Option<i64>) -> String {
        ms.map(fmt_time).unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "subscription.html")]
struct Detail {
    c: Chrome,
    row: Row,
    delivered: Option<String>,
}

impl Detail {
    fn time(&self, ms: &Option<i64>) -> String {
        ms.map(fmt_time).unwrap_or_default()
    }
    fn at(&self, ms: &i64) -> String {
        fmt_time(*ms)
    }
}

/// The subscribe form as sent.
#[derive(Debug, Default, Deserialize)]
pub struct SubscribeForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub grant_id: String,
    /// `database` or `directory`.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub table: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub every_minutes: String,
}

impl SubscribeForm {
    fn draft(&self) -> SubscriptionDraft {
        let destination = if self.kind == "directory" {
            serde_json::json!({"kind": "directory", "path": self.path.trim(),
                "format": if self.format == "parquet" { "parquet" } else { "csv" }})
        } else {
            serde_json::json!({"kind": "database", "url": self.url.trim(), "table": self.table.trim()})
        };
        SubscriptionDraft {
            grant_id: self.grant_id.trim().parse().unwrap_or(-1),
            name: self.name.clone(),
            destination,
            every_minutes: match self.every_minutes.trim() {
                "" => 60,
                n => n.parse().unwrap_or(-1),
            },
        }
    }
}

async fn list_page(
    s: &AppState,
    mut c: Chrome,
    form: SubscribeForm,
    status: StatusCode,
) -> Response {
    c.active = "subscriptions";
    let (mut subs, mut grants) = (Vec::new(), Vec::new());
    if let Some(who) = c.user.clone() {
        subs = subscriptions::visible(s, &who)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(Row::of)
            .collect();
        let now = yishu_meta::now_ms();
        grants = s
            .store
            .grants(Some(who.org_id), None)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|g| g.status == "active" && g.expires_at > now)
            .filter(|g| g.target.starts_with("resource:") || g.target.starts_with("base:"))
            .collect();
    }
    let page = List {
        c,
        subs,
        grants,
        form,
    };
    (status, render(&page)).into_response()
}

pub async fn list(State(s): State<AppState>, page: PageAuth<SignedIn>) -> Response {
    list_page(&s, page.chrome, SubscribeForm::default(), StatusCode::OK).await
}

pub async fn create(
    State(s): State<AppState>,
    mut page: PageAuth<Subscribe>,
    Form(f): Form<SubscribeForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    match subscriptions::create(&s, &page.auth, &f.draft()).await {
        Ok(x) => Redirect::to(&format!("/console/subscriptions/{}", x.id)).into_response(),
        Err(e) => {
            let status = super::failed(&mut page.chrome, &e.0);
            list_page(&s, page.chrome, f, status).await
        }
    }
}

async fn detail_page(
    s: &AppState,
    mut c: Chrome,
    id: i64,
    delivered: Option<String>,
    status: StatusCode,
) -> Response {
    c.active = "subscriptions";
    let Some(who) = c.user.clone() else {
        return Redirect::to("/console/login").into_response();
    };
    match subscriptions::seen(s, &who, id).await {
        Ok(sub) => {
            let page = Detail {
                c,
                row: Row::of(sub),
                delivered,
            };
            (status, render(&page)).into_response()
        }
        Err(e) => {
            let status = super::failed(&mut c, &e.0);
            list_page(s, c, SubscribeForm::default(), status).await
        }
    }
}

pub async fn detail(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
) -> Response {
    detail_page(&s, page.chrome, id, None, StatusCode::OK).await
}

/// One of the page's buttons: `op` is deliver, pause or resume.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    op: String,
    #[serde(default)]
    reason: String,
}

pub async fn action(
    State(s): State<AppState>,
    mut page: PageAuth<Subscribe>,
    Path(id): Path<i64>,
    Form(f): Form<ActionForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let auth = &page.auth;
    let mut delivered = None;
    let done: Result<(), ApiError> = match f.op.as_str() {
        "deliver" => subscriptions::deliver_now(&s, auth.who(), id)
            .await
            .map(|d| delivered = Some(format!("{} / {}", d.rows, d.deleted))),
        "pause" | "resume" => subscriptions::switch(&s, auth, id, f.op == "pause", &f.reason)
            .await
            .map(drop),
        other => Err(ApiError::new(
            yishu_types::ErrorCode::InvalidInput,
            format!("op: '{other}' is not an action on a subscription"),
        )),
    };
    let status = match done {
        Ok(()) if delivered.is_some() => StatusCode::OK,
        Ok(()) => return Redirect::to(&format!("/console/subscriptions/{id}")).into_response(),
        Err(e) => super::failed(&mut page.chrome, &e.0),
    };
    detail_page(&s, page.chrome, id, delivered, status).await
}
