//! `/api/v1/resources`: the catalog — cataloguing by providers, review and publication by the
//! bureau, versions and diffs. Every change is audited.

use crate::AppState;
use crate::app::access::readable;
use crate::app::access::visible;
use crate::app::audit::actor;
use crate::app::catalog::VersionEntry;
use crate::app::catalog::audited;
use crate::app::catalog::lifecycle;
use crate::auth::Catalogue;
use crate::auth::ReviewCatalog;
use crate::auth::{Auth, SignedIn};
use crate::download::attachment_disposition;
use crate::error::{ApiError, ApiResult};
use crate::json::{Paging, ValidJson, ValidQuery};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use yishu_meta::Page;
use yishu_meta::catalog::{Resource, ResourceDraft, ResourceStatus, diff};
use yishu_meta::proposal::Proposal;
use yishu_types::{ErrorCode, OrgId, Role};

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

/// Edits a draft, rejected or published entry (a published one gets a new version). A change
/// of a published entry's items or share/open attributes waits for review instead (202): the
/// published version stays in force until a data manager approves it.
#[utoipa::path(put, path = "/api/v1/resources/{id}", tag = "catalog", request_body = ResourceEdit,
    responses((status = 200, body = Resource), (status = 202, body = Resource, description = "the change waits for review; the published version is unchanged"),
        (status = 409, body = crate::error::ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    auth: Auth<Catalogue>,
    Path(id): Path<i64>,
    ValidJson(e): ValidJson<ResourceEdit>,
) -> ApiResult<(StatusCode, Json<Resource>)> {
    let r = s
        .store
        .update_resource(id, &e.resource, e.version, &actor(auth.who()))
        .await;
    let proposed = r.as_ref().is_ok_and(|r| r.version == e.version);
    let r = audited(
        &s,
        &auth,
        if proposed {
            "resource.propose"
        } else {
            "resource.update"
        },
        format!("resource_id:{id}"),
        r,
        json!({"version": e.version}),
    )
    .await?;
    let status = if proposed {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(r)))
}

/// The change of a published entry waiting for review, if any.
#[utoipa::path(get, path = "/api/v1/resources/{id}/pending-change", tag = "catalog",
    responses((status = 200, body = Option<Proposal>)))]
pub async fn pending_change(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Option<Proposal>>> {
    readable(&s, auth.who(), id).await?;
    Ok(Json(s.store.pending_change(id).await?))
}

/// A data manager approves (it becomes the published version) or rejects the pending change.
#[utoipa::path(post, path = "/api/v1/resources/{id}/pending-change/review", tag = "catalog", request_body = Review,
    responses((status = 200, body = Resource), (status = 403, body = crate::error::ErrorBody)))]
pub async fn review_change(
    State(s): State<AppState>,
    auth: Auth<ReviewCatalog>,
    Path(id): Path<i64>,
    ValidJson(v): ValidJson<Review>,
) -> ApiResult<Json<Resource>> {
    let action = if v.approve {
        "approve_change"
    } else {
        "reject_change"
    };
    let r = lifecycle(&s, &auth, id, action, &v.note).await?;
    Ok(Json(r))
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
        yishu_ingest::drift::check(
            &s.store,
            &s.lake,
            &r,
            yishu_meta::now_ms(),
            &s.config.outbound,
        )
        .await?,
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
