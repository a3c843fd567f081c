//! Recording what a caller did in the audit chain, and reading the chain back.

use crate::AppState;
use crate::auth::{Auth, Right};
use crate::error::ApiResult;
use serde::Deserialize;
use serde_json::Value;
use yishu_meta::AuditFilter;
use yishu_meta::Principal;
use yishu_meta::catalog::Actor;

pub(crate) fn actor(p: &Principal) -> Actor<'_> {
    Actor {
        user: p.user_id,
        org: p.org_id,
        roles: &p.roles,
    }
}

/// Records an action of the caller in the audit chain.
pub(crate) async fn audit<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    action: &str,
    object: String,
    detail: Value,
) -> ApiResult<()> {
    s.store
        .audit(
            &auth
                .meta
                .entry(Some(auth.who()), action, object, "ok", detail.to_string()),
        )
        .await?;
    Ok(())
}

/// Records the outcome of an action — `ok`, or `denied`/`failed` with the error's code and
/// message — and hands the result back. Refusals are audited like successes; when the record
/// cannot be written, a success becomes that failure (fail closed).
pub(crate) async fn audited<R: Right, T>(
    s: &AppState,
    auth: &Auth<R>,
    action: &str,
    object: String,
    mut detail: Value,
    result: ApiResult<T>,
) -> ApiResult<T> {
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) if e.0.code.http_status() < 500 => "denied",
        Err(_) => "failed",
    };
    if let (Err(e), Some(o)) = (&result, detail.as_object_mut()) {
        o.insert("error".into(), Value::String(e.0.code.as_str().into()));
        o.insert("message".into(), Value::String(e.0.message.clone()));
    }
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            action,
            object,
            outcome,
            detail.to_string(),
        ))
        .await?;
    result
}

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
            ..Default::default()
        }
    }
}
