//! Telling watchers of a catalog entry that it changed: in-app notices and webhooks, delivered
//! by the scheduler with back-off.

use crate::AppState;
use serde_json::json;
use yishu_ingest::outbound::Outbound;
use yishu_meta::Store;
use yishu_meta::catalog::{Resource, ResourceStatus};

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

/// Sends due webhook deliveries to addresses `out` allows (checked at each attempt, the
/// connection pinned to the addresses checked, no redirect followed); a refusal or a timeout is
/// retried later with back-off.
pub async fn deliver_webhooks(store: &Store, out: &Outbound) -> usize {
    let due = match store.due_deliveries(50).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("webhooks: {e}");
            return 0;
        }
    };
    let mut sent = 0;
    for d in due {
        let error = match out.http(&d.url, std::time::Duration::from_secs(10)).await {
            Err(e) => Some(e.message),
            Ok((client, url)) => {
                let res = client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("x-yishu-delivery", d.id.to_string())
                    .body(d.payload.clone())
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => None,
                    Ok(r) => Some(format!("the receiver answered {}", r.status())),
                    Err(e) => Some(format!("cannot reach the receiver: {e}")),
                }
            }
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
