//! Everything after linking, over one [`Build`] context: the graph, golden records with their
//! tags and conflicts, the conflicts' work orders, the records of each subject, the timeline
//! and the linking index — for every subject (full run) or the ones in a [`Scope`].

mod golden;
mod graph;
mod index;
mod orders;
mod write;

use super::source::{Read, Rec, Src};
use super::{ConflictCounts, FusionReport, Run};
use crate::key::SubjectKind;
use crate::survive::GoldenValue;
use crate::tables::{self, KeyedBy, Subjects};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use yishu_lake::arrow::array::RecordBatch;
use yishu_types::Error;

pub(crate) use golden::conflict_entries;

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

/// What every building step reads: the run, its sources and rows, who each row is about, and
/// (in an incremental run) the subjects it rewrites.
pub(crate) struct Build<'a> {
    pub run: &'a Run<'a>,
    pub srcs: &'a [Src<'a>],
    pub read: &'a Read,
    pub subject_of: &'a [Option<(SubjectKind, String)>],
    pub scope: Option<&'a Scope>,
    /// The commit metadata of every table the run writes.
    pub meta: HashMap<String, Value>,
    /// A record by its resource, batch, source reference and role (one file name may come
    /// every day, so a row is all of them).
    role_rec: HashMap<(&'a str, &'a str, &'a str, &'a str), usize>,
}

impl<'a> Build<'a> {
    pub fn new(
        run: &'a Run<'a>,
        srcs: &'a [Src<'a>],
        read: &'a Read,
        subject_of: &'a [Option<(SubjectKind, String)>],
        scope: Option<&'a Scope>,
    ) -> Self {
        let mode = if scope.is_some() {
            "incremental"
        } else {
            "full"
        };
        let meta = HashMap::from([
            ("fusion_run".to_string(), json!(run.run_id)),
            ("plan_version".to_string(), json!(run.plan_version)),
            ("mode".to_string(), json!(mode)),
        ]);
        let role_rec = read
            .recs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let m = srcs[r.src].map;
                let at = (m.resource.as_str(), r.batch.as_ref(), r.ods_ref.as_str());
                ((at.0, at.1, at.2, m.role.as_str()), i)
            })
            .collect();
        Build {
            run,
            srcs,
            read,
            subject_of,
            scope,
            meta,
            role_rec,
        }
    }

    /// Whether this run writes the subject.
    pub fn in_scope(&self, kind: SubjectKind, key: &str) -> bool {
        self.scope.is_none_or(|s| s.contains(kind, key))
    }

    /// The subject of record `i`, when this run writes it.
    pub fn mine(&self, i: usize) -> Option<&'a (SubjectKind, String)> {
        self.subject_of[i]
            .as_ref()
            .filter(|(k, key)| self.in_scope(*k, key))
    }

    /// The subject another role plays on a record's row (a marriage's other party).
    pub fn other_role(&self, rec: &Rec, role: &str) -> Option<&'a (SubjectKind, String)> {
        let m = self.srcs[rec.src].map;
        let at = (
            m.resource.as_str(),
            rec.batch.as_ref(),
            rec.ods_ref.as_str(),
        );
        self.role_rec
            .get(&(at.0, at.1, at.2, role))
            .and_then(|&j| self.subject_of[j].as_ref())
    }

    /// Writes a table keyed by subject: all of it in a full run, what differs for the scope's
    /// subjects in an incremental one.
    pub async fn write(
        &self,
        table: &str,
        batch: RecordBatch,
        keyed: KeyedBy<'_>,
    ) -> Result<(), Error> {
        let batch =
            tables::with_hash(batch, tables::KEY_HASH, &keyed.columns(), |c| keyed.hash(c))?;
        let lake = self.run.lake;
        match self.scope {
            None => tables::overwrite(lake, table, vec![batch], &self.meta).await,
            Some(s) => tables::write_changes(lake, table, batch, keyed, &s.keys, &self.meta).await,
        }
    }
}

/// Builds and writes everything after linking.
pub(crate) async fn build(
    cx: &Build<'_>,
    report: &mut FusionReport,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<(), Error> {
    let rels_of = graph::relations(cx, report).await?;
    progress(&format!("base.relations: {} written", report.relations));
    let conflicts = golden::libraries(cx, &rels_of, report, progress).await?;
    orders::conflict_orders(cx, &conflicts, report).await?;
    index::records(cx).await?;
    progress("base.subject_records written");
    index::timeline(cx, report).await?;
    progress(&format!("base.events: {} written", report.events));
    index::linking_index(cx).await
}
