//! `/api/v1/batches/{id}` and its rejected rows: `quarantine.csv` (UTF-8 with BOM, so Excel
//! opens it) and `quarantine.xlsx`, with line, reason and raw text, for the providing department
//! to fix and resend.

use crate::AppState;
use crate::auth::{Auth, Right, SignedIn};
use crate::error::{ApiError, ApiResult};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use yishu_lake::arrow::array::{Array, StringArray};
use yishu_lake::arrow::compute::cast;
use yishu_lake::arrow::datatypes::DataType;
use yishu_meta::Principal;
use yishu_meta::batch::Batch;
use yishu_meta::catalog::Resource;
use yishu_types::{ErrorCode, Role};

/// Headings of a rejected row, in the order [`rejected`] gives its fields.
pub const HEADINGS: [&str; 6] = ["行号", "原因代码", "原因说明", "原因", "来源", "原始内容"];

/// A batch by id, and its resource, if `p` may see the resource.
pub(crate) async fn visible_batch(
    s: &AppState,
    p: &Principal,
    id: &str,
) -> ApiResult<(Batch, Resource)> {
    let not_found = || ApiError::new(ErrorCode::BatchNotFound, format!("no batch {id}"));
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(not_found());
    }
    let b = s.store.get_batch(id).await.map_err(|_| not_found())?;
    let r = crate::routes::resources::readable(s, p, b.resource_id)
        .await
        .map_err(|_| not_found())?;
    Ok((b, r))
}

/// Raw rows (rejected ones, samples) may hold personal data: the provider and the bureau only.
pub(crate) fn may_read_raw(p: &Principal, r: &Resource) -> bool {
    p.org_id == r.meta.provider_org_id || p.has(Role::Admin) || p.has(Role::DataManager)
}

/// Runs `sql` over a batch's rows in quarantine, `{rejected}` standing for its FROM/WHERE; no
/// rows when the resource has no quarantine table yet.
async fn rejected_query(
    s: &AppState,
    b: &Batch,
    r: &Resource,
    sql: &str,
) -> ApiResult<Vec<yishu_lake::arrow::array::RecordBatch>> {
    let table = yishu_ingest::table_name(r);
    let ctx = s.lake.session().await?;
    if !ctx
        .table_exist(format!("quarantine.{table}").as_str())
        .unwrap_or(false)
    {
        return Ok(Vec::new());
    }
    // The id was checked to be hex digits and dashes, and to exist in the store.
    let from = format!("FROM quarantine.{table} WHERE _batch_id = '{}'", b.id);
    Ok(yishu_lake::query(&ctx, &sql.replace("{rejected}", &from)).await?)
}

/// How many of a batch's rows were rejected for each reason code, most frequent first (counted
/// in the lake, so a batch with a million rejected rows costs no memory here).
pub(crate) async fn reason_counts(
    s: &AppState,
    b: &Batch,
    r: &Resource,
) -> ApiResult<Vec<(String, i64)>> {
    let sql = "SELECT reason_code, COUNT(*) AS n {rejected} GROUP BY reason_code ORDER BY n DESC, reason_code";
    let mut out = Vec::new();
    for batch in rejected_query(s, b, r, sql).await? {
        let codes = cast(batch.column(0), &DataType::Utf8)
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("reasons: {e}")))?;
        let codes = codes.as_any().downcast_ref::<StringArray>();
        let counts = batch
            .column(1)
            .as_any()
            .downcast_ref::<yishu_lake::arrow::array::Int64Array>();
        if let (Some(codes), Some(counts)) = (codes, counts) {
            for i in 0..batch.num_rows() {
                out.push((codes.value(i).to_string(), counts.value(i)));
            }
        }
    }
    Ok(out)
}

/// The batch's rejected rows by line (at most `limit`), each as [`HEADINGS`].
pub(crate) async fn rejected(
    s: &AppState,
    b: &Batch,
    r: &Resource,
    limit: Option<usize>,
) -> ApiResult<Vec<[String; 6]>> {
    let mut out = Vec::new();
    let sql = format!(
        "SELECT CAST(line AS VARCHAR) AS line_no, reason_code, reason, _source_ref, raw {} ORDER BY line{}",
        "{rejected}",
        limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default()
    );
    for batch in rejected_query(s, b, r, &sql).await? {
        for row in text_rows(&batch) {
            let text = |k: usize| row.get(k).cloned().unwrap_or_default();
            let code = text(1);
            let label = yishu_ingest::rows::reason_zh(&code).to_string();
            out.push([text(0), code, label, text(2), text(3), text(4)]);
        }
    }
    Ok(out)
}

/// A query result's rows as text cells (nulls as empty text).
pub(crate) fn text_rows(batch: &yishu_lake::arrow::array::RecordBatch) -> Vec<Vec<String>> {
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
    (0..batch.num_rows())
        .map(|i| {
            cols.iter()
                .map(|c| {
                    if c.is_null(i) {
                        String::new()
                    } else {
                        c.value(i).to_string()
                    }
                })
                .collect()
        })
        .collect()
}

/// CSV bytes with a BOM (so Excel reads the Chinese right): headings, then rows.
pub(crate) fn csv_bytes<R: AsRef<[String]>>(headings: &[&str], rows: &[R]) -> ApiResult<Vec<u8>> {
    let mut out = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let write_err = |e: csv::Error| ApiError::new(ErrorCode::Internal, format!("csv: {e}"));
    out.write_record(headings).map_err(write_err)?;
    for row in rows {
        out.write_record(row.as_ref()).map_err(write_err)?;
    }
    out.into_inner()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("csv: {e}")))
}

/// One batch: counts, status, source, drift.
#[utoipa::path(get, path = "/api/v1/batches/{id}", tag = "collection",
    responses((status = 200, body = Batch), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Json<Batch>> {
    Ok(Json(visible_batch(&s, auth.who(), &id).await?.0))
}

/// Reads a batch's rejected rows for download, checking the right and auditing.
async fn download<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: &str,
    format: &str,
) -> ApiResult<(Batch, Vec<[String; 6]>)> {
    let (b, r) = visible_batch(s, auth.who(), id).await?;
    if !may_read_raw(auth.who(), &r) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only the providing department and the bureau may read rejected rows",
        ));
    }
    let rows = rejected(s, &b, &r, None).await?;
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "quarantine.download",
            format!("resource:{}", r.code),
            "ok",
            json!({"batch": b.id, "rows": rows.len(), "format": format}).to_string(),
        ))
        .await?;
    Ok((b, rows))
}

pub(crate) fn file(content_type: &str, name: String, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// Downloads the quarantined rows of one batch as CSV.
#[utoipa::path(get, path = "/api/v1/batches/{id}/quarantine.csv", tag = "collection",
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = crate::error::ErrorBody)))]
pub async fn quarantine_csv(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (b, rows) = download(&s, &auth, &id, "csv").await?;
    let body = csv_bytes(&HEADINGS, &rows)?;
    Ok(file(
        "text/csv; charset=utf-8",
        format!("quarantine-{}.csv", b.id),
        body,
    ))
}

/// Downloads the quarantined rows of one batch as an XLSX workbook (raw text kept as text).
#[utoipa::path(get, path = "/api/v1/batches/{id}/quarantine.xlsx", tag = "collection",
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>), (status = 404, body = crate::error::ErrorBody)))]
pub async fn quarantine_xlsx(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (b, rows) = download(&s, &auth, &id, "xlsx").await?;
    let xerr = |e: rust_xlsxwriter::XlsxError| {
        ApiError::new(ErrorCode::Internal, format!("writing the workbook: {e}"))
    };
    let mut book = rust_xlsxwriter::Workbook::new();
    let head = rust_xlsxwriter::Format::new().set_bold();
    let sheet = book.add_worksheet().set_name("隔离数据").map_err(xerr)?;
    for (c, h) in HEADINGS.iter().enumerate() {
        sheet
            .write_with_format(0, c as u16, *h, &head)
            .map_err(xerr)?;
        sheet
            .set_column_width(c as u16, if c == 5 { 60 } else { 18 })
            .map_err(xerr)?;
    }
    for (i, row) in rows.iter().enumerate() {
        let at = u32::try_from(i + 1)
            .map_err(|_| ApiError::new(ErrorCode::InvalidInput, "too many rows for one sheet"))?;
        for (c, v) in row.iter().enumerate() {
            // A cell holds at most 32,767 characters; the CSV keeps the whole raw text.
            let v: String = v.chars().take(32_000).collect();
            match (c, v.parse::<f64>()) {
                (0, Ok(n)) => sheet.write(at, 0, n).map_err(xerr)?,
                _ => sheet.write_string(at, c as u16, v).map_err(xerr)?,
            };
        }
    }
    let body = book.save_to_buffer().map_err(xerr)?;
    Ok(file(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        format!("quarantine-{}.xlsx", b.id),
        body,
    ))
}
