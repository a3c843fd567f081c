//! `/api/v1/resources/{id}/watch` and `/api/v1/me/notifications`: consumers watch resources and
//! are told when they change or are retired; webhooks are delivered by [`deliver_webhooks`].

use crate::AppState;
use crate::auth::{Auth, SignedIn};
use crate::error::ApiResult;
use crate::json::ValidJson;
use crate::routes::resources::readable;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use yishu_meta::Store;
use yishu_meta::catalog::{Resource, ResourceStatus};
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

/// After a catalog change: watchers of a published entry hear of updates and retirement.
pub async fn changed(s: &AppState, action: &str, r: &Resource) {
    let (kind, message) = match (action, r.status) {
        ("resource.update", ResourceStatus::Published) => (
            "updated",
            format!(
                "资源“{}”（{}）已更新，当前版本 {}",
                r.meta.name, r.code, r.version
            ),
        ),
        ("resource.retire", _) => (
            "retired",
            format!(
                "资源“{}”（{}）已下线：{}",
                r.meta.name, r.code, r.review_note
            ),
        ),
        _ => return,
    };
    let payload = json!({"event": format!("resource.{kind}"), "resource_id": r.id, "code": r.code, "name": r.meta.name, "version": r.version, "message": message});
    if let Err(e) = s
        .store
        .notify_watchers(r.id, kind, &message, &payload)
        .await
    {
        tracing::warn!("notifying watchers of {}: {e}", r.code);
    }
}

/// Sends due webhook deliveries; a refusal or a timeout is retried later with back-off.
pub async fn deliver_webhooks(store: &Store, client: &reqwest::Client) -> usize {
    let due = match store.due_deliveries(50).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("webhooks: {e}");
            return 0;
        }
    };
    let mut sent = 0;
    for d in due {
        let res = client
            .post(&d.url)
            .header("content-type", "application/json")
            .header("x-yishu-delivery", d.id.to_string())
            .body(d.payload.clone())
            .send()
            .await;
        let error = match res {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("the receiver answered {}", r.status())),
            Err(e) => Some(format!("cannot reach the receiver: {e}")),
        };
        if error.is_none() {
            sent += 1;
        }
        if let Err(e) = store.record_delivery(&d, error.as_deref()).await {
            tracing::warn!("webhooks: {e}");
        }
    }
    sent
}
