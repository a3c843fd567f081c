//! Subscriptions (订阅) for the API, the pages and the scheduler: a consumer department keeps
//! its own; the bureau sees every one. Each delivery is a read through the one gate on the
//! subscription's grant — refused when the grant is no longer active — audited like a download
//! (an opening record before the first row leaves, a closing one with the rows), and recorded
//! on the subscription with how far behind its destination is.

use crate::AppState;
use crate::app::audit::audited;
use crate::app::share::is_bureau;
use crate::auth::{Auth, Right};
use crate::error::{ApiError, ApiResult};
use serde_json::json;
use yishu_meta::subscription::{DeliveryRecord, Subscription, SubscriptionDraft};
use yishu_meta::{Principal, now_ms};
use yishu_share::audit::{self, Channel};
use yishu_share::subscribe::{self, Delivered, Destination, Feed};
use yishu_share::target::{Target, resolve};
use yishu_share::{ReadRequest, gate, masker_for, read};
use yishu_types::{Error, ErrorCode, Role};

/// How long a node holds a subscription it is delivering; renewed while it works.
const LEASE_MS: i64 = 60_000;

fn object(id: i64) -> String {
    format!("subscription:{id}")
}

fn hidden(id: i64) -> ApiError {
    ApiError::new(
        ErrorCode::SubscriptionNotFound,
        format!("no subscription with id {id}"),
    )
}

/// The subscriptions `who` sees: the bureau's operators every one, others their department's.
pub async fn visible(s: &AppState, who: &Principal) -> ApiResult<Vec<Subscription>> {
    let org = (!is_bureau(who)).then_some(who.org_id);
    Ok(s.store.subscriptions(org).await?)
}

/// Subscription `id` when `who` sees it.
pub async fn seen(s: &AppState, who: &Principal, id: i64) -> ApiResult<Subscription> {
    let sub = s.store.subscription(id).await.map_err(|_| hidden(id))?;
    if sub.org_id == who.org_id || is_bureau(who) {
        Ok(sub)
    } else {
        Err(hidden(id))
    }
}

/// Subscription `id` when `who` may pause, resume or deliver it: its department, or the
/// bureau's data managers and administrators.
pub async fn switchable(s: &AppState, who: &Principal, id: i64) -> ApiResult<Subscription> {
    let sub = seen(s, who, id).await?;
    if sub.org_id == who.org_id || who.has(Role::DataManager) || who.has(Role::Admin) {
        Ok(sub)
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("subscription {id} belongs to another department"),
        ))
    }
}

/// The destination a subscription delivers to, as stored.
pub fn destination(sub: &Subscription) -> Result<Destination, Error> {
    serde_json::from_str(&sub.destination).map_err(|e| {
        Error::new(
            ErrorCode::Internal,
            format!("subscription {} has an unreadable destination: {e}", sub.id),
        )
    })
}

/// Checks a new subscription: the grant is the department's own, active, and of data (a
/// service is called, not subscribed to); the destination is well-formed and, for a database,
/// on the outbound allow-list; a drop directory needs the installation's drop root.
async fn check(s: &AppState, who: &Principal, d: &SubscriptionDraft) -> Result<(), Error> {
    let g = s.store.grant(d.grant_id).await.map_err(|_| {
        Error::field(
            "grant_id",
            format!("no grant {} for your department", d.grant_id),
        )
    })?;
    if g.consumer_org_id != who.org_id {
        return Err(Error::field(
            "grant_id",
            format!("no grant {} for your department", d.grant_id),
        ));
    }
    if g.status != "active" || g.expires_at <= now_ms() {
        return Err(Error::new(
            ErrorCode::GrantInactive,
            format!(
                "grant {} is {}; only an active grant is subscribed to",
                g.id, g.status
            ),
        ));
    }
    match Target::parse(&g.target)? {
        Target::Resource(_) | Target::Base(_) => {}
        _ => {
            return Err(Error::field(
                "grant_id",
                format!(
                    "grant {} is for a service, which is called rather than subscribed to",
                    g.id
                ),
            ));
        }
    }
    let dest: Destination = serde_json::from_value(d.destination.clone())
        .map_err(|e| Error::field("destination", format!("{e}")))?;
    dest.check()?;
    dest.under(s.config.drop_root.as_deref())?;
    if let Destination::Database { url, .. } = &dest {
        s.config.outbound.database(url).await?;
    }
    Ok(())
}

/// Records a subscription of the caller's department (audited, refusals too).
pub async fn create<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    d: &SubscriptionDraft,
) -> ApiResult<Subscription> {
    let who = auth.who();
    let done = async {
        check(s, who, d).await?;
        Ok(s.store
            .create_subscription(who.org_id, who.user_id, d)
            .await?)
    }
    .await;
    let obj = done
        .as_ref()
        .map(|x: &Subscription| object(x.id))
        .unwrap_or_else(|_| "subscription:-".into());
    let label = serde_json::from_value::<Destination>(d.destination.clone())
        .map(|x| x.label())
        .unwrap_or_default();
    let detail = json!({"name": d.name, "grant": d.grant_id, "destination": label, "every_minutes": d.every_minutes});
    audited(s, auth, "subscription.create", obj, detail, done).await
}

/// Pauses or resumes a subscription (audited).
pub async fn switch<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: i64,
    paused: bool,
    reason: &str,
) -> ApiResult<Subscription> {
    let done = async {
        switchable(s, auth.who(), id).await?;
        Ok(s.store.set_subscription_status(id, !paused, reason).await?)
    }
    .await;
    let action = if paused {
        "subscription.pause"
    } else {
        "subscription.resume"
    };
    audited(s, auth, action, object(id), json!({"reason": reason}), done).await
}

/// Delivers a subscription now, on its caller's word (audited as the delivery's reads are).
pub async fn deliver_now(s: &AppState, who: &Principal, id: i64) -> ApiResult<Delivered> {
    let sub = switchable(s, who, id).await?;
    Ok(deliver(s, &sub, true).await?)
}

/// Delivers what is new for `sub` and records the outcome on it (an error too: it is retried
/// on the next schedule, nothing having been written). Unless `force`d, a subscription whose
/// last delivery reached the source's newest version is not opened at all.
pub async fn deliver(s: &AppState, sub: &Subscription, force: bool) -> Result<Delivered, Error> {
    let ch = Channel {
        kind: "subscription",
        source_ip: String::new(),
        request_id: format!("subscription:{}", sub.id),
    };
    let outcome = delivery(s, sub, &ch, force).await;
    let (record, result) = match outcome {
        Ok((d, lag)) => (
            DeliveryRecord {
                error: None,
                rows: d.rows as i64,
                delivered_version: d.version.map(|v| v as i64),
                source_version: lag.0.map(|v| v as i64),
                behind_since: lag.1,
            },
            Ok(d),
        ),
        Err(e) => (
            DeliveryRecord {
                error: Some(format!("{}: {}", e.code.as_str(), e.message)),
                ..DeliveryRecord::default()
            },
            Err(e),
        ),
    };
    s.store
        .record_subscription_delivery(sub.id, &record)
        .await?;
    result
}

type Lag = (Option<u64>, Option<i64>);

async fn delivery(
    s: &AppState,
    sub: &Subscription,
    ch: &Channel,
    force: bool,
) -> Result<(Delivered, Lag), Error> {
    let who = s.store.acting_for(sub.created_by).await?;
    let target_text = format!("grant:{}", sub.grant_id);
    let planned = async {
        let g = s.store.grant(sub.grant_id).await?;
        let now = now_ms();
        if g.status != "active" || g.expires_at <= now {
            return Err(Error::new(
                ErrorCode::GrantInactive,
                format!("grant {} is {}: {}", g.id, g.status, g.status_reason),
            ));
        }
        let target = Target::parse(&g.target)?;
        let r = resolve(&s.store, &s.lake, target.clone()).await?;
        let plan = gate::plan(
            &who,
            Some(&g),
            &r.source,
            &ReadRequest::default(),
            now,
            masker_for(&s.store, who.org_id),
        )?;
        let table = match &r.resource {
            Some(res) => res.table(),
            None => read::table_of(&s.store, &target).await?.1,
        };
        let types = r
            .resource
            .iter()
            .flat_map(|res| &res.meta.items)
            .map(|i| (i.name.clone(), i.item_type.clone()))
            .collect::<std::collections::BTreeMap<_, _>>();
        s.limiter
            .request(g.id, now, g.per_minute, g.rows_per_day)
            .map_err(|(e, _)| e)?;
        Ok((target, plan, table, types))
    }
    .await;
    let (target, plan, table, types) = match planned {
        Ok(p) => p,
        Err(e) => {
            audit::record(
                &s.store,
                &audit::entry(&who, &target_text, Err(&e), 0, &[], ch),
            )
            .await?;
            return Err(e);
        }
    };
    let delivered_version = sub.delivered_version.map(|v| v as u64);
    if !force && sub.last_error.is_empty() && delivered_version.is_some() {
        let lag = subscribe::lag(&s.lake, &target, &table, delivered_version).await?;
        if lag.0 == delivered_version {
            let d = Delivered {
                version: delivered_version,
                ..Delivered::default()
            };
            return Ok((d, lag));
        }
    }
    let dest = destination(sub)?;
    // The allow-list as it is now, not as it was when the subscription was made.
    if let Destination::Database { url, .. } = &dest {
        s.config.outbound.database(url).await?;
    }
    let dest = dest.under(s.config.drop_root.as_deref())?;
    let opening = audit::entry(&who, &target.as_string(), Ok(&plan), 0, &[], ch);
    audit::record(&s.store, &opening).await?;
    let feed = Feed {
        lake: &s.lake,
        target: &target,
        table: &table,
        plan: &plan,
        types: &types,
    };
    let delivered = {
        let lease = hold(s, sub.id);
        let d = subscribe::deliver(&feed, &dest, &sub.uid).await;
        lease.abort();
        d
    };
    let mut closing = opening.clone();
    closing.action = "share.read.end".into();
    if let Ok(mut d) = serde_json::from_str::<serde_json::Value>(&closing.detail) {
        match &delivered {
            Ok(x) => {
                d["rows"] = x.rows.into();
                d["deleted"] = x.deleted.into();
            }
            Err(e) => {
                d["error"] = e.code.as_str().into();
                d["message"] = e.message.clone().into();
            }
        }
        closing.detail = d.to_string();
    }
    if delivered.is_err() {
        closing.outcome = "failed".into();
    }
    audit::record(&s.store, &closing).await?;
    let d = delivered?;
    if let Some(id) = plan.basis.grant_id() {
        s.limiter.rows(id, d.rows as i64);
    }
    let lag = subscribe::lag(&s.lake, &target, &table, d.version).await?;
    Ok((d, lag))
}

/// Renews this node's claim on subscription `id` while a delivery runs.
fn hold(s: &AppState, id: i64) -> tokio::task::JoinHandle<()> {
    let store = s.store.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis((LEASE_MS / 3) as u64)).await;
            let _ = store
                .extend_subscription_claim(id, now_ms() + LEASE_MS)
                .await;
        }
    })
}

/// Delivers the subscriptions that are due (a few a tick; each claimed by one node).
pub async fn run_due(s: &AppState) -> Result<usize, Error> {
    let due = s
        .store
        .claim_due_subscriptions(now_ms(), LEASE_MS, 4)
        .await?;
    let n = due.len();
    for sub in due {
        if let Err(e) = deliver(s, &sub, false).await {
            tracing::warn!("subscription {} ({}): {}", sub.id, sub.name, e);
        }
    }
    Ok(n)
}
