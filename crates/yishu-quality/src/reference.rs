//! What rules read from other resources: the keys of a referential check, the key → value
//! lookups of a fill from a reference.

use crate::text;
use futures::StreamExt;
use std::collections::HashMap;
use yishu_lake::Lake;
use yishu_meta::Store;
use yishu_types::{Error, ErrorCode};

/// The values of `item` in the resource with `code`, hashed, for a referential rule.
pub async fn reference_keys(
    store: &Store,
    lake: &Lake,
    code: &str,
    item: &str,
) -> Result<text::HashSet, Error> {
    let mut keys = text::HashSet::default();
    read_reference(store, lake, code, &[item], |b| {
        if let Some(c) = text::Texts::of(b.column(0)) {
            for i in 0..b.num_rows() {
                if let Some(v) = c.present(i) {
                    keys.insert(text::hash(v));
                }
            }
        }
    })
    .await?;
    Ok(keys)
}

/// Another resource's `take` value by its `on` value (the later row wins): what a
/// `fill_reference` fix fills from.
pub async fn reference_lookup(
    store: &Store,
    lake: &Lake,
    code: &str,
    on: &str,
    take: &str,
) -> Result<HashMap<String, String>, Error> {
    let mut map = HashMap::new();
    read_reference(store, lake, code, &[on, take], |b| {
        if let (Some(k), Some(v)) = (text::Texts::of(b.column(0)), text::Texts::of(b.column(1))) {
            for i in 0..b.num_rows() {
                if let (Some(k), Some(v)) = (k.present(i), v.present(i)) {
                    map.insert(k.to_string(), v.to_string());
                }
            }
        }
    })
    .await?;
    Ok(map)
}

/// Streams the named items of every row of the resource `code` to `f`.
async fn read_reference(
    store: &Store,
    lake: &Lake,
    code: &str,
    items: &[&str],
    mut f: impl FnMut(&yishu_lake::arrow::array::RecordBatch),
) -> Result<(), Error> {
    let target = store.get_resource_by_code(code).await?;
    let df = crate::scan::rows(lake, &target.table(), None)
        .await?
        .select_columns(items)
        .map_err(|e| {
            Error::new(
                ErrorCode::RuleInvalid,
                format!("{code} has no item {}: {e}", items.join(", ")),
            )
        })?;
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| Error::new(ErrorCode::LakeError, format!("cannot read {code}: {e}")))?;
    while let Some(b) = stream.next().await {
        let b =
            b.map_err(|e| Error::new(ErrorCode::LakeError, format!("cannot read {code}: {e}")))?;
        f(&b);
    }
    Ok(())
}
