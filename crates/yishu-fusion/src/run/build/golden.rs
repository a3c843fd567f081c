//! Golden records (one subject at a time: observations are built for a subject, used and
//! dropped — holding every subject's would cost many times the rows read), the tags the plan's
//! rules give, and the conflicts with authoritative values.

use super::Build;
use super::graph::RelsOf;
use super::write::{LibRow, write_library};
use crate::key::SubjectKind;
use crate::plan::Condition;
use crate::run::source::{RelTo, date_ms};
use crate::run::{ConflictCounts, FusionReport};
use crate::schema::{TAGS_TABLE, base_table};
use crate::survive::{GoldenValue, Observation, golden};
use crate::tables::{Cols, KeyedBy};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use yishu_meta::Store;
use yishu_types::Error;

/// Conflicting subjects shown in a work order's evidence.
const CONFLICT_SAMPLES: usize = 20;

/// Between the conflicts of a golden row (`_conflicts`), and between an attribute and the
/// resources involved in its conflict.
const CONFLICT_SEP: &str = "\u{1e}";
const CONFLICT_PART_SEP: &str = "\u{1f}";

fn conflict_entry(attribute: &str, involved: &[&str]) -> String {
    let mut parts = vec![attribute];
    parts.extend_from_slice(involved);
    parts.join(CONFLICT_PART_SEP)
}

/// The conflicts a row's `_conflicts` cell lists: each attribute with the resources involved.
pub(crate) fn conflict_entries(
    cell: &str,
) -> impl Iterator<Item = (&str, std::str::Split<'_, &str>)> {
    cell.split(CONFLICT_SEP)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let mut parts = entry.split(CONFLICT_PART_SEP);
            (parts.next().unwrap_or_default(), parts)
        })
}

/// Conflicts per (involved resource, kind, attribute): how many, and the first few as evidence.
pub(super) type Conflicts = BTreeMap<(String, SubjectKind, String), (u64, Vec<Value>)>;

/// The observations of each subject the build writes: indexes into [`crate::run::source::Read::obs`].
struct Observations<'a> {
    cx: &'a Build<'a>,
    of: HashMap<(SubjectKind, &'a str), Vec<u32>>,
    records: HashMap<(SubjectKind, &'a str), u64>,
}

impl<'a> Observations<'a> {
    fn new(cx: &'a Build<'a>) -> Self {
        let read = cx.read;
        let mut of: HashMap<(SubjectKind, &str), Vec<u32>> = HashMap::new();
        let mut records: HashMap<(SubjectKind, &str), u64> = HashMap::new();
        for (k, key) in (0..read.recs.len()).filter_map(|i| cx.mine(i)) {
            *records.entry((*k, key.as_str())).or_default() += 1;
            of.entry((*k, key.as_str())).or_default();
        }
        for (n, (r, _, _)) in read.obs.iter().enumerate() {
            if let Some((k, key)) = cx.mine(*r as usize) {
                of.entry((*k, key.as_str())).or_default().push(n as u32);
            }
        }
        Observations { cx, of, records }
    }

    fn get(&self, n: u32) -> Observation {
        let (r, attr, value) = &self.cx.read.obs[n as usize];
        let rec = &self.cx.read.recs[*r as usize];
        let src = &self.cx.srcs[rec.src];
        Observation {
            attribute: attr.to_string(),
            value: value.clone(),
            source: src.org.clone(),
            resource: src.map.resource.clone(),
            batch: rec.batch.to_string(),
            row: rec.ods_ref.clone(),
            at: rec.at,
        }
    }

    /// All of a subject's observations.
    fn all(&self, kind: SubjectKind, key: &str) -> Vec<Observation> {
        self.of[&(kind, key)].iter().map(|&n| self.get(n)).collect()
    }

    /// One attribute's golden value of one subject (outside the scope: as the library has it).
    fn golden_of(&self, kind: SubjectKind, key: &str, attribute: &str) -> Option<GoldenValue> {
        if let Some(s) = self.cx.scope
            && !s.contains(kind, key)
        {
            return s
                .outside
                .get(&(key.to_string(), attribute.to_string()))
                .cloned();
        }
        let plan = self.cx.run.plan;
        let rule = plan.rules(kind).iter().find(|r| r.attribute == attribute)?;
        let obs: Vec<Observation> = self
            .of
            .get(&(kind, key))?
            .iter()
            .filter(|&&n| self.cx.read.obs[n as usize].1.as_ref() == attribute)
            .map(|&n| self.get(n))
            .collect();
        golden(std::slice::from_ref(rule), &obs).into_iter().next()
    }
}

/// Observations beyond the rows: accepted corrections and statuses that follow from a
/// relative's death.
type Extra = HashMap<(SubjectKind, String), Vec<Observation>>;

/// Corrections the lead department accepted (R20) count as its own, newest value.
async fn corrections(store: &Store, extra: &mut Extra) -> Result<(), Error> {
    for c in store.corrections(Some("accepted")).await? {
        let kind = crate::tables::kind_of(&c.subject_kind);
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
    Ok(())
}

/// A status that follows from a relative's death (widowed after a spouse died), as an
/// observation of the authority that records the status.
fn after_death(obs: &Observations<'_>, extra: &mut Extra) {
    let (cx, read) = (obs.cx, obs.cx.read);
    let plan = cx.run.plan;
    let now_ms = chrono::Utc::now().timestamp_millis();
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
            let (Some((SubjectKind::Person, from)), Some(other)) =
                (cx.mine(*r as usize), cx.other_role(rec, role))
            else {
                continue;
            };
            let Some(death) = obs.golden_of(SubjectKind::Person, &other.1, &d.death) else {
                continue;
            };
            let Some(now) = obs.golden_of(SubjectKind::Person, from, &d.attribute) else {
                continue;
            };
            let Some(died) = date_ms(&death.value) else {
                continue;
            };
            // A relation dated in the future (a mistyped year) is not known to start after the
            // death: it says nothing about which came first.
            let since = date_ms(since).filter(|&t| t <= now_ms).unwrap_or(0);
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
}

/// Builds and writes the golden records of every kind and the tags; returns the conflicts
/// found (and, in an incremental run, the counts of those the run left standing).
pub(super) async fn libraries(
    cx: &Build<'_>,
    rels_of: &RelsOf,
    report: &mut FusionReport,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Conflicts, Error> {
    let obs = Observations::new(cx);
    let mut extra = Extra::new();
    corrections(cx.run.store, &mut extra).await?;
    after_death(&obs, &mut extra);
    progress(&format!("building {} golden records", obs.of.len()));
    let mut g = Golden {
        obs: &obs,
        extra: &extra,
        rels_of,
        today: chrono::Utc::now().date_naive(),
        conflicts: Conflicts::new(),
        tags: Cols::new(&["subject_kind", "subject_key", "tag", "division"]),
    };
    let now_us = chrono::Utc::now().timestamp_micros();
    let mut keys_by_kind: BTreeMap<SubjectKind, Vec<&str>> = BTreeMap::new();
    for (k, key) in obs.of.keys() {
        keys_by_kind.entry(*k).or_default().push(key);
    }
    for kind in SubjectKind::ALL {
        let mut keys = keys_by_kind.remove(&kind).unwrap_or_default();
        keys.sort_unstable();
        let attrs: Vec<&str> = cx
            .run
            .plan
            .rules(kind)
            .iter()
            .map(|r| r.attribute.as_str())
            .collect();
        let rows: Vec<LibRow> = keys
            .into_iter()
            .map(|key| g.row(kind, key, &attrs, report))
            .collect();
        let n = rows.len();
        // The library's conflicts afterwards: these rows', then the ones it keeps.
        let mut counts = ConflictCounts::default();
        for r in &rows {
            counts.count(&r.conflicts, 1);
        }
        let written = write_library(cx, kind, &attrs, rows, now_us).await?;
        report.changed += written.changed;
        report
            .subjects
            .insert(kind.as_str().into(), written.subjects);
        // Conflicts of subjects this run left as they were still stand.
        report.conflicts += written.kept.values;
        for (res, by) in &written.kept.by {
            for (attribute, count) in by {
                g.conflicts
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
    if !cx.run.plan.tags.is_empty() {
        let keyed = KeyedBy::Any("subject_kind", "subject_key");
        cx.write(TAGS_TABLE, g.tags.finish()?, keyed).await?;
    }
    Ok(g.conflicts)
}

/// Building golden rows one subject at a time, gathering tags and conflicts.
struct Golden<'a> {
    obs: &'a Observations<'a>,
    extra: &'a Extra,
    rels_of: &'a RelsOf,
    today: chrono::NaiveDate,
    conflicts: Conflicts,
    tags: Cols,
}

impl Golden<'_> {
    /// One subject's golden row (its tags and conflicts noted on the way).
    fn row(
        &mut self,
        kind: SubjectKind,
        key: &str,
        attrs: &[&str],
        report: &mut FusionReport,
    ) -> LibRow {
        let plan = self.obs.cx.run.plan;
        let mut obs = self.obs.all(kind, key);
        if let Some(x) = self.extra.get(&(kind, key.to_string())) {
            obs.extend(x.iter().cloned());
        }
        let values = golden(plan.rules(kind), &obs);
        let mut in_conflict = Vec::new();
        for g in values.iter().filter(|g| g.conflict) {
            report.conflicts += 1;
            in_conflict.push(self.conflict(kind, key, g, &obs));
        }
        let value = |a: &str| {
            values
                .iter()
                .find(|g| g.attribute == a)
                .map(|g| g.value.as_str())
        };
        if kind == SubjectKind::Person {
            let rels = self.rels_of.get(key).map(Vec::as_slice).unwrap_or_default();
            let division = value("行政区划代码").unwrap_or_default();
            for t in &plan.tags {
                if t.all.iter().all(|c| holds(c, &value, rels, self.today)) {
                    self.tags.row(&["person", key, &t.tag, division]);
                    report.tagged += 1;
                }
            }
        }
        LibRow {
            key: key.to_string(),
            values: attrs.iter().map(|a| value(a).map(str::to_string)).collect(),
            provenance: provenance(&values),
            conflicts: in_conflict.join(CONFLICT_SEP),
            records: self
                .obs
                .records
                .get(&(kind, key))
                .copied()
                .unwrap_or_default() as i64,
        }
    }

    /// Notes a golden value in conflict (per involved resource, with a sample of the first
    /// few) and returns its `_conflicts` entry.
    fn conflict(
        &mut self,
        kind: SubjectKind,
        key: &str,
        g: &GoldenValue,
        obs: &[Observation],
    ) -> String {
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
            let e = self
                .conflicts
                .entry((res.to_string(), kind, g.attribute.clone()))
                .or_default();
            e.0 += 1;
            if e.1.len() < CONFLICT_SAMPLES {
                e.1.push(sample.clone());
            }
        }
        conflict_entry(&g.attribute, &involved)
    }
}

/// Whether a person meets one condition of a tag rule.
fn holds<'a>(
    c: &Condition,
    value: &impl Fn(&str) -> Option<&'a str>,
    rels: &[(Arc<str>, String)],
    today: chrono::NaiveDate,
) -> bool {
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
