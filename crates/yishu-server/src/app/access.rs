//! Who may see what: catalog entries, batches, work orders, personal details in review
//! evidence — and the one way raw rows of a resource (samples, rejected rows, violating values,
//! std rows) are read: through the share gate, on the provider's or the bureau's standing.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use serde_json::Value;
use yishu_meta::batch::Batch;
use yishu_meta::catalog::{Resource, ResourceStatus};
use yishu_meta::fusion::Review;
use yishu_meta::{Principal, now_ms};
use yishu_share::audit::Channel;
use yishu_share::{ReadPlan, ReadRequest, gate};
use yishu_types::{ErrorCode, OrgId, Role};

/// Unpublished entries are seen by their department, data managers and admins only.
pub(crate) fn visible(p: &Principal, r: &Resource) -> bool {
    matches!(
        r.status,
        ResourceStatus::Published | ResourceStatus::Retired
    ) || p.org_id == r.meta.provider_org_id
        || p.has(Role::DataManager)
        || p.has(Role::Admin)
}

/// Only an org's own people (or an admin) feed its resources and keep its duty list.
pub(crate) fn own_org(p: &Principal, org: OrgId, what: &str) -> ApiResult<()> {
    if p.org_id == org || p.has(Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("only the providing department {what}"),
        ))
    }
}

/// The entry `id` if `p` may see it; otherwise the same "not found" as for a missing one.
pub(crate) async fn readable(s: &AppState, p: &Principal, id: i64) -> ApiResult<Resource> {
    let r = s.store.get_resource(id).await?;
    if !visible(p, &r) {
        return Err(ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("no resource with id {id}"),
        ));
    }
    Ok(r)
}

/// A batch by id, and its resource, if `p` may see the resource.
pub(crate) async fn visible_batch(
    s: &AppState,
    p: &Principal,
    id: &str,
) -> ApiResult<(Batch, Resource)> {
    let not_found = || ApiError::new(ErrorCode::BatchNotFound, format!("no batch {id}"));
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(not_found());
    }
    let b = s.store.get_batch(id).await.map_err(|_| not_found())?;
    let r = crate::app::access::readable(s, p, b.resource_id)
        .await
        .map_err(|_| not_found())?;
    Ok((b, r))
}

/// Whether `p` reads raw rows of `r` (what a page offers; the read itself asks [`raw_plan`]):
/// the gate's own standing — the provider and the bureau's data managers.
pub(crate) fn may_read_raw(p: &Principal, r: &Resource) -> bool {
    yishu_share::gate::standing(p, r.meta.provider_org_id).is_some()
}

/// The plan for reading raw rows of `r` — rejected lines, violating values, std rows — which
/// hold personal data outside any item list: on the provider's or the bureau's standing only
/// (a grant covers items, not raw lines). A refusal is in the read audit; the caller records
/// the read with [`crate::app::share::read_done`].
pub(crate) async fn raw_plan(
    s: &AppState,
    who: &Principal,
    ch: &Channel,
    r: &Resource,
) -> ApiResult<ReadPlan> {
    if gate::standing(who, r.meta.provider_org_id).is_none() {
        let e = yishu_types::Error::new(
            ErrorCode::Forbidden,
            format!(
                "only the providing department and the bureau's data managers read raw rows of {}（{}）",
                r.meta.name, r.code
            ),
        );
        let target = yishu_share::target::Target::Resource(r.id).as_string();
        return Err(crate::app::share::refused(s, who, ch, &target, e).await);
    }
    // The items' security levels are read only for a caller the gate lets through.
    let source = yishu_share::target::source_of(&s.store, r).await;
    let req = ReadRequest {
        limit: gate::MAX_PAGE,
        ..Default::default()
    };
    let masker = yishu_share::masker_for(&s.store, who.org_id);
    gate::plan(who, None, &source, &req, now_ms(), masker).map_err(ApiError::from)
}

pub fn clear_for(who: &Principal) -> bool {
    who.has(Role::DataManager)
}

/// Masks a review's evidence for a reader without the right.
pub fn masked_review(mut r: Review, clear: bool) -> Review {
    if clear {
        return r;
    }
    for side in ["record", "candidate"] {
        if let Some(o) = r.evidence[side].as_object_mut() {
            for (k, v) in o.iter_mut() {
                if let Some(t) = v.as_str() {
                    *v = Value::String(yishu_share::mask::masked(k, t));
                }
            }
        }
    }
    r.subject_key = yishu_share::mask::masked("subject_key", &r.subject_key);
    r
}

pub(crate) fn may_see_orders(p: &Principal, org: OrgId) -> bool {
    p.org_id == org || p.has(Role::DataManager) || p.has(Role::Admin)
}
