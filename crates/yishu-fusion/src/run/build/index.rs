//! What finds a subject's data again: the rows that make each subject (`base.subject_records`),
//! its timeline (`base.events`), and the linking index the next incremental run links new
//! records against (`base.person_index`, `base.person_blocks`).

use super::Build;
use crate::key::{SubjectKind, normalize_key};
use crate::link::PersonRecord;
use crate::run::FusionReport;
use crate::schema::{
    BLOCK_HASH, BLOCKS_TABLE, EVENTS_TABLE, INDEX_COLUMNS, INDEX_TABLE, RECORDS_TABLE, REF_COLUMNS,
    REF_HASH, subject_blocks,
};
use crate::tables::{self, Cols, KeyedBy};
use std::collections::BTreeMap;
use yishu_lake::key_hash;
use yishu_lake::lineage::{BATCH_ID, ODS_REF};
use yishu_types::Error;

/// Which rows make each subject.
pub(super) async fn records(cx: &Build<'_>) -> Result<(), Error> {
    let mut b = Cols::new(&[
        "subject_kind",
        "subject_key",
        "resource",
        "role",
        BATCH_ID,
        ODS_REF,
    ]);
    for (i, r) in cx.read.recs.iter().enumerate() {
        if let Some((k, key)) = cx.mine(i) {
            let m = cx.srcs[r.src].map;
            b.row(&[k.as_str(), key, &m.resource, &m.role, &r.batch, &r.ods_ref]);
        }
    }
    let batch = tables::with_hash(b.finish()?, REF_HASH, &REF_COLUMNS, key_hash)?;
    let keyed = KeyedBy::Any("subject_kind", "subject_key");
    cx.write(RECORDS_TABLE, batch, keyed).await
}

/// The timeline: each dated event of each subject, with the department that recorded it.
pub(super) async fn timeline(cx: &Build<'_>, report: &mut FusionReport) -> Result<(), Error> {
    let mut b = Cols::new(&[
        "subject_kind",
        "subject_key",
        "date",
        "event",
        "detail",
        "department",
        "resource",
        BATCH_ID,
        ODS_REF,
    ]);
    for (r, event, date, detail) in &cx.read.events {
        let rec = &cx.read.recs[*r as usize];
        if let Some((k, key)) = cx.mine(*r as usize) {
            let date = yishu_types::date::parse_cn_date(date)
                .map(|d| d.to_string())
                .unwrap_or_else(|_| date.clone());
            let src = &cx.srcs[rec.src];
            b.row(&[
                k.as_str(),
                key,
                &date,
                event,
                detail,
                &src.org,
                &src.map.resource,
                &rec.batch,
                &rec.ods_ref,
            ]);
            report.events += 1;
        }
    }
    let keyed = KeyedBy::Any("subject_kind", "subject_key");
    cx.write(EVENTS_TABLE, b.finish()?, keyed).await
}

/// What the next incremental run links new records against: each person subject's
/// representative and blocking keys.
pub(super) async fn linking_index(cx: &Build<'_>) -> Result<(), Error> {
    let mut b = Cols::new(INDEX_COLUMNS);
    let mut blocks_b = Cols::new(&["subject_key", "block"]);
    for (key, rep) in person_reps(cx) {
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
    cx.write(INDEX_TABLE, b.finish()?, keyed).await?;
    let blocks = tables::with_hash(blocks_b.finish()?, BLOCK_HASH, &["block"], key_hash)?;
    cx.write(BLOCKS_TABLE, blocks, keyed).await
}

/// Each person subject's representative for linking: the first value of each field, from rows
/// with a valid number first, then by source and row (an order that does not depend on how the
/// rows were read, so incremental and full runs agree).
fn person_reps<'a>(cx: &Build<'a>) -> BTreeMap<&'a str, PersonRecord> {
    let (read, subject_of) = (cx.read, cx.subject_of);
    let mut order: Vec<(bool, usize, &str, usize)> = read
        .recs
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            r.person.is_some()
                && matches!(&subject_of[*i], Some((SubjectKind::Person, key)) if cx.in_scope(SubjectKind::Person, key))
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
    reps
}
