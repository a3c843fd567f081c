//! The fusion plan (融合配置): which std resources describe which subjects, and how — the columns
//! that identify a person, legal entity or house in each resource, the attributes each row
//! observes, the events it records for the timeline (R22) and the relations it shows for the
//! graph (R23) — plus the survivorship rules per attribute (R19). The bureau saves it; a plan that
//! names a missing resource or column, gives an attribute two authorities or lets rules go round
//! is refused in words before anything runs.

use crate::key::SubjectKind;
use crate::survive::{AttributeRule, check_rules};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use yishu_types::error::Invalid;

/// How a row gives a value: a column, a constant (a death registration says 户籍状态 注销), or a
/// column through a map (登记类型 结婚 → 婚姻状况 20).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum ValueOf {
    Column {
        column: String,
    },
    Const {
        value: String,
    },
    Map {
        column: String,
        map: BTreeMap<String, String>,
    },
}

impl ValueOf {
    fn column(&self) -> Option<&str> {
        match self {
            ValueOf::Column { column } | ValueOf::Map { column, .. } => Some(column),
            ValueOf::Const { .. } => None,
        }
    }

    /// The value for a row, given how to read a column of it.
    pub fn of<'a>(&'a self, cell: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
        match self {
            ValueOf::Column { column } => cell(column).map(str::to_string),
            ValueOf::Const { value } => Some(value.clone()),
            ValueOf::Map { column, map } => cell(column).and_then(|v| map.get(v.trim()).cloned()),
        }
    }
}

/// One attribute a row observes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeMap {
    pub attribute: String,
    pub value: ValueOf,
    /// Only rows where this holds observe it (注销日期 is a death date when 注销原因 is 死亡).
    #[serde(default)]
    pub when: Option<Filter>,
}

/// One event a row records: its kind (出生, 结婚, 参保 …), the date column, and an optional
/// detail (a vaccine's name, an insurance type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMap {
    pub event: String,
    pub date: String,
    #[serde(default)]
    pub detail: Option<ValueOf>,
}

/// What a relation points to: another role on the same row (the other party of a marriage, a
/// child's mother), or a subject keyed by a column (the house owned, the employer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Target {
    Role { role: String },
    Key { kind: SubjectKind, column: String },
}

/// One relation a row shows, from this role's subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationMap {
    /// 配偶, 母亲, 产权人, 法定代表人, 参保单位 …
    pub relation: String,
    pub target: Target,
    /// The column of the date the relation began, if any.
    #[serde(default)]
    pub since: Option<String>,
}

/// A row keeps only if `column` equals `equals` (one NDJSON stream holds births and
/// vaccinations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub column: String,
    pub equals: String,
}

/// How one std resource describes one subject per row (a resource may appear several times, once
/// per role: 男方 and 女方 of a marriage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceMap {
    /// The resource's code.
    pub resource: String,
    /// The role of the subject in the row (本人, 男方, 女方, 子女, 母亲, 产权人 …).
    pub role: String,
    pub subject: SubjectKind,
    /// The key column (公民身份号码, 统一社会信用代码, 房屋编码).
    pub key: String,
    /// Person only: what probabilistic linking compares when the key is missing or wrong.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub sex: Option<String>,
    #[serde(default)]
    pub birth: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub when: Option<Filter>,
    /// The column of when the row's facts were true (an update time, a registration date); the
    /// survivorship rules' "latest" and "earliest" go by it.
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub attributes: Vec<AttributeMap>,
    #[serde(default)]
    pub events: Vec<EventMap>,
    #[serde(default)]
    pub relations: Vec<RelationMap>,
}

impl SourceMap {
    /// Every column the map reads.
    pub fn columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = vec![self.key.as_str()];
        out.extend(
            [&self.name, &self.sex, &self.birth, &self.address, &self.at]
                .into_iter()
                .flatten()
                .map(String::as_str),
        );
        if let Some(f) = &self.when {
            out.push(&f.column);
        }
        for a in &self.attributes {
            out.extend(a.value.column());
            out.extend(a.when.as_ref().map(|f| f.column.as_str()));
        }
        for e in &self.events {
            out.push(&e.date);
            out.extend(e.detail.as_ref().and_then(ValueOf::column));
        }
        for r in &self.relations {
            if let Target::Key { column, .. } = &r.target {
                out.push(column);
            }
            out.extend(r.since.as_deref());
        }
        let mut seen = HashSet::new();
        out.retain(|c| seen.insert(*c));
        out
    }
}

/// A status that follows from a relative's death (丧偶): when the other party of `relation` died
/// after the relation began, a subject whose golden `attribute` is `from` (and was last observed
/// before the death) gets `to`, with the death record as its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AfterDeath {
    pub relation: String,
    pub attribute: String,
    pub from: String,
    pub to: String,
    /// The attribute holding the date of death.
    pub death: String,
}

/// One condition of a tag rule, on a person's golden record or relations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "if", rename_all = "snake_case")]
pub enum Condition {
    /// Alive and at least `years` old by the date in `attribute` (出生日期).
    AgeAtLeast {
        attribute: String,
        years: u32,
    },
    Equals {
        attribute: String,
        value: String,
    },
    OneOf {
        attribute: String,
        values: Vec<String>,
    },
    Missing {
        attribute: String,
    },
    /// Has a relation of this kind, begun within `within_days` days if given.
    Related {
        relation: String,
        #[serde(default)]
        within_days: Option<i64>,
    },
    NotRelated {
        relation: String,
    },
}

/// A tag (标签, R24) on the people whose records meet every condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRule {
    pub tag: String,
    pub description: String,
    pub all: Vec<Condition>,
}

/// The whole plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub sources: Vec<SourceMap>,
    /// Survivorship per attribute, per subject kind.
    #[serde(default)]
    pub person: Vec<AttributeRule>,
    #[serde(default)]
    pub entity: Vec<AttributeRule>,
    #[serde(default)]
    pub house: Vec<AttributeRule>,
    #[serde(default)]
    pub after_death: Vec<AfterDeath>,
    #[serde(default)]
    pub tags: Vec<TagRule>,
}

/// What the plan is checked against: each resource's code, its department's code and its items.
pub struct KnownResource {
    pub code: String,
    pub org: String,
    pub items: Vec<String>,
}

impl Plan {
    pub fn rules(&self, kind: SubjectKind) -> &[AttributeRule] {
        match kind {
            SubjectKind::Person => &self.person,
            SubjectKind::Entity => &self.entity,
            SubjectKind::House => &self.house,
        }
    }

    /// Checks the plan before it is saved or run: survivorship rules (one authority per
    /// attribute, no cycles), every resource and column exists, every authority and checker is a
    /// department that feeds the attribute, every attribute has a rule, relation roles exist.
    pub fn check(&self, known: &[KnownResource]) -> Result<(), Invalid> {
        let bad = |m: String| Err(Invalid::new("fusion_plan_invalid", m));
        for kind in [SubjectKind::Person, SubjectKind::Entity, SubjectKind::House] {
            check_rules(self.rules(kind))?;
        }
        if self.sources.is_empty() {
            return bad("the plan names no sources".into());
        }
        for s in &self.sources {
            let Some(r) = known.iter().find(|r| r.code == s.resource) else {
                return bad(format!(
                    "source {} ({}): no such resource",
                    s.resource, s.role
                ));
            };
            for c in s.columns() {
                if !r.items.iter().any(|i| i == c) {
                    return bad(format!(
                        "source {} ({}): the resource has no item {c}; it has {}",
                        s.resource,
                        s.role,
                        r.items.join("、")
                    ));
                }
            }
            let rules = self.rules(s.subject);
            for a in &s.attributes {
                if !rules.iter().any(|r| r.attribute == a.attribute) {
                    return bad(format!(
                        "source {} ({}) observes {}, which has no survivorship rule",
                        s.resource, s.role, a.attribute
                    ));
                }
            }
            for rel in &s.relations {
                if let Target::Role { role } = &rel.target
                    && !self
                        .sources
                        .iter()
                        .any(|o| o.resource == s.resource && &o.role == role)
                {
                    return bad(format!(
                        "source {} ({}): relation {} points to role {role}, which the resource does not have",
                        s.resource, s.role, rel.relation
                    ));
                }
            }
        }
        for d in &self.after_death {
            for a in [&d.attribute, &d.death] {
                if !self.person.iter().any(|r| &r.attribute == a) {
                    return bad(format!(
                        "after-death rule on {}: {a} has no survivorship rule",
                        d.relation
                    ));
                }
            }
        }
        for t in &self.tags {
            for c in &t.all {
                let attribute = match c {
                    Condition::AgeAtLeast { attribute, .. }
                    | Condition::Equals { attribute, .. }
                    | Condition::OneOf { attribute, .. }
                    | Condition::Missing { attribute } => attribute,
                    Condition::Related { .. } | Condition::NotRelated { .. } => continue,
                };
                if !self.person.iter().any(|r| &r.attribute == attribute) {
                    return bad(format!(
                        "tag {}: {attribute} has no survivorship rule",
                        t.tag
                    ));
                }
            }
        }
        // Authorities and checkers are departments that feed the attribute.
        for kind in [SubjectKind::Person, SubjectKind::Entity, SubjectKind::House] {
            for rule in self.rules(kind) {
                let feeds: HashSet<&str> = self
                    .sources
                    .iter()
                    .filter(|s| {
                        s.subject == kind
                            && s.attributes.iter().any(|a| a.attribute == rule.attribute)
                    })
                    .filter_map(|s| known.iter().find(|r| r.code == s.resource))
                    .map(|r| r.org.as_str())
                    .collect();
                for dept in rule.authority.iter().chain(&rule.checkers) {
                    if !feeds.contains(dept.as_str()) {
                        return bad(format!(
                            "{}: {dept} is named as a source but none of its resources gives {}",
                            rule.attribute, rule.attribute
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
