//! A batch's rejected rows, as the providing department reads them to fix and resend (read from
//! the quarantine layer by `yishu-ingest`, which owns it).

use crate::AppState;
use crate::error::ApiResult;
use yishu_meta::batch::Batch;
use yishu_meta::catalog::Resource;

pub use yishu_ingest::quarantine::HEADINGS;

/// How many of a batch's rows were rejected for each reason code, most frequent first.
pub(crate) async fn reason_counts(
    s: &AppState,
    b: &Batch,
    r: &Resource,
) -> ApiResult<Vec<(String, i64)>> {
    let table = yishu_ingest::table_name(r);
    Ok(yishu_ingest::quarantine::reason_counts(&s.lake, &table, &b.id).await?)
}

/// The batch's rejected rows by line (at most `limit`), each as [`HEADINGS`].
pub(crate) async fn rejected(
    s: &AppState,
    b: &Batch,
    r: &Resource,
    limit: Option<usize>,
) -> ApiResult<Vec<[String; 6]>> {
    let table = yishu_ingest::table_name(r);
    Ok(yishu_ingest::quarantine::rejected(&s.lake, &table, &b.id, limit).await?)
}
