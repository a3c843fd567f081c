//! A fusion run: reads every std resource the plan names, links its rows to subjects (by key, by
//! the model, by a person's earlier decision), builds each subject's golden record under the
//! survivorship rules, and writes the base libraries — `base.population`, `base.entities`,
//! `base.houses` (current versions; superseded versions go to `<table>_history` with their
//! valid-from and valid-to), `base.subject_records` (which rows make each subject),
//! `base.events` (the timeline) and `base.relations` (the graph). Records in doubt go to the
//! review queue; a disagreement with an authoritative value opens a work order to the
//! departments involved.

use crate::key::{SubjectKind, normalize_key};
use crate::link::{Linked, PersonRecord, compare_records, link_people_with, record_blocks};
use crate::plan::{KnownResource, Plan, SourceMap, Target};
use crate::survive::{GoldenValue, Observation, golden};
use crate::tables::{self, Cols, KeyedBy, Subjects, arrow_err, lake_err, texts};
use crate::{address::parse_address, fs::Thresholds};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use yishu_lake::arrow::array::{
    Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringBuilder,
    TimestampMicrosecondArray,
};
use yishu_lake::arrow::compute::filter_record_batch;
use yishu_lake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use yishu_lake::datafusion::prelude::{Expr, cast as df_cast, ident};
use yishu_lake::{Finder, Lake, Layer, key_hash};
use yishu_meta::Store;
use yishu_meta::catalog::Resource;
use yishu_meta::fusion::{NewReview, ReviewStatus};
use yishu_meta::workorder::Failure;
use yishu_types::{Error, ErrorCode};

/// The base-library table of each subject kind.
pub fn base_table(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::Person => "population",
        SubjectKind::Entity => "entities",
        SubjectKind::House => "houses",
    }
}

/// Where superseded versions of a base table's rows go.
pub fn history_table(kind: SubjectKind) -> String {
    format!("{}_history", base_table(kind))
}

pub const RECORDS_TABLE: &str = "subject_records";
pub const EVENTS_TABLE: &str = "events";
pub const RELATIONS_TABLE: &str = "relations";
pub const TAGS_TABLE: &str = "tags";

/// Days a department has to answer a conflict work order.
const CONFLICT_SLA_DAYS: i64 = 10;
/// Conflicting subjects shown in a work order's evidence.
const CONFLICT_SAMPLES: usize = 20;

/// What a run did, for the CLI, the console and the run record.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FusionReport {
    pub run_id: String,
    pub plan_version: i64,
    /// `full` (every std row read again) or `incremental` (only batches no run had read).
    pub mode: String,
    /// Why a run was full, in words and as a code: first_run, asked, plan_changed, no_index,
    /// decisions, corrections.
    pub full_because: String,
    pub full_code: String,
    /// Every std batch the libraries have read, this run included (what the next incremental
    /// run skips).
    pub batches: Vec<String>,
    /// Batches this run read for the first time (incremental runs).
    pub new_batches: u64,
    /// Subjects an incremental run rewrote (those its new rows touched, and their spouses).
    pub touched: u64,
    /// The linking model the last full run fitted on the whole library; incremental runs link
    /// with it.
    pub model: Option<crate::fs::Model>,
    /// Rows read per resource code and role.
    pub rows: BTreeMap<String, u64>,
    /// Subjects per kind in the libraries.
    pub subjects: BTreeMap<String, u64>,
    pub linked_by_key: u64,
    pub linked_by_model: u64,
    pub linked_by_decision: u64,
    /// Person records that formed a subject of their own without a valid number.
    pub unkeyed_subjects: u64,
    /// Entity and house rows whose key is missing or invalid (not in the libraries).
    pub unlinked: u64,
    pub review_queued: u64,
    pub review_new: u64,
    pub collisions: u64,
    pub conflicts: u64,
    pub work_orders: u64,
    pub events: u64,
    pub relations: u64,
    /// Tags given (a person may have several).
    pub tagged: u64,
    /// Subjects whose golden record changed (or appeared) in this run.
    pub changed: u64,
    /// Conflicts in the libraries afterwards, per subject kind: what an incremental run counts
    /// on from (it reads only the subjects it touches).
    pub conflicts_of: BTreeMap<String, ConflictCounts>,
    /// The layout of the base tables the run wrote ([`LAYOUT`]); an incremental run needs the
    /// current one.
    pub layout: u32,
    pub seconds: f64,
}

/// The layout of the base tables: 1 = hash columns to find a subject's rows by
/// (`_key_hash`, `_ref_hash`, `_to_hash`) and the blocking keys in `person_blocks`.
pub const LAYOUT: u32 = 1;

/// Conflicts in one library: golden values in conflict, and per involved resource and
/// attribute.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ConflictCounts {
    pub values: u64,
    pub by: BTreeMap<String, BTreeMap<String, u64>>,
}

impl ConflictCounts {
    /// Adds another library part's counts.
    fn add(&mut self, other: &ConflictCounts) {
        self.values += other.values;
        for (res, by) in &other.by {
            let mine = self.by.entry(res.clone()).or_default();
            for (attribute, n) in by {
                *mine.entry(attribute.clone()).or_default() += n;
            }
        }
    }

    /// Adds (or with `sign` -1 takes away) the conflicts a row's `_conflicts` cell lists.
    fn count(&mut self, cell: &str, sign: i64) {
        let add = |n: &mut u64| *n = n.saturating_add_signed(sign);
        for entry in cell.split(CONFLICT_SEP).filter(|e| !e.is_empty()) {
            let mut parts = entry.split(CONFLICT_PART_SEP);
            let attribute = parts.next().unwrap_or_default();
            add(&mut self.values);
            for res in parts {
                let by_res = self.by.entry(res.to_string()).or_default();
                add(by_res.entry(attribute.to_string()).or_default());
            }
        }
    }
}

/// One row of a source, as linking and survivorship need it.
pub(crate) struct Rec {
    pub src: usize,
    pub batch: Arc<str>,
    pub ods_ref: String,
    pub key: String,
    pub at: i64,
    pub person: Option<PersonRecord>,
}

pub(crate) struct Src<'a> {
    pub map: &'a SourceMap,
    pub resource: Resource,
    pub org: String,
}

fn date_ms(s: &str) -> Option<i64> {
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
        keys: &["_batch_id", "_ods_ref"],
        pick: |k: &[&str]| rows.get(k[0]).is_some_and(|refs| refs.contains(k[1])),
        hashed: Some((yishu_lake::REF_HASH, &hashes)),
    };
    let mut wanted = columns.to_vec();
    wanted.extend(["_batch_id", "_ods_ref"]);
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
    wanted.extend(["_batch_id", "_ods_ref"]);
    // Rows named one by one are picked by their batch and source reference (the other columns
    // of the other rows are not read); whole batches stream through DataFusion.
    let mut picked = None;
    let mut stream = None;
    match only {
        Only::Picked(rows) => picked = Some(rows.iter()),
        Only::All | Only::Batches(_) => {
            let frame = match only {
                Only::Batches(f) => lake.frame_where(Layer::Std, &table, f).await?,
                _ => lake.frame(Layer::Std, &table).await?,
            };
            let Some(frame) = frame else {
                return Ok(0);
            };
            let mut exprs: Vec<Expr> = cols
                .iter()
                .map(|c| df_cast(ident(*c), DataType::Utf8))
                .collect();
            exprs.push(ident("_batch_id"));
            exprs.push(ident("_ods_ref"));
            stream = Some(
                frame
                    .select(exprs)
                    .map_err(lake_err(what.clone()))?
                    .execute_stream()
                    .await
                    .map_err(lake_err(what.clone()))?,
            );
        }
    }
    let pos: HashMap<&str, usize> = cols.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let m = s.map;
    let mut batches: HashMap<String, Arc<str>> = HashMap::new();
    let mut names: HashMap<String, Arc<str>> = HashMap::new();
    let mut intern = |n: &str| -> Arc<str> {
        names
            .entry(n.to_string())
            .or_insert_with(|| Arc::from(n))
            .clone()
    };
    let mut rows = 0u64;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut last_batch = String::new();
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
        let n = cols.len();
        for i in 0..t[n].len() {
            if !t[n].is_null(i) && t[n].value(i) != last_batch {
                last_batch = t[n].value(i).to_string();
                seen.insert(last_batch.clone());
            }
            let cell = |c: &str| -> Option<&str> {
                pos.get(c)
                    .map(|&k| &t[k])
                    .filter(|a| !a.is_null(i))
                    .map(|a| a.value(i))
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
            };
            if let Some(f) = &m.when
                && cell(&f.column) != Some(f.equals.as_str())
            {
                continue;
            }
            let key = cell(&m.key).unwrap_or_default().to_string();
            let name = m.name.as_deref().and_then(cell).unwrap_or_default();
            // A row that names nobody (no key, no name) describes no subject of this role.
            if key.is_empty() && name.is_empty() {
                continue;
            }
            rows += 1;
            let batch_id = if t[n].is_null(i) { "" } else { t[n].value(i) };
            let batch = batches
                .entry(batch_id.to_string())
                .or_insert_with(|| Arc::from(batch_id))
                .clone();
            let ods_ref = if t[n + 1].is_null(i) {
                String::new()
            } else {
                t[n + 1].value(i).to_string()
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
                    .filter(|&t| t <= now_ms)
                    .unwrap_or(0);
            let r = out.recs.len() as u32;
            for a in &m.attributes {
                if let Some(f) = &a.when
                    && cell(&f.column) != Some(f.equals.as_str())
                {
                    continue;
                }
                if let Some(v) = a.value.of(cell) {
                    out.obs.push((r, intern(&a.attribute), v));
                }
            }
            for e in &m.events {
                if let Some(d) = cell(&e.date) {
                    let detail = e.detail.as_ref().and_then(|x| x.of(cell));
                    out.events.push((
                        r,
                        intern(&e.event),
                        d.to_string(),
                        detail.unwrap_or_default(),
                    ));
                }
            }
            for rel in &m.relations {
                let since = rel
                    .since
                    .as_deref()
                    .and_then(cell)
                    .unwrap_or_default()
                    .to_string();
                let to = match &rel.target {
                    Target::Role { role } => RelTo::Role(role.clone()),
                    Target::Key { kind, column } => match cell(column) {
                        Some(v) => RelTo::Key(*kind, v.to_string()),
                        None => continue,
                    },
                };
                out.rels.push((r, intern(&rel.relation), to, since));
            }
            out.recs.push(Rec {
                src: si,
                batch,
                ods_ref,
                key,
                at,
                person,
            });
        }
    }
    Ok(rows)
}

/// A stable key for a person without a valid number: from the smallest of its rows.
pub(crate) fn unkeyed_key(rows: &[String]) -> String {
    let first = rows.iter().min().cloned().unwrap_or_default();
    let h = blake3::hash(first.as_bytes()).to_hex();
    format!("~{}", &h[..16])
}

/// Whether a run may read only what is new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Only the std batches the last run did not read, when the last run allows it (same plan,
    /// no review decision or accepted correction since); otherwise everything.
    Auto,
    /// Everything again.
    Full,
}

/// Runs fusion under the plan in force; `progress` hears each step.
pub async fn fuse(
    store: &Store,
    lake: &Lake,
    mode: RunMode,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<FusionReport, Error> {
    let started = std::time::Instant::now();
    let saved = store.fusion_plan().await?.ok_or_else(|| {
        Error::new(
            ErrorCode::FusionPlanInvalid,
            "no fusion plan has been saved yet (yishu fusion plan --file …)",
        )
    })?;
    let plan: Plan = serde_json::from_value(saved.body.clone()).map_err(|e| {
        Error::new(
            ErrorCode::FusionPlanInvalid,
            format!("the saved plan cannot be read: {e}"),
        )
    })?;
    let last = match mode {
        RunMode::Full => Err(crate::incremental::FullBecause::new(
            "asked",
            "a full run was asked for",
        )),
        RunMode::Auto => crate::incremental::last_run(store, lake, saved.version).await?,
    };
    let run_id = uuid::Uuid::now_v7().to_string();
    store.start_fusion_run(&run_id, saved.version).await?;
    let run = Run {
        plan: &plan,
        run_id: &run_id,
        plan_version: saved.version,
    };
    let outcome = match last {
        Ok(last) => crate::incremental::fuse_new(store, lake, &run, last, progress).await,
        Err(why) => {
            progress(&format!("full run: {}", why.message));
            fuse_all(store, lake, &run, why, progress).await
        }
    };
    match outcome {
        Ok(mut report) => {
            report.seconds = started.elapsed().as_secs_f64();
            store
                .finish_fusion_run(
                    &run_id,
                    true,
                    &serde_json::to_value(&report).unwrap_or_default(),
                )
                .await?;
            Ok(report)
        }
        Err(e) => {
            store
                .finish_fusion_run(&run_id, false, &json!({"error": e.message}))
                .await?;
            Err(e)
        }
    }
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

/// What every step of a run needs to know.
pub(crate) struct Run<'a> {
    pub plan: &'a Plan,
    pub run_id: &'a str,
    pub plan_version: i64,
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
fn row_ref(r: &Rec) -> String {
    format!("{}@{}", r.ods_ref, r.batch)
}

/// A full run: every std row of every source.
async fn fuse_all(
    store: &Store,
    lake: &Lake,
    run: &Run<'_>,
    why: crate::incremental::FullBecause,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<FusionReport, Error> {
    let mut report = FusionReport {
        run_id: run.run_id.to_string(),
        plan_version: run.plan_version,
        mode: "full".into(),
        full_because: why.message,
        full_code: why.code.into(),
        layout: LAYOUT,
        ..Default::default()
    };
    let srcs = sources(store, run.plan).await?;
    // 1. Read.
    let mut read = Read::default();
    let mut seen = BTreeSet::new();
    for (si, s) in srcs.iter().enumerate() {
        let n = read_source(lake, s, si, &mut read, Only::All, &mut seen).await?;
        progress(&format!(
            "read {} ({}, {}): {n} rows",
            s.resource.meta.name, s.map.resource, s.map.role
        ));
        report
            .rows
            .insert(format!("{} {}", s.map.resource, s.map.role), n);
    }
    report.batches = seen.into_iter().collect();
    // 2. Link.
    let decisions: HashMap<String, (ReviewStatus, String)> = store
        .review_decisions()
        .await?
        .into_iter()
        .map(|r| {
            (
                format!("{}|{}|{}", r.resource_code, r.ods_ref, r.role),
                (r.status, r.subject_key),
            )
        })
        .collect();
    let how = Anchored {
        anchors: Vec::new(),
        model: None,
        decisions,
    };
    let subject_of = link_rows(store, run, &srcs, &mut read, how, &mut report, progress).await?;
    build(
        store,
        lake,
        run,
        &srcs,
        &read,
        &subject_of,
        None,
        &mut report,
        progress,
    )
    .await?;
    Ok(report)
}

/// What person rows are linked against: existing subjects (an incremental run's anchors, each
/// with its key), the model to link with (else one is fitted), and reviewers' decisions.
pub(crate) struct Anchored<'a> {
    pub anchors: Vec<(String, PersonRecord)>,
    pub model: Option<&'a crate::fs::Model>,
    pub decisions: HashMap<String, (ReviewStatus, String)>,
}

/// Who each row of `read` is about: person rows linked (with the anchors ahead of them, which
/// never move), pairs in doubt queued for review, and entity and house rows by key.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn link_rows(
    store: &Store,
    run: &Run<'_>,
    srcs: &[Src<'_>],
    read: &mut Read,
    how: Anchored<'_>,
    report: &mut FusionReport,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Vec<Option<(SubjectKind, String)>>, Error> {
    let person_recs: Vec<usize> = (0..read.recs.len())
        .filter(|&i| read.recs[i].person.is_some())
        .collect();
    // Moved out of the rows while linking reads them, then put back.
    let mut new_people: Vec<PersonRecord> = person_recs
        .iter()
        .map(|&i| read.recs[i].person.take().unwrap_or_default())
        .collect();
    progress(&format!(
        "linking {} person records against {} subjects",
        new_people.len(),
        how.anchors.len()
    ));
    let (anchor_keys, mut people): (Vec<String>, Vec<PersonRecord>) =
        how.anchors.into_iter().unzip();
    let first_new = people.len();
    people.append(&mut new_people);
    let linked = link_people_with(&people, Thresholds::default(), how.model, first_new);
    if how.model.is_none() {
        report.model = linked.model.clone();
    }
    let keys = subject_keys(&linked, &anchor_keys, |p| {
        rec_ref(srcs, &read.recs[person_recs[p - first_new]])
    });
    let mut recs_of: Vec<Option<usize>> = vec![None; first_new];
    recs_of.extend(person_recs.iter().map(|&i| Some(i)));
    let mut subject_of: Vec<Option<(SubjectKind, String)>> = vec![None; read.recs.len()];
    let queue = assign_people(
        &Linking {
            srcs,
            read,
            people: &people,
            recs_of: &recs_of,
            linked: &linked,
            keys: &keys,
            decisions: &how.decisions,
        },
        &mut subject_of,
        report,
    );
    for (p, &i) in person_recs.iter().enumerate() {
        read.recs[i].person = Some(std::mem::take(&mut people[first_new + p]));
    }
    drop(people);
    report.review_queued = queue.len() as u64;
    report.review_new = store.queue_reviews(run.run_id, &queue).await?;
    link_keyed(srcs, read, 0, &mut subject_of, report);
    progress(&format!(
        "linked: {} by key, {} by the model, {} by decision, {} in review",
        report.linked_by_key,
        report.linked_by_model,
        report.linked_by_decision,
        report.review_queued
    ));
    Ok(subject_of)
}

/// Each subject's key: an anchor's (an existing subject an incremental run linked against), a
/// valid number, or for a person without one a key from the rows that make it.
pub(crate) fn subject_keys(
    linked: &Linked,
    anchors: &[String],
    rec_ref: impl Fn(usize) -> String,
) -> Vec<String> {
    let mut out: Vec<Option<String>> = vec![None; linked.keys.len()];
    for (p, key) in anchors.iter().enumerate() {
        if let Some(s) = linked.subject[p]
            && out[s].is_none()
        {
            out[s] = Some(key.clone());
        }
    }
    let mut members: HashMap<usize, Vec<String>> = HashMap::new();
    for (p, s) in linked.subject.iter().enumerate().skip(anchors.len()) {
        if let Some(s) = s
            && out[*s].is_none()
            && linked.keys[*s].starts_with('~')
        {
            members.entry(*s).or_default().push(rec_ref(p));
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(s, k)| {
            k.unwrap_or_else(|| match members.get(&s) {
                Some(rows) => unkeyed_key(rows),
                None => linked.keys[s].clone(),
            })
        })
        .collect()
}

/// What deciding each person record's subject reads.
pub(crate) struct Linking<'a> {
    pub srcs: &'a [Src<'a>],
    pub read: &'a Read,
    /// The records linking compared (anchors first in an incremental run).
    pub people: &'a [PersonRecord],
    /// Per linked record: its row in `read` (`None` for an anchor).
    pub recs_of: &'a [Option<usize>],
    pub linked: &'a Linked,
    pub keys: &'a [String],
    pub decisions: &'a HashMap<String, (ReviewStatus, String)>,
}

/// Gives each person row its subject (following a person's decision where there is one) and
/// returns the rows in doubt for the review queue.
pub(crate) fn assign_people(
    l: &Linking<'_>,
    subject_of: &mut [Option<(SubjectKind, String)>],
    report: &mut FusionReport,
) -> Vec<NewReview> {
    let (linked, keys) = (l.linked, l.keys);
    let by_key: HashMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(s, k)| (k.as_str(), s))
        .collect();
    let in_review: HashMap<usize, (usize, f64)> =
        linked.review.iter().map(|r| (r.0, (r.1, r.2))).collect();
    let collided: HashSet<usize> = linked.collisions.iter().copied().collect();
    let mut queue = Vec::new();
    for (p, i) in l.recs_of.iter().enumerate() {
        let Some(i) = *i else {
            continue;
        };
        let r = &l.read.recs[i];
        let here = rec_ref(l.srcs, r);
        let mut subject = linked.subject[p].map(|s| keys[s].clone());
        let doubt = in_review
            .get(&p)
            .map(|&(s, prob)| (s, prob, "model"))
            .or_else(|| {
                collided.contains(&p).then(|| {
                    let key = linked.keys[linked.subject[p].unwrap_or(0)]
                        .split('#')
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    (
                        by_key.get(key.as_str()).copied().unwrap_or(0),
                        0.0,
                        "collision",
                    )
                })
            });
        match l.decisions.get(&here) {
            Some((ReviewStatus::Linked, key)) => {
                subject = Some(key.clone());
                report.linked_by_decision += 1;
            }
            Some((_, _)) if doubt.is_some() => {
                // Rejected: the record stays apart from the candidate.
                if in_review.contains_key(&p) {
                    subject = None;
                }
            }
            _ => {
                if let Some((s, prob, reason)) = doubt {
                    let cand = &l.people[p];
                    // The candidate subject's first record, as the evidence to compare with.
                    let other = linked
                        .subject
                        .iter()
                        .position(|x| *x == Some(s))
                        .map(|q| &l.people[q]);
                    let levels = other.map(|o| compare_records(cand, o)).unwrap_or_default();
                    let src = &l.srcs[r.src].map;
                    queue.push(NewReview {
                        resource_code: src.resource.clone(),
                        ods_ref: row_ref(r),
                        role: src.role.clone(),
                        subject_key: keys[s].clone(),
                        probability: prob,
                        reason: reason.to_string(),
                        evidence: json!({
                            "record": person_json(cand),
                            "candidate": other.map(person_json),
                            "levels": levels,
                            "fields": ["id", "name", "birth", "sex", "address"],
                        }),
                    });
                    if reason == "collision" {
                        report.collisions += 1;
                    }
                }
            }
        }
        if subject.is_none() {
            // A person only this row knows, or one a person must still decide about: a subject
            // of its own for now.
            subject = Some(unkeyed_key(std::slice::from_ref(&here)));
            report.unkeyed_subjects += 1;
        } else if linked.subject[p].is_some() && doubt.is_none() {
            if normalize_key(SubjectKind::Person, &r.key).is_ok() {
                report.linked_by_key += 1;
            } else {
                report.linked_by_model += 1;
            }
        }
        subject_of[i] = subject.map(|k| (SubjectKind::Person, k));
    }
    queue
}

/// Entity and house rows (from `from` on) belong to the subject their valid key names.
pub(crate) fn link_keyed(
    srcs: &[Src<'_>],
    read: &Read,
    from: usize,
    subject_of: &mut [Option<(SubjectKind, String)>],
    report: &mut FusionReport,
) {
    for (i, r) in read.recs.iter().enumerate().skip(from) {
        let kind = srcs[r.src].map.subject;
        if kind == SubjectKind::Person {
            continue;
        }
        match normalize_key(kind, &r.key) {
            Ok(k) => subject_of[i] = Some((kind, k)),
            Err(_) => report.unlinked += 1,
        }
    }
}

/// The subjects an incremental run rewrites, and what it knows of subjects outside them.
#[derive(Default)]
pub(crate) struct Scope {
    pub keys: Subjects,
    /// The libraries before the run, from the last run's report: subjects and conflicts per
    /// kind.
    pub subjects_before: BTreeMap<String, u64>,
    pub conflicts_before: BTreeMap<String, ConflictCounts>,
    /// Current golden values (subject key, attribute) of subjects outside the scope that a row
    /// inside names: a spouse's date of death.
    pub outside: HashMap<(String, String), GoldenValue>,
}

impl Scope {
    pub fn contains(&self, kind: SubjectKind, key: &str) -> bool {
        self.keys.contains(kind, key)
    }
}

/// Writes a table keyed by subject: all of it in a full run, what differs for the scope's
/// subjects in an incremental one.
async fn write_rows(
    lake: &Lake,
    table: &str,
    batch: RecordBatch,
    keyed: KeyedBy<'_>,
    scope: Option<&Scope>,
    meta: &HashMap<String, Value>,
) -> Result<(), Error> {
    let batch = tables::with_hash(batch, tables::KEY_HASH, &keyed.columns(), |c| keyed.hash(c))?;
    match scope {
        None => tables::overwrite(lake, table, vec![batch], meta).await,
        Some(s) => tables::write_changes(lake, table, batch, keyed, &s.keys, meta).await,
    }
}

/// Everything after linking: the graph, golden records, tags, conflicts and their work orders,
/// the records of each subject, the timeline and the linking index — for every subject (full
/// run) or the ones in `scope`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn build(
    store: &Store,
    lake: &Lake,
    run: &Run<'_>,
    srcs: &[Src<'_>],
    read: &Read,
    subject_of: &[Option<(SubjectKind, String)>],
    scope: Option<&Scope>,
    report: &mut FusionReport,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<(), Error> {
    let plan = run.plan;
    let in_scope = |k: SubjectKind, key: &str| scope.is_none_or(|s| s.contains(k, key));
    // Rows whose subject this run writes.
    let mine = |i: usize| -> Option<&(SubjectKind, String)> {
        subject_of[i].as_ref().filter(|(k, key)| in_scope(*k, key))
    };
    let meta = HashMap::from([
        ("fusion_run".to_string(), json!(run.run_id)),
        ("plan_version".to_string(), json!(run.plan_version)),
        ("mode".to_string(), json!(report.mode)),
    ]);
    // A row is its resource, batch and source reference (one file name may come every day).
    let role_rec: HashMap<(&str, &str, &str, &str), usize> = read
        .recs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                (
                    srcs[r.src].map.resource.as_str(),
                    r.batch.as_ref(),
                    r.ods_ref.as_str(),
                    srcs[r.src].map.role.as_str(),
                ),
                i,
            )
        })
        .collect();
    // The graph; each person's relations kept for the tags.
    let mut rels_of: HashMap<String, Vec<(Arc<str>, String)>> = HashMap::new();
    {
        let mut b = Cols::new(&[
            "from_kind",
            "from_key",
            "relation",
            "to_kind",
            "to_key",
            "since",
            "resource",
            "_batch_id",
            "_ods_ref",
        ]);
        // One edge per (from, relation, to): the earliest, then the first row, whatever order
        // the rows were read in.
        type Edge<'r> = (&'r str, &'r Arc<str>, &'r str, &'r str, &'r RelTo, u32);
        let mut rels: Vec<Edge> = read
            .rels
            .iter()
            .filter_map(|(r, relation, to, since)| {
                let (_, fkey) = mine(*r as usize)?;
                let rec = &read.recs[*r as usize];
                Some((
                    fkey.as_str(),
                    relation,
                    since.as_str(),
                    rec.ods_ref.as_str(),
                    to,
                    *r,
                ))
            })
            .collect();
        rels.sort_unstable_by(|a, b| {
            (a.0, a.1.as_ref(), a.2, a.3).cmp(&(b.0, b.1.as_ref(), b.2, b.3))
        });
        let mut seen = HashSet::new();
        for (_, relation, since, _, to, r) in rels {
            let rec = &read.recs[r as usize];
            let Some((fk, fkey)) = mine(r as usize) else {
                continue;
            };
            let target = match to {
                RelTo::Role(role) => role_rec
                    .get(&(
                        srcs[rec.src].map.resource.as_str(),
                        rec.batch.as_ref(),
                        rec.ods_ref.as_str(),
                        role.as_str(),
                    ))
                    .and_then(|&j| subject_of[j].clone()),
                RelTo::Key(kind, raw) => normalize_key(*kind, raw).ok().map(|k| (*kind, k)),
            };
            let Some((tk, tkey)) = target else {
                continue;
            };
            if !seen.insert((fkey.clone(), relation.clone(), tkey.clone())) {
                continue;
            }
            let since = yishu_types::date::parse_cn_date(since)
                .map(|d| d.to_string())
                .unwrap_or_default();
            if *fk == SubjectKind::Person {
                rels_of
                    .entry(fkey.clone())
                    .or_default()
                    .push((relation.clone(), since.clone()));
            }
            b.row(&[
                fk.as_str(),
                fkey,
                relation,
                tk.as_str(),
                &tkey,
                &since,
                &srcs[rec.src].map.resource,
                &rec.batch,
                &rec.ods_ref,
            ]);
            report.relations += 1;
        }
        let batch = tables::with_hash(b.finish()?, TO_HASH, &["to_kind", "to_key"], key_hash)?;
        let keyed = KeyedBy::Any("from_kind", "from_key");
        write_rows(lake, RELATIONS_TABLE, batch, keyed, scope, &meta).await?;
        progress(&format!("base.relations: {} written", report.relations));
    }
    // 3. Golden records, one subject at a time (observations are built for a subject, used and
    // dropped: holding every subject's would cost many times the rows read).
    let mut observations: HashMap<(SubjectKind, &str), Vec<u32>> = HashMap::new();
    let mut records_per: HashMap<(SubjectKind, &str), u64> = HashMap::new();
    for (k, key) in (0..read.recs.len()).filter_map(mine) {
        *records_per.entry((*k, key.as_str())).or_default() += 1;
        observations.entry((*k, key.as_str())).or_default();
    }
    for (n, (r, _, _)) in read.obs.iter().enumerate() {
        if let Some((k, key)) = mine(*r as usize) {
            observations
                .entry((*k, key.as_str()))
                .or_default()
                .push(n as u32);
        }
    }
    let observation = |n: u32| {
        let (r, attr, value) = &read.obs[n as usize];
        let rec = &read.recs[*r as usize];
        Observation {
            attribute: attr.to_string(),
            value: value.clone(),
            source: srcs[rec.src].org.clone(),
            resource: srcs[rec.src].map.resource.clone(),
            batch: rec.batch.to_string(),
            row: rec.ods_ref.clone(),
            at: rec.at,
        }
    };
    // One attribute's golden value of one subject (outside the scope: as the library has it).
    let golden_of = |kind: SubjectKind, key: &str, attribute: &str| -> Option<GoldenValue> {
        if let Some(s) = scope
            && !s.contains(kind, key)
        {
            return s
                .outside
                .get(&(key.to_string(), attribute.to_string()))
                .cloned();
        }
        let rule = plan.rules(kind).iter().find(|r| r.attribute == attribute)?;
        let obs: Vec<Observation> = observations
            .get(&(kind, key))?
            .iter()
            .filter(|&&n| read.obs[n as usize].1.as_ref() == attribute)
            .map(|&n| observation(n))
            .collect();
        golden(std::slice::from_ref(rule), &obs).into_iter().next()
    };
    // Statuses that follow from a relative's death: extra observations.
    let mut extra: HashMap<(SubjectKind, String), Vec<Observation>> = HashMap::new();
    // Corrections the lead department accepted (R20) count as its own, newest value.
    for c in store.corrections(Some("accepted")).await? {
        let kind = match c.subject_kind.as_str() {
            "entity" => SubjectKind::Entity,
            "house" => SubjectKind::House,
            _ => SubjectKind::Person,
        };
        let at = format!("correction:{}", c.id);
        extra
            .entry((kind, c.subject_key.clone()))
            .or_default()
            .push(Observation {
                attribute: c.attribute,
                value: c.value,
                source: c.to_org,
                resource: "correction".into(),
                batch: at.clone(),
                row: at,
                at: c.decided_at.unwrap_or(i64::MAX),
            });
    }
    for d in &plan.after_death {
        let authority = plan
            .person
            .iter()
            .find(|r| r.attribute == d.attribute)
            .and_then(|r| r.authority.clone());
        for (r, relation, to, since) in &read.rels {
            let (RelTo::Role(role), true) = (to, relation.as_ref() == d.relation) else {
                continue;
            };
            let rec = &read.recs[*r as usize];
            let (Some((SubjectKind::Person, from)), Some(other)) = (
                mine(*r as usize),
                role_rec
                    .get(&(
                        srcs[rec.src].map.resource.as_str(),
                        rec.batch.as_ref(),
                        rec.ods_ref.as_str(),
                        role.as_str(),
                    ))
                    .and_then(|&j| subject_of[j].as_ref()),
            ) else {
                continue;
            };
            let Some(death) = golden_of(SubjectKind::Person, &other.1, &d.death) else {
                continue;
            };
            let Some(now) = golden_of(SubjectKind::Person, from, &d.attribute) else {
                continue;
            };
            let Some(died) = date_ms(&death.value) else {
                continue;
            };
            // A relation dated in the future (a mistyped year) is not known to start after the
            // death: it says nothing about which came first.
            let since = date_ms(since)
                .filter(|&t| t <= chrono::Utc::now().timestamp_millis())
                .unwrap_or(0);
            if now.value != d.from || now.from.at > died || since > died {
                continue;
            }
            extra
                .entry((SubjectKind::Person, from.clone()))
                .or_default()
                .push(Observation {
                    attribute: d.attribute.clone(),
                    value: d.to.clone(),
                    source: authority
                        .clone()
                        .unwrap_or_else(|| death.from.source.clone()),
                    resource: death.from.resource.clone(),
                    batch: death.from.batch.clone(),
                    row: death.from.row.clone(),
                    at: died,
                });
        }
    }
    progress(&format!("building {} golden records", observations.len()));
    // Conflicts per involved resource and attribute: how many, and the first few as evidence.
    let mut conflicts: BTreeMap<(String, SubjectKind, String), (u64, Vec<Value>)> = BTreeMap::new();
    let today = chrono::Utc::now().date_naive();
    let mut tags = Cols::new(&["subject_kind", "subject_key", "tag", "division"]);
    let now_us = chrono::Utc::now().timestamp_micros();
    let mut keys_by_kind: BTreeMap<SubjectKind, Vec<&str>> = BTreeMap::new();
    for (k, key) in observations.keys() {
        keys_by_kind.entry(*k).or_default().push(key);
    }
    for kind in SubjectKind::ALL {
        let mut keys = keys_by_kind.remove(&kind).unwrap_or_default();
        keys.sort_unstable();
        let attrs: Vec<&str> = plan
            .rules(kind)
            .iter()
            .map(|r| r.attribute.as_str())
            .collect();
        let mut rows = Vec::with_capacity(keys.len());
        for key in keys {
            let mut obs: Vec<Observation> = observations[&(kind, key)]
                .iter()
                .map(|&n| observation(n))
                .collect();
            if let Some(x) = extra.get(&(kind, key.to_string())) {
                obs.extend(x.iter().cloned());
            }
            let values = golden(plan.rules(kind), &obs);
            let mut in_conflict = Vec::new();
            for g in values.iter().filter(|g| g.conflict) {
                report.conflicts += 1;
                let differs = |o: &&Observation| {
                    o.attribute == g.attribute
                        && o.value.trim() != g.value
                        && (o.source != g.from.source || o.row != g.from.row)
                };
                let sample = json!({
                    "subject": key,
                    "attribute": g.attribute,
                    "authority": {"department": g.from.source, "resource": g.from.resource, "value": g.value, "row": g.from.row},
                    "others": obs.iter().filter(differs)
                        .map(|o| json!({"department": o.source, "resource": o.resource, "value": o.value, "row": o.row})).collect::<Vec<_>>(),
                });
                let mut involved: Vec<&str> = vec![g.from.resource.as_str()];
                involved.extend(obs.iter().filter(differs).map(|o| o.resource.as_str()));
                involved.sort_unstable();
                involved.dedup();
                for res in &involved {
                    let e = conflicts
                        .entry((res.to_string(), kind, g.attribute.clone()))
                        .or_default();
                    e.0 += 1;
                    if e.1.len() < CONFLICT_SAMPLES {
                        e.1.push(sample.clone());
                    }
                }
                in_conflict.push(conflict_entry(&g.attribute, &involved));
            }
            let value = |a: &str| {
                values
                    .iter()
                    .find(|g| g.attribute == a)
                    .map(|g| g.value.as_str())
            };
            if kind == SubjectKind::Person {
                let rels = rels_of.get(key).map(Vec::as_slice).unwrap_or_default();
                let division = value("行政区划代码").unwrap_or_default();
                for t in &plan.tags {
                    if t.all.iter().all(|c| holds(c, &value, rels, today)) {
                        tags.row(&["person", key, &t.tag, division]);
                        report.tagged += 1;
                    }
                }
            }
            rows.push(LibRow {
                key: key.to_string(),
                values: attrs.iter().map(|a| value(a).map(str::to_string)).collect(),
                provenance: provenance(&values),
                conflicts: in_conflict.join(CONFLICT_SEP),
                records: records_per.get(&(kind, key)).copied().unwrap_or_default() as i64,
            });
        }
        let n = rows.len();
        // The library's conflicts afterwards: these rows', then the ones it keeps.
        let mut counts = ConflictCounts::default();
        for r in &rows {
            counts.count(&r.conflicts, 1);
        }
        let written = write_library(lake, kind, &attrs, rows, run, now_us, &meta, scope).await?;
        report.changed += written.changed;
        report
            .subjects
            .insert(kind.as_str().into(), written.subjects);
        // Conflicts of subjects this run left as they were still stand.
        report.conflicts += written.kept.values;
        for (res, by) in &written.kept.by {
            for (attribute, count) in by {
                conflicts
                    .entry((res.clone(), kind, attribute.clone()))
                    .or_default()
                    .0 += count;
            }
        }
        counts.add(&written.kept);
        report.conflicts_of.insert(kind.as_str().into(), counts);
        progress(&format!(
            "base.{}: {n} subjects written, {} new or changed",
            base_table(kind),
            written.changed
        ));
    }
    if !plan.tags.is_empty() {
        let keyed = KeyedBy::Any("subject_kind", "subject_key");
        write_rows(lake, TAGS_TABLE, tags.finish()?, keyed, scope, &meta).await?;
    }
    // 4. Conflicts → work orders.
    let mut opened = HashSet::new();
    for ((res_code, kind, attribute), (count, samples)) in &conflicts {
        let Some(src) = srcs.iter().find(|s| &s.map.resource == res_code) else {
            continue;
        };
        let rule_id = conflict_rule_id(plan, *kind, attribute);
        opened.insert((src.resource.id, rule_id));
        // An incremental run that found none of these conflicts itself leaves the order (and
        // its evidence) as the run that found them wrote it.
        if scope.is_some() && samples.is_empty() {
            continue;
        }
        let title = format!(
            "{}「{}」与其他部门不一致（{count} 个{}）",
            src.resource.meta.name,
            attribute,
            kind.label_zh()
        );
        store
            .report_failure(&Failure {
                kind: "fusion",
                resource_id: src.resource.id,
                rule_id,
                org_id: src.resource.meta.provider_org_id,
                title: &title,
                batch_id: run.run_id,
                failed: *count as i64,
                evidence: json!({
                    "attribute": attribute,
                    "subject_kind": kind.as_str(),
                    "conflicts": count,
                    "samples": samples,
                    "run": run.run_id,
                }),
                sla_days: CONFLICT_SLA_DAYS,
            })
            .await?;
        report.work_orders += 1;
    }
    // Orders whose conflicts are gone close as verified.
    for s in srcs {
        for kind in SubjectKind::ALL {
            for (n, _) in plan.rules(kind).iter().enumerate() {
                let rule_id = kind_base(kind) + n as i64 + 1;
                if !opened.contains(&(s.resource.id, rule_id)) {
                    store
                        .report_pass("fusion", s.resource.id, rule_id, run.run_id)
                        .await?;
                }
            }
        }
    }
    // Which rows make each subject.
    {
        let mut b = Cols::new(&[
            "subject_kind",
            "subject_key",
            "resource",
            "role",
            "_batch_id",
            "_ods_ref",
        ]);
        for (i, r) in read.recs.iter().enumerate() {
            if let Some((k, key)) = mine(i) {
                b.row(&[
                    k.as_str(),
                    key,
                    &srcs[r.src].map.resource,
                    &srcs[r.src].map.role,
                    &r.batch,
                    &r.ods_ref,
                ]);
            }
        }
        let batch = tables::with_hash(b.finish()?, REF_HASH, &REF_COLUMNS, key_hash)?;
        let keyed = KeyedBy::Any("subject_kind", "subject_key");
        write_rows(lake, RECORDS_TABLE, batch, keyed, scope, &meta).await?;
        progress("base.subject_records written");
    }
    // The timeline.
    {
        let mut b = Cols::new(&[
            "subject_kind",
            "subject_key",
            "date",
            "event",
            "detail",
            "department",
            "resource",
            "_batch_id",
            "_ods_ref",
        ]);
        for (r, event, date, detail) in &read.events {
            let rec = &read.recs[*r as usize];
            if let Some((k, key)) = mine(*r as usize) {
                let date = yishu_types::date::parse_cn_date(date)
                    .map(|d| d.to_string())
                    .unwrap_or_else(|_| date.clone());
                b.row(&[
                    k.as_str(),
                    key,
                    &date,
                    event,
                    detail,
                    &srcs[rec.src].org,
                    &srcs[rec.src].map.resource,
                    &rec.batch,
                    &rec.ods_ref,
                ]);
                report.events += 1;
            }
        }
        let keyed = KeyedBy::Any("subject_kind", "subject_key");
        write_rows(lake, EVENTS_TABLE, b.finish()?, keyed, scope, &meta).await?;
        progress(&format!("base.events: {} written", report.events));
    }
    // What the next incremental run links new records against.
    {
        let mut b = Cols::new(INDEX_COLUMNS);
        let mut blocks_b = Cols::new(&["subject_key", "block"]);
        for (key, rep) in person_reps(read, subject_of, &in_scope) {
            let a = rep.address.clone().unwrap_or_default();
            let birth = rep.birth.map(|d| d.to_string()).unwrap_or_default();
            b.row(&[
                key,
                &rep.name,
                rep.sex.as_deref().unwrap_or_default(),
                &birth,
                a.division.as_deref().unwrap_or_default(),
                &a.street,
                &a.detail,
            ]);
            for block in subject_blocks(key, &rep) {
                blocks_b.row(&[key, &block]);
            }
        }
        let keyed = KeyedBy::Kind(SubjectKind::Person, "subject_key");
        write_rows(lake, INDEX_TABLE, b.finish()?, keyed, scope, &meta).await?;
        let blocks = tables::with_hash(blocks_b.finish()?, BLOCK_HASH, &["block"], key_hash)?;
        write_rows(lake, BLOCKS_TABLE, blocks, keyed, scope, &meta).await?;
    }
    Ok(())
}

/// The linking index of person subjects: what linking compares a new record with.
pub const INDEX_TABLE: &str = "person_index";
pub(crate) const INDEX_COLUMNS: &[&str] = &[
    "subject_key",
    "name",
    "sex",
    "birth",
    "division",
    "street",
    "detail",
];
/// The blocking keys of each person subject, a row each: what finds the subjects a new record
/// may belong to without reading the index whole.
pub const BLOCKS_TABLE: &str = "person_blocks";
/// The hash of `block` in [`BLOCKS_TABLE`].
pub(crate) const BLOCK_HASH: &str = yishu_lake::HASH_COLUMNS[3];
/// The hash of (`resource`, `_batch_id`, `_ods_ref`) in [`RECORDS_TABLE`]: finds the subjects
/// of a source row (std rows hold the same column without the resource, their table's name).
pub(crate) const REF_HASH: &str = yishu_lake::REF_HASH;
pub(crate) const REF_COLUMNS: [&str; 3] = ["resource", "_batch_id", "_ods_ref"];
/// The hash of the subject a relation points to (`to_kind`, `to_key`) in [`RELATIONS_TABLE`].
pub(crate) const TO_HASH: &str = yishu_lake::HASH_COLUMNS[2];

/// The blocking keys a person subject is found by: its record's, and its number (`id:…`).
pub(crate) fn subject_blocks(key: &str, rep: &PersonRecord) -> Vec<String> {
    let mut out = record_blocks(rep);
    if !key.starts_with('~') {
        out.push(number_block(key.split('#').next().unwrap_or_default()));
    }
    out
}

/// The block of a citizen number.
pub(crate) fn number_block(number: &str) -> String {
    format!("id:{number}")
}
/// Between the conflicts of a golden row (`_conflicts`), and between an attribute and the
/// resources involved in its conflict.
const CONFLICT_SEP: &str = "\u{1e}";
const CONFLICT_PART_SEP: &str = "\u{1f}";

fn conflict_entry(attribute: &str, involved: &[&str]) -> String {
    let mut parts = vec![attribute];
    parts.extend_from_slice(involved);
    parts.join(CONFLICT_PART_SEP)
}

/// Each person subject's representative for linking: the first value of each field, from rows
/// with a valid number first, then by source and row (an order that does not depend on how the
/// rows were read, so incremental and full runs agree).
fn person_reps<'a>(
    read: &Read,
    subject_of: &'a [Option<(SubjectKind, String)>],
    in_scope: &impl Fn(SubjectKind, &str) -> bool,
) -> BTreeMap<&'a str, PersonRecord> {
    let mut order: Vec<(bool, usize, &str, usize)> = read
        .recs
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            r.person.is_some()
                && matches!(&subject_of[*i], Some((SubjectKind::Person, key)) if in_scope(SubjectKind::Person, key))
        })
        .map(|(i, r)| {
            let id = r.person.as_ref().map(|p| p.id.as_str()).unwrap_or_default();
            (
                normalize_key(SubjectKind::Person, id).is_err(),
                r.src,
                r.ods_ref.as_str(),
                i,
            )
        })
        .collect();
    order.sort_unstable();
    let mut reps: BTreeMap<&str, PersonRecord> = BTreeMap::new();
    {
        for (_, _, _, i) in order {
            let r = &read.recs[i];
            let (Some(p), Some((SubjectKind::Person, key))) = (&r.person, &subject_of[i]) else {
                continue;
            };
            let rep = reps.entry(key.as_str()).or_insert_with(|| PersonRecord {
                id: if key.starts_with('~') {
                    String::new()
                } else {
                    key.split('#').next().unwrap_or_default().to_string()
                },
                ..Default::default()
            });
            if rep.name.is_empty() {
                rep.name = p.name.clone();
            }
            if rep.sex.is_none() {
                rep.sex = p.sex.clone().filter(|s| !s.is_empty());
            }
            if rep.birth.is_none() {
                rep.birth = p.birth;
            }
            if rep.address.is_none() {
                rep.address = p.address.clone();
            }
        }
    }
    reps
}

/// Whether a person meets one condition of a tag rule.
fn holds<'a>(
    c: &crate::plan::Condition,
    value: &impl Fn(&str) -> Option<&'a str>,
    rels: &[(Arc<str>, String)],
    today: chrono::NaiveDate,
) -> bool {
    use crate::plan::Condition;
    match c {
        Condition::AgeAtLeast { attribute, years } => value(attribute)
            .and_then(|v| yishu_types::date::parse_cn_date(v).ok())
            .and_then(|born| today.years_since(born))
            .is_some_and(|age| age >= *years),
        Condition::Equals {
            attribute,
            value: want,
        } => value(attribute) == Some(want.as_str()),
        Condition::OneOf { attribute, values } => {
            value(attribute).is_some_and(|v| values.iter().any(|w| w == v))
        }
        Condition::Missing { attribute } => value(attribute).is_none_or(|v| v.trim().is_empty()),
        Condition::Related {
            relation,
            within_days,
        } => rels.iter().any(|(r, since)| {
            r.as_ref() == relation
                && within_days.is_none_or(|d| {
                    chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d")
                        .is_ok_and(|s| (today - s).num_days() <= d && s <= today)
                })
        }),
        Condition::NotRelated { relation } => !rels.iter().any(|(r, _)| r.as_ref() == relation),
    }
}

/// Work-order rule ids of fusion conflicts: the attribute's place in its kind's rules, in a
/// range per kind.
fn kind_base(kind: SubjectKind) -> i64 {
    match kind {
        SubjectKind::Person => 0,
        SubjectKind::Entity => 1000,
        SubjectKind::House => 2000,
    }
}

fn conflict_rule_id(plan: &Plan, kind: SubjectKind, attribute: &str) -> i64 {
    let n = plan
        .rules(kind)
        .iter()
        .position(|r| r.attribute == attribute)
        .unwrap_or(0);
    kind_base(kind) + n as i64 + 1
}

fn person_json(p: &PersonRecord) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "sex": p.sex,
        "birth": p.birth.map(|d| d.to_string()),
        "address": p.address.as_ref().map(|a| format!("{} {}{}", a.division.clone().unwrap_or_default(), a.street, a.detail)),
    })
}

/// One subject's current golden row, ready to write.
struct LibRow {
    key: String,
    values: Vec<Option<String>>,
    /// Per attribute: where the value came from, who agrees, who disagrees.
    provenance: String,
    /// The attributes in conflict with the resources involved (what incremental runs count).
    conflicts: String,
    records: i64,
}

/// The provenance column of a golden row.
fn provenance(values: &[GoldenValue]) -> String {
    let prov: BTreeMap<&str, Value> = values
        .iter()
        .map(|g| {
            (
                g.attribute.as_str(),
                json!({
                    "department": g.from.source, "resource": g.from.resource,
                    "batch": g.from.batch, "row": g.from.row, "at": g.from.at,
                    "by": g.by, "agree": g.agree, "disagree": g.disagree, "conflict": g.conflict,
                }),
            )
        })
        .collect();
    serde_json::to_string(&prov).unwrap_or_default()
}

/// A hash of a golden row's values: unchanged rows keep their version.
fn row_hash(values: &[Option<&str>]) -> String {
    let mut h = blake3::Hasher::new();
    for v in values {
        h.update(v.unwrap_or("\u{0}").as_bytes());
        h.update(b"\x1f");
    }
    h.finalize().to_hex()[..32].to_string()
}

/// What writing a library did.
struct LibraryWrite {
    /// Subjects new or changed.
    changed: u64,
    /// Subjects in the library afterwards.
    subjects: u64,
    /// Conflicts of the subjects an incremental run left as they were.
    kept: ConflictCounts,
}

/// Remembers each row's key → (hash, valid-from, subject id): what says whether it changed.
fn remember(
    old: &mut HashMap<String, (String, i64, String)>,
    b: &RecordBatch,
) -> Result<(), Error> {
    let t = tables::named_texts(b, &["subject_key", "_hash", "subject_id"])?;
    let Some(from) = b
        .column_by_name("_valid_from")
        .and_then(|f| f.as_any().downcast_ref::<TimestampMicrosecondArray>())
    else {
        return Ok(());
    };
    for i in 0..b.num_rows() {
        old.insert(
            t[0].value(i).to_string(),
            (
                t[1].value(i).to_string(),
                from.value(i),
                t[2].value(i).to_string(),
            ),
        );
    }
    Ok(())
}

/// Rows of a base library built into one batch: small enough that no string column reaches
/// Arrow's 2 GiB offset limit, big enough that a full run writes few batches.
const LIBRARY_CHUNK: usize = 100_000;

/// Writes one base library: the current version of every subject (a subject whose golden values
/// did not change keeps its valid-from), and the versions it supersedes to the history table
/// with their valid-to. With a scope, only the scope's subjects are read and replaced: their
/// rows are found by key and deleted by deletion vector, the other rows are neither read nor
/// rewritten.
#[allow(clippy::too_many_arguments)]
async fn write_library(
    lake: &Lake,
    kind: SubjectKind,
    attrs: &[&str],
    rows: Vec<LibRow>,
    run: &Run<'_>,
    now_us: i64,
    meta: &HashMap<String, Value>,
    scope: Option<&Scope>,
) -> Result<LibraryWrite, Error> {
    let run_id = run.run_id;
    let table = base_table(kind);
    let mut out = LibraryWrite {
        changed: 0,
        subjects: rows.len() as u64,
        kept: ConflictCounts::default(),
    };
    let before = |s: &Scope| {
        (
            s.subjects_before
                .get(kind.as_str())
                .copied()
                .unwrap_or_default(),
            s.conflicts_before
                .get(kind.as_str())
                .cloned()
                .unwrap_or_default(),
        )
    };
    if let Some(s) = scope
        && rows.is_empty()
    {
        (out.subjects, out.kept) = before(s);
        return Ok(out);
    }
    // The current versions: key → (hash, valid-from, subject id). A full run reads the four
    // columns of every row; an incremental one the whole rows of its subjects, found by key.
    let mut old: HashMap<String, (String, i64, String)> = HashMap::new();
    let picked = match scope {
        Some(s) => {
            let finder = Finder {
                keys: &["subject_key"],
                pick: |k: &[&str]| s.contains(kind, k[0]),
                hashed: Some((tables::KEY_HASH, s.keys.hashes())),
            };
            let p = lake.find(Layer::Base, table, finder, None).await?;
            let (subjects, mut kept) = before(s);
            out.subjects = subjects.saturating_sub(p.len() as u64) + rows.len() as u64;
            for b in &p.rows {
                remember(&mut old, b)?;
                let c = tables::named_texts(b, &["_conflicts"])?;
                for i in 0..b.num_rows() {
                    kept.count(tables::cell(&c, 0, i), -1);
                }
            }
            out.kept = kept;
            Some(p)
        }
        None => {
            if let Some(frame) = lake.frame(Layer::Base, table).await? {
                let batches = frame
                    .select_columns(&["subject_key", "_hash", "_valid_from", "subject_id"])
                    .map_err(lake_err(format!("cannot read base.{table}")))?
                    .collect()
                    .await
                    .map_err(lake_err(format!("cannot read base.{table}")))?;
                for b in &batches {
                    remember(&mut old, b)?;
                }
            }
            None
        }
    };
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let mut fields = vec![
        Field::new("subject_key", DataType::Utf8, false),
        Field::new("subject_id", DataType::Utf8, false),
    ];
    fields.extend(attrs.iter().map(|a| Field::new(*a, DataType::Utf8, true)));
    fields.extend([
        Field::new("_provenance", DataType::Utf8, false),
        Field::new("_conflicts", DataType::Utf8, false),
        Field::new("_records", DataType::Int64, false),
        Field::new("_hash", DataType::Utf8, false),
        Field::new("_valid_from", ts.clone(), false),
        Field::new("_valid_to", ts.clone(), true),
        Field::new("_run", DataType::Utf8, false),
    ]);
    let schema = Arc::new(Schema::new(fields));
    let mut current: HashMap<&str, String> = HashMap::with_capacity(rows.len());
    // In chunks: one string column of a whole library overflows Arrow's 32-bit offsets
    // (`_provenance` is ~1.8 KB a person: a 2M-person city panicked here).
    let mut batches = Vec::with_capacity(rows.len().div_ceil(LIBRARY_CHUNK));
    for chunk in rows.chunks(LIBRARY_CHUNK) {
        let mut key_b = StringBuilder::new();
        let mut id_b = StringBuilder::new();
        let mut attr_b: Vec<StringBuilder> = attrs.iter().map(|_| StringBuilder::new()).collect();
        let mut prov_b = StringBuilder::new();
        let mut hash_b = StringBuilder::new();
        let mut recs_b = Vec::with_capacity(chunk.len());
        let mut from_b = Vec::with_capacity(chunk.len());
        let mut run_b = StringBuilder::new();
        let mut conflicts_b = StringBuilder::new();
        for row in chunk {
            let vals: Vec<Option<&str>> = row.values.iter().map(|v| v.as_deref()).collect();
            let key = &row.key;
            let hash = row_hash(&vals);
            let valid_from = match old.get(key.as_str()) {
                Some((h, f, _)) if *h == hash => *f,
                _ => {
                    out.changed += 1;
                    now_us
                }
            };
            // An opaque, stable id: pages and links name a subject without showing its number.
            match old.get(key.as_str()) {
                Some((_, _, id)) if !id.is_empty() => id_b.append_value(id),
                _ => id_b.append_value(uuid::Uuid::new_v4().simple().to_string()),
            }
            current.insert(key.as_str(), hash.clone());
            key_b.append_value(key.as_str());
            for (b, v) in attr_b.iter_mut().zip(&vals) {
                b.append_option(*v);
            }
            prov_b.append_value(&row.provenance);
            conflicts_b.append_value(&row.conflicts);
            hash_b.append_value(&hash);
            recs_b.push(row.records);
            from_b.push(valid_from);
            run_b.append_value(run_id);
        }
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(key_b.finish()), Arc::new(id_b.finish())];
        arrays.extend(attr_b.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        arrays.push(Arc::new(prov_b.finish()));
        arrays.push(Arc::new(conflicts_b.finish()));
        arrays.push(Arc::new(Int64Array::from(recs_b)));
        arrays.push(Arc::new(hash_b.finish()));
        arrays.push(Arc::new(
            TimestampMicrosecondArray::from(from_b).with_timezone("UTC"),
        ));
        arrays.push(Arc::new(
            TimestampMicrosecondArray::from(vec![None::<i64>; chunk.len()]).with_timezone("UTC"),
        ));
        arrays.push(Arc::new(run_b.finish()));
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(arrow_err)?;
        batches.push(tables::with_hash(
            batch,
            tables::KEY_HASH,
            &["subject_key"],
            |c| tables::subject_hash(kind, c[0]),
        )?);
    }
    // Superseded versions: old current rows whose subject changed or is gone, closed.
    let close = |b: &RecordBatch| -> Result<Option<RecordBatch>, Error> {
        let t = tables::named_texts(b, &["subject_key", "_hash"])?;
        let mask: BooleanArray = (0..b.num_rows())
            .map(|i| Some(current.get(t[0].value(i)).map(String::as_str) != Some(t[1].value(i))))
            .collect();
        let gone = filter_record_batch(b, &mask).map_err(arrow_err)?;
        // History is read by time, never picked by key: no hash column.
        let gone = match gone.schema().index_of(tables::KEY_HASH) {
            Ok(i) => {
                let mut gone = gone;
                gone.remove_column(i);
                gone
            }
            Err(_) => gone,
        };
        if gone.num_rows() == 0 {
            return Ok(None);
        }
        let mut cols: Vec<ArrayRef> = gone.columns().to_vec();
        if let Ok(i) = gone.schema().index_of("_valid_to") {
            cols[i] = Arc::new(
                TimestampMicrosecondArray::from(vec![now_us; gone.num_rows()]).with_timezone("UTC"),
            );
        }
        RecordBatch::try_new(gone.schema(), cols)
            .map(Some)
            .map_err(arrow_err)
    };
    let mut superseded = Vec::new();
    match &picked {
        Some(p) => {
            for b in &p.rows {
                superseded.extend(close(b)?);
            }
        }
        None => {
            let stale = old
                .iter()
                .any(|(k, (h, _, _))| current.get(k.as_str()) != Some(h));
            if stale && let Some(f) = lake.frame(Layer::Base, table).await? {
                let what = format!("cannot read base.{table}");
                let mut stream = f.execute_stream().await.map_err(lake_err(what.clone()))?;
                while let Some(b) = stream.next().await {
                    superseded.extend(close(&b.map_err(lake_err(what.clone()))?)?);
                }
            }
        }
    }
    if !superseded.is_empty() {
        lake.append(Layer::Base, &history_table(kind), superseded, meta.clone())
            .await?;
    }
    match picked {
        None => tables::overwrite(lake, table, batches, meta).await?,
        Some(p) => {
            lake.replace_picked(Layer::Base, table, p, batches, meta.clone())
                .await?;
        }
    }
    Ok(out)
}
