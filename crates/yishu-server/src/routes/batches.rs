//! `/api/v1/batches/{id}/quarantine.csv`: a batch's rejected rows — line, reason and raw text — as
//! a CSV (UTF-8 with BOM, so Excel opens it) for the providing department to fix and resend.

use crate::AppState;
use crate::auth::{Auth, SignedIn};
use crate::error::{ApiError, ApiResult};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use yishu_lake::arrow::array::{Array, StringArray};
use yishu_lake::arrow::compute::cast;
use yishu_lake::arrow::datatypes::DataType;
use yishu_types::{ErrorCode, Role};

/// Downloads the quarantined rows of one batch.
#[utoipa::path(get, path = "/api/v1/batches/{id}/quarantine.csv", tag = "collection",
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = crate::error::ErrorBody)))]
pub async fn quarantine_csv(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let not_found = || ApiError::new(ErrorCode::InvalidInput, format!("no batch {id}"));
    if !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(not_found());
    }
    let b = s.store.get_batch(&id).await.map_err(|_| not_found())?;
    let r = s.store.get_resource(b.resource_id).await?;
    let p = auth.who();
    // Raw rejected rows may hold personal data: the provider and the bureau only.
    if !(p.org_id == r.meta.provider_org_id || p.has(Role::Admin) || p.has(Role::DataManager)) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only the providing department and the bureau may read rejected rows",
        ));
    }
    let table = yishu_ingest::table_name(&r);
    let ctx = s.lake.session().await?;
    let mut out = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let write_err = |e: csv::Error| ApiError::new(ErrorCode::Internal, format!("csv: {e}"));
    out.write_record(["行号", "原因代码", "原因", "来源", "原始内容"])
        .map_err(write_err)?;
    let mut rows = 0;
    if ctx
        .table_exist(format!("quarantine.{table}").as_str())
        .unwrap_or(false)
    {
        // The id was checked above to be hex digits and dashes, and exists in the store.
        let sql = format!(
            "SELECT CAST(line AS VARCHAR), reason_code, reason, _source_ref, raw FROM quarantine.{table} WHERE _batch_id = '{}' ORDER BY line",
            b.id
        );
        for batch in yishu_lake::query(&ctx, &sql).await? {
            let cols: Vec<StringArray> = batch
                .columns()
                .iter()
                .map(|c| {
                    cast(c, &DataType::Utf8)
                        .ok()
                        .and_then(|a| a.as_any().downcast_ref::<StringArray>().cloned())
                        .unwrap_or_else(|| StringArray::new_null(c.len()))
                })
                .collect();
            for i in 0..batch.num_rows() {
                out.write_record(
                    cols.iter()
                        .map(|c| if c.is_null(i) { "" } else { c.value(i) }),
                )
                .map_err(write_err)?;
                rows += 1;
            }
        }
    }
    let body = out
        .into_inner()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("csv: {e}")))?;
    s.store
        .audit(&auth.meta.entry(
            Some(p),
            "quarantine.download",
            format!("resource:{}", r.code),
            "ok",
            json!({"batch": b.id, "rows": rows}).to_string(),
        ))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"quarantine-{}.csv\"", b.id),
            ),
        ],
        body,
    )
        .into_response())
}
