//! `/api/v1/subscriptions`: a consumer department's standing orders to have a grant's new rows
//! delivered into its own database table or drop directory (订阅), with their state and lag.
//! Creating, pausing and resuming are audited, refusals too; each delivery is a read in the
//! read audit.

use crate::AppState;
use crate::app::subscriptions::{self, seen, visible};
use crate::auth::{Auth, SignedIn, Subscribe};
use crate::error::ApiResult;
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use yishu_meta::subscription::{Subscription, SubscriptionDraft};
use yishu_share::subscribe::Delivered;

/// A subscription as the API shows it: its destination without a password, and its lag.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionView {
    #[serde(flatten)]
    pub subscription: Subscription,
    /// Where it delivers (a database address without its password).
    pub destination: String,
    /// How long the destination has lacked the source's newest change (ms); 0: up to date.
    pub lag_ms: i64,
}

impl SubscriptionView {
    pub fn of(sub: Subscription) -> SubscriptionView {
        let destination = subscriptions::destination(&sub)
            .map(|d| d.label())
            .unwrap_or_default();
        let lag_ms = sub
            .behind_since
            .map(|t| (yishu_meta::now_ms() - t).max(0))
            .unwrap_or(0);
        SubscriptionView {
            subscription: sub,
            destination,
            lag_ms,
        }
    }
}

/// The subscriptions the caller sees: their department's; every one for the bureau.
#[utoipa::path(get, path = "/api/v1/subscriptions", tag = "subscriptions",
    responses((status = 200, body = [SubscriptionView])))]
pub async fn list(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<SubscriptionView>>> {
    let subs = visible(&s, auth.who()).await?;
    Ok(Json(subs.into_iter().map(SubscriptionView::of).collect()))
}

/// Subscribes to one of the department's active grants of data; the first delivery is due at
/// once and fills the destination, later ones bring what changed.
#[utoipa::path(post, path = "/api/v1/subscriptions", tag = "subscriptions", request_body = SubscriptionDraft,
    responses((status = 201, body = SubscriptionView), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Auth<Subscribe>,
    ValidJson(d): ValidJson<SubscriptionDraft>,
) -> ApiResult<(StatusCode, Json<SubscriptionView>)> {
    let sub = subscriptions::create(&s, &auth, &d).await?;
    Ok((StatusCode::CREATED, Json(SubscriptionView::of(sub))))
}

/// One subscription, with its delivery state and lag.
#[utoipa::path(get, path = "/api/v1/subscriptions/{id}", tag = "subscriptions",
    params(("id" = i64, Path, description = "subscription id")),
    responses((status = 200, body = SubscriptionView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<SubscriptionView>> {
    Ok(Json(SubscriptionView::of(seen(&s, auth.who(), id).await?)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionSwitch {
    pub paused: bool,
    #[serde(default)]
    pub reason: String,
}

/// Pauses or resumes a subscription (a resumed one is due at once).
#[utoipa::path(post, path = "/api/v1/subscriptions/{id}/status", tag = "subscriptions", request_body = SubscriptionSwitch,
    params(("id" = i64, Path, description = "subscription id")),
    responses((status = 200, body = SubscriptionView), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn set_status(
    State(s): State<AppState>,
    auth: Auth<Subscribe>,
    Path(id): Path<i64>,
    ValidJson(w): ValidJson<SubscriptionSwitch>,
) -> ApiResult<Json<SubscriptionView>> {
    let sub = subscriptions::switch(&s, &auth, id, w.paused, &w.reason).await?;
    Ok(Json(SubscriptionView::of(sub)))
}

/// Delivers what is new now and says what was delivered. A failure (the destination down, its
/// table changed, the grant no longer active) writes nothing and is recorded on the
/// subscription.
#[utoipa::path(post, path = "/api/v1/subscriptions/{id}/deliveries", tag = "subscriptions",
    params(("id" = i64, Path, description = "subscription id")),
    responses((status = 200, body = Delivered), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 502, body = crate::error::ErrorBody)))]
pub async fn deliver(
    State(s): State<AppState>,
    auth: Auth<Subscribe>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Delivered>> {
    Ok(Json(subscriptions::deliver_now(&s, auth.who(), id).await?))
}
