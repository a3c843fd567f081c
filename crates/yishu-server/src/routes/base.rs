//! The base libraries (基础库, R21–R23) over HTTP, every read through the share gate: the bureau's
//! data managers read in clear, a department reads through its grant for a library (its items,
//! filter and masks), anybody else is refused. Every read and refusal is in the read audit.

use crate::AppState;
use crate::app::audit::audit;
use crate::app::base::SubjectDetail;
use crate::app::base::find as find_subjects;
use crate::app::base::kind_of;
use crate::app::base::load;
use crate::app::base::neighbourhood;
use crate::auth::Correct;
use crate::auth::{Auth, SeePersonal, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::json;
use yishu_fusion::library::{self, Graph, Row};
use yishu_fusion::run::FusionReport;
use yishu_meta::fusion::{Correction, NewCorrection};
use yishu_types::ErrorCode;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct FindQuery {
    /// A key or part of a name.
    pub q: Option<String>,
    /// At most this many (1–200, default 50).
    pub limit: Option<usize>,
}

/// Subjects of one library by key or name, current versions, masked per the caller.
#[utoipa::path(get, path = "/api/v1/base/{kind}", tag = "base", params(("kind" = String, Path, description = "person, entity or house"), FindQuery),
    responses((status = 200, body = [Object])))]
pub async fn find(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(kind): Path<String>,
    Query(q): Query<FindQuery>,
) -> ApiResult<Json<Vec<Row>>> {
    let kind = kind_of(&kind)?;
    let text = q.q.unwrap_or_default();
    let ch = auth.meta.channel("api");
    let rows = find_subjects(&s, auth.who(), &ch, kind, &text, q.limit.unwrap_or(50)).await?;
    Ok(Json(rows))
}

/// One subject by its id.
#[utoipa::path(get, path = "/api/v1/base/{kind}/{id}", tag = "base",
    params(("kind" = String, Path, description = "person, entity or house"), ("id" = String, Path, description = "the subject's opaque id")),
    responses((status = 200, body = SubjectDetail)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path((kind, id)): Path<(String, String)>,
) -> ApiResult<Json<SubjectDetail>> {
    let kind = kind_of(&kind)?;
    let d = load(&s, auth.who(), &auth.meta.channel("api"), kind, &id).await?;
    Ok(Json(d))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct GraphQuery {
    /// Steps from the subject (1–4, default 1).
    pub depth: Option<usize>,
    /// At most this many nodes (1–500, default 100).
    pub limit: Option<usize>,
}

/// The subject's neighbourhood in the relationship graph (R23).
#[utoipa::path(get, path = "/api/v1/base/{kind}/{id}/graph", tag = "base",
    params(("kind" = String, Path, description = "person, entity or house"), ("id" = String, Path, description = "the subject's opaque id"), GraphQuery),
    responses((status = 200, body = Graph)))]
pub async fn graph(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path((kind, id)): Path<(String, String)>,
    Query(q): Query<GraphQuery>,
) -> ApiResult<Json<Graph>> {
    let kind = kind_of(&kind)?;
    let g = neighbourhood(
        &s,
        auth.who(),
        &auth.meta.channel("api"),
        kind,
        &id,
        q.depth.unwrap_or(1),
        q.limit.unwrap_or(100),
    )
    .await?;
    Ok(Json(g))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PathQuery {
    pub from_kind: String,
    /// The first subject's id.
    pub from: String,
    pub to_kind: String,
    /// The second subject's id.
    pub to: String,
    /// At most this many steps (1–4, default 4).
    pub max_depth: Option<usize>,
}

/// The shortest chain of relations between two subjects, if one is within reach.
#[utoipa::path(get, path = "/api/v1/base/path", tag = "base", params(PathQuery),
    responses((status = 200, body = Graph), (status = 404, description = "no path within max_depth")))]
pub async fn path(
    State(s): State<AppState>,
    auth: Auth<SeePersonal>,
    Query(q): Query<PathQuery>,
) -> ApiResult<Json<Graph>> {
    let (fk, tk) = (kind_of(&q.from_kind)?, kind_of(&q.to_kind)?);
    let not_found = |id: &str| {
        ApiError::new(
            ErrorCode::FusionNotFound,
            format!("no subject {id} in the base libraries"),
        )
    };
    let a = library::subject(&s.lake, fk, &q.from)
        .await?
        .ok_or_else(|| not_found(&q.from))?;
    let b = library::subject(&s.lake, tk, &q.to)
        .await?
        .ok_or_else(|| not_found(&q.to))?;
    let g = library::path(&s.lake, &a.raw_key, &b.raw_key, q.max_depth.unwrap_or(4))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::FusionNotFound,
                "no chain of relations links them within the depth asked",
            )
        })?;
    audit(
        &s,
        &auth,
        "base.path",
        format!("{}:{}", fk.as_str(), q.from),
        json!({"to": q.to}),
    )
    .await?;
    Ok(Json(g))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CorrectionRequest {
    pub attribute: String,
    pub value: String,
    /// Why, with the evidence the department holds (required).
    pub reason: String,
}

/// A department asks the lead department to correct a core attribute (R20). Extended attributes
/// are not corrected this way: their owner updates them from its own data.
#[utoipa::path(post, path = "/api/v1/base/{kind}/{id}/corrections", tag = "base", request_body = CorrectionRequest,
    params(("kind" = String, Path, description = "person, entity or house"), ("id" = String, Path, description = "the subject's opaque id")),
    responses((status = 200, body = Correction)))]
pub async fn propose(
    State(s): State<AppState>,
    auth: Auth<Correct>,
    Path((kind, id)): Path<(String, String)>,
    ValidJson(c): ValidJson<CorrectionRequest>,
) -> ApiResult<Json<Correction>> {
    let kind = kind_of(&kind)?;
    let bad = |m: String| ApiError::new(ErrorCode::InvalidInput, m);
    if c.value.trim().is_empty() || c.reason.trim().is_empty() {
        return Err(bad("a correction needs the new value and the reason".into()));
    }
    let plan: yishu_fusion::plan::Plan = s
        .store
        .fusion_plan()
        .await?
        .and_then(|p| serde_json::from_value(p.body).ok())
        .ok_or_else(|| ApiError::new(ErrorCode::FusionPlanInvalid, "no fusion plan is in force"))?;
    let rule = plan
        .rules(kind)
        .iter()
        .find(|r| r.attribute == c.attribute)
        .ok_or_else(|| {
            bad(format!(
                "{} has no attribute {}",
                kind.label_zh(),
                c.attribute
            ))
        })?;
    let Some(lead) = rule.authority.clone().filter(|_| rule.core) else {
        return Err(bad(format!(
            "{} is an extended attribute: its owner updates it from its own data at its own cycle",
            c.attribute
        )));
    };
    let own = s.store.get_org(auth.who().org_id).await?;
    if own.code == lead {
        return Err(bad(format!(
            "your department is the lead department for {}: correct it in your own register",
            c.attribute
        )));
    }
    let subject = crate::app::base::subject(&s, kind, &id).await?;
    let made = s
        .store
        .create_correction(&NewCorrection {
            subject_kind: kind.as_str(),
            subject_key: &subject.raw_key,
            attribute: &c.attribute,
            value: c.value.trim(),
            reason: c.reason.trim(),
            from_org: own.id.0,
            to_org: &lead,
            by: auth.who().user_id,
        })
        .await?;
    audit(
        &s,
        &auth,
        "fusion.correction",
        format!("{}:{id}", kind.as_str()),
        json!({"attribute": c.attribute, "to": lead}),
    )
    .await?;
    Ok(Json(made))
}

/// Indicators (R24): each tag's count per division, and each event's count per month with the
/// month before (环比).
#[utoipa::path(get, path = "/api/v1/base/indicators", tag = "base", responses((status = 200, body = [library::Indicator])))]
pub async fn indicators(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<library::Indicator>>> {
    // As the last fusion run worked them out (each run does): no library table is read here.
    let kept = s
        .store
        .fusion_runs(1)
        .await?
        .into_iter()
        .next()
        .and_then(|r| serde_json::from_value::<FusionReport>(r.report).ok())
        .and_then(|r| r.indicators);
    Ok(Json(
        library::current_indicators(&s.lake, kept.as_deref()).await?,
    ))
}
