//! `/api/v1/matters`: the duty list (权责事项) — a department's business matters and the resources
//! and items each produces; `/api/v1/resources/{id}/matters` the other way round.

use crate::AppState;
use crate::app::access::readable;
use crate::app::matters::MatterPage;
use crate::app::matters::own;
use crate::app::matters::page;
use crate::auth::Catalogue;
use crate::auth::{Auth, SignedIn};
use crate::error::ApiResult;
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use yishu_meta::matter::Matter;
use yishu_types::OrgId;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMatter {
    pub code: String,
    pub name: String,
    pub org_id: OrgId,
    #[serde(default)]
    pub kind: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub resource_id: i64,
    /// Items the matter produces; all of them when empty.
    #[serde(default)]
    pub items: Vec<String>,
}

/// Adds a matter to a department's duty list.
#[utoipa::path(post, path = "/api/v1/matters", tag = "catalog", request_body = NewMatter, responses((status = 201, body = Matter)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Auth<Catalogue>,
    ValidJson(n): ValidJson<NewMatter>,
) -> ApiResult<(StatusCode, Json<Matter>)> {
    own(auth.who(), n.org_id)?;
    let m = s
        .store
        .create_matter(&n.code, &n.name, n.org_id, &n.kind)
        .await?;
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "matter.create",
            format!("matter:{}", m.code),
            "ok",
            json!({"name": m.name}).to_string(),
        ))
        .await?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// A matter with the resources and items it produces.
#[utoipa::path(get, path = "/api/v1/matters/{id}", tag = "catalog", responses((status = 200, body = MatterPage)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<MatterPage>> {
    Ok(Json(page(&s, auth.who(), id).await?))
}

/// Records that a matter produces (items of) a resource of the same department.
#[utoipa::path(post, path = "/api/v1/matters/{id}/resources", tag = "catalog", request_body = Link, responses((status = 204)))]
pub async fn link(
    State(s): State<AppState>,
    auth: Auth<Catalogue>,
    Path(id): Path<i64>,
    ValidJson(l): ValidJson<Link>,
) -> ApiResult<StatusCode> {
    let m = s.store.get_matter(id).await?;
    own(auth.who(), m.org_id)?;
    let r = readable(&s, auth.who(), l.resource_id).await?;
    s.store.link_matter(id, r.id, &l.items).await?;
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "matter.link",
            format!("matter:{}", m.code),
            "ok",
            json!({"resource": r.code, "items": l.items}).to_string(),
        ))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The matters that produce an entry.
#[utoipa::path(get, path = "/api/v1/resources/{id}/matters", tag = "catalog", responses((status = 200, body = Vec<Matter>)))]
pub async fn of_resource(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Matter>>> {
    readable(&s, auth.who(), id).await?;
    Ok(Json(s.store.resource_matters(id).await?))
}
