//! Opening decisions for the API and pages (开放决定, R33): the share crate decides, this
//! records who did it in the audit; and conditional opening's per-user access — a registered
//! reader applies with a purpose, the providing department decides, access expires.

use crate::AppState;
use crate::auth::RequestMeta;
use crate::error::{ApiError, ApiResult};
use serde_json::json;
use yishu_meta::catalog::OpenType;
use yishu_meta::open::{OpenAccess, Opening, OpeningStatus};
use yishu_meta::{Principal, now_ms};
use yishu_share::opening::decidable;
pub use yishu_share::opening::{EndDraft, OpeningDraft};
use yishu_types::{ErrorCode, Role};

/// Opens `id` (or updates an open one's terms) as `d` says, audited.
pub async fn open(
    s: &AppState,
    who: &Principal,
    meta: &RequestMeta,
    id: i64,
    d: &OpeningDraft,
) -> ApiResult<Opening> {
    let (opening, grant) = yishu_share::opening::open(&s.store, who, id, d).await?;
    s.open_catalog.invalidate();
    let detail = json!({"grant": grant.id, "items": grant.items, "row_filter": grant.row_filter, "masks": grant.masks});
    s.store
        .audit(&meta.entry(
            Some(who),
            "open.decide",
            format!("resource:{id}"),
            "ok",
            detail.to_string(),
        ))
        .await?;
    Ok(opening)
}

/// Withdraws or destroys `id`'s opening: its grant to the public is revoked at once, so no
/// open read passes the gate after this returns; the record stays, with the reason.
pub async fn end(
    s: &AppState,
    who: &Principal,
    meta: &RequestMeta,
    id: i64,
    to: OpeningStatus,
    reason: &str,
) -> ApiResult<Opening> {
    let o = yishu_share::opening::end(&s.store, who, id, to, reason).await?;
    s.open_catalog.invalidate();
    let detail = json!({"grant": o.grant_id, "reason": reason});
    s.store
        .audit(&meta.entry(
            Some(who),
            &format!("open.{}", to.as_str()),
            format!("resource:{id}"),
            "ok",
            detail.to_string(),
        ))
        .await?;
    Ok(o)
}

/// A registered reader's application for a conditionally open dataset.
pub async fn apply(
    s: &AppState,
    who: &Principal,
    meta: &RequestMeta,
    id: i64,
    purpose: &str,
) -> ApiResult<OpenAccess> {
    let r = s.store.get_resource(id).await?;
    let open = s
        .store
        .opening(id)
        .await?
        .is_some_and(|o| o.status == OpeningStatus::Open);
    if !open || r.meta.open_type != OpenType::Conditional {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!(
                "{} is not a conditionally open dataset; open ones need no application",
                r.code
            ),
        ));
    }
    let a = s.store.apply_open_access(id, who.user_id, purpose).await?;
    s.store
        .audit(&meta.entry(
            Some(who),
            "open.apply",
            format!("resource:{id}"),
            "ok",
            json!({"application": a.id}).to_string(),
        ))
        .await?;
    Ok(a)
}

/// The providing department decides an application: granted for `days` days, or refused.
pub async fn decide(
    s: &AppState,
    who: &Principal,
    meta: &RequestMeta,
    application: i64,
    granted: bool,
    reason: &str,
    days: i64,
) -> ApiResult<OpenAccess> {
    let a = s.store.open_access(application).await?;
    decidable(&s.store, who, a.resource_id).await?;
    let expires = now_ms() + days.clamp(1, 3660) * 86_400_000;
    let a = s
        .store
        .decide_open_access(application, granted, reason, expires, who.user_id)
        .await?;
    s.store
        .audit(&meta.entry(
            Some(who),
            "open.access",
            format!("resource:{}", a.resource_id),
            "ok",
            json!({"application": a.id, "granted": granted, "reason": reason, "expires_at": a.expires_at}).to_string(),
        ))
        .await?;
    Ok(a)
}

/// The applications `who` sees: their own; a department's officers also those for its data,
/// the bureau every one.
pub async fn visible_access(s: &AppState, who: &Principal) -> ApiResult<Vec<OpenAccess>> {
    if who.has(Role::DataManager) {
        return Ok(s.store.open_accesses(None, None).await?);
    }
    let mut out = s.store.open_accesses(Some(who.user_id), None).await?;
    if who.has(Role::ProviderOfficer) {
        // Each application's dataset looked up once: not every resource of the catalog.
        let mut provider: std::collections::HashMap<i64, bool> = Default::default();
        for a in s.store.open_accesses(None, None).await? {
            if a.user_id == who.user_id {
                continue;
            }
            let ours = match provider.get(&a.resource_id) {
                Some(o) => *o,
                None => {
                    let o = s
                        .store
                        .get_resource(a.resource_id)
                        .await
                        .is_ok_and(|r| r.meta.provider_org_id == who.org_id);
                    provider.insert(a.resource_id, o);
                    o
                }
            };
            if ours {
                out.push(a);
            }
        }
        out.sort_by_key(|a| std::cmp::Reverse(a.id));
    }
    Ok(out)
}
