//! `/api/v1/...`: one module per resource, mirroring the URL.

pub mod api_keys;
pub mod attachments;
pub mod audit;
pub mod batches;
pub mod catalog_io;
pub mod health;
pub mod matters;
pub mod me;
pub mod mounts;
pub mod orgs;
pub mod resources;
pub mod search;
pub mod session;
pub mod sources;
pub mod users;
pub mod watch;

use crate::AppState;
use axum::Router;
use axum::routing::{delete, get, post};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(session::login))
        .route("/auth/logout", post(session::logout))
        .route("/me", get(me::get_me))
        .route("/me/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/me/api-keys/{id}", delete(api_keys::revoke))
        .route("/orgs", get(orgs::list).post(orgs::create))
        .route("/orgs/{id}", get(orgs::get).patch(orgs::update))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::get).patch(users::update))
        .route("/resources", get(resources::list).post(resources::create))
        .route("/catalog/template.xlsx", get(catalog_io::template))
        .route("/catalog/export.xlsx", get(catalog_io::export_xlsx))
        .route("/catalog/export.json", get(catalog_io::export_json))
        .route(
            "/catalog/import",
            post(catalog_io::import_xlsx)
                .layer(axum::extract::DefaultBodyLimit::max(sources::PUSH_LIMIT)),
        )
        .route(
            "/resources/{id}",
            get(resources::get).put(resources::update),
        )
        .route("/resources/{id}/submit", post(resources::submit))
        .route("/resources/{id}/review", post(resources::review))
        .route("/resources/{id}/publish", post(resources::publish))
        .route("/resources/{id}/retire", post(resources::retire))
        .route("/resources/{id}/versions", get(resources::versions))
        .route("/resources/{id}/batches", get(resources::batches))
        .route("/resources/{id}/stats", get(resources::stats))
        .route("/resources/{id}/drift", get(resources::drift))
        .route(
            "/resources/{id}/mount",
            get(mounts::get).put(mounts::put).delete(mounts::delete),
        )
        .route("/resources/{id}/sample", get(mounts::sample))
        .route(
            "/resources/{id}/attachments",
            get(attachments::list).post(attachments::create).layer(
                axum::extract::DefaultBodyLimit::max(yishu_ingest::objects::MAX_SIZE),
            ),
        )
        .route("/attachments/{id}/content", get(attachments::content))
        .route(
            "/resources/{id}/template.xlsx",
            get(resources::fill_template),
        )
        .route(
            "/resources/{id}/sources",
            get(sources::list).post(sources::create),
        )
        .route("/sources/{id}/run", post(sources::run))
        .route(
            "/resources/{id}/watch",
            post(watch::watch).delete(watch::unwatch),
        )
        .route("/me/notifications", get(watch::notifications))
        .route("/matters", post(matters::create))
        .route("/matters/{id}", get(matters::get))
        .route("/matters/{id}/resources", post(matters::link))
        .route("/resources/{id}/matters", get(matters::of_resource))
        .route("/batches/{id}", get(batches::get))
        .route("/batches/{id}/quarantine.csv", get(batches::quarantine_csv))
        .route(
            "/batches/{id}/quarantine.xlsx",
            get(batches::quarantine_xlsx),
        )
        .route(
            "/resources/{id}/rows",
            post(sources::push).layer(axum::extract::DefaultBodyLimit::max(sources::PUSH_LIMIT)),
        )
        .route("/search", get(search::search))
        .route("/search/rebuild", post(search::rebuild))
        .route("/audit", get(audit::list))
        .route("/audit/verify", get(audit::verify))
}
