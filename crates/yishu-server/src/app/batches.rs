//! A batch's rejected rows, as the providing department reads them to fix and resend (read from
//! the quarantine layer by `yishu-ingest`, which owns it).

use crate::AppState;
use crate::app::access::raw_plan;
use crate::app::share::read_done;
use crate::error::ApiResult;
use yishu_meta::Principal;
use yishu_meta::batch::Batch;
use yishu_meta::catalog::Resource;
use yishu_share::audit::Channel;

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

/// The batch's rejected rows by line (at most `limit`), each as [`HEADINGS`]: raw lines, read
/// through the gate on the provider's or the bureau's standing and recorded as a read.
pub(crate) async fn rejected(
    s: &AppState,
    who: &Principal,
    ch: &Channel,
    (b, r): (&Batch, &Resource),
    limit: Option<usize>,
) -> ApiResult<Vec<[String; 6]>> {
    let plan = raw_plan(s, who, ch, r).await?;
    let table = yishu_ingest::table_name(r);
    let rows = yishu_ingest::quarantine::rejected(&s.lake, &table, &b.id, limit).await?;
    read_done(s, who, ch, &plan, rows.len(), &[]).await?;
    Ok(rows)
}
