//! `/api/v1/rules` and a resource's rules and suggestions: quality rules written by departments,
//! reviewed by the bureau, versioned.

use crate::AppState;
use crate::app::access::readable;
use crate::app::audit::{actor, audit};
use crate::app::quality::check_body;
use crate::app::quality::suggestions;
use crate::auth::{Auth, Quality, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use yishu_meta::quality::*;
use yishu_quality::RuleDef;
use yishu_types::ErrorCode;

/// A resource's rules with their versions in effect and under review.
#[utoipa::path(get, path = "/api/v1/resources/{id}/rules", tag = "quality", responses((status = 200, body = [RuleView])))]
pub async fn rules_of(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<RuleView>>> {
    let r = readable(&s, auth.who(), id).await?;
    Ok(Json(s.store.rules_of(r.id).await?))
}

/// Creates a rule; it takes effect once its business and technical owners approve it.
#[utoipa::path(post, path = "/api/v1/rules", tag = "quality", request_body = NewRule, responses((status = 201, body = RuleView)))]
pub async fn create_rule(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    ValidJson(n): ValidJson<NewRule>,
) -> ApiResult<(StatusCode, Json<RuleView>)> {
    let v = crate::app::quality::create_rule(&s, &auth, &n).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// A rule with every version.
#[utoipa::path(get, path = "/api/v1/rules/{id}", tag = "quality", responses((status = 200, body = Object)))]
pub async fn rule(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let v = s.store.rule(id).await?;
    readable(&s, auth.who(), v.rule.resource_id).await?;
    let versions = s.store.rule_versions(id).await?;
    Ok(Json(json!({"rule": v, "versions": versions})))
}

/// Changes a rule: a new version under review; the one in effect stays until it is approved.
#[utoipa::path(put, path = "/api/v1/rules/{id}", tag = "quality", request_body = RuleBody, responses((status = 200, body = RuleView)))]
pub async fn revise_rule(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path(id): Path<i64>,
    ValidJson(b): ValidJson<RuleBody>,
) -> ApiResult<Json<RuleView>> {
    let v = s.store.rule(id).await?;
    let r = readable(&s, auth.who(), v.rule.resource_id).await?;
    check_body(&s, &r, &b, v.rule.purpose).await?;
    let v = s.store.revise_rule(id, &b, &actor(auth.who())).await?;
    audit(
        &s,
        &auth,
        "rule.revise",
        format!("rule:{id}"),
        json!({"definition": b.definition}),
    )
    .await?;
    Ok(Json(v))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// For an approval: business or technical.
    #[serde(default)]
    pub side: Option<ReviewSide>,
    /// For a rejection: why.
    #[serde(default)]
    pub note: String,
}

/// One owner's approval of a pending version.
#[utoipa::path(post, path = "/api/v1/rules/{id}/versions/{version}/approve", tag = "quality", request_body = Review, responses((status = 200, body = RuleView)))]
pub async fn approve_rule(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path((id, version)): Path<(i64, i64)>,
    ValidJson(r): ValidJson<Review>,
) -> ApiResult<Json<RuleView>> {
    let side = r
        .side
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidInput, "side: business or technical"))?;
    let v = s
        .store
        .approve_rule(id, version, side, &actor(auth.who()))
        .await?;
    audit(
        &s,
        &auth,
        "rule.approve",
        format!("rule:{id}"),
        json!({"version": version, "side": side}),
    )
    .await?;
    Ok(Json(v))
}

/// Turns a pending version down with a reason.
#[utoipa::path(post, path = "/api/v1/rules/{id}/versions/{version}/reject", tag = "quality", request_body = Review, responses((status = 200, body = RuleView)))]
pub async fn reject_rule(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path((id, version)): Path<(i64, i64)>,
    ValidJson(r): ValidJson<Review>,
) -> ApiResult<Json<RuleView>> {
    let v = s
        .store
        .reject_rule(id, version, &r.note, &actor(auth.who()))
        .await?;
    audit(
        &s,
        &auth,
        "rule.reject",
        format!("rule:{id}"),
        json!({"version": version, "note": r.note}),
    )
    .await?;
    Ok(Json(v))
}

/// Takes a rule out of effect.
#[utoipa::path(post, path = "/api/v1/rules/{id}/retire", tag = "quality", responses((status = 200, body = RuleView)))]
pub async fn retire_rule(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path(id): Path<i64>,
) -> ApiResult<Json<RuleView>> {
    let v = s.store.retire_rule(id, &actor(auth.who())).await?;
    audit(&s, &auth, "rule.retire", format!("rule:{id}"), json!({})).await?;
    Ok(Json(v))
}

/// Rules Yishu proposes from the resource's newest profile, for a person to accept (create the
/// rule) or discard.
#[utoipa::path(get, path = "/api/v1/resources/{id}/suggestions", tag = "quality", responses((status = 200, body = [yishu_quality::suggest::Suggestion])))]
pub async fn get_suggestions(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<yishu_quality::suggest::Suggestion>>> {
    let r = readable(&s, auth.who(), id).await?;
    Ok(Json(suggestions(&s, &r).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Discard {
    #[schema(value_type = Object)]
    pub definition: Value,
}

/// Discards a suggestion so it is not proposed again.
#[utoipa::path(post, path = "/api/v1/resources/{id}/suggestions/discard", tag = "quality", request_body = Discard, responses((status = 204)))]
pub async fn discard_suggestion(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path(id): Path<i64>,
    ValidJson(d): ValidJson<Discard>,
) -> ApiResult<StatusCode> {
    let r = readable(&s, auth.who(), id).await?;
    serde_json::from_value::<RuleDef>(d.definition.clone())
        .map_err(|e| ApiError::new(ErrorCode::RuleInvalid, format!("definition: {e}")))?;
    s.store
        .discard_suggestion(r.id, &d.definition, auth.who().user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
