//! Subscriptions (订阅, R27): a grant's new rows delivered into the consumer's own database
//! table or drop directory, exactly once. A delivery reads what changed since the cursor the
//! destination holds — the std batches committed since, or the base library's versions valid
//! since — through the grant's plan (items, row filter, masks), and writes it together with the
//! new cursor in the destination's own transaction: a crash anywhere leaves the destination as
//! it was, and the next delivery starts from where the last one ended.
//!
//! What a destination receives is a stream of operations on rows keyed by `_key`: a std row's
//! key is its batch (a batch cleaned again replaces its rows), a base row's key is its subject
//! as a digest only this department can compute (a changed subject replaces its row, a subject
//! gone or moved outside the grant's filter is deleted).

mod sink;

pub use sink::{Destination, DropFormat, check_table};

use crate::gate::ReadPlan;
use crate::mask::Mask;
use crate::read::{lake_err, mask_row, narrow};
use crate::target::Target;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use yishu_fusion::schema::{VALID_AT, history_table};
use yishu_lake::datafusion::prelude::{Expr, col, lit};
use yishu_lake::datafusion::scalar::ScalarValue;
use yishu_lake::lineage::BATCH_ID;
use yishu_lake::{Lake, Layer, text_rows};
use yishu_types::{Error, ErrorCode};

/// The column every delivered row is keyed by.
pub const KEY: &str = "_key";

/// Where a destination stands: the source's version it has, and for a base library the time
/// up to which its versions are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub v: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<i64>,
}

/// A delivered column's type in the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Number,
    Date,
    DateTime,
}

impl ColumnType {
    /// The type an item of catalog type `letter` arrives as: typed only when it is shown in
    /// clear (a masked date is no date).
    pub fn of(letter: &str, clear: bool) -> ColumnType {
        match (letter, clear) {
            (_, false) => ColumnType::Text,
            ("N" | "Y" | "I" | "F", _) => ColumnType::Number,
            ("D", _) => ColumnType::Date,
            ("T", _) => ColumnType::DateTime,
            _ => ColumnType::Text,
        }
    }
}

/// What a subscription reads: the grant's target as its plan shows it.
pub struct Feed<'a> {
    pub lake: &'a Lake,
    pub target: &'a Target,
    /// The lake table of the target (std for a resource, base for a library).
    pub table: &'a str,
    pub plan: &'a ReadPlan,
    /// Catalog type letters of a resource's items (none for a base library: all text).
    pub types: &'a BTreeMap<String, String>,
}

impl Feed<'_> {
    fn layer(&self) -> Layer {
        layer_of(self.target)
    }

    /// The columns the destination gets: the key, then the plan's items.
    pub fn columns(&self) -> Vec<(String, ColumnType)> {
        std::iter::once((KEY.to_string(), ColumnType::Text))
            .chain(self.plan.items.iter().map(|i| {
                let letter = self.types.get(i).map(String::as_str).unwrap_or("C");
                (i.clone(), ColumnType::of(letter, self.plan.is_clear(i)))
            }))
            .collect()
    }
}

/// What changed since a cursor.
struct Change {
    version: u64,
    /// The destination is emptied first (first delivery, or the log cannot say what changed).
    full: bool,
    /// Keys whose rows go before the new ones come.
    deletes: Vec<String>,
    /// Which rows of the version are sent (`None`: all the plan shows).
    only: Option<Expr>,
    cursor: Cursor,
}

/// What one delivery did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Delivered {
    /// Rows written.
    pub rows: u64,
    /// Keys whose rows were taken away first.
    pub deleted: u64,
    /// Whether the destination was filled anew.
    pub full: bool,
    /// The source version the destination now has (`None`: nothing to deliver yet).
    pub version: Option<u64>,
    /// Whether anything was new.
    pub changed: bool,
}

/// Delivers what is new for `feed` into `dest`, keyed in the destination by `uid`.
pub async fn deliver(feed: &Feed<'_>, dest: &Destination, uid: &str) -> Result<Delivered, Error> {
    let (layer, source) = (feed.layer(), feed.table);
    let columns = feed.columns();
    let mut sink = sink::Sink::open(dest, uid, &columns).await?;
    let at = sink.cursor();
    let Some(change) = changes(feed, layer, source, at).await? else {
        sink.abandon().await;
        return Ok(Delivered {
            version: at.map(|c| c.v),
            ..Delivered::default()
        });
    };
    if change.full {
        sink.truncate().await?;
    }
    sink.delete(&change.deletes).await?;
    let what = format!("cannot read {layer}.{source}");
    let df = feed.lake.frame_at(layer, source, change.version).await?;
    let lead = match layer {
        Layer::Base => "subject_id",
        _ => BATCH_ID,
    };
    let df = narrow(df, feed.plan, change.only.clone(), Some(lead), &what)?;
    let stream = df.execute_stream().await.map_err(lake_err(&what))?;
    let plan = feed.plan.clone();
    let base = layer == Layer::Base;
    let rows = stream.map(move |b| {
        let b = b.map_err(|e| Error::new(ErrorCode::LakeError, format!("cannot read on: {e}")))?;
        Ok(text_rows(&b)
            .into_iter()
            .map(|mut r| {
                let lead = r.remove(0);
                let key = if base {
                    subject_token(&plan, &lead)
                } else {
                    lead
                };
                let mut out = Vec::with_capacity(r.len() + 1);
                out.push(key);
                out.extend(mask_row(&plan, r));
                out
            })
            .collect::<Vec<_>>())
    });
    let n = sink.insert(rows.boxed()).await?;
    sink.commit(change.cursor, n).await?;
    Ok(Delivered {
        rows: n,
        deleted: change.deletes.len() as u64,
        full: change.full,
        version: Some(change.version),
        changed: true,
    })
}

/// Where a subscribed target's rows are: a base library's in base, a resource's in std.
fn layer_of(target: &Target) -> Layer {
    match target {
        Target::Base(_) => Layer::Base,
        _ => Layer::Std,
    }
}

/// A base subject's key in a destination: its opaque id as a digest keyed by the consumer
/// department (stable across deliveries, meaningless to another department).
fn subject_token(plan: &ReadPlan, subject_id: &str) -> String {
    plan.masker.apply(Mask::Hash, "subject_id", subject_id)
}

/// How far behind a destination at `cursor` is: the source's newest version and, when the
/// destination lacks some, the time (ms) of the first commit it lacks.
pub async fn lag(
    lake: &Lake,
    target: &Target,
    table: &str,
    cursor: Option<u64>,
) -> Result<(Option<u64>, Option<i64>), Error> {
    let layer = layer_of(target);
    let Some(newest) = lake.version(layer, table).await? else {
        return Ok((None, None));
    };
    let first = match cursor {
        Some(c) if c >= newest => return Ok((Some(newest), None)),
        Some(c) => c + 1,
        None => 0,
    };
    let at = lake
        .commit_infos(layer, table, first.saturating_sub(1), first)
        .and_then(|i| {
            i.last()
                .and_then(|c| c.get("timestamp"))
                .and_then(|t| t.as_i64())
        });
    Ok((Some(newest), at.or(Some(yishu_meta::now_ms()))))
}

/// What changed in `layer.table` since `cursor`; `None` when nothing did.
async fn changes(
    feed: &Feed<'_>,
    layer: Layer,
    table: &str,
    cursor: Option<Cursor>,
) -> Result<Option<Change>, Error> {
    let Some(version) = feed.lake.version(layer, table).await? else {
        return Ok(None);
    };
    if cursor.is_some_and(|c| c.v == version) {
        return Ok(None);
    }
    let full = |t: Option<i64>| Change {
        version,
        full: true,
        deletes: Vec::new(),
        only: None,
        cursor: Cursor { v: version, t },
    };
    match layer {
        Layer::Base => {
            let t_new = valid_at(feed, table, version).await?;
            let Some(t) = cursor.and_then(|c| c.t) else {
                return Ok(Some(full(Some(t_new))));
            };
            base_changes(feed, table, version, t, t_new).await.map(Some)
        }
        _ => {
            let Some(c) = cursor else {
                return Ok(Some(full(None)));
            };
            let Some(batches) = feed
                .lake
                .commit_infos(layer, table, c.v, version)
                .and_then(|infos| changed_batches(&infos))
            else {
                return Ok(Some(full(None)));
            };
            let list: Vec<Expr> = batches.iter().map(|b| lit(b.clone())).collect();
            Ok(Some(Change {
                version,
                full: false,
                only: Some(if list.is_empty() {
                    lit(false)
                } else {
                    col(BATCH_ID).in_list(list, false)
                }),
                deletes: batches.into_iter().collect(),
                cursor: Cursor {
                    v: version,
                    t: None,
                },
            }))
        }
    }
}

/// The batches a run of std commits wrote or took away; `None` when one of them did something
/// else (a table rewritten whole), which only a full delivery follows.
fn changed_batches(
    infos: &[serde_json::Map<String, serde_json::Value>],
) -> Option<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for info in infos {
        if let Some(b) = info.get("batch_id").and_then(|b| b.as_str()) {
            out.insert(b.to_string());
        } else if let Some(b) = info
            .get("deleted")
            .and_then(|d| d.get(BATCH_ID))
            .and_then(|b| b.as_str())
        {
            out.insert(b.to_string());
        } else {
            // Compaction and vacuum change files, not rows.
            match info.get("operation").and_then(|o| o.as_str()) {
                Some("OPTIMIZE" | "VACUUM START" | "VACUUM END") => {}
                _ => return None,
            }
        }
    }
    Some(out)
}

fn timestamp(us: i64) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(us),
        Some("UTC".into()),
    ))
}

/// The time a base library's `version` is valid from: the run's time in its commit, or (for
/// a library written before runs recorded it) its newest valid-from.
async fn valid_at(feed: &Feed<'_>, table: &str, version: u64) -> Result<i64, Error> {
    let recorded = feed
        .lake
        .commit_infos(Layer::Base, table, version.saturating_sub(1), version)
        .and_then(|i| {
            i.last()
                .and_then(|c| c.get(VALID_AT))
                .and_then(|t| t.as_i64())
        });
    if let Some(t) = recorded {
        return Ok(t);
    }
    let what = format!("cannot read base.{table}");
    let df = feed.lake.frame_at(Layer::Base, table, version).await?;
    let max = df
        .aggregate(
            vec![],
            vec![yishu_lake::datafusion::functions_aggregate::expr_fn::max(
                col("_valid_from"),
            )],
        )
        .map_err(lake_err(&what))?
        .collect()
        .await
        .map_err(lake_err(&what))?;
    Ok(max
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<yishu_lake::arrow::array::TimestampMicrosecondArray>()
                .filter(|a| !a.is_empty() && !yishu_lake::arrow::array::Array::is_null(*a, 0))
                .map(|a| a.value(0))
        })
        .unwrap_or(0))
}

/// A base library's changes between times `t` and `t_new`: the subjects with a version valid
/// since (replaced) and the subjects whose version was closed since (deleted — gone, or their
/// new version is outside the grant's filter).
async fn base_changes(
    feed: &Feed<'_>,
    table: &str,
    version: u64,
    t: i64,
    t_new: i64,
) -> Result<Change, Error> {
    let Target::Base(kind) = feed.target else {
        return Err(Error::new(
            ErrorCode::Internal,
            "base changes of a resource",
        ));
    };
    let newer = col("_valid_from").gt(timestamp(t));
    let mut keys = BTreeSet::new();
    let current = feed.lake.frame_at(Layer::Base, table, version).await?;
    subject_ids(
        current.filter(newer.clone()),
        &format!("base.{table}"),
        |id| {
            keys.insert(subject_token(feed.plan, id));
        },
    )
    .await?;
    let history = history_table(*kind);
    if let Some(h) = feed.lake.frame(Layer::Base, &history).await? {
        let closed = col("_valid_to")
            .gt(timestamp(t))
            .and(col("_valid_to").lt_eq(timestamp(t_new)));
        subject_ids(h.filter(closed), &format!("base.{history}"), |id| {
            keys.insert(subject_token(feed.plan, id));
        })
        .await?;
    }
    Ok(Change {
        version,
        full: false,
        deletes: keys.into_iter().collect(),
        only: Some(newer),
        cursor: Cursor {
            v: version,
            t: Some(t_new),
        },
    })
}

/// Calls `each` with the subject id of every row of `df`.
async fn subject_ids(
    df: Result<
        yishu_lake::datafusion::dataframe::DataFrame,
        yishu_lake::datafusion::error::DataFusionError,
    >,
    what: &str,
    mut each: impl FnMut(&str),
) -> Result<(), Error> {
    let what = format!("cannot read {what}");
    let mut s = df
        .and_then(|d| d.select(vec![col("subject_id")]))
        .map_err(lake_err(&what))?
        .execute_stream()
        .await
        .map_err(lake_err(&what))?;
    while let Some(b) = s.next().await {
        for r in text_rows(&b.map_err(lake_err(&what))?) {
            each(&r[0]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(j: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        j.as_object().cloned().unwrap()
    }

    #[test]
    fn std_commits_name_their_batches_or_ask_for_a_full_delivery() {
        let infos = vec![
            info(serde_json::json!({"operation": "DELETE", "deleted": {"_batch_id": "b1"}})),
            info(serde_json::json!({"operation": "WRITE", "batch_id": "b1"})),
            info(serde_json::json!({"operation": "WRITE", "batch_id": "b2"})),
            info(serde_json::json!({"operation": "OPTIMIZE"})),
        ];
        let got = changed_batches(&infos).unwrap();
        assert_eq!(got.into_iter().collect::<Vec<_>>(), ["b1", "b2"]);
        let mut rewritten = infos.clone();
        rewritten.push(info(
            serde_json::json!({"operation": "WRITE", "operationParameters": {"mode": "Overwrite"}}),
        ));
        assert!(changed_batches(&rewritten).is_none());
    }

    #[test]
    fn masked_items_arrive_as_text() {
        assert_eq!(ColumnType::of("D", true), ColumnType::Date);
        assert_eq!(ColumnType::of("D", false), ColumnType::Text);
        assert_eq!(ColumnType::of("N", true), ColumnType::Number);
        assert_eq!(ColumnType::of("C", true), ColumnType::Text);
    }
}
