//! The data service pages: every version the user may see with its status and path, a form
//! to define one in SQL (parameters declared as JSON), and one version's page with its
//! definition, a form per parameter for a test run with the result's preview, and the
//! lifecycle's buttons (review, publish, deprecate, retire).

use super::{Chrome, PageAuth, csrf_refused, render};
use crate::AppState;
use crate::app::audit::audited;
use crate::auth::SignedIn;
use crate::error::ApiError;
use crate::pages::quality::failure;
use crate::time::fmt_time;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use yishu_meta::Principal;
use yishu_meta::service::{Param, ParamKind, Service, ServiceDraft, ServiceStatus};
use yishu_share::gate::standing;
use yishu_share::service::{self, Answer, param::Given};
use yishu_types::{Error, ErrorCode, Role};

/// How a parameter's type reads in a table.
fn kind_text(k: &ParamKind) -> String {
    match k {
        ParamKind::String {
            min_len,
            max_len,
            pattern,
        } => format!(
            "string {min_len}–{max_len}{}",
            pattern
                .as_ref()
                .map(|p| format!(" /{p}/"))
                .unwrap_or_default()
        ),
        ParamKind::Integer { min, max } => format!(
            "integer {}–{}",
            min.map(|m| m.to_string()).unwrap_or_default(),
            max.map(|m| m.to_string()).unwrap_or_default()
        ),
        ParamKind::Date => "date".into(),
        ParamKind::Enum { values } => format!("enum {}", values.join("|")),
        ParamKind::List { item, max } => format!("list ≤{max} of {}", kind_text(item)),
    }
}

fn may_define(who: &Principal) -> bool {
    who.has(Role::DataManager) || who.has(Role::ProviderOfficer)
}

pub struct Row {
    pub s: Service,
    pub status: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "services.html")]
struct List {
    c: Chrome,
    rows: Vec<Row>,
    may_define: bool,
    /// The definition form as last sent (kept after a refusal).
    form: DefineForm,
}

#[derive(Debug, Default, Deserialize)]
pub struct DefineForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub sql: String,
    #[serde(default)]
    pub params: String,
    /// A function API's steps (JSON), instead of SQL.
    #[serde(default)]
    pub steps: String,
    #[serde(default)]
    pub row_cap: String,
    #[serde(default)]
    pub timeout_ms: String,
}

async fn list_page(
    s: &AppState,
    mut c: Chrome,
    who: &Principal,
    form: DefineForm,
    status: StatusCode,
) -> Response {
    c.active = "services";
    let all = match s.store.services().await {
        Ok(a) => a,
        Err(e) => return failure(c, e.into()),
    };
    let rows = all
        .into_iter()
        .filter(|x| x.status.serves() || standing(who, x.provider_org_id).is_some())
        .map(|x| Row {
            status: c
                .t
                .t(&format!("service.status.{}", x.status.as_str()))
                .to_string(),
            updated: fmt_time(x.updated_at),
            s: x,
        })
        .collect();
    let may_define = may_define(who);
    (
        status,
        render(&List {
            c,
            rows,
            may_define,
            form,
        }),
    )
        .into_response()
}

pub async fn list(State(s): State<AppState>, page: PageAuth<SignedIn>) -> Response {
    let who = page.auth.who().clone();
    let form = DefineForm {
        params: r#"[{"name": "id", "kind": {"type": "string", "min_len": 18, "max_len": 18}, "placement": "query", "required": true, "description": "公民身份号码"}]"#.into(),
        row_cap: "1000".into(),
        timeout_ms: "1000".into(),
        ..Default::default()
    };
    list_page(&s, page.chrome, &who, form, StatusCode::OK).await
}

/// The form's definition, or why it is not one.
fn draft_of(f: &DefineForm) -> Result<ServiceDraft, Error> {
    let params: Vec<Param> = if f.params.trim().is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(&f.params)
            .map_err(|e| Error::new(ErrorCode::ServiceInvalid, format!("parameters (JSON): {e}")))?
    };
    let steps: Vec<yishu_meta::service::Step> = if f.steps.trim().is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(&f.steps)
            .map_err(|e| Error::new(ErrorCode::ServiceInvalid, format!("steps (JSON): {e}")))?
    };
    let number = |field: &str, v: &str, default: i64| -> Result<i64, Error> {
        if v.trim().is_empty() {
            return Ok(default);
        }
        v.trim()
            .parse()
            .map_err(|_| Error::field(field, format!("'{v}' is not a whole number")))
    };
    Ok(ServiceDraft {
        name: f.name.trim().to_string(),
        title: f.title.trim().to_string(),
        description: f.description.trim().to_string(),
        sql: f.sql.clone(),
        params,
        steps,
        row_cap: number("row_cap", &f.row_cap, 1_000)?,
        timeout_ms: number("timeout_ms", &f.timeout_ms, 1_000)?,
    })
}

pub async fn define(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Form(f): Form<DefineForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let who = page.auth.who().clone();
    let done = async {
        if !may_define(&who) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "data services are defined by data managers and departments' officers",
            ));
        }
        let d = draft_of(&f)?;
        Ok(service::define(&s.store, &s.lake, &who, &d).await?)
    }
    .await;
    let detail = json!({"sql": f.sql, "name": f.name});
    match audited(
        &s,
        &page.auth,
        "service.define",
        format!("service:{}", f.name.trim()),
        detail,
        done,
    )
    .await
    {
        Ok(svc) => Redirect::to(&format!("/console/services/{}", svc.id)).into_response(),
        Err(e) => {
            let status = super::failed(&mut page.chrome, &e.0);
            list_page(&s, page.chrome, &who, f, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "service.html")]
struct Detail {
    c: Chrome,
    s: Service,
    status: String,
    params: Vec<(Param, String, String)>,
    /// The last test run's rows, when the page answers one.
    answer: Option<Answer>,
    mine: bool,
    may_review: bool,
    tested: String,
    openapi: String,
    /// The API's operation (for its provider and the bureau).
    ops: Option<crate::app::service_ops::ServiceOps>,
}

impl Detail {
    fn ms(&self, v: &Option<i64>) -> String {
        v.map(|m| format!("{m} ms")).unwrap_or_else(|| "—".into())
    }
    fn time(&self, ms: &i64) -> String {
        if *ms == 0 {
            "—".into()
        } else {
            fmt_time(*ms)
        }
    }
}

async fn detail_page(
    s: &AppState,
    mut c: Chrome,
    who: &Principal,
    id: i64,
    values: &BTreeMap<String, String>,
    answer: Option<Answer>,
    status: StatusCode,
) -> Response {
    c.active = "services";
    let svc = match s.store.service(id).await {
        Ok(x) if x.status.serves() || standing(who, x.provider_org_id).is_some() => x,
        Ok(_) => {
            return failure(
                c,
                ApiError::new(ErrorCode::ServiceNotFound, format!("no data service {id}")),
            );
        }
        Err(e) => return failure(c, e.into()),
    };
    let params = svc
        .draft
        .params
        .iter()
        .map(|p| {
            let v = values
                .get(&p.name)
                .cloned()
                .or_else(|| p.example.clone())
                .unwrap_or_default();
            (p.clone(), kind_text(&p.kind), v)
        })
        .collect();
    let mine = standing(who, svc.provider_org_id).is_some();
    let may_review = who.has(Role::DataManager)
        && svc.author_id != who.user_id
        && svc.status == ServiceStatus::Tested;
    let tested = match (svc.tested_at, svc.test_rows) {
        (Some(at), Some(n)) => format!("{} · {n}", fmt_time(at)),
        _ => String::new(),
    };
    let ops = if mine && svc.status != ServiceStatus::Draft {
        crate::app::service_ops::report(s, &svc.name, 7).await.ok()
    } else {
        None
    };
    let page = Detail {
        ops,
        status: c
            .t
            .t(&format!("service.status.{}", svc.status.as_str()))
            .to_string(),
        openapi: format!("/api/v1/service-versions/{}/openapi.json", svc.id),
        c,
        params,
        answer,
        mine,
        may_review,
        tested,
        s: svc,
    };
    (status, render(&page)).into_response()
}

pub async fn detail(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
) -> Response {
    let who = page.auth.who().clone();
    detail_page(
        &s,
        page.chrome,
        &who,
        id,
        &BTreeMap::new(),
        None,
        StatusCode::OK,
    )
    .await
}

/// A test run's values (`p.<name>`) or a lifecycle step (`step`, with `note` / `sunset`).
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(flatten)]
    fields: BTreeMap<String, String>,
}

pub async fn action(
    State(s): State<AppState>,
    mut page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
    Form(f): Form<ActionForm>,
) -> Response {
    let field = |k: &str| f.fields.get(k).map(String::as_str).unwrap_or("");
    if !page.csrf_ok(field("_csrf")) {
        return csrf_refused();
    }
    let who = page.auth.who().clone();
    let values: BTreeMap<String, String> = f
        .fields
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("p.").map(|n| (n.to_string(), v.clone())))
        .collect();
    let step = field("step").to_string();
    let mut answer = None;
    let done: Result<Service, ApiError> = match step.as_str() {
        "test" => {
            let mut given = Given::default();
            for (k, v) in &values {
                if !v.trim().is_empty() {
                    given.query.insert(k.clone(), v.trim().to_string());
                }
            }
            match service::test(&s.store, &s.lake, &who, id, &given).await {
                Ok((svc, a)) => {
                    answer = Some(a);
                    Ok(svc)
                }
                Err(e) => Err(e.into()),
            }
        }
        "approve" | "reject" => {
            service::review(&s.store, &who, id, step == "approve", field("note"))
                .await
                .map_err(ApiError::from)
        }
        "publish" => service::publish(&s.store, &who, id)
            .await
            .map_err(ApiError::from),
        "retire" => service::retire(&s.store, &who, id)
            .await
            .map_err(ApiError::from),
        "deprecate" => match service::sunset_after(field("sunset")) {
            Ok(end) => service::deprecate(&s.store, &who, id, end)
                .await
                .map_err(ApiError::from),
            Err(e) => Err(e.into()),
        },
        "sla" | "cut_off" | "restore" => operate(&s, &who, id, &step, &f.fields).await,
        other => Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("step: '{other}' is not a step of a service"),
        )),
    };
    let action = format!("service.{step}");
    let detail = json!({"id": id, "note": field("note"), "sunset": field("sunset"),
        "org_id": field("org_id"), "reason": field("reason")});
    let status = match audited(
        &s,
        &page.auth,
        &action,
        format!("service_version:{id}"),
        detail,
        done,
    )
    .await
    {
        Ok(_) => {
            page.chrome.flash = Some(page.chrome.t.t("service.done").to_string());
            StatusCode::OK
        }
        Err(e) => super::failed(&mut page.chrome, &e.0),
    };
    detail_page(&s, page.chrome, &who, id, &values, answer, status).await
}

/// The operation buttons of a service's page: its SLA, cutting a consumer (or everybody) off
/// and lifting that — for its providing department and the bureau.
async fn operate(
    s: &AppState,
    who: &Principal,
    id: i64,
    step: &str,
    f: &BTreeMap<String, String>,
) -> Result<Service, ApiError> {
    let field = |k: &str| f.get(k).map(String::as_str).unwrap_or("").trim();
    let svc = s.store.service(id).await?;
    if standing(who, svc.provider_org_id).is_none() || !may_define(who) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "operating a service is for its providing department and the bureau",
        ));
    }
    let org = match field("org_id") {
        "" | "0" => None,
        o => Some(yishu_types::OrgId(o.parse().map_err(|_| {
            Error::field("org_id", format!("'{o}' is not a department id"))
        })?)),
    };
    match step {
        "sla" => {
            let availability: f64 = field("availability")
                .parse()
                .map_err(|_| Error::field("availability", "a percentage such as 99.9"))?;
            let p99: i64 = field("p99_ms")
                .parse()
                .map_err(|_| Error::field("p99_ms", "milliseconds, such as 200"))?;
            s.store
                .set_service_sla(&svc.name, availability, p99, who.user_id)
                .await?;
        }
        "cut_off" => {
            s.store
                .cut_off_service(&svc.name, org, field("reason"), who.user_id)
                .await?;
        }
        _ => {
            s.store.restore_service(&svc.name, org).await?;
        }
    }
    Ok(svc)
}
