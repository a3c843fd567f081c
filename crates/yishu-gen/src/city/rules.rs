//! The synthetic city's quality rules: reviewed check and cleaning rules for 公安's household
//! register, written by its officer and approved by both owners, then every batch checked.

use super::datasets::huji;
use anyhow::{Result, anyhow};
use yishu_meta::Store;
use yishu_meta::catalog::Actor;

/// Quality for the demo: the national data elements, reviewed rules and cleaning rules for 公安's
/// household register (written by its officer, approved by the officer as business owner and the
/// bureau's data manager as technical owner), then every batch profiled, checked and cleaned.
pub async fn quality_city(store: &Store, lake: &yishu_lake::Lake) -> Result<usize> {
    use yishu_meta::quality::{NewRule, ReviewSide, RuleBody, RulePurpose};
    yishu_quality::standard::seed(store).await?;
    let officer = store.get_user_by_name("officer").await?;
    let manager = store.get_user_by_name("manager").await?;
    let (o, m) = (
        Actor {
            user: officer.id,
            org: officer.org_id,
            roles: &officer.roles,
        },
        Actor {
            user: manager.id,
            org: manager.org_id,
            roles: &manager.roles,
        },
    );
    let huji = store
        .all_resources()
        .await?
        .into_iter()
        .find(|r| r.meta.name == huji::DATASET.resource)
        .ok_or_else(|| anyhow!("the demo catalog has no 户籍人口基本信息"))?;
    let rules: Vec<(&str, &str, RulePurpose, serde_json::Value, &str, &str, &str)> = vec![
        (
            "公民身份号码格式与校验位",
            "公民身份号码规则",
            RulePurpose::Check,
            serde_json::json!({"kind": "format", "column": huji::ID, "validator": "citizen_id"}),
            "conformity",
            "high",
            "high",
        ),
        (
            "公民身份号码唯一",
            "公民身份号码规则",
            RulePurpose::Check,
            serde_json::json!({"kind": "unique", "columns": [huji::ID]}),
            "consistency",
            "high",
            "high",
        ),
        (
            "出生日期与身份号码一致",
            "公民身份号码规则",
            RulePurpose::Check,
            serde_json::json!({"kind": "cross", "check": "birth_matches_id", "id": huji::ID, "birth": huji::BIRTH}),
            "consistency",
            "high",
            "medium",
        ),
        (
            "姓名不能为空",
            "",
            RulePurpose::Check,
            serde_json::json!({"kind": "not_null", "column": huji::NAME}),
            "completeness",
            "high",
            "high",
        ),
        (
            "住址不能为空",
            "",
            RulePurpose::Check,
            serde_json::json!({"kind": "not_null", "column": huji::ADDRESS}),
            "completeness",
            "medium",
            "medium",
        ),
        (
            "姓名无多余空格",
            "",
            RulePurpose::Check,
            serde_json::json!({"kind": "format", "column": huji::NAME, "regex": "^[^\\s\\u{3000}]+$"}),
            "conformity",
            "low",
            "low",
        ),
        (
            "出生日期格式统一",
            "",
            RulePurpose::Check,
            serde_json::json!({"kind": "format", "column": huji::BIRTH, "regex": "^\\d{4}-\\d{2}-\\d{2}$"}),
            "conformity",
            "medium",
            "low",
        ),
        (
            "出生日期在合理范围",
            "",
            RulePurpose::Check,
            serde_json::json!({"kind": "range", "column": huji::BIRTH, "after": "1900-01-01", "before": "2030-12-31"}),
            "accuracy",
            "high",
            "medium",
        ),
        (
            "民族符合 GB 3304",
            "",
            RulePurpose::Check,
            serde_json::json!({"kind": "code_table", "column": huji::ETHNICITY, "table": "ethnicity"}),
            "conformity",
            "medium",
            "medium",
        ),
        (
            "去除姓名空格",
            "",
            RulePurpose::Clean,
            serde_json::json!({"fix": {"kind": "trim", "column": huji::NAME}}),
            "conformity",
            "medium",
            "low",
        ),
        (
            "身份号码全角转半角",
            "",
            RulePurpose::Clean,
            serde_json::json!({"fix": {"kind": "half_width", "column": huji::ID}}),
            "conformity",
            "medium",
            "low",
        ),
        (
            "统一出生日期格式",
            "",
            RulePurpose::Clean,
            serde_json::json!({"fix": {"kind": "unify_date", "column": huji::BIRTH}}),
            "conformity",
            "medium",
            "low",
        ),
        (
            "性别映射为国标代码",
            "",
            RulePurpose::Clean,
            serde_json::json!({"fix": {"kind": "map_codes", "column": huji::SEX, "table": "sex"}}),
            "conformity",
            "medium",
            "low",
        ),
        (
            "出生日期以身份号码为准",
            "公民身份号码第 7–14 位即出生日期（GB 11643）",
            RulePurpose::Clean,
            serde_json::json!({"fix": {"kind": "birth_from_id", "column": huji::BIRTH, "id": huji::ID}}),
            "consistency",
            "high",
            "medium",
        ),
        (
            "姓名繁体转简体",
            "户籍姓名使用规范汉字",
            RulePurpose::Clean,
            serde_json::json!({"fix": {"kind": "simplify", "column": huji::NAME}}),
            "conformity",
            "medium",
            "low",
        ),
        (
            "校验位错误的号码不入标准层",
            "",
            RulePurpose::Clean,
            serde_json::json!({"check": {"kind": "format", "column": huji::ID, "validator": "citizen_id"}}),
            "conformity",
            "high",
            "high",
        ),
    ];
    for (name, business, purpose, definition, dimension, importance, severity) in rules {
        let v = store
            .create_rule(
                &NewRule {
                    resource_id: huji.id,
                    name: name.into(),
                    business_rule: business.into(),
                    purpose,
                    body: RuleBody {
                        definition,
                        dimension: dimension.into(),
                        importance: importance.into(),
                        severity: severity.into(),
                        action: String::new(),
                    },
                },
                &o,
            )
            .await?;
        store
            .approve_rule(v.rule.id, 1, ReviewSide::Business, &o)
            .await?;
        store
            .approve_rule(v.rule.id, 1, ReviewSide::Technical, &m)
            .await?;
    }
    Ok(yishu_quality::run::check_pending(store, lake, 1_000).await?)
}
