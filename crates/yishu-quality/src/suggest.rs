//! Rule suggestions from a profile (R14): not-null where nothing is missing, a code table where
//! the values fit one, a format where one pattern covers at least 99% of the values, unique where an
//! identifier column has no repeats. A person accepts (the rule goes to review) or discards them.

use crate::pattern::Pattern;
use crate::profile::{InferredType, TableProfile};
use crate::rule::{Dimension, RuleDef, Validator};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub name: String,
    #[schema(value_type = Object)]
    pub definition: RuleDef,
    pub dimension: Dimension,
    /// Why, in words, from the profile's figures.
    pub why: String,
}

/// The share of values one pattern must cover before a format rule is proposed.
pub const FORMAT_SHARE: f64 = 0.99;

/// Suggestions for a table, leaving out definitions in `skip` (existing or discarded rules).
pub fn suggest(p: &TableProfile, skip: &[RuleDef]) -> Vec<Suggestion> {
    let mut out = Vec::new();
    if p.records == 0 {
        return out;
    }
    for f in &p.fields {
        let present = f.records - f.missing;
        if present == 0 {
            continue;
        }
        let column = f.name.clone();
        if f.missing == 0 {
            out.push(Suggestion {
                name: format!("{column}不能为空"),
                definition: RuleDef::NotNull {
                    column: column.clone(),
                },
                dimension: Dimension::Completeness,
                why: format!("{} 条记录中没有空值", f.records),
            });
        }
        if let Some(t) = &f.code_table {
            out.push(Suggestion {
                name: format!("{column}符合代码表 {t}"),
                definition: RuleDef::CodeTable {
                    column: column.clone(),
                    table: t.clone(),
                },
                dimension: Dimension::Conformity,
                why: format!("99% 以上的值属于代码表 {t}"),
            });
            continue;
        }
        if let Some((pattern, share)) = f.main_pattern()
            && share >= FORMAT_SHARE
            && pattern != Pattern::Text
        {
            let validator = match pattern {
                Pattern::CitizenId => Some(Validator::CitizenId),
                Pattern::CreditCode => Some(Validator::CreditCode),
                Pattern::Mobile => Some(Validator::Mobile),
                Pattern::Email => Some(Validator::Email),
                p if p.is_date() => Some(Validator::Date),
                _ => None,
            };
            let regex = validator.is_none().then(|| pattern.regex().to_string());
            out.push(Suggestion {
                name: format!("{column}格式为{}", pattern.label_zh()),
                definition: RuleDef::Format {
                    column: column.clone(),
                    regex,
                    validator,
                },
                dimension: Dimension::Conformity,
                why: format!("{:.2}% 的值为{}", share * 100.0, pattern.label_zh()),
            });
            let identifier = matches!(pattern, Pattern::CitizenId | Pattern::CreditCode);
            if identifier && f.duplicate_rate() < 0.01 && f.inferred_type == InferredType::Text {
                out.push(Suggestion {
                    name: format!("{column}唯一"),
                    definition: RuleDef::Unique {
                        columns: vec![column.clone()],
                    },
                    dimension: Dimension::Consistency,
                    why: format!("标识类字段，重复率 {:.2}%", f.duplicate_rate() * 100.0),
                });
            }
        }
    }
    out.retain(|s| !skip.contains(&s.definition));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{FieldAcc, table_profile};
    use crate::text::Texts;
    use std::sync::Arc;
    use yishu_lake::arrow::array::{ArrayRef, StringArray};

    fn field(name: &str, values: Vec<Option<&str>>) -> crate::FieldProfile {
        let n = values.len();
        let a: ArrayRef = Arc::new(StringArray::from(values));
        let mut acc = FieldAcc::new(name);
        acc.feed(Texts::of(&a), n);
        acc.finish()
    }

    #[test]
    fn proposes_from_the_figures() {
        let p = table_profile(
            "t",
            4,
            0,
            0,
            vec![
                field("性别", vec![Some("1"), Some("2"), Some("1"), Some("2")]),
                field("备注", vec![None, Some("x"), None, Some("y")]),
                field(
                    "电话",
                    vec![
                        Some("13800138000"),
                        Some("13900139000"),
                        Some("13700137000"),
                        Some("13600136000"),
                    ],
                ),
            ],
        );
        let s = suggest(&p, &[]);
        let defs: Vec<serde_json::Value> = s
            .iter()
            .map(|s| serde_json::to_value(&s.definition).unwrap())
            .collect();
        assert!(defs.contains(&serde_json::json!({"kind": "not_null", "column": "性别"})));
        assert!(defs.contains(
            &serde_json::json!({"kind": "code_table", "column": "性别", "table": "sex"})
        ));
        assert!(defs.contains(&serde_json::json!({"kind": "format", "column": "电话", "regex": null, "validator": "mobile"})));
        assert!(!defs.iter().any(|d| d["column"] == "备注"), "{defs:?}");
        let skip = vec![s[0].definition.clone()];
        assert_eq!(suggest(&p, &skip).len(), s.len() - 1);
    }
}
