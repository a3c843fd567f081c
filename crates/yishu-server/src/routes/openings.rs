//! `/api/v1/resources/{id}/opening` and `/api/v1/open-access`: a department's opening decisions
//! (open, update, withdraw, destroy — audited) and conditional opening's per-user access
//! (apply with a purpose; the providing department decides). Open reads themselves are public:
//! `/open/datasets/{name}/download.{format}` and CKAN's `datastore_search`.

use crate::AppState;
use crate::app::opening::{self, EndDraft, OpeningDraft};
use crate::auth::{Auth, SignedIn};
use crate::error::ApiResult;
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use yishu_meta::open::{OpenAccess, Opening, OpeningEvent, OpeningStatus};

/// A resource's opening with its history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OpeningView {
    pub opening: Option<Opening>,
    pub events: Vec<OpeningEvent>,
}

/// A resource's opening and its history (none when never opened).
#[utoipa::path(get, path = "/api/v1/resources/{id}/opening", tag = "open",
    responses((status = 200, body = OpeningView)))]
pub async fn get(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<OpeningView>> {
    s.store.get_resource(id).await?;
    Ok(Json(OpeningView {
        opening: s.store.opening(id).await?,
        events: s.store.opening_events(id).await?,
    }))
}

/// Opens a published resource to the public (its open attribute must allow it) with the items,
/// rows and masks given, or updates an open one's terms. The providing department's data
/// officers or the bureau.
#[utoipa::path(put, path = "/api/v1/resources/{id}/opening", tag = "open", request_body = OpeningDraft,
    responses((status = 200, body = Opening), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)))]
pub async fn put(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<OpeningDraft>,
) -> ApiResult<Json<Opening>> {
    Ok(Json(
        opening::open(&s, auth.who(), &auth.meta, id, &d).await?,
    ))
}

/// Withdraws an open dataset: reads stop at once; the public sees that it was withdrawn and why.
#[utoipa::path(post, path = "/api/v1/resources/{id}/opening/withdrawal", tag = "open", request_body = EndDraft,
    responses((status = 200, body = Opening), (status = 409, body = crate::error::ErrorBody)))]
pub async fn withdraw(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<EndDraft>,
) -> ApiResult<Json<Opening>> {
    Ok(Json(
        opening::end(
            &s,
            auth.who(),
            &auth.meta,
            id,
            OpeningStatus::Withdrawn,
            &d.reason,
        )
        .await?,
    ))
}

/// Destroys an opening: never to be opened again; the record that it existed stays.
#[utoipa::path(post, path = "/api/v1/resources/{id}/opening/destruction", tag = "open", request_body = EndDraft,
    responses((status = 200, body = Opening), (status = 409, body = crate::error::ErrorBody)))]
pub async fn destroy(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<EndDraft>,
) -> ApiResult<Json<Opening>> {
    Ok(Json(
        opening::end(
            &s,
            auth.who(),
            &auth.meta,
            id,
            OpeningStatus::Destroyed,
            &d.reason,
        )
        .await?,
    ))
}

/// An application for a conditionally open dataset.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessDraft {
    pub resource_id: i64,
    pub purpose: String,
}

/// A decision on an application.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessDecision {
    pub grant: bool,
    #[serde(default)]
    pub reason: String,
    /// Days the access lasts (default 365).
    #[serde(default = "default_days")]
    pub days: i64,
}

fn default_days() -> i64 {
    365
}

/// Applies for a conditionally open dataset with a purpose.
#[utoipa::path(post, path = "/api/v1/open-access", tag = "open", request_body = AccessDraft,
    responses((status = 200, body = OpenAccess), (status = 400, body = crate::error::ErrorBody)))]
pub async fn apply(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    ValidJson(d): ValidJson<AccessDraft>,
) -> ApiResult<Json<OpenAccess>> {
    Ok(Json(
        opening::apply(&s, auth.who(), &auth.meta, d.resource_id, &d.purpose).await?,
    ))
}

/// The caller's applications; a department's officers and the bureau see those for their data.
#[utoipa::path(get, path = "/api/v1/open-access", tag = "open",
    responses((status = 200, body = [OpenAccess])))]
pub async fn list(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<OpenAccess>>> {
    Ok(Json(opening::visible_access(&s, auth.who()).await?))
}

/// Grants (for `days`) or refuses (with a reason) an application: the providing department.
#[utoipa::path(post, path = "/api/v1/open-access/{id}/decision", tag = "open", request_body = AccessDecision,
    responses((status = 200, body = OpenAccess), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
pub async fn decide(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<AccessDecision>,
) -> ApiResult<Json<OpenAccess>> {
    Ok(Json(
        opening::decide(&s, auth.who(), &auth.meta, id, d.grant, &d.reason, d.days).await?,
    ))
}
