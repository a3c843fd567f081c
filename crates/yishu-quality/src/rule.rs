//! Quality rules (质量规则, R14): each kind is a building block with its own check; a business rule
//! is a named set of technical rules. A definition is checked when it is saved ([`RuleDef::check`]);
//! what can only fail later (a column dropped by drift) marks the rule broken for that batch.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use yishu_types::{Error, ErrorCode};

/// GB/T 36344-2018 quality dimensions.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// 规范性
    Conformity,
    /// 完整性
    Completeness,
    /// 准确性
    Accuracy,
    /// 一致性
    Consistency,
    /// 时效性
    Timeliness,
    /// 可访问性
    Accessibility,
}

impl Dimension {
    pub const ALL: [Dimension; 6] = [
        Dimension::Conformity,
        Dimension::Completeness,
        Dimension::Accuracy,
        Dimension::Consistency,
        Dimension::Timeliness,
        Dimension::Accessibility,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Conformity => "conformity",
            Dimension::Completeness => "completeness",
            Dimension::Accuracy => "accuracy",
            Dimension::Consistency => "consistency",
            Dimension::Timeliness => "timeliness",
            Dimension::Accessibility => "accessibility",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Dimension::Conformity => "规范性",
            Dimension::Completeness => "完整性",
            Dimension::Accuracy => "准确性",
            Dimension::Consistency => "一致性",
            Dimension::Timeliness => "时效性",
            Dimension::Accessibility => "可访问性",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str() == s || d.label_zh() == s)
    }
}

/// How much the rule matters to the business (重要程度), and how bad a violation is (严重程度).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Level::Low, Level::Medium, Level::High]
            .into_iter()
            .find(|l| l.as_str() == s || l.label_zh() == s)
    }
    /// Days a department has to fix a problem of this severity.
    pub fn sla_days(self) -> i64 {
        match self {
            Level::High => 3,
            Level::Medium => 7,
            Level::Low => 15,
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Level::Low => "低",
            Level::Medium => "中",
            Level::High => "高",
        }
    }
}

/// A checker from `yishu-types` a format rule can use instead of a regex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Validator {
    /// 公民身份号码 (GB 11643): shape, date, division and check digit.
    CitizenId,
    /// 统一社会信用代码 (GB 32100) with its check character.
    CreditCode,
    Mobile,
    Email,
    /// A date in any of the ways Chinese departments write one.
    Date,
    /// A GB/T 2260 division code in force. A code that was abolished fails with the year it ended
    /// and the code that replaced it.
    Division,
}

impl Validator {
    /// Whether a (trimmed, non-empty) value passes.
    pub fn accepts(self, v: &str) -> bool {
        self.problem(v).is_none()
    }

    /// What is wrong with a (trimmed, non-empty) value, in words for the violation list; `None`
    /// when it passes.
    pub fn problem(self, v: &str) -> Option<String> {
        if let Validator::Division = self {
            return match yishu_types::division::parse_known(v) {
                Err(_) => Some("不是 GB/T 2260 行政区划代码".into()),
                Ok(d) if d.abolished.is_some() => Some(format!("区划代码已撤销：{}", d.describe())),
                Ok(_) => None,
            };
        }
        (!self.passes(v)).then(|| "格式不符".to_string())
    }

    fn passes(self, v: &str) -> bool {
        use yishu_types::*;
        match self {
            Validator::CitizenId => citizen_id::CitizenId::parse(v).is_ok(),
            Validator::CreditCode => credit_code::CreditCode::parse(v).is_ok(),
            Validator::Mobile => contact::Mobile::parse(v).is_ok(),
            Validator::Email => contact::Email::parse(v).is_ok(),
            Validator::Date => date::parse_cn_date(v).is_ok(),
            Validator::Division => division::parse_known(v).is_ok_and(|d| d.abolished.is_none()),
        }
    }
}

/// A check across columns of one row, or across rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum CrossCheck {
    /// The birth date equals digits 7–14 of the citizen ID.
    BirthMatchesId { id: String, birth: String },
    /// The sex (code or name) matches the ID's 17th digit (odd: male).
    SexMatchesId { id: String, sex: String },
    /// `end` is not before `start`.
    EndAfterStart { start: String, end: String },
    /// In each group, the detail rows' `amount` sums to the summary row's (the row whose `label`
    /// column reads `summary`, e.g. 合计).
    DetailSumsToSummary {
        #[serde(default)]
        group: Option<String>,
        label: String,
        summary: String,
        amount: String,
    },
}

/// What a rule checks. Columns are item names of the rule's resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleDef {
    /// 非空
    NotNull { column: String },
    /// 唯一: no two rows share the value(s); a repeat is a violation of the later row.
    Unique { columns: Vec<String> },
    /// 格式: a regex, or a validator.
    Format {
        column: String,
        #[serde(default)]
        regex: Option<String>,
        #[serde(default)]
        validator: Option<Validator>,
    },
    /// 值域: numeric (`min`/`max`), character length (`min_len`/`max_len`) or date (`after`/`before`,
    /// inclusive, yyyy-mm-dd).
    Range {
        column: String,
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
        #[serde(default)]
        min_len: Option<u64>,
        #[serde(default)]
        max_len: Option<u64>,
        #[serde(default)]
        after: Option<String>,
        #[serde(default)]
        before: Option<String>,
    },
    /// 代码表: the value is a code of a national table (`sex`, `ethnicity` …) or a registered one.
    CodeTable { column: String, table: String },
    /// 参照完整性: the value exists in `item` of another resource (by code).
    Referential {
        column: String,
        resource: String,
        item: String,
    },
    /// 波动: the batch's row count (no column) or a column's mean/distinct count changes by more
    /// than `threshold` (a fraction, 0.3 = 30%) from the previous batch.
    Volatility {
        #[serde(default)]
        column: Option<String>,
        threshold: f64,
    },
    /// 跨字段逻辑
    Cross(CrossCheck),
    /// 条件函数依赖: rows with the same `lhs` values have the same `rhs` (optionally only rows
    /// where `when_column` equals `when_value`). Rows that disagree with the majority are violations.
    Dependency {
        lhs: Vec<String>,
        rhs: String,
        #[serde(default)]
        when_column: Option<String>,
        #[serde(default)]
        when_value: Option<String>,
    },
    /// 及时性: the newest batch arrived within `max_days` (default: the resource's update cycle).
    Timeliness {
        #[serde(default)]
        max_days: Option<u32>,
    },
    /// 自定义 SQL: a query over the batch's rows as table `t` returning the violating rows; it must
    /// return `_source_ref` (and may return `value`).
    Sql { sql: String },
}

/// Upper bound on regex program size: a pasted pathological pattern must not eat the server.
const REGEX_SIZE: usize = 1 << 20;

pub fn compile_regex(re: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(re)
        .size_limit(REGEX_SIZE)
        .build()
        .map_err(|e| format!("invalid regex '{re}': {e}"))
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::RuleInvalid, msg)
}

impl RuleDef {
    /// The columns the rule reads.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            RuleDef::NotNull { column }
            | RuleDef::Format { column, .. }
            | RuleDef::Range { column, .. }
            | RuleDef::CodeTable { column, .. }
            | RuleDef::Referential { column, .. } => vec![column],
            RuleDef::Unique { columns } => columns.iter().map(String::as_str).collect(),
            RuleDef::Volatility { column, .. } => column.iter().map(String::as_str).collect(),
            RuleDef::Cross(c) => match c {
                CrossCheck::BirthMatchesId { id, birth } => vec![id, birth],
                CrossCheck::SexMatchesId { id, sex } => vec![id, sex],
                CrossCheck::EndAfterStart { start, end } => vec![start, end],
                CrossCheck::DetailSumsToSummary {
                    group,
                    label,
                    amount,
                    ..
                } => group
                    .iter()
                    .map(String::as_str)
                    .chain([label.as_str(), amount.as_str()])
                    .collect(),
            },
            RuleDef::Dependency {
                lhs,
                rhs,
                when_column,
                ..
            } => lhs
                .iter()
                .map(String::as_str)
                .chain([rhs.as_str()])
                .chain(when_column.iter().map(String::as_str))
                .collect(),
            RuleDef::Timeliness { .. } | RuleDef::Sql { .. } => Vec::new(),
        }
    }

    /// The column a violation's value comes from (the first the rule reads).
    pub fn column(&self) -> String {
        self.columns()
            .first()
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    /// The dimension a rule of this kind measures unless its author says otherwise.
    pub fn default_dimension(&self) -> Dimension {
        match self {
            RuleDef::NotNull { .. } => Dimension::Completeness,
            RuleDef::Format { .. } | RuleDef::CodeTable { .. } => Dimension::Conformity,
            RuleDef::Range { .. } | RuleDef::Volatility { .. } | RuleDef::Sql { .. } => {
                Dimension::Accuracy
            }
            RuleDef::Unique { .. }
            | RuleDef::Referential { .. }
            | RuleDef::Cross(_)
            | RuleDef::Dependency { .. } => Dimension::Consistency,
            RuleDef::Timeliness { .. } => Dimension::Timeliness,
        }
    }

    /// Checks the definition against the resource's items when it is saved: unknown columns, bad
    /// regex, unknown code tables, empty column lists, impossible ranges. `code_tables` are the
    /// ids of registered (non-national) tables. SQL is planned separately (it needs the lake).
    pub fn check(&self, items: &[String], code_tables: &[String]) -> Result<(), Error> {
        let known: HashSet<&str> = items.iter().map(String::as_str).collect();
        for c in self.columns() {
            if !known.contains(c) {
                return Err(invalid(format!(
                    "column '{c}' is not an item of this resource (items: {})",
                    items.join(", ")
                )));
            }
        }
        match self {
            RuleDef::Unique { columns } if columns.is_empty() => {
                Err(invalid("a unique rule needs at least one column"))
            }
            RuleDef::Format {
                regex, validator, ..
            } => match (regex, validator) {
                (Some(re), None) => compile_regex(re).map(|_| ()).map_err(invalid),
                (None, Some(_)) => Ok(()),
                _ => Err(invalid("a format rule needs either a regex or a validator")),
            },
            RuleDef::Range {
                min,
                max,
                min_len,
                max_len,
                after,
                before,
                ..
            } => {
                for d in [after, before].into_iter().flatten() {
                    yishu_types::date::parse_cn_date(d)
                        .map_err(|_| invalid(format!("'{d}' is not a date")))?;
                }
                let any = min.is_some()
                    || max.is_some()
                    || min_len.is_some()
                    || max_len.is_some()
                    || after.is_some()
                    || before.is_some();
                if !any {
                    return Err(invalid("a range rule needs a bound"));
                }
                if let (Some(a), Some(b)) = (min, max)
                    && a > b
                {
                    return Err(invalid(format!("min {a} is above max {b}")));
                }
                if let (Some(a), Some(b)) = (min_len, max_len)
                    && a > b
                {
                    return Err(invalid(format!("min_len {a} is above max_len {b}")));
                }
                Ok(())
            }
            RuleDef::CodeTable { table, .. } => {
                if yishu_types::codes::table(table).is_some() || code_tables.contains(table) {
                    Ok(())
                } else {
                    Err(invalid(format!(
                        "no code table '{table}' (national: {})",
                        yishu_types::codes::national()
                            .iter()
                            .map(|t| t.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
            }
            RuleDef::Volatility { threshold, .. } if threshold.is_nan() || *threshold <= 0.0 => {
                Err(invalid("threshold must be a positive fraction (0.3 = 30%)"))
            }
            RuleDef::Dependency {
                lhs,
                when_column,
                when_value,
                ..
            } => {
                if lhs.is_empty() {
                    return Err(invalid("a dependency needs at least one left-hand column"));
                }
                if when_column.is_some() != when_value.is_some() {
                    return Err(invalid("when_column and when_value go together"));
                }
                Ok(())
            }
            RuleDef::Sql { sql } if sql.trim().is_empty() => Err(invalid("the SQL is empty")),
            _ => Ok(()),
        }
    }
}

/// A rule as the checker runs it: its definition and the version results are recorded under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRule {
    pub id: i64,
    pub version: i64,
    pub def: RuleDef,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<String> {
        ["公民身份号码", "出生日期", "性别"]
            .map(String::from)
            .to_vec()
    }

    fn json(v: serde_json::Value) -> RuleDef {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn bad_definitions_are_refused_in_words() {
        let bad = [
            (
                serde_json::json!({"kind": "format", "column": "公民身份号码", "regex": "([0-9]"}),
                "invalid regex",
            ),
            (
                serde_json::json!({"kind": "not_null", "column": "住址"}),
                "column '住址' is not an item",
            ),
            (
                serde_json::json!({"kind": "code_table", "column": "性别", "table": "nope"}),
                "no code table 'nope'",
            ),
            (
                serde_json::json!({"kind": "range", "column": "出生日期", "min": 5, "max": 1}),
                "min 5 is above max 1",
            ),
            (
                serde_json::json!({"kind": "format", "column": "性别"}),
                "either a regex or a validator",
            ),
        ];
        for (def, want) in bad {
            let e = json(def).check(&items(), &[]).unwrap_err();
            assert_eq!(e.code, ErrorCode::RuleInvalid);
            assert!(e.message.contains(want), "{}", e.message);
        }
        json(serde_json::json!({"kind": "code_table", "column": "性别", "table": "sex"}))
            .check(&items(), &[])
            .unwrap();
        let cross = json(
            serde_json::json!({"kind": "cross", "check": "birth_matches_id", "id": "公民身份号码", "birth": "出生日期"}),
        );
        cross.check(&items(), &[]).unwrap();
        assert_eq!(cross.default_dimension(), Dimension::Consistency);
    }

    #[test]
    fn validators() {
        assert!(Validator::CitizenId.accepts("11010519491231002X"));
        assert!(!Validator::CitizenId.accepts("110105194912310021"));
        assert!(Validator::Date.accepts("2024年3月5日"));
        assert!(!Validator::Mobile.accepts("1234"));
        // An ID keeps its county's code for life; a division column should hold one in force.
        assert!(Validator::CitizenId.accepts("412724197503120039"));
        assert_eq!(Validator::Division.problem("411627"), None);
        assert_eq!(
            Validator::Division.problem("412724").unwrap(),
            "区划代码已撤销：412724（太康县，1999 年撤销，现为 411627 太康县）"
        );
        assert_eq!(
            Validator::Division.problem("412799").unwrap(),
            "不是 GB/T 2260 行政区划代码"
        );
    }
}
