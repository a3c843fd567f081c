//! Creating and changing organisations, audited.

use crate::AppState;
use crate::auth::{Auth, ManageOrgs};
use crate::error::{ApiError, ApiResult};
use serde::Deserialize;
use serde_json::json;
use yishu_meta::{NewOrg, Org};
use yishu_types::{ErrorCode, OrgId};

/// Creates an org and audits the attempt, for the API and the console.
pub async fn create_org(s: &AppState, auth: &Auth<ManageOrgs>, new: &NewOrg) -> ApiResult<Org> {
    let result = s.store.create_org(new).await;
    let (object, outcome) = match &result {
        Ok(o) => (format!("org:{}", o.id), "ok"),
        Err(_) => (format!("org_code:{}", new.code), "failed"),
    };
    let detail =
        json!({"code": new.code, "name": new.name, "parent_id": new.parent_id}).to_string();
    s.store
        .audit(
            &auth
                .meta
                .entry(Some(auth.who()), "org.create", object, outcome, detail),
        )
        .await?;
    Ok(result?)
}

/// A change to an org; `version` must be the version the caller read.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgChange {
    pub version: i64,
    pub name: Option<String>,
    /// Move under this parent (`null` keeps it; use `move_to_root` for none).
    pub parent_id: Option<i64>,
    #[serde(default)]
    pub move_to_root: bool,
    pub disabled: Option<bool>,
}

/// Applies an [`OrgChange`] step by step, auditing each step.
pub async fn update_org(
    s: &AppState,
    auth: &Auth<ManageOrgs>,
    id: OrgId,
    ch: &OrgChange,
) -> ApiResult<Org> {
    if ch.name.is_none() && ch.parent_id.is_none() && !ch.move_to_root && ch.disabled.is_none() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "nothing to change: give name, parent_id, move_to_root or disabled",
        ));
    }
    let mut version = ch.version;
    let mut org = None;
    let steps: [(&str, bool); 3] = [
        ("org.rename", ch.name.is_some()),
        ("org.move", ch.parent_id.is_some() || ch.move_to_root),
        ("org.disable", ch.disabled.is_some()),
    ];
    for (action, wanted) in steps {
        if !wanted {
            continue;
        }
        let result = match action {
            "org.rename" => {
                s.store
                    .rename_org(id, ch.name.as_deref().unwrap_or_default(), version)
                    .await
            }
            "org.move" => {
                s.store
                    .move_org(
                        id,
                        ch.parent_id.filter(|_| !ch.move_to_root).map(OrgId),
                        version,
                    )
                    .await
            }
            _ => {
                s.store
                    .set_org_disabled(id, ch.disabled.unwrap_or(false), version)
                    .await
            }
        };
        let detail = json!({"name": ch.name, "parent_id": ch.parent_id, "disabled": ch.disabled, "version": version}).to_string();
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        s.store
            .audit(&auth.meta.entry(
                Some(auth.who()),
                action,
                format!("org:{id}"),
                outcome,
                detail,
            ))
            .await?;
        let o = result?;
        version = o.version;
        org = Some(o);
    }
    org.ok_or_else(|| ApiError::new(ErrorCode::Internal, "no change applied"))
}
