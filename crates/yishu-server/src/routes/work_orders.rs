//! `/api/v1/work-orders`: problems found by checks and fusion, sent to the department that must
//! fix them, with deadlines and a history.

use crate::AppState;
use crate::app::access::may_see_orders;
use crate::app::audit::{actor, audit};
use crate::auth::{Auth, Quality, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::json;
use yishu_meta::workorder::{OrderEvent, OrderStatus, WorkOrder};
use yishu_types::{ErrorCode, OrgId, Role};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OrderQuery {
    /// Only this department's orders (default: the caller's department; the bureau sees all).
    pub org: Option<i64>,
    /// Only orders not closed.
    pub open: Option<bool>,
}

/// Work orders of a department.
#[utoipa::path(get, path = "/api/v1/work-orders", tag = "quality", params(OrderQuery), responses((status = 200, body = [WorkOrder])))]
pub async fn work_orders(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Query(q): Query<OrderQuery>,
) -> ApiResult<Json<Vec<WorkOrder>>> {
    let p = auth.who();
    let bureau = p.has(Role::DataManager) || p.has(Role::Admin);
    let org = match q.org {
        Some(o) => Some(OrgId(o)),
        None if bureau => None,
        None => Some(p.org_id),
    };
    if let Some(o) = org
        && !may_see_orders(p, o)
    {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "a department sees its own work orders",
        ));
    }
    Ok(Json(
        s.store.work_orders(org, q.open.unwrap_or(false)).await?,
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderPage {
    pub order: WorkOrder,
    pub events: Vec<OrderEvent>,
}

/// One work order with its history.
#[utoipa::path(get, path = "/api/v1/work-orders/{id}", tag = "quality", responses((status = 200, body = OrderPage)))]
pub async fn work_order(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<OrderPage>> {
    let order = s.store.work_order(id).await?;
    if !may_see_orders(auth.who(), order.org_id) {
        return Err(ApiError::new(
            ErrorCode::QualityNotFound,
            format!("no work order {id}"),
        ));
    }
    let events = s.store.order_events(id).await?;
    Ok(Json(OrderPage { order, events }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    /// acknowledged or fixed.
    pub status: OrderStatus,
    #[serde(default)]
    pub note: String,
}

/// The department acknowledges an order or reports it fixed (the next batch verifies).
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/status", tag = "quality", request_body = Advance, responses((status = 200, body = WorkOrder)))]
pub async fn advance(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path(id): Path<i64>,
    ValidJson(a): ValidJson<Advance>,
) -> ApiResult<Json<WorkOrder>> {
    let o = s
        .store
        .advance_order(id, a.status, &a.note, &actor(auth.who()))
        .await?;
    audit(
        &s,
        &auth,
        "workorder.advance",
        format!("work_order:{id}"),
        json!({"status": a.status, "note": a.note}),
    )
    .await?;
    Ok(Json(o))
}
