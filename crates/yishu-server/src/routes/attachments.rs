//! `/api/v1/resources/{id}/attachments` and `/api/v1/attachments/{id}/content`: files that are not
//! tables (PDF, DOCX, images) kept with a resource; the text of PDF and DOCX is searchable.

use crate::AppState;
use crate::app::access::readable;
use crate::app::catalog::add;
use crate::auth::Catalogue;
use crate::auth::{Auth, SignedIn};
use crate::error::{ApiError, ApiResult};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use yishu_meta::attachment::Attachment;
use yishu_types::ErrorCode;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AttachParams {
    /// The file's name, e.g. `住房公积金缴存管理办法.pdf`.
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// Attaches a PDF, DOCX or image (the request body) to an entry; the same file twice is kept
/// once (200 with the earlier record).
#[utoipa::path(post, path = "/api/v1/resources/{id}/attachments", tag = "collection", params(AttachParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Attachment), (status = 200, body = Attachment), (status = 400, body = crate::error::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Auth<Catalogue>,
    Path(id): Path<i64>,
    Query(q): Query<AttachParams>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    let r = readable(&s, auth.who(), id).await?;
    let (a, new) = add(&s, &auth, &r, &q.name, &q.description, body.to_vec()).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(a)))
}

/// The files attached to an entry.
#[utoipa::path(get, path = "/api/v1/resources/{id}/attachments", tag = "collection",
    responses((status = 200, body = Vec<Attachment>)))]
pub async fn list(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Attachment>>> {
    readable(&s, auth.who(), id).await?;
    Ok(Json(s.store.list_attachments(id).await?))
}

/// Downloads an attached file (audited).
#[utoipa::path(get, path = "/api/v1/attachments/{id}/content", tag = "collection",
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 404, body = crate::error::ErrorBody)))]
pub async fn content(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let not_found = || ApiError::new(ErrorCode::InvalidInput, format!("no attachment {id}"));
    let a = s.store.get_attachment(id).await.map_err(|_| not_found())?;
    let r = readable(&s, auth.who(), a.resource_id)
        .await
        .map_err(|_| not_found())?;
    let bytes = s.lake.get_object(&a.object_key).await?;
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "attachment.read",
            format!("resource:{}", r.code),
            "ok",
            json!({"attachment": a.id, "name": a.name}).to_string(),
        ))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, a.media_type.clone()),
            (
                header::CONTENT_DISPOSITION,
                crate::download::attachment_disposition(&a.name),
            ),
        ],
        bytes,
    )
        .into_response())
}
