//! `/api/v1/me/api-keys`: the caller's keys for programs.

use crate::AppState;
use crate::auth::{Auth, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use yishu_meta::{ApiKey, NewApiKey};
use yishu_types::{ApiKeyId, ErrorCode};

/// Lists the caller's keys (never the secrets).
#[utoipa::path(get, path = "/api/v1/me/api-keys", tag = "api-keys", responses((status = 200, body = Vec<ApiKey>)))]
pub async fn list(State(s): State<AppState>, auth: Auth<SignedIn>) -> ApiResult<Json<Vec<ApiKey>>> {
    Ok(Json(s.store.list_api_keys(auth.who().user_id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub name: String,
    /// Days until the key expires (1–3650); none means no expiry.
    pub expires_in_days: Option<i64>,
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

/// Creates a key for the caller and audits it (never the secret).
pub async fn create_key(
    s: &AppState,
    auth: &Auth<SignedIn>,
    c: &CreateKey,
) -> ApiResult<NewApiKey> {
    let expires = match c.expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => Some(yishu_meta::now_ms() + d * 86_400_000),
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "expires_in_days: must be 1–3650",
            ));
        }
    };
    let r = s
        .store
        .create_api_key(auth.who().user_id, &c.name, expires)
        .await;
    let (object, outcome) = match &r {
        Ok(k) => (format!("api_key:{}", k.key.id), "ok"),
        Err(_) => ("api_key:-".to_string(), "failed"),
    };
    let detail = json!({"name": c.name, "expires_at": expires}).to_string();
    s.store
        .audit(
            &auth
                .meta
                .entry(Some(auth.who()), "api_key.create", object, outcome, detail),
        )
        .await?;
    Ok(r?)
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

/// Revokes a key the caller owns (or any key, for an admin) and audits it.
pub async fn revoke_key(s: &AppState, auth: &Auth<SignedIn>, id: ApiKeyId) -> ApiResult<ApiKey> {
    let key = s.store.get_api_key(id).await?;
    if key.user_id != auth.who().user_id && !auth.who().has(yishu_types::Role::Admin) {
        return Err(ApiError::new(
            ErrorCode::ApiKeyNotFound,
            format!("no API key with id {id}"),
        ));
    }
    let r = s.store.revoke_api_key(id).await;
    let outcome = if r.is_ok() { "ok" } else { "failed" };
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "api_key.revoke",
            format!("api_key:{id}"),
            outcome,
            "{}".into(),
        ))
        .await?;
    s.key_cache.clear();
    Ok(r?)
}
