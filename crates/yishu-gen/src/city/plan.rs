//! The synthetic city's fusion plan: which columns of which department's data name a person,
//! a legal entity or a house, which department is authoritative for each attribute, the tags.

use super::datasets::{canbao, dibao, fangwu, gongjijin, huji, hunyin, qiye, siwang, weijian};
use anyhow::{Result, anyhow};
use serde_json::json;
use yishu_fusion::plan::Plan;
use yishu_fusion::survive::{AttributeRule, Fallback};
use yishu_meta::Store;

/// The person attributes of the base library: those a household register holds are named after
/// its columns; the others after what they say.
pub mod attr {
    use super::{huji, siwang};
    pub const NAME: &str = huji::NAME;
    pub const SEX: &str = huji::SEX;
    pub const ETHNICITY: &str = huji::ETHNICITY;
    pub const BIRTH: &str = huji::BIRTH;
    pub const MARITAL: &str = huji::MARITAL;
    pub const ADDRESS: &str = huji::ADDRESS;
    pub const DIVISION: &str = huji::DIVISION;
    pub const HOUSEHOLD_STATUS: &str = huji::STATUS;
    pub const DEATH: &str = siwang::DATE;
    pub const INSURANCE: &str = "参保状态";
    pub const HOUSING_FUND: &str = "公积金账户状态";
    pub const DIBAO: &str = "低保状态";
}

/// The synthetic city's plan: 公安 is authoritative for identity and household facts, 民政 for
/// marital status, 人社 for insurance, 公积金 for its accounts; deaths come from 公安 or 民政,
/// whichever is first. Resources are found by their catalog names.
pub async fn city_plan(store: &Store) -> Result<Plan> {
    let resources = store.all_resources().await?;
    let code = |name: &str| -> Result<String> {
        resources
            .iter()
            .find(|r| r.meta.name == name)
            .map(|r| r.code.clone())
            .ok_or_else(|| anyhow!("the catalog has no resource named {name}"))
    };
    let v = json!({
        "sources": [
            {"resource": code(huji::DATASET.resource)?, "role": "本人", "subject": "person",
             "key": huji::ID, "name": huji::NAME, "sex": huji::SEX, "birth": huji::BIRTH, "address": huji::ADDRESS,
             "attributes": [
                {"attribute": attr::NAME, "value": {"from": "column", "column": huji::NAME}},
                {"attribute": attr::SEX, "value": {"from": "column", "column": huji::SEX}},
                {"attribute": attr::ETHNICITY, "value": {"from": "column", "column": huji::ETHNICITY}},
                {"attribute": attr::BIRTH, "value": {"from": "column", "column": huji::BIRTH}},
                {"attribute": attr::MARITAL, "value": {"from": "column", "column": huji::MARITAL}},
                {"attribute": attr::ADDRESS, "value": {"from": "column", "column": huji::ADDRESS}},
                {"attribute": attr::DIVISION, "value": {"from": "column", "column": huji::DIVISION}},
                {"attribute": attr::HOUSEHOLD_STATUS, "value": {"from": "column", "column": huji::STATUS}},
                {"attribute": attr::DEATH, "value": {"from": "column", "column": huji::CANCEL_DATE},
                 "when": {"column": huji::CANCEL_REASON, "equals": "死亡"}}],
             "events": [{"event": "出生", "date": huji::BIRTH},
                        {"event": "户籍注销", "date": huji::CANCEL_DATE, "detail": {"from": "column", "column": huji::CANCEL_REASON}}]},
            {"resource": code(hunyin::DATASET.resource)?, "role": "男方", "subject": "person",
             "key": hunyin::HUSBAND_ID, "name": hunyin::HUSBAND_NAME, "at": hunyin::DATE,
             "attributes": [
                {"attribute": attr::NAME, "value": {"from": "column", "column": hunyin::HUSBAND_NAME}},
                {"attribute": attr::MARITAL, "value": {"from": "map", "column": hunyin::KIND, "map": {"结婚": "20", "离婚": "40"}}},
                {"attribute": attr::SEX, "value": {"from": "const", "value": "1"}}],
             "events": [{"event": "婚姻登记", "date": hunyin::DATE, "detail": {"from": "column", "column": hunyin::KIND}}],
             "relations": [{"relation": "配偶", "target": {"to": "role", "role": "女方"}, "since": hunyin::DATE}]},
            {"resource": code(hunyin::DATASET.resource)?, "role": "女方", "subject": "person",
             "key": hunyin::WIFE_ID, "name": hunyin::WIFE_NAME, "at": hunyin::DATE,
             "attributes": [
                {"attribute": attr::NAME, "value": {"from": "column", "column": hunyin::WIFE_NAME}},
                {"attribute": attr::MARITAL, "value": {"from": "map", "column": hunyin::KIND, "map": {"结婚": "20", "离婚": "40"}}},
                {"attribute": attr::SEX, "value": {"from": "const", "value": "2"}}],
             "events": [{"event": "婚姻登记", "date": hunyin::DATE, "detail": {"from": "column", "column": hunyin::KIND}}],
             "relations": [{"relation": "配偶", "target": {"to": "role", "role": "男方"}, "since": hunyin::DATE}]},
            {"resource": code(siwang::DATASET.resource)?, "role": "本人", "subject": "person",
             "key": siwang::ID, "name": siwang::NAME, "at": siwang::DATE,
             "attributes": [
                {"attribute": attr::NAME, "value": {"from": "column", "column": siwang::NAME}},
                {"attribute": attr::DEATH, "value": {"from": "column", "column": siwang::DATE}},
                {"attribute": attr::HOUSEHOLD_STATUS, "value": {"from": "const", "value": "注销"}}],
             "events": [{"event": "死亡", "date": siwang::DATE}]},
            {"resource": code(dibao::DATASET.resource)?, "role": "本人", "subject": "person",
             "key": dibao::ID, "name": dibao::NAME, "at": dibao::UPDATED,
             "attributes": [{"attribute": attr::DIBAO, "value": {"from": "column", "column": dibao::STATUS}}],
             "events": [{"event": "低保", "date": dibao::UPDATED, "detail": {"from": "column", "column": dibao::STATUS}}]},
            {"resource": code(canbao::DATASET.resource)?, "role": "本人", "subject": "person",
             "key": canbao::ID, "name": canbao::NAME, "at": canbao::UPDATED,
             "attributes": [
                {"attribute": attr::NAME, "value": {"from": "column", "column": canbao::NAME}},
                {"attribute": attr::INSURANCE, "value": {"from": "column", "column": canbao::STATUS}}],
             "events": [{"event": "参保", "date": canbao::SINCE, "detail": {"from": "column", "column": canbao::SCHEME}}],
             "relations": [{"relation": "参保单位", "target": {"to": "key", "kind": "entity", "column": canbao::EMPLOYER_CODE}, "since": canbao::SINCE}]},
            {"resource": code(weijian::DATASET.resource)?, "role": "子女", "subject": "person",
             "key": weijian::CHILD_ID, "name": weijian::CHILD_NAME, "birth": weijian::BIRTH_DATE,
             "when": {"column": weijian::TYPE, "equals": weijian::BIRTH_EVENT},
             "attributes": [
                {"attribute": attr::NAME, "value": {"from": "column", "column": weijian::CHILD_NAME}},
                {"attribute": attr::BIRTH, "value": {"from": "column", "column": weijian::BIRTH_DATE}}],
             "events": [{"event": "出生", "date": weijian::BIRTH_DATE}],
             "relations": [{"relation": "母亲", "target": {"to": "role", "role": "母亲"}, "since": weijian::BIRTH_DATE}]},
            {"resource": code(weijian::DATASET.resource)?, "role": "母亲", "subject": "person",
             "key": weijian::MOTHER_ID, "when": {"column": weijian::TYPE, "equals": weijian::BIRTH_EVENT},
             "relations": [{"relation": "子女", "target": {"to": "role", "role": "子女"}, "since": weijian::BIRTH_DATE}]},
            {"resource": code(weijian::DATASET.resource)?, "role": "接种者", "subject": "person",
             "key": weijian::PERSON_ID, "when": {"column": weijian::TYPE, "equals": weijian::VACCINATION_EVENT},
             "events": [{"event": "预防接种", "date": weijian::DATE, "detail": {"from": "column", "column": weijian::VACCINE}}]},
            {"resource": code(gongjijin::DATASET.resource)?, "role": "本人", "subject": "person",
             "key": gongjijin::ID, "name": gongjijin::NAME,
             "attributes": [
                {"attribute": attr::NAME, "value": {"from": "column", "column": gongjijin::NAME}},
                {"attribute": attr::HOUSING_FUND, "value": {"from": "column", "column": gongjijin::STATUS}}],
             "events": [{"event": "公积金开户", "date": gongjijin::OPENED, "detail": {"from": "column", "column": gongjijin::EMPLOYER}}]},
            {"resource": code(fangwu::DATASET.resource)?, "role": "产权人", "subject": "person",
             "key": fangwu::OWNER_ID, "name": fangwu::OWNER_NAME,
             "attributes": [{"attribute": attr::NAME, "value": {"from": "column", "column": fangwu::OWNER_NAME}}],
             "events": [{"event": "房屋产权登记", "date": fangwu::REGISTERED, "detail": {"from": "column", "column": fangwu::LOCATION}}],
             "relations": [{"relation": "产权人", "target": {"to": "key", "kind": "house", "column": fangwu::CODE}, "since": fangwu::REGISTERED}]},
            {"resource": code(fangwu::DATASET.resource)?, "role": "房屋", "subject": "house",
             "key": fangwu::CODE, "at": fangwu::REGISTERED,
             "attributes": [
                {"attribute": fangwu::LOCATION, "value": {"from": "column", "column": fangwu::LOCATION}},
                {"attribute": fangwu::AREA, "value": {"from": "column", "column": fangwu::AREA}},
                {"attribute": fangwu::OWNER_ID, "value": {"from": "column", "column": fangwu::OWNER_ID}},
                {"attribute": fangwu::REGISTERED, "value": {"from": "column", "column": fangwu::REGISTERED}}],
             "events": [{"event": "产权登记", "date": fangwu::REGISTERED}]},
            {"resource": code(qiye::DATASET.resource)?, "role": "企业", "subject": "entity",
             "key": qiye::CODE,
             "attributes": [
                {"attribute": qiye::NAME, "value": {"from": "column", "column": qiye::NAME}},
                {"attribute": qiye::LEGAL_REP, "value": {"from": "column", "column": qiye::LEGAL_REP}},
                {"attribute": qiye::CAPITAL, "value": {"from": "column", "column": qiye::CAPITAL}},
                {"attribute": qiye::FOUNDED, "value": {"from": "column", "column": qiye::FOUNDED}},
                {"attribute": qiye::SEAT, "value": {"from": "column", "column": qiye::SEAT}},
                {"attribute": qiye::STATUS, "value": {"from": "column", "column": qiye::STATUS}},
                {"attribute": qiye::DIVISION, "value": {"from": "column", "column": qiye::DIVISION}}],
             "events": [{"event": "企业成立", "date": qiye::FOUNDED}]},
            {"resource": code(qiye::DATASET.resource)?, "role": "法定代表人", "subject": "person",
             "key": qiye::LEGAL_REP_ID, "name": qiye::LEGAL_REP,
             "attributes": [{"attribute": attr::NAME, "value": {"from": "column", "column": qiye::LEGAL_REP}}],
             "relations": [{"relation": "法定代表人", "target": {"to": "key", "kind": "entity", "column": qiye::CODE}, "since": qiye::FOUNDED}]}
        ]
    });
    let mut plan: Plan = serde_json::from_value(v)?;
    plan.after_death = vec![yishu_fusion::plan::AfterDeath {
        relation: "配偶".into(),
        attribute: attr::MARITAL.into(),
        from: "20".into(),
        to: "30".into(),
        death: attr::DEATH.into(),
    }];
    let all_checkers = ["CD-MZ", "CD-RS", "CD-GJJ", "CD-WJ", "CD-ZJ", "CD-SJ"];
    plan.person = vec![
        AttributeRule {
            core: true,
            ..AttributeRule::new(attr::NAME, Some("CD-GA"), &all_checkers, Fallback::Latest)
        },
        AttributeRule {
            core: true,
            ..AttributeRule::new(attr::SEX, Some("CD-GA"), &["CD-MZ"], Fallback::Majority)
        },
        AttributeRule {
            core: true,
            ..AttributeRule::new(attr::BIRTH, Some("CD-GA"), &["CD-WJ"], Fallback::Earliest)
        },
        AttributeRule::new(attr::ETHNICITY, Some("CD-GA"), &[], Fallback::Latest),
        AttributeRule::new(attr::ADDRESS, Some("CD-GA"), &[], Fallback::Latest),
        AttributeRule::new(attr::DIVISION, Some("CD-GA"), &[], Fallback::Latest),
        AttributeRule::new(attr::MARITAL, Some("CD-MZ"), &["CD-GA"], Fallback::Latest),
        AttributeRule::new(
            attr::HOUSEHOLD_STATUS,
            Some("CD-GA"),
            &["CD-MZ"],
            Fallback::Latest,
        ),
        AttributeRule::new(attr::DEATH, None, &[], Fallback::Earliest),
        AttributeRule::new(attr::INSURANCE, Some("CD-RS"), &[], Fallback::Latest),
        AttributeRule::new(attr::HOUSING_FUND, Some("CD-GJJ"), &[], Fallback::Latest),
        AttributeRule::new(attr::DIBAO, Some("CD-MZ"), &[], Fallback::Latest),
    ];
    plan.tags = serde_json::from_value(json!([
        {"tag": "老年人", "description": "60 岁及以上且在世",
         "all": [{"if": "age_at_least", "attribute": attr::BIRTH, "years": 60},
                 {"if": "missing", "attribute": attr::DEATH}]},
        {"tag": "独居老人", "description": "60 岁及以上、在世，未婚、丧偶或离婚（无在世配偶）",
         "all": [{"if": "age_at_least", "attribute": attr::BIRTH, "years": 60},
                 {"if": "missing", "attribute": attr::DEATH},
                 {"if": "one_of", "attribute": attr::MARITAL, "values": ["10", "30", "40"]}]},
        {"tag": "失业人员", "description": "养老保险暂停、中断或终止缴费且在世",
         "all": [{"if": "one_of", "attribute": attr::INSURANCE, "values": ["暂停缴费", "中断缴费", "终止缴费"]},
                 {"if": "missing", "attribute": attr::DEATH}]},
        {"tag": "新生儿家庭", "description": "三年内有子女出生（卫健出生医学证明）",
         "all": [{"if": "related", "relation": "子女", "within_days": 1095}]},
        {"tag": "低保对象", "description": "民政最低生活保障在保",
         "all": [{"if": "equals", "attribute": attr::DIBAO, "value": "在保"}]}
    ]))?;
    plan.house = [
        fangwu::LOCATION,
        fangwu::AREA,
        fangwu::OWNER_ID,
        fangwu::REGISTERED,
    ]
    .iter()
    .map(|a| AttributeRule::new(a, Some("CD-ZJ"), &[], Fallback::Latest))
    .collect();
    plan.entity = [
        qiye::NAME,
        qiye::LEGAL_REP,
        qiye::CAPITAL,
        qiye::FOUNDED,
        qiye::SEAT,
        qiye::STATUS,
        qiye::DIVISION,
    ]
    .iter()
    .map(|a| AttributeRule::new(a, Some("CD-SJ"), &[], Fallback::Latest))
    .collect();
    Ok(plan)
}
