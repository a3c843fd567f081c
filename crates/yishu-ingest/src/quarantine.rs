//! Reading a batch's rejected rows back from `quarantine.<table>`, for the providing department
//! to fix and resend: by line, and counted per reason (in the lake, so a batch with a million
//! rejected rows costs no memory here).

use crate::rows::reason_zh;
use yishu_lake::arrow::array::{Array, Int64Array};
use yishu_lake::datafusion::functions_aggregate::expr_fn::count;
use yishu_lake::datafusion::prelude::{col, lit};
use yishu_lake::lineage::{BATCH_ID, SOURCE_REF};
use yishu_lake::{Lake, Layer, TextQuery, text_rows};
use yishu_types::{Error, ErrorCode};

/// Headings of a rejected row, in the order [`rejected`] gives its fields.
pub const HEADINGS: [&str; 6] = ["行号", "原因代码", "原因说明", "原因", "来源", "原始内容"];

/// A batch's rejected rows by line (at most `limit`), each as [`HEADINGS`].
pub async fn rejected(
    lake: &Lake,
    table: &str,
    batch_id: &str,
    limit: Option<usize>,
) -> Result<Vec<[String; 6]>, Error> {
    let q = TextQuery::new(Layer::Quarantine, table)
        .filter(col(BATCH_ID).eq(lit(batch_id)))
        .order(vec![col("line").sort(true, false)])
        .limit(limit)
        .columns(&["line", "reason_code", "reason", SOURCE_REF, "raw"]);
    Ok(lake
        .text(q)
        .await?
        .rows
        .into_iter()
        .map(|row| {
            let text = |k: usize| row.get(k).cloned().unwrap_or_default();
            let code = text(1);
            let label = reason_zh(&code).to_string();
            [text(0), code, label, text(2), text(3), text(4)]
        })
        .collect())
}

/// How many of a batch's rows were rejected for each reason code, most frequent first.
pub async fn reason_counts(
    lake: &Lake,
    table: &str,
    batch_id: &str,
) -> Result<Vec<(String, i64)>, Error> {
    let what = format!("cannot count the rejected rows of quarantine.{table}");
    let err = |e| Error::new(ErrorCode::LakeError, format!("{what}: {e}"));
    let Some(frame) = lake.frame(Layer::Quarantine, table).await? else {
        return Ok(Vec::new());
    };
    let counted = frame
        .filter(col(BATCH_ID).eq(lit(batch_id)))
        .and_then(|f| f.aggregate(vec![col("reason_code")], vec![count(lit(1)).alias("n")]))
        .and_then(|f| {
            f.sort(vec![
                col("n").sort(false, true),
                col("reason_code").sort(true, false),
            ])
        })
        .map_err(err)?
        .collect()
        .await
        .map_err(err)?;
    let mut out = Vec::new();
    for b in &counted {
        let codes = text_rows(b);
        let Some(n) = b.column(1).as_any().downcast_ref::<Int64Array>() else {
            continue;
        };
        for (i, code) in codes.into_iter().enumerate() {
            if !n.is_null(i) {
                out.push((code.into_iter().next().unwrap_or_default(), n.value(i)));
            }
        }
    }
    Ok(out)
}
