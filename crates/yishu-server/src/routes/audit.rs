//! `/api/v1/audit`: read and verify the audit chain (auditors only; there is no write route).

use crate::AppState;
use crate::app::audit::AuditQuery;
use crate::auth::{Auth, ReadAudit};
use crate::error::ApiResult;
use crate::json::ValidQuery;
use axum::Json;
use axum::extract::State;
use yishu_meta::{AuditRecord, ChainReport, Page};

/// Reads the audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditRecord>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    _auth: Auth<ReadAudit>,
    ValidQuery(q): ValidQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditRecord>>> {
    let p = crate::json::Paging {
        limit: q.limit,
        offset: q.offset,
    };
    Ok(Json(
        s.store
            .list_audit(&q.filter(), p.limit(), p.offset())
            .await?,
    ))
}

/// Walks the whole chain and reports the first altered or missing record.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", responses((status = 200, body = ChainReport)))]
pub async fn verify(
    State(s): State<AppState>,
    _auth: Auth<ReadAudit>,
) -> ApiResult<Json<ChainReport>> {
    Ok(Json(s.store.verify_audit().await?))
}
