//! Assigning records to subjects: person rows linked by the model (with an incremental run's
//! anchors ahead of them, which never move) and reviewers' decisions, pairs in doubt queued for
//! review; entity and house rows by their key.

use super::source::{Read, Src, rec_ref, row_ref};
use super::{FusionReport, Run};
use crate::fellegi_sunter::{Model, Thresholds};
use crate::key::{SubjectKind, normalize_key};
use crate::link::{Linked, PersonRecord, compare_records, link_people_with};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use yishu_meta::fusion::{NewReview, ReviewStatus};
use yishu_types::Error;

/// Who each record is about, by its place in [`Read::recs`] (`None`: nobody the libraries hold).
pub(crate) type SubjectOf = Vec<Option<(SubjectKind, String)>>;

/// What person rows are linked against: existing subjects (an incremental run's anchors, each
/// with its key), the model to link with (else one is fitted), and reviewers' decisions.
pub(crate) struct Anchored<'a> {
    pub anchors: Vec<(String, PersonRecord)>,
    pub model: Option<&'a Model>,
    pub decisions: HashMap<String, (ReviewStatus, String)>,
}

/// Who each row of `read` is about: person rows linked (with the anchors ahead of them, which
/// never move), pairs in doubt queued for review, and entity and house rows by key.
pub(crate) async fn link_rows(
    run: &Run<'_>,
    srcs: &[Src<'_>],
    read: &mut Read,
    how: Anchored<'_>,
    report: &mut FusionReport,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<SubjectOf, Error> {
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
    let mut subject_of: SubjectOf = vec![None; read.recs.len()];
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
    report.review_new = run.store.queue_reviews(run.run_id, &queue).await?;
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

/// A stable key for a person without a valid number: from the smallest of its rows.
pub(crate) fn unkeyed_key(rows: &[String]) -> String {
    let first = rows.iter().min().cloned().unwrap_or_default();
    let h = blake3::hash(first.as_bytes()).to_hex();
    format!("~{}", &h[..16])
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
