//! `/api/v1/orgs`: the organisation tree.

use crate::AppState;
use crate::app::orgs::OrgChange;
use crate::app::orgs::create_org;
use crate::app::orgs::update_org;
use crate::auth::{Auth, ManageOrgs, SignedIn};
use crate::error::ApiResult;
use crate::json::{Paging, ValidJson, ValidQuery};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use yishu_meta::{NewOrg, Org, Page};
use yishu_types::OrgId;

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
