//! Batch comparison (批量比对, R31): a department's list of people — numbers missing or wrong,
//! names, birth dates, sex and addresses as it has them — linked to the population library's
//! subjects by the same linker a fusion run uses: by key, by the model the last run fitted, or
//! not at all, with the class of the match and its evidence. Nothing in the libraries changes.

use crate::fellegi_sunter::{Decision, Thresholds};
use crate::key::{SubjectKind, normalize_key};
use crate::link::{PersonRecord, compare_records, link_people_with};
use crate::run::{anchors, last_run};
use serde::Serialize;
use std::collections::BTreeMap;
use yishu_lake::Lake;
use yishu_meta::Store;
use yishu_types::{Error, ErrorCode};

/// The comparison fields, in the order the model weighs them.
const FIELDS: [&str; 5] = ["id", "name", "birth", "sex", "address"];

/// How a record was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchClass {
    /// Its valid number is the subject's, under a name that is not another person's.
    Key,
    /// The model links it (probability at or above the link threshold).
    Model,
    /// Between the thresholds: a person should look (the likeliest subject is given).
    Review,
    /// Nobody the library holds.
    None,
}

impl MatchClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Model => "model",
            Self::Review => "review",
            Self::None => "none",
        }
    }
}

/// One field's part in a match: its comparison level (0 the best) and its weight (log₂ odds).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Evidence {
    pub level: u8,
    pub weight: f64,
}

/// One record's match.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Matched {
    pub class: MatchClass,
    /// The subject's key (its 公民身份号码), when matched or in review.
    pub subject_key: Option<String>,
    pub probability: Option<f64>,
    /// Per field, against the subject's representative.
    pub evidence: BTreeMap<String, Evidence>,
}

/// Links `records` to the population library's person subjects.
pub async fn match_people(
    store: &Store,
    lake: &Lake,
    records: &[PersonRecord],
) -> Result<Vec<Matched>, Error> {
    let plan = store.fusion_plan().await?.ok_or_else(|| {
        Error::new(
            ErrorCode::FusionNotFound,
            "the base libraries have not been built: there is nothing to compare with",
        )
    })?;
    let model = match last_run(store, lake, plan.version).await? {
        Ok(report) => report.model,
        Err(why) => {
            return Err(Error::new(
                ErrorCode::FusionNotFound,
                format!("the libraries cannot be compared with yet: {}", why.message),
            ));
        }
    };
    let found = anchors(lake, records.iter()).await?;
    let (keys, mut people): (Vec<String>, Vec<PersonRecord>) = found.into_iter().unzip();
    let first = people.len();
    people.extend(records.iter().cloned());
    let linked = link_people_with(&people, Thresholds::default(), model.as_ref(), first);
    // Which anchor stands for each subject.
    let mut anchor_of: BTreeMap<usize, usize> = BTreeMap::new();
    for a in 0..first {
        if let Some(s) = linked.subject[a] {
            anchor_of.entry(s).or_insert(a);
        }
    }
    let review: BTreeMap<usize, (usize, f64)> =
        linked.review.iter().map(|&(r, s, p)| (r, (s, p))).collect();
    let thresholds = Thresholds::default();
    let mut out = Vec::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        let p = first + i;
        let evidence_against = |a: usize| -> (BTreeMap<String, Evidence>, Option<f64>) {
            let levels = compare_records(rec, &people[a]);
            let ev = FIELDS
                .iter()
                .zip(&levels)
                .enumerate()
                .map(|(f, (name, &level))| {
                    let weight = model.as_ref().map_or(0.0, |m| m.field_weight(f, level));
                    (name.to_string(), Evidence { level, weight })
                })
                .collect();
            (ev, model.as_ref().map(|m| m.probability(&levels)))
        };
        let linked_to = linked.subject[p].and_then(|s| anchor_of.get(&s).copied());
        let m = match (linked_to, review.get(&p)) {
            (Some(a), _) => {
                let (evidence, probability) = evidence_against(a);
                let by_key = normalize_key(SubjectKind::Person, &rec.id)
                    .is_ok_and(|k| k == keys[a].split('#').next().unwrap_or_default());
                let class = if by_key
                    || probability.is_none_or(|pr| thresholds.decide(pr) == Decision::Link)
                {
                    if by_key {
                        MatchClass::Key
                    } else {
                        MatchClass::Model
                    }
                } else {
                    MatchClass::Review
                };
                Matched {
                    class,
                    subject_key: Some(keys[a].clone()),
                    probability,
                    evidence,
                }
            }
            (None, Some(&(s, pr))) => match anchor_of.get(&s) {
                Some(&a) => Matched {
                    class: MatchClass::Review,
                    subject_key: Some(keys[a].clone()),
                    probability: Some(pr),
                    evidence: evidence_against(a).0,
                },
                None => unmatched(),
            },
            _ => unmatched(),
        };
        out.push(m);
    }
    Ok(out)
}

fn unmatched() -> Matched {
    Matched {
        class: MatchClass::None,
        subject_key: None,
        probability: None,
        evidence: BTreeMap::new(),
    }
}
