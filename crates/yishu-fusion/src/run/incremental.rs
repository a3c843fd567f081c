//! Incremental fusion runs: read only the std batches no run has read, link their person rows
//! against the subjects they could belong to (the linking index, `base.person_index`, holds
//! each subject's representative and blocking keys), and rebuild only the subjects those rows
//! touch — their earlier rows are found through `base.subject_records` and read again by row
//! reference. Everything else in the base libraries stays as it was, so a run costs what its
//! batch costs (plus a narrow scan of the index columns), not what the library costs.

use super::assign::{Anchored, SubjectOf, link_rows};
use super::build::{Build, Scope, build};
use super::source::{Only, Read, Src, pick_rows, read_source, sources};
use super::{FullBecause, FusionReport, Run};
use crate::address::Address;
use crate::compare::{NameLevel, name_level};
use crate::key::{SubjectKind, normalize_key};
use crate::link::{PersonRecord, record_blocks};
use crate::schema::{
    BLOCK_HASH, BLOCKS_TABLE, INDEX_COLUMNS, INDEX_TABLE, LAYOUT, RECORDS_TABLE, REF_COLUMNS,
    REF_HASH, RELATIONS_TABLE, TO_HASH, base_table, number_block,
};
use crate::survive::{GoldenValue, Observation};
use crate::tables::{KEY_HASH, cell, keys_in, kind_of, lake_err, scan, subject_hash, texts};
use std::collections::{BTreeSet, HashMap, HashSet};
use yishu_lake::arrow::array::StringArray;
use yishu_lake::datafusion::prelude::ident;
use yishu_lake::lineage::BATCH_ID;
use yishu_lake::{Finder, KeyHashes, Lake, Layer, key_hash};
use yishu_meta::Store;
use yishu_types::Error;

/// The last run an incremental run can continue from, or why the run must read everything.
pub(crate) async fn last_run(
    store: &Store,
    lake: &Lake,
    plan_version: i64,
) -> Result<Result<FusionReport, FullBecause>, Error> {
    let runs = store.fusion_runs(50).await?;
    let Some(last) = runs.iter().find(|r| r.status == "done") else {
        return Ok(Err(FullBecause::new("first_run", "no earlier run")));
    };
    if last.plan_version != plan_version {
        return Ok(Err(FullBecause::new(
            "plan_changed",
            format!(
                "the plan changed (version {} → {plan_version})",
                last.plan_version
            ),
        )));
    }
    let report: FusionReport = serde_json::from_value(last.report.clone()).unwrap_or_default();
    if report.batches.is_empty()
        || !lake
            .list_tables(Layer::Base)
            .iter()
            .any(|t| t == INDEX_TABLE)
    {
        return Ok(Err(FullBecause::new(
            "no_index",
            "the libraries have no linking index yet",
        )));
    }
    if report.layout != LAYOUT {
        return Ok(Err(FullBecause::new(
            "old_layout",
            "the libraries were written by an earlier version (no key hashes to find rows by)",
        )));
    }
    if report.conflicts > 0 && report.conflicts_of.is_empty() {
        return Ok(Err(FullBecause::new(
            "no_index",
            "the last run left no conflict counts to continue from",
        )));
    }
    let since = last.started_at;
    let decided = store
        .review_decisions()
        .await?
        .iter()
        .filter(|r| r.decided_at.is_some_and(|t| t >= since))
        .count();
    if decided > 0 {
        return Ok(Err(FullBecause::new(
            "decisions",
            format!(
                "{decided} review decisions since the last run may move records between subjects"
            ),
        )));
    }
    let corrected = store
        .corrections(Some("accepted"))
        .await?
        .iter()
        .filter(|c| c.decided_at.is_some_and(|t| t >= since))
        .count();
    if corrected > 0 {
        return Ok(Err(FullBecause::new(
            "corrections",
            format!("{corrected} corrections accepted since the last run"),
        )));
    }
    Ok(Ok(report))
}

/// The batches of a std table (without reading its rows when the log's statistics say).
async fn batches_of(lake: &Lake, table: &str) -> Result<BTreeSet<String>, Error> {
    // Each batch's rows are files of their own: the log's statistics name them.
    if let Some(ids) = lake.file_values(Layer::Std, table, BATCH_ID).await? {
        return Ok(ids);
    }
    let mut out = BTreeSet::new();
    let Some(frame) = lake.frame(Layer::Std, table).await? else {
        return Ok(out);
    };
    let what = format!("cannot read std.{table}");
    let batches = frame
        .select(vec![ident(BATCH_ID)])
        .and_then(|f| f.distinct())
        .map_err(lake_err(what.clone()))?
        .collect()
        .await
        .map_err(lake_err(what))?;
    for b in &batches {
        let c = &texts(b)?[0];
        out.extend(c.iter().flatten().map(str::to_string));
    }
    Ok(out)
}

/// Existing person subjects that new records may belong to. A record whose valid number is an
/// existing subject's, under a name that is not clearly another person's, links to it by key and
/// needs nothing else: that subject is read from the index by its key's hash. The other records
/// (no valid number, a new number, a name that collides) are compared by the model, so every
/// subject sharing a blocking key with them is read too — found in `base.person_blocks` by the
/// blocks' hashes. Reading blocks only for those keeps a batch's candidates from growing with
/// the library: a common name born in one year has a few people in a town, hundreds in a city.
pub(crate) async fn anchors(
    lake: &Lake,
    people: impl Iterator<Item = &PersonRecord>,
) -> Result<Vec<(String, PersonRecord)>, Error> {
    let people: Vec<(&PersonRecord, Option<String>)> = people
        .map(|p| (p, normalize_key(SubjectKind::Person, &p.id).ok()))
        .collect();
    let numbers: HashSet<String> = people.iter().filter_map(|p| p.1.clone()).collect();
    let mut out = index_rows(lake, &numbers).await?;
    let known: HashMap<&str, &str> = out
        .iter()
        .map(|(k, r)| (k.as_str(), r.name.as_str()))
        .collect();
    let mut blocks = HashSet::new();
    for (p, key) in &people {
        let settled = key
            .as_deref()
            .and_then(|k| known.get(k))
            .is_some_and(|name| {
                !name.is_empty() && name_level(&p.name, name) != NameLevel::Different
            });
        if settled {
            continue;
        }
        if let Some(k) = key {
            blocks.insert(number_block(k));
        }
        blocks.extend(record_blocks(p));
    }
    let hashes: KeyHashes = blocks.iter().map(|b| key_hash(&[b])).collect();
    let mut keys = HashSet::new();
    let finder = Finder {
        keys: &["block"],
        pick: |k: &[&str]| blocks.contains(k[0]),
        hashed: Some((BLOCK_HASH, &hashes)),
    };
    if !blocks.is_empty() {
        scan(
            lake,
            (Layer::Base, BLOCKS_TABLE),
            finder,
            &["subject_key"],
            |cols, i| {
                let k = cell(cols, 0, i);
                if !known.contains_key(k) {
                    keys.insert(k.to_string());
                }
            },
        )
        .await?;
    }
    drop(known);
    out.extend(index_rows(lake, &keys).await?);
    // A number's main subject before its second holder's (`number#sound`), as a full run saw them.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The linking index's rows of the person subjects `keys`, as records to link against.
async fn index_rows(
    lake: &Lake,
    keys: &HashSet<String>,
) -> Result<Vec<(String, PersonRecord)>, Error> {
    let mut out = Vec::new();
    if keys.is_empty() {
        return Ok(out);
    }
    let hashes: KeyHashes = keys
        .iter()
        .map(|k| subject_hash(SubjectKind::Person, k))
        .collect();
    let finder = Finder {
        keys: &["subject_key"],
        pick: |k: &[&str]| keys.contains(k[0]),
        hashed: Some((KEY_HASH, &hashes)),
    };
    scan(
        lake,
        (Layer::Base, INDEX_TABLE),
        finder,
        INDEX_COLUMNS,
        |cols, i| {
            let key = cell(cols, 0, i);
            let base = key.split('#').next().unwrap_or_default();
            let (division, street, detail) = (cell(cols, 4, i), cell(cols, 5, i), cell(cols, 6, i));
            let address =
                (!division.is_empty() || !street.is_empty() || !detail.is_empty()).then(|| {
                    Address {
                        division: (!division.is_empty()).then(|| division.to_string()),
                        street: street.to_string(),
                        detail: detail.to_string(),
                    }
                });
            out.push((
                key.to_string(),
                PersonRecord {
                    id: if key.starts_with('~') {
                        String::new()
                    } else {
                        base.to_string()
                    },
                    name: cell(cols, 1, i).to_string(),
                    sex: Some(cell(cols, 2, i).to_string()).filter(|s| !s.is_empty()),
                    birth: chrono::NaiveDate::parse_from_str(cell(cols, 3, i), "%Y-%m-%d").ok(),
                    address,
                },
            ));
        },
    )
    .await?;
    Ok(out)
}

/// An incremental run: the batches the last run had not read, and the subjects they touch.
pub(super) async fn fuse_new(
    run: &Run<'_>,
    last: FusionReport,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<FusionReport, Error> {
    let mut report = FusionReport {
        run_id: run.run_id.to_string(),
        plan_version: run.plan_version,
        mode: "incremental".into(),
        layout: LAYOUT,
        subjects: last.subjects.clone(),
        model: last.model.clone(),
        ..Default::default()
    };
    let srcs = sources(run.store, run.plan).await?;
    // 1. The new batches' rows.
    let mut read = new_rows(run.lake, &srcs, &last, &mut report, progress).await?;
    if read.recs.is_empty() {
        progress("nothing new since the last run");
        // The libraries are as the last run left them.
        report.conflicts = last.conflicts;
        report.conflicts_of = last.conflicts_of;
        return Ok(report);
    }
    // 2. Link the new person rows against the subjects they may belong to.
    let how = Anchored {
        anchors: anchors(run.lake, read.recs.iter().filter_map(|r| r.person.as_ref())).await?,
        model: last.model.as_ref(),
        decisions: HashMap::new(),
    };
    let mut subject_of = link_rows(run, &srcs, &mut read, how, &mut report, progress).await?;
    // 3. The touched subjects, and the spouses whose status a death among them may change.
    let mut scope = Scope {
        subjects_before: last.subjects.clone(),
        conflicts_before: last.conflicts_of.clone(),
        ..Default::default()
    };
    for (k, key) in subject_of.iter().flatten() {
        scope.keys.insert(*k, key.clone());
    }
    spouses(run, &mut scope).await?;
    report.touched = scope.keys.len() as u64;
    progress(&format!(
        "{} subjects touched (with the spouses a death may concern)",
        report.touched
    ));
    // 4. The touched subjects' earlier rows, and who the other roles on those rows are.
    let earlier = Earlier::find(run.lake, &srcs, &scope).await?;
    progress(&format!(
        "their earlier rows: {} in {} resources",
        earlier.count(),
        earlier.rows.len()
    ));
    let first_old = read.recs.len();
    earlier
        .read(run.lake, &srcs, &mut read, &mut subject_of)
        .await?;
    progress(&format!(
        "{} of their earlier rows read again",
        read.recs.len() - first_old
    ));
    // 5. What the library says of people outside the scope that rows inside name (a spouse's
    // date of death).
    let found = outside(run, &subject_of, &scope).await?;
    scope.outside.extend(found);
    // 6. Rebuild the touched subjects.
    let cx = Build::new(run, &srcs, &read, &subject_of, Some(&scope));
    build(&cx, &mut report, progress).await?;
    Ok(report)
}

/// The rows of the batches of each source the last run had not read.
async fn new_rows(
    lake: &Lake,
    srcs: &[Src<'_>],
    last: &FusionReport,
    report: &mut FusionReport,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Read, Error> {
    let done: HashSet<&str> = last.batches.iter().map(String::as_str).collect();
    let mut new: HashMap<String, Vec<String>> = HashMap::new();
    for s in srcs {
        if new.contains_key(&s.map.resource) {
            continue;
        }
        let fresh: Vec<String> = batches_of(lake, &s.resource.table())
            .await?
            .into_iter()
            .filter(|b| !done.contains(b.as_str()))
            .collect();
        new.insert(s.map.resource.clone(), fresh);
    }
    let mut seen: BTreeSet<String> = last.batches.iter().cloned().collect();
    let before = seen.len();
    let mut read = Read::default();
    for (si, s) in srcs.iter().enumerate() {
        let fresh = &new[&s.map.resource];
        if fresh.is_empty() {
            continue;
        }
        let only = Only::Batches(keys_in(BATCH_ID, fresh.iter()));
        let n = read_source(lake, s, si, &mut read, only, &mut seen).await?;
        progress(&format!(
            "read {} ({}, {}): {n} new rows",
            s.resource.meta.name, s.map.resource, s.map.role
        ));
        report
            .rows
            .insert(format!("{} {}", s.map.resource, s.map.role), n);
    }
    report.new_batches = (seen.len() - before) as u64;
    report.batches = seen.into_iter().collect();
    Ok(read)
}

/// Adds to the scope the people related to a subject in it by a relation whose partner's death
/// changes their status (a spouse becomes widowed).
async fn spouses(run: &Run<'_>, scope: &mut Scope) -> Result<(), Error> {
    let relations: Vec<&str> = run
        .plan
        .after_death
        .iter()
        .map(|d| d.relation.as_str())
        .collect();
    if relations.is_empty() {
        return Ok(());
    }
    let mut spouses = Vec::new();
    let of_scope = |k: &[&str]| {
        k[0] == SubjectKind::Person.as_str()
            && relations.contains(&k[2])
            && scope.contains(SubjectKind::Person, k[1])
    };
    let finder = Finder {
        keys: &["to_kind", "to_key", "relation"],
        pick: of_scope,
        hashed: Some((TO_HASH, scope.keys.hashes())),
    };
    scan(
        run.lake,
        (Layer::Base, RELATIONS_TABLE),
        finder,
        &["from_key"],
        |c, i| spouses.push(cell(c, 0, i).to_string()),
    )
    .await?;
    for s in spouses {
        scope.keys.insert(SubjectKind::Person, s);
    }
    Ok(())
}

/// The scope's earlier rows, as `base.subject_records` names them.
struct Earlier {
    /// Row references per resource and batch (a source reference names a row only within its
    /// batch).
    rows: HashMap<String, HashMap<String, HashSet<String>>>,
    /// (resource, batch, row, role) → the subject that role on that row is.
    role_of: HashMap<(String, String, String, String), (SubjectKind, String)>,
}

/// The columns of `base.subject_records` an incremental run reads.
const RECORD_COLUMNS: [&str; 6] = [
    "resource",
    yishu_lake::lineage::BATCH_ID,
    yishu_lake::lineage::ODS_REF,
    "role",
    "subject_kind",
    "subject_key",
];

impl Earlier {
    /// The scope's rows, and who the other roles on those rows are.
    async fn find(lake: &Lake, srcs: &[Src<'_>], scope: &Scope) -> Result<Self, Error> {
        let mut rows: HashMap<String, HashMap<String, HashSet<String>>> = HashMap::new();
        let mut role_of = HashMap::new();
        let mut remember = |c: &[StringArray], i: usize| {
            role_of.insert(
                (
                    cell(c, 0, i).to_string(),
                    cell(c, 1, i).to_string(),
                    cell(c, 2, i).to_string(),
                    cell(c, 3, i).to_string(),
                ),
                (kind_of(cell(c, 4, i)), cell(c, 5, i).to_string()),
            );
        };
        let finder = Finder {
            keys: &["subject_kind", "subject_key"],
            pick: |k: &[&str]| scope.contains(kind_of(k[0]), k[1]),
            hashed: Some((KEY_HASH, scope.keys.hashes())),
        };
        let table = (Layer::Base, RECORDS_TABLE);
        scan(lake, table, finder, &RECORD_COLUMNS, |c, i| {
            rows.entry(cell(c, 0, i).to_string())
                .or_default()
                .entry(cell(c, 1, i).to_string())
                .or_default()
                .insert(cell(c, 2, i).to_string());
            remember(c, i);
        })
        .await?;
        // A row of a resource the plan reads in one role has no other roles: its record is the
        // one found by key. Only rows of resources read in several roles (a marriage's two
        // parties) are looked up again by reference, for the other parties.
        let mut roles: HashMap<&str, usize> = HashMap::new();
        for s in srcs {
            *roles.entry(s.map.resource.as_str()).or_default() += 1;
        }
        let hashes: KeyHashes = rows
            .iter()
            .filter(|(res, _)| roles.get(res.as_str()).is_some_and(|n| *n > 1))
            .flat_map(|(res, batches)| {
                batches.iter().flat_map(move |(batch, refs)| {
                    refs.iter().map(move |r| key_hash(&[res, batch, r]))
                })
            })
            .collect();
        if !hashes.is_empty() {
            let on_rows = |k: &[&str]| {
                rows.get(k[0])
                    .and_then(|b| b.get(k[1]))
                    .is_some_and(|refs| refs.contains(k[2]))
            };
            let finder = Finder {
                keys: &REF_COLUMNS,
                pick: on_rows,
                hashed: Some((REF_HASH, &hashes)),
            };
            scan(lake, table, finder, &RECORD_COLUMNS, remember).await?;
        }
        Ok(Earlier { rows, role_of })
    }

    /// How many rows.
    fn count(&self) -> usize {
        self.rows
            .values()
            .flat_map(|b| b.values())
            .map(HashSet::len)
            .sum()
    }

    /// Reads the rows again (one pick per std table, whatever the roles its rows play) into
    /// `read`, each with the subject the libraries give it.
    async fn read(
        &self,
        lake: &Lake,
        srcs: &[Src<'_>],
        read: &mut Read,
        subject_of: &mut SubjectOf,
    ) -> Result<(), Error> {
        let mut ignored = BTreeSet::new();
        let first_old = read.recs.len();
        let mut tables_read = HashSet::new();
        for first in srcs {
            let resource = &first.map.resource;
            let Some(batches) = self
                .rows
                .get(resource)
                .filter(|_| tables_read.insert(resource))
            else {
                continue;
            };
            let of: Vec<(usize, &Src<'_>)> = srcs
                .iter()
                .enumerate()
                .filter(|(_, s)| &s.map.resource == resource)
                .collect();
            let mut columns: Vec<&str> = of.iter().flat_map(|(_, s)| s.map.columns()).collect();
            columns.sort_unstable();
            columns.dedup();
            let picked = pick_rows(lake, &first.resource.table(), batches, &columns).await?;
            for (si, s) in of {
                read_source(lake, s, si, read, Only::Picked(&picked), &mut ignored).await?;
            }
        }
        subject_of.resize(read.recs.len(), None);
        for (r, subject) in read.recs.iter().zip(subject_of.iter_mut()).skip(first_old) {
            let m = srcs[r.src].map;
            *subject = self
                .role_of
                .get(&(
                    m.resource.clone(),
                    r.batch.to_string(),
                    r.ods_ref.clone(),
                    m.role.clone(),
                ))
                .cloned();
        }
        Ok(())
    }
}

/// The current golden values of the death attributes of people outside the scope that rows
/// inside name, as the library has them (with their provenance).
async fn outside(
    run: &Run<'_>,
    subject_of: &SubjectOf,
    scope: &Scope,
) -> Result<Vec<((String, String), GoldenValue)>, Error> {
    let outside: HashSet<String> = subject_of
        .iter()
        .flatten()
        .filter(|(k, key)| *k == SubjectKind::Person && !scope.contains(*k, key))
        .map(|(_, key)| key.clone())
        .collect();
    let deaths: BTreeSet<&str> = run
        .plan
        .after_death
        .iter()
        .map(|d| d.death.as_str())
        .collect();
    let mut found = Vec::new();
    if outside.is_empty() || deaths.is_empty() {
        return Ok(found);
    }
    let mut columns = vec!["subject_key", "_provenance"];
    columns.extend(deaths.iter().copied());
    let hashes: KeyHashes = outside
        .iter()
        .map(|k| subject_hash(SubjectKind::Person, k))
        .collect();
    let finder = Finder {
        keys: &["subject_key"],
        pick: |k: &[&str]| outside.contains(k[0]),
        hashed: Some((KEY_HASH, &hashes)),
    };
    let table = (Layer::Base, base_table(SubjectKind::Person));
    scan(run.lake, table, finder, &columns, |c, i| {
        let prov: serde_json::Value = serde_json::from_str(cell(c, 1, i)).unwrap_or_default();
        for (n, attribute) in deaths.iter().enumerate() {
            let value = cell(c, 2 + n, i);
            if value.is_empty() {
                continue;
            }
            let p = &prov[*attribute];
            let text = |f: &str| p[f].as_str().unwrap_or_default().to_string();
            found.push((
                (cell(c, 0, i).to_string(), attribute.to_string()),
                GoldenValue {
                    attribute: attribute.to_string(),
                    value: value.to_string(),
                    from: Observation {
                        attribute: attribute.to_string(),
                        value: value.to_string(),
                        source: text("department"),
                        resource: text("resource"),
                        batch: text("batch"),
                        row: text("row"),
                        at: p["at"].as_i64().unwrap_or_default(),
                    },
                    by: text("by"),
                    agree: Vec::new(),
                    disagree: Vec::new(),
                    conflict: false,
                },
            ));
        }
    })
    .await?;
    Ok(found)
}
