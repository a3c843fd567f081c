//! The base libraries (基础库, R21–R23) and fusion's review queue over HTTP. Any signed-in user
//! may read the libraries masked; the bureau's data managers read personal details in clear and
//! decide reviews. Every read is audited.

use crate::AppState;
use crate::auth::{Auth, Right, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use crate::routes::quality::audit;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use yishu_fusion::SubjectKind;
use yishu_fusion::library::{self, EventView, Graph, Row, SubjectView};
use yishu_meta::Principal;
use yishu_meta::fusion::{Correction, FusionRun, NewCorrection, Review, ReviewStatus};
use yishu_types::{ErrorCode, Role};

/// Read personal details in the base libraries in clear, and decide reviews: the bureau.
pub struct SeePersonal;
impl Right for SeePersonal {
    const ROLES: &'static [Role] = &[Role::DataManager];
    const NAME: &'static str = "see_personal";
}

pub fn clear_for(who: &Principal) -> bool {
    who.has(Role::DataManager)
}

pub fn kind_of(s: &str) -> ApiResult<SubjectKind> {
    match s {
        "person" | "population" => Ok(SubjectKind::Person),
        "entity" | "entities" => Ok(SubjectKind::Entity),
        "house" | "houses" => Ok(SubjectKind::House),
        other => Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("'{other}' is not a base library: person, entity or house"),
        )),
    }
}

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
    let rows = library::find(
        &s.lake,
        kind,
        &text,
        q.limit.unwrap_or(50),
        clear_for(auth.who()),
    )
    .await?;
    audit(
        &s,
        &auth,
        "base.find",
        format!("base:{}", kind.as_str()),
        json!({"q": text, "rows": rows.len()}),
    )
    .await?;
    Ok(Json(rows))
}

/// A subject: golden record with provenance, earlier versions, timeline and source rows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubjectDetail {
    pub subject: SubjectView,
    pub timeline: Vec<EventView>,
    /// (resource, role, batch, row)
    pub records: Vec<[String; 4]>,
}

/// Loads a subject for a reader, or says it is not there.
pub async fn load(
    s: &AppState,
    who: &Principal,
    kind: SubjectKind,
    id: &str,
) -> ApiResult<SubjectDetail> {
    let clear = clear_for(who);
    let subject = library::subject(&s.lake, kind, id, clear)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::FusionNotFound,
                format!("no {} {id} in the base library", kind.as_str()),
            )
        })?;
    let timeline = library::timeline(&s.lake, kind, &subject.raw_key, clear).await?;
    let records = library::records(&s.lake, kind, &subject.raw_key).await?;
    Ok(SubjectDetail {
        subject,
        timeline,
        records,
    })
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
    let d = load(&s, auth.who(), kind, &id).await?;
    audit(
        &s,
        &auth,
        "base.read",
        format!("{}:{id}", kind.as_str()),
        json!({"clear": d.subject.clear}),
    )
    .await?;
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
        kind,
        &id,
        q.depth.unwrap_or(1),
        q.limit.unwrap_or(100),
    )
    .await?;
    audit(
        &s,
        &auth,
        "base.graph",
        format!("{}:{id}", kind.as_str()),
        json!({"nodes": g.nodes.len()}),
    )
    .await?;
    Ok(Json(g))
}

/// The neighbourhood of a subject named by its id.
pub async fn neighbourhood(
    s: &AppState,
    who: &Principal,
    kind: SubjectKind,
    id: &str,
    depth: usize,
    limit: usize,
) -> ApiResult<Graph> {
    let subject = library::subject(&s.lake, kind, id, false)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::FusionNotFound,
                format!("no {} {id} in the base library", kind.as_str()),
            )
        })?;
    Ok(library::neighbourhood(
        &s.lake,
        kind,
        &subject.raw_key,
        depth,
        limit,
        clear_for(who),
    )
    .await?)
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
    auth: Auth<SignedIn>,
    Query(q): Query<PathQuery>,
) -> ApiResult<Json<Graph>> {
    let (fk, tk) = (kind_of(&q.from_kind)?, kind_of(&q.to_kind)?);
    let not_found = |id: &str| {
        ApiError::new(
            ErrorCode::FusionNotFound,
            format!("no subject {id} in the base libraries"),
        )
    };
    let a = library::subject(&s.lake, fk, &q.from, false)
        .await?
        .ok_or_else(|| not_found(&q.from))?;
    let b = library::subject(&s.lake, tk, &q.to, false)
        .await?
        .ok_or_else(|| not_found(&q.to))?;
    let g = library::path(
        &s.lake,
        &a.raw_key,
        &b.raw_key,
        q.max_depth.unwrap_or(4),
        clear_for(auth.who()),
    )
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

/// Masks a review's evidence for a reader without the right.
pub fn masked_review(mut r: Review, clear: bool) -> Review {
    if clear {
        return r;
    }
    for side in ["record", "candidate"] {
        if let Some(o) = r.evidence[side].as_object_mut() {
            for (k, v) in o.iter_mut() {
                if let Some(t) = v.as_str() {
                    *v = Value::String(yishu_fusion::mask::mask(k, t));
                }
            }
        }
    }
    r.subject_key = yishu_fusion::mask::mask("subject_key", &r.subject_key);
    r
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

/// Propose or decide corrections: departments' officers and the bureau.
pub struct Correct;
impl Right for Correct {
    const ROLES: &'static [Role] = &[Role::ProviderOfficer, Role::DataManager];
    const NAME: &'static str = "correct";
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
    let subject = library::subject(&s.lake, kind, &id, false)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::FusionNotFound,
                format!("no {} {id} in the base library", kind.as_str()),
            )
        })?;
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
                    c.value = yishu_fusion::mask::mask(&c.attribute, &c.value);
                    c.subject_key = yishu_fusion::mask::mask("subject_key", &c.subject_key);
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

/// The lead department of a request, which alone confirms and decides it.
pub(crate) async fn lead_department(
    s: &AppState,
    who_org: yishu_types::OrgId,
    c: &Correction,
) -> ApiResult<()> {
    let own = s.store.get_org(who_org).await?;
    if own.code != c.to_org {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "only the lead department ({}) confirms and decides this request",
                c.to_org
            ),
        ));
    }
    Ok(())
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

/// Indicators (R24): each tag's count per division, and each event's count per month with the
/// month before (环比).
#[utoipa::path(get, path = "/api/v1/base/indicators", tag = "base", responses((status = 200, body = [library::Indicator])))]
pub async fn indicators(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<library::Indicator>>> {
    Ok(Json(library::indicator_table(&s.lake).await?))
}
