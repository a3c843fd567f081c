//! `/api/v1/users`: accounts and roles.

use crate::AppState;
use crate::app::users::create_user;
use crate::auth::{Auth, ManageUsers, ReadUsers};
use crate::error::{ApiError, ApiResult};
use crate::json::{ValidJson, ValidQuery};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use yishu_meta::{NewUser, Page, User};
use yishu_types::{ErrorCode, OrgId, Role, UserId};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UserQuery {
    pub org_id: Option<i64>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Lists users (admin, data manager, auditor).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserQuery),
    responses((status = 200, body = Page<User>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    _auth: Auth<ReadUsers>,
    ValidQuery(q): ValidQuery<UserQuery>,
) -> ApiResult<Json<Page<User>>> {
    let p = crate::json::Paging {
        limit: q.limit,
        offset: q.offset,
    };
    Ok(Json(
        s.store
            .list_users(q.org_id.map(OrgId), p.limit(), p.offset())
            .await?,
    ))
}

/// Reads one user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    responses((status = 200, body = User), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    _auth: Auth<ReadUsers>,
    Path(id): Path<i64>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.store.get_user(UserId(id)).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub name: String,
    pub display_name: Option<String>,
    pub org_id: i64,
    /// At least 10 characters; stored only as an argon2id hash.
    pub password: String,
    #[serde(default)]
    pub roles: Vec<Role>,
}

/// Creates a user (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = User), (status = 400, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Auth<ManageUsers>,
    ValidJson(c): ValidJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let new = NewUser {
        name: c.name,
        display_name: c.display_name,
        org_id: OrgId(c.org_id),
        password: c.password,
        roles: c.roles,
    };
    Ok((
        StatusCode::CREATED,
        Json(create_user(&s, &auth, &new).await?),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    pub roles: Option<Vec<Role>>,
    pub disabled: Option<bool>,
    /// A new password (admin reset).
    pub password: Option<String>,
}

/// Changes roles, disables/enables or resets the password of a user (admin).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UserChange,
    responses((status = 200, body = User), (status = 404, body = crate::error::ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    auth: Auth<ManageUsers>,
    Path(id): Path<i64>,
    ValidJson(ch): ValidJson<UserChange>,
) -> ApiResult<Json<User>> {
    let id = UserId(id);
    if ch.roles.is_none() && ch.disabled.is_none() && ch.password.is_none() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "nothing to change: give roles, disabled or password",
        ));
    }
    if let Some(roles) = &ch.roles {
        let r = s.store.set_user_roles(id, roles).await;
        audit_step(
            &s,
            &auth,
            "user.roles",
            id,
            r.is_ok(),
            json!({"roles": roles}),
        )
        .await?;
        r?;
    }
    if let Some(d) = ch.disabled {
        let r = s.store.set_user_disabled(id, d).await;
        audit_step(
            &s,
            &auth,
            "user.disable",
            id,
            r.is_ok(),
            json!({"disabled": d}),
        )
        .await?;
        r?;
    }
    if let Some(p) = &ch.password {
        let r = s.store.set_password(id, p).await;
        audit_step(&s, &auth, "user.password_reset", id, r.is_ok(), json!({})).await?;
        r?;
    }
    s.key_cache.clear();
    Ok(Json(s.store.get_user(id).await?))
}

async fn audit_step(
    s: &AppState,
    auth: &Auth<ManageUsers>,
    action: &str,
    id: UserId,
    ok: bool,
    detail: serde_json::Value,
) -> ApiResult<()> {
    let outcome = if ok { "ok" } else { "failed" };
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            action,
            format!("user:{id}"),
            outcome,
            detail.to_string(),
        ))
        .await?;
    Ok(())
}
