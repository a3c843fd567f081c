//! `/api/v1/resources/{id}/watch` and `/api/v1/me/notifications`: consumers watch resources and
//! are told when they change or are retired; webhooks are delivered by [`deliver_webhooks`].

use crate::AppState;
use crate::app::access::readable;
use crate::auth::{Auth, SignedIn};
use crate::error::ApiResult;
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use yishu_meta::watch::Notification;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchRequest {
    /// Where to POST a JSON notice when the resource changes (http or https).
    pub webhook_url: Option<String>,
}

/// Watches an entry: its changes and retirement reach the caller.
#[utoipa::path(post, path = "/api/v1/resources/{id}/watch", tag = "catalog", request_body = WatchRequest, responses((status = 204)))]
pub async fn watch(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
    ValidJson(w): ValidJson<WatchRequest>,
) -> ApiResult<StatusCode> {
    let r = readable(&s, auth.who(), id).await?;
    if let Some(url) = w.webhook_url.as_deref() {
        yishu_meta::watch::check_webhook(url)?;
        // Refused now, not at the first delivery, when the address is not allowed.
        s.config
            .outbound
            .http(url, std::time::Duration::from_secs(10))
            .await?;
    }
    s.store
        .watch(auth.who().user_id, id, w.webhook_url.as_deref())
        .await?;
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "resource.watch",
            format!("resource:{}", r.code),
            "ok",
            json!({"webhook": w.webhook_url.is_some()}).to_string(),
        ))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops watching an entry.
#[utoipa::path(delete, path = "/api/v1/resources/{id}/watch", tag = "catalog", responses((status = 204)))]
pub async fn unwatch(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.store.unwatch(auth.who().user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "auth", responses((status = 200, body = Vec<Notification>)))]
pub async fn notifications(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<Notification>>> {
    Ok(Json(s.store.notifications(auth.who().user_id, 100).await?))
}
