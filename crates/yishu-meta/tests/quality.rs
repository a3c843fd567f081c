//! Standards and quality metadata against SQLite and PostgreSQL alike: data element versions, code
//! tables, rules under dual review, results, work orders and scores.

mod common;
use common::{draft, world};
use serde_json::json;
use yishu_meta::Store;
use yishu_meta::catalog::Actor;
use yishu_meta::quality::*;
use yishu_meta::workorder::{Failure, OrderStatus};
use yishu_types::{ErrorCode, Role};

yishu_meta::both_backends!(
    data_elements_are_versioned,
    code_tables_refuse_duplicates,
    rules_take_effect_after_two_approvals,
    work_orders_follow_the_checks
);

fn element(name: &str) -> NewDataElement {
    NewDataElement {
        identifier: "DE00001".into(),
        name: name.into(),
        definition: "公民身份号码".into(),
        data_type: "C".into(),
        length: Some(18),
        format: "an18".into(),
        domain: json!({"validator": "citizen_id"}),
        unit: String::new(),
        security_level: "三级".into(),
        source_standard: "GB 11643-1999".into(),
    }
}

async fn data_elements_are_versioned(s: &Store) {
    let v1 = s
        .put_data_element(&element("公民身份号码"), None)
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    let same = s
        .put_data_element(&element("公民身份号码"), None)
        .await
        .unwrap();
    assert_eq!(same.version, 1, "saving unchanged keeps the version");
    let v2 = s
        .put_data_element(&element("居民身份证号码"), None)
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(
        s.data_element("DE00001", None).await.unwrap().name,
        "居民身份证号码"
    );
    assert_eq!(
        s.data_element("DE00001", Some(1)).await.unwrap().name,
        "公民身份号码"
    );
    assert_eq!(s.data_element_versions("DE00001").await.unwrap().len(), 2);
    assert_eq!(s.data_elements().await.unwrap().len(), 1);
    let mut bad = element("x");
    bad.data_type = "Q".into();
    let e = s.put_data_element(&bad, None).await.unwrap_err();
    assert!(e.message.contains("data_type"), "{}", e.message);
    let e = s.data_element("NOPE", None).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::QualityNotFound);
}

async fn code_tables_refuse_duplicates(s: &Store) {
    let entry = |c: &str, n: &str| LocalCodeEntry {
        code: c.into(),
        name: n.into(),
        national: None,
    };
    let mut t = LocalCodeTable {
        id: "ga_sex".into(),
        name: "公安性别代码".into(),
        source: "公安局".into(),
        org_id: None,
        national: "sex".into(),
        entries: vec![entry("M", "男"), entry("F", "女"), entry("M", "男性")],
        version: 0,
        created_at: 0,
    };
    let e = s.put_code_table(&t).await.unwrap_err();
    assert!(e.message.contains("duplicate codes: M"), "{}", e.message);
    t.entries.pop();
    assert_eq!(s.put_code_table(&t).await.unwrap().version, 1);
    assert_eq!(s.put_code_table(&t).await.unwrap().version, 2);
    t.id = "sex".into();
    let e = s.put_code_table(&t).await.unwrap_err();
    assert!(e.message.contains("national code table"), "{}", e.message);
    assert_eq!(s.code_tables().await.unwrap().len(), 1);
}

fn body(column: &str) -> RuleBody {
    RuleBody {
        definition: json!({"kind": "not_null", "column": column}),
        dimension: "completeness".into(),
        importance: "high".into(),
        severity: "medium".into(),
        action: String::new(),
    }
}

async fn rules_take_effect_after_two_approvals(s: &Store) {
    let w = world(s).await;
    let officer = Actor {
        user: w.officer,
        org: w.ga,
        roles: &[Role::ProviderOfficer],
    };
    let manager = Actor {
        user: w.manager,
        org: w.bureau,
        roles: &[Role::DataManager],
    };
    let outsider = Actor {
        user: w.bureau_officer,
        org: w.bureau,
        roles: &[Role::ProviderOfficer],
    };
    let r = s.create_resource(&draft(w.ga), &officer).await.unwrap();
    let new = NewRule {
        resource_id: r.id,
        name: "姓名不能为空".into(),
        business_rule: "人口基本信息规则".into(),
        purpose: RulePurpose::Check,
        body: body("姓名"),
    };
    let e = s.create_rule(&new, &outsider).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    let v = s.create_rule(&new, &officer).await.unwrap();
    let id = v.rule.id;
    assert!(v.active.is_none());
    assert_eq!(v.pending.as_ref().unwrap().version, 1);
    assert!(
        s.active_rules(r.id, RulePurpose::Check)
            .await
            .unwrap()
            .is_empty()
    );

    // The wrong people cannot approve; one approval is not enough.
    let e = s
        .approve_rule(id, 1, ReviewSide::Business, &outsider)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    let e = s
        .approve_rule(id, 1, ReviewSide::Technical, &officer)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    s.approve_rule(id, 1, ReviewSide::Business, &officer)
        .await
        .unwrap();
    assert!(
        s.active_rules(r.id, RulePurpose::Check)
            .await
            .unwrap()
            .is_empty()
    );
    // One person holding both roles still gives only one side.
    let both = Actor {
        user: w.officer,
        org: w.ga,
        roles: &[Role::ProviderOfficer, Role::DataManager],
    };
    let e = s
        .approve_rule(id, 1, ReviewSide::Technical, &both)
        .await
        .unwrap_err();
    assert!(e.message.contains("two different people"), "{}", e.message);
    let v = s
        .approve_rule(id, 1, ReviewSide::Technical, &manager)
        .await
        .unwrap();
    assert_eq!(v.active.as_ref().unwrap().version, 1);
    let active = s.active_rules(r.id, RulePurpose::Check).await.unwrap();
    assert_eq!(active.len(), 1);

    // A change is a new version; version 1 stays in effect until version 2 is approved.
    let v = s
        .revise_rule(id, &body("公民身份号码"), &officer)
        .await
        .unwrap();
    assert_eq!(v.pending.as_ref().unwrap().version, 2);
    assert_eq!(v.active.as_ref().unwrap().version, 1);
    let e = s.reject_rule(id, 2, " ", &manager).await.unwrap_err();
    assert!(e.message.contains("why"), "{}", e.message);
    let v = s.reject_rule(id, 2, "列选错了", &manager).await.unwrap();
    assert!(v.pending.is_none());
    s.revise_rule(id, &body("公民身份号码"), &officer)
        .await
        .unwrap();
    s.approve_rule(id, 3, ReviewSide::Technical, &manager)
        .await
        .unwrap();
    let v = s
        .approve_rule(id, 3, ReviewSide::Business, &officer)
        .await
        .unwrap();
    assert_eq!(v.active.as_ref().unwrap().version, 3);
    let versions = s.rule_versions(id).await.unwrap();
    let status: Vec<_> = versions.iter().map(|v| (v.version, v.status)).collect();
    assert_eq!(
        status,
        vec![
            (3, RuleStatus::Active),
            (2, RuleStatus::Rejected),
            (1, RuleStatus::Superseded)
        ]
    );
    let e = s
        .approve_rule(id, 3, ReviewSide::Business, &officer)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::EditConflict);
    s.retire_rule(id, &officer).await.unwrap();
    assert!(
        s.active_rules(r.id, RulePurpose::Check)
            .await
            .unwrap()
            .is_empty()
    );

    // Suggestions a person discarded are remembered.
    let def = json!({"kind": "not_null", "column": "姓名"});
    s.discard_suggestion(r.id, &def, w.officer).await.unwrap();
    s.discard_suggestion(r.id, &def, w.officer).await.unwrap();
    assert_eq!(s.discarded_suggestions(r.id).await.unwrap(), vec![def]);
}

async fn work_orders_follow_the_checks(s: &Store) {
    let w = world(s).await;
    let officer = Actor {
        user: w.officer,
        org: w.ga,
        roles: &[Role::ProviderOfficer],
    };
    let outsider = Actor {
        user: w.bureau_officer,
        org: w.bureau,
        roles: &[Role::ProviderOfficer],
    };
    let r = s.create_resource(&draft(w.ga), &officer).await.unwrap();
    let rule = s
        .create_rule(
            &NewRule {
                resource_id: r.id,
                name: "姓名不能为空".into(),
                business_rule: String::new(),
                purpose: RulePurpose::Check,
                body: body("姓名"),
            },
            &officer,
        )
        .await
        .unwrap()
        .rule
        .id;
    let fail = |batch: &'static str, failed: i64| Failure {
        kind: "quality",
        resource_id: r.id,
        rule_id: rule,
        org_id: w.ga,
        title: "户籍人口信息：姓名不能为空",
        batch_id: batch,
        failed,
        evidence: json!({"samples": [{"row": "a.csv:3"}]}),
        sla_days: 3,
    };
    let o = s.report_failure(&fail("b1", 5)).await.unwrap();
    assert_eq!(o.status, OrderStatus::Open);
    assert!(!o.overdue);
    assert!(o.due_at - o.opened_at >= 3 * 86_400_000);
    // The next failing batch updates the same order.
    let o2 = s.report_failure(&fail("b2", 2)).await.unwrap();
    assert_eq!(o2.id, o.id);
    assert_eq!(
        (o2.failed, o2.first_batch.as_str(), o2.last_batch.as_str()),
        (2, "b1", "b2")
    );
    let e = s
        .advance_order(o.id, OrderStatus::Acknowledged, "", &outsider)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    s.advance_order(o.id, OrderStatus::Acknowledged, "已签收", &officer)
        .await
        .unwrap();
    let e = s
        .advance_order(o.id, OrderStatus::Closed, "", &officer)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::EditConflict);
    s.advance_order(o.id, OrderStatus::Fixed, "已补录姓名", &officer)
        .await
        .unwrap();
    // Still failing: back to open. Then a passing batch closes it.
    let o3 = s.report_failure(&fail("b3", 1)).await.unwrap();
    assert_eq!(o3.status, OrderStatus::Open);
    let closed = s
        .report_pass("quality", r.id, rule, "b4")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed.status, OrderStatus::Closed);
    assert!(
        s.report_pass("quality", r.id, rule, "b5")
            .await
            .unwrap()
            .is_none()
    );
    let events: Vec<String> = s
        .order_events(o.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        events,
        vec![
            "opened",
            "updated",
            "acknowledged",
            "fixed",
            "reopened",
            "verified"
        ]
    );
    // A new failure after closing opens a new order.
    let o4 = s.report_failure(&fail("b6", 1)).await.unwrap();
    assert_ne!(o4.id, o.id);
    assert_eq!(s.work_orders(Some(w.ga), true).await.unwrap().len(), 1);
    assert_eq!(s.work_orders(None, false).await.unwrap().len(), 2);
    assert!(
        s.work_orders(Some(w.bureau), false)
            .await
            .unwrap()
            .is_empty()
    );
}
