//! `/api/v1/...`: one module per resource, mirroring the URL.

pub mod api_keys;
pub mod apps;
pub mod attachments;
pub mod audit;
pub mod base;
pub mod batches;
pub mod catalog_io;
pub mod ckan;
pub mod code_tables;
pub mod data_elements;
pub mod fusion;
pub mod health;
pub mod matters;
pub mod me;
pub mod mounts;
pub mod open;
pub mod openings;
pub mod orgs;
pub mod quality;
pub mod resources;
pub mod rules;
pub mod search;
pub mod services;
pub mod session;
pub mod share;
pub mod society;
pub mod sources;
pub mod subscriptions;
pub mod users;
pub mod verify;
pub mod watch;
pub mod work_orders;

use crate::AppState;
use axum::Router;
use axum::routing::{delete, get, post, put};

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
            post(catalog_io::import_xlsx).layer(axum::extract::DefaultBodyLimit::max(
                crate::app::sources::PUSH_LIMIT,
            )),
        )
        .route(
            "/resources/{id}",
            get(resources::get).put(resources::update),
        )
        .route("/resources/{id}/submit", post(resources::submit))
        .route("/resources/{id}/review", post(resources::review))
        .route(
            "/resources/{id}/pending-change",
            get(resources::pending_change),
        )
        .route(
            "/resources/{id}/pending-change/review",
            post(resources::review_change),
        )
        .route("/resources/{id}/publish", post(resources::publish))
        .route("/resources/{id}/retire", post(resources::retire))
        .route("/resources/{id}/versions", get(resources::versions))
        .route(
            "/resources/{id}/opening",
            get(openings::get).put(openings::put),
        )
        .route(
            "/resources/{id}/opening/withdrawal",
            post(openings::withdraw),
        )
        .route(
            "/resources/{id}/opening/destruction",
            post(openings::destroy),
        )
        .route("/open-access", get(openings::list).post(openings::apply))
        .route("/open-access/{id}/decision", post(openings::decide))
        .route("/open/requests", get(society::requests).post(society::ask))
        .route("/open/requests/{id}/answer", post(society::answer))
        .route(
            "/open/ratings",
            get(society::pending_ratings).post(society::rate),
        )
        .route(
            "/open/ratings/{id}/moderation",
            post(society::moderate_rating),
        )
        .route("/open/showcase", post(society::submit))
        .route(
            "/open/showcase/{id}/moderation",
            post(society::moderate_showcase),
        )
        .route("/open/evaluation", get(society::evaluation))
        .route("/open/evaluation.xlsx", get(society::evaluation_xlsx))
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
            post(sources::push).layer(axum::extract::DefaultBodyLimit::max(
                crate::app::sources::PUSH_LIMIT,
            )),
        )
        .route(
            "/data-elements",
            get(data_elements::data_elements).post(data_elements::put_data_element),
        )
        .route(
            "/data-elements/{identifier}",
            get(data_elements::data_element),
        )
        .route("/code-tables", get(code_tables::code_tables))
        .route("/code-tables/{id}", get(code_tables::code_table))
        .route(
            "/code-tables/{id}/import",
            post(code_tables::import_code_table),
        )
        .route("/resources/{id}/rules", get(rules::rules_of))
        .route("/rules", post(rules::create_rule))
        .route("/rules/{id}", get(rules::rule).put(rules::revise_rule))
        .route(
            "/rules/{id}/versions/{version}/approve",
            post(rules::approve_rule),
        )
        .route(
            "/rules/{id}/versions/{version}/reject",
            post(rules::reject_rule),
        )
        .route("/rules/{id}/retire", post(rules::retire_rule))
        .route("/resources/{id}/suggestions", get(rules::get_suggestions))
        .route(
            "/resources/{id}/suggestions/discard",
            post(rules::discard_suggestion),
        )
        .route("/batches/{id}/quality", get(batches::batch_quality))
        .route("/batches/{id}/check", post(batches::check_now))
        .route("/batches/{id}/profile.xlsx", get(batches::profile_xlsx))
        .route("/batches/{id}/violations.csv", get(batches::violations_csv))
        .route("/work-orders", get(work_orders::work_orders))
        .route("/work-orders/{id}", get(work_orders::work_order))
        .route("/work-orders/{id}/status", post(work_orders::advance))
        .route("/quality/scores", get(quality::scores))
        .route("/quality/ranking", get(quality::get_ranking))
        .route("/quality/report", get(quality::report))
        .route("/quality/report.xlsx", get(quality::report_xlsx))
        .route(
            "/quality/weights",
            get(quality::weights).put(quality::set_weights),
        )
        .route("/base/path", get(base::path))
        .route("/base/indicators", get(base::indicators))
        .route("/base/{kind}", get(base::find))
        .route("/base/{kind}/{id}", get(base::get))
        .route("/base/{kind}/{id}/graph", get(base::graph))
        .route("/fusion/reviews", get(fusion::reviews))
        .route("/fusion/reviews/{id}/decision", post(fusion::decide))
        .route("/fusion/runs", get(fusion::runs))
        .route("/base/{kind}/{id}/corrections", post(base::propose))
        .route("/fusion/corrections", get(fusion::corrections))
        .route(
            "/fusion/corrections/{id}/confirmation",
            post(fusion::confirm_correction),
        )
        .route(
            "/fusion/corrections/{id}/decision",
            post(fusion::decide_correction),
        )
        .route("/search", get(search::search))
        .route("/search/rebuild", post(search::rebuild))
        .route("/audit", get(audit::list))
        .route("/audit/verify", get(audit::verify))
        .route(
            "/share/applications",
            get(share::applications).post(share::apply),
        )
        .route("/share/applications/{id}", get(share::application))
        .route("/share/applications/{id}/decision", post(share::decide))
        .route("/share/applications/{id}/withdrawal", post(share::withdraw))
        .route("/share/usage", get(share::usage))
        .route("/share/who-read", post(share::who_read))
        .route(
            "/verifications/{library}",
            post(verify::verify).layer(axum::extract::DefaultBodyLimit::max(verify::BODY_LIMIT)),
        )
        .route(
            "/comparisons/population",
            post(verify::compare).layer(axum::extract::DefaultBodyLimit::max(verify::BODY_LIMIT)),
        )
        .route("/apps", get(apps::list).post(apps::create))
        .route("/apps/{id}", get(apps::get).put(apps::edit))
        .route("/apps/{id}/status", post(apps::set_status))
        .route("/apps/{id}/keys", get(apps::keys).post(apps::create_key))
        .route("/apps/{id}/keys/{key}", delete(apps::revoke_key))
        .route(
            "/subscriptions",
            get(subscriptions::list).post(subscriptions::create),
        )
        .route("/subscriptions/{id}", get(subscriptions::get))
        .route(
            "/subscriptions/{id}/status",
            post(subscriptions::set_status),
        )
        .route(
            "/subscriptions/{id}/deliveries",
            post(subscriptions::deliver),
        )
        .route("/grants", get(share::grants))
        .route("/grants/{id}", get(share::grant))
        .route("/grants/{id}/status", post(share::set_status))
        .route("/grants/{id}/rows", get(share::rows))
        .route(
            "/service-versions",
            get(services::list).post(services::define),
        )
        .route(
            "/service-versions/{id}",
            get(services::get).put(services::edit),
        )
        .route("/service-versions/{id}/test", post(services::test))
        .route("/service-versions/{id}/review", post(services::review))
        .route("/service-versions/{id}/publish", post(services::publish))
        .route(
            "/service-versions/{id}/deprecate",
            post(services::deprecate),
        )
        .route("/service-versions/{id}/retire", post(services::retire))
        .route(
            "/service-versions/{id}/operations",
            get(services::operations),
        )
        .route("/service-versions/{id}/sla", put(services::set_sla))
        .route("/service-versions/{id}/cutoffs", post(services::cut_off))
        .route(
            "/service-versions/{id}/cutoffs/{org}",
            delete(services::restore),
        )
        .route(
            "/service-versions/{id}/openapi.json",
            get(services::openapi),
        )
        .route(
            "/services/{name}/{version}",
            get(services::call_get).post(services::call_post),
        )
        .route(
            "/services/{name}/{version}/{*rest}",
            get(services::call_path),
        )
}
