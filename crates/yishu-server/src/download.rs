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

/// CSV line(s) of text cells.
fn csv_lines(rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        // Writing to memory cannot fail.
        let _ = w.write_record(r);
    }
    w.into_inner().unwrap_or_default()
}

/// What runs once the last row of a streamed download is out, with the rows sent.
pub(crate) type OnEnd = Box<dyn FnOnce(u64) -> futures::future::BoxFuture<'static, ()> + Send>;

/// A body streaming `rows` as `format` (`csv`: UTF-8 with BOM and a heading row; `json`: an
/// array of objects by item), chunk by chunk, calling `on_end` with the count when done.
pub(crate) fn streamed(
    format: &'static str,
    items: Vec<String>,
    rows: yishu_share::read::Rows,
    on_end: OnEnd,
) -> axum::body::Body {
    use axum::body::Bytes;
    use futures::StreamExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let head = if format == "json" {
        b"[".to_vec()
    } else {
        let mut h = vec![0xEF, 0xBB, 0xBF];
        h.extend(csv_lines(std::slice::from_ref(&items)));
        h
    };
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let body = rows.map(move |chunk| {
        chunk
            .map(|rows| {
                let before = counted.fetch_add(rows.len() as u64, Ordering::Relaxed);
                if format == "json" {
                    json_objects(&items, &rows, before == 0)
                } else {
                    Bytes::from(csv_lines(&rows))
                }
            })
            .map_err(|e| std::io::Error::other(e.message))
    });
    let done = futures::stream::once(async move {
        let n = count.load(Ordering::Relaxed);
        on_end(n).await;
        Ok::<_, std::io::Error>(Bytes::from_static(if format == "json" {
            b"]\n"
        } else {
            b""
        }))
    });
    axum::body::Body::from_stream(
        futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(head)) })
            .chain(body)
            .chain(done),
    )
}

/// Rows as JSON objects by item, comma-separated (`first`: no comma before the first).
fn json_objects(items: &[String], rows: &[Vec<String>], first: bool) -> axum::body::Bytes {
    let mut out = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        if !(first && n == 0) {
            out.push(b',');
        }
        let obj: serde_json::Map<String, serde_json::Value> = items
            .iter()
            .zip(row)
            .map(|(i, v)| (i.clone(), serde_json::Value::String(v.clone())))
            .collect();
        // Serialising a map of strings cannot fail.
        let _ = serde_json::to_writer(&mut out, &obj);
        out.push(b'\n');
    }
    axum::body::Bytes::from(out)
}

/// `rows` written as a workbook or Parquet file into a temporary file: its row count and a body
/// streaming it (the file lives as long as the body).
pub(crate) async fn written(
    format: yishu_share::files::FileFormat,
    items: &[String],
    rows: yishu_share::read::Rows,
) -> ApiResult<(u64, axum::body::Body)> {
    use axum::body::Bytes;
    use tokio::io::AsyncReadExt;
    let tmp = tempfile::NamedTempFile::new()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("temporary file: {e}")))?;
    let n = yishu_share::files::write(format, items, rows, tmp.path()).await?;
    let file = tokio::fs::File::open(tmp.path())
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("temporary file: {e}")))?;
    let body = futures::stream::unfold((file, tmp), |(mut file, tmp)| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(k) => {
                buf.truncate(k);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), (file, tmp)))
            }
            Err(e) => Some((Err(e), (file, tmp))),
        }
    });
    Ok((n, axum::body::Body::from_stream(body)))
}
