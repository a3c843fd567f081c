//! Signing in and out: the session the console's cookie and the API's login share.

use crate::AppState;
use crate::auth::{RequestMeta, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult};
use yishu_meta::Principal;

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
