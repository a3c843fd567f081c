//! Reading the plan's sources: each std row a source map names becomes a record (who it is
//! about, when), with the observations, events and relations the map takes from it.

use crate::address::parse_address;
use crate::key::SubjectKind;
use crate::link::PersonRecord;
use crate::plan::{KnownResource, Plan, SourceMap, Target};
use crate::tables::{self, lake_err, texts};
use futures::StreamExt;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use yishu_lake::arrow::array::{Array, RecordBatch, StringArray};
use yishu_lake::arrow::datatypes::DataType;
use yishu_lake::datafusion::physical_plan::SendableRecordBatchStream;
use yishu_lake::datafusion::prelude::{Expr, cast as df_cast, ident};
use yishu_lake::lineage::{BATCH_ID, ODS_REF, REF_HASH};
use yishu_lake::{Finder, Lake, Layer, key_hash};
use yishu_meta::Store;
use yishu_meta::catalog::Resource;
use yishu_types::{Error, ErrorCode};

/// One row of a source, as linking and survivorship need it.
pub(crate) struct Rec {
    pub src: usize,
    pub batch: Arc<str>,
    pub ods_ref: String,
    pub key: String,
    pub at: i64,
    pub person: Option<PersonRecord>,
}

/// A source of the plan with its catalog entry and providing department's code.
pub(crate) struct Src<'a> {
    pub map: &'a SourceMap,
    pub resource: Resource,
    pub org: String,
}

/// A date as Chinese systems write it, as milliseconds since the epoch.
pub(crate) fn date_ms(s: &str) -> Option<i64> {
    yishu_types::date::parse_cn_date(s)
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// Everything read from the sources.
#[derive(Default)]
pub(crate) struct Read {
    pub recs: Vec<Rec>,
    /// (record, attribute, value)
    pub obs: Vec<(u32, Arc<str>, String)>,
    /// (record, event, date, detail)
    pub events: Vec<(u32, Arc<str>, String, String)>,
    /// (record, relation, target, since)
    pub rels: Vec<(u32, Arc<str>, RelTo, String)>,
}

/// Whom a relation points to: another role on the same row, or a subject by key.
pub(crate) enum RelTo {
    Role(String),
    Key(SubjectKind, String),
}

/// Which of a source's std rows a read takes.
pub(crate) enum Only<'a> {
    All,
    /// The rows of a few batches (a short predicate on `_batch_id`).
    Batches(Expr),
    /// These rows, already picked (by [`pick_rows`]).
    Picked(&'a [RecordBatch]),
}

/// The resources a plan may name, for [`Plan::check`].
pub async fn known_resources(store: &Store) -> Result<Vec<KnownResource>, Error> {
    let orgs: HashMap<i64, String> = store
        .list_orgs()
        .await?
        .into_iter()
        .map(|o| (o.id.0, o.code))
        .collect();
    Ok(store
        .all_resources()
        .await?
        .into_iter()
        .map(|r| KnownResource {
            org: orgs
                .get(&r.meta.provider_org_id.0)
                .cloned()
                .unwrap_or_default(),
            items: r.meta.items.iter().map(|i| i.name.clone()).collect(),
            code: r.code,
        })
        .collect())
}

/// The plan's sources, checked against the catalog.
pub(crate) async fn sources<'a>(store: &Store, plan: &'a Plan) -> Result<Vec<Src<'a>>, Error> {
    let known = known_resources(store).await?;
    plan.check(&known)
        .map_err(|e| Error::new(ErrorCode::FusionPlanInvalid, e.message))?;
    let mut srcs = Vec::new();
    for m in &plan.sources {
        let resource = store.get_resource_by_code(&m.resource).await?;
        let org = known
            .iter()
            .find(|k| k.code == m.resource)
            .map(|k| k.org.clone())
            .unwrap_or_default();
        srcs.push(Src {
            map: m,
            resource,
            org,
        });
    }
    Ok(srcs)
}

/// A row's reference as review decisions name it: resource, row and role.
pub(crate) fn rec_ref(srcs: &[Src<'_>], r: &Rec) -> String {
    format!(
        "{}|{}|{}",
        srcs[r.src].map.resource,
        row_ref(r),
        srcs[r.src].map.role
    )
}

/// A row as reviews name it: its source reference and batch (a file delivered daily under one
/// name repeats its references).
pub(crate) fn row_ref(r: &Rec) -> String {
    format!("{}@{}", r.ods_ref, r.batch)
}

/// Rows of a std table, named by batch → source references: found by their lineage's hash
/// (the other rows' other columns are not read), with `columns` and the lineage.
pub(crate) async fn pick_rows(
    lake: &Lake,
    table: &str,
    rows: &HashMap<String, HashSet<String>>,
    columns: &[&str],
) -> Result<Vec<RecordBatch>, Error> {
    let hashes: yishu_lake::KeyHashes = rows
        .iter()
        .flat_map(|(batch, refs)| refs.iter().map(move |x| key_hash(&[batch, x])))
        .collect();
    let finder = Finder {
        keys: &[BATCH_ID, ODS_REF],
        pick: |k: &[&str]| rows.get(k[0]).is_some_and(|refs| refs.contains(k[1])),
        hashed: Some((REF_HASH, &hashes)),
    };
    let mut wanted = columns.to_vec();
    wanted.extend([BATCH_ID, ODS_REF]);
    Ok(lake
        .find(Layer::Std, table, finder, Some(&wanted))
        .await?
        .rows)
}

/// Reads a source's std rows (those `only` names) into `out`; `seen` hears every batch read.
pub(crate) async fn read_source(
    lake: &Lake,
    s: &Src<'_>,
    si: usize,
    out: &mut Read,
    only: Only<'_>,
    seen: &mut BTreeSet<String>,
) -> Result<u64, Error> {
    let table = s.resource.table();
    let what = format!("cannot read std.{table}");
    let cols = s.map.columns();
    let mut wanted = cols.clone();
    wanted.extend([BATCH_ID, ODS_REF]);
    // Rows named one by one are picked by their batch and source reference (the other columns
    // of the other rows are not read); whole batches stream through DataFusion.
    let mut picked = None;
    let mut stream = None;
    match only {
        Only::Picked(rows) => picked = Some(rows.iter()),
        Only::All => stream = std_stream(lake, &table, None, &cols).await?,
        Only::Batches(f) => stream = std_stream(lake, &table, Some(f), &cols).await?,
    }
    let mut reader = RowReader::new(s, si, &cols);
    loop {
        let t = match (picked.as_mut(), stream.as_mut()) {
            (Some(rows), _) => match rows.next() {
                Some(b) => tables::named_texts(b, &wanted)?,
                None => break,
            },
            (None, Some(st)) => match st.next().await {
                Some(b) => texts(&b.map_err(lake_err(what.clone()))?)?,
                None => break,
            },
            (None, None) => break,
        };
        for i in 0..t[cols.len()].len() {
            reader.row(&t, i, out, seen);
        }
    }
    Ok(reader.rows)
}

/// A std table's `cols` as text, then its lineage, streamed (`None`: no such table yet).
async fn std_stream(
    lake: &Lake,
    table: &str,
    filter: Option<Expr>,
    cols: &[&str],
) -> Result<Option<SendableRecordBatchStream>, Error> {
    let what = format!("cannot read std.{table}");
    let frame = match filter {
        Some(f) => lake.frame_where(Layer::Std, table, f).await?,
        None => lake.frame(Layer::Std, table).await?,
    };
    let Some(frame) = frame else {
        return Ok(None);
    };
    let mut exprs: Vec<Expr> = cols
        .iter()
        .map(|c| df_cast(ident(*c), DataType::Utf8))
        .collect();
    exprs.push(ident(BATCH_ID));
    exprs.push(ident(ODS_REF));
    let stream = frame
        .select(exprs)
        .map_err(lake_err(what.clone()))?
        .execute_stream()
        .await
        .map_err(lake_err(what))?;
    Ok(Some(stream))
}

/// Turns a source's rows (its columns as text, then `_batch_id`, `_ods_ref`) into records.
struct RowReader<'s> {
    map: &'s SourceMap,
    si: usize,
    /// Column name → position in a row's cells.
    pos: HashMap<&'s str, usize>,
    /// Where the lineage starts among the cells.
    lineage: usize,
    /// Batch ids and attribute names, each held once.
    batches: HashMap<String, Arc<str>>,
    names: HashMap<String, Arc<str>>,
    now_ms: i64,
    last_batch: String,
    rows: u64,
}

impl<'s> RowReader<'s> {
    fn new(s: &'s Src<'_>, si: usize, cols: &[&'s str]) -> Self {
        RowReader {
            map: s.map,
            si,
            pos: cols.iter().enumerate().map(|(i, c)| (*c, i)).collect(),
            lineage: cols.len(),
            batches: HashMap::new(),
            names: HashMap::new(),
            now_ms: chrono::Utc::now().timestamp_millis(),
            last_batch: String::new(),
            rows: 0,
        }
    }

    fn intern(names: &mut HashMap<String, Arc<str>>, n: &str) -> Arc<str> {
        names
            .entry(n.to_string())
            .or_insert_with(|| Arc::from(n))
            .clone()
    }

    /// Row `i` of the cells `t`: its record, observations, events and relations into `out`.
    fn row(&mut self, t: &[StringArray], i: usize, out: &mut Read, seen: &mut BTreeSet<String>) {
        let (b, o) = (&t[self.lineage], &t[self.lineage + 1]);
        if !b.is_null(i) && b.value(i) != self.last_batch {
            self.last_batch = b.value(i).to_string();
            seen.insert(self.last_batch.clone());
        }
        let pos = &self.pos;
        let cell = |c: &str| -> Option<&str> {
            pos.get(c)
                .map(|&k| &t[k])
                .filter(|a| !a.is_null(i))
                .map(|a| a.value(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let m = self.map;
        if let Some(f) = &m.when
            && cell(&f.column) != Some(f.equals.as_str())
        {
            return;
        }
        let key = cell(&m.key).unwrap_or_default().to_string();
        let name = m.name.as_deref().and_then(cell).unwrap_or_default();
        // A row that names nobody (no key, no name) describes no subject of this role.
        if key.is_empty() && name.is_empty() {
            return;
        }
        self.rows += 1;
        let batch_id = if b.is_null(i) { "" } else { b.value(i) };
        let batch = Self::intern(&mut self.batches, batch_id);
        let ods_ref = if o.is_null(i) {
            String::new()
        } else {
            o.value(i).to_string()
        };
        let person = (m.subject == SubjectKind::Person).then(|| PersonRecord {
            id: key.clone(),
            name: name.to_string(),
            sex: m.sex.as_deref().and_then(cell).map(str::to_string),
            birth: m
                .birth
                .as_deref()
                .and_then(cell)
                .and_then(|v| yishu_types::date::parse_cn_date(v).ok()),
            address: m.address.as_deref().and_then(cell).map(parse_address),
        });
        // A date in the future (a mistyped year) says nothing about which fact is newer.
        let at =
            m.at.as_deref()
                .and_then(cell)
                .and_then(date_ms)
                .filter(|&t| t <= self.now_ms)
                .unwrap_or(0);
        let r = out.recs.len() as u32;
        let names = &mut self.names;
        for a in &m.attributes {
            if let Some(f) = &a.when
                && cell(&f.column) != Some(f.equals.as_str())
            {
                continue;
            }
            if let Some(v) = a.value.of(cell) {
                out.obs.push((r, Self::intern(names, &a.attribute), v));
            }
        }
        for e in &m.events {
            if let Some(d) = cell(&e.date) {
                let detail = e.detail.as_ref().and_then(|x| x.of(cell));
                let event = Self::intern(names, &e.event);
                out.events
                    .push((r, event, d.to_string(), detail.unwrap_or_default()));
            }
        }
        for rel in &m.relations {
            let since = rel.since.as_deref().and_then(cell).unwrap_or_default();
            let to = match &rel.target {
                Target::Role { role } => RelTo::Role(role.clone()),
                Target::Key { kind, column } => match cell(column) {
                    Some(v) => RelTo::Key(*kind, v.to_string()),
                    None => continue,
                },
            };
            let relation = Self::intern(names, &rel.relation);
            out.rels.push((r, relation, to, since.to_string()));
        }
        out.recs.push(Rec {
            src: self.si,
            batch,
            ods_ref,
            key,
            at,
            person,
        });
    }
}
