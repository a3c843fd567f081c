//! `/api/v1/apps`: a consumer department's systems (接入应用), their keys, addresses and rates,
//! and the switch that suspends one. Every change is audited, refusals too.

use crate::AppState;
use crate::app::apps::{self, seen, visible};
use crate::auth::{Auth, ManageApps, SignedIn};
use crate::error::ApiResult;
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use yishu_meta::app::{App, AppDraft};
use yishu_meta::{ApiKey, NewApiKey};
use yishu_types::{ApiKeyId, AppId};

/// The apps the caller sees: their department's; every app for the bureau.
#[utoipa::path(get, path = "/api/v1/apps", tag = "apps", responses((status = 200, body = [App])))]
pub async fn list(State(s): State<AppState>, auth: Auth<SignedIn>) -> ApiResult<Json<Vec<App>>> {
    Ok(Json(visible(&s, auth.who()).await?))
}

/// Registers an app of the caller's department.
#[utoipa::path(post, path = "/api/v1/apps", tag = "apps", request_body = AppDraft,
    responses((status = 201, body = App), (status = 400, body = crate::error::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Auth<ManageApps>,
    ValidJson(d): ValidJson<AppDraft>,
) -> ApiResult<(StatusCode, Json<App>)> {
    Ok((
        StatusCode::CREATED,
        Json(apps::create(&s, &auth, &d).await?),
    ))
}

/// One app.
#[utoipa::path(get, path = "/api/v1/apps/{id}", tag = "apps",
    params(("id" = i64, Path, description = "app id")),
    responses((status = 200, body = App), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<App>> {
    Ok(Json(seen(&s, auth.who(), AppId(id)).await?))
}

/// Changes an app's name, description, addresses and calls a minute; its keys follow at once.
#[utoipa::path(put, path = "/api/v1/apps/{id}", tag = "apps", request_body = AppDraft,
    params(("id" = i64, Path, description = "app id")),
    responses((status = 200, body = App), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn edit(
    State(s): State<AppState>,
    auth: Auth<ManageApps>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<AppDraft>,
) -> ApiResult<Json<App>> {
    Ok(Json(apps::edit(&s, &auth, AppId(id), &d).await?))
}

/// Suspending or resuming an app.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppSwitch {
    pub suspended: bool,
    /// Why (required to suspend).
    #[serde(default)]
    pub reason: String,
}

/// Suspends an app (every key stops on its next call) or resumes it: its department, or the
/// bureau's data managers.
#[utoipa::path(post, path = "/api/v1/apps/{id}/status", tag = "apps", request_body = AppSwitch,
    params(("id" = i64, Path, description = "app id")),
    responses((status = 200, body = App), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn set_status(
    State(s): State<AppState>,
    auth: Auth<ManageApps>,
    Path(id): Path<i64>,
    ValidJson(w): ValidJson<AppSwitch>,
) -> ApiResult<Json<App>> {
    Ok(Json(
        apps::switch(&s, &auth, AppId(id), w.suspended, &w.reason).await?,
    ))
}

/// An app's keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/apps/{id}/keys", tag = "apps",
    params(("id" = i64, Path, description = "app id")),
    responses((status = 200, body = [ApiKey]), (status = 404, body = crate::error::ErrorBody)))]
pub async fn keys(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<ApiKey>>> {
    let app = seen(&s, auth.who(), AppId(id)).await?;
    Ok(Json(s.store.app_keys(app.id).await?))
}

/// A new key for an app.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppKey {
    pub name: String,
    /// Days until the key expires (1–730; a year when left out).
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

/// Makes a key for one of the caller's department's apps. The secret is in this response only.
#[utoipa::path(post, path = "/api/v1/apps/{id}/keys", tag = "apps", request_body = NewAppKey,
    params(("id" = i64, Path, description = "app id")),
    responses((status = 201, body = NewApiKey), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn create_key(
    State(s): State<AppState>,
    auth: Auth<ManageApps>,
    Path(id): Path<i64>,
    ValidJson(k): ValidJson<NewAppKey>,
) -> ApiResult<(StatusCode, Json<NewApiKey>)> {
    let key = apps::make_key(&s, &auth, AppId(id), &k.name, k.expires_in_days).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// Revokes one of an app's keys; it stops on its next call.
#[utoipa::path(delete, path = "/api/v1/apps/{id}/keys/{key}", tag = "apps",
    params(("id" = i64, Path, description = "app id"), ("key" = i64, Path, description = "key id")),
    responses((status = 200, body = ApiKey), (status = 404, body = crate::error::ErrorBody)))]
pub async fn revoke_key(
    State(s): State<AppState>,
    auth: Auth<ManageApps>,
    Path((id, key)): Path<(i64, i64)>,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(
        apps::revoke_key(&s, &auth, AppId(id), ApiKeyId(key)).await?,
    ))
}
