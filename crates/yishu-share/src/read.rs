//! Reading a target through a plan: only the plan's items are selected, its filter runs inside
//! DataFusion as an expression, every value is masked before it leaves, and a page never holds
//! more than the plan's limit. Streams read batch by batch for downloads of any size.

use crate::gate::ReadPlan;
use crate::target::Target;
use futures::StreamExt;
use yishu_fusion::SubjectKind;
use yishu_fusion::library;
use yishu_fusion::schema::base_table;
use yishu_lake::datafusion::dataframe::DataFrame;
use yishu_lake::datafusion::prelude::{Expr, ident, lit};
use yishu_lake::{Lake, Layer, text_rows};
use yishu_meta::Store;
use yishu_types::{Error, ErrorCode};

/// One page of rows as the plan shows them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Page {
    pub items: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub offset: usize,
    /// Where the next page starts, if there is one.
    pub next: Option<usize>,
}

pub(crate) fn lake_err(
    what: &str,
) -> impl FnOnce(yishu_lake::datafusion::error::DataFusionError) -> Error + '_ {
    move |e| Error::new(ErrorCode::LakeError, format!("{what}: {e}"))
}

/// The table a target's data is read from (a service has none: it is called, not read).
pub async fn table_of(store: &Store, target: &Target) -> Result<(Layer, String), Error> {
    Ok(match target {
        Target::Resource(id) => (Layer::Std, store.get_resource(*id).await?.table()),
        Target::Base(kind) => (Layer::Base, base_table(*kind).to_string()),
        Target::Verify(kind) => {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "verify:{} is for comparing, not reading: send what you hold to /api/v1/verifications/{}",
                    base_table(*kind),
                    base_table(*kind)
                ),
            ));
        }
        Target::Service(name) => {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "service:{name} is a data service: call it at /api/v1/services/{name}/v<n> instead of reading rows"
                ),
            ));
        }
    })
}

/// The plan's rows of `table` as a DataFrame: filtered, then only the plan's items.
async fn frame(
    lake: &Lake,
    layer: Layer,
    table: &str,
    plan: &ReadPlan,
) -> Result<Option<DataFrame>, Error> {
    let what = format!("cannot read {layer}.{table}");
    let Some(df) = lake.frame(layer, table).await? else {
        return Ok(None);
    };
    narrow(df, plan, None, None, &what).map(Some)
}

/// The plan's rows of `df` (one table, at whichever version the caller opened): only the
/// rows `only` keeps too, filtered by the plan, then `lead` (a lineage column the caller keys
/// its rows on, first and never shown as it is) and the plan's items.
pub(crate) fn narrow(
    mut df: DataFrame,
    plan: &ReadPlan,
    only: Option<Expr>,
    lead: Option<&str>,
    what: &str,
) -> Result<DataFrame, Error> {
    if let Some(o) = only {
        df = df.filter(o).map_err(lake_err(what))?;
    }
    if let Some(f) = &plan.filter {
        df = df.filter(f.to_expr()).map_err(lake_err(what))?;
    }
    let present: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    // An item the catalog lists but the table has not received yet reads as empty.
    let columns: Vec<Expr> = lead
        .map(ident)
        .into_iter()
        .chain(plan.items.iter().map(|i| {
            if present.contains(i) {
                ident(i)
            } else {
                lit("").alias(i)
            }
        }))
        .collect();
    df.select(columns).map_err(lake_err(what))
}

/// One page: at most the plan's limit of rows from `offset`, masked.
pub async fn page(
    lake: &Lake,
    layer: Layer,
    table: &str,
    plan: &ReadPlan,
    offset: usize,
) -> Result<Page, Error> {
    let what = format!("cannot read {layer}.{table}");
    let mut out = Page {
        items: plan.items.clone(),
        rows: Vec::new(),
        offset,
        next: None,
    };
    let Some(df) = frame(lake, layer, table, plan).await? else {
        return Ok(out);
    };
    // One row more than the page tells whether another page follows.
    let df = df
        .limit(offset, Some(plan.limit + 1))
        .map_err(lake_err(&what))?;
    for b in df.collect().await.map_err(lake_err(&what))? {
        for row in text_rows(&b) {
            out.rows.push(mask_row(plan, row));
        }
    }
    if out.rows.len() > plan.limit {
        out.rows.truncate(plan.limit);
        out.next = Some(offset + plan.limit);
    }
    Ok(out)
}

/// The row of one subject of a base library by its key, as the plan shows it (none when the
/// subject is not there or outside the plan's filter): found by the library's key index.
pub async fn page_by_key(
    lake: &Lake,
    kind: SubjectKind,
    plan: &ReadPlan,
    key: &str,
) -> Result<Page, Error> {
    let shown = library::by_key(lake, kind, key)
        .await?
        .and_then(|row| plan.apply(&row));
    Ok(Page {
        items: plan.items.clone(),
        rows: shown
            .map(|r| plan.items.iter().map(|i| r[i].clone()).collect())
            .into_iter()
            .collect(),
        offset: 0,
        next: None,
    })
}

pub(crate) fn mask_row(plan: &ReadPlan, row: Vec<String>) -> Vec<String> {
    row.into_iter()
        .zip(&plan.items)
        .map(|(v, item)| plan.show(item, &v))
        .collect()
}

/// Masked rows in chunks, one per lake batch.
pub type Rows = futures::stream::BoxStream<'static, Result<Vec<Vec<String>>, Error>>;

/// Every row the plan allows, masked, as a stream of row chunks (one per lake batch): what a
/// download of any size writes out without holding the table.
pub async fn stream(
    lake: &Lake,
    layer: Layer,
    table: &str,
    plan: ReadPlan,
    max_rows: usize,
) -> Result<Rows, Error> {
    let what = format!("cannot read {layer}.{table}");
    let df = match frame(lake, layer, table, &plan).await? {
        Some(df) => Some(df.limit(0, Some(max_rows)).map_err(lake_err(&what))?),
        None => None,
    };
    let batches = match df {
        Some(df) => Some(df.execute_stream().await.map_err(lake_err(&what))?),
        None => None,
    };
    let s = futures::stream::iter(batches).flatten().map(move |b| {
        b.map(|b| {
            text_rows(&b)
                .into_iter()
                .map(|r| mask_row(&plan, r))
                .collect()
        })
        .map_err(|e| Error::new(ErrorCode::LakeError, format!("cannot read on: {e}")))
    });
    Ok(Box::pin(s))
}

/// Most rows one [`search`] returns (CKAN's datastore limit).
pub const MAX_QUERY: usize = 32_000;

/// What a query of a table asks beyond its plan (CKAN's `datastore_search`): free text over
/// the items shown in clear, an order by such items, a window, and whether to count the rows.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub q: Option<String>,
    /// Items and ascending (`true`) or descending.
    pub sort: Vec<(String, bool)>,
    pub offset: usize,
    pub limit: usize,
    pub total: bool,
}

/// The rows a [`Query`] found, masked, and how many match in all when asked.
#[derive(Debug, Clone)]
pub struct Found {
    pub items: Vec<String>,
    /// The items shown masked.
    pub masked: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub total: Option<u64>,
}

/// Runs `q` over the plan's rows. Text search and order only use items the plan shows in
/// clear: matching or ordering by a masked item would tell its values (an oracle), so asking
/// for that is refused, and `q` simply does not look at masked items.
pub async fn search(
    lake: &Lake,
    layer: Layer,
    table: &str,
    plan: &ReadPlan,
    q: &Query,
) -> Result<Found, Error> {
    use yishu_lake::datafusion::arrow::datatypes::DataType;
    use yishu_lake::datafusion::functions::expr_fn::contains;
    use yishu_lake::datafusion::prelude::cast;
    for (item, _) in &q.sort {
        if !plan.items.contains(item) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("sort: '{item}' is not a field of this data"),
            ));
        }
        if !plan.is_clear(item) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("sort: '{item}' is masked and cannot be sorted by"),
            ));
        }
    }
    let what = format!("cannot read {layer}.{table}");
    let mut out = Found {
        items: plan.items.clone(),
        masked: plan
            .items
            .iter()
            .filter(|i| !plan.is_clear(i))
            .cloned()
            .collect(),
        rows: Vec::new(),
        total: q.total.then_some(0),
    };
    let Some(df) = lake.frame(layer, table).await? else {
        return Ok(out);
    };
    let present: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let only =
        q.q.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|text| {
                plan.items
                    .iter()
                    .filter(|i| plan.is_clear(i) && present.contains(i))
                    .map(|i| contains(cast(ident(i), DataType::Utf8), lit(text)))
                    .reduce(Expr::or)
                    .unwrap_or(lit(false))
            });
    let df = narrow(df, plan, only, None, &what)?;
    if q.total {
        out.total = Some(df.clone().count().await.map_err(lake_err(&what))? as u64);
    }
    let df = if q.sort.is_empty() {
        df
    } else {
        df.sort(
            q.sort
                .iter()
                .map(|(i, asc)| ident(i).sort(*asc, true))
                .collect(),
        )
        .map_err(lake_err(&what))?
    };
    let df = df
        .limit(q.offset, Some(q.limit.clamp(1, MAX_QUERY)))
        .map_err(lake_err(&what))?;
    for b in df.collect().await.map_err(lake_err(&what))? {
        for row in text_rows(&b) {
            out.rows.push(mask_row(plan, row));
        }
    }
    Ok(out)
}
