//! `/api/v1/verifications/{library}` (核验, R31): a department sends what it holds about up to
//! 10,000 subjects and learns per item whether the base library agrees — never a value. The
//! call rests on a grant for `verify:<library>` (or the bureau's own standing), goes through
//! the one gate and is one record of the read audit: the items compared and how many records,
//! never the values sent.

use crate::AppState;
use crate::app::compare::{self, CompareBody, Comparison};
use crate::auth::{Auth, SignedIn};
use crate::error::ApiResult;
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use yishu_share::verify::{Claim, Verification};

/// The largest body a verification takes: 10,000 records of a key and a few items.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Body of a verification: the records as the caller holds them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// Up to 10,000 records: `{"key": "<公民身份号码>", "items": {"姓名": "…", "出生日期": "…"}}`.
    pub records: Vec<Claim>,
}

/// Verifies records against a base library (`population`, `entities`, `houses`): per record
/// whether the subject is there, per item match, mismatch or no value — never the value.
#[utoipa::path(post, path = "/api/v1/verifications/{library}", tag = "services", request_body = VerifyBody,
    params(("library" = String, Path, description = "population, entities or houses")),
    responses((status = 200, body = Verification), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "no grant for verify:<library>, or an item it does not name"),
        (status = 429, body = crate::error::ErrorBody, description = "over the grant's limits; see Retry-After")))]
pub async fn verify(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(library): Path<String>,
    ValidJson(body): ValidJson<VerifyBody>,
) -> ApiResult<Json<Verification>> {
    let ch = auth.meta.channel("verify");
    Ok(Json(
        compare::verify(&s, auth.who(), &ch, &library, &body.records).await?,
    ))
}

/// Batch comparison (批量比对): each row linked to a population subject by key, by the
/// fusion's model or not at all — with the class, the probability and the evidence — and the
/// subject's granted items as the grant shows them. It rests on a grant for
/// `base:population` (or the bureau's standing) and is one record of the read audit.
#[utoipa::path(post, path = "/api/v1/comparisons/population", tag = "services", request_body = CompareBody,
    responses((status = 200, body = Comparison), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "no grant for base:population"),
        (status = 429, body = crate::error::ErrorBody, description = "over the grant's limits; see Retry-After")))]
pub async fn compare(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    ValidJson(body): ValidJson<CompareBody>,
) -> ApiResult<Json<Comparison>> {
    let who = auth.who();
    let ch = auth.meta.channel("compare");
    Ok(Json(compare::compare(&s, who, &ch, &body).await?))
}
