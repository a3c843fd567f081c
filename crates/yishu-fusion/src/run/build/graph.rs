//! The relationship graph (`base.relations`): one edge per (from, relation, to).

use super::Build;
use crate::key::{SubjectKind, normalize_key};
use crate::run::FusionReport;
use crate::run::source::RelTo;
use crate::schema::{RELATIONS_TABLE, TO_HASH};
use crate::tables::{self, Cols, KeyedBy};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use yishu_lake::key_hash;
use yishu_lake::lineage::{BATCH_ID, ODS_REF};
use yishu_types::Error;

/// Each person's relations (relation, since), as the tags need them.
pub(super) type RelsOf = HashMap<String, Vec<(Arc<str>, String)>>;

/// Writes the graph of the build's subjects and returns each person's relations.
pub(super) async fn relations(cx: &Build<'_>, report: &mut FusionReport) -> Result<RelsOf, Error> {
    let read = cx.read;
    let mut rels_of = RelsOf::new();
    let mut b = Cols::new(&[
        "from_kind",
        "from_key",
        "relation",
        "to_kind",
        "to_key",
        "since",
        "resource",
        BATCH_ID,
        ODS_REF,
    ]);
    // One edge per (from, relation, to): the earliest, then the first row, whatever order
    // the rows were read in.
    type Edge<'r> = (&'r str, &'r Arc<str>, &'r str, &'r str, &'r RelTo, u32);
    let mut rels: Vec<Edge> = read
        .rels
        .iter()
        .filter_map(|(r, relation, to, since)| {
            let (_, fkey) = cx.mine(*r as usize)?;
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
    rels.sort_unstable_by(|a, b| (a.0, a.1.as_ref(), a.2, a.3).cmp(&(b.0, b.1.as_ref(), b.2, b.3)));
    let mut seen = HashSet::new();
    for (_, relation, since, _, to, r) in rels {
        let rec = &read.recs[r as usize];
        let Some((fk, fkey)) = cx.mine(r as usize) else {
            continue;
        };
        let target = match to {
            RelTo::Role(role) => cx.other_role(rec, role).cloned(),
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
            &cx.srcs[rec.src].map.resource,
            &rec.batch,
            &rec.ods_ref,
        ]);
        report.relations += 1;
    }
    let batch = tables::with_hash(b.finish()?, TO_HASH, &["to_kind", "to_key"], key_hash)?;
    let keyed = KeyedBy::Any("from_kind", "from_key");
    cx.write(RELATIONS_TABLE, batch, keyed).await?;
    Ok(rels_of)
}
