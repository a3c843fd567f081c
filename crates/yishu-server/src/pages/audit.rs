//! The audit log page for auditors: filters, paging and chain verification.

use super::{Chrome, PageAuth, render};
use crate::AppState;
use crate::app::audit::AuditQuery;
use crate::auth::ReadAudit;
use crate::time::fmt_time;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use yishu_meta::{AuditRecord, ChainReport};

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    records: Vec<AuditRecord>,
    total: i64,
    actor: String,
    action: String,
    outcome: String,
    offset: i64,
    limit: i64,
    verify: Option<ChainReport>,
}

impl AuditPage {
    fn time(&self, ms: &i64) -> String {
        fmt_time(*ms)
    }
    fn page_link(&self, offset: i64) -> String {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!(
            "/console/audit?actor={}&action={}&outcome={}&offset={}",
            enc(&self.actor),
            enc(&self.action),
            enc(&self.outcome),
            offset.max(0)
        )
    }
    fn has_next(&self) -> bool {
        self.offset + self.limit < self.total
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    actor: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    offset: Option<i64>,
    verify: Option<String>,
}

pub async fn page(
    State(s): State<AppState>,
    mut page: PageAuth<ReadAudit>,
    Query(q): Query<PageQuery>,
) -> Response {
    page.chrome.active = "audit";
    let limit = 50;
    let offset = q.offset.unwrap_or(0).max(0);
    let aq = AuditQuery {
        actor: q.actor.clone(),
        action: q.action.clone(),
        outcome: q.outcome.clone(),
        from: None,
        to: None,
        limit: Some(limit),
        offset: Some(offset),
    };
    let result = s.store.list_audit(&aq.filter(), limit, offset).await;
    let (records, total) = match result {
        Ok(p) => (p.items, p.total),
        Err(e) => {
            page.chrome.error = Some(e.message);
            (Vec::new(), 0)
        }
    };
    let verify = match q.verify {
        Some(_) => s.store.verify_audit().await.ok(),
        None => None,
    };
    render(&AuditPage {
        c: page.chrome,
        records,
        total,
        actor: q.actor.unwrap_or_default(),
        action: q.action.unwrap_or_default(),
        outcome: q.outcome.unwrap_or_default(),
        offset,
        limit,
        verify,
    })
}
