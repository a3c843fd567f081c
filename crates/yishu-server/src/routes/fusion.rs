//! `/api/v1/fusion`: the review queue of records linking could not decide, fusion runs, and
//! corrections of golden records proposed by departments.

use crate::AppState;
use crate::app::access::{clear_for, masked_review};
use crate::app::audit::audit;
use crate::app::base::lead_department;
use crate::auth::{Auth, Correct, SeePersonal, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::json;
use yishu_meta::fusion::{Correction, FusionRun, Review, ReviewStatus};
use yishu_types::ErrorCode;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ReviewQuery {
    /// pending, linked or rejected (default: all, pending first).
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewPage {
    pub items: Vec<Review>,
    pub total: i64,
}

fn status_of(s: Option<&str>) -> ApiResult<Option<ReviewStatus>> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => ReviewStatus::parse(v).map(Some).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!("status '{v}' is not pending, linked or rejected"),
            )
        }),
    }
}

/// The review queue: records linking could not decide.
#[utoipa::path(get, path = "/api/v1/fusion/reviews", tag = "base", params(ReviewQuery), responses((status = 200, body = ReviewPage)))]
pub async fn reviews(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Query(q): Query<ReviewQuery>,
) -> ApiResult<Json<ReviewPage>> {
    let (items, total) = s
        .store
        .reviews(
            status_of(q.status.as_deref())?,
            q.limit.unwrap_or(50).clamp(1, 500),
            q.offset.unwrap_or(0).max(0),
        )
        .await?;
    let clear = clear_for(auth.who());
    Ok(Json(ReviewPage {
        items: items.into_iter().map(|r| masked_review(r, clear)).collect(),
        total,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// linked (the same subject) or rejected (not the same).
    pub decision: String,
    #[serde(default)]
    pub note: String,
}

/// Records a decision on a record in doubt; the next fusion run follows it.
#[utoipa::path(post, path = "/api/v1/fusion/reviews/{id}/decision", tag = "base", request_body = Decision,
    responses((status = 200, body = Review)))]
pub async fn decide(
    State(s): State<AppState>,
    auth: Auth<SeePersonal>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<Decision>,
) -> ApiResult<Json<Review>> {
    let to = match status_of(Some(&d.decision))? {
        Some(ReviewStatus::Pending) | None => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "decision is linked or rejected",
            ));
        }
        Some(t) => t,
    };
    let r = s
        .store
        .decide_review(id, to, &d.note, auth.who().user_id)
        .await?;
    audit(
        &s,
        &auth,
        "fusion.review",
        format!("review:{id}"),
        json!({"decision": to.as_str()}),
    )
    .await?;
    Ok(Json(r))
}

/// Fusion runs, newest first, with their reports.
#[utoipa::path(get, path = "/api/v1/fusion/runs", tag = "base", responses((status = 200, body = [FusionRun])))]
pub async fn runs(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<FusionRun>>> {
    Ok(Json(s.store.fusion_runs(20).await?))
}

/// Correction requests, newest first (values masked unless the reader may see them).
#[utoipa::path(get, path = "/api/v1/fusion/corrections", tag = "base", params(ReviewQuery), responses((status = 200, body = [Correction])))]
pub async fn corrections(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Query(q): Query<ReviewQuery>,
) -> ApiResult<Json<Vec<Correction>>> {
    let clear = clear_for(auth.who());
    let list = s
        .store
        .corrections(q.status.as_deref().filter(|v| !v.is_empty()))
        .await?;
    Ok(Json(
        list.into_iter()
            .map(|mut c| {
                if !clear {
                    c.value = yishu_share::mask::masked(&c.attribute, &c.value);
                    c.subject_key = yishu_share::mask::masked("subject_key", &c.subject_key);
                }
                c
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CorrectionDecision {
    pub accept: bool,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CorrectionConfirmation {
    /// How the person concerned confirmed: the channel and its reference (e.g. 窗口核验，受理号
    /// 2026120100123).
    pub how: String,
}

/// The lead department records how the person concerned confirmed the change (R20: a core
/// attribute changes only after the person confirms).
#[utoipa::path(post, path = "/api/v1/fusion/corrections/{id}/confirmation", tag = "base", request_body = CorrectionConfirmation,
    responses((status = 200, body = Correction)))]
pub async fn confirm_correction(
    State(s): State<AppState>,
    auth: Auth<Correct>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<CorrectionConfirmation>,
) -> ApiResult<Json<Correction>> {
    let how = d.how.trim();
    if how.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "say how the person confirmed the change (channel and reference)",
        ));
    }
    let c = s.store.correction(id).await?;
    lead_department(&s, auth.who().org_id, &c).await?;
    let done = s
        .store
        .confirm_correction(id, how, auth.who().user_id)
        .await?;
    audit(
        &s,
        &auth,
        "fusion.correction_confirmation",
        format!("correction:{id}"),
        json!({"how": how}),
    )
    .await?;
    Ok(Json(done))
}

/// The lead department accepts (the next run takes the value as its own) or rejects.
#[utoipa::path(post, path = "/api/v1/fusion/corrections/{id}/decision", tag = "base", request_body = CorrectionDecision,
    responses((status = 200, body = Correction)))]
pub async fn decide_correction(
    State(s): State<AppState>,
    auth: Auth<Correct>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<CorrectionDecision>,
) -> ApiResult<Json<Correction>> {
    let c = s.store.correction(id).await?;
    lead_department(&s, auth.who().org_id, &c).await?;
    let done = s
        .store
        .decide_correction(id, d.accept, &d.note, auth.who().user_id)
        .await?;
    audit(
        &s,
        &auth,
        "fusion.correction_decision",
        format!("correction:{id}"),
        json!({"accept": d.accept}),
    )
    .await?;
    Ok(Json(done))
}
