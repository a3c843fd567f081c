//! Reading the base libraries (基础库, R21–R23): a subject's golden record with provenance and
//! its earlier versions, its timeline, the rows it is made of, its neighbourhood in the
//! relationship graph and paths between two subjects — in clear: what a caller may see of them
//! is the share gate's to decide (`yishu-share`), never this module's.

use crate::key::SubjectKind;
use crate::schema::{
    EVENTS_TABLE, RECORDS_TABLE, RELATIONS_TABLE, TAGS_TABLE, base_table, history_table,
};
use crate::tables::{self, KeyedBy};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use yishu_lake::arrow::array::RecordBatch;
use yishu_lake::arrow::array::{Array, StringArray};
use yishu_lake::arrow::compute::cast;
use yishu_lake::arrow::datatypes::DataType;
use yishu_lake::datafusion::prelude::{Expr, col, ident, lit};
use yishu_lake::lineage::{BATCH_ID, ODS_REF};
use yishu_lake::{Finder, KeyHashes};
use yishu_lake::{Lake, Layer};
use yishu_types::{Error, ErrorCode};

/// A row as text cells by column name.
pub type Row = BTreeMap<String, String>;

fn df_err(what: String) -> impl FnOnce(yishu_lake::datafusion::error::DataFusionError) -> Error {
    move |e| Error::new(ErrorCode::LakeError, format!("{what}: {e}"))
}

/// Rows of a base table matching `filter`, at most `limit`, every cell as text (empty when
/// null). A table not written yet has none.
pub async fn select(
    lake: &Lake,
    table: &str,
    filter: Option<Expr>,
    limit: Option<usize>,
) -> Result<Vec<Row>, Error> {
    let Some(mut frame) = lake.frame(Layer::Base, table).await? else {
        return Ok(Vec::new());
    };
    let what = format!("cannot read base.{table}");
    if let Some(f) = filter {
        frame = frame.filter(f).map_err(df_err(what.clone()))?;
    }
    if let Some(n) = limit {
        frame = frame.limit(0, Some(n)).map_err(df_err(what.clone()))?;
    }
    let batches = frame.collect().await.map_err(df_err(what.clone()))?;
    Ok(rows_of(&batches))
}

/// Batches as rows of text cells (empty when null).
fn rows_of(batches: &[RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        let schema = b.schema();
        let cols: Vec<(String, StringArray)> = schema
            .fields()
            .iter()
            .zip(b.columns())
            .filter_map(|(f, c)| {
                let c = cast(c, &DataType::Utf8).ok()?;
                let s = c.as_any().downcast_ref::<StringArray>()?.clone();
                Some((f.name().clone(), s))
            })
            .collect();
        for i in 0..b.num_rows() {
            out.push(
                cols.iter()
                    .map(|(n, a)| {
                        let v = if a.is_null(i) { "" } else { a.value(i) };
                        (n.clone(), v.to_string())
                    })
                    .collect(),
            );
        }
    }
    out
}

/// The rows of a table keyed by subject that are about one subject, found by the subject's key
/// hash: the fusion run indexes each file's hash column ([`yishu_lake::key_index`]), so a lookup
/// reads a few index blocks and the pages holding the rows, never the table.
async fn of_subject(
    lake: &Lake,
    table: &str,
    keyed: KeyedBy<'_>,
    kind: SubjectKind,
    key: &str,
) -> Result<Vec<Row>, Error> {
    let mut hashes = KeyHashes::default();
    hashes.insert(tables::subject_hash(kind, key));
    let columns = keyed.columns();
    let finder = Finder {
        keys: &columns,
        pick: |k: &[&str]| match keyed {
            KeyedBy::Any(..) => k[0] == kind.as_str() && k[1] == key,
            KeyedBy::Kind(..) => k[0] == key,
        },
        hashed: Some((tables::KEY_HASH, &hashes)),
    };
    let picked = lake.find(Layer::Base, table, finder, None).await?;
    Ok(rows_of(&picked.rows))
}

/// The current golden row of the subject with key `key` (every column, the libraries' own
/// included), found by its key hash; `None` when the library has no such subject.
pub async fn by_key(lake: &Lake, kind: SubjectKind, key: &str) -> Result<Option<Row>, Error> {
    let keyed = KeyedBy::Kind(kind, "subject_key");
    let rows = of_subject(lake, base_table(kind), keyed, kind, key).await?;
    Ok(rows.into_iter().next())
}

/// The current golden rows of the subjects with keys `keys` (those the library has), by key:
/// found together by their key hashes in one pass, reading only `columns` (which must hold
/// `subject_key`). What a batch verification of ten thousand people reads.
pub async fn by_keys(
    lake: &Lake,
    kind: SubjectKind,
    keys: &[String],
    columns: &[&str],
) -> Result<HashMap<String, Row>, Error> {
    let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let mut hashes = KeyHashes::default();
    for k in &wanted {
        hashes.insert(tables::subject_hash(kind, k));
    }
    let finder = Finder {
        keys: &["subject_key"],
        pick: |k: &[&str]| wanted.contains(k[0]),
        hashed: Some((tables::KEY_HASH, &hashes)),
    };
    let picked = lake
        .find(Layer::Base, base_table(kind), finder, Some(columns))
        .await?;
    Ok(rows_of(&picked.rows)
        .into_iter()
        .filter_map(|r| Some((r.get("subject_key")?.clone(), r)))
        .collect())
}

/// One golden value with where it came from.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttributeView {
    pub attribute: String,
    pub value: String,
    pub department: String,
    pub resource: String,
    pub batch: String,
    pub row: String,
    /// authority, latest, earliest, priority, majority, follow.
    pub by: String,
    pub agree: Vec<String>,
    /// (department, value).
    pub disagree: Vec<(String, String)>,
    pub conflict: bool,
}

/// An earlier version of a subject's golden record.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionView {
    pub valid_from: String,
    pub valid_to: String,
    pub values: BTreeMap<String, String>,
}

/// A subject's golden record.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubjectView {
    pub kind: SubjectKind,
    /// The opaque id pages and the API name the subject by.
    pub id: String,
    /// The real key, for the server's own lookups (never sent).
    #[serde(skip)]
    pub raw_key: String,
    /// The key (the gate masks it for a reader under a mask).
    pub key: String,
    pub values: Vec<AttributeView>,
    pub records: i64,
    pub valid_from: String,
    pub versions: Vec<VersionView>,
    /// Values are in clear (the gate sets false when it masked them).
    pub clear: bool,
}

/// Columns of a golden row that are not attributes: the key, the id, and the ones the
/// libraries keep for themselves (`_provenance`, `_hash`, `_key_hash`, `_valid_from` …).
fn is_meta(column: &str) -> bool {
    column.starts_with('_') || column == "subject_key" || column == "subject_id"
}

/// The golden record of one subject by its opaque id, with provenance and its earlier versions.
pub async fn subject(
    lake: &Lake,
    kind: SubjectKind,
    id: &str,
) -> Result<Option<SubjectView>, Error> {
    // Ids are random: only the id column of each row is read, the row's other pages after.
    let picked = lake
        .pick(
            Layer::Base,
            base_table(kind),
            &["subject_id"],
            |k: &[&str]| k[0] == id,
            None,
        )
        .await?;
    let order: Vec<String> = picked
        .rows
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        })
        .unwrap_or_default();
    let Some(row) = rows_of(&picked.rows).into_iter().next() else {
        return Ok(None);
    };
    let key = row.get("subject_key").cloned().unwrap_or_default();
    let key = key.as_str();
    let prov: Value =
        serde_json::from_str(row.get("_provenance").map_or("{}", |s| s)).unwrap_or_default();
    let mut values = Vec::new();
    for (attribute, v) in &row {
        if is_meta(attribute) || v.is_empty() {
            continue;
        }
        let p = &prov[attribute.as_str()];
        let text = |k: &str| p[k].as_str().unwrap_or_default().to_string();
        values.push(AttributeView {
            attribute: attribute.clone(),
            value: v.to_string(),
            department: text("department"),
            resource: text("resource"),
            batch: text("batch"),
            row: text("row"),
            by: text("by"),
            agree: p["agree"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            disagree: p["disagree"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| Some((x[0].as_str()?.to_string(), x[1].as_str()?.to_string())))
                .collect(),
            conflict: p["conflict"].as_bool().unwrap_or(false),
        });
    }
    // The plan's order of attributes is the table's column order.
    values.sort_by_key(|a| order.iter().position(|o| o == &a.attribute));
    let history = history_table(kind);
    let keyed = KeyedBy::Kind(kind, "subject_key");
    let versions = of_subject(lake, &history, keyed, kind, key)
        .await?
        .into_iter()
        .map(|h| VersionView {
            valid_from: h.get("_valid_from").cloned().unwrap_or_default(),
            valid_to: h.get("_valid_to").cloned().unwrap_or_default(),
            values: h
                .iter()
                .filter(|(k, v)| !is_meta(k) && !v.is_empty())
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        })
        .collect();
    Ok(Some(SubjectView {
        kind,
        id: id.to_string(),
        raw_key: key.to_string(),
        key: key.to_string(),
        values,
        records: row
            .get("_records")
            .and_then(|r| r.parse().ok())
            .unwrap_or(0),
        valid_from: row.get("_valid_from").cloned().unwrap_or_default(),
        versions,
        clear: true,
    }))
}

/// One event of a subject's life.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub date: String,
    pub event: String,
    pub detail: String,
    pub department: String,
    pub resource: String,
    pub row: String,
}

/// Every event from every source about a subject, oldest first (R22).
pub async fn timeline(lake: &Lake, kind: SubjectKind, key: &str) -> Result<Vec<EventView>, Error> {
    let keyed = KeyedBy::Any("subject_kind", "subject_key");
    let mut out: Vec<EventView> = of_subject(lake, EVENTS_TABLE, keyed, kind, key)
        .await?
        .into_iter()
        .map(|r| EventView {
            date: r["date"].clone(),
            detail: r["detail"].clone(),
            event: r["event"].clone(),
            department: r["department"].clone(),
            resource: r["resource"].clone(),
            row: r[ODS_REF].clone(),
        })
        .collect();
    out.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.event.cmp(&b.event)));
    Ok(out)
}

/// The rows a subject is made of: (resource, role, batch, row).
pub async fn records(lake: &Lake, kind: SubjectKind, key: &str) -> Result<Vec<[String; 4]>, Error> {
    let keyed = KeyedBy::Any("subject_kind", "subject_key");
    Ok(of_subject(lake, RECORDS_TABLE, keyed, kind, key)
        .await?
        .into_iter()
        .map(|r| {
            [
                r["resource"].clone(),
                r["role"].clone(),
                r[BATCH_ID].clone(),
                r[ODS_REF].clone(),
            ]
        })
        .collect())
}

/// A node of the graph.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Node {
    pub kind: SubjectKind,
    /// The key as the reader may see it.
    pub key: String,
    /// The opaque id of the node's page (empty for a subject not in the libraries).
    pub id: String,
    pub label: String,
    /// Steps from the centre.
    pub depth: usize,
}

/// An edge of the graph, between node positions.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub relation: String,
    pub since: String,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// The node limit cut the neighbourhood short.
    pub truncated: bool,
}

/// Largest neighbourhood depth and node count a caller may ask for.
pub const MAX_DEPTH: usize = 4;
pub const MAX_NODES: usize = 500;

fn parse_kind(s: &str) -> SubjectKind {
    match s {
        "entity" => SubjectKind::Entity,
        "house" => SubjectKind::House,
        _ => SubjectKind::Person,
    }
}

/// Relations touching any of `keys`.
async fn relations_of(lake: &Lake, keys: &[String]) -> Result<Vec<Row>, Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<Expr> = keys.iter().map(|k| lit(k.clone())).collect();
    let filter = ident("from_key")
        .in_list(list.clone(), false)
        .or(ident("to_key").in_list(list, false));
    select(lake, RELATIONS_TABLE, Some(filter), None).await
}

/// Display labels and ids of subjects: a person's name, a company's name, a house's location.
async fn labels(
    lake: &Lake,
    nodes: &[(SubjectKind, String)],
) -> Result<HashMap<String, (String, String)>, Error> {
    let mut out = HashMap::new();
    for (kind, column) in [
        (SubjectKind::Person, "姓名"),
        (SubjectKind::Entity, "企业名称"),
        (SubjectKind::House, "坐落"),
    ] {
        let keys: Vec<Expr> = nodes
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, key)| lit(key.clone()))
            .collect();
        if keys.is_empty() {
            continue;
        }
        for r in select(
            lake,
            base_table(kind),
            Some(ident("subject_key").in_list(keys, false)),
            None,
        )
        .await?
        {
            let label = r.get(column).map(|v| v.to_string()).unwrap_or_default();
            out.insert(r["subject_key"].clone(), (label, r["subject_id"].clone()));
        }
    }
    Ok(out)
}

/// The neighbourhood of a subject up to `depth` steps (R23), at most `limit` nodes.
pub async fn neighbourhood(
    lake: &Lake,
    kind: SubjectKind,
    key: &str,
    depth: usize,
    limit: usize,
) -> Result<Graph, Error> {
    let depth = depth.clamp(1, MAX_DEPTH);
    let limit = limit.clamp(1, MAX_NODES);
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut nodes: Vec<(SubjectKind, String, usize)> = vec![(kind, key.to_string(), 0)];
    at.insert(key.to_string(), 0);
    let mut edges = Vec::new();
    let mut seen_edges = HashSet::new();
    let mut frontier = vec![key.to_string()];
    let mut truncated = false;
    for d in 1..=depth {
        let rels = relations_of(lake, &frontier).await?;
        let mut next = Vec::new();
        for r in rels {
            let ends = [
                (parse_kind(&r["from_kind"]), r["from_key"].clone()),
                (parse_kind(&r["to_kind"]), r["to_key"].clone()),
            ];
            for (k, key) in &ends {
                if !at.contains_key(key) {
                    if nodes.len() >= limit {
                        truncated = true;
                        continue;
                    }
                    at.insert(key.clone(), nodes.len());
                    nodes.push((*k, key.clone(), d));
                    next.push(key.clone());
                }
            }
            let (Some(&a), Some(&b)) = (at.get(&ends[0].1), at.get(&ends[1].1)) else {
                continue;
            };
            if seen_edges.insert((a, b, r["relation"].clone())) {
                edges.push(Edge {
                    from: a,
                    to: b,
                    relation: r["relation"].clone(),
                    since: r["since"].clone(),
                });
            }
        }
        frontier = next;
        if frontier.is_empty() {
            break;
        }
    }
    let pairs: Vec<(SubjectKind, String)> =
        nodes.iter().map(|(k, key, _)| (*k, key.clone())).collect();
    let names = labels(lake, &pairs).await?;
    Ok(Graph {
        nodes: nodes
            .into_iter()
            .map(|(k, key, depth)| {
                let (label, id) = names.get(&key).cloned().unwrap_or_default();
                Node {
                    kind: k,
                    label: if label.is_empty() {
                        k.label_zh().to_string()
                    } else {
                        label
                    },
                    key: key.clone(),
                    id,
                    depth,
                }
            })
            .collect(),
        edges,
        truncated,
    })
}

/// The shortest chain of relations from one subject to another, at most `max_depth` steps.
pub async fn path(
    lake: &Lake,
    from: &str,
    to: &str,
    max_depth: usize,
) -> Result<Option<Graph>, Error> {
    let max_depth = max_depth.clamp(1, MAX_DEPTH);
    // Breadth first from `from`, remembering how each subject was reached.
    let mut came: HashMap<String, (String, Row)> = HashMap::new();
    let mut kinds: HashMap<String, SubjectKind> = HashMap::new();
    let mut frontier = vec![from.to_string()];
    let mut visited: HashSet<String> = HashSet::from([from.to_string()]);
    let mut found = from == to;
    for _ in 0..max_depth {
        if found || frontier.is_empty() {
            break;
        }
        let mut next = Vec::new();
        for r in relations_of(lake, &frontier).await? {
            kinds.insert(r["from_key"].clone(), parse_kind(&r["from_kind"]));
            kinds.insert(r["to_key"].clone(), parse_kind(&r["to_kind"]));
            for (a, b) in [
                (&r["from_key"], &r["to_key"]),
                (&r["to_key"], &r["from_key"]),
            ] {
                if frontier.contains(a) && visited.insert(b.clone()) {
                    came.insert(b.clone(), (a.clone(), r.clone()));
                    next.push(b.clone());
                    if b == to {
                        found = true;
                    }
                }
            }
        }
        frontier = next;
    }
    if !found {
        return Ok(None);
    }
    let mut chain = vec![to.to_string()];
    let mut rels = Vec::new();
    while let Some((prev, r)) = came.get(chain.last().map_or("", |s| s.as_str())) {
        rels.push(r.clone());
        chain.push(prev.clone());
    }
    chain.reverse();
    rels.reverse();
    let pairs: Vec<(SubjectKind, String)> = chain
        .iter()
        .map(|k| {
            (
                kinds.get(k).copied().unwrap_or(SubjectKind::Person),
                k.clone(),
            )
        })
        .collect();
    let names = labels(lake, &pairs).await?;
    let nodes = pairs
        .iter()
        .enumerate()
        .map(|(d, (k, key))| {
            let (label, id) = names.get(key).cloned().unwrap_or_default();
            Node {
                kind: *k,
                label: if label.is_empty() {
                    k.label_zh().to_string()
                } else {
                    label
                },
                key: key.to_string(),
                id,
                depth: d,
            }
        })
        .collect();
    let edges = rels
        .iter()
        .enumerate()
        .map(|(i, r)| Edge {
            from: i,
            to: i + 1,
            relation: r["relation"].clone(),
            since: r["since"].clone(),
        })
        .collect();
    Ok(Some(Graph {
        nodes,
        edges,
        truncated: false,
    }))
}

/// The attribute a library's subjects are named by.
pub fn name_column(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::Person => "姓名",
        SubjectKind::Entity => "企业名称",
        SubjectKind::House => "坐落",
    }
}

/// Subjects of a kind whose key is `q` — found by the key index, the common case of a lookup —
/// or, with `names`, whose name holds `q` (a scan of the name column); at most `limit`. Each
/// row keeps its opaque `subject_id` for links.
pub async fn find(
    lake: &Lake,
    kind: SubjectKind,
    q: &str,
    limit: usize,
    names: bool,
) -> Result<Vec<Row>, Error> {
    let q = q.trim();
    let rows = if q.is_empty() {
        select(lake, base_table(kind), None, Some(limit.clamp(1, 200))).await?
    } else if let Some(row) = by_key(lake, kind, q).await? {
        vec![row]
    } else if names {
        let like = format!("%{}%", q.replace(['%', '_'], ""));
        let filter = ident(name_column(kind)).like(lit(like));
        select(
            lake,
            base_table(kind),
            Some(filter),
            Some(limit.clamp(1, 200)),
        )
        .await?
    } else {
        Vec::new()
    };
    Ok(rows
        .into_iter()
        .map(|mut r| {
            // What the libraries keep for themselves; a key's hash would let a reader test
            // guesses of a masked number.
            for k in ["_provenance", "_hash", "_run", tables::KEY_HASH] {
                r.remove(k);
            }
            r
        })
        .collect())
}

/// Counts of `by` over base `table` (rows `filter` keeps), grouped in DataFusion: the table
/// streams through the aggregation and only the groups are held, however many rows it has.
async fn counted(
    lake: &Lake,
    table: &str,
    by: Vec<Expr>,
    filter: Option<Expr>,
) -> Result<Vec<(Vec<String>, u64)>, Error> {
    use yishu_lake::datafusion::functions_aggregate::expr_fn::count;
    let Some(mut frame) = lake.frame(Layer::Base, table).await? else {
        return Ok(Vec::new());
    };
    let what = format!("cannot count base.{table}");
    if let Some(f) = filter {
        frame = frame.filter(f).map_err(df_err(what.clone()))?;
    }
    let keys = by.len();
    let batches = frame
        .aggregate(by, vec![count(lit(1)).alias("_n")])
        .map_err(df_err(what.clone()))?
        .collect()
        .await
        .map_err(df_err(what))?;
    let mut out = Vec::new();
    for b in &batches {
        let n = cast(b.column(keys), &DataType::UInt64).map_err(|e| {
            Error::new(
                ErrorCode::LakeError,
                format!("cannot count base.{table}: {e}"),
            )
        })?;
        let n = n
            .as_any()
            .downcast_ref::<yishu_lake::arrow::array::UInt64Array>()
            .expect("cast to UInt64");
        let texts: Vec<StringArray> = (0..keys)
            .map(|i| {
                cast(b.column(i), &DataType::Utf8)
                    .map(|a| {
                        a.as_any()
                            .downcast_ref::<StringArray>()
                            .expect("cast to Utf8")
                            .clone()
                    })
                    .map_err(|e| {
                        Error::new(
                            ErrorCode::LakeError,
                            format!("cannot count base.{table}: {e}"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        for row in 0..b.num_rows() {
            let key = texts
                .iter()
                .map(|t| {
                    if t.is_null(row) {
                        String::new()
                    } else {
                        t.value(row).to_string()
                    }
                })
                .collect();
            out.push((key, n.value(row)));
        }
    }
    out.sort();
    Ok(out)
}

/// Counts of tagged people (R24) per tag, from the indicators by division.
pub fn tag_totals(table: &[Indicator]) -> Vec<(String, u64, String)> {
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for i in table.iter().filter(|i| i.previous.is_none()) {
        *totals.entry(i.name.clone()).or_default() += i.count;
    }
    totals
        .into_iter()
        .map(|(t, n)| (t, n, String::new()))
        .collect()
}

/// The indicators as the last run left them, or worked out now for a run that kept none.
pub async fn current_indicators(
    lake: &Lake,
    kept: Option<&[Indicator]>,
) -> Result<Vec<Indicator>, Error> {
    match kept {
        Some(k) => Ok(k.to_vec()),
        None => indicator_table(lake).await,
    }
}

/// One indicator: a tag's count in a division, or an event's count in a month with the month
/// before (环比).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Indicator {
    pub name: String,
    /// A division code, or a month `yyyy-mm`.
    pub by: String,
    pub count: u64,
    /// The previous month's count, for events.
    pub previous: Option<u64>,
}

/// Tag counts by division, and monthly event counts with the month before: aggregate queries,
/// so a view holds the groups, never the tables.
pub async fn indicator_table(lake: &Lake) -> Result<Vec<Indicator>, Error> {
    use yishu_lake::datafusion::functions::expr_fn::left;
    let mut out: Vec<Indicator> =
        counted(lake, TAGS_TABLE, vec![col("tag"), col("division")], None)
            .await?
            .into_iter()
            .map(|(k, count)| Indicator {
                name: k[0].clone(),
                by: k[1].clone(),
                count,
                previous: None,
            })
            .collect();
    let month = left(col("date"), lit(7i64)).alias("month");
    let filter = col("subject_kind").eq(lit("person"));
    let months: BTreeMap<(String, String), u64> =
        counted(lake, EVENTS_TABLE, vec![col("event"), month], Some(filter))
            .await?
            .into_iter()
            // A date too short to name its month counts in none.
            .filter(|(k, _)| k[1].len() == 7)
            .map(|(k, n)| ((k[0].clone(), k[1].clone()), n))
            .collect();
    for ((event, month), n) in &months {
        let prev = previous_month(month)
            .and_then(|p| months.get(&(event.clone(), p)).copied())
            .unwrap_or(0);
        out.push(Indicator {
            name: event.clone(),
            by: month.clone(),
            count: *n,
            previous: Some(prev),
        });
    }
    Ok(out)
}

fn previous_month(m: &str) -> Option<String> {
    let (y, mo) = m.split_once('-')?;
    let (y, mo): (i32, u32) = (y.parse().ok()?, mo.parse().ok()?);
    Some(if mo == 1 {
        format!("{}-12", y - 1)
    } else {
        format!("{y}-{:02}", mo - 1)
    })
}
