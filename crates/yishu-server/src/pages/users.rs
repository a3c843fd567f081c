//! Users and roles page: list (admin, data manager, auditor), create and change roles (admin).

use super::{Chrome, PageAuth, render, role_labels};
use crate::AppState;
use crate::app::users::create_user;
use crate::auth::{ManageUsers, ReadUsers};
use askama::Template;
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use yishu_meta::{NewUser, Org, User};
use yishu_types::{OrgId, Role, UserId};

pub struct UserRow {
    pub user: User,
    pub org_name: String,
    pub roles: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    c: Chrome,
    rows: Vec<UserRow>,
    orgs: Vec<Org>,
    all_roles: Vec<(String, String)>,
    can_edit: bool,
}

impl UsersPage {
    fn has_role(&self, u: &User, role: &str) -> bool {
        u.roles.iter().any(|r| r.as_str() == role)
    }
}

async fn show(s: &AppState, mut chrome: Chrome, status: StatusCode) -> Response {
    chrome.active = "users";
    let can_edit = chrome.is("admin");
    let orgs = s.store.list_orgs().await.unwrap_or_default();
    let users = s
        .store
        .list_users(None, 1000, 0)
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let rows = users
        .into_iter()
        .map(|u| UserRow {
            org_name: orgs
                .iter()
                .find(|o| o.id == u.org_id)
                .map(|o| o.name.clone())
                .unwrap_or_default(),
            roles: role_labels(chrome.t, &u.roles),
            user: u,
        })
        .collect();
    let all_roles = Role::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), role_labels(chrome.t, &[*r])))
        .collect();
    (
        status,
        render(&UsersPage {
            c: chrome,
            rows,
            orgs,
            all_roles,
            can_edit,
        }),
    )
        .into_response()
}

pub async fn page(State(s): State<AppState>, page: PageAuth<ReadUsers>) -> Response {
    show(&s, page.chrome, StatusCode::OK).await
}

/// Form fields, with `roles` repeated once per ticked box.
fn fields(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw).into_owned().collect()
}

fn field(f: &[(String, String)], name: &str) -> String {
    f.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn roles(f: &[(String, String)]) -> Vec<Role> {
    f.iter()
        .filter(|(k, _)| k == "roles")
        .filter_map(|(_, v)| v.parse().ok())
        .collect()
}

pub async fn create(
    State(s): State<AppState>,
    mut page: PageAuth<ManageUsers>,
    RawForm(raw): RawForm,
) -> Response {
    let f = fields(&raw);
    if !page.csrf_ok(&field(&f, "_csrf")) {
        return super::csrf_refused();
    }
    let display = field(&f, "display_name");
    let new = NewUser {
        name: field(&f, "name"),
        display_name: (!display.trim().is_empty()).then_some(display),
        org_id: OrgId(field(&f, "org_id").parse().unwrap_or(-1)),
        password: field(&f, "password"),
        roles: roles(&f),
    };
    match create_user(&s, &page.auth, &new).await {
        Ok(_) => Redirect::to("/console/users").into_response(),
        Err(e) => {
            let status = super::failed(&mut page.chrome, &e.0);
            show(&s, page.chrome, status).await
        }
    }
}

pub async fn update(
    State(s): State<AppState>,
    mut page: PageAuth<ManageUsers>,
    Path(id): Path<i64>,
    RawForm(raw): RawForm,
) -> Response {
    let f = fields(&raw);
    if !page.csrf_ok(&field(&f, "_csrf")) {
        return super::csrf_refused();
    }
    let id = UserId(id);
    let result = match field(&f, "op").as_str() {
        "disable" => s.store.set_user_disabled(id, true).await,
        "enable" => s.store.set_user_disabled(id, false).await,
        _ => s.store.set_user_roles(id, &roles(&f)).await,
    };
    let action = match field(&f, "op").as_str() {
        "disable" | "enable" => "user.disable",
        _ => "user.roles",
    };
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    let detail = json!({"op": field(&f, "op"), "roles": roles(&f)}).to_string();
    let entry = page.auth.meta.entry(
        Some(page.auth.who()),
        action,
        format!("user:{id}"),
        outcome,
        detail,
    );
    let audited = s.store.audit(&entry).await;
    s.key_cache.clear();
    match result.and(audited.map(|_| ())) {
        Ok(()) => Redirect::to("/console/users").into_response(),
        Err(e) => {
            let status = super::failed(&mut page.chrome, &e);
            show(&s, page.chrome, status).await
        }
    }
}
