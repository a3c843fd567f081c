//! The organisation tree page: browse (everyone), create/rename/move/disable (admin).

use super::{Chrome, PageAuth, render};
use crate::AppState;
use crate::app::orgs::OrgChange;
use crate::app::orgs::create_org;
use crate::app::orgs::update_org;
use crate::auth::{Auth, ManageOrgs, SignedIn};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yishu_meta::org::{TreeRow, tree};
use yishu_meta::{NewOrg, Org, OrgKind, OrgLevel};
use yishu_types::OrgId;

#[derive(Template)]
#[template(path = "orgs.html")]
struct OrgsPage {
    c: Chrome,
    rows: Vec<TreeRow>,
    can_edit: bool,
}

impl OrgsPage {
    fn is_parent(&self, p: &TreeRow, r: &TreeRow) -> bool {
        r.org.parent_id == Some(p.org.id)
    }
    fn kind_label(&self, o: &Org) -> &'static str {
        match o.kind {
            OrgKind::Level => self.c.t.t("orgs.kind.level"),
            OrgKind::Department => self.c.t.t("orgs.kind.department"),
        }
    }
    fn level_label(&self, o: &Org) -> &'static str {
        match o.level {
            Some(OrgLevel::Province) => self.c.t.t("orgs.level.province"),
            Some(OrgLevel::City) => self.c.t.t("orgs.level.city"),
            Some(OrgLevel::District) => self.c.t.t("orgs.level.district"),
            None => "",
        }
    }
}

async fn show(s: &AppState, mut chrome: Chrome, status: StatusCode) -> Response {
    chrome.active = "orgs";
    let can_edit = chrome.is("admin");
    let orgs = s.store.list_orgs().await.unwrap_or_default();
    (
        status,
        render(&OrgsPage {
            c: chrome,
            rows: tree(&orgs),
            can_edit,
        }),
    )
        .into_response()
}

pub async fn page(State(s): State<AppState>, page: PageAuth<SignedIn>) -> Response {
    show(&s, page.chrome, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    parent_id: String,
    #[serde(default)]
    credit_code: String,
    #[serde(default)]
    division_code: String,
}

fn parse_level(s: &str) -> Option<OrgLevel> {
    match s {
        "province" => Some(OrgLevel::Province),
        "city" => Some(OrgLevel::City),
        "district" => Some(OrgLevel::District),
        _ => None,
    }
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

pub async fn create(
    State(s): State<AppState>,
    mut page: PageAuth<ManageOrgs>,
    Form(f): Form<CreateForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return super::csrf_refused();
    }
    let kind = if f.kind == "level" {
        OrgKind::Level
    } else {
        OrgKind::Department
    };
    let new = NewOrg {
        code: f.code,
        name: f.name,
        kind: Some(kind),
        level: if kind == OrgKind::Level {
            parse_level(&f.level)
        } else {
            None
        },
        parent_id: f.parent_id.trim().parse().ok().map(OrgId),
        credit_code: opt(&f.credit_code),
        division_code: opt(&f.division_code),
    };
    match create_org(&s, &page.auth, &new).await {
        Ok(_) => Redirect::to("/console/orgs").into_response(),
        Err(e) => {
            let status = super::failed(&mut page.chrome, &e.0);
            show(&s, page.chrome, status).await
        }
    }
}

#[derive(Deserialize)]
pub struct UpdateForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    version: i64,
    #[serde(default)]
    op: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent_id: String,
}

pub async fn update(
    State(s): State<AppState>,
    mut page: PageAuth<ManageOrgs>,
    Path(id): Path<i64>,
    Form(f): Form<UpdateForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return super::csrf_refused();
    }
    let mut ch = OrgChange {
        version: f.version,
        name: None,
        parent_id: None,
        move_to_root: false,
        disabled: None,
    };
    match f.op.as_str() {
        "rename" => ch.name = Some(f.name),
        "move" => match f.parent_id.trim().parse() {
            Ok(p) => ch.parent_id = Some(p),
            Err(_) => ch.move_to_root = true,
        },
        "disable" => ch.disabled = Some(true),
        _ => ch.disabled = Some(false),
    }
    let auth: &Auth<ManageOrgs> = &page.auth;
    match update_org(&s, auth, OrgId(id), &ch).await {
        Ok(_) => Redirect::to("/console/orgs").into_response(),
        Err(e) => {
            let status = super::failed(&mut page.chrome, &e.0);
            show(&s, page.chrome, status).await
        }
    }
}
