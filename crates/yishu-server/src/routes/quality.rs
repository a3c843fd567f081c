//! Standards and quality over HTTP (R11–R16): data elements and code tables, rules and their
//! review, suggestions from profiles, per-batch profiles, results and violations, work orders and
//! scores.

use crate::AppState;
use crate::app::audit::audit;
use crate::app::quality::Ranked;
use crate::app::quality::ranking;
use crate::app::quality::weight_map;
use crate::app::reports::ReportQuery;
use crate::app::reports::build;
use crate::app::reports::period;
use crate::app::reports::workbook;
use crate::auth::ManageStandards;
use crate::auth::{Auth, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use yishu_meta::quality::*;
use yishu_quality::report::DepartmentReport;
use yishu_types::{ErrorCode, OrgId};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ScoreQuery {
    pub resource: Option<i64>,
    pub org: Option<i64>,
    /// Milliseconds since the epoch; default: 90 days ago.
    pub since: Option<i64>,
}

/// Scores per checked batch (the trend), oldest first.
#[utoipa::path(get, path = "/api/v1/quality/scores", tag = "quality", params(ScoreQuery), responses((status = 200, body = [StoredScore])))]
pub async fn scores(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
    Query(q): Query<ScoreQuery>,
) -> ApiResult<Json<Vec<StoredScore>>> {
    let since = q
        .since
        .unwrap_or_else(|| yishu_meta::now_ms() - 90 * 86_400_000);
    Ok(Json(
        s.store.scores(q.resource, q.org.map(OrgId), since).await?,
    ))
}

/// Departments ranked by quality score.
#[utoipa::path(get, path = "/api/v1/quality/ranking", tag = "quality", responses((status = 200, body = [Ranked])))]
pub async fn get_ranking(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<Ranked>>> {
    Ok(Json(ranking(&s).await?))
}

/// The dimension weights of the total score.
#[utoipa::path(get, path = "/api/v1/quality/weights", tag = "quality", responses((status = 200, body = Object)))]
pub async fn weights(State(s): State<AppState>, _auth: Auth<SignedIn>) -> ApiResult<Json<Value>> {
    Ok(Json(weight_map(&s).await?))
}

/// Sets dimension weights: `{"accuracy": 2, "timeliness": 0.5}`. New scores use them.
#[utoipa::path(put, path = "/api/v1/quality/weights", tag = "quality", request_body = Object, responses((status = 200, body = Object)))]
pub async fn set_weights(
    State(s): State<AppState>,
    auth: Auth<ManageStandards>,
    ValidJson(w): ValidJson<std::collections::BTreeMap<String, f64>>,
) -> ApiResult<Json<Value>> {
    for (d, v) in &w {
        let Some(dim) = yishu_quality::Dimension::parse(d) else {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("'{d}' is not a quality dimension"),
            ));
        };
        s.store.set_quality_weight(dim.as_str(), *v).await?;
    }
    audit(
        &s,
        &auth,
        "quality.weights",
        "quality:weights".into(),
        json!(w),
    )
    .await?;
    Ok(Json(weight_map(&s).await?))
}

/// A department's quality report for a period.
#[utoipa::path(get, path = "/api/v1/quality/report", tag = "quality", params(ReportQuery),
    responses((status = 200, body = DepartmentReport)))]
pub async fn report(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<DepartmentReport>> {
    Ok(Json(build(&s, auth.who(), &q).await?))
}

/// The same report as an XLSX workbook: summary, resources, rules, work orders.
#[utoipa::path(get, path = "/api/v1/quality/report.xlsx", tag = "quality", params(ReportQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>)))]
pub async fn report_xlsx(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let r = build(&s, auth.who(), &q).await?;
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "quality.report_download",
            format!("org:{}", r.org_id.0),
            "ok",
            serde_json::json!({"from": r.from, "to": r.to}).to_string(),
        ))
        .await?;
    let body = workbook(&r)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("writing the workbook: {e}")))?;
    let (_, from, to) = period(auth.who(), &q)?;
    Ok(crate::download::file(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        format!("quality-report-{}-{from}-{to}.xlsx", r.org_id.0),
        body,
    ))
}
