//! `/api/v1/resources/{id}/mount` and `/sample`: a resource mounted on a department's own table or
//! API (logical aggregation, nothing copied), and a few rows of its data for the people who may
//! read raw data.

use crate::AppState;
use crate::auth::{Auth, Right, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use crate::routes::batches::may_read_raw;
use crate::routes::resources::{Catalogue, own_org, readable};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;
use yishu_ingest::mount::{Mount, Sample};
use yishu_types::ErrorCode;

/// Mounts (or, with `None`, unmounts) an entry the caller's department provides, after reading
/// the target once so a wrong address is refused now; audited.
pub(crate) async fn set<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: i64,
    m: Option<&Mount>,
) -> ApiResult<Option<Sample>> {
    let r = readable(s, auth.who(), id).await?;
    own_org(
        auth.who(),
        r.meta.provider_org_id,
        &format!("mounts {}", r.code),
    )?;
    let sample = match m {
        Some(m) => Some(m.sample(5).await?),
        None => None,
    };
    let config = m
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot store the mount: {e}")))?;
    s.store
        .set_mount(id, config.as_ref(), &auth.who().name)
        .await?;
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            if m.is_some() {
                "resource.mount"
            } else {
                "resource.unmount"
            },
            format!("resource:{}", r.code),
            "ok",
            json!({"to": m.map(Mount::describe)}).to_string(),
        ))
        .await?;
    Ok(sample)
}

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

/// The sample rows of entry `id`, if the caller may read raw data (audited).
pub(crate) async fn read_sample<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: i64,
) -> ApiResult<Sample> {
    let r = readable(s, auth.who(), id).await?;
    if !may_read_raw(auth.who(), &r) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only the providing department and the bureau may read raw rows",
        ));
    }
    let out = yishu_ingest::mount::sample_rows(&s.store, &s.lake, &r, 10).await?;
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "resource.sample",
            format!("resource:{}", r.code),
            "ok",
            json!({"rows": out.rows.len(), "from": out.from}).to_string(),
        ))
        .await?;
    Ok(out)
}
