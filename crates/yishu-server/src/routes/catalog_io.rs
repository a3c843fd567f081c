//! `/api/v1/catalog/…`: the cataloguing workbook (编目表) — its empty template, the catalog
//! exported as XLSX or JSON (what the caller may see), and a filled workbook imported as drafts.
//! The CLI's `yishu catalog` does the same from a shell.

use crate::AppState;
use crate::app::access::visible;
use crate::app::catalog::Imported;
use crate::app::catalog::import;
use crate::auth::Catalogue;
use crate::auth::{Auth, SignedIn};
use crate::download::file;
use crate::error::{ApiError, ApiResult};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use yishu_ingest::catalog_sheet::{self};
use yishu_meta::catalog::Resource;
use yishu_types::ErrorCode;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The empty cataloguing workbook, with the allowed values explained.
#[utoipa::path(get, path = "/api/v1/catalog/template.xlsx", tag = "catalog",
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>)))]
pub async fn template(_auth: Auth<SignedIn>) -> ApiResult<Response> {
    Ok(file(XLSX, "编目表模板.xlsx", catalog_sheet::template()?))
}

/// The entries the caller may see.
async fn seen(s: &AppState, p: &yishu_meta::Principal) -> ApiResult<Vec<Resource>> {
    Ok(s.store
        .all_resources()
        .await?
        .into_iter()
        .filter(|r| visible(p, r))
        .collect())
}

/// The catalog as a cataloguing workbook.
#[utoipa::path(get, path = "/api/v1/catalog/export.xlsx", tag = "catalog",
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>)))]
pub async fn export_xlsx(State(s): State<AppState>, auth: Auth<SignedIn>) -> ApiResult<Response> {
    let resources = seen(&s, auth.who()).await?;
    let orgs = s.store.list_orgs().await?;
    Ok(file(
        XLSX,
        "资源目录.xlsx",
        catalog_sheet::export(&resources, &orgs)?,
    ))
}

/// The catalog as JSON (every field of every entry the caller may see).
#[utoipa::path(get, path = "/api/v1/catalog/export.json", tag = "catalog",
    responses((status = 200, body = Vec<Resource>)))]
pub async fn export_json(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<Resource>>> {
    Ok(Json(seen(&s, auth.who()).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ImportParams {
    /// Import the valid rows even when others have errors.
    #[serde(default)]
    pub valid_only: bool,
}

/// Imports a filled cataloguing workbook (the body). With errors, nothing is imported (422 with
/// every error) unless `valid_only` is set.
#[utoipa::path(post, path = "/api/v1/catalog/import", tag = "catalog", params(ImportParams),
    request_body(description = "The filled cataloguing workbook (any content type is read as its bytes)",
        content((Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (Vec<u8> = "application/octet-stream"))),
    responses((status = 201, body = Imported), (status = 422, body = Imported)))]
pub async fn import_xlsx(
    State(s): State<AppState>,
    auth: Auth<Catalogue>,
    Query(q): Query<ImportParams>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Imported>)> {
    if body.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "the body is empty: send the filled cataloguing workbook",
        ));
    }
    let out = import(&s, &auth, &body, q.valid_only).await?;
    let status = if out.refused || out.created.is_empty() && !out.errors.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(out)))
}
