//! `/api/v1/service-versions` (defining, testing, reviewing and publishing data services) and
//! `/api/v1/services/{name}/v{n}` (calling a published one). Each lifecycle step is audited,
//! refusals too; each call is a read through the gate, in the read audit before rows go out.

use crate::AppState;
use crate::app::audit::audited;
use crate::app::share::{plan_read, read_done};
use crate::auth::{Auth, DefineServices, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use yishu_meta::service::{Param, ParamKind, Placement, Service, ServiceDraft};
use yishu_meta::service_stats::Outcome;
use yishu_meta::{Principal, now_ms};
use yishu_share::service::param::Given;
use yishu_share::service::{self, Answer};
use yishu_share::{ReadRequest, gate};
use yishu_types::ErrorCode;

fn object(s: &Service) -> String {
    format!("service:{}/v{}", s.name, s.version)
}

/// Whether `who` sees a version: published ones everybody signed in, the others their
/// department and the bureau.
fn visible(who: &Principal, s: &Service) -> bool {
    s.status.serves() || gate::standing(who, s.provider_org_id).is_some()
}

async fn seen(s: &AppState, who: &Principal, id: i64) -> ApiResult<Service> {
    let svc = s.store.service(id).await?;
    if visible(who, &svc) {
        Ok(svc)
    } else {
        Err(ApiError::new(
            ErrorCode::ServiceNotFound,
            format!("no data service {id}"),
        ))
    }
}

/// Defines a data service (a new version when the name exists): its SQL is parsed and planned
/// now, and it starts as a draft.
#[utoipa::path(post, path = "/api/v1/service-versions", tag = "services", request_body = ServiceDraft,
    responses((status = 201, body = Service), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn define(
    State(s): State<AppState>,
    auth: Auth<DefineServices>,
    ValidJson(d): ValidJson<ServiceDraft>,
) -> ApiResult<(StatusCode, Json<Service>)> {
    let done = service::define(&s.store, &s.lake, auth.who(), &d)
        .await
        .map_err(ApiError::from);
    let object = match &done {
        Ok(x) => object(x),
        Err(_) => format!("service:{}", d.name),
    };
    let detail =
        json!({"sql": d.sql, "params": d.params.iter().map(|p| &p.name).collect::<Vec<_>>()});
    let svc = audited(&s, &auth, "service.define", object, detail, done).await?;
    Ok((StatusCode::CREATED, Json(svc)))
}

/// Every version the caller may see, by name and version.
#[utoipa::path(get, path = "/api/v1/service-versions", tag = "services",
    responses((status = 200, body = [Service])))]
pub async fn list(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<Service>>> {
    let all = s.store.services().await?;
    Ok(Json(
        all.into_iter().filter(|x| visible(auth.who(), x)).collect(),
    ))
}

/// One version.
#[utoipa::path(get, path = "/api/v1/service-versions/{id}", tag = "services",
    params(("id" = i64, Path, description = "service version id")),
    responses((status = 200, body = Service), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Service>> {
    Ok(Json(seen(&s, auth.who(), id).await?))
}

/// Replaces a draft's definition (a tested one goes back to draft and needs a new test run).
#[utoipa::path(put, path = "/api/v1/service-versions/{id}", tag = "services", request_body = ServiceDraft,
    params(("id" = i64, Path, description = "service version id")),
    responses((status = 200, body = Service), (status = 400, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn edit(
    State(s): State<AppState>,
    auth: Auth<DefineServices>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<ServiceDraft>,
) -> ApiResult<Json<Service>> {
    let done = service::edit(&s.store, &s.lake, auth.who(), id, &d)
        .await
        .map_err(ApiError::from);
    let detail = json!({"id": id, "sql": d.sql});
    let svc = audited(
        &s,
        &auth,
        "service.edit",
        format!("service:{}", d.name),
        detail,
        done,
    )
    .await?;
    Ok(Json(svc))
}

/// Values for a test run.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRun {
    /// Parameter values by name.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// A test run's outcome: the version (now tested) and the rows it returned.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Tested {
    pub service: Service,
    pub answer: Answer,
}

/// Runs a version on real data with the author's department's standing; a draft becomes
/// tested (review needs a test run).
#[utoipa::path(post, path = "/api/v1/service-versions/{id}/test", tag = "services", request_body = TestRun,
    params(("id" = i64, Path, description = "service version id")),
    responses((status = 200, body = Tested), (status = 400, body = crate::error::ErrorBody), (status = 504, body = crate::error::ErrorBody)))]
pub async fn test(
    State(s): State<AppState>,
    auth: Auth<DefineServices>,
    Path(id): Path<i64>,
    ValidJson(t): ValidJson<TestRun>,
) -> ApiResult<Json<Tested>> {
    let done = service::test(
        &s.store,
        &s.lake,
        auth.who(),
        id,
        &Given::from_json(&t.params),
    )
    .await
    .map_err(ApiError::from);
    let detail = json!({"id": id, "rows": done.as_ref().map(|(_, a)| a.rows.len()).unwrap_or(0)});
    let (service, answer) = audited(
        &s,
        &auth,
        "service.test",
        format!("service_version:{id}"),
        detail,
        done,
    )
    .await?;
    Ok(Json(Tested { service, answer }))
}

/// A reviewer's decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub approve: bool,
    /// Why (required to reject).
    #[serde(default)]
    pub note: String,
}

/// The review of a tested version by a data manager other than its author.
#[utoipa::path(post, path = "/api/v1/service-versions/{id}/review", tag = "services", request_body = Review,
    params(("id" = i64, Path, description = "service version id")),
    responses((status = 200, body = Service), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn review(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
    ValidJson(r): ValidJson<Review>,
) -> ApiResult<Json<Service>> {
    let done = service::review(&s.store, auth.who(), id, r.approve, &r.note)
        .await
        .map_err(ApiError::from);
    let action = if r.approve {
        "service.approve"
    } else {
        "service.reject"
    };
    let detail = json!({"id": id, "note": r.note});
    let svc = audited(
        &s,
        &auth,
        action,
        format!("service_version:{id}"),
        detail,
        done,
    )
    .await?;
    Ok(Json(svc))
}

/// Publishes a reviewed version at `/api/v1/services/{name}/v{version}`.
#[utoipa::path(post, path = "/api/v1/service-versions/{id}/publish", tag = "services",
    params(("id" = i64, Path, description = "service version id")),
    responses((status = 200, body = Service), (status = 409, body = crate::error::ErrorBody)))]
pub async fn publish(
    State(s): State<AppState>,
    auth: Auth<DefineServices>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Service>> {
    let done = service::publish(&s.store, auth.who(), id)
        .await
        .map_err(ApiError::from);
    let svc = audited(
        &s,
        &auth,
        "service.publish",
        format!("service_version:{id}"),
        json!({"id": id}),
        done,
    )
    .await?;
    Ok(Json(svc))
}

/// When a deprecated version stops serving.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deprecation {
    /// The last day it serves (`YYYY-MM-DD`, China time); from the next day calls get 410.
    pub sunset: String,
}

/// Deprecates a published version: it serves until its sunset date, then answers 410.
#[utoipa::path(post, path = "/api/v1/service-versions/{id}/deprecate", tag = "services", request_body = Deprecation,
    params(("id" = i64, Path, description = "service version id")),
    responses((status = 200, body = Service), (status = 400, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn deprecate(
    State(s): State<AppState>,
    auth: Auth<DefineServices>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<Deprecation>,
) -> ApiResult<Json<Service>> {
    let done = async {
        let end = service::sunset_after(&d.sunset)?;
        Ok(service::deprecate(&s.store, auth.who(), id, end).await?)
    }
    .await;
    let svc = audited(
        &s,
        &auth,
        "service.deprecate",
        format!("service_version:{id}"),
        json!({"id": id, "sunset": d.sunset}),
        done,
    )
    .await?;
    Ok(Json(svc))
}

/// Retires a version: calls answer 410 from now on.
#[utoipa::path(post, path = "/api/v1/service-versions/{id}/retire", tag = "services",
    params(("id" = i64, Path, description = "service version id")),
    responses((status = 200, body = Service), (status = 409, body = crate::error::ErrorBody)))]
pub async fn retire(
    State(s): State<AppState>,
    auth: Auth<DefineServices>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Service>> {
    let done = service::retire(&s.store, auth.who(), id)
        .await
        .map_err(ApiError::from);
    let svc = audited(
        &s,
        &auth,
        "service.retire",
        format!("service_version:{id}"),
        json!({"id": id}),
        done,
    )
    .await?;
    Ok(Json(svc))
}

/// `v3` → 3.
fn version_of(v: &str) -> ApiResult<i64> {
    v.strip_prefix('v')
        .and_then(|n| n.parse().ok())
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ServiceNotFound,
                format!("'{v}' is not a version like v1"),
            )
        })
}

/// Calls a published service: values from the path (after the version, in declared order), the
/// query and the JSON body; rows through the caller's grant (or own standing), masked, audited.
/// Calls a published service, counted for its operation (calls, rows, refusals, failures and
/// latency per consumer department).
async fn call(
    s: &AppState,
    auth: &Auth<SignedIn>,
    name: &str,
    version: &str,
    rest: Option<&str>,
    query: BTreeMap<String, String>,
    body: serde_json::Map<String, serde_json::Value>,
) -> ApiResult<Json<Answer>> {
    let started = std::time::Instant::now();
    let done = answer(s, auth, name, version, rest, query, body).await;
    let (outcome, rows) = match &done {
        Ok(a) => (Outcome::Ok, a.rows.len()),
        Err(e) if e.0.code.http_status() >= 500 => (Outcome::Failed, 0),
        Err(_) => (Outcome::Refused, 0),
    };
    s.service_meter.observe(
        name,
        version_of(version).unwrap_or(0),
        auth.who().org_id,
        outcome,
        rows,
        started.elapsed().as_secs_f64() * 1000.0,
    );
    done
}

async fn answer(
    s: &AppState,
    auth: &Auth<SignedIn>,
    name: &str,
    version: &str,
    rest: Option<&str>,
    query: BTreeMap<String, String>,
    body: serde_json::Map<String, serde_json::Value>,
) -> ApiResult<Json<Answer>> {
    let who = auth.who();
    let ch = auth.meta.channel("service");
    let target = format!("service:{name}");
    let now = now_ms();
    let found = async {
        let svc = service::serving(&s.store, name, version_of(version)?, now).await?;
        if let Some(cut) = s.store.service_cut_for(name, who.org_id).await? {
            return Err(ApiError::new(
                ErrorCode::ServiceCutOff,
                format!(
                    "{name} is cut off for {} by its provider: {}",
                    if cut.org_id.is_some() {
                        "your department"
                    } else {
                        "every consumer"
                    },
                    cut.reason
                ),
            ));
        }
        let mut given = Given {
            query,
            body,
            ..Default::default()
        };
        let in_path: Vec<&Param> = svc
            .draft
            .params
            .iter()
            .filter(|p| p.placement == Placement::Path)
            .collect();
        let parts: Vec<&str> = rest
            .unwrap_or("")
            .split('/')
            .filter(|x| !x.is_empty())
            .collect();
        if parts.len() != in_path.len() {
            return Err(ApiError::new(
                ErrorCode::ParamInvalid,
                format!(
                    "{} takes {} path segment(s) after the version ({}), got {}",
                    svc.path(),
                    in_path.len(),
                    in_path
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join("/"),
                    parts.len()
                ),
            ));
        }
        for (p, v) in in_path.iter().zip(parts) {
            given.path.insert(p.name.clone(), v.to_string());
        }
        let bound = yishu_share::service::param::bind(&svc.draft.params, &given)?;
        Ok((svc, bound))
    }
    .await;
    let (svc, bound) = match found {
        Ok(x) => x,
        Err(e) => {
            return Err(crate::app::share::refused(s, who, &ch, &target, e.0).await);
        }
    };
    if !svc.draft.steps.is_empty() {
        return function(s, auth, &svc, &bound).await;
    }
    let req = ReadRequest {
        limit: svc.draft.row_cap as usize,
        ..Default::default()
    };
    let plan = plan_read(s, who, &ch, &target, Ok(service::source_of(&svc)), &req).await?;
    let answer = match service::run(&s.lake, &svc, &bound, &plan).await {
        Ok(a) => a,
        Err(e) => return Err(crate::app::share::refused(s, who, &ch, &target, e).await),
    };
    let subjects: Vec<&str> = answer.subjects.iter().map(String::as_str).collect();
    read_done(s, who, &ch, &plan, answer.rows.len(), &subjects).await?;
    Ok(Json(answer))
}

/// Calls a function API: each step a read through the gate on the caller's grant for what it
/// calls, each in the read audit (a step's refusal by the gate is recorded there; any other
/// failure is recorded here).
async fn function(
    s: &AppState,
    auth: &Auth<SignedIn>,
    svc: &Service,
    bound: &std::collections::HashMap<String, yishu_share::service::param::Bound>,
) -> ApiResult<Json<Answer>> {
    let who = auth.who();
    let gate = CallerGate {
        s,
        who,
        ch: auth.meta.channel("service"),
        refused: AtomicBool::new(false),
    };
    match service::function::run_function(&s.store, &s.lake, svc, bound, &gate).await {
        Ok(a) => Ok(Json(a)),
        Err(e) if gate.refused.load(Ordering::Relaxed) => Err(e.into()),
        Err(e) => Err(crate::app::share::refused(s, who, &gate.ch, &svc.target(), e).await),
    }
}

/// A function's steps as the caller reads them: through the gate on their grants, each read
/// in the read audit.
struct CallerGate<'a> {
    s: &'a AppState,
    who: &'a Principal,
    ch: yishu_share::audit::Channel,
    /// The gate refused a step (and recorded the refusal).
    refused: AtomicBool,
}

impl service::function::StepGate for CallerGate<'_> {
    fn plan(
        &self,
        source: yishu_share::Source,
        req: ReadRequest,
    ) -> BoxFuture<'_, Result<yishu_share::ReadPlan, yishu_types::Error>> {
        Box::pin(async move {
            let target = source.target.clone();
            plan_read(self.s, self.who, &self.ch, &target, Ok(source), &req)
                .await
                .map_err(|e| {
                    self.refused.store(true, Ordering::Relaxed);
                    e.0
                })
        })
    }

    fn record<'a>(
        &'a self,
        plan: &'a yishu_share::ReadPlan,
        rows: usize,
        subjects: Vec<String>,
    ) -> BoxFuture<'a, Result<(), yishu_types::Error>> {
        Box::pin(async move {
            let keys: Vec<&str> = subjects.iter().map(String::as_str).collect();
            read_done(self.s, self.who, &self.ch, plan, rows, &keys)
                .await
                .map_err(|e| e.0)
        })
    }
}

/// Calls a published data service with its parameters in the query.
#[utoipa::path(get, path = "/api/v1/services/{name}/{version}", tag = "services",
    params(("name" = String, Path, description = "service name"), ("version" = String, Path, description = "v1, v2 …")),
    responses((status = 200, body = Answer), (status = 403, body = crate::error::ErrorBody), (status = 410, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody, description = "over the grant's limits; see Retry-After"), (status = 504, body = crate::error::ErrorBody)))]
pub async fn call_get(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path((name, version)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Answer>> {
    call(&s, &auth, &name, &version, None, q, Default::default()).await
}

/// Calls a published data service with path parameters after the version.
#[utoipa::path(get, path = "/api/v1/services/{name}/{version}/{rest}", tag = "services",
    params(("name" = String, Path, description = "service name"), ("version" = String, Path, description = "v1, v2 …"),
        ("rest" = String, Path, description = "the path parameters, in declared order")),
    responses((status = 200, body = Answer), (status = 403, body = crate::error::ErrorBody), (status = 410, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody, description = "over the grant's limits; see Retry-After"), (status = 504, body = crate::error::ErrorBody)))]
pub async fn call_path(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path((name, version, rest)): Path<(String, String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Answer>> {
    call(
        &s,
        &auth,
        &name,
        &version,
        Some(&rest),
        q,
        Default::default(),
    )
    .await
}

/// Calls a published data service with its parameters in a JSON body (lists as arrays).
#[utoipa::path(post, path = "/api/v1/services/{name}/{version}", tag = "services",
    request_body = serde_json::Value,
    params(("name" = String, Path, description = "service name"), ("version" = String, Path, description = "v1, v2 …")),
    responses((status = 200, body = Answer), (status = 403, body = crate::error::ErrorBody), (status = 410, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody, description = "over the grant's limits; see Retry-After"), (status = 504, body = crate::error::ErrorBody)))]
pub async fn call_post(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path((name, version)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
    ValidJson(body): ValidJson<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<Json<Answer>> {
    call(&s, &auth, &name, &version, None, q, body).await
}

/// One parameter's schema.
fn kind_schema(k: &ParamKind) -> Value {
    match k {
        ParamKind::String {
            min_len,
            max_len,
            pattern,
        } => {
            let mut v = json!({"type": "string", "minLength": min_len, "maxLength": max_len});
            if let Some(p) = pattern {
                v["pattern"] = json!(format!("^(?:{p})$"));
            }
            v
        }
        ParamKind::Integer { min, max } => {
            let mut v = json!({"type": "integer", "format": "int64"});
            if let Some(m) = min {
                v["minimum"] = json!(m);
            }
            if let Some(m) = max {
                v["maximum"] = json!(m);
            }
            v
        }
        ParamKind::Date => json!({"type": "string", "format": "date"}),
        ParamKind::Enum { values } => json!({"type": "string", "enum": values}),
        ParamKind::List { item, max } => {
            json!({"type": "array", "items": kind_schema(item), "minItems": 1, "maxItems": max})
        }
    }
}

/// A published version's own OpenAPI path item: its path (path parameters after the
/// version), its typed parameters, its result's items and every answer a call can get.
pub fn fragment(svc: &Service) -> (String, Value) {
    let mut path = svc.path();
    for p in svc
        .draft
        .params
        .iter()
        .filter(|p| p.placement == Placement::Path)
    {
        path.push_str(&format!("/{{{}}}", p.name));
    }
    let error = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}});
    let items: Vec<&str> = svc
        .checked
        .outputs
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    let responses = json!({
        "200": {"description": "the rows the caller's grant shows, masked as granted", "content": {"application/json": {"schema": {
            "type": "object", "required": ["items", "rows", "truncated"],
            "properties": {
                "items": {"type": "array", "items": {"type": "string", "enum": items}},
                "rows": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
                "truncated": {"type": "boolean"}}}}}},
        "400": error("a parameter is missing, of the wrong type or outside its domain"),
        "401": error("not signed in, or the key is expired or revoked"),
        "403": error("no active grant for this service"),
        "404": error("no such service version"),
        "410": error("the version is retired or past its sunset"),
        "429": error("over the grant's limits; see Retry-After"),
        "504": error("the query ran past its timeout"),
    });
    let parameters: Vec<Value> = svc
        .draft
        .params
        .iter()
        .filter(|p| p.placement != Placement::Body)
        .map(|p| {
            let mut v = json!({
                "name": p.name,
                "in": if p.placement == Placement::Path { "path" } else { "query" },
                "required": p.required || p.placement == Placement::Path,
                "description": p.description,
                "schema": kind_schema(&p.kind),
            });
            if matches!(p.kind, ParamKind::List { .. }) {
                v["style"] = json!("form");
                v["explode"] = json!(false);
            }
            if let Some(e) = &p.example {
                v["example"] = json!(e);
            }
            v
        })
        .collect();
    let body: Vec<&Param> = svc
        .draft
        .params
        .iter()
        .filter(|p| p.placement == Placement::Body)
        .collect();
    let summary = format!("{}（v{}）", svc.draft.title, svc.version);
    let op_id = format!("service_{}_v{}", svc.name.replace('-', "_"), svc.version);
    let mut op = json!({
        "tags": ["services"], "summary": summary, "description": svc.draft.description,
        "operationId": op_id, "parameters": parameters, "responses": responses,
    });
    let method = if body.is_empty() {
        "get"
    } else {
        let props: serde_json::Map<String, Value> = body
            .iter()
            .map(|p| (p.name.clone(), kind_schema(&p.kind)))
            .collect();
        let required: Vec<&str> = body
            .iter()
            .filter(|p| p.required)
            .map(|p| p.name.as_str())
            .collect();
        op["requestBody"] = json!({"required": !required.is_empty(), "content": {"application/json": {"schema": {
            "type": "object", "properties": props, "required": required, "additionalProperties": false}}}});
        "post"
    };
    if svc.status == yishu_meta::service::ServiceStatus::Deprecated {
        op["deprecated"] = json!(true);
    }
    (path, json!({ method: op }))
}

/// One version's OpenAPI fragment, as a document of its own.
#[utoipa::path(get, path = "/api/v1/service-versions/{id}/openapi.json", tag = "services",
    params(("id" = i64, Path, description = "service version id")),
    responses((status = 200, body = Object), (status = 404, body = crate::error::ErrorBody)))]
pub async fn openapi(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let svc = seen(&s, auth.who(), id).await?;
    let (path, item) = fragment(&svc);
    Ok(Json(json!({
        "openapi": "3.1.0",
        "info": {"title": svc.draft.title, "version": format!("v{}", svc.version)},
        "paths": {path: item},
        "components": {"schemas": crate::openapi::error_schemas()},
    })))
}

/// Version `id` when `who` runs it: its providing department or the bureau's data managers.
async fn operated(s: &AppState, who: &Principal, id: i64) -> ApiResult<Service> {
    let svc = seen(s, who, id).await?;
    if gate::standing(who, svc.provider_org_id).is_some() {
        Ok(svc)
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "the operation of {} is for its providing department and the bureau",
                object(&svc)
            ),
        ))
    }
}

/// Days a report covers.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OpsQuery {
    /// 1–92, 7 when left out.
    pub days: Option<i64>,
}

/// The API's operation (every version): per consumer calls, rows, refusals, failures, p50/p99,
/// last call and trend; the SLA and the days that broke it; the cut-offs.
#[utoipa::path(get, path = "/api/v1/service-versions/{id}/operations", tag = "services",
    params(("id" = i64, Path, description = "service version id"), OpsQuery),
    responses((status = 200, body = crate::app::service_ops::ServiceOps), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn operations(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
    Query(q): Query<OpsQuery>,
) -> ApiResult<Json<crate::app::service_ops::ServiceOps>> {
    let svc = operated(&s, auth.who(), id).await?;
    Ok(Json(
        crate::app::service_ops::report(&s, &svc.name, q.days.unwrap_or(7)).await?,
    ))
}

/// An API's service level.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaBody {
    /// Percent of calls answered without a server failure, e.g. 99.9.
    pub availability: f64,
    pub p99_ms: i64,
}

/// Sets the API's SLA (every version); the operation report lists the days that broke it.
#[utoipa::path(put, path = "/api/v1/service-versions/{id}/sla", tag = "services", request_body = SlaBody,
    params(("id" = i64, Path, description = "service version id")),
    responses((status = 200, body = yishu_meta::service_stats::Sla), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn set_sla(
    State(s): State<AppState>,
    auth: Auth<DefineServices>,
    Path(id): Path<i64>,
    ValidJson(b): ValidJson<SlaBody>,
) -> ApiResult<Json<yishu_meta::service_stats::Sla>> {
    let done = async {
        let svc = operated(&s, auth.who(), id).await?;
        let sla = s
            .store
            .set_service_sla(&svc.name, b.availability, b.p99_ms, auth.who().user_id)
            .await?;
        Ok((svc, sla))
    }
    .await;
    let obj = done
        .as_ref()
        .map(|(svc, _)| format!("service:{}", svc.name))
        .unwrap_or_else(|_| format!("service-version:{id}"));
    let detail = json!({"availability": b.availability, "p99_ms": b.p99_ms});
    let (_, sla) = audited(&s, &auth, "service.sla", obj, detail, done).await?;
    Ok(Json(sla))
}

/// Cutting an API off.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CutBody {
    /// The consumer department cut off; every consumer when left out.
    #[serde(default)]
    pub org_id: Option<i64>,
    pub reason: String,
}

/// Cuts the API off (every version) for one consumer department or everybody: their next call
/// is refused with `service_cut_off`.
#[utoipa::path(post, path = "/api/v1/service-versions/{id}/cutoffs", tag = "services", request_body = CutBody,
    params(("id" = i64, Path, description = "service version id")),
    responses((status = 200, body = yishu_meta::service_stats::CutOff), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn cut_off(
    State(s): State<AppState>,
    auth: Auth<DefineServices>,
    Path(id): Path<i64>,
    ValidJson(b): ValidJson<CutBody>,
) -> ApiResult<Json<yishu_meta::service_stats::CutOff>> {
    let org = b.org_id.filter(|o| *o != 0).map(yishu_types::OrgId);
    let done = async {
        let svc = operated(&s, auth.who(), id).await?;
        if let Some(o) = org {
            s.store.get_org(o).await?;
        }
        Ok(s.store
            .cut_off_service(&svc.name, org, &b.reason, auth.who().user_id)
            .await?)
    }
    .await;
    let obj = done
        .as_ref()
        .map(|c| format!("service:{}", c.service))
        .unwrap_or_else(|_| format!("service-version:{id}"));
    let detail = json!({"org_id": b.org_id, "reason": b.reason});
    Ok(Json(
        audited(&s, &auth, "service.cut_off", obj, detail, done).await?,
    ))
}

/// Lifts a cut-off (`org` 0: the one for everybody).
#[utoipa::path(delete, path = "/api/v1/service-versions/{id}/cutoffs/{org}", tag = "services",
    params(("id" = i64, Path, description = "service version id"), ("org" = i64, Path, description = "consumer department id, 0 for everybody")),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn restore(
    State(s): State<AppState>,
    auth: Auth<DefineServices>,
    Path((id, org)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    let done = async {
        let svc = operated(&s, auth.who(), id).await?;
        let org = (org != 0).then_some(yishu_types::OrgId(org));
        if s.store.restore_service(&svc.name, org).await? {
            Ok(svc)
        } else {
            Err(ApiError::new(
                ErrorCode::ServiceNotFound,
                format!("{} is not cut off for {org:?}", object(&svc)),
            ))
        }
    }
    .await;
    let obj = done
        .as_ref()
        .map(|svc| format!("service:{}", svc.name))
        .unwrap_or_else(|_| format!("service-version:{id}"));
    audited(
        &s,
        &auth,
        "service.restore",
        obj,
        json!({"org_id": org}),
        done,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
