//! Standards and quality over HTTP (R11–R16): data elements and code tables, rules and their
//! review, suggestions from profiles, per-batch profiles, results and violations, work orders and
//! scores.

use crate::AppState;
use crate::auth::{Auth, Right, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use crate::routes::batches::{may_read_raw, visible_batch};
use crate::routes::resources::readable;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use yishu_meta::Principal;
use yishu_meta::catalog::{Actor, Resource, ResourceStatus};
use yishu_meta::quality::*;
use yishu_meta::workorder::{OrderEvent, OrderStatus, WorkOrder};
use yishu_quality::RuleDef;
use yishu_quality::run::BatchQuality;
use yishu_types::{ErrorCode, OrgId, Role};

/// Keep the registry of data elements and the national tables' mapping (the bureau).
pub struct ManageStandards;
impl Right for ManageStandards {
    const ROLES: &'static [Role] = &[Role::DataManager, Role::Admin];
    const NAME: &'static str = "manage_standards";
}

/// Write rules and handle work orders: departments' officers and the bureau.
pub struct Quality;
impl Right for Quality {
    const ROLES: &'static [Role] = &[Role::ProviderOfficer, Role::DataManager, Role::Admin];
    const NAME: &'static str = "quality";
}

fn actor(p: &Principal) -> Actor<'_> {
    Actor {
        user: p.user_id,
        org: p.org_id,
        roles: &p.roles,
    }
}

/// Records an action of the caller in the audit chain.
pub(crate) async fn audit<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    action: &str,
    object: String,
    detail: Value,
) -> ApiResult<()> {
    s.store
        .audit(
            &auth
                .meta
                .entry(Some(auth.who()), action, object, "ok", detail.to_string()),
        )
        .await?;
    Ok(())
}

/// Every data element at its newest version.
#[utoipa::path(get, path = "/api/v1/data-elements", tag = "quality", responses((status = 200, body = [DataElement])))]
pub async fn data_elements(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<DataElement>>> {
    Ok(Json(s.store.data_elements().await?))
}

/// Every version of one data element, oldest first.
#[utoipa::path(get, path = "/api/v1/data-elements/{identifier}", tag = "quality", responses((status = 200, body = [DataElement])))]
pub async fn data_element(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
    Path(identifier): Path<String>,
) -> ApiResult<Json<Vec<DataElement>>> {
    let v = s.store.data_element_versions(&identifier).await?;
    if v.is_empty() {
        return Err(ApiError::new(
            ErrorCode::QualityNotFound,
            format!("no data element '{identifier}'"),
        ));
    }
    Ok(Json(v))
}

/// Saves a data element; a change makes a new version.
#[utoipa::path(post, path = "/api/v1/data-elements", tag = "quality", request_body = NewDataElement, responses((status = 200, body = DataElement)))]
pub async fn put_data_element(
    State(s): State<AppState>,
    auth: Auth<ManageStandards>,
    ValidJson(d): ValidJson<NewDataElement>,
) -> ApiResult<Json<DataElement>> {
    if let Some(t) = d.domain.get("code_table").and_then(Value::as_str)
        && yishu_types::codes::table(t).is_none()
        && s.store.code_table(t).await.is_err()
    {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("domain: no code table '{t}'"),
        ));
    }
    if let Some(re) = d.domain.get("regex").and_then(Value::as_str) {
        yishu_quality::rule::compile_regex(re)
            .map_err(|e| ApiError::new(ErrorCode::InvalidInput, format!("domain: {e}")))?;
    }
    let de = s
        .store
        .put_data_element(&d, Some(auth.who().user_id))
        .await?;
    audit(
        &s,
        &auth,
        "standard.data_element",
        format!("data_element:{}", de.identifier),
        json!({"version": de.version}),
    )
    .await?;
    Ok(Json(de))
}

/// A national code table (shipped with the product) as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NationalTable {
    pub id: String,
    pub name: String,
    pub source: String,
    pub entries: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodeTables {
    pub national: Vec<NationalTable>,
    pub local: Vec<LocalCodeTable>,
}

/// The national code tables and the departments' own.
#[utoipa::path(get, path = "/api/v1/code-tables", tag = "quality", responses((status = 200, body = CodeTables)))]
pub async fn code_tables(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
) -> ApiResult<Json<CodeTables>> {
    Ok(Json(tables(&s).await?))
}

/// The national code tables and the departments' own.
pub(crate) async fn tables(s: &AppState) -> ApiResult<CodeTables> {
    let national = yishu_types::codes::national()
        .iter()
        .map(|t| NationalTable {
            id: t.id.clone(),
            name: t.name.clone(),
            source: t.source.clone(),
            entries: t.entries.len(),
        })
        .chain(std::iter::once(NationalTable {
            id: "division".into(),
            name: "中华人民共和国行政区划代码".into(),
            source: "GB/T 2260（含历年变更）".into(),
            entries: yishu_types::division::current_under("").len(),
        }))
        .collect();
    Ok(CodeTables {
        national,
        local: s.store.code_tables().await?,
    })
}

/// One code table: a national one's codes, or a department's with its mapping.
#[utoipa::path(get, path = "/api/v1/code-tables/{id}", tag = "quality", responses((status = 200, body = Object)))]
pub async fn code_table(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    if let Some(t) = yishu_types::codes::table(&id) {
        return Ok(Json(json!(t)));
    }
    Ok(Json(json!(s.store.code_table(&id).await?)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ImportQuery {
    /// Name of the department's table.
    pub name: String,
    /// The national table its codes mean (`sex`, `marital`, `ethnicity`, `education`, `relation`).
    pub national: Option<String>,
}

/// Imports a department's code table (CSV in UTF-8/GBK/GB18030, or XLSX: code and name columns)
/// and maps each local code to the national table by name or spelling. Codes that match only by
/// code, or not at all, are listed for a person to map by hand.
#[utoipa::path(post, path = "/api/v1/code-tables/{id}/import", tag = "quality", params(ImportQuery),
    request_body(content = String, content_type = "text/csv"), responses((status = 200, body = Object)))]
pub async fn import_code_table(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path(id): Path<String>,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let (saved, to_check) = import_codes(&s, &auth, &id, &q, &body).await?;
    Ok(Json(json!({"table": saved, "to_check": to_check})))
}

/// Saves an uploaded department code table as the next version of `id`; returns it and the
/// codes a person should map by hand (matched only by code, or not at all).
pub(crate) async fn import_codes(
    s: &AppState,
    auth: &Auth<Quality>,
    id: &str,
    q: &ImportQuery,
    body: &[u8],
) -> ApiResult<(LocalCodeTable, Vec<yishu_types::codes::CodeMapping>)> {
    if id.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "a code table needs an identifier",
        ));
    }
    let dir = tempfile::tempdir()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("temp dir: {e}")))?;
    let ext = if body.starts_with(b"PK\x03\x04") {
        "xlsx"
    } else {
        "csv"
    };
    let path = dir.path().join(format!("codes.{ext}"));
    std::fs::write(&path, body)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("temp file: {e}")))?;
    let local = yishu_ingest::code_sheet::read(&path)?;
    let national = q.national.clone().unwrap_or_default();
    let mappings = match yishu_types::codes::table(&national) {
        Some(t) => t.map_local(&local),
        None if national.is_empty() => Vec::new(),
        None => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("national: no national code table '{national}'"),
            ));
        }
    };
    let entries = local
        .iter()
        .map(|l| LocalCodeEntry {
            code: l.code.clone(),
            name: l.name.clone(),
            national: mappings
                .iter()
                .find(|m| m.local.code == l.code)
                .filter(|m| m.by == yishu_types::codes::MatchedBy::Name)
                .and_then(|m| m.national.as_ref().map(|e| e.code.clone())),
        })
        .collect();
    let saved = s
        .store
        .put_code_table(&LocalCodeTable {
            id: id.to_string(),
            name: q.name.clone(),
            source: auth.who().org_id.0.to_string(),
            org_id: Some(auth.who().org_id),
            national,
            entries,
            version: 0,
            created_at: 0,
        })
        .await?;
    audit(
        s,
        auth,
        "standard.code_table",
        format!("code_table:{id}"),
        json!({"codes": saved.entries.len(), "version": saved.version}),
    )
    .await?;
    let to_check = mappings
        .into_iter()
        .filter(|m| m.by != yishu_types::codes::MatchedBy::Name)
        .collect();
    Ok((saved, to_check))
}

/// A resource's rules with their versions in effect and under review.
#[utoipa::path(get, path = "/api/v1/resources/{id}/rules", tag = "quality", responses((status = 200, body = [RuleView])))]
pub async fn rules_of(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<RuleView>>> {
    let r = readable(&s, auth.who(), id).await?;
    Ok(Json(s.store.rules_of(r.id).await?))
}

/// Checks a rule body against the resource before it is saved: a clear error now rather than a
/// broken check later.
/// The dimension, importance and severity of a rule body are ones Yishu knows.
fn check_levels(b: &RuleBody) -> ApiResult<()> {
    if yishu_quality::Dimension::parse(&b.dimension).is_none() {
        return Err(ApiError::new(
            ErrorCode::RuleInvalid,
            format!(
                "dimension '{}' is not one of completeness, conformity, accuracy, consistency, timeliness, accessibility (or 完整性 …)",
                b.dimension
            ),
        ));
    }
    for (what, v) in [("importance", &b.importance), ("severity", &b.severity)] {
        if yishu_quality::Level::parse(v).is_none() {
            return Err(ApiError::new(
                ErrorCode::RuleInvalid,
                format!("{what} '{v}' is not one of low, medium, high (低, 中, 高)"),
            ));
        }
    }
    Ok(())
}

/// A rule that reads another resource names one that exists, and items it has.
async fn reference_has(s: &AppState, resource: &str, items: &[&String]) -> ApiResult<()> {
    let target = s.store.get_resource_by_code(resource).await.map_err(|_| {
        ApiError::new(
            ErrorCode::RuleInvalid,
            format!("no resource with code {resource}"),
        )
    })?;
    for item in items {
        if !target
            .meta
            .items
            .iter()
            .any(|i| i.name.trim() == item.as_str())
        {
            return Err(ApiError::new(
                ErrorCode::RuleInvalid,
                format!("{resource} has no item '{item}'"),
            ));
        }
    }
    Ok(())
}

pub(crate) async fn check_body(
    s: &AppState,
    r: &Resource,
    b: &RuleBody,
    purpose: RulePurpose,
) -> ApiResult<()> {
    let items: Vec<String> = r
        .meta
        .items
        .iter()
        .map(|i| i.name.trim().to_string())
        .collect();
    let local: Vec<String> = s
        .store
        .code_tables()
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    check_levels(b)?;
    if purpose == RulePurpose::Clean {
        let def: yishu_quality::clean::CleanDef = serde_json::from_value(b.definition.clone())
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::RuleInvalid,
                    format!("definition: {e} (a cleaning rule is {{\"fix\": {{…}}}} or {{\"check\": {{…}}}})"),
                )
            })?;
        def.check(&items, &local)?;
        if let Some(yishu_quality::clean::Fix::FillReference {
            resource, on, take, ..
        }) = &def.fix
        {
            reference_has(s, resource, &[on, take]).await?;
        }
        if let Some(RuleDef::Referential { resource, item, .. }) = &def.check {
            reference_has(s, resource, &[item]).await?;
        }
        if !b.action.is_empty() && yishu_quality::clean::Action::parse(&b.action).is_none() {
            return Err(ApiError::new(
                ErrorCode::RuleInvalid,
                format!("action '{}' is not one of fix, filter, tolerate", b.action),
            ));
        }
        return Ok(());
    }
    let def: RuleDef = serde_json::from_value(b.definition.clone()).map_err(|e| {
        ApiError::new(
            ErrorCode::RuleInvalid,
            format!("definition: {e} (kinds: not_null, unique, format, range, code_table, referential, volatility, cross, dependency, timeliness, sql)"),
        )
    })?;
    def.check(&items, &local)?;
    match &def {
        RuleDef::Sql { sql } => {
            yishu_quality::scan::check_sql(&s.lake, &r.table(), sql)
                .await
                .map_err(|e| match e.code {
                    ErrorCode::LakeError => ApiError::new(
                        ErrorCode::RuleInvalid,
                        "a custom SQL rule can be saved once the resource has data to check it against",
                    ),
                    _ => e.into(),
                })?;
        }
        RuleDef::Referential { resource, item, .. } => reference_has(s, resource, &[item]).await?,
        _ => {}
    }
    Ok(())
}

/// Creates a rule; it takes effect once its business and technical owners approve it.
#[utoipa::path(post, path = "/api/v1/rules", tag = "quality", request_body = NewRule, responses((status = 201, body = RuleView)))]
pub async fn create_rule(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    ValidJson(n): ValidJson<NewRule>,
) -> ApiResult<(StatusCode, Json<RuleView>)> {
    let r = readable(&s, auth.who(), n.resource_id).await?;
    check_body(&s, &r, &n.body, n.purpose).await?;
    let v = s.store.create_rule(&n, &actor(auth.who())).await?;
    audit(
        &s,
        &auth,
        "rule.create",
        format!("rule:{}", v.rule.id),
        json!({"resource": r.code, "definition": n.body.definition}),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// A rule with every version.
#[utoipa::path(get, path = "/api/v1/rules/{id}", tag = "quality", responses((status = 200, body = Object)))]
pub async fn rule(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let v = s.store.rule(id).await?;
    readable(&s, auth.who(), v.rule.resource_id).await?;
    let versions = s.store.rule_versions(id).await?;
    Ok(Json(json!({"rule": v, "versions": versions})))
}

/// Changes a rule: a new version under review; the one in effect stays until it is approved.
#[utoipa::path(put, path = "/api/v1/rules/{id}", tag = "quality", request_body = RuleBody, responses((status = 200, body = RuleView)))]
pub async fn revise_rule(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path(id): Path<i64>,
    ValidJson(b): ValidJson<RuleBody>,
) -> ApiResult<Json<RuleView>> {
    let v = s.store.rule(id).await?;
    let r = readable(&s, auth.who(), v.rule.resource_id).await?;
    check_body(&s, &r, &b, v.rule.purpose).await?;
    let v = s.store.revise_rule(id, &b, &actor(auth.who())).await?;
    audit(
        &s,
        &auth,
        "rule.revise",
        format!("rule:{id}"),
        json!({"definition": b.definition}),
    )
    .await?;
    Ok(Json(v))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// For an approval: business or technical.
    #[serde(default)]
    pub side: Option<ReviewSide>,
    /// For a rejection: why.
    #[serde(default)]
    pub note: String,
}

/// One owner's approval of a pending version.
#[utoipa::path(post, path = "/api/v1/rules/{id}/versions/{version}/approve", tag = "quality", request_body = Review, responses((status = 200, body = RuleView)))]
pub async fn approve_rule(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path((id, version)): Path<(i64, i64)>,
    ValidJson(r): ValidJson<Review>,
) -> ApiResult<Json<RuleView>> {
    let side = r
        .side
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidInput, "side: business or technical"))?;
    let v = s
        .store
        .approve_rule(id, version, side, &actor(auth.who()))
        .await?;
    audit(
        &s,
        &auth,
        "rule.approve",
        format!("rule:{id}"),
        json!({"version": version, "side": side}),
    )
    .await?;
    Ok(Json(v))
}

/// Turns a pending version down with a reason.
#[utoipa::path(post, path = "/api/v1/rules/{id}/versions/{version}/reject", tag = "quality", request_body = Review, responses((status = 200, body = RuleView)))]
pub async fn reject_rule(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path((id, version)): Path<(i64, i64)>,
    ValidJson(r): ValidJson<Review>,
) -> ApiResult<Json<RuleView>> {
    let v = s
        .store
        .reject_rule(id, version, &r.note, &actor(auth.who()))
        .await?;
    audit(
        &s,
        &auth,
        "rule.reject",
        format!("rule:{id}"),
        json!({"version": version, "note": r.note}),
    )
    .await?;
    Ok(Json(v))
}

/// Takes a rule out of effect.
#[utoipa::path(post, path = "/api/v1/rules/{id}/retire", tag = "quality", responses((status = 200, body = RuleView)))]
pub async fn retire_rule(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path(id): Path<i64>,
) -> ApiResult<Json<RuleView>> {
    let v = s.store.retire_rule(id, &actor(auth.who())).await?;
    audit(&s, &auth, "rule.retire", format!("rule:{id}"), json!({})).await?;
    Ok(Json(v))
}

/// The newest checked batch's quality record of a resource, if any.
pub(crate) async fn latest_quality(
    s: &AppState,
    resource_id: i64,
) -> ApiResult<Option<BatchQuality>> {
    Ok(s.store
        .profiles(resource_id, 1)
        .await?
        .into_iter()
        .next()
        .and_then(|p| serde_json::from_value(p.body).ok()))
}

/// Rules proposed from the newest profile, leaving out existing and discarded ones.
pub(crate) async fn suggestions(
    s: &AppState,
    r: &Resource,
) -> ApiResult<Vec<yishu_quality::suggest::Suggestion>> {
    let Some(q) = latest_quality(s, r.id).await? else {
        return Ok(Vec::new());
    };
    let mut skip: Vec<RuleDef> = s
        .store
        .discarded_suggestions(r.id)
        .await?
        .into_iter()
        .filter_map(|d| serde_json::from_value(d).ok())
        .collect();
    for v in s.store.rules_of(r.id).await? {
        for ver in v.active.iter().chain(v.pending.iter()) {
            if let Ok(d) = serde_json::from_value(ver.definition.clone()) {
                skip.push(d);
            }
        }
    }
    Ok(yishu_quality::suggest::suggest(&q.profile, &skip))
}

/// Rules Yishu proposes from the resource's newest profile, for a person to accept (create the
/// rule) or discard.
#[utoipa::path(get, path = "/api/v1/resources/{id}/suggestions", tag = "quality", responses((status = 200, body = [yishu_quality::suggest::Suggestion])))]
pub async fn get_suggestions(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<yishu_quality::suggest::Suggestion>>> {
    let r = readable(&s, auth.who(), id).await?;
    Ok(Json(suggestions(&s, &r).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Discard {
    #[schema(value_type = Object)]
    pub definition: Value,
}

/// Discards a suggestion so it is not proposed again.
#[utoipa::path(post, path = "/api/v1/resources/{id}/suggestions/discard", tag = "quality", request_body = Discard, responses((status = 204)))]
pub async fn discard_suggestion(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<Discard>,
) -> ApiResult<StatusCode> {
    let r = readable(&s, auth.who(), id).await?;
    serde_json::from_value::<RuleDef>(d.definition.clone())
        .map_err(|e| ApiError::new(ErrorCode::RuleInvalid, format!("definition: {e}")))?;
    s.store
        .discard_suggestion(r.id, &d.definition, auth.who().user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A batch's quality: profile, conformance to data elements, results per rule (with version).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchReport {
    /// `null` until the quality job has checked the batch.
    pub quality: Option<BatchQuality>,
    pub results: Vec<RuleResult>,
}

/// Hides what a profile reveals of the values themselves (top values, min/max, quantiles) from
/// those who may not read the raw rows.
pub(crate) fn redact(q: &mut BatchQuality) {
    for f in &mut q.profile.fields {
        f.top.clear();
        f.min = None;
        f.max = None;
        f.mean = None;
        f.quantiles.clear();
    }
}

/// The profile and check results of one batch.
#[utoipa::path(get, path = "/api/v1/batches/{id}/quality", tag = "quality", responses((status = 200, body = BatchReport)))]
pub async fn batch_quality(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Json<BatchReport>> {
    let (b, r) = visible_batch(&s, auth.who(), &id).await?;
    let mut quality: Option<BatchQuality> = s
        .store
        .profile(&b.id)
        .await?
        .and_then(|p| serde_json::from_value(p.body).ok());
    if !may_read_raw(auth.who(), &r)
        && let Some(q) = quality.as_mut()
    {
        redact(q);
    }
    Ok(Json(BatchReport {
        quality,
        results: s.store.batch_results(&b.id).await?,
    }))
}

/// Profiles and checks a batch now (again), replacing its earlier results.
#[utoipa::path(post, path = "/api/v1/batches/{id}/check", tag = "quality", responses((status = 200, body = Object)))]
pub async fn check_now(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (b, r) = visible_batch(&s, auth.who(), &id).await?;
    if !may_read_raw(auth.who(), &r) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only the providing department and the bureau check its batches",
        ));
    }
    let q = yishu_quality::run::check_batch(&s.store, &s.lake, &b.id).await?;
    audit(
        &s,
        &auth,
        "quality.check",
        format!("resource:{}", r.code),
        json!({"batch": b.id}),
    )
    .await?;
    Ok(Json(
        json!({"records": q.profile.records, "violations": q.violations}),
    ))
}

/// A batch's violations, one per record and rule: (row, rule, version, column, value, detail).
pub(crate) async fn violations(
    s: &AppState,
    b: &yishu_meta::batch::Batch,
    r: &Resource,
    limit: Option<usize>,
) -> ApiResult<Vec<[String; 6]>> {
    let table = yishu_quality::violations::table_name(&r.table());
    let ctx = s.lake.session().await?;
    if !ctx
        .table_exist(format!("quality.{table}").as_str())
        .unwrap_or(false)
    {
        return Ok(Vec::new());
    }
    // The batch id was checked to be hex digits and dashes, and to exist in the store.
    let sql = format!(
        "SELECT _source_ref, CAST(rule_id AS VARCHAR) AS rid, CAST(rule_version AS VARCHAR) AS rv, \"column\", value, detail FROM quality.{table} WHERE _batch_id = '{}' ORDER BY rule_id, _source_ref{}",
        b.id,
        limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default()
    );
    let mut out = Vec::new();
    for batch in yishu_lake::query(&ctx, &sql).await? {
        for row in crate::routes::batches::text_rows(&batch) {
            out.push(std::array::from_fn(|k| {
                row.get(k).cloned().unwrap_or_default()
            }));
        }
    }
    Ok(out)
}

/// Headings of a violation row.
pub const VIOLATION_HEADINGS: [&str; 6] =
    ["记录位置", "规则编号", "规则版本", "信息项", "值", "问题"];

/// Downloads a batch's violations as CSV (provider and bureau only; audited).
#[utoipa::path(get, path = "/api/v1/batches/{id}/violations.csv", tag = "quality",
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn violations_csv(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (b, r) = visible_batch(&s, auth.who(), &id).await?;
    if !may_read_raw(auth.who(), &r) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only the providing department and the bureau may read violating values",
        ));
    }
    let rows = violations(&s, &b, &r, None).await?;
    audit(
        &s,
        &auth,
        "quality.violations_download",
        format!("resource:{}", r.code),
        json!({"batch": b.id, "rows": rows.len()}),
    )
    .await?;
    let body = crate::routes::batches::csv_bytes(&VIOLATION_HEADINGS, &rows)?;
    Ok(crate::routes::batches::file(
        "text/csv; charset=utf-8",
        format!("violations-{}.csv", b.id),
        body,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OrderQuery {
    /// Only this department's orders (default: the caller's department; the bureau sees all).
    pub org: Option<i64>,
    /// Only orders not closed.
    pub open: Option<bool>,
}

fn may_see_orders(p: &Principal, org: OrgId) -> bool {
    p.org_id == org || p.has(Role::DataManager) || p.has(Role::Admin)
}

/// Work orders of a department.
#[utoipa::path(get, path = "/api/v1/work-orders", tag = "quality", params(OrderQuery), responses((status = 200, body = [WorkOrder])))]
pub async fn work_orders(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Query(q): Query<OrderQuery>,
) -> ApiResult<Json<Vec<WorkOrder>>> {
    let p = auth.who();
    let bureau = p.has(Role::DataManager) || p.has(Role::Admin);
    let org = match q.org {
        Some(o) => Some(OrgId(o)),
        None if bureau => None,
        None => Some(p.org_id),
    };
    if let Some(o) = org
        && !may_see_orders(p, o)
    {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "a department sees its own work orders",
        ));
    }
    Ok(Json(
        s.store.work_orders(org, q.open.unwrap_or(false)).await?,
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderPage {
    pub order: WorkOrder,
    pub events: Vec<OrderEvent>,
}

/// One work order with its history.
#[utoipa::path(get, path = "/api/v1/work-orders/{id}", tag = "quality", responses((status = 200, body = OrderPage)))]
pub async fn work_order(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<OrderPage>> {
    let order = s.store.work_order(id).await?;
    if !may_see_orders(auth.who(), order.org_id) {
        return Err(ApiError::new(
            ErrorCode::QualityNotFound,
            format!("no work order {id}"),
        ));
    }
    let events = s.store.order_events(id).await?;
    Ok(Json(OrderPage { order, events }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    /// acknowledged or fixed.
    pub status: OrderStatus,
    #[serde(default)]
    pub note: String,
}

/// The department acknowledges an order or reports it fixed (the next batch verifies).
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/status", tag = "quality", request_body = Advance, responses((status = 200, body = WorkOrder)))]
pub async fn advance(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path(id): Path<i64>,
    ValidJson(a): ValidJson<Advance>,
) -> ApiResult<Json<WorkOrder>> {
    let o = s
        .store
        .advance_order(id, a.status, &a.note, &actor(auth.who()))
        .await?;
    audit(
        &s,
        &auth,
        "workorder.advance",
        format!("work_order:{id}"),
        json!({"status": a.status, "note": a.note}),
    )
    .await?;
    Ok(Json(o))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ScoreQuery {
    pub resource: Option<i64>,
    pub org: Option<i64>,
    /// Milliseconds since the epoch; default: 90 days ago.
    pub since: Option<i64>,
}

/// Scores per checked batch (the trend), oldest first.
#[utoipa::path(get, path = "/api/v1/quality/scores", tag = "quality", params(ScoreQuery), responses((status = 200, body = [StoredScore])))]
pub async fn scores(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
    Query(q): Query<ScoreQuery>,
) -> ApiResult<Json<Vec<StoredScore>>> {
    let since = q
        .since
        .unwrap_or_else(|| yishu_meta::now_ms() - 90 * 86_400_000);
    Ok(Json(
        s.store.scores(q.resource, q.org.map(OrgId), since).await?,
    ))
}

/// A department's place in the ranking.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ranked {
    pub org_id: OrgId,
    pub org_name: String,
    /// Records-weighted mean of its resources' newest measured scores; `null` (未评估) when no
    /// rule or data element has measured any of its batches — such departments are listed after
    /// the ranked ones, never averaged in.
    pub score: Option<f64>,
    /// Resources with a score (measured or not).
    pub resources: usize,
    pub open_orders: usize,
    pub overdue_orders: usize,
}

/// Departments ranked by their resources' newest quality scores; departments that publish
/// resources but have no measured score follow, apart, in code order.
pub(crate) async fn ranking(s: &AppState) -> ApiResult<Vec<Ranked>> {
    let all = s.store.scores(None, None, 0).await?;
    let mut by_org: std::collections::BTreeMap<i64, Vec<&StoredScore>> = Default::default();
    for sc in &all {
        by_org.entry(sc.org_id.0).or_default().push(sc);
    }
    for org in s.store.provider_orgs(ResourceStatus::Published).await? {
        by_org.entry(org.0).or_default();
    }
    let orders = s.store.work_orders(None, true).await?;
    let mut out = Vec::new();
    for (org, scores) in by_org {
        let name = s
            .store
            .get_org(OrgId(org))
            .await
            .map(|o| o.name)
            .unwrap_or_default();
        let mine = orders.iter().filter(|o| o.org_id.0 == org);
        let mut resources: Vec<i64> = scores.iter().map(|sc| sc.resource_id).collect();
        resources.sort_unstable();
        resources.dedup();
        out.push(Ranked {
            org_id: OrgId(org),
            org_name: name,
            score: yishu_quality::report::department_score(scores).0,
            resources: resources.len(),
            open_orders: mine.clone().count(),
            overdue_orders: mine.filter(|o| o.overdue).count(),
        });
    }
    // Measured first, best first; then the unmeasured, by org.
    out.sort_by(|a, b| match (a.score, b.score) {
        (Some(x), Some(y)) => y.total_cmp(&x).then(a.org_id.0.cmp(&b.org_id.0)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.org_id.0.cmp(&b.org_id.0),
    });
    Ok(out)
}

/// Departments ranked by quality score.
#[utoipa::path(get, path = "/api/v1/quality/ranking", tag = "quality", responses((status = 200, body = [Ranked])))]
pub async fn get_ranking(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<Ranked>>> {
    Ok(Json(ranking(&s).await?))
}

/// The dimension weights of the total score.
#[utoipa::path(get, path = "/api/v1/quality/weights", tag = "quality", responses((status = 200, body = Object)))]
pub async fn weights(State(s): State<AppState>, _auth: Auth<SignedIn>) -> ApiResult<Json<Value>> {
    Ok(Json(weight_map(&s).await?))
}

/// Every dimension's weight (1 unless set).
pub(crate) async fn weight_map(s: &AppState) -> ApiResult<Value> {
    let set = s.store.quality_weights().await?;
    let map: serde_json::Map<String, Value> = yishu_quality::Dimension::ALL
        .iter()
        .map(|d| {
            let w = set
                .iter()
                .find(|(k, _)| k == d.as_str())
                .map_or(1.0, |(_, w)| *w);
            (d.as_str().to_string(), json!(w))
        })
        .collect();
    Ok(Value::Object(map))
}

/// Sets dimension weights: `{"accuracy": 2, "timeliness": 0.5}`. New scores use them.
#[utoipa::path(put, path = "/api/v1/quality/weights", tag = "quality", request_body = Object, responses((status = 200, body = Object)))]
pub async fn set_weights(
    State(s): State<AppState>,
    auth: Auth<ManageStandards>,
    ValidJson(w): ValidJson<std::collections::BTreeMap<String, f64>>,
) -> ApiResult<Json<Value>> {
    for (d, v) in &w {
        let Some(dim) = yishu_quality::Dimension::parse(d) else {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("'{d}' is not a quality dimension"),
            ));
        };
        s.store.set_quality_weight(dim.as_str(), *v).await?;
    }
    audit(
        &s,
        &auth,
        "quality.weights",
        "quality:weights".into(),
        json!(w),
    )
    .await?;
    Ok(Json(weight_map(&s).await?))
}

/// Field profile headings of the XLSX export.
const PROFILE_HEADINGS: [&str; 17] = [
    "字段",
    "记录数",
    "缺失数",
    "缺失率",
    "唯一值数",
    "唯一率",
    "重复值数",
    "重复率",
    "零值数",
    "最小长度",
    "平均长度",
    "最大长度",
    "最小值",
    "最大值",
    "均值",
    "推断类型",
    "主要表示格式",
];

/// Downloads a batch's profile as XLSX: one sheet per field, one for the table.
#[utoipa::path(get, path = "/api/v1/batches/{id}/profile.xlsx", tag = "quality",
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>)))]
pub async fn profile_xlsx(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (b, r) = visible_batch(&s, auth.who(), &id).await?;
    let mut q: BatchQuality = s
        .store
        .profile(&b.id)
        .await?
        .and_then(|p| serde_json::from_value(p.body).ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::QualityNotFound,
                format!("batch {id} has not been profiled yet"),
            )
        })?;
    if !may_read_raw(auth.who(), &r) {
        redact(&mut q);
    }
    let xerr = |e: rust_xlsxwriter::XlsxError| {
        ApiError::new(ErrorCode::Internal, format!("writing the workbook: {e}"))
    };
    let mut book = rust_xlsxwriter::Workbook::new();
    let head = rust_xlsxwriter::Format::new().set_bold();
    let pct = rust_xlsxwriter::Format::new().set_num_format("0.00%");
    let sheet = book.add_worksheet().set_name("字段探查").map_err(xerr)?;
    for (c, h) in PROFILE_HEADINGS.iter().enumerate() {
        sheet
            .write_with_format(0, c as u16, *h, &head)
            .map_err(xerr)?;
    }
    for (i, f) in q.profile.fields.iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write_string(row, 0, &f.name).map_err(xerr)?;
        let numbers = [
            f.records,
            f.missing,
            0,
            f.distinct,
            0,
            f.duplicate,
            0,
            f.zero,
            f.min_len,
        ];
        for (k, n) in numbers.iter().enumerate() {
            sheet.write(row, k as u16 + 1, *n as f64).map_err(xerr)?;
        }
        sheet
            .write_with_format(row, 3, f.missing_rate(), &pct)
            .map_err(xerr)?;
        sheet
            .write_with_format(row, 5, f.distinct_rate(), &pct)
            .map_err(xerr)?;
        sheet
            .write_with_format(row, 7, f.duplicate_rate(), &pct)
            .map_err(xerr)?;
        sheet.write(row, 10, f.avg_len).map_err(xerr)?;
        sheet.write(row, 11, f.max_len as f64).map_err(xerr)?;
        for (k, v) in [&f.min, &f.max, &f.mean].iter().enumerate() {
            sheet
                .write_string(row, 12 + k as u16, v.as_deref().unwrap_or_default())
                .map_err(xerr)?;
        }
        sheet
            .write_string(row, 15, format!("{:?}", f.inferred_type).to_lowercase())
            .map_err(xerr)?;
        let pattern = f
            .main_pattern()
            .map(|(p, share)| format!("{} {:.2}%", p.label_zh(), share * 100.0))
            .unwrap_or_default();
        sheet.write_string(row, 16, pattern).map_err(xerr)?;
    }
    let t = &q.profile;
    let table = book.add_worksheet().set_name("表级探查").map_err(xerr)?;
    let figures: [(&str, f64); 7] = [
        ("记录数", t.records as f64),
        ("字段数", t.fields.len() as f64),
        ("存储大小（字节）", t.bytes as f64),
        ("缺失元素数", t.missing_cells as f64),
        ("含缺失值的字段数", t.fields_with_missing as f64),
        ("全部缺失的字段数", t.all_missing_fields.len() as f64),
        ("重复记录数", t.duplicate_records as f64),
    ];
    for (i, (k, v)) in figures.iter().enumerate() {
        table
            .write_with_format(i as u32, 0, *k, &head)
            .map_err(xerr)?;
        table.write(i as u32, 1, *v).map_err(xerr)?;
    }
    // Each field across the resource's recent batches, oldest first (探查趋势).
    let trend = book.add_worksheet().set_name("字段趋势").map_err(xerr)?;
    for (c, h) in [
        "批次",
        "探查时间",
        "字段",
        "记录数",
        "缺失率",
        "唯一值率",
        "重复率",
    ]
    .iter()
    .enumerate()
    {
        trend
            .write_with_format(0, c as u16, *h, &head)
            .map_err(xerr)?;
    }
    let mut row = 1u32;
    for p in s.store.profiles(r.id, 30).await?.into_iter().rev() {
        let Ok(h) = serde_json::from_value::<BatchQuality>(p.body) else {
            continue;
        };
        for f in &h.profile.fields {
            trend.write_string(row, 0, &p.batch_id).map_err(xerr)?;
            trend
                .write_string(row, 1, crate::pages::fmt_time(p.created_at))
                .map_err(xerr)?;
            trend.write_string(row, 2, &f.name).map_err(xerr)?;
            trend.write(row, 3, f.records as f64).map_err(xerr)?;
            let present = f.records - f.missing;
            for (k, v) in [
                f.missing_rate(),
                yishu_quality::profile::rate(f.distinct, present),
                f.duplicate_rate(),
            ]
            .into_iter()
            .enumerate()
            {
                trend
                    .write_with_format(row, 4 + k as u16, v, &pct)
                    .map_err(xerr)?;
            }
            row += 1;
        }
    }
    let body = book.save_to_buffer().map_err(xerr)?;
    Ok(crate::routes::batches::file(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        format!("profile-{}.xlsx", b.id),
        body,
    ))
}
