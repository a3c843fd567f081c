//! Logical mounting (逻辑汇聚, R4): a published resource may stand on a table in a department's own
//! database or on an HTTP API instead of a copy in ods. Yishu reads its columns and a few rows on
//! demand — to compare them with the items (drift) and to show sample rows — and copies nothing.

use crate::outbound::{Outbound, no_redirect};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use yishu_types::{Error, ErrorCode};

/// Where a mounted resource's data is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Mount {
    /// A table in SQLite, PostgreSQL or MySQL (`url` as for a database source).
    ExternalTable { url: String, table: String },
    /// An HTTP endpoint answering a JSON array of objects (or `{"data": [...]}` / `{"rows": [...]}`).
    Api { url: String },
}

/// Columns and the first rows of a mounted resource's data, as text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Sample {
    /// Where the rows came from (passwords hidden).
    pub from: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Mount {
    /// Checks the settings without connecting.
    pub fn check(&self) -> Result<(), Error> {
        match self {
            Mount::ExternalTable { url, table } => crate::db::check(&crate::db::DbPull {
                url: url.clone(),
                table: table.clone(),
                watermark_column: None,
                mapping: Default::default(),
            }),
            Mount::Api { url } if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(())
            }
            Mount::Api { .. } => Err(Error::field("url", "an API address starts with http://")),
        }
    }

    /// Where it points, passwords hidden.
    pub fn describe(&self) -> String {
        match self {
            Mount::ExternalTable { url, table } => {
                format!("{}#{table}", crate::db::redact(url))
            }
            Mount::Api { url } => crate::db::redact(url),
        }
    }

    /// Reads the columns and up to `limit` rows, if `out` allows connecting there.
    pub async fn sample(&self, limit: usize, out: &Outbound) -> Result<Sample, Error> {
        self.check()?;
        let (columns, rows) = match self {
            Mount::ExternalTable { url, table } => {
                out.database(url).await?;
                crate::db::peek(url, table, limit).await?
            }
            Mount::Api { url } => api_rows(url, limit, out).await?,
        };
        Ok(Sample {
            from: self.describe(),
            columns,
            rows,
        })
    }
}

fn api_failed(url: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        format!("mounted API {}: {why}", crate::db::redact(url)),
    )
}

async fn api_rows(
    url: &str,
    limit: usize,
    out: &Outbound,
) -> Result<(Vec<String>, Vec<Vec<Option<String>>>), Error> {
    let (client, u) = out.http(url, Duration::from_secs(10)).await?;
    let r = client.get(u).send().await.map_err(|e| api_failed(url, e))?;
    no_redirect(&r)?;
    if !r.status().is_success() {
        return Err(api_failed(url, format!("answered {}", r.status())));
    }
    let v: Value = r
        .json()
        .await
        .map_err(|e| api_failed(url, format!("the answer is not JSON: {e}")))?;
    let list = match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("data").or_else(|| o.remove("rows")) {
            Some(Value::Array(a)) => a,
            _ => return Err(api_failed(url, "expected a JSON array of objects")),
        },
        _ => return Err(api_failed(url, "expected a JSON array of objects")),
    };
    let objects: Vec<serde_json::Map<String, Value>> = list
        .into_iter()
        .take(limit)
        .filter_map(|x| match x {
            Value::Object(o) => Some(o),
            _ => None,
        })
        .collect();
    let mut columns: Vec<String> = Vec::new();
    for o in &objects {
        for k in o.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let rows = objects
        .iter()
        .map(|o| {
            columns
                .iter()
                .map(|c| o.get(c).and_then(crate::json::text))
                .collect()
        })
        .collect();
    Ok((columns, rows))
}

/// The mount of resource `id`, if it has one.
pub async fn of(store: &yishu_meta::Store, id: i64) -> Result<Option<Mount>, Error> {
    match store.get_mount(id).await? {
        Some(v) => serde_json::from_value(v).map(Some).map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("the stored mount of resource {id} is unreadable: {e}"),
            )
        }),
        None => Ok(None),
    }
}

/// A few rows of a resource's data: from its mount, or the newest rows of its ods table (raw
/// text, lineage columns left out). Empty when no data has arrived.
pub async fn sample_rows(
    store: &yishu_meta::Store,
    lake: &yishu_lake::Lake,
    r: &yishu_meta::catalog::Resource,
    limit: usize,
    out: &Outbound,
) -> Result<Sample, Error> {
    use yishu_lake::arrow::array::{Array, StringArray};
    if let Some(m) = of(store, r.id).await? {
        return m.sample(limit, out).await;
    }
    let table = crate::table_name(r);
    let mut out = Sample {
        from: yishu_lake::lineage::qualified(yishu_lake::Layer::Ods, &table),
        ..Default::default()
    };
    let Some(frame) = lake.frame(yishu_lake::Layer::Ods, &table).await? else {
        return Ok(out);
    };
    out.columns = r.item_names();
    // The newest rows first; columns by name (item names may hold any character).
    let what = format!("cannot read ods.{table}");
    let err = |e| Error::new(ErrorCode::LakeError, format!("{what}: {e}"));
    use yishu_lake::datafusion::prelude::{col, ident};
    let newest = frame
        .sort(vec![
            col(yishu_lake::lineage::INGESTED_AT).sort(false, true),
        ])
        .and_then(|f| f.limit(0, Some(limit)))
        .and_then(|f| f.select(out.columns.iter().map(ident).collect::<Vec<_>>()))
        .map_err(err)?
        .collect()
        .await
        .map_err(err)?;
    for b in newest {
        let texts: Vec<StringArray> = b
            .columns()
            .iter()
            .map(|c| {
                yishu_lake::arrow::compute::cast(c, &yishu_lake::arrow::datatypes::DataType::Utf8)
                    .ok()
                    .and_then(|a| a.as_any().downcast_ref::<StringArray>().cloned())
                    .unwrap_or_else(|| StringArray::new_null(c.len()))
            })
            .collect();
        for i in 0..b.num_rows() {
            out.rows.push(
                texts
                    .iter()
                    .map(|t| (!t.is_null(i)).then(|| t.value(i).to_string()))
                    .collect(),
            );
        }
    }
    Ok(out)
}
