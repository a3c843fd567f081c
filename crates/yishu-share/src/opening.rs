//! Opening decisions (开放决定, R33): a department opens one of its published resources whose
//! open attribute allows it, naming the items, the rows and the masks — a grant to the public
//! that every open read passes through the gate on, as any other grant does; then updates,
//! withdraws or destroys it. Kept here beside the gate so the server and the demo decide alike.

use crate::filter::Filter;
use crate::mask::Mask;
use crate::target::{Target, source_of};
use serde::Deserialize;
use std::collections::BTreeMap;
use yishu_meta::catalog::{OpenType, Resource, ResourceStatus};
use yishu_meta::open::{Opening, OpeningStatus};
use yishu_meta::share::{Grant, NewGrant};
use yishu_meta::{Principal, Store};
use yishu_types::{Error, ErrorCode, Role};

/// An opening grant never expires on its own; it ends when the opening is withdrawn.
const FOREVER: i64 = 253_402_300_799_000;

/// What a department opens of a resource.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningDraft {
    /// Items opened; empty for every item of the resource.
    #[serde(default)]
    pub items: Vec<String>,
    /// Rows opened, in the filter language; empty for every row.
    #[serde(default)]
    pub row_filter: String,
    /// Masks by item (`keep`, `partial`, `generalise`, `token`, `hash`); an item without one
    /// gets the default of its security level.
    #[serde(default)]
    pub masks: BTreeMap<String, String>,
}

/// How a withdrawal or destruction is asked for.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndDraft {
    pub reason: String,
}

/// Whether `who` decides the opening of `r`: the providing department's officers, and the
/// bureau's data managers.
pub fn may_decide(who: &Principal, r: &Resource) -> bool {
    who.has(Role::DataManager)
        || (who.has(Role::ProviderOfficer) && who.org_id == r.meta.provider_org_id)
}

/// The resource `id`, when `who` decides its opening.
pub async fn decidable(store: &Store, who: &Principal, id: i64) -> Result<Resource, Error> {
    let r = store.get_resource(id).await?;
    if !may_decide(who, &r) {
        return Err(Error::new(
            ErrorCode::Forbidden,
            format!(
                "only {}'s data officers or the bureau decide whether {}（{}）is opened",
                store
                    .get_org(r.meta.provider_org_id)
                    .await
                    .map(|o| o.name)
                    .unwrap_or_default(),
                r.meta.name,
                r.code
            ),
        ));
    }
    Ok(r)
}

/// Opens `id` (or updates an open one's terms) as `d` says; the previous opening grant, if any,
/// is revoked so only one set of terms is ever read.
/// Returns the opening and the grant it now rests on.
pub async fn open(
    store: &Store,
    who: &Principal,
    id: i64,
    d: &OpeningDraft,
) -> Result<(Opening, Grant), Error> {
    let r = decidable(store, who, id).await?;
    if r.status != ResourceStatus::Published {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "{}（{}）is not published; only published resources are opened",
                r.meta.name, r.code
            ),
        ));
    }
    if r.meta.open_type == OpenType::Never {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "{}（{}）is catalogued as 不予开放 (never open): {}; change its open attribute through the catalog's review first",
                r.meta.name, r.code, r.meta.open_condition
            ),
        ));
    }
    let source = source_of(store, &r).await;
    let items = if d.items.is_empty() {
        source.names()
    } else {
        for i in &d.items {
            if !source.has(i) {
                return Err(Error::field(
                    "items",
                    format!("'{i}' is not an item of {}", r.code),
                ));
            }
        }
        source
            .names()
            .into_iter()
            .filter(|i| d.items.contains(i))
            .collect()
    };
    let row_filter = if d.row_filter.trim().is_empty() {
        String::new()
    } else {
        Filter::parse(&d.row_filter)
            .and_then(|f| f.check(&source.kinds()))?
            .to_string()
    };
    for (item, m) in &d.masks {
        if !items.contains(item) {
            return Err(Error::field(
                "masks",
                format!("'{item}' is not an opened item"),
            ));
        }
        if Mask::parse(m).is_none() {
            return Err(Error::field(
                "masks",
                format!("'{m}' is not keep, partial, generalise, token or hash"),
            ));
        }
    }
    let before = store.opening(id).await?;
    let public = store.public_org().await?;
    let grant = store
        .create_grant(&NewGrant {
            application_id: None,
            consumer_org_id: public,
            provider_org_id: r.meta.provider_org_id,
            target: Target::Resource(id).as_string(),
            resource_id: Some(id),
            items,
            row_filter,
            masks: d.masks.clone(),
            // Open reads are limited per reader, not per grant.
            per_minute: i64::MAX / 4,
            rows_per_day: i64::MAX / 4,
            purpose: "数据开放".into(),
            expires_at: FOREVER,
            created_by: Some(who.user_id),
        })
        .await?;
    let opening = store.open_resource(id, grant.id, who.user_id).await;
    let opening = match opening {
        Ok(o) => o,
        Err(e) => {
            let _ = store
                .set_grant_status(grant.id, "revoked", "the opening was not recorded")
                .await;
            return Err(e);
        }
    };
    if let Some(old) = before.filter(|o| o.grant_id != grant.id) {
        let _ = store
            .set_grant_status(
                old.grant_id,
                "revoked",
                &format!("replaced by grant {}", grant.id),
            )
            .await;
    }
    Ok((opening, grant))
}

/// Withdraws or destroys `id`'s opening: its grant to the public is revoked at once, so no
/// open read passes the gate after this returns; the record stays, with the reason.
pub async fn end(
    store: &Store,
    who: &Principal,
    id: i64,
    to: OpeningStatus,
    reason: &str,
) -> Result<Opening, Error> {
    decidable(store, who, id).await?;
    let o = store.end_opening(id, to, reason, who.user_id).await?;
    // Already revoked when a withdrawn opening is destroyed: nothing more to do.
    let _ = store
        .set_grant_status(o.grant_id, "revoked", &format!("{}: {reason}", to.as_str()))
        .await;
    Ok(o)
}
