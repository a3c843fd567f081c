//! Login, logout and the overview page.

use super::{Chrome, PageAuth, lang, render};
use crate::AppState;
use crate::app::session::end_session;
use crate::app::session::session_cookie;
use crate::app::session::sign_in;
use crate::auth::{RequestMeta, SignedIn};
use crate::i18n::Tr;
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use yishu_meta::AuditFilter;

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    t: Tr,
    error: Option<String>,
    name: String,
}

pub async fn login_page(headers: HeaderMap) -> Response {
    render(&Login {
        t: lang(&headers),
        error: None,
        name: String::new(),
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

pub async fn login_submit(
    State(s): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    match sign_in(&s, &meta, f.name.trim(), &f.password).await {
        Ok((_, token)) => (
            [(header::SET_COOKIE, session_cookie(&s, &token.token))],
            Redirect::to("/console"),
        )
            .into_response(),
        Err(e) => {
            let t = lang(&headers);
            let status =
                StatusCode::from_u16(e.0.code.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
            let msg = match e.0.code {
                yishu_types::ErrorCode::BadCredentials => match t.lang {
                    crate::i18n::Lang::Zh => "用户名或密码错误".to_string(),
                    crate::i18n::Lang::En => "Wrong user name or password".to_string(),
                },
                yishu_types::ErrorCode::AccountLocked => match t.lang {
                    crate::i18n::Lang::Zh => {
                        "登录失败次数过多，账户已临时锁定，请稍后再试".to_string()
                    }
                    crate::i18n::Lang::En => e.0.message.clone(),
                },
                _ => e.0.message.clone(),
            };
            (
                status,
                render(&Login {
                    t,
                    error: Some(msg),
                    name: f.name,
                }),
            )
                .into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

pub async fn logout(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return super::csrf_refused();
    }
    let _ = end_session(&s, &page.auth.meta, page.auth.who(), &headers).await;
    (
        [(header::SET_COOKIE, session_cookie(&s, ""))],
        Redirect::to("/console/login"),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    c: Chrome,
    orgs: usize,
    departments: usize,
    users: i64,
    audit: i64,
    notes: Vec<yishu_meta::watch::Notification>,
}

impl Overview {
    fn time(&self, ms: &i64) -> String {
        crate::time::fmt_time(*ms)
    }
}

pub async fn overview(State(s): State<AppState>, mut page: PageAuth<SignedIn>) -> Response {
    page.chrome.active = "overview";
    let orgs = s.store.list_orgs().await.unwrap_or_default();
    let departments = orgs
        .iter()
        .filter(|o| o.kind == yishu_meta::OrgKind::Department)
        .count();
    let users = s.store.count_users().await.unwrap_or_default();
    let audit = s
        .store
        .list_audit(&AuditFilter::default(), 1, 0)
        .await
        .map(|p| p.total)
        .unwrap_or_default();
    let notes = s
        .store
        .notifications(page.auth.who().user_id, 20)
        .await
        .unwrap_or_default();
    render(&Overview {
        c: page.chrome,
        orgs: orgs.len(),
        departments,
        users,
        audit,
        notes,
    })
}
