//! `/api/v1/batches/{id}` and its rejected rows: `quarantine.csv` (UTF-8 with BOM, so Excel
//! opens it) and `quarantine.xlsx`, with line, reason and raw text, for the providing department
//! to fix and resend.

use crate::AppState;
use crate::app::access::may_read_raw;
use crate::app::access::visible_batch;
use crate::app::audit::audit;
use crate::app::batches::HEADINGS;
use crate::app::batches::rejected;
use crate::app::quality::PROFILE_HEADINGS;
use crate::app::quality::VIOLATION_HEADINGS;
use crate::app::quality::redact;
use crate::app::quality::violations;
use crate::auth::Quality;
use crate::auth::{Auth, Right, SignedIn};
use crate::download::csv_bytes;
use crate::download::file;
use crate::error::{ApiError, ApiResult};
use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;
use serde_json::json;
use yishu_meta::batch::Batch;
use yishu_meta::quality::*;
use yishu_quality::run::BatchQuality;
use yishu_types::ErrorCode;

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

/// Reads a batch's rejected rows for download, through the gate (audited as a read).
async fn download<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: &str,
) -> ApiResult<(Batch, Vec<[String; 6]>)> {
    let (b, r) = visible_batch(s, auth.who(), id).await?;
    let ch = auth.meta.channel("quarantine");
    let rows = rejected(s, auth.who(), &ch, (&b, &r), None).await?;
    Ok((b, rows))
}

/// Downloads the quarantined rows of one batch as CSV.
#[utoipa::path(get, path = "/api/v1/batches/{id}/quarantine.csv", tag = "collection",
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = crate::error::ErrorBody)))]
pub async fn quarantine_csv(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (b, rows) = download(&s, &auth, &id).await?;
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
    let (b, rows) = download(&s, &auth, &id).await?;
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

/// A batch's quality: profile, conformance to data elements, results per rule (with version).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchReport {
    /// `null` until the quality job has checked the batch.
    pub quality: Option<BatchQuality>,
    pub results: Vec<RuleResult>,
}

/// The profile and check results of one batch.
#[utoipa::path(get, path = "/api/v1/batches/{id}/quality", tag = "quality", responses((status = 200, body = BatchReport)))]
pub async fn batch_quality(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Json<BatchReport>> {
    let (b, r) = visible_batch(&s, auth.who(), &id).await?;
    let mut quality: Option<BatchQuality> = s
        .store
        .profile(&b.id)
        .await?
        .and_then(|p| serde_json::from_value(p.body).ok());
    if !may_read_raw(auth.who(), &r)
        && let Some(q) = quality.as_mut()
    {
        redact(q);
    }
    Ok(Json(BatchReport {
        quality,
        results: s.store.batch_results(&b.id).await?,
    }))
}

/// Profiles and checks a batch now (again), replacing its earlier results.
#[utoipa::path(post, path = "/api/v1/batches/{id}/check", tag = "quality", responses((status = 200, body = Object)))]
pub async fn check_now(
    State(s): State<AppState>,
    auth: Auth<Quality>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (b, r) = visible_batch(&s, auth.who(), &id).await?;
    if !may_read_raw(auth.who(), &r) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only the providing department and the bureau check its batches",
        ));
    }
    let q = yishu_quality::run::check_batch(&s.store, &s.lake, &b.id).await?;
    audit(
        &s,
        &auth,
        "quality.check",
        format!("resource:{}", r.code),
        json!({"batch": b.id}),
    )
    .await?;
    Ok(Json(
        json!({"records": q.profile.records, "violations": q.violations}),
    ))
}

/// Downloads a batch's violations as CSV (provider and bureau only; audited).
#[utoipa::path(get, path = "/api/v1/batches/{id}/violations.csv", tag = "quality",
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn violations_csv(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (b, r) = visible_batch(&s, auth.who(), &id).await?;
    let ch = auth.meta.channel("violations");
    let rows = violations(&s, auth.who(), &ch, (&b, &r), None).await?;
    let body = crate::download::csv_bytes(&VIOLATION_HEADINGS, &rows)?;
    Ok(crate::download::file(
        "text/csv; charset=utf-8",
        format!("violations-{}.csv", b.id),
        body,
    ))
}

/// Downloads a batch's profile as XLSX: one sheet per field, one for the table.
#[utoipa::path(get, path = "/api/v1/batches/{id}/profile.xlsx", tag = "quality",
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>)))]
pub async fn profile_xlsx(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (b, r) = visible_batch(&s, auth.who(), &id).await?;
    let mut q: BatchQuality = s
        .store
        .profile(&b.id)
        .await?
        .and_then(|p| serde_json::from_value(p.body).ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::QualityNotFound,
                format!("batch {id} has not been profiled yet"),
            )
        })?;
    if !may_read_raw(auth.who(), &r) {
        redact(&mut q);
    }
    let xerr = |e: rust_xlsxwriter::XlsxError| {
        ApiError::new(ErrorCode::Internal, format!("writing the workbook: {e}"))
    };
    let mut book = rust_xlsxwriter::Workbook::new();
    let head = rust_xlsxwriter::Format::new().set_bold();
    let pct = rust_xlsxwriter::Format::new().set_num_format("0.00%");
    let sheet = book.add_worksheet().set_name("字段探查").map_err(xerr)?;
    for (c, h) in PROFILE_HEADINGS.iter().enumerate() {
        sheet
            .write_with_format(0, c as u16, *h, &head)
            .map_err(xerr)?;
    }
    for (i, f) in q.profile.fields.iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write_string(row, 0, &f.name).map_err(xerr)?;
        let numbers = [
            f.records,
            f.missing,
            0,
            f.distinct,
            0,
            f.duplicate,
            0,
            f.zero,
            f.min_len,
        ];
        for (k, n) in numbers.iter().enumerate() {
            sheet.write(row, k as u16 + 1, *n as f64).map_err(xerr)?;
        }
        sheet
            .write_with_format(row, 3, f.missing_rate(), &pct)
            .map_err(xerr)?;
        sheet
            .write_with_format(row, 5, f.distinct_rate(), &pct)
            .map_err(xerr)?;
        sheet
            .write_with_format(row, 7, f.duplicate_rate(), &pct)
            .map_err(xerr)?;
        sheet.write(row, 10, f.avg_len).map_err(xerr)?;
        sheet.write(row, 11, f.max_len as f64).map_err(xerr)?;
        for (k, v) in [&f.min, &f.max, &f.mean].iter().enumerate() {
            sheet
                .write_string(row, 12 + k as u16, v.as_deref().unwrap_or_default())
                .map_err(xerr)?;
        }
        sheet
            .write_string(row, 15, format!("{:?}", f.inferred_type).to_lowercase())
            .map_err(xerr)?;
        let pattern = f
            .main_pattern()
            .map(|(p, share)| format!("{} {:.2}%", p.label_zh(), share * 100.0))
            .unwrap_or_default();
        sheet.write_string(row, 16, pattern).map_err(xerr)?;
    }
    let t = &q.profile;
    let table = book.add_worksheet().set_name("表级探查").map_err(xerr)?;
    let figures: [(&str, f64); 7] = [
        ("记录数", t.records as f64),
        ("字段数", t.fields.len() as f64),
        ("存储大小（字节）", t.bytes as f64),
        ("缺失元素数", t.missing_cells as f64),
        ("含缺失值的字段数", t.fields_with_missing as f64),
        ("全部缺失的字段数", t.all_missing_fields.len() as f64),
        ("重复记录数", t.duplicate_records as f64),
    ];
    for (i, (k, v)) in figures.iter().enumerate() {
        table
            .write_with_format(i as u32, 0, *k, &head)
            .map_err(xerr)?;
        table.write(i as u32, 1, *v).map_err(xerr)?;
    }
    // Each field across the resource's recent batches, oldest first (探查趋势).
    let trend = book.add_worksheet().set_name("字段趋势").map_err(xerr)?;
    for (c, h) in [
        "批次",
        "探查时间",
        "字段",
        "记录数",
        "缺失率",
        "唯一值率",
        "重复率",
    ]
    .iter()
    .enumerate()
    {
        trend
            .write_with_format(0, c as u16, *h, &head)
            .map_err(xerr)?;
    }
    let mut row = 1u32;
    for p in s.store.profiles(r.id, 30).await?.into_iter().rev() {
        let Ok(h) = serde_json::from_value::<BatchQuality>(p.body) else {
            continue;
        };
        for f in &h.profile.fields {
            trend.write_string(row, 0, &p.batch_id).map_err(xerr)?;
            trend
                .write_string(row, 1, crate::time::fmt_time(p.created_at))
                .map_err(xerr)?;
            trend.write_string(row, 2, &f.name).map_err(xerr)?;
            trend.write(row, 3, f.records as f64).map_err(xerr)?;
            let present = f.records - f.missing;
            for (k, v) in [
                f.missing_rate(),
                yishu_quality::profile::rate(f.distinct, present),
                f.duplicate_rate(),
            ]
            .into_iter()
            .enumerate()
            {
                trend
                    .write_with_format(row, 4 + k as u16, v, &pct)
                    .map_err(xerr)?;
            }
            row += 1;
        }
    }
    let body = book.save_to_buffer().map_err(xerr)?;
    Ok(crate::download::file(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        format!("profile-{}.xlsx", b.id),
        body,
    ))
}
