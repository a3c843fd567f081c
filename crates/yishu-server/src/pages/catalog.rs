//! The catalog pages: browse entries by status, and one entry with its metadata, items and
//! versions (with what changed).

use super::{Chrome, PageAuth, fmt_time, render};
use crate::AppState;
use crate::auth::SignedIn;
use crate::i18n::Lang;
use crate::routes::resources::VersionEntry;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use yishu_meta::catalog::{ITEM_TYPES, Resource, ResourceStatus, diff};
use yishu_meta::{Org, Principal};
use yishu_types::Role;

fn may_see_drafts(p: &Principal, r: &Resource) -> bool {
    p.org_id == r.meta.provider_org_id || p.has(Role::DataManager) || p.has(Role::Admin)
}

/// A label in the page language: Chinese from the enum, English as the stored word.
fn label(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    c: Chrome,
    rows: Vec<Resource>,
    orgs: Vec<Org>,
    total: i64,
    status: String,
    statuses: Vec<(&'static str, &'static str)>,
}

impl CatalogPage {
    fn org(&self, r: &Resource) -> String {
        self.orgs
            .iter()
            .find(|o| o.id == r.meta.provider_org_id)
            .map(|o| o.name.clone())
            .unwrap_or_default()
    }
    fn status(&self, r: &Resource) -> &'static str {
        label(self.c.t.lang, r.status.label_zh(), r.status.as_str())
    }
    fn share(&self, r: &Resource) -> &'static str {
        label(
            self.c.t.lang,
            r.meta.share_type.label_zh(),
            r.meta.share_type.as_str(),
        )
    }
    fn open(&self, r: &Resource) -> &'static str {
        label(
            self.c.t.lang,
            r.meta.open_type.label_zh(),
            r.meta.open_type.as_str(),
        )
    }
    fn cycle(&self, r: &Resource) -> &'static str {
        label(
            self.c.t.lang,
            r.meta.update_cycle.label_zh(),
            r.meta.update_cycle.as_str(),
        )
    }
}

#[derive(Deserialize)]
pub struct CatalogQuery {
    status: Option<String>,
}

pub async fn list(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Query(q): Query<CatalogQuery>,
) -> Response {
    page.chrome.active = "catalog";
    let status = q.status.as_deref().and_then(ResourceStatus::parse);
    let who = page.auth.who().clone();
    let all = s.store.list_resources(status, None, 500, 0).await;
    let (mut rows, mut total) = match all {
        Ok(p) => (p.items, p.total),
        Err(e) => {
            page.chrome.error = Some(e.message);
            (Vec::new(), 0)
        }
    };
    let before = rows.len();
    rows.retain(|r| {
        matches!(
            r.status,
            ResourceStatus::Published | ResourceStatus::Retired
        ) || may_see_drafts(&who, r)
    });
    total -= (before - rows.len()) as i64;
    let orgs = s.store.list_orgs().await.unwrap_or_default();
    let lang = page.chrome.t.lang;
    let statuses = ResourceStatus::ALL
        .iter()
        .map(|st| (st.as_str(), label(lang, st.label_zh(), st.as_str())))
        .collect();
    render(&CatalogPage {
        c: page.chrome,
        rows,
        orgs,
        total,
        status: q.status.unwrap_or_default(),
        statuses,
    })
}

#[derive(Template)]
#[template(path = "resource.html")]
struct ResourcePage {
    c: Chrome,
    r: Resource,
    provider: String,
    versions: Vec<VersionEntry>,
    batches: Vec<yishu_meta::batch::Batch>,
}

impl ResourcePage {
    fn item_type(&self, t: &str) -> String {
        let name = ITEM_TYPES
            .iter()
            .find(|(c, _)| *c == t)
            .map(|(_, n)| *n)
            .unwrap_or("");
        format!("{t} {name}")
    }
    fn time(&self, ms: &i64) -> String {
        fmt_time(*ms)
    }
    fn status(&self) -> &'static str {
        label(
            self.c.t.lang,
            self.r.status.label_zh(),
            self.r.status.as_str(),
        )
    }
    fn version_status(&self, v: &VersionEntry) -> String {
        match ResourceStatus::parse(&v.status) {
            Some(st) => label(self.c.t.lang, st.label_zh(), st.as_str()).to_string(),
            None => v.status.clone(),
        }
    }
    fn share(&self) -> &'static str {
        label(
            self.c.t.lang,
            self.r.meta.share_type.label_zh(),
            self.r.meta.share_type.as_str(),
        )
    }
    fn open(&self) -> &'static str {
        label(
            self.c.t.lang,
            self.r.meta.open_type.label_zh(),
            self.r.meta.open_type.as_str(),
        )
    }
    fn cycle(&self) -> &'static str {
        label(
            self.c.t.lang,
            self.r.meta.update_cycle.label_zh(),
            self.r.meta.update_cycle.as_str(),
        )
    }
    fn format(&self) -> &'static str {
        label(
            self.c.t.lang,
            self.r.meta.format.label_zh(),
            self.r.meta.format.as_str(),
        )
    }
    fn class(&self) -> &'static str {
        label(
            self.c.t.lang,
            self.r.meta.class_kind.label_zh(),
            self.r.meta.class_kind.as_str(),
        )
    }
    fn keywords(&self) -> String {
        self.r.meta.extended.keywords.join("、")
    }
    fn show(&self, v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::Null => "—".into(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

pub async fn detail(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
) -> Response {
    page.chrome.active = "catalog";
    let r = match s.store.get_resource(id).await {
        Ok(r)
            if matches!(
                r.status,
                ResourceStatus::Published | ResourceStatus::Retired
            ) || may_see_drafts(page.auth.who(), &r) =>
        {
            r
        }
        _ => {
            page.chrome.error = Some(format!(
                "{}: resource {id}",
                page.chrome.t.t("common.error")
            ));
            return (
                StatusCode::NOT_FOUND,
                render(&super::Message { c: page.chrome }),
            )
                .into_response();
        }
    };
    let provider = s
        .store
        .get_org(r.meta.provider_org_id)
        .await
        .map(|o| o.name)
        .unwrap_or_default();
    let snaps = s.store.resource_versions(id).await.unwrap_or_default();
    let versions = snaps
        .iter()
        .enumerate()
        .map(|(i, (v, at, snap))| VersionEntry {
            version: *v,
            changed_at: *at,
            status: snap
                .get("status")
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string(),
            changes: if i == 0 {
                Vec::new()
            } else {
                diff(&snaps[i - 1].2, snap)
            },
        })
        .collect();
    let batches = s.store.list_batches(id).await.unwrap_or_default();
    render(&ResourcePage {
        c: page.chrome,
        r,
        provider,
        versions,
        batches,
    })
}
