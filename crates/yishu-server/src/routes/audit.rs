//! `/api/v1/audit`: read and verify the audit chain (auditors only; there is no write route).

use crate::AppState;
use crate::auth::{Auth, ReadAudit};
use crate::error::ApiResult;
use crate::json::ValidQuery;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use yishu_meta::{AuditFilter, AuditRecord, ChainReport, Page};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Exact user name.
    pub actor: Option<String>,
    /// Action prefix, e.g. `auth` or `org.create`.
    pub action: Option<String>,
    /// `ok`, `denied` or `failed`.
    pub outcome: Option<String>,
    /// From this time (epoch ms), inclusive.
    pub from: Option<i64>,
    /// Up to this time (epoch ms), exclusive.
    pub to: Option<i64>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl AuditQuery {
    pub fn filter(&self) -> AuditFilter {
        let nonempty = |s: &Option<String>| s.as_ref().filter(|v| !v.trim().is_empty()).cloned();
        AuditFilter {
            actor: nonempty(&self.actor),
            action: nonempty(&self.action),
            outcome: nonempty(&self.outcome),
            from: self.from,
            to: self.to,
        }
    }
}

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
