//! The duty-list pages (权责清单, R6): every business matter by department, and one matter with the
//! resources and items it produces.

use super::{Chrome, PageAuth, render};
use crate::AppState;
use crate::app::matters::MatterPage;
use crate::auth::SignedIn;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use yishu_meta::matter::Matter;

#[derive(Template)]
#[template(path = "matters.html")]
struct MattersPage {
    c: Chrome,
    matters: Vec<Matter>,
    orgs: HashMap<i64, String>,
}

impl MattersPage {
    fn org(&self, m: &Matter) -> String {
        self.orgs.get(&m.org_id.0).cloned().unwrap_or_default()
    }
}

async fn org_names(s: &AppState) -> HashMap<i64, String> {
    s.store
        .list_orgs()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|o| (o.id.0, o.name))
        .collect()
}

pub async fn list(State(s): State<AppState>, mut page: PageAuth<SignedIn>) -> Response {
    page.chrome.active = "catalog";
    let matters = match s.store.list_matters().await {
        Ok(m) => m,
        Err(e) => {
            let status = super::failed(&mut page.chrome, &e);
            return (status, render(&super::Message { c: page.chrome })).into_response();
        }
    };
    render(&MattersPage {
        c: page.chrome,
        matters,
        orgs: org_names(&s).await,
    })
}

#[derive(Template)]
#[template(path = "matter.html")]
struct OneMatter {
    c: Chrome,
    m: MatterPage,
    org: String,
}

pub async fn detail(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
) -> Response {
    page.chrome.active = "catalog";
    match crate::app::matters::page(&s, page.auth.who(), id).await {
        Ok(m) => {
            let org = org_names(&s)
                .await
                .remove(&m.matter.org_id.0)
                .unwrap_or_default();
            render(&OneMatter {
                c: page.chrome,
                m,
                org,
            })
        }
        Err(e) => {
            let _ = super::failed(&mut page.chrome, &e.0);
            (
                StatusCode::NOT_FOUND,
                render(&super::Message { c: page.chrome }),
            )
                .into_response()
        }
    }
}
