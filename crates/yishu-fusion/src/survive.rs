//! Survivorship (R19, 一数一源、多源校核): per attribute of a subject, the one authoritative source
//! whose value the golden record takes, the sources that cross-check it, and what decides when the
//! authority has no value (latest by event date, a priority list, the majority, the earliest — e.g.
//! a death reported by 公安 or 卫健, whichever first — or the source that won another attribute).
//! Every golden value names where it came from and which sources agree and disagree; a disagreement
//! with the authority is a conflict for the departments to resolve.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use yishu_types::error::Invalid;

/// What decides a value when the authoritative source has none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fallback {
    /// The value with the latest event time.
    Latest,
    /// The value with the earliest event time.
    Earliest,
    /// The first source in the list that has a value.
    Priority { sources: Vec<String> },
    /// The value most sources give (ties: the latest).
    Majority,
    /// The value from the source that won `attribute`.
    Follow { attribute: String },
}

/// The rule for one attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeRule {
    pub attribute: String,
    /// The one source whose value is the golden value when it has one (一数一源).
    pub authority: Option<String>,
    /// Sources that cross-check it (多源校核); their disagreement is a conflict.
    #[serde(default)]
    pub checkers: Vec<String>,
    pub fallback: Fallback,
    /// A core attribute changes only through the authority after a person confirms (R20).
    #[serde(default)]
    pub core: bool,
}

impl AttributeRule {
    /// A rule that is not core: the authority's value, cross-checked by `checkers`, else the
    /// fallback.
    pub fn new(
        attribute: &str,
        authority: Option<&str>,
        checkers: &[&str],
        fallback: Fallback,
    ) -> Self {
        AttributeRule {
            attribute: attribute.into(),
            authority: authority.map(str::to_string),
            checkers: checkers.iter().map(|s| s.to_string()).collect(),
            fallback,
            core: false,
        }
    }
}

/// One source's value of an attribute of a subject, with its lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub attribute: String,
    pub value: String,
    /// The department (its code): what the rules name.
    pub source: String,
    /// The resource (its code) the row is in.
    #[serde(default)]
    pub resource: String,
    pub batch: String,
    pub row: String,
    /// When the event happened or was recorded (ms).
    pub at: i64,
}

/// A golden value with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoldenValue {
    pub attribute: String,
    pub value: String,
    /// The observation it came from.
    pub from: Observation,
    /// How it was chosen: `authority` or the fallback's kind.
    pub by: String,
    /// Sources giving the same value, and those giving another (source, value).
    pub agree: Vec<String>,
    pub disagree: Vec<(String, String)>,
    /// The authority's value is contradicted by a checker.
    pub conflict: bool,
}

/// Checks a set of rules before it is saved: one rule per attribute, an authority that is not
/// also its own checker, priority lists without repeats, and no cycle of `follow`.
pub fn check_rules(rules: &[AttributeRule]) -> Result<(), Invalid> {
    let bad = |m: String| Err(Invalid::new("survivorship_invalid", m));
    let mut seen: HashMap<&str, &AttributeRule> = HashMap::new();
    for r in rules {
        if let Some(prev) = seen.insert(r.attribute.as_str(), r) {
            return match (&prev.authority, &r.authority) {
                (Some(a), Some(b)) if a != b => bad(format!(
                    "{} has two authoritative sources ({a} and {b}): one datum has one source",
                    r.attribute
                )),
                _ => bad(format!("{} has two rules", r.attribute)),
            };
        }
        if let Some(a) = &r.authority
            && r.checkers.contains(a)
        {
            return bad(format!(
                "{}: {a} is the authority and cannot also check itself",
                r.attribute
            ));
        }
        if let Fallback::Priority { sources } = &r.fallback {
            let mut s = sources.clone();
            s.sort();
            s.dedup();
            if s.len() != sources.len() || sources.is_empty() {
                return bad(format!(
                    "{}: a priority list names each source once",
                    r.attribute
                ));
            }
        }
    }
    // Follow chains end somewhere.
    for r in rules {
        let mut at = r;
        let mut path = vec![r.attribute.as_str()];
        while let Fallback::Follow { attribute } = &at.fallback {
            if path.contains(&attribute.as_str()) {
                path.push(attribute);
                return bad(format!("survivorship rules go round: {}", path.join(" → ")));
            }
            path.push(attribute);
            match seen.get(attribute.as_str()) {
                Some(next) => at = next,
                None => {
                    return bad(format!(
                        "{} follows {attribute}, which has no rule",
                        r.attribute
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The newest observation (ties: the later row).
fn latest<'a>(it: impl Iterator<Item = &'a Observation>) -> Option<&'a Observation> {
    it.max_by(|a, b| a.at.cmp(&b.at).then_with(|| a.row.cmp(&b.row)))
}

fn same(a: &str, b: &str) -> bool {
    a.trim() == b.trim()
}

/// The authority's value: its newest. When two of its rows of the same batch and time disagree
/// (a register that holds the person twice, once with a typo), the value the other sources give
/// wins; on a tie, the later row. The disagreement stays a conflict for the authority to resolve.
fn authority_value<'a>(obs: &[&'a Observation], authority: &str) -> Option<&'a Observation> {
    let mine = || obs.iter().copied().filter(|o| o.source == authority);
    let newest = latest(mine())?;
    let rivals = mine()
        .filter(|o| o.at == newest.at && o.batch == newest.batch && !same(&o.value, &newest.value));
    let support = |v: &str| {
        obs.iter()
            .filter(|o| o.source != authority && same(&o.value, v))
            .count()
    };
    std::iter::once(newest).chain(rivals).max_by(|a, b| {
        support(&a.value)
            .cmp(&support(&b.value))
            .then_with(|| a.at.cmp(&b.at))
            .then_with(|| a.row.cmp(&b.row))
    })
}

/// The golden values of one subject from its observations, under checked rules.
pub fn golden(rules: &[AttributeRule], observations: &[Observation]) -> Vec<GoldenValue> {
    let by_attr: BTreeMap<&str, Vec<&Observation>> =
        observations.iter().fold(BTreeMap::new(), |mut m, o| {
            if !o.value.trim().is_empty() {
                m.entry(o.attribute.as_str())
                    .or_insert_with(Vec::new)
                    .push(o);
            }
            m
        });
    let rule_of: HashMap<&str, &AttributeRule> =
        rules.iter().map(|r| (r.attribute.as_str(), r)).collect();
    let mut won: HashMap<String, String> = HashMap::new();
    let mut out: BTreeMap<String, GoldenValue> = BTreeMap::new();
    // Attributes that follow another are decided after it (rules are checked: no cycles).
    let mut order: Vec<&AttributeRule> = rules.iter().collect();
    let depth = |r: &AttributeRule| {
        let mut d = 0;
        let mut at = r;
        while let Fallback::Follow { attribute } = &at.fallback {
            d += 1;
            match rule_of.get(attribute.as_str()) {
                Some(n) if d < 64 => at = n,
                _ => break,
            }
        }
        d
    };
    order.sort_by_key(|r| depth(r));
    for r in order {
        let Some(obs) = by_attr.get(r.attribute.as_str()) else {
            continue;
        };
        let authority = r.authority.as_ref().and_then(|a| authority_value(obs, a));
        let (chosen, by) = match authority {
            Some(o) => (Some(o), "authority".to_string()),
            None => {
                let pick = match &r.fallback {
                    Fallback::Latest => latest(obs.iter().copied()),
                    Fallback::Earliest => obs
                        .iter()
                        .min_by(|a, b| a.at.cmp(&b.at).then_with(|| a.row.cmp(&b.row)))
                        .copied(),
                    Fallback::Priority { sources } => sources
                        .iter()
                        .find_map(|s| latest(obs.iter().copied().filter(|o| &o.source == s))),
                    Fallback::Majority => {
                        let mut count: BTreeMap<&str, (usize, i64)> = BTreeMap::new();
                        for o in obs.iter() {
                            let e = count.entry(o.value.trim()).or_default();
                            e.0 += 1;
                            e.1 = e.1.max(o.at);
                        }
                        let best = count
                            .iter()
                            .max_by_key(|(_, (n, at))| (*n, *at))
                            .map(|(v, _)| *v);
                        best.and_then(|v| latest(obs.iter().copied().filter(|o| same(&o.value, v))))
                    }
                    Fallback::Follow { attribute } => won
                        .get(attribute)
                        .and_then(|s| latest(obs.iter().copied().filter(|o| &o.source == s))),
                };
                let kind = serde_json::to_value(&r.fallback)
                    .ok()
                    .and_then(|v| v["kind"].as_str().map(str::to_string))
                    .unwrap_or_default();
                (pick, kind)
            }
        };
        let Some(chosen) = chosen else {
            continue;
        };
        won.insert(r.attribute.clone(), chosen.source.clone());
        let mut agree = Vec::new();
        let mut disagree = Vec::new();
        // Other sources, and the chosen source's other rows of the same batch and time (two rows
        // of one register disagreeing); its older batches or earlier events (a marriage before
        // the divorce) are superseded, not in conflict.
        for o in obs.iter().filter(|o| {
            o.source != chosen.source
                || (o.batch == chosen.batch && o.row != chosen.row && o.at == chosen.at)
        }) {
            if same(&o.value, &chosen.value) {
                if o.source != chosen.source && !agree.contains(&o.source) {
                    agree.push(o.source.clone());
                }
            } else if !disagree
                .iter()
                .any(|(s, v): &(String, String)| s == &o.source && v == &o.value)
            {
                disagree.push((o.source.clone(), o.value.clone()));
            }
        }
        let conflict = by == "authority"
            && disagree.iter().any(|(s, _)| {
                r.checkers.is_empty() || r.checkers.contains(s) || s == &chosen.source
            });
        out.insert(
            r.attribute.clone(),
            GoldenValue {
                attribute: r.attribute.clone(),
                value: chosen.value.trim().to_string(),
                from: chosen.clone(),
                by,
                agree,
                disagree,
                conflict,
            },
        );
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(attr: &str, value: &str, source: &str, at: i64) -> Observation {
        Observation {
            attribute: attr.into(),
            value: value.into(),
            source: source.into(),
            resource: format!("r-{source}"),
            batch: format!("b-{source}"),
            row: format!("{source}.csv:{at}"),
            at,
        }
    }

    #[test]
    fn bad_rules_are_refused_in_words() {
        let two = vec![
            AttributeRule::new("姓名", Some("公安"), &[], Fallback::Latest),
            AttributeRule::new("姓名", Some("民政"), &[], Fallback::Latest),
        ];
        let e = check_rules(&two).unwrap_err();
        assert!(
            e.message.contains("two authoritative sources"),
            "{}",
            e.message
        );
        let cycle = vec![
            AttributeRule::new(
                "户籍地址",
                None,
                &[],
                Fallback::Follow {
                    attribute: "婚姻状况".into(),
                },
            ),
            AttributeRule::new(
                "婚姻状况",
                None,
                &[],
                Fallback::Follow {
                    attribute: "户籍地址".into(),
                },
            ),
        ];
        let e = check_rules(&cycle).unwrap_err();
        assert!(e.message.contains("go round"), "{}", e.message);
        let own = vec![AttributeRule::new(
            "姓名",
            Some("公安"),
            &["公安"],
            Fallback::Latest,
        )];
        assert!(check_rules(&own).is_err());
        let ok = vec![
            AttributeRule::new("姓名", Some("公安"), &["人社"], Fallback::Latest),
            AttributeRule::new(
                "住址",
                None,
                &[],
                Fallback::Follow {
                    attribute: "姓名".into(),
                },
            ),
        ];
        check_rules(&ok).unwrap();
    }

    #[test]
    fn two_rows_of_the_authority_are_settled_by_the_other_sources() {
        let rules = vec![AttributeRule::new(
            "姓名",
            Some("公安"),
            &["人社"],
            Fallback::Latest,
        )];
        let twice = |second: &str| {
            let mut a = obs("姓名", "邓慧", "公安", 1);
            let mut b = obs("姓名", second, "公安", 1);
            a.row = "hj.csv:10".into();
            b.row = "hj.csv:11".into();
            golden(&rules, &[a, b, obs("姓名", "邓慧", "人社", 3)])
        };
        // The later row has the typo; 人社 gives the first row's name, so it wins — still a
        // conflict between the register's two rows.
        let g = twice("鄧慧");
        assert_eq!(g[0].value, "邓慧");
        assert_eq!(g[0].from.row, "hj.csv:10");
        assert!(g[0].conflict);
        // Nobody else says: the later row, as before.
        let g = golden(
            &rules,
            &[
                obs("姓名", "邓慧", "公安", 1),
                obs("姓名", "邓惠", "公安", 2),
            ],
        );
        assert_eq!(g[0].value, "邓惠");
    }

    #[test]
    fn the_authority_wins_and_disagreement_is_a_conflict() {
        let rules = vec![
            AttributeRule::new("姓名", Some("公安"), &["人社"], Fallback::Latest),
            AttributeRule::new("婚姻状况", Some("民政"), &[], Fallback::Majority),
            AttributeRule::new("死亡日期", None, &[], Fallback::Earliest),
            AttributeRule::new(
                "住址",
                None,
                &[],
                Fallback::Follow {
                    attribute: "姓名".into(),
                },
            ),
        ];
        check_rules(&rules).unwrap();
        let g = golden(
            &rules,
            &[
                obs("姓名", "张伟", "公安", 1),
                obs("姓名", "张玮", "人社", 5),
                obs("婚姻状况", "20", "公安", 2),
                obs("婚姻状况", "20", "人社", 3),
                obs("婚姻状况", "10", "卫健", 4),
                obs("死亡日期", "2024-03-02", "卫健", 20),
                obs("死亡日期", "2024-03-01", "公安", 10),
                obs("住址", "红星路1号", "人社", 9),
                obs("住址", "春熙路2号", "公安", 3),
            ],
        );
        let get = |a: &str| g.iter().find(|v| v.attribute == a).unwrap();
        let name = get("姓名");
        assert_eq!(
            (name.value.as_str(), name.by.as_str()),
            ("张伟", "authority")
        );
        assert!(name.conflict);
        assert_eq!(
            name.disagree,
            vec![("人社".to_string(), "张玮".to_string())]
        );
        assert_eq!(name.from.row, "公安.csv:1");
        // No value from 民政: the majority decides, and agreeing sources are named.
        let m = get("婚姻状况");
        assert_eq!((m.value.as_str(), m.by.as_str()), ("20", "majority"));
        assert!(!m.conflict);
        assert_eq!(m.agree.len(), 1);
        assert_eq!(get("死亡日期").value, "2024-03-01");
        // 住址 comes from the source that won 姓名.
        assert_eq!(get("住址").value, "春熙路2号");
    }
}
