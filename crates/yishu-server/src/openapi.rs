//! The OpenAPI 3 document, generated from the handlers' annotations, and the vendored Swagger UI.

use crate::AppState;
use crate::routes::{
    api_keys, attachments, audit, base, batches, catalog_io, matters, me, mounts, orgs, quality,
    reports, resources, search, session, sources, users, watch,
};
use axum::Router;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Yishu (一数) API", description = "Government data resource platform. Every failure answers {\"error\":{\"code\",\"message\",\"request_id\"}}."),
    paths(
        session::login, session::logout, me::get_me,
        api_keys::list, api_keys::create, api_keys::revoke,
        orgs::list, orgs::get, orgs::create, orgs::update,
        users::list, users::get, users::create, users::update,
        audit::list, audit::verify,
        resources::list, resources::get, resources::create, resources::update, resources::submit,
        resources::review, resources::publish, resources::retire, resources::versions, resources::batches, resources::stats, resources::drift,
        search::search, search::rebuild,
        sources::list, sources::create, sources::run, sources::push, batches::quarantine_csv, batches::quarantine_xlsx, batches::get,
        resources::fill_template, mounts::put, mounts::delete, mounts::get, mounts::sample, catalog_io::template, catalog_io::export_xlsx, catalog_io::export_json, catalog_io::import_xlsx, attachments::create, attachments::list, attachments::content,
        watch::watch, watch::unwatch, watch::notifications,
        matters::create, matters::get, matters::link, matters::of_resource,
        quality::data_elements, quality::data_element, quality::put_data_element, quality::code_tables, quality::code_table, quality::import_code_table,
        quality::rules_of, quality::create_rule, quality::rule, quality::revise_rule, quality::approve_rule, quality::reject_rule, quality::retire_rule,
        quality::get_suggestions, quality::discard_suggestion, quality::batch_quality, quality::check_now, quality::violations_csv, quality::profile_xlsx,
        quality::work_orders, quality::work_order, quality::advance, quality::scores, quality::get_ranking, quality::weights, quality::set_weights,
        reports::report, reports::report_xlsx,
        base::find, base::get, base::graph, base::path, base::reviews, base::decide, base::runs, base::propose, base::corrections, base::confirm_correction, base::decide_correction, base::indicators,
    ),
    components(schemas(crate::error::ErrorBody, yishu_types::Role, yishu_meta::OrgKind, yishu_meta::OrgLevel)),
    tags(
        (name = "auth", description = "Sessions and the caller"),
        (name = "api-keys", description = "Keys for programs"),
        (name = "orgs", description = "Organisations: levels and departments"),
        (name = "users", description = "Users and roles"),
        (name = "audit", description = "The SM3-chained audit log"),
        (name = "catalog", description = "政务信息资源目录: resources, review, versions, search"),
        (name = "collection", description = "数据归集: sources, schedules, pushed rows"),
        (name = "base", description = "基础库与融合: golden records with provenance, timelines, the relationship graph, the review queue"),
        (name = "quality", description = "标准与质量: data elements, code tables, rules under review, profiles, violations, work orders, scores"),
    )
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(SwaggerUi::new("/api/v1/docs").url("/api/v1/openapi.json", ApiDoc::openapi()))
}
