//! `/api/v1/me`: the caller.

use crate::auth::{Auth, SignedIn};
use axum::Json;
use yishu_meta::Principal;

/// Who am I: the caller's user, org, roles and how they signed in.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, body = Principal), (status = 401, body = crate::error::ErrorBody)))]
pub async fn get_me(auth: Auth<SignedIn>) -> Json<Principal> {
    Json(auth.principal)
}
