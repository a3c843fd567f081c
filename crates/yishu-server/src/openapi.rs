//! The OpenAPI 3 document, generated from the handlers' annotations, and the vendored Swagger UI.

use crate::AppState;
use crate::routes::{
    api_keys, apps, attachments, audit, base, batches, catalog_io, code_tables, data_elements,
    fusion, matters, me, mounts, openings, orgs, quality, resources, rules, search, services,
    session, share, society, sources, subscriptions, users, verify, watch, work_orders,
};
use axum::Router;
use axum::extract::State;
use serde_json::{Value, json};
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
        resources::review, resources::pending_change, resources::review_change, resources::publish, resources::retire, resources::versions, resources::batches, resources::stats, resources::drift,
        search::search, search::rebuild,
        sources::list, sources::create, sources::run, sources::push, batches::quarantine_csv, batches::quarantine_xlsx, batches::get,
        resources::fill_template, mounts::put, mounts::delete, mounts::get, mounts::sample, catalog_io::template, catalog_io::export_xlsx, catalog_io::export_json, catalog_io::import_xlsx, attachments::create, attachments::list, attachments::content,
        watch::watch, watch::unwatch, watch::notifications,
        matters::create, matters::get, matters::link, matters::of_resource,
        data_elements::data_elements, data_elements::data_element, data_elements::put_data_element, code_tables::code_tables, code_tables::code_table, code_tables::import_code_table,
        rules::rules_of, rules::create_rule, rules::rule, rules::revise_rule, rules::approve_rule, rules::reject_rule, rules::retire_rule,
        rules::get_suggestions, rules::discard_suggestion, batches::batch_quality, batches::check_now, batches::violations_csv, batches::profile_xlsx,
        work_orders::work_orders, work_orders::work_order, work_orders::advance, quality::scores, quality::get_ranking, quality::weights, quality::set_weights,
        quality::report, quality::report_xlsx,
        base::find, base::get, base::graph, base::path, fusion::reviews, fusion::decide, fusion::runs, base::propose, fusion::corrections, fusion::confirm_correction, fusion::decide_correction, base::indicators,
        share::apply, share::applications, share::application, share::decide, share::withdraw, share::grants, share::grant, share::set_status, share::rows, share::usage, share::who_read,
        services::define, services::list, services::get, services::edit, services::test, services::review, services::publish, services::deprecate, services::retire,
        services::call_get, services::call_path, services::call_post, services::openapi,
        services::operations, services::set_sla, services::cut_off, services::restore,
        verify::verify, verify::compare,
        apps::list, apps::create, apps::get, apps::edit, apps::set_status, apps::keys, apps::create_key, apps::revoke_key,
        subscriptions::list, subscriptions::create, subscriptions::get, subscriptions::set_status, subscriptions::deliver,
        openings::get, openings::put, openings::withdraw, openings::destroy, openings::apply, openings::list, openings::decide,
        society::ask, society::requests, society::answer, society::rate, society::pending_ratings, society::moderate_rating,
        society::submit, society::moderate_showcase, society::evaluation, society::evaluation_xlsx,
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
        (name = "share", description = "数据共享: applications, review steps, grants (items, row filter, masks, limits, expiry), suspension"),
        (name = "services", description = "数据服务: data APIs defined in SQL with typed parameters, reviewed and published by version, called through grants"),
        (name = "apps", description = "接入应用: a department's systems calling data services, with keys that expire, IP allow-lists, calls a minute and a suspend switch"),
        (name = "subscriptions", description = "数据订阅: a grant's new rows delivered on a schedule into the department's PostgreSQL/MySQL table or a drop directory, exactly once, with state and lag"),
        (name = "open", description = "数据开放: opening decisions (items, rows, masks — a grant to the public), withdrawal and destruction, conditional access; public reads at /open and the CKAN Action API at /api/3/action"),
        (name = "quality", description = "标准与质量: data elements, code tables, rules under review, profiles, violations, work orders, scores"),
    )
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", axum::routing::get(served))
        .merge(
            SwaggerUi::new("/api/v1/docs")
                .config(utoipa_swagger_ui::Config::from("/api/v1/openapi.json")),
        )
}

/// The handlers' document, built once.
fn handlers() -> &'static Value {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(document)
}

/// `/api/v1/openapi.json`: the handlers' document with every data service that serves now
/// (published, or deprecated before its sunset) as its own operations.
async fn served(State(s): State<AppState>) -> crate::error::ApiResult<axum::Json<Value>> {
    let mut doc = handlers().clone();
    let now = yishu_meta::now_ms();
    let services = s.store.services().await?;
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for svc in services
            .iter()
            .filter(|x| x.status.serves() && x.sunset_at.is_none_or(|t| t > now))
        {
            let (path, item) = crate::routes::services::fragment(svc);
            paths.insert(path, item);
        }
    }
    Ok(axum::Json(doc))
}

/// The served document: the handlers' annotations, made usable by generated clients and fuzzers:
/// - a schema built from `#[serde(flatten)]` (an `allOf` whose parts forbid other properties, so
///   no value could satisfy it) becomes the one object it means;
/// - every operation lists the error answers the middleware can give it, each with the one
///   error body: 400 (bad parameters or body), 401, 403, 404, 409 (writes: conflicts), 413
///   (bodies over the limit) and 429 (login: a locked account).
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document is JSON");
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    merge_all_of_everywhere(&mut doc, &schemas);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for (method, op) in item.iter_mut() {
                add_error_answers(method, op);
            }
        }
    }
    doc
}

/// The uniform error body's schemas, for documents made apart from the handlers' one.
pub fn error_schemas() -> Value {
    let all = &handlers()["components"]["schemas"];
    json!({"ErrorBody": all["ErrorBody"], "ErrorDetail": all["ErrorDetail"]})
}

/// Merges every `allOf` in the document, inner ones first.
fn merge_all_of_everywhere(v: &mut Value, all: &serde_json::Map<String, Value>) {
    match v {
        Value::Object(m) => {
            for child in m.values_mut() {
                merge_all_of_everywhere(child, all);
            }
            merge_all_of(v, all);
        }
        Value::Array(a) => a.iter_mut().for_each(|c| merge_all_of_everywhere(c, all)),
        _ => {}
    }
}

/// Turns `allOf: [{$ref}, {object}]` into one object with the parts' properties and required
/// names; it forbids other properties when a part did.
fn merge_all_of(schema: &mut Value, all: &serde_json::Map<String, Value>) {
    let Some(parts) = schema.get("allOf").and_then(Value::as_array) else {
        return;
    };
    let mut properties = serde_json::Map::new();
    let mut required: Vec<Value> = Vec::new();
    let mut closed = false;
    for part in parts {
        let part = match part.get("$ref").and_then(Value::as_str) {
            Some(r) => match all.get(r.trim_start_matches("#/components/schemas/")) {
                Some(p) => p,
                None => return,
            },
            None => part,
        };
        if part.get("type").and_then(Value::as_str) != Some("object") {
            return;
        }
        if let Some(p) = part.get("properties").and_then(Value::as_object) {
            properties.extend(p.clone());
        }
        if let Some(r) = part.get("required").and_then(Value::as_array) {
            required.extend(r.iter().cloned());
        }
        closed |= part.get("additionalProperties") == Some(&Value::Bool(false));
    }
    let mut merged = json!({"type": "object", "properties": properties, "required": required});
    if let Some(d) = schema.get("description") {
        merged["description"] = d.clone();
    }
    if closed {
        merged["additionalProperties"] = Value::Bool(false);
    }
    *schema = merged;
}

fn add_error_answers(method: &str, op: &mut Value) {
    let write = matches!(method, "post" | "put" | "patch" | "delete");
    let has_body = op.get("requestBody").is_some();
    let login = op.get("operationId").and_then(Value::as_str) == Some("login");
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let answers = [
        (
            "400",
            true,
            "The request is malformed or a value is invalid",
        ),
        (
            "401",
            true,
            "Not signed in, or the key is expired or revoked",
        ),
        ("403", true, "The caller's roles do not allow this"),
        ("404", true, "No such object (or not visible to the caller)"),
        ("409", write, "The change conflicts with the current state"),
        ("413", has_body, "The body is over the size limit"),
        (
            "429",
            login,
            "The account is locked after repeated failures",
        ),
    ];
    for (status, applies, description) in answers {
        if applies && !responses.contains_key(status) {
            responses.insert(
                status.to_string(),
                json!({
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
                }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_bodies_are_one_object_and_every_operation_lists_its_errors() {
        let doc = document();
        let text = doc.to_string();
        assert!(!text.contains("\"allOf\""), "an allOf is left");
        // NewRule (a rule's body flattened into it) can be built: one object with every field.
        let rule = &doc["components"]["schemas"]["NewRule"];
        for field in ["resource_id", "name", "definition", "dimension", "severity"] {
            assert!(rule["properties"][field].is_object(), "{field}: {rule}");
        }
        assert_eq!(rule["additionalProperties"], false);
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for status in ["400", "401", "403", "404"] {
                    let r = &op["responses"][status];
                    assert!(r.is_object(), "{method} {path} lacks {status}");
                }
                if method != "get" {
                    assert!(
                        op["responses"]["409"].is_object(),
                        "{method} {path} lacks 409"
                    );
                }
            }
        }
        let login = &doc["paths"]["/api/v1/auth/login"]["post"]["responses"];
        assert_eq!(
            login["429"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
    }
}
