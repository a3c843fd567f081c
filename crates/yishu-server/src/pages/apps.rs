//! The app pages (接入应用): the department's systems with their terms and state, a form to
//! register one, and one app's page with its keys (a new key's secret shown once), its
//! addresses and rate, and the switch that suspends it.

use super::{Chrome, PageAuth, csrf_refused, render};
use crate::AppState;
use crate::app::apps;
use crate::auth::{ManageApps, SignedIn};
use crate::error::ApiError;
use crate::time::fmt_time;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yishu_meta::ApiKey;
use yishu_meta::app::{App, AppDraft};
use yishu_types::{ApiKeyId, AppId};

#[derive(Template)]
#[template(path = "apps.html")]
struct List {
    c: Chrome,
    apps: Vec<(App, String)>,
    form: AppForm,
}

#[derive(Template)]
#[template(path = "app.html")]
struct Detail {
    c: Chrome,
    app: App,
    org: String,
    keys: Vec<ApiKey>,
    secret: Option<String>,
    mine: bool,
}

impl Detail {
    fn time(&self, ms: &i64) -> String {
        fmt_time(*ms)
    }
    fn expires(&self, k: &ApiKey) -> String {
        k.expires_at.map(fmt_time).unwrap_or_default()
    }
}

/// The registration (and edit) form as sent.
#[derive(Debug, Default, Deserialize)]
pub struct AppForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Addresses or ranges, one a line (or separated by commas).
    #[serde(default)]
    pub ip_allow: String,
    #[serde(default)]
    pub per_minute: String,
}

impl AppForm {
    fn draft(&self) -> AppDraft {
        AppDraft {
            name: self.name.clone(),
            description: self.description.clone(),
            ip_allow: self
                .ip_allow
                .split(['\n', ',', '，'])
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            per_minute: match self.per_minute.trim() {
                "" => 0,
                n => n.parse().unwrap_or(-1),
            },
        }
    }
}

async fn org_name(s: &AppState, app: &App) -> String {
    s.store
        .get_org(app.org_id)
        .await
        .map(|o| o.name)
        .unwrap_or_default()
}

async fn list_page(s: &AppState, mut c: Chrome, form: AppForm, status: StatusCode) -> Response {
    c.active = "apps";
    let mut rows = Vec::new();
    if let Some(who) = c.user.clone() {
        for a in apps::visible(s, &who).await.unwrap_or_default() {
            let org = org_name(s, &a).await;
            rows.push((a, org));
        }
    }
    (
        status,
        render(&List {
            c,
            apps: rows,
            form,
        }),
    )
        .into_response()
}

pub async fn list(State(s): State<AppState>, page: PageAuth<SignedIn>) -> Response {
    list_page(&s, page.chrome, AppForm::default(), StatusCode::OK).await
}

pub async fn create(
    State(s): State<AppState>,
    mut page: PageAuth<ManageApps>,
    Form(f): Form<AppForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    match apps::create(&s, &page.auth, &f.draft()).await {
        Ok(a) => Redirect::to(&format!("/console/apps/{}", a.id)).into_response(),
        Err(e) => {
            let status = super::failed(&mut page.chrome, &e.0);
            list_page(&s, page.chrome, f, status).await
        }
    }
}

async fn detail_page(
    s: &AppState,
    mut c: Chrome,
    id: AppId,
    secret: Option<String>,
    status: StatusCode,
) -> Response {
    c.active = "apps";
    let Some(who) = c.user.clone() else {
        return Redirect::to("/console/login").into_response();
    };
    let app = match apps::seen(s, &who, id).await {
        Ok(a) => a,
        Err(e) => {
            let status = super::failed(&mut c, &e.0);
            return list_page(s, c, AppForm::default(), status).await;
        }
    };
    let keys = s.store.app_keys(id).await.unwrap_or_default();
    let org = org_name(s, &app).await;
    let mine = app.org_id == who.org_id;
    let page = Detail {
        c,
        app,
        org,
        keys,
        secret,
        mine,
    };
    (status, render(&page)).into_response()
}

pub async fn detail(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
) -> Response {
    detail_page(&s, page.chrome, AppId(id), None, StatusCode::OK).await
}

/// One of the app page's buttons: `op` is edit, key, revoke, suspend or resume.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    op: String,
    #[serde(flatten)]
    app: AppForm,
    #[serde(default)]
    key_name: String,
    #[serde(default)]
    days: String,
    /// A key's id (text: a flattened form reads every value as text).
    #[serde(default)]
    key: String,
    #[serde(default)]
    reason: String,
}

pub async fn action(
    State(s): State<AppState>,
    mut page: PageAuth<ManageApps>,
    Path(id): Path<i64>,
    Form(f): Form<ActionForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let (id, auth) = (AppId(id), &page.auth);
    let mut secret = None;
    let done: Result<(), ApiError> = match f.op.as_str() {
        "edit" => apps::edit(&s, auth, id, &f.app.draft()).await.map(drop),
        "key" => {
            let days = match f.days.trim() {
                "" => None,
                d => Some(d.parse().unwrap_or(-1)),
            };
            apps::make_key(&s, auth, id, &f.key_name, days)
                .await
                .map(|k| secret = Some(k.secret))
        }
        "revoke" => apps::revoke_key(&s, auth, id, ApiKeyId(f.key.trim().parse().unwrap_or(-1)))
            .await
            .map(drop),
        "suspend" | "resume" => apps::switch(&s, auth, id, f.op == "suspend", &f.reason)
            .await
            .map(drop),
        other => Err(ApiError::new(
            yishu_types::ErrorCode::InvalidInput,
            format!("op: '{other}' is not an action on an app"),
        )),
    };
    let status = match done {
        Ok(()) if secret.is_some() => StatusCode::CREATED,
        Ok(()) => return Redirect::to(&format!("/console/apps/{id}")).into_response(),
        Err(e) => super::failed(&mut page.chrome, &e.0),
    };
    detail_page(&s, page.chrome, id, secret, status).await
}
