//! `/api/v1/auth/login` and `/logout`: cookie sessions for the console and scripts.

use crate::AppState;
use crate::auth::{Auth, RequestMeta, SESSION_COOKIE, SignedIn};
use crate::error::{ApiError, ApiResult};
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

/// Checks a password, audits the attempt and, on success, starts a session. Shared by the API and
/// the console's login form.
pub async fn sign_in(
    state: &AppState,
    meta: &RequestMeta,
    name: &str,
    password: &str,
) -> Result<(Principal, yishu_meta::auth::SessionToken), ApiError> {
    match state.store.login(name, password).await {
        Ok((p, token)) => {
            state
                .store
                .audit(&meta.entry(
                    Some(&p),
                    "auth.login",
                    format!("user:{}", p.user_id),
                    "ok",
                    "{}".into(),
                ))
                .await?;
            Ok((p, token))
        }
        Err(e) => {
            let mut entry = meta.entry(
                None,
                "auth.login_failed",
                format!("user:{}", name.chars().take(64).collect::<String>()),
                "denied",
                format!("{{\"code\":\"{}\"}}", e.code),
            );
            entry.actor_name = name.chars().take(64).collect();
            state.store.audit(&entry).await?;
            Err(e.into())
        }
    }
}

/// The `Set-Cookie` value for a session (or for clearing it with an empty token).
pub fn session_cookie(state: &AppState, token: &str) -> String {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let max_age = if token.is_empty() {
        0
    } else {
        yishu_meta::auth::SESSION_MS / 1000
    };
    format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    )
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

/// Deletes the session named by the request's cookie and audits the logout.
pub async fn end_session(
    state: &AppState,
    meta: &RequestMeta,
    who: &Principal,
    headers: &axum::http::HeaderMap,
) -> ApiResult<()> {
    if let Some(token) = crate::auth::cookie(headers, SESSION_COOKIE) {
        state.store.logout(token).await?;
    }
    state
        .store
        .audit(&meta.entry(
            Some(who),
            "auth.logout",
            format!("user:{}", who.user_id),
            "ok",
            "{}".into(),
        ))
        .await?;
    Ok(())
}
