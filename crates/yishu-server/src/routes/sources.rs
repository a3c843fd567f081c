//! `/api/v1/resources/{id}/sources`, `/api/v1/sources/{id}/run` and `/api/v1/resources/{id}/rows`:
//! how a resource is fed — pulled sources on a schedule, and rows pushed over HTTP with an API key.

use crate::AppState;
use crate::app::access::readable;
use crate::app::sources::Feed;
use crate::app::sources::NewSource;
use crate::app::sources::Pushed;
use crate::app::sources::add_source;
use crate::app::sources::shown;
use crate::app::sources::{kind_of, owns};
use crate::auth::Catalogue;
use crate::auth::{Auth, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;
use yishu_meta::source::Source;
use yishu_types::ErrorCode;

/// The sources feeding an entry.
#[utoipa::path(get, path = "/api/v1/resources/{id}/sources", tag = "collection", responses((status = 200, body = Vec<Source>)))]
pub async fn list(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Source>>> {
    let r = readable(&s, auth.who(), id).await?;
    owns(auth.who(), &r)?;
    Ok(Json(
        s.store
            .list_sources(id)
            .await?
            .into_iter()
            .map(shown)
            .collect(),
    ))
}

/// Connects a pulled source to an entry; its first run is due at once.
#[utoipa::path(post, path = "/api/v1/resources/{id}/sources", tag = "collection", request_body = NewSource,
    responses((status = 201, body = Source), (status = 400, body = crate::error::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Auth<Catalogue>,
    Path(id): Path<i64>,
    ValidJson(n): ValidJson<NewSource>,
) -> ApiResult<(StatusCode, Json<Source>)> {
    Ok((
        StatusCode::CREATED,
        Json(add_source(&s, &auth, id, &n).await?),
    ))
}

/// Runs a source now (in the background); its outcome appears on the source and as a batch.
#[utoipa::path(post, path = "/api/v1/sources/{id}/run", tag = "collection", responses((status = 202, body = Source)))]
pub async fn run(
    State(s): State<AppState>,
    auth: Auth<Catalogue>,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, Json<Source>)> {
    let src = s.store.get_source(id).await?;
    let r = readable(&s, auth.who(), src.resource_id).await?;
    owns(auth.who(), &r)?;
    let src = s.store.run_source_now(id).await?;
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "source.run_now",
            format!("resource:{}", r.code),
            "ok",
            json!({"source": id}).to_string(),
        ))
        .await?;
    let (store, lake) = (s.store.clone(), s.lake.clone());
    tokio::spawn(async move {
        if let Err(e) = yishu_ingest::sources::run_due(&store, &lake).await {
            tracing::warn!("running sources: {e}");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(shown(src))))
}

/// Pushes rows: a JSON array of objects or NDJSON (keys naming items), or a file — CSV, an XLSX
/// workbook (the resource's filling template, say) or Parquet — by its `Content-Type`.
/// `Idempotency-Key` makes a resend a no-op; without it, the same body twice is. Bad rows are
/// quarantined with their line.
#[utoipa::path(post, path = "/api/v1/resources/{id}/rows", tag = "collection",
    request_body(content = String, content_type = "application/json", description = "A JSON array of objects, or NDJSON; or text/csv, an XLSX workbook, application/vnd.apache.parquet"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Client's key for this push")),
    responses((status = 201, body = Pushed), (status = 200, body = Pushed), (status = 400, body = crate::error::ErrorBody)))]
pub async fn push(
    State(s): State<AppState>,
    auth: Auth<Catalogue>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Pushed>)> {
    let r = readable(&s, auth.who(), id).await?;
    let key = match headers.get("idempotency-key") {
        Some(v) => {
            let k = v
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= 200);
            Some(
                k.ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidInput,
                        "Idempotency-Key: use 1–200 visible ASCII characters",
                    )
                })?
                .to_string(),
            )
        }
        None => None,
    };
    let pushed = Feed::new("push", kind_of(&headers, &body)?, &body)
        .key(key.as_deref())
        .store(&s, &auth, &r)
        .await?;
    let status = if pushed.stored {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(pushed)))
}
