//! Small reads as text: the first rows of a table for a page, a download or a sample. Values are
//! bound as expressions ([`datafusion::prelude::lit`]); no SQL text is built from a value.

use crate::{Lake, Layer, df_err};
use arrow::array::{Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::logical_expr::SortExpr;
use datafusion::prelude::Expr;
use yishu_types::Error;

/// What to read: a table's columns (all when none are named), the rows a filter keeps, in an
/// order, at most a limit.
pub struct TextQuery<'a> {
    layer: Layer,
    table: &'a str,
    columns: Vec<Expr>,
    filter: Option<Expr>,
    order: Vec<SortExpr>,
    limit: Option<usize>,
}

impl<'a> TextQuery<'a> {
    pub fn new(layer: Layer, table: &'a str) -> Self {
        TextQuery {
            layer,
            table,
            columns: Vec::new(),
            filter: None,
            order: Vec::new(),
            limit: None,
        }
    }

    /// These columns (by name, as the table has them), in this order.
    pub fn columns(mut self, names: &[&str]) -> Self {
        self.columns = names
            .iter()
            .map(|n| datafusion::prelude::ident(*n))
            .collect();
        self
    }

    pub fn filter(mut self, filter: Expr) -> Self {
        self.filter = Some(filter);
        self
    }

    pub fn order(mut self, order: Vec<SortExpr>) -> Self {
        self.order = order;
        self
    }

    pub fn limit(mut self, limit: Option<usize>) -> Self {
        self.limit = limit;
        self
    }
}

/// Rows as text cells (nulls as empty text), with the columns' names.
#[derive(Debug, Default)]
pub struct TextRows {
    pub headings: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Lake {
    /// Reads what `q` names as text; no rows when the table does not exist yet.
    pub async fn text(&self, q: TextQuery<'_>) -> Result<TextRows, Error> {
        let what = format!("cannot read {}.{}", q.layer, q.table);
        let Some(mut frame) = self.frame(q.layer, q.table).await? else {
            return Ok(TextRows::default());
        };
        if let Some(f) = q.filter {
            frame = frame.filter(f).map_err(df_err(&what))?;
        }
        if !q.order.is_empty() {
            frame = frame.sort(q.order).map_err(df_err(&what))?;
        }
        if q.limit.is_some() {
            frame = frame.limit(0, q.limit).map_err(df_err(&what))?;
        }
        if !q.columns.is_empty() {
            frame = frame.select(q.columns).map_err(df_err(&what))?;
        }
        let headings = frame
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut out = TextRows {
            headings,
            rows: Vec::new(),
        };
        for b in frame.collect().await.map_err(df_err(&what))? {
            out.rows.extend(text_rows(&b));
        }
        Ok(out)
    }
}

/// A batch's rows as text cells (nulls as empty text).
pub fn text_rows(batch: &RecordBatch) -> Vec<Vec<String>> {
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
