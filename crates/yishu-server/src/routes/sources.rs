//! `/api/v1/resources/{id}/sources`, `/api/v1/sources/{id}/run` and `/api/v1/resources/{id}/rows`:
//! how a resource is fed — pulled sources on a schedule, and rows pushed over HTTP with an API key.

use crate::AppState;
use crate::auth::{Auth, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use crate::routes::resources::{Catalogue, own_org, readable};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use yishu_meta::Principal;
use yishu_meta::batch::Batch;
use yishu_meta::catalog::{Resource, ResourceStatus};
use yishu_meta::source::Source;
use yishu_types::ErrorCode;

/// Largest pushed body: bigger data goes through a drop directory or a pull.
pub const PUSH_LIMIT: usize = 16 * 1024 * 1024;

fn owns(p: &Principal, r: &Resource) -> ApiResult<()> {
    own_org(p, r.meta.provider_org_id, &format!("feeds {}", r.code))
}

/// A source as shown to people: passwords in connection URLs are hidden.
pub fn shown(mut s: Source) -> Source {
    if let Some(url) = s.config.get("url").and_then(|u| u.as_str()) {
        s.config["url"] = json!(yishu_ingest::db::redact(url));
    }
    s
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSource {
    /// `database` (config: url, table, watermark_column) or `drop_dir` (config: dir).
    pub kind: String,
    pub config: serde_json::Value,
    /// Five-field cron in Beijing time (`0 2 * * *`), or `@every 15m`, `@hourly`, `@daily` …
    pub schedule: String,
}

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
    let r = readable(&s, auth.who(), id).await?;
    owns(auth.who(), &r)?;
    yishu_ingest::sources::validate(&n.kind, &n.config)?;
    let src = s
        .store
        .create_source(id, &n.kind, &n.config, &n.schedule, &auth.who().name)
        .await?;
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "source.create",
            format!("resource:{}", r.code),
            "ok",
            json!({"source": src.id, "kind": src.kind, "schedule": src.schedule}).to_string(),
        ))
        .await?;
    Ok((StatusCode::CREATED, Json(shown(src))))
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Pushed {
    /// False when this idempotency key (or this exact body) was stored before: nothing written.
    pub stored: bool,
    pub batch: Batch,
}

/// Pushes rows: a JSON array of objects or NDJSON, keys naming items. `Idempotency-Key` makes a
/// resend a no-op; without it, the same body twice is. Bad rows are quarantined with their line.
#[utoipa::path(post, path = "/api/v1/resources/{id}/rows", tag = "collection",
    request_body(content = String, content_type = "application/json", description = "A JSON array of objects, or NDJSON"),
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
    owns(auth.who(), &r)?;
    if r.status != ResourceStatus::Published {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!(
                "{} is not published; data is fed to published entries only",
                r.code
            ),
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "the body is empty: send a JSON array of objects or NDJSON",
        ));
    }
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
    let sum = match &key {
        Some(k) => format!("push:{}", blake3::hash(k.as_bytes()).to_hex()),
        None => format!("blake3:{}", blake3::hash(&body).to_hex()),
    };
    let dir = tempfile::tempdir()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("temp dir: {e}")))?;
    let file = dir.path().join("push.ndjson");
    tokio::fs::write(&file, &body)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("temp file: {e}")))?;
    let source = match &key {
        Some(k) => format!("push:{k}"),
        None => "push".to_string(),
    };
    let out = yishu_ingest::ingest_file_as(
        &s.store,
        &s.lake,
        &r,
        &file,
        &yishu_ingest::Source::Json(Default::default()),
        &source,
        &sum,
        &mut |_| {},
    )
    .await?;
    let (status, pushed) = match out {
        yishu_ingest::Outcome::Ingested(b) => (
            StatusCode::CREATED,
            Pushed {
                stored: true,
                batch: b,
            },
        ),
        yishu_ingest::Outcome::AlreadyIngested(b) | yishu_ingest::Outcome::Unchanged(b) => (
            StatusCode::OK,
            Pushed {
                stored: false,
                batch: b,
            },
        ),
    };
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "ingest.push",
            format!("resource:{}", r.code),
            "ok",
            json!({"batch": pushed.batch.id, "stored": pushed.stored, "read": pushed.batch.rows_read, "quarantined": pushed.batch.rows_quarantined, "idempotency_key": key}).to_string(),
        ))
        .await?;
    Ok((status, Json(pushed)))
}
