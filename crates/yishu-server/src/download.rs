//! Files handed to a browser: CSV with a BOM (so Excel reads the Chinese right), workbooks, and
//! their `Content-Disposition`.

use crate::error::{ApiError, ApiResult};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use yishu_types::ErrorCode;

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

/// A file download: its type, and a `Content-Disposition` that keeps a Chinese name.
pub(crate) fn file(
    content_type: &str,
    name: impl AsRef<str>,
    body: impl Into<axum::body::Body>,
) -> Response {
    let name = name.as_ref();
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    let disposition = if plain {
        format!("attachment; filename=\"{name}\"")
    } else {
        attachment_disposition(name)
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body.into(),
    )
        .into_response()
}

/// `Content-Disposition` for a download named `name` (Chinese names kept, RFC 5987), with a plain
/// ASCII fallback.
pub(crate) fn attachment_disposition(name: &str) -> String {
    let ext = std::path::Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_string())
        .filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into());
    format!(
        "attachment; filename=\"download.{ext}\"; filename*=UTF-8''{}",
        utf8_percent(name)
    )
}

/// RFC 5987 percent-encoding of a file name (every byte outside unreserved ASCII).
fn utf8_percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
