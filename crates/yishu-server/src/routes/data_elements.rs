//! `/api/v1/data-elements`: the registry of data elements (数据元, R11) the bureau keeps.

use crate::AppState;
use crate::app::audit::audit;
use crate::auth::{Auth, ManageStandards, SignedIn};
use crate::error::{ApiError, ApiResult};
use crate::json::ValidJson;
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use yishu_meta::quality::*;
use yishu_types::ErrorCode;

/// Every data element at its newest version.
#[utoipa::path(get, path = "/api/v1/data-elements", tag = "quality", responses((status = 200, body = [DataElement])))]
pub async fn data_elements(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
) -> ApiResult<Json<Vec<DataElement>>> {
    Ok(Json(s.store.data_elements().await?))
}

/// Every version of one data element, oldest first.
#[utoipa::path(get, path = "/api/v1/data-elements/{identifier}", tag = "quality", responses((status = 200, body = [DataElement])))]
pub async fn data_element(
    State(s): State<AppState>,
    _auth: Auth<SignedIn>,
    Path(identifier): Path<String>,
) -> ApiResult<Json<Vec<DataElement>>> {
    let v = s.store.data_element_versions(&identifier).await?;
    if v.is_empty() {
        return Err(ApiError::new(
            ErrorCode::QualityNotFound,
            format!("no data element '{identifier}'"),
        ));
    }
    Ok(Json(v))
}

/// Saves a data element; a change makes a new version.
#[utoipa::path(post, path = "/api/v1/data-elements", tag = "quality", request_body = NewDataElement, responses((status = 200, body = DataElement)))]
pub async fn put_data_element(
    State(s): State<AppState>,
    auth: Auth<ManageStandards>,
    ValidJson(d): ValidJson<NewDataElement>,
) -> ApiResult<Json<DataElement>> {
    if let Some(t) = d.domain.get("code_table").and_then(Value::as_str)
        && yishu_types::codes::table(t).is_none()
        && s.store.code_table(t).await.is_err()
    {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("domain: no code table '{t}'"),
        ));
    }
    if let Some(re) = d.domain.get("regex").and_then(Value::as_str) {
        yishu_quality::rule::compile_regex(re)
            .map_err(|e| ApiError::new(ErrorCode::InvalidInput, format!("domain: {e}")))?;
    }
    let de = s
        .store
        .put_data_element(&d, Some(auth.who().user_id))
        .await?;
    audit(
        &s,
        &auth,
        "standard.data_element",
        format!("data_element:{}", de.identifier),
        json!({"version": de.version}),
    )
    .await?;
    Ok(Json(de))
}
