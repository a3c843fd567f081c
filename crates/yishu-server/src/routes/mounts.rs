//! `/api/v1/resources/{id}/mount` and `/sample`: a resource mounted on a department's own table or
//! API (logical aggregation, nothing copied), and a few rows of its data for the people who may
//! read raw data.

use crate::AppState;
use crate::app::access::own_org;
use crate::app::access::readable;
use crate::app::sources::read_sample;
use crate::app::sources::set;
use crate::auth::Catalogue;
use crate::auth::{Auth, SignedIn};
use crate::error::ApiResult;
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use yishu_ingest::mount::{Mount, Sample};

/// Mounts an entry on an external table (`{"kind": "external_table", "url", "table"}`) or API
/// (`{"kind": "api", "url"}`); answers with a first sample of the data.
#[utoipa::path(put, path = "/api/v1/resources/{id}/mount", tag = "catalog", request_body = Mount,
    responses((status = 200, body = Sample), (status = 400, body = crate::error::ErrorBody)))]
pub async fn put(
    State(s): State<AppState>,
    auth: Auth<Catalogue>,
    Path(id): Path<i64>,
    ValidJson(m): ValidJson<Mount>,
) -> ApiResult<Json<Sample>> {
    let sample = set(&s, &auth, id, Some(&m)).await?;
    Ok(Json(sample.unwrap_or_default()))
}

/// Unmounts an entry: its data is its ods table again.
#[utoipa::path(delete, path = "/api/v1/resources/{id}/mount", tag = "catalog", responses((status = 204)))]
pub async fn delete(
    State(s): State<AppState>,
    auth: Auth<Catalogue>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    set(&s, &auth, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The entry's mount, if any.
#[utoipa::path(get, path = "/api/v1/resources/{id}/mount", tag = "catalog", responses((status = 200, body = Option<Mount>)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Option<Mount>>> {
    let r = readable(&s, auth.who(), id).await?;
    own_org(
        auth.who(),
        r.meta.provider_org_id,
        "sees where its data is mounted",
    )?;
    Ok(Json(yishu_ingest::mount::of(&s.store, id).await?))
}

/// A few of the newest rows (or the mounted table's first rows), for the providing department and
/// the bureau; audited.
#[utoipa::path(get, path = "/api/v1/resources/{id}/sample", tag = "catalog",
    responses((status = 200, body = Sample), (status = 403, body = crate::error::ErrorBody)))]
pub async fn sample(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Sample>> {
    Ok(Json(read_sample(&s, &auth, id).await?))
}
