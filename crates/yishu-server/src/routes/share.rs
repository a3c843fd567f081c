//! `/api/v1/share` and `/api/v1/grants`: applying for data, deciding applications, and the
//! grants they end in. Every action is audited, refusals too; the rules live in `yishu-share`.

use crate::AppState;
use crate::app::audit::audited;
use crate::app::share::{self, ApplicationDetail, Listing, RowsQuery, workflow};
use crate::auth::{Auth, SignedIn, WhoRead};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use yishu_meta::now_ms;
use yishu_meta::share::{Application, Grant};
use yishu_share::application::{Apply, Decision};
use yishu_share::files::FileFormat;
use yishu_share::read::Page;
use yishu_types::ErrorCode;

/// Applies for items of a published resource or a base library. Unconditionally shared items
/// are granted at once; a resource not shared is refused with the catalog's reason.
#[utoipa::path(post, path = "/api/v1/share/applications", tag = "share", request_body = Apply,
    responses((status = 201, body = Application), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn apply(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    ValidJson(a): ValidJson<Apply>,
) -> ApiResult<(StatusCode, Json<Application>)> {
    let done = workflow(&s)
        .apply(auth.who(), &a, now_ms())
        .await
        .map_err(ApiError::from);
    let detail = json!({"target": a.target, "items": a.items, "purpose": a.purpose,
        "status": done.as_ref().map(|x| x.status.clone()).unwrap_or_default(),
        "grant": done.as_ref().ok().and_then(|x| x.grant_id)});
    let object = match &done {
        Ok(x) => format!("application:{}", x.id),
        Err(_) => a.target.clone(),
    };
    let app = audited(&s, &auth, "share.apply", object, detail, done).await?;
    Ok((StatusCode::CREATED, Json(app)))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ApplicationQuery {
    /// mine (default), to_decide, or all (the bureau).
    pub list: Option<String>,
    /// submitted, provider_approved, granted, rejected, refused, withdrawn.
    pub status: Option<String>,
}

/// Applications: my department's, those waiting for my decision, or all (the bureau).
#[utoipa::path(get, path = "/api/v1/share/applications", tag = "share", params(ApplicationQuery),
    responses((status = 200, body = [Application])))]
pub async fn applications(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Query(q): Query<ApplicationQuery>,
) -> ApiResult<Json<Vec<Application>>> {
    let which = match q.list.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        None => Listing::Mine,
        Some(l) => Listing::parse(l).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!("list: '{l}' is not mine, to_decide or all"),
            )
        })?,
    };
    let status = q.status.filter(|x| !x.trim().is_empty());
    Ok(Json(
        share::applications(&s, auth.who(), which, status).await?,
    ))
}

/// One application with each step of its review.
#[utoipa::path(get, path = "/api/v1/share/applications/{id}", tag = "share",
    params(("id" = i64, Path, description = "application id")),
    responses((status = 200, body = ApplicationDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn application(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApplicationDetail>> {
    Ok(Json(share::application(&s, auth.who(), id).await?))
}

/// Decides the step an application waits for: the providing department's (approval sets the
/// grant's filter, masks, limits and expiry), then the bureau's confirmation.
#[utoipa::path(post, path = "/api/v1/share/applications/{id}/decision", tag = "share", request_body = Decision,
    params(("id" = i64, Path, description = "application id")),
    responses((status = 200, body = Application), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn decide(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<Decision>,
) -> ApiResult<Json<Application>> {
    let flow = workflow(&s);
    let done = match s.store.application(id).await {
        Ok(a) if a.status == "provider_approved" => flow.bureau_decide(auth.who(), id, &d).await,
        Ok(_) => flow.provider_decide(auth.who(), id, &d, now_ms()).await,
        Err(e) => Err(e),
    }
    .map_err(ApiError::from);
    let detail = json!({"approve": d.approve, "reason": d.reason, "row_filter": d.row_filter, "masks": d.masks,
        "status": done.as_ref().map(|x| x.status.clone()).unwrap_or_default()});
    let app = audited(
        &s,
        &auth,
        "share.decide",
        format!("application:{id}"),
        detail,
        done,
    )
    .await?;
    Ok(Json(app))
}

/// Withdraws my department's application while it is under review.
#[utoipa::path(post, path = "/api/v1/share/applications/{id}/withdrawal", tag = "share",
    params(("id" = i64, Path, description = "application id")),
    responses((status = 200, body = Application)))]
pub async fn withdraw(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Application>> {
    let done = workflow(&s)
        .withdraw(auth.who(), id)
        .await
        .map_err(ApiError::from);
    let app = audited(
        &s,
        &auth,
        "share.withdraw",
        format!("application:{id}"),
        json!({}),
        done,
    )
    .await?;
    Ok(Json(app))
}

/// Grants my department holds or gives; every grant for the bureau.
#[utoipa::path(get, path = "/api/v1/grants", tag = "share", responses((status = 200, body = [Grant])))]
pub async fn grants(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<Grant>>> {
    Ok(Json(share::grants(&s, auth.who()).await?))
}

/// One grant.
#[utoipa::path(get, path = "/api/v1/grants/{id}", tag = "share",
    params(("id" = i64, Path, description = "grant id")),
    responses((status = 200, body = Grant), (status = 404, body = crate::error::ErrorBody)))]
pub async fn grant(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Grant>> {
    Ok(Json(share::grant(&s, auth.who(), id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantStatus {
    /// active (resume), suspended or revoked.
    pub status: String,
    #[serde(default)]
    pub reason: String,
}

/// Suspends, resumes or revokes a grant (R37 cut-off): every read through it stops at once.
#[utoipa::path(post, path = "/api/v1/grants/{id}/status", tag = "share", request_body = GrantStatus,
    params(("id" = i64, Path, description = "grant id")),
    responses((status = 200, body = Grant), (status = 403, body = crate::error::ErrorBody)))]
pub async fn set_status(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
    ValidJson(b): ValidJson<GrantStatus>,
) -> ApiResult<Json<Grant>> {
    let done = share::set_grant_status(&s, auth.who(), id, b.status.trim(), &b.reason).await;
    let detail = json!({"status": b.status, "reason": b.reason});
    let g = audited(
        &s,
        &auth,
        "grant.status",
        format!("grant:{id}"),
        detail,
        done,
    )
    .await?;
    Ok(Json(g))
}

/// Rows through a grant: only granted items, the grant's filter and the caller's, masked; JSON
/// pages, or the whole grant as CSV streamed (`format=csv`). Audited before the data goes out.
#[utoipa::path(get, path = "/api/v1/grants/{id}/rows", tag = "share",
    params(("id" = i64, Path, description = "grant id"), RowsQuery),
    responses((status = 200, body = Page), (status = 403, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody, description = "over the grant's limits; see Retry-After")))]
pub async fn rows(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
    Query(q): Query<RowsQuery>,
) -> ApiResult<Response> {
    match q.format.as_deref().unwrap_or("json") {
        "json" => {
            Ok(Json(share::grant_page(&s, auth.who(), &auth.meta, id, &q).await?).into_response())
        }
        "csv" => share::grant_csv(&s, auth.who(), &auth.meta, id, &q).await,
        "xlsx" => share::grant_file(&s, auth.who(), &auth.meta, id, &q, FileFormat::Xlsx).await,
        "parquet" => {
            share::grant_file(&s, auth.who(), &auth.meta, id, &q, FileFormat::Parquet).await
        }
        other => Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("format: '{other}' is not json, csv, xlsx or parquet"),
        )),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct UsageQuery {
    /// Days back (default 30, at most 366).
    pub days: Option<i64>,
}

/// Who used my data: each grant my department gives (every grant, for the bureau) with its
/// calls, rows, refusals, last use and calls per day.
#[utoipa::path(get, path = "/api/v1/share/usage", tag = "share", params(UsageQuery),
    responses((status = 200, body = [yishu_share::usage::GrantUsage])))]
pub async fn usage(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<Vec<yishu_share::usage::GrantUsage>>> {
    Ok(Json(
        share::usage(&s, auth.who(), q.days.unwrap_or(30)).await?,
    ))
}

/// The person asked about travels in the body, never in a URL (URLs end up in logs).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoReadQuery {
    /// The person's 公民身份号码 (or another subject's key).
    pub key: String,
    /// Days back (default 90, at most 366).
    pub days: Option<i64>,
}

/// Who read this person's record: for the bureau and the auditor (R30). The question itself is
/// audited.
#[utoipa::path(post, path = "/api/v1/share/who-read", tag = "share", request_body = WhoReadQuery,
    responses((status = 200, body = [yishu_meta::AuditRecord]), (status = 403, body = crate::error::ErrorBody)))]
pub async fn who_read(
    State(s): State<AppState>,
    auth: Auth<WhoRead>,
    ValidJson(q): ValidJson<WhoReadQuery>,
) -> ApiResult<Json<Vec<yishu_meta::AuditRecord>>> {
    let days = q.days.unwrap_or(90).clamp(1, 366);
    let since = now_ms() - days * 86_400_000;
    let found = yishu_share::usage::who_read(&s.store, &q.key, since)
        .await
        .map_err(ApiError::from);
    let detail = json!({"days": days, "subject": yishu_share::audit::subject_digest(&s.store, q.key.trim())});
    let found = audited(&s, &auth, "share.who_read", "subject".into(), detail, found).await?;
    Ok(Json(found))
}
