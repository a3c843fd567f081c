//! `/api/v1/orgs`: the organisation tree.

use crate::AppState;
use crate::auth::{Auth, ManageOrgs, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::{Paging, ValidJson, ValidQuery};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use yishu_meta::{NewOrg, Org, Page};
use yishu_types::{ErrorCode, OrgId};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OrgQuery {
    /// Only the children of this org.
    pub parent_id: Option<i64>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Lists organisations (any signed-in user), ordered by code.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", params(OrgQuery),
    responses((status = 200, body = Page<Org>), (status = 401, body = crate::error::ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
    ValidQuery(q): ValidQuery<OrgQuery>,
) -> ApiResult<Json<Page<Org>>> {
    let paging = Paging {
        limit: q.limit,
        offset: q.offset,
    };
    Ok(Json(
        s.store
            .page_orgs(q.parent_id.map(OrgId), paging.limit(), paging.offset())
            .await?,
    ))
}

/// Reads one organisation.
#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "orgs",
    responses((status = 200, body = Org), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Org>> {
    Ok(Json(s.store.get_org(OrgId(id)).await?))
}

/// Creates an organisation (admin).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = NewOrg,
    responses((status = 201, body = Org), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Auth<ManageOrgs>,
    ValidJson(new): ValidJson<NewOrg>,
) -> ApiResult<(StatusCode, Json<Org>)> {
    let org = create_org(&s, &auth, &new).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

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

/// Renames, moves, disables or enables an organisation (admin). Concurrent edits of the same
/// version: the first wins, the others get `edit_conflict`.
#[utoipa::path(patch, path = "/api/v1/orgs/{id}", tag = "orgs", request_body = OrgChange,
    responses((status = 200, body = Org), (status = 409, body = crate::error::ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    auth: Auth<ManageOrgs>,
    Path(id): Path<i64>,
    ValidJson(ch): ValidJson<OrgChange>,
) -> ApiResult<Json<Org>> {
    Ok(Json(update_org(&s, &auth, OrgId(id), &ch).await?))
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
