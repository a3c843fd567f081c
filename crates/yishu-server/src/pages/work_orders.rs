//! The work-order pages: the orders a department must answer (or the bureau oversees), one order
//! with its history and evidence, and advancing it.

use super::{Chrome, PageAuth, csrf_refused, render};
use crate::AppState;
use crate::auth::SignedIn;
use crate::error::ApiError;
use crate::pages::quality::failure;
use crate::time::fmt_time;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use yishu_meta::workorder::{OrderEvent, OrderStatus, WorkOrder};
use yishu_types::{ErrorCode, Role};

pub struct OrderRow {
    pub o: WorkOrder,
    pub status: String,
    pub due: String,
    pub opened: String,
}

#[derive(Template)]
#[template(path = "work_orders.html")]
struct Orders {
    c: Chrome,
    orders: Vec<OrderRow>,
}

pub async fn orders(State(s): State<AppState>, mut page: PageAuth<SignedIn>) -> Response {
    page.chrome.active = "quality";
    let p = page.auth.who();
    let org = if p.has(Role::DataManager) || p.has(Role::Admin) {
        None
    } else {
        Some(p.org_id)
    };
    match s.store.work_orders(org, false).await {
        Ok(list) => {
            let t = page.chrome.t;
            render(&Orders {
                orders: list.into_iter().map(|o| order_row(o, t)).collect(),
                c: page.chrome,
            })
        }
        Err(e) => failure(page.chrome, e.into()),
    }
}

#[derive(Template)]
#[template(path = "work_order.html")]
struct OneOrder {
    c: Chrome,
    row: OrderRow,
    evidence: String,
    samples: Vec<(String, String, String)>,
    events: Vec<(String, OrderEvent)>,
    may_act: bool,
    /// A fusion conflict (sources disagreeing), not a failing rule on a batch.
    fusion: bool,
}

async fn order_page(
    s: &AppState,
    mut c: Chrome,
    who: &yishu_meta::Principal,
    id: i64,
    status: StatusCode,
) -> Response {
    c.active = "quality";
    let o = match s.store.work_order(id).await {
        Ok(o) if o.org_id == who.org_id || who.has(Role::DataManager) || who.has(Role::Admin) => o,
        Ok(_) => {
            return failure(
                c,
                ApiError::new(ErrorCode::QualityNotFound, format!("no work order {id}")),
            );
        }
        Err(e) => return failure(c, e.into()),
    };
    let events = s.store.order_events(id).await.unwrap_or_default();
    let fusion = o.kind == "fusion";
    let samples = o.evidence["samples"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| {
                    let t = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                    if !fusion {
                        return (t("row"), t("value"), t("detail"));
                    }
                    // The authoritative value against each disagreeing one, with their rows.
                    let a = &v["authority"];
                    let text = |x: &serde_json::Value| {
                        format!(
                            "{} {}（{}）",
                            x["department"].as_str().unwrap_or_default(),
                            x["value"].as_str().unwrap_or_default(),
                            x["row"].as_str().unwrap_or_default()
                        )
                    };
                    let others: Vec<String> = v["others"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(text)
                        .collect();
                    (
                        format!("{} · {}", t("subject"), t("attribute")),
                        text(a),
                        others.join("；"),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let may_act =
        (o.org_id == who.org_id && who.has(Role::ProviderOfficer)) || who.has(Role::DataManager);
    let evidence = if fusion {
        format!(
            "{} {}",
            o.evidence["conflicts"],
            c.t.t("base.conflicting_subjects")
        )
    } else {
        format!(
            "{} {} / {} {}",
            o.evidence["failed"],
            c.t.t("quality.failed"),
            o.evidence["checked"],
            c.t.t("quality.checked")
        )
    };
    let t = c.t;
    (
        status,
        render(&OneOrder {
            row: order_row(o, t),
            evidence,
            samples,
            events: events.into_iter().map(|e| (fmt_time(e.at), e)).collect(),
            may_act,
            fusion,
            c,
        }),
    )
        .into_response()
}

pub async fn order(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
) -> Response {
    let who = page.auth.who().clone();
    order_page(&s, page.chrome, &who, id, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct AdvanceForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    status: OrderStatus,
    #[serde(default)]
    note: String,
}

pub async fn advance(
    State(s): State<AppState>,
    mut page: PageAuth<crate::auth::Quality>,
    Path(id): Path<i64>,
    Form(f): Form<AdvanceForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let status = match s
        .store
        .advance_order(
            id,
            f.status,
            &f.note,
            &crate::app::audit::actor(page.auth.who()),
        )
        .await
    {
        Ok(_) => {
            let _ = crate::app::audit::audit(
                &s,
                &page.auth,
                "workorder.advance",
                format!("work_order:{id}"),
                serde_json::json!({}),
            )
            .await;
            page.chrome.flash = Some(page.chrome.t.t("quality.order_updated").to_string());
            StatusCode::OK
        }
        Err(e) => super::failed(&mut page.chrome, &e),
    };
    let who = page.auth.who().clone();
    order_page(&s, page.chrome, &who, id, status).await
}

pub(super) fn order_row(o: WorkOrder, t: crate::i18n::Tr) -> OrderRow {
    OrderRow {
        status: match t.lang {
            crate::i18n::Lang::Zh => o.status.label_zh().to_string(),
            crate::i18n::Lang::En => o.status.as_str().to_string(),
        },
        due: fmt_time(o.due_at),
        opened: fmt_time(o.opened_at),
        o,
    }
}
