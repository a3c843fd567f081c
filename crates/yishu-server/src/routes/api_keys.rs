//! `/api/v1/me/api-keys`: the caller's keys for programs.

use crate::AppState;
use crate::app::users::CreateKey;
use crate::app::users::create_key;
use crate::app::users::revoke_key;
use crate::auth::{Auth, SignedIn};
use crate::error::ApiResult;
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use yishu_meta::{ApiKey, NewApiKey};
use yishu_types::ApiKeyId;

/// Lists the caller's keys (never the secrets).
#[utoipa::path(get, path = "/api/v1/me/api-keys", tag = "api-keys", responses((status = 200, body = Vec<ApiKey>)))]
pub async fn list(State(s): State<AppState>, auth: Auth<SignedIn>) -> ApiResult<Json<Vec<ApiKey>>> {
    Ok(Json(s.store.list_api_keys(auth.who().user_id).await?))
}

/// Creates a key. The secret is in this response only; store it now.
#[utoipa::path(post, path = "/api/v1/me/api-keys", tag = "api-keys", request_body = CreateKey,
    responses((status = 201, body = NewApiKey), (status = 400, body = crate::error::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    ValidJson(c): ValidJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<NewApiKey>)> {
    Ok((StatusCode::CREATED, Json(create_key(&s, &auth, &c).await?)))
}

/// Revokes one of the caller's keys (admins may revoke anyone's).
#[utoipa::path(delete, path = "/api/v1/me/api-keys/{id}", tag = "api-keys",
    responses((status = 200, body = ApiKey), (status = 404, body = crate::error::ErrorBody)))]
pub async fn revoke(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(revoke_key(&s, &auth, ApiKeyId(id)).await?))
}
