//! Server-rendered pages compiled into the binary: the public portal at `/` and the console at
//! `/console`. Templates are checked at compile time (askama); CSS is embedded; nothing is fetched
//! from outside, so the pages work on an air-gapped intranet.

mod apps;
mod audit;
mod base;
mod batches;
mod catalog;
mod compare;
mod console;
mod keys;
mod matters;
mod opening;
mod orgs;
mod portal;
mod quality;
mod report;
mod resource_edit;
mod resource_forms;
mod services;
mod share;
mod standards;
mod subscriptions;

mod users;
mod work_orders;

use crate::AppState;
use crate::auth::{Auth, RequestMeta, Right, authenticate, check_right, constant_eq, cookie};
use crate::i18n::{Lang, Tr};
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use yishu_meta::Principal;
use yishu_types::Role;

/// Cookie holding the chosen page language.
pub const LANG_COOKIE: &str = "yishu_lang";
const CSS: &str = include_str!("../../static/app.css");

/// The portal's public pages (limited per address with the rest of the public catalog).
pub fn portal_router() -> Router<AppState> {
    Router::new()
        .route("/", get(portal::home))
        .route("/open/datasets", get(portal::search))
        .route("/open/datasets/{name}", get(portal::dataset))
        .route("/open/datasets/{name}/applications", post(portal::apply))
        .route("/open/orgs/{name}", get(portal::org))
        .route("/open/requests", get(portal::requests).post(portal::ask))
        .route("/open/showcase", get(portal::showcase))
        .route(
            "/open/register",
            get(portal::register_form).post(portal::register),
        )
        .route("/open/evaluation", get(portal::evaluation))
}

/// The console and what every page needs.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(css))
        .route("/console/lang", get(switch_lang))
        .route(
            "/console/login",
            get(console::login_page).post(console::login_submit),
        )
        .route("/console/logout", post(console::logout))
        .route("/console", get(console::overview))
        .route("/console/catalog", get(catalog::list))
        .route(
            "/console/catalog/import",
            post(resource_forms::import).layer(axum::extract::DefaultBodyLimit::max(
                crate::app::sources::PUSH_LIMIT + 65_536,
            )),
        )
        .route(
            "/console/catalog/new",
            get(resource_edit::new_form).post(resource_edit::save),
        )
        .route("/console/catalog/{id}", get(catalog::detail))
        .route(
            "/console/catalog/{id}/edit",
            get(resource_edit::edit_form).post(resource_edit::save),
        )
        .route("/console/batches/{id}", get(batches::detail))
        .route("/console/quality", get(quality::overview))
        .route("/console/quality/weights", post(quality::set_weights))
        .route("/console/catalog/{id}/quality", get(quality::resource))
        .route("/console/catalog/{id}/std", get(quality::std_rows))
        .route("/console/catalog/{id}/rules", post(quality::create_rule))
        .route(
            "/console/catalog/{id}/suggestions",
            post(quality::suggestion),
        )
        .route("/console/rules/{id}/review", post(quality::review))
        .route("/console/standards", get(standards::standards))
        .route(
            "/console/standards/code-tables",
            post(standards::import_code_table),
        )
        .route("/console/quality/report", get(report::report))
        .route("/console/work-orders", get(work_orders::orders))
        .route("/console/work-orders/{id}", get(work_orders::order))
        .route(
            "/console/work-orders/{id}/status",
            post(work_orders::advance),
        )
        .route("/console/matters", get(matters::list))
        .route("/console/matters/{id}", get(matters::detail))
        .route("/console/catalog/{id}/action", post(resource_forms::action))
        .route("/console/catalog/{id}/fill", post(resource_forms::fill))
        .route(
            "/console/catalog/{id}/upload",
            post(resource_forms::upload).layer(axum::extract::DefaultBodyLimit::max(
                crate::app::sources::PUSH_LIMIT + 65_536,
            )),
        )
        .route("/console/catalog/{id}/sources", post(resource_forms::add))
        .route("/console/catalog/{id}/mount", post(resource_forms::mount))
        .route("/console/catalog/{id}/sample", get(resource_forms::sample))
        .route(
            "/console/catalog/{id}/attachments",
            post(resource_forms::attach).layer(axum::extract::DefaultBodyLimit::max(
                yishu_ingest::objects::MAX_SIZE + 65_536,
            )),
        )
        .route("/console/orgs", get(orgs::page).post(orgs::create))
        .route("/console/orgs/{id}", post(orgs::update))
        .route("/console/users", get(users::page).post(users::create))
        .route("/console/users/{id}", post(users::update))
        .route("/console/keys", get(keys::page).post(keys::create))
        .route("/console/apps", get(apps::list).post(apps::create))
        .route("/console/apps/{id}", get(apps::detail).post(apps::action))
        .route(
            "/console/comparisons",
            get(compare::form)
                .post(compare::run)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::routes::verify::BODY_LIMIT,
                )),
        )
        .route(
            "/console/verifications",
            get(compare::verify_form).post(compare::verify_run).layer(
                axum::extract::DefaultBodyLimit::max(crate::routes::verify::BODY_LIMIT),
            ),
        )
        .route(
            "/console/subscriptions",
            get(subscriptions::list).post(subscriptions::create),
        )
        .route(
            "/console/subscriptions/{id}",
            get(subscriptions::detail).post(subscriptions::action),
        )
        .route("/console/keys/{id}/revoke", post(keys::revoke))
        .route("/console/audit", get(audit::page))
        .route(
            "/console/services",
            get(services::list).post(services::define),
        )
        .route(
            "/console/services/{id}",
            get(services::detail).post(services::action),
        )
        .route("/console/share", get(share::applications))
        .route("/console/share/apply", get(share::apply_form))
        .route("/console/share/applications", post(share::apply))
        .route("/console/share/applications/{id}", get(share::application))
        .route(
            "/console/share/applications/{id}/decision",
            post(share::decide),
        )
        .route(
            "/console/share/applications/{id}/withdrawal",
            post(share::withdraw),
        )
        .route("/console/share/grants", get(share::grants))
        .route("/console/share/usage", get(share::usage))
        .route("/console/share/usage/who-read", post(share::who_read))
        .route(
            "/console/share/grants/{id}/status",
            post(share::set_grant_status),
        )
        .route("/console/open", get(opening::list))
        .route(
            "/console/open/{id}",
            get(opening::resource).post(opening::decide),
        )
        .route("/console/open/{id}/end", post(opening::end))
        .route("/console/open/access/{id}", post(opening::decide_access))
        .route("/console/open/requests/{id}", post(opening::answer))
        .route("/console/open/ratings/{id}", post(opening::moderate_rating))
        .route(
            "/console/open/showcase/{id}",
            post(opening::moderate_showcase),
        )
        .route("/console/base", get(base::overview))
        .route("/console/base/{kind}/{id}", get(base::subject))
        .route("/console/fusion/reviews", get(base::reviews))
        .route("/console/fusion/reviews/{id}", post(base::decide))
        .route("/console/fusion/corrections", get(base::corrections))
        .route(
            "/console/fusion/corrections/{id}",
            post(base::act_on_correction),
        )
}

/// The page language: the `yishu_lang` cookie, else Chinese.
pub fn lang(headers: &HeaderMap) -> Tr {
    let lang = match cookie(headers, LANG_COOKIE) {
        Some("en") => Lang::En,
        _ => Lang::Zh,
    };
    Tr { lang }
}

/// What every console page shows around its content.
pub struct Chrome {
    pub t: Tr,
    pub user: Option<Principal>,
    pub csrf: String,
    pub active: &'static str,
    pub path: String,
    pub flash: Option<String>,
    pub error: Option<String>,
}

impl Chrome {
    /// The chrome for a page built while this one is still borrowed (the page's flash and error
    /// move to it).
    pub fn hand_over(&mut self) -> Chrome {
        Chrome {
            t: self.t,
            user: self.user.clone(),
            csrf: self.csrf.clone(),
            active: self.active,
            path: self.path.clone(),
            flash: self.flash.take(),
            error: self.error.take(),
        }
    }

    pub fn is(&self, role: &str) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| u.roles.iter().any(|r| r.as_str() == role))
    }

    pub fn roles_text(&self) -> String {
        self.user
            .as_ref()
            .map(|u| role_labels(self.t, &u.roles))
            .unwrap_or_default()
    }
}

/// Roles in the page language, joined.
pub fn role_labels(t: Tr, roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| match t.lang {
            Lang::Zh => r.label_zh(),
            Lang::En => r.label_en(),
        })
        .collect::<Vec<_>>()
        .join("、")
}

/// A console caller holding right `R`. Unauthenticated callers are sent to the login page; callers
/// without the right get a 403 page (and an audit record).
pub struct PageAuth<R: Right> {
    pub auth: Auth<R>,
    pub chrome: Chrome,
}

impl<R: Right> FromRequestParts<AppState> for PageAuth<R> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let t = lang(&parts.headers);
        let meta = RequestMeta::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|e| match e {});
        let path = parts.uri.path().to_string();
        let Ok((principal, csrf)) = authenticate(state, parts).await else {
            return Err(Redirect::to("/console/login").into_response());
        };
        if check_right::<R>(state, &principal, &meta, &path)
            .await
            .is_err()
        {
            let chrome = Chrome {
                t,
                user: Some(principal),
                csrf: csrf.unwrap_or_default(),
                active: "",
                path,
                flash: None,
                error: Some(t.t("common.forbidden").to_string()),
            };
            return Err((StatusCode::FORBIDDEN, render(&Message { c: chrome })).into_response());
        }
        let chrome = Chrome {
            t,
            user: Some(principal.clone()),
            csrf: csrf.clone().unwrap_or_default(),
            active: "",
            path,
            flash: None,
            error: None,
        };
        Ok(PageAuth {
            auth: Auth::trusted(principal, csrf, meta),
            chrome,
        })
    }
}

impl<R: Right> PageAuth<R> {
    /// Checks the `_csrf` field of a submitted form against the session.
    pub fn csrf_ok(&self, sent: &str) -> bool {
        self.auth
            .csrf
            .as_deref()
            .is_some_and(|c| constant_eq(c, sent))
    }
}

/// The first value of field `name` of a submitted form (empty when absent).
pub(super) fn one(form: &[(String, String)], name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The masking functions as a form's choices: (value, label in the page's language).
pub(super) fn mask_choices(t: crate::i18n::Tr) -> Vec<(&'static str, &'static str)> {
    yishu_share::Mask::ALL
        .iter()
        .map(|m| (m.as_str(), if t.en() { m.as_str() } else { m.label_zh() }))
        .collect()
}

/// Puts a failed action's message on the page and returns the status to answer with.
pub fn failed(chrome: &mut Chrome, e: &yishu_types::Error) -> StatusCode {
    chrome.error = Some(format!("{}: {}", chrome.t.t("common.error"), e.message));
    StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
}

/// The answer to a form whose `_csrf` field does not match the session.
pub fn csrf_refused() -> Response {
    (StatusCode::FORBIDDEN, "CSRF token mismatch").into_response()
}

/// Renders a template, turning a template error into a 500 page.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response()
        }
    }
}

/// A console page with only a message (403 and similar).
#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub c: Chrome,
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
}

#[derive(Deserialize)]
struct LangQuery {
    to: String,
    back: Option<String>,
}

/// Sets the language cookie and returns to the page the user was on (only local paths).
async fn switch_lang(Query(q): Query<LangQuery>) -> Response {
    let lang = if q.to == "en" { "en" } else { "zh" };
    let back = q
        .back
        // Only a path of this site: `//host` and `/\host` would send the reader elsewhere.
        .filter(|b| {
            b.starts_with('/')
                && !b.starts_with("//")
                && !b.starts_with("/\\")
                && !b.chars().any(|c| c.is_control() || c.is_whitespace())
        })
        .unwrap_or_else(|| "/console".into());
    (
        [(
            header::SET_COOKIE,
            format!("{LANG_COOKIE}={lang}; Path=/; SameSite=Lax; Max-Age=31536000"),
        )],
        Redirect::to(&back),
    )
        .into_response()
}
