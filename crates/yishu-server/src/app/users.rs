//! Creating users and API keys, audited.

use crate::AppState;
use crate::auth::{Auth, ManageUsers, SignedIn};
use crate::error::{ApiError, ApiResult};
use serde::Deserialize;
use serde_json::json;
use yishu_meta::NewApiKey;
use yishu_meta::{ApiKey, NewUser, User};
use yishu_types::{ApiKeyId, ErrorCode};

/// Creates a user and audits the attempt (never the password).
pub async fn create_user(s: &AppState, auth: &Auth<ManageUsers>, new: &NewUser) -> ApiResult<User> {
    let result = s.store.create_user(new).await;
    let object = match &result {
        Ok(u) => format!("user:{}", u.id),
        Err(_) => format!("user_name:{}", new.name),
    };
    let detail = json!({"name": new.name, "org_id": new.org_id, "roles": new.roles}).to_string();
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    s.store
        .audit(
            &auth
                .meta
                .entry(Some(auth.who()), "user.create", object, outcome, detail),
        )
        .await?;
    Ok(result?)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub name: String,
    /// Days until the key expires (1–3650); none means no expiry.
    pub expires_in_days: Option<i64>,
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
