//! "My API keys": create (secret shown once), list, revoke.

use super::{Chrome, PageAuth, render};
use crate::AppState;
use crate::app::users::CreateKey;
use crate::app::users::create_key;
use crate::app::users::revoke_key;
use crate::auth::SignedIn;
use crate::time::fmt_time;
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yishu_meta::ApiKey;
use yishu_types::ApiKeyId;

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage {
    c: Chrome,
    keys: Vec<ApiKey>,
    secret: Option<String>,
}

impl KeysPage {
    fn time(&self, ms: &i64) -> String {
        fmt_time(*ms)
    }
    fn expires(&self, k: &ApiKey) -> String {
        k.expires_at
            .map(fmt_time)
            .unwrap_or_else(|| self.c.t.t("keys.never").to_string())
    }
}

async fn show(
    s: &AppState,
    mut chrome: Chrome,
    secret: Option<String>,
    status: StatusCode,
) -> Response {
    chrome.active = "keys";
    let uid = chrome.user.as_ref().map(|u| u.user_id);
    let keys = match uid {
        Some(u) => s.store.list_api_keys(u).await.unwrap_or_default(),
        None => Vec::new(),
    };
    (
        status,
        render(&KeysPage {
            c: chrome,
            keys,
            secret,
        }),
    )
        .into_response()
}

pub async fn page(State(s): State<AppState>, page: PageAuth<SignedIn>) -> Response {
    show(&s, page.chrome, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    days: String,
}

pub async fn create(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Form(f): Form<CreateForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return super::csrf_refused();
    }
    let days = f.days.trim();
    let expires_in_days = if days.is_empty() {
        None
    } else {
        Some(days.parse().unwrap_or(-1))
    };
    match create_key(
        &s,
        &page.auth,
        &CreateKey {
            name: f.name,
            expires_in_days,
        },
    )
    .await
    {
        Ok(k) => show(&s, page.chrome, Some(k.secret), StatusCode::CREATED).await,
        Err(e) => {
            let status = super::failed(&mut page.chrome, &e.0);
            show(&s, page.chrome, None, status).await
        }
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

pub async fn revoke(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
    Form(f): Form<RevokeForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return super::csrf_refused();
    }
    match revoke_key(&s, &page.auth, ApiKeyId(id)).await {
        Ok(_) => Redirect::to("/console/keys").into_response(),
        Err(e) => {
            let status = super::failed(&mut page.chrome, &e.0);
            show(&s, page.chrome, None, status).await
        }
    }
}
