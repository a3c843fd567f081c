//! A data service's life on both metadata backends and a real Delta lake: defined in SQL by the
//! bureau, tested, reviewed by another data manager, published, called by a consumer through a
//! grant (masked, values bound, never spliced), versioned, deprecated and retired — each wrong
//! step refused in words.

use std::collections::HashMap;
use std::sync::Arc;
use yishu_lake::datafusion::arrow::array::{RecordBatch, StringArray};
use yishu_lake::datafusion::arrow::datatypes::{DataType, Field, Schema};
use yishu_lake::{Lake, Layer};
use yishu_meta::service::{Param, ParamKind, ServiceDraft, ServiceStatus};
use yishu_meta::share::NewGrant;
use yishu_meta::{Store, now_ms};
use yishu_share::gate::ReadRequest;
use yishu_share::service::{self, param::Given};
use yishu_share::{masker_for, plan};
use yishu_types::{ErrorCode, Role};

mod common;
use common::{departments, person};

yishu_meta::both_backends!(a_service_from_definition_to_retirement);

const PEOPLE: &[(&str, &str, &str)] = &[
    ("510107199001011234", "张小三", "20"),
    ("510107198502023456", "李四", "10"),
    ("510104197003035678", "欧阳明月", "30"),
];

async fn population(lake: &Lake, extra: usize) {
    let schema = Arc::new(Schema::new(
        ["公民身份号码", "姓名", "婚姻状况"]
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let mut ids: Vec<String> = PEOPLE.iter().map(|p| p.0.to_string()).collect();
    let mut names: Vec<String> = PEOPLE.iter().map(|p| p.1.to_string()).collect();
    let mut marks: Vec<String> = PEOPLE.iter().map(|p| p.2.to_string()).collect();
    for k in 0..extra {
        ids.push(format!("5101{k:014}"));
        names.push(format!("人{k}"));
        marks.push("10".into());
    }
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(ids)),
            Arc::new(StringArray::from(names)),
            Arc::new(StringArray::from(marks)),
        ],
    )
    .unwrap();
    lake.overwrite(Layer::Base, "population", vec![batch], HashMap::new())
        .await
        .unwrap();
}

fn id_param() -> Param {
    Param {
        example: Some("510107199001011234".into()),
        ..Param::citizen_number("id")
    }
}

fn marriage() -> ServiceDraft {
    ServiceDraft {
        name: "marriage-status".into(),
        title: "婚姻状况查询".into(),
        description: String::new(),
        sql: "SELECT 姓名, 婚姻状况 FROM base.population WHERE 公民身份号码 = :id".into(),
        params: vec![id_param()],
        steps: Vec::new(),
        row_cap: 1_000,
        timeout_ms: 1_000,
    }
}

fn asking(id: &str) -> Given {
    let mut g = Given::default();
    g.query.insert("id".into(), id.into());
    g
}

async fn a_service_from_definition_to_retirement(s: &Store) {
    let orgs = departments(s, &[("DSJ", "大数据局"), ("RSJ", "人社局")]).await;
    let (bureau, consumer) = (orgs[0], orgs[1]);
    s.set_bureau(bureau).await.unwrap();
    let author = person(s, bureau, "dm-author", Role::DataManager).await;
    let reviewer = person(s, bureau, "dm-reviewer", Role::DataManager).await;
    let officer = person(s, consumer, "rs-officer", Role::Consumer).await;
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    population(&lake, 0).await;

    // Defined: a draft whose result columns come from the table.
    let v1 = service::define(s, &lake, &author, &marriage())
        .await
        .unwrap();
    assert_eq!((v1.version, v1.status), (1, ServiceStatus::Draft));
    let outs: Vec<(&str, Option<&str>)> = v1
        .checked
        .outputs
        .iter()
        .map(|o| (o.name.as_str(), o.source.as_deref()))
        .collect();
    assert_eq!(
        outs,
        vec![
            ("姓名", Some("base.population.姓名")),
            ("婚姻状况", Some("base.population.婚姻状况"))
        ]
    );
    assert_eq!(v1.checked.tables, vec!["base.population"]);

    // A consumer cannot define over the bureau's library; a missing table, a bad name.
    let e = service::define(s, &lake, &officer, &marriage())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden, "{e}");
    let mut d = marriage();
    d.sql = "SELECT 姓名 FROM base.nothing WHERE 公民身份号码 = :id".into();
    let e = service::define(s, &lake, &author, &d).await.unwrap_err();
    assert!(e.message.contains("does not exist"), "{e}");
    let mut d = marriage();
    d.name = "Marriage Status".into();
    assert_eq!(
        service::define(s, &lake, &author, &d)
            .await
            .unwrap_err()
            .code,
        ErrorCode::ServiceInvalid
    );
    let mut d = marriage();
    d.sql = "SELECT a.姓名, b.姓名 FROM base.population a JOIN base.population b ON a.公民身份号码 = b.公民身份号码 WHERE a.公民身份号码 = :id".into();
    let e = service::define(s, &lake, &author, &d).await.unwrap_err();
    assert!(e.message.contains("two columns named 姓名"), "{e}");

    // No review and no publishing before a test run.
    let e = service::review(s, &reviewer, v1.id, true, "")
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::EditConflict, "{e}");
    let e = service::publish(s, &author, v1.id).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::EditConflict, "{e}");

    // The author's test run: the bureau's own standing, in clear.
    let (v1, answer) = service::test(s, &lake, &author, v1.id, &asking(PEOPLE[0].0))
        .await
        .unwrap();
    assert_eq!(
        answer.rows,
        vec![vec!["张小三".to_string(), "20".to_string()]]
    );
    assert_eq!((v1.status, v1.test_rows), (ServiceStatus::Tested, Some(1)));
    let e = service::test(s, &lake, &author, v1.id, &asking("5101"))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ParamInvalid);

    // Four eyes: not the author; a rejection says why and sends it back to draft.
    let e = service::review(s, &author, v1.id, true, "")
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert_eq!(
        service::review(s, &reviewer, v1.id, false, " ")
            .await
            .unwrap_err()
            .code,
        ErrorCode::InvalidInput
    );
    let back = service::review(s, &reviewer, v1.id, false, "说明用途")
        .await
        .unwrap();
    assert_eq!(back.status, ServiceStatus::Draft);
    service::test(s, &lake, &author, v1.id, &asking(PEOPLE[1].0))
        .await
        .unwrap();
    service::review(s, &reviewer, v1.id, true, "同意")
        .await
        .unwrap();
    let v1 = service::publish(s, &author, v1.id).await.unwrap();
    assert_eq!(v1.status, ServiceStatus::Published);
    assert_eq!(v1.path(), "/api/v1/services/marriage-status/v1");
    let e = service::edit(s, &lake, &author, v1.id, &marriage())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::EditConflict);

    // A consumer without a grant is refused by the gate.
    let now = now_ms();
    let served = service::serving(s, "marriage-status", 1, now)
        .await
        .unwrap();
    let source = service::source_of(&served);
    let req = ReadRequest {
        limit: 1_000,
        ..Default::default()
    };
    let e = plan(&officer, None, &source, &req, now, masker_for(s, consumer)).unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);

    // Through a grant: only the granted items, masked as granted.
    let g = s
        .create_grant(&NewGrant {
            application_id: None,
            consumer_org_id: consumer,
            provider_org_id: bureau,
            target: served.target(),
            resource_id: None,
            items: vec!["姓名".into(), "婚姻状况".into()],
            row_filter: String::new(),
            masks: [("姓名".to_string(), "partial".to_string())].into(),
            per_minute: 600,
            rows_per_day: 10_000,
            purpose: "低保审核".into(),
            expires_at: now + 86_400_000,
            created_by: Some(reviewer.user_id),
        })
        .await
        .unwrap();
    let p = plan(
        &officer,
        Some(&g),
        &source,
        &req,
        now,
        masker_for(s, consumer),
    )
    .unwrap();
    let bound = service::param::bind(&served.draft.params, &asking(PEOPLE[2].0)).unwrap();
    let a = service::run(&lake, &served, &bound, &p).await.unwrap();
    assert_eq!(a.items, vec!["姓名", "婚姻状况"]);
    assert_eq!(a.rows.len(), 1);
    assert_ne!(a.rows[0][0], "欧阳明月", "a masked name came out in clear");
    assert!(a.rows[0][0].starts_with('欧'), "{:?}", a.rows);
    assert_eq!(a.rows[0][1], "30");

    // A value is bound, never spliced: an injection attempt through a looser parameter
    // matches nothing instead of everything.
    let mut d = marriage();
    d.name = "by-name".into();
    d.sql = "SELECT 公民身份号码 FROM base.population WHERE 姓名 = :name".into();
    d.params = vec![Param {
        name: "name".into(),
        kind: ParamKind::String {
            min_len: 1,
            max_len: 40,
            pattern: None,
        },
        example: None,
        ..id_param()
    }];
    let loose = service::define(s, &lake, &author, &d).await.unwrap();
    let mut g2 = Given::default();
    g2.query.insert("name".into(), "x' OR '1'='1".into());
    let (_, a) = service::test(s, &lake, &author, loose.id, &g2)
        .await
        .unwrap();
    assert!(a.rows.is_empty(), "{:?}", a.rows);

    // v2 is a draft beside the published v1, which serves on.
    let v2 = service::define(s, &lake, &author, &marriage())
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert!(service::serving(s, "marriage-status", 1, now).await.is_ok());
    assert_eq!(
        service::serving(s, "marriage-status", 2, now)
            .await
            .unwrap_err()
            .code,
        ErrorCode::ServiceNotFound
    );

    // Deprecated with a sunset: served until then, gone after.
    let later = now + 3_600_000;
    service::deprecate(s, &author, v1.id, later).await.unwrap();
    assert!(service::serving(s, "marriage-status", 1, now).await.is_ok());
    let e = service::serving(s, "marriage-status", 1, later + 1)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ServiceGone);
    assert_eq!(e.code.http_status(), 410);
    service::retire(s, &author, v1.id).await.unwrap();
    assert_eq!(
        service::serving(s, "marriage-status", 1, now)
            .await
            .unwrap_err()
            .code,
        ErrorCode::ServiceGone
    );

    // A query past its timeout is stopped.
    population(&lake, 3_000).await;
    let mut d = marriage();
    d.name = "slow".into();
    d.sql = "SELECT count(*) AS n FROM base.population a JOIN base.population b ON a.姓名 <> b.姓名 WHERE a.公民身份号码 <> :id".into();
    d.timeout_ms = 10;
    let slow = service::define(s, &lake, &author, &d).await.unwrap();
    let e = service::test(s, &lake, &author, slow.id, &asking(PEOPLE[0].0))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ServiceTimeout, "{e}");
}
