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
    /// `database` (config: url, table, watermark_column), `drop_dir` (config: dir), `nats`
    /// (config: url, stream, subject, window_ms, max_rows) or `rabbitmq` (config: url, queue,
    /// window_ms, max_rows); every kind takes an optional `mapping` of source names to items.
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
    Ok((
        StatusCode::CREATED,
        Json(add_source(&s, &auth, id, &n).await?),
    ))
}

/// Binds a checked source to an entry the caller's department provides, and audits it.
pub(crate) async fn add_source<R: crate::auth::Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: i64,
    n: &NewSource,
) -> ApiResult<Source> {
    let r = readable(s, auth.who(), id).await?;
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
    Ok(shown(src))
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

/// What a body with no telling `Content-Type` (curl's form default, octet-stream) holds, by its
/// first bytes: a zip is a workbook, `PAR1` Parquet, `[`/`{` JSON, anything else CSV.
fn sniff(body: &[u8]) -> &'static str {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| &body[i..])
        .unwrap_or_default();
    if body.starts_with(b"PK\x03\x04") {
        "xlsx"
    } else if body.starts_with(b"PAR1") {
        "parquet"
    } else if start.starts_with(b"[") || start.starts_with(b"{") {
        "json"
    } else {
        "csv"
    }
}

/// The file kind a pushed body is read as, from its `Content-Type` (JSON when none is given;
/// recognised by its bytes when the type says nothing).
fn kind_of(headers: &HeaderMap, body: &[u8]) -> ApiResult<&'static str> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Ok(match ct.as_str() {
        "application/json" | "application/x-ndjson" | "application/jsonl" | "text/plain" => "json",
        "text/csv" => "csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/vnd.apache.parquet" | "application/x-parquet" => "parquet",
        "application/octet-stream" | "application/x-www-form-urlencoded" => sniff(body),
        other => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!(
                    "Content-Type {other}: send application/json (array or NDJSON), text/csv, \
                     an XLSX workbook or application/vnd.apache.parquet"
                ),
            ));
        }
    })
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
    let pushed = feed_body(
        &s,
        &auth,
        &r,
        &body,
        kind_of(&headers, &body)?,
        key.as_deref(),
        "push",
        &Default::default(),
    )
    .await?;
    let status = if pushed.stored {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(pushed)))
}

/// Stores a body of rows as one batch of a published resource the caller's department provides,
/// and audits it. `key` names the batch (a resend with the same key is a no-op); without one, the
/// body's checksum does. `via` says how it came (`push`, `form`, `upload`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn feed_body<R: crate::auth::Right>(
    s: &AppState,
    auth: &Auth<R>,
    r: &Resource,
    body: &[u8],
    kind: &str,
    key: Option<&str>,
    via: &str,
    mapping: &yishu_ingest::rows::Mapping,
) -> ApiResult<Pushed> {
    owns(auth.who(), r)?;
    if r.status != ResourceStatus::Published {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!(
                "{} is not published; data is fed to published entries only",
                r.code
            ),
        ));
    }
    if body.len() > PUSH_LIMIT {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!(
                "the body has {} bytes, more than {PUSH_LIMIT}: use a drop directory or a database source",
                body.len()
            ),
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "the body is empty: send rows (a JSON array of objects, NDJSON, CSV, XLSX or Parquet)",
        ));
    }
    let sum = match key {
        Some(k) => format!("{via}:{}", blake3::hash(k.as_bytes()).to_hex()),
        None => format!("blake3:{}", blake3::hash(body).to_hex()),
    };
    let dir = tempfile::tempdir()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("temp dir: {e}")))?;
    let file = dir.path().join(format!("{via}.{kind}"));
    tokio::fs::write(&file, body)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("temp file: {e}")))?;
    let source = match key {
        Some(k) => format!("{via}:{k}"),
        None => via.to_string(),
    };
    let opts = yishu_ingest::Source::for_path(
        &file,
        yishu_ingest::csv::CsvOptions {
            mapping: mapping.clone(),
            ..Default::default()
        },
        yishu_ingest::xlsx::XlsxOptions {
            mapping: mapping.clone(),
            ..Default::default()
        },
    );
    let out = yishu_ingest::ingest_file_as(
        &s.store,
        &s.lake,
        r,
        &file,
        &opts,
        &source,
        &sum,
        &mut |_| {},
    )
    .await;
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            s.store
                .audit(&auth.meta.entry(
                    Some(auth.who()),
                    &format!("ingest.{via}"),
                    format!("resource:{}", r.code),
                    "failed",
                    json!({"error": e.message}).to_string(),
                ))
                .await?;
            return Err(e.into());
        }
    };
    let pushed = match out {
        yishu_ingest::Outcome::Ingested(b) => Pushed {
            stored: true,
            batch: b,
        },
        yishu_ingest::Outcome::AlreadyIngested(b) | yishu_ingest::Outcome::Unchanged(b) => Pushed {
            stored: false,
            batch: b,
        },
    };
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            &format!("ingest.{via}"),
            format!("resource:{}", r.code),
            "ok",
            json!({"batch": pushed.batch.id, "stored": pushed.stored, "read": pushed.batch.rows_read, "quarantined": pushed.batch.rows_quarantined, "idempotency_key": key}).to_string(),
        ))
        .await?;
    Ok(pushed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bodies_without_a_telling_type_are_recognised() {
        assert_eq!(super::sniff(b"PK\x03\x04rest"), "xlsx");
        assert_eq!(super::sniff(b"PAR1...."), "parquet");
        assert_eq!(super::sniff(b"  \n[{\"a\":1}]"), "json");
        assert_eq!(super::sniff("姓名,身份证\n".as_bytes()), "csv");
    }
}
