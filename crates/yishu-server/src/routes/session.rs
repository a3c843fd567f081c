//! `/api/v1/auth/login` and `/logout`: cookie sessions for the console and scripts.

use crate::AppState;
use crate::app::session::end_session;
use crate::app::session::session_cookie;
use crate::app::session::sign_in;
use crate::auth::{Auth, RequestMeta, SignedIn};
use crate::error::ApiResult;
use crate::json::ValidJson;
use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{AppendHeaders, IntoResponse};
use serde::{Deserialize, Serialize};
use yishu_meta::Principal;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub name: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub user: Principal,
    /// Send in `x-csrf-token` on cookie-authenticated writes.
    pub csrf_token: String,
}

/// Signs in with name and password; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    ValidJson(req): ValidJson<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let (user, token) = sign_in(&state, &meta, &req.name, &req.password).await?;
    Ok((
        AppendHeaders([(SET_COOKIE, session_cookie(&state, &token.token))]),
        Json(LoginResponse {
            user,
            csrf_token: token.csrf,
        }),
    ))
}

/// Ends the caller's session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    auth: Auth<SignedIn>,
    headers: axum::http::HeaderMap,
) -> ApiResult<impl IntoResponse> {
    end_session(&state, &auth.meta, &auth.principal, &headers).await?;
    Ok((
        axum::http::StatusCode::NO_CONTENT,
        AppendHeaders([(SET_COOKIE, session_cookie(&state, ""))]),
    ))
}
