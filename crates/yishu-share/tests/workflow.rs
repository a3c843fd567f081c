//! Applications from filing to grant, on SQLite and PostgreSQL: unconditional items granted at
//! once, conditional ones through the provider and the bureau with terms, not-shared ones refused
//! with the catalog's reason, deadlines in working days, escalation of late steps, and the gate
//! honouring the grant (and its suspension) afterwards.

use std::collections::BTreeMap;
use yishu_lake::Lake;
use yishu_meta::catalog::{Actor, ResourceDraft, ShareType};
use yishu_meta::testing::text_draft;
use yishu_meta::{Principal, Store, now_ms};

mod common;
use common::{departments, person};
use yishu_share::application::{Apply, Decision, Workflow};
use yishu_share::calendar::Calendar;
use yishu_share::target::{Target, resolve};
use yishu_share::{Mask, ReadRequest, masker_for, plan};
use yishu_types::{ErrorCode, Role};

yishu_meta::both_backends!(from_application_to_grant);

const ITEMS: &[&str] = &[
    "姓名",
    "公民身份号码",
    "行政区划代码",
    "婚姻状况",
    "出生日期",
    "住址",
];

struct World {
    ga: Principal,
    rs: Principal,
    manager: Principal,
}

async fn world(s: &Store) -> World {
    let ids = departments(
        s,
        &[("GA", "公安局"), ("RS", "人社局"), ("DSJ", "大数据局")],
    )
    .await;
    World {
        manager: person(s, ids[2], "manager", Role::DataManager).await,
        ga: person(s, ids[0], "ga", Role::ProviderOfficer).await,
        rs: person(s, ids[1], "rs", Role::Consumer).await,
    }
}

/// A published entry of 公安 with the given share type.
async fn published(s: &Store, w: &World, name: &str, share: ShareType, condition: &str) -> i64 {
    let mut d: ResourceDraft = text_draft(name, w.ga.org_id, ITEMS);
    d.share_type = share;
    d.share_condition = condition.into();
    let officer = Actor {
        user: w.ga.user_id,
        org: w.ga.org_id,
        roles: &[Role::ProviderOfficer],
    };
    let manager = Actor {
        user: w.manager.user_id,
        org: w.manager.org_id,
        roles: &[Role::DataManager],
    };
    let r = s.create_resource(&d, &officer).await.unwrap();
    s.submit_resource(r.id, &officer).await.unwrap();
    s.review_resource(r.id, true, "", &manager).await.unwrap();
    s.publish_resource(r.id, &manager).await.unwrap().id
}

fn application(target: i64, items: &[&str]) -> Apply {
    let now = now_ms();
    Apply {
        target: format!("resource:{target}"),
        items: items.iter().map(|s| s.to_string()).collect(),
        purpose: "核定养老保险待遇".into(),
        legal_basis: "《社会保险法》第七十三条".into(),
        scenario: "养老金资格认证".into(),
        period_from: now,
        period_to: now + 365 * 86_400_000,
        expected_volume: "每日约 2 万次".into(),
        contact: "人社局信息中心 028-12345678".into(),
    }
}

async fn from_application_to_grant(s: &Store) {
    let w = world(s).await;
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let calendar = Calendar::default();
    let flow = Workflow {
        store: s,
        lake: &lake,
        calendar: &calendar,
        step_days: 5,
    };
    let now = now_ms();

    // Unconditional: granted at once, recorded step by step.
    let open = published(s, &w, "婚姻登记信息", ShareType::Unconditional, "").await;
    let a = flow
        .apply(&w.rs, &application(open, &["姓名", "婚姻状况"]), now)
        .await
        .unwrap();
    assert_eq!(a.status, "granted");
    let g = s.grant(a.grant_id.unwrap()).await.unwrap();
    assert_eq!(g.items, ["姓名", "婚姻状况"]);
    assert_eq!(g.consumer_org_id, w.rs.org_id);
    let steps: Vec<String> = s
        .steps(a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|st| format!("{}:{}", st.step, st.decision))
        .collect();
    assert_eq!(steps, ["apply:submitted", "auto:granted"]);

    // Not shared: refused with the catalog's reason.
    let never = published(s, &w, "在逃人员信息", ShareType::Never, "涉及国家秘密").await;
    let a = flow
        .apply(&w.rs, &application(never, &["姓名"]), now)
        .await
        .unwrap();
    assert_eq!(a.status, "refused");
    assert!(
        s.steps(a.id).await.unwrap()[1]
            .reason
            .contains("涉及国家秘密")
    );

    // Bad applications say what is wrong.
    let cond = published(s, &w, "人口基本信息", ShareType::Conditional, "凭依据申请").await;
    let e = flow
        .apply(&w.rs, &application(cond, &["姓名", "血型"]), now)
        .await
        .unwrap_err();
    assert!(e.message.contains("血型"), "{}", e.message);
    let mut no_purpose = application(cond, &["姓名"]);
    no_purpose.purpose = "  ".into();
    assert!(
        flow.apply(&w.rs, &no_purpose, now)
            .await
            .unwrap_err()
            .message
            .contains("purpose")
    );
    let e = flow
        .apply(&w.ga, &application(cond, &["姓名"]), now)
        .await
        .unwrap_err();
    assert!(e.message.contains("own"), "{}", e.message);

    // Conditional: due in five working days, the provider is told.
    let items = [
        "姓名",
        "公民身份号码",
        "行政区划代码",
        "婚姻状况",
        "出生日期",
    ];
    let a = flow
        .apply(&w.rs, &application(cond, &items), now)
        .await
        .unwrap();
    assert_eq!(a.status, "submitted");
    assert_eq!(a.step_deadline, Some(calendar.deadline(now, 5)));
    let told = s.notifications(w.ga.user_id, 10).await.unwrap();
    assert!(
        told.iter()
            .any(|n| n.kind == "application" && n.link.ends_with(&a.id.to_string()))
    );

    // Only the provider decides; its terms are checked against the resource.
    let approve = Decision {
        approve: true,
        reason: "符合共享条件".into(),
        row_filter: Some("行政区划代码 prefix '510107'".into()),
        masks: BTreeMap::from([("公民身份号码".to_string(), "token".to_string())]),
        per_minute: Some(120),
        rows_per_day: Some(50_000),
        expires_at: None,
    };
    let e = flow
        .provider_decide(&w.rs, a.id, &approve, now)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    let mut bad = approve.clone();
    bad.row_filter = Some("血型 = 'A'".into());
    let e = flow
        .provider_decide(&w.ga, a.id, &bad, now)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::FilterInvalid);
    let mut bad = approve.clone();
    bad.masks.insert("住址".into(), "keep".into());
    assert!(flow.provider_decide(&w.ga, a.id, &bad, now).await.is_err());
    let a = flow
        .provider_decide(&w.ga, a.id, &approve, now)
        .await
        .unwrap();
    assert_eq!(a.status, "provider_approved");
    assert!(
        s.notifications(w.manager.user_id, 10)
            .await
            .unwrap()
            .iter()
            .any(|n| n.kind == "application")
    );
    // A second decision loses.
    let e = flow
        .provider_decide(&w.ga, a.id, &approve, now)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::EditConflict);

    // The bureau confirms: the grant carries the provider's terms.
    let e = flow.bureau_decide(&w.ga, a.id, &approve).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    let a = flow
        .bureau_decide(
            &w.manager,
            a.id,
            &Decision {
                approve: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(a.status, "granted");
    let g = s.grant(a.grant_id.unwrap()).await.unwrap();
    assert_eq!(g.row_filter, "行政区划代码 prefix '510107'");
    assert_eq!(g.masks["公民身份号码"], "token");
    assert_eq!((g.per_minute, g.rows_per_day), (120, 50_000));

    // The gate reads through it: applied items only, the filter, the masks.
    let r = resolve(s, &lake, Target::Resource(cond)).await.unwrap();
    let p = plan(
        &w.rs,
        Some(&g),
        &r.source,
        &ReadRequest {
            limit: 10,
            ..Default::default()
        },
        now_ms(),
        masker_for(s, w.rs.org_id),
    )
    .unwrap();
    assert_eq!(p.items, items, "the applied items in the catalog's order");
    assert_eq!(p.masks["公民身份号码"], Mask::Token);
    assert_eq!(p.masks["姓名"], Mask::Partial, "the default for a name");
    assert_eq!(p.masks["婚姻状况"], Mask::Keep);
    let row = ITEMS
        .iter()
        .zip([
            "张小三",
            "510104199001011234",
            "510107",
            "20",
            "1990-01-01",
            "红星路1号",
        ])
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let shown = p.apply(&row).unwrap();
    assert_eq!(shown["姓名"], "张*三");
    assert_ne!(shown["公民身份号码"], "510104199001011234");
    let mut elsewhere = row.clone();
    elsewhere.insert("行政区划代码".into(), "510108".into());
    assert!(p.apply(&elsewhere).is_none());

    // Suspension stops every read at once; another department's reader never gets through.
    let g = s
        .set_grant_status(g.id, "suspended", "核查中")
        .await
        .unwrap();
    let e = plan(
        &w.rs,
        Some(&g),
        &r.source,
        &ReadRequest::default(),
        now_ms(),
        masker_for(s, w.rs.org_id),
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::GrantInactive);
    let e = plan(
        &w.ga,
        Some(&g),
        &r.source,
        &ReadRequest::default(),
        now_ms(),
        masker_for(s, w.ga.org_id),
    )
    .unwrap_err();
    assert_eq!(
        e.code,
        ErrorCode::GrantNotFound,
        "a grant is its consumer's alone"
    );

    // Rejection needs a reason; late steps are escalated to the bureau once.
    let b = flow
        .apply(&w.rs, &application(cond, &["姓名"]), now)
        .await
        .unwrap();
    let e = flow
        .provider_decide(&w.ga, b.id, &Decision::default(), now)
        .await
        .unwrap_err();
    assert!(e.message.contains("reason"));
    let late = now + 30 * 86_400_000;
    let escalated = flow.escalate_overdue(late).await.unwrap();
    assert_eq!(escalated.iter().map(|a| a.id).collect::<Vec<_>>(), [b.id]);
    assert!(escalated[0].escalated_at.is_some());
    assert!(flow.escalate_overdue(late).await.unwrap().is_empty());
    assert!(
        s.notifications(w.manager.user_id, 10)
            .await
            .unwrap()
            .iter()
            .any(|n| n.kind == "overdue")
    );
    let b = flow
        .provider_decide(
            &w.ga,
            b.id,
            &Decision {
                approve: false,
                reason: "用途与事项不符".into(),
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(b.status, "rejected");
}
