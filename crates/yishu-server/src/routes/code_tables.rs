//! `/api/v1/code-tables`: the national code tables and departments' local tables mapped to them.

use crate::AppState;
use crate::app::quality::CodeTables;
use crate::app::quality::ImportQuery;
use crate::app::quality::import_codes;
use crate::app::quality::tables;
use crate::auth::{Auth, Quality, SignedIn};
use crate::error::ApiResult;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

/// The national code tables and the departments' own.
#[utoipa::path(get, path = "/api/v1/code-tables", tag = "quality", responses((status = 200, body = CodeTables)))]
pub async fn code_tables(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
) -> ApiResult<Json<CodeTables>> {
    Ok(Json(tables(&s).await?))
}

/// One code table: a national one's codes, or a department's with its mapping.
#[utoipa::path(get, path = "/api/v1/code-tables/{id}", tag = "quality", responses((status = 200, body = Object)))]
pub async fn code_table(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    if let Some(t) = yishu_types::codes::table(&id) {
        return Ok(Json(json!(t)));
    }
    Ok(Json(json!(s.store.code_table(&id).await?)))
}

/// Imports a department's code table (CSV in UTF-8/GBK/GB18030, or XLSX: code and name columns)
/// and maps each local code to the national table by name or spelling. Codes that match only by
/// code, or not at all, are listed for a person to map by hand.
#[utoipa::path(post, path = "/api/v1/code-tables/{id}/import", tag = "quality", params(ImportQuery),
    request_body(content = String, content_type = "text/csv"), responses((status = 200, body = Object)))]
pub async fn import_code_table(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path(id): Path<String>,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let (saved, to_check) = import_codes(&s, &auth, &id, &q, &body).await?;
    Ok(Json(json!({"table": saved, "to_check": to_check})))
}
