//! `/api/v1/resources`: the catalog — cataloguing by providers, review and publication by the
//! bureau, versions and diffs. Every change is audited.

use crate::AppState;
use crate::auth::{Auth, Right, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::{Paging, ValidJson, ValidQuery};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use yishu_meta::catalog::{Actor, Change, Resource, ResourceDraft, ResourceStatus, diff};
use yishu_meta::{Page, Principal};
use yishu_types::{Error, ErrorCode, OrgId, Role};

/// Catalogue resources of one's own department (provider officers; admins for any).
pub struct Catalogue;
impl Right for Catalogue {
    const ROLES: &'static [Role] = &[Role::ProviderOfficer, Role::Admin];
    const NAME: &'static str = "catalogue";
}

/// Review, publish and retire catalog entries.
pub struct ReviewCatalog;
impl Right for ReviewCatalog {
    const ROLES: &'static [Role] = &[Role::DataManager];
    const NAME: &'static str = "review_catalog";
}

pub(crate) fn actor(p: &Principal) -> Actor<'_> {
    Actor {
        user: p.user_id,
        org: p.org_id,
        roles: &p.roles,
    }
}

/// Unpublished entries are seen by their department, data managers and admins only.
pub(crate) fn visible(p: &Principal, r: &Resource) -> bool {
    matches!(
        r.status,
        ResourceStatus::Published | ResourceStatus::Retired
    ) || p.org_id == r.meta.provider_org_id
        || p.has(Role::DataManager)
        || p.has(Role::Admin)
}

/// Only an org's own people (or an admin) feed its resources and keep its duty list.
pub(crate) fn own_org(p: &Principal, org: OrgId, what: &str) -> ApiResult<()> {
    if p.org_id == org || p.has(Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("only the providing department {what}"),
        ))
    }
}

/// The entry `id` if `p` may see it; otherwise the same "not found" as for a missing one.
pub(crate) async fn readable(s: &AppState, p: &Principal, id: i64) -> ApiResult<Resource> {
    let r = s.store.get_resource(id).await?;
    if !visible(p, &r) {
        return Err(ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("no resource with id {id}"),
        ));
    }
    Ok(r)
}

pub(crate) async fn audited<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    action: &str,
    object: String,
    result: Result<Resource, Error>,
    detail: serde_json::Value,
) -> ApiResult<Resource> {
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    if let Ok(r) = &result {
        crate::routes::search::reindex(s, r).await;
        crate::routes::watch::changed(s, action, r).await;
    }
    let object = result
        .as_ref()
        .map(|r| format!("resource:{}", r.code))
        .unwrap_or(object);
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            action,
            object,
            outcome,
            detail.to_string(),
        ))
        .await?;
    Ok(result?)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ResourceQuery {
    /// draft, submitted, approved, rejected, published or retired.
    pub status: Option<String>,
    pub provider_org_id: Option<i64>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Lists catalog entries the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/resources", tag = "catalog", params(ResourceQuery),
    responses((status = 200, body = Page<Resource>), (status = 401, body = crate::error::ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    ValidQuery(q): ValidQuery<ResourceQuery>,
) -> ApiResult<Json<Page<Resource>>> {
    let status = match q.status.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(ResourceStatus::parse(v).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!("status: '{v}' is not a resource status"),
            )
        })?),
    };
    let paging = Paging {
        limit: q.limit,
        offset: q.offset,
    };
    let p = auth.who();
    // Callers who may not see drafts of other departments only get published entries of them.
    let status = match status {
        Some(st) => Some(st),
        None if p.has(Role::DataManager)
            || p.has(Role::Admin)
            || q.provider_org_id == Some(p.org_id.0) =>
        {
            None
        }
        None => Some(ResourceStatus::Published),
    };
    let mut page = s
        .store
        .list_resources(
            status,
            q.provider_org_id.map(OrgId),
            paging.limit(),
            paging.offset(),
        )
        .await?;
    let before = page.items.len();
    page.items.retain(|r| visible(p, r));
    page.total -= (before - page.items.len()) as i64;
    Ok(Json(page))
}

/// Reads one catalog entry with its items.
#[utoipa::path(get, path = "/api/v1/resources/{id}", tag = "catalog",
    responses((status = 200, body = Resource), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Resource>> {
    let r = readable(&s, auth.who(), id).await?;
    s.store.count_use(yishu_meta::Counter::Views, &[id]).await?;
    Ok(Json(r))
}

/// Catalogues a new resource as a draft; the code is allocated here.
#[utoipa::path(post, path = "/api/v1/resources", tag = "catalog", request_body = ResourceDraft,
    responses((status = 201, body = Resource), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Auth<Catalogue>,
    ValidJson(d): ValidJson<ResourceDraft>,
) -> ApiResult<(StatusCode, Json<Resource>)> {
    let r = s.store.create_resource(&d, &actor(auth.who())).await;
    let r = audited(
        &s,
        &auth,
        "resource.create",
        "resource:-".into(),
        r,
        json!({"name": d.name, "provider_org_id": d.provider_org_id}),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceEdit {
    /// The version the caller read.
    pub version: i64,
    pub resource: ResourceDraft,
}

/// Edits a draft, rejected or published entry (a published one gets a new version).
#[utoipa::path(put, path = "/api/v1/resources/{id}", tag = "catalog", request_body = ResourceEdit,
    responses((status = 200, body = Resource), (status = 409, body = crate::error::ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    auth: Auth<Catalogue>,
    Path(id): Path<i64>,
    ValidJson(e): ValidJson<ResourceEdit>,
) -> ApiResult<Json<Resource>> {
    let r = s
        .store
        .update_resource(id, &e.resource, e.version, &actor(auth.who()))
        .await;
    Ok(Json(
        audited(
            &s,
            &auth,
            "resource.update",
            format!("resource_id:{id}"),
            r,
            json!({"version": e.version}),
        )
        .await?,
    ))
}

/// Sends a draft or rejected entry for review.
#[utoipa::path(post, path = "/api/v1/resources/{id}/submit", tag = "catalog", responses((status = 200, body = Resource)))]
pub async fn submit(
    State(s): State<AppState>,
    auth: Auth<Catalogue>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Resource>> {
    Ok(Json(lifecycle(&s, &auth, id, "submit", "").await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub approve: bool,
    /// Required when rejecting.
    #[serde(default)]
    pub note: String,
}

/// Approves or rejects a submitted entry (a data manager outside the providing department).
#[utoipa::path(post, path = "/api/v1/resources/{id}/review", tag = "catalog", request_body = Review, responses((status = 200, body = Resource)))]
pub async fn review(
    State(s): State<AppState>,
    auth: Auth<ReviewCatalog>,
    Path(id): Path<i64>,
    ValidJson(rv): ValidJson<Review>,
) -> ApiResult<Json<Resource>> {
    let action = if rv.approve { "approve" } else { "reject" };
    Ok(Json(lifecycle(&s, &auth, id, action, &rv.note).await?))
}

/// Publishes an approved entry.
#[utoipa::path(post, path = "/api/v1/resources/{id}/publish", tag = "catalog", responses((status = 200, body = Resource)))]
pub async fn publish(
    State(s): State<AppState>,
    auth: Auth<ReviewCatalog>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Resource>> {
    Ok(Json(lifecycle(&s, &auth, id, "publish", "").await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retire {
    pub reason: String,
}

/// Retires a published entry.
#[utoipa::path(post, path = "/api/v1/resources/{id}/retire", tag = "catalog", request_body = Retire, responses((status = 200, body = Resource)))]
pub async fn retire(
    State(s): State<AppState>,
    auth: Auth<ReviewCatalog>,
    Path(id): Path<i64>,
    ValidJson(rt): ValidJson<Retire>,
) -> ApiResult<Json<Resource>> {
    Ok(Json(lifecycle(&s, &auth, id, "retire", &rt.reason).await?))
}

/// Moves an entry along its lifecycle — `submit` (cataloguers), `approve`/`reject` with a note,
/// `publish`, `retire` with a reason (reviewers) — checking the caller's right for that step, and
/// audits it. The API and the console's buttons both come here.
pub(crate) async fn lifecycle<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: i64,
    action: &str,
    note: &str,
) -> ApiResult<Resource> {
    let p = auth.who();
    let path = format!("/resources/{id}/{action}");
    if action == "submit" {
        crate::auth::check_right::<Catalogue>(s, p, &auth.meta, &path).await?;
    } else {
        crate::auth::check_right::<ReviewCatalog>(s, p, &auth.meta, &path).await?;
    }
    let (result, detail) = match action {
        "submit" => (s.store.submit_resource(id, &actor(p)).await, json!({})),
        "approve" | "reject" => (
            s.store
                .review_resource(id, action == "approve", note, &actor(p))
                .await,
            json!({ "note": note }),
        ),
        "publish" => (s.store.publish_resource(id, &actor(p)).await, json!({})),
        "retire" => (
            s.store.retire_resource(id, note, &actor(p)).await,
            json!({ "reason": note }),
        ),
        other => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("'{other}': use submit, approve, reject, publish or retire"),
            ));
        }
    };
    audited(
        s,
        auth,
        &format!("resource.{action}"),
        format!("resource_id:{id}"),
        result,
        detail,
    )
    .await
}

/// One recorded version and what changed since the one before.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionEntry {
    pub version: i64,
    pub changed_at: i64,
    pub status: String,
    pub changes: Vec<Change>,
}

/// The published versions of an entry with a readable diff against the previous one.
#[utoipa::path(get, path = "/api/v1/resources/{id}/versions", tag = "catalog", responses((status = 200, body = Vec<VersionEntry>)))]
pub async fn versions(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<VersionEntry>>> {
    readable(&s, auth.who(), id).await?;
    let vs = s.store.resource_versions(id).await?;
    let mut out = Vec::with_capacity(vs.len());
    for (i, (version, changed_at, snap)) in vs.iter().enumerate() {
        let changes = if i == 0 {
            Vec::new()
        } else {
            diff(&vs[i - 1].2, snap)
        };
        let status = snap
            .get("status")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        out.push(VersionEntry {
            version: *version,
            changed_at: *changed_at,
            status,
            changes,
        });
    }
    Ok(Json(out))
}

/// The ingest batches of an entry, newest first: counts (read = stored + quarantined), checksum and
/// status of every run.
#[utoipa::path(get, path = "/api/v1/resources/{id}/batches", tag = "catalog", responses((status = 200, body = Vec<yishu_meta::batch::Batch>)))]
pub async fn batches(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<yishu_meta::batch::Batch>>> {
    readable(&s, auth.who(), id).await?;
    Ok(Json(s.store.list_batches(id).await?))
}

/// Usage of an entry: page views, searches that found it, applications and calls.
#[utoipa::path(get, path = "/api/v1/resources/{id}/stats", tag = "catalog", responses((status = 200, body = yishu_meta::ResourceStats)))]
pub async fn stats(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<yishu_meta::ResourceStats>> {
    readable(&s, auth.who(), id).await?;
    Ok(Json(s.store.resource_stats(id).await?))
}

/// Mounting and drift: items vs. the ods table and the latest batch, type fit of sampled values,
/// and whether data is missing or stale against the update cycle.
#[utoipa::path(get, path = "/api/v1/resources/{id}/drift", tag = "catalog", responses((status = 200, body = yishu_ingest::drift::Drift)))]
pub async fn drift(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<yishu_ingest::drift::Drift>> {
    let r = readable(&s, auth.who(), id).await?;
    Ok(Json(
        yishu_ingest::drift::check(&s.store, &s.lake, &r, yishu_meta::now_ms()).await?,
    ))
}

/// The entry's filling workbook (填报模板): a header of its items, columns as text, and a sheet
/// explaining each item. Filled in, it is pushed to `/api/v1/resources/{id}/rows` or uploaded
/// on the entry's console page.
#[utoipa::path(get, path = "/api/v1/resources/{id}/template.xlsx", tag = "collection",
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>)))]
pub async fn fill_template(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let r = readable(&s, auth.who(), id).await?;
    let book = yishu_ingest::fill_sheet::workbook(&r)?;
    let name = format!("{}-填报模板.xlsx", r.code.replace('/', "-"));
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                attachment_disposition(&name),
            ),
        ],
        book,
    )
        .into_response())
}

/// `Content-Disposition` for a download named `name` (Chinese names kept, RFC 5987), with a plain
/// ASCII fallback.
pub(crate) fn attachment_disposition(name: &str) -> String {
    let ext = std::path::Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_string())
        .filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into());
    format!(
        "attachment; filename=\"download.{ext}\"; filename*=UTF-8''{}",
        utf8_percent(name)
    )
}

/// RFC 5987 percent-encoding of a file name (every byte outside unreserved ASCII).
fn utf8_percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
