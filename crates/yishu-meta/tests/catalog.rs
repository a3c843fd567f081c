//! The catalog lifecycle against SQLite and PostgreSQL alike.

use yishu_meta::Store;
use yishu_meta::catalog::*;
use yishu_types::{ErrorCode, Role};

mod common;
use common::{draft, world};

yishu_meta::both_backends!(
    lifecycle_and_versions,
    validation_and_rights,
    usage_counts,
    duty_list
);

/// A change to a valid draft that must make it invalid.
type Mutation = Box<dyn Fn(&mut ResourceDraft)>;

async fn lifecycle_and_versions(s: &Store) {
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
    let r = s.create_resource(&draft(w.ga), &officer).await.unwrap();
    assert_eq!(r.code, "301001001/000001");
    assert_eq!(r.status, ResourceStatus::Draft);
    assert_eq!(r.meta.items.len(), 2);
    let r2 = s.create_resource(&draft(w.ga), &officer).await.unwrap();
    assert_eq!(r2.code, "301001001/000002", "sequence grows per 前段码");

    // Review before submission is refused; submission, rejection with a reason, resubmission.
    assert_eq!(
        s.review_resource(r.id, true, "", &manager)
            .await
            .unwrap_err()
            .code,
        ErrorCode::InvalidInput
    );
    s.submit_resource(r.id, &officer).await.unwrap();
    assert_eq!(
        s.review_resource(r.id, false, "  ", &manager)
            .await
            .unwrap_err()
            .code,
        ErrorCode::InvalidInput
    );
    let rej = s
        .review_resource(r.id, false, "摘要过于简略", &manager)
        .await
        .unwrap();
    assert_eq!(
        (rej.status, rej.review_note.as_str()),
        (ResourceStatus::Rejected, "摘要过于简略")
    );
    let mut d = draft(w.ga);
    d.summary = "公安局登记的户籍人口基本信息，含身份号码、姓名、出生日期".into();
    let edited = s
        .update_resource(r.id, &d, rej.version, &officer)
        .await
        .unwrap();
    s.submit_resource(r.id, &officer).await.unwrap();
    let ok = s.review_resource(r.id, true, "", &manager).await.unwrap();
    assert_eq!(ok.status, ResourceStatus::Approved);
    let p = s.publish_resource(r.id, &manager).await.unwrap();
    assert_eq!(p.status, ResourceStatus::Published);
    assert!(p.published_at.is_some());
    // A stale edit conflicts.
    assert_eq!(
        s.update_resource(r.id, &d, edited.version, &officer)
            .await
            .unwrap_err()
            .code,
        ErrorCode::EditConflict
    );
    // Updating a published resource records a new version with a readable diff.
    d.update_cycle = UpdateCycle::Realtime;
    d.items.push(Item {
        name: "出生日期".into(),
        item_type: "D".into(),
        length: None,
        data_element: None,
        description: String::new(),
    });
    d.items[1].length = Some(100);
    // Items change only after review: the published version stays in force meanwhile.
    let u = s
        .update_resource(r.id, &d, p.version, &officer)
        .await
        .unwrap();
    assert_eq!((u.version, u.meta.items.len()), (p.version, 2));
    let pending = s
        .pending_change(r.id)
        .await
        .unwrap()
        .expect("a pending change");
    assert_eq!(pending.draft.items.len(), 3);
    assert_eq!(
        s.decide_change(pending.id, true, "", &officer)
            .await
            .unwrap_err()
            .code,
        ErrorCode::Forbidden
    );
    assert!(
        s.decide_change(pending.id, false, " ", &manager)
            .await
            .is_err()
    );
    let u = s
        .decide_change(pending.id, true, "", &manager)
        .await
        .unwrap();
    assert_eq!(u.status, ResourceStatus::Published);
    assert_eq!(u.meta.items.len(), 3);
    assert!(s.pending_change(r.id).await.unwrap().is_none());
    let versions = s.resource_versions(r.id).await.unwrap();
    assert_eq!(versions.len(), 2);
    let changes = diff(&versions[0].2, &versions[1].2);
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        vec!["update_cycle", "items.姓名", "items.出生日期"],
        "{changes:?}"
    );
    // Retire needs a reason.
    assert_eq!(
        s.retire_resource(r.id, "", &manager)
            .await
            .unwrap_err()
            .code,
        ErrorCode::InvalidInput
    );
    let gone = s
        .retire_resource(r.id, "由人口综合库替代", &manager)
        .await
        .unwrap();
    assert_eq!(gone.status, ResourceStatus::Retired);
    assert_eq!(s.resource_versions(r.id).await.unwrap().len(), 3);
    let page = s
        .list_resources(Some(ResourceStatus::Draft), Some(w.ga), 10, 0)
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].code, "301001001/000002");
    assert_eq!(
        s.get_resource(9999).await.unwrap_err().code,
        ErrorCode::ResourceNotFound
    );
}

async fn validation_and_rights(s: &Store) {
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
    let bofficer = Actor {
        user: w.bureau_officer,
        org: w.bureau,
        roles: &[Role::ProviderOfficer],
    };
    // Another department's officer cannot catalogue for 公安.
    assert_eq!(
        s.create_resource(&draft(w.ga), &bofficer)
            .await
            .unwrap_err()
            .code,
        ErrorCode::Forbidden
    );
    let cases: Vec<(Mutation, &str)> = vec![
        (Box::new(|d| d.share_condition.clear()), "share_condition"),
        (Box::new(|d| d.class_path = "01A01001".into()), "class_path"),
        (Box::new(|d| d.items.clear()), "items"),
        (
            Box::new(|d| d.items[1].name = "公民身份号码".into()),
            "items[1].name",
        ),
        (
            Box::new(|d| d.items[0].item_type = "X".into()),
            "items[0].item_type",
        ),
        (Box::new(|d| d.items[0].length = Some(0)), "items[0].length"),
        (
            Box::new(|d| d.related_codes = vec!["abc".into()]),
            "related_codes",
        ),
        (Box::new(|d| d.name = " ".into()), "name"),
        (
            Box::new(|d| {
                d.open_type = OpenType::Conditional;
            }),
            "open_condition",
        ),
    ];
    for (f, field) in cases {
        let mut d = draft(w.ga);
        f(&mut d);
        let e = s.create_resource(&d, &officer).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput, "{field}");
        assert!(e.message.starts_with(field), "{field}: {}", e.message);
    }
    // The bureau's own resource cannot be approved by the bureau's data manager.
    let own = s
        .create_resource(&draft(w.bureau), &bofficer)
        .await
        .unwrap();
    s.submit_resource(own.id, &bofficer).await.unwrap();
    assert_eq!(
        s.review_resource(own.id, true, "", &manager)
            .await
            .unwrap_err()
            .code,
        ErrorCode::Forbidden
    );
    // An officer cannot review or publish.
    let r = s.create_resource(&draft(w.ga), &officer).await.unwrap();
    s.submit_resource(r.id, &officer).await.unwrap();
    assert_eq!(
        s.review_resource(r.id, true, "", &officer)
            .await
            .unwrap_err()
            .code,
        ErrorCode::Forbidden
    );
    assert_eq!(
        s.publish_resource(r.id, &manager).await.unwrap_err().code,
        ErrorCode::InvalidInput
    );
    assert!(check_code("301001001/000001").is_ok());
    assert!(check_code("401001001/000001").is_err());
}

async fn usage_counts(s: &Store) {
    let w = world(s).await;
    let officer = Actor {
        user: w.officer,
        org: w.ga,
        roles: &[Role::ProviderOfficer],
    };
    let a = s.create_resource(&draft(w.ga), &officer).await.unwrap();
    let b = s.create_resource(&draft(w.ga), &officer).await.unwrap();
    assert_eq!(
        s.resource_stats(a.id).await.unwrap(),
        yishu_meta::ResourceStats::default()
    );
    s.count_use(yishu_meta::Counter::Views, &[a.id])
        .await
        .unwrap();
    s.count_use(yishu_meta::Counter::Views, &[a.id])
        .await
        .unwrap();
    s.count_use(yishu_meta::Counter::SearchHits, &[a.id, b.id])
        .await
        .unwrap();
    s.count_use(yishu_meta::Counter::Calls, &[]).await.unwrap();
    let sa = s.resource_stats(a.id).await.unwrap();
    assert_eq!(
        (sa.views, sa.search_hits, sa.applications, sa.calls),
        (2, 1, 0, 0)
    );
    let sb = s.resource_stats(b.id).await.unwrap();
    assert_eq!((sb.views, sb.search_hits), (0, 1));
}

async fn duty_list(s: &Store) {
    let w = world(s).await;
    let officer = Actor {
        user: w.officer,
        org: w.ga,
        roles: &[Role::ProviderOfficer],
    };
    let r = s.create_resource(&draft(w.ga), &officer).await.unwrap();
    let m = s
        .create_matter("510100-GA-XK-001", "户口迁移登记", w.ga, "行政确认")
        .await
        .unwrap();
    let e = s
        .create_matter("510100-GA-XK-001", "重复", w.ga, "")
        .await
        .unwrap_err();
    assert!(e.message.contains("exists"), "{}", e.message);
    s.link_matter(m.id, r.id, &["公民身份号码".into(), "姓名".into()])
        .await
        .unwrap();
    let e = s
        .link_matter(m.id, r.id, &["血型".into()])
        .await
        .unwrap_err();
    assert!(e.message.contains("'血型' is not an item"), "{}", e.message);
    let p = s.matter_produces(m.id).await.unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].code, r.code);
    assert_eq!(p[0].items, vec!["公民身份号码", "姓名"]);
    let back = s.resource_matters(r.id).await.unwrap();
    assert_eq!(
        back.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        vec!["户口迁移登记"]
    );
}
