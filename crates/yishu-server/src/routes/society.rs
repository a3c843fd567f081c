//! `/api/v1/open/...`: society's part of open data (R34) — demand requests and their public
//! answers, ratings and their moderation, the showcase and its review, and the openness
//! evaluation (JSON or XLSX) per department and period.

use crate::AppState;
use crate::app::open_read::Reader;
use crate::app::society::{self, Openness, RequestDraft, ShowcaseDraft};
use crate::auth::{Auth, SignedIn};
use crate::error::ApiResult;
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use yishu_meta::society::{DemandRequest, Rating, Showcase};

/// Asks for data that is not open yet; anyone may, signed in or not.
#[utoipa::path(post, path = "/api/v1/open/requests", tag = "open", request_body = RequestDraft,
    responses((status = 200, body = DemandRequest), (status = 400, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody)))]
pub async fn ask(
    State(s): State<AppState>,
    reader: Reader,
    ValidJson(d): ValidJson<RequestDraft>,
) -> ApiResult<Json<DemandRequest>> {
    Ok(Json(society::ask(&s, &reader, &d).await?))
}

/// Every demand request with its answer: public.
#[utoipa::path(get, path = "/api/v1/open/requests", tag = "open",
    responses((status = 200, body = [DemandRequest])))]
pub async fn requests(State(s): State<AppState>) -> ApiResult<Json<Vec<DemandRequest>>> {
    Ok(Json(s.store.requests(None).await?))
}

/// An answer to a demand request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerDraft {
    /// granted, partly or refused.
    pub outcome: String,
    pub answer: String,
}

/// The department asked (or the bureau) answers, in public.
#[utoipa::path(post, path = "/api/v1/open/requests/{id}/answer", tag = "open", request_body = AnswerDraft,
    responses((status = 200, body = DemandRequest), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
pub async fn answer(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<AnswerDraft>,
) -> ApiResult<Json<DemandRequest>> {
    Ok(Json(
        society::answer(&s, auth.who(), &auth.meta, id, &d.outcome, &d.answer).await?,
    ))
}

/// A rating of an open dataset.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingDraft {
    /// The dataset's name.
    pub dataset: String,
    /// 1 to 5.
    pub stars: i64,
    #[serde(default)]
    pub comment: String,
}

/// Rates an open dataset (signed-in readers); the comment is shown once moderated.
#[utoipa::path(post, path = "/api/v1/open/ratings", tag = "open", request_body = RatingDraft,
    responses((status = 200, body = Rating), (status = 401, body = crate::error::ErrorBody)))]
pub async fn rate(
    State(s): State<AppState>,
    reader: Reader,
    ValidJson(d): ValidJson<RatingDraft>,
) -> ApiResult<Json<Rating>> {
    Ok(Json(
        society::rate(&s, &reader, &d.dataset, d.stars, &d.comment).await?,
    ))
}

/// A moderation decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Moderation {
    /// shown or hidden.
    pub status: String,
}

/// Ratings waiting for moderation (all of them; the caller moderates those of its data).
#[utoipa::path(get, path = "/api/v1/open/ratings", tag = "open",
    responses((status = 200, body = [Rating])))]
pub async fn pending_ratings(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<Rating>>> {
    Ok(Json(s.store.ratings(None, Some("pending")).await?))
}

/// Shows or hides a rating's comment: the dataset's department or the bureau.
#[utoipa::path(post, path = "/api/v1/open/ratings/{id}/moderation", tag = "open", request_body = Moderation,
    responses((status = 200, body = Rating), (status = 403, body = crate::error::ErrorBody)))]
pub async fn moderate_rating(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<Moderation>,
) -> ApiResult<Json<Rating>> {
    Ok(Json(
        society::moderate_rating(&s, auth.who(), &auth.meta, id, &d.status).await?,
    ))
}

/// Submits an application built on open data to the showcase (signed-in users).
#[utoipa::path(post, path = "/api/v1/open/showcase", tag = "open", request_body = ShowcaseDraft,
    responses((status = 200, body = Showcase), (status = 400, body = crate::error::ErrorBody)))]
pub async fn submit(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    ValidJson(d): ValidJson<ShowcaseDraft>,
) -> ApiResult<Json<Showcase>> {
    Ok(Json(society::submit(&s, auth.who(), &auth.meta, &d).await?))
}

/// The bureau shows or hides a showcase entry.
#[utoipa::path(post, path = "/api/v1/open/showcase/{id}/moderation", tag = "open", request_body = Moderation,
    responses((status = 200, body = Showcase), (status = 403, body = crate::error::ErrorBody)))]
pub async fn moderate_showcase(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<Moderation>,
) -> ApiResult<Json<Showcase>> {
    Ok(Json(
        society::moderate_showcase(&s, auth.who(), &auth.meta, id, &d.status).await?,
    ))
}

/// The period an evaluation covers: dates, `to` excluded; default the last 365 days.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Period {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl Period {
    /// (from, to) in ms and a label.
    pub fn range(&self) -> Result<(i64, i64, String), yishu_types::Error> {
        let day = |field: &str, t: &str| {
            chrono::NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
                .map(|d| {
                    d.and_hms_opt(0, 0, 0)
                        .map(|x| x.and_utc().timestamp_millis())
                        .unwrap_or(0)
                })
                .map_err(|_| {
                    yishu_types::Error::field(field, format!("'{t}' is not a date (2026-01-31)"))
                })
        };
        let to = match self.to.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(t) => day("to", t)?,
            None => yishu_meta::now_ms(),
        };
        let from = match self.from.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(t) => day("from", t)?,
            None => to - 365 * 86_400_000,
        };
        let label = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        Ok((from, to, format!("{} 至 {}", label(from), label(to))))
    }
}

/// The openness evaluation per department (GB/T 38664.3 dimensions): public.
#[utoipa::path(get, path = "/api/v1/open/evaluation", tag = "open", params(Period),
    responses((status = 200, body = [Openness]), (status = 400, body = crate::error::ErrorBody)))]
pub async fn evaluation(
    State(s): State<AppState>,
    Query(p): Query<Period>,
) -> ApiResult<Json<Vec<Openness>>> {
    let (from, to, _) = p.range()?;
    Ok(Json(society::evaluation(&s, from, to).await?))
}

/// The same as a workbook.
#[utoipa::path(get, path = "/api/v1/open/evaluation.xlsx", tag = "open", params(Period),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
pub async fn evaluation_xlsx(
    State(s): State<AppState>,
    Query(p): Query<Period>,
) -> ApiResult<Response> {
    let (from, to, label) = p.range()?;
    let rows = society::evaluation(&s, from, to).await?;
    let book = society::evaluation_xlsx(&rows, &label)?;
    Ok(crate::download::file(
        yishu_share::files::FileFormat::Xlsx.content_type(),
        "公共数据开放评价.xlsx",
        book,
    ))
}
