//! The city's data services, as the demo shows them: the bureau's data manager defines a
//! marriage-status lookup over the population base library in SQL, tests it, the second data
//! manager reviews it, it is published; 人社局 applies for it, the bureau approves with the name
//! masked, 人社 calls it once, verifies a person's name against the library (核验) and registers its pension system as an app with a key — so the console shows a service with its lifecycle, grant and
//! call at once.

use super::plan::attr;
use anyhow::{Context, Result};
use yishu_fusion::SubjectKind;
use yishu_lake::Lake;
use yishu_meta::app::AppDraft;
use yishu_meta::service::{Param, ParamKind, Placement, ServiceDraft, Step};
use yishu_meta::{Store, now_ms};
use yishu_share::application::{Apply, Decision, Workflow};
use yishu_share::audit::{self, Channel};
use yishu_share::gate::MAX_PAGE;
use yishu_share::service::{self, param::Given};
use yishu_share::target::{Target, resolve};
use yishu_share::verify::{self, Claim};
use yishu_share::{ReadRequest, masker_for, plan};

/// The marriage-status lookup: one person's name and marital status by citizen number.
pub fn marriage_status() -> ServiceDraft {
    ServiceDraft {
        name: "marriage-status".into(),
        title: "婚姻状况查询".into(),
        description: "按公民身份号码查询姓名与婚姻状况（来自人口基础库）".into(),
        sql: format!(
            "SELECT {name}, {marital} FROM base.population WHERE subject_key = :id",
            name = attr::NAME,
            marital = attr::MARITAL
        ),
        params: vec![Param::citizen_number("id")],
        steps: Vec::new(),
        row_cap: 10,
        timeout_ms: 5_000,
    }
}

/// Identity verification as a published function API: a number, a name and a birth date in,
/// match or mismatch per item out — never a value.
pub fn identity_verification() -> ServiceDraft {
    let text = |name: &str, label: &str, max_len: usize| Param {
        name: name.into(),
        kind: ParamKind::String {
            min_len: 1,
            max_len,
            pattern: None,
        },
        placement: Placement::Query,
        required: true,
        default: None,
        example: None,
        description: label.into(),
    };
    ServiceDraft {
        name: "identity-verification".into(),
        title: "身份核验".into(),
        description: "核验公民身份号码与姓名、出生日期是否一致，只返回一致与否，不返回任何数据"
            .into(),
        sql: String::new(),
        params: vec![
            Param::citizen_number("id"),
            text("name", "姓名", 50),
            text("birth", "出生日期", 20),
        ],
        steps: vec![Step {
            name: "identity".into(),
            call: Target::Verify(SubjectKind::Person).as_string(),
            with: [
                ("key".to_string(), ":id".to_string()),
                (attr::NAME.to_string(), ":name".to_string()),
                (attr::BIRTH.to_string(), ":birth".to_string()),
            ]
            .into(),
            stop_unless_matched: false,
        }],
        row_cap: 1,
        timeout_ms: 5_000,
    }
}

/// The key of one person in the population library.
async fn first_person(lake: &Lake) -> Result<String> {
    let frame = lake
        .frame(yishu_lake::Layer::Base, "population")
        .await?
        .context("the city has no population base library")?;
    let batches = frame
        .select_columns(&["subject_key"])?
        .limit(0, Some(1))?
        .collect()
        .await?;
    batches
        .iter()
        .flat_map(yishu_lake::text_rows)
        .find_map(|r| r.into_iter().next())
        .context("the population base library is empty")
}

/// Defines, tests, reviews and publishes the services; 人社 applies and calls one. Returns a
/// line per step for the demo's summary.
pub async fn publish_services(store: &Store, lake: &Lake) -> Result<Vec<String>> {
    let manager = store.acting_as("manager").await?;
    let reviewer = store.acting_as("reviewer").await?;
    let consumer = store.acting_as("consumer").await?;
    let mut out = Vec::new();

    // A real person of the library, for the test run and the call.
    let some_key = first_person(lake).await?;
    let mut given = Given::default();
    given.query.insert("id".into(), some_key.clone());

    let s = service::define(store, lake, &manager, &marriage_status()).await?;
    let (s, _) = service::test(store, lake, &manager, s.id, &given).await?;
    service::review(store, &reviewer, s.id, true, "口径清晰，同意发布").await?;
    let s = service::publish(store, &manager, s.id).await?;
    out.push(format!("service {} published at {}", s.name, s.path()));

    let flow = Workflow::new(store, lake);
    let now = now_ms();
    let app = flow
        .apply(
            &consumer,
            &Apply {
                target: s.target(),
                items: vec![attr::NAME.into(), attr::MARITAL.into()],
                purpose: "养老金领取资格认证".into(),
                legal_basis: "《社会保险法》第七十三条".into(),
                scenario: "社会保障待遇资格认证".into(),
                period_from: now,
                period_to: now + 365 * 86_400_000,
                expected_volume: "每日约 5000 次".into(),
                contact: "人社局信息中心 028-86000000".into(),
            },
            now,
        )
        .await?;
    let app = flow
        .provider_decide(
            &manager,
            app.id,
            &Decision {
                approve: true,
                reason: "用途明确、依据充分".into(),
                masks: [(attr::NAME.to_string(), "partial".to_string())].into(),
                per_minute: Some(600),
                ..Default::default()
            },
            now,
        )
        .await?;
    let grant = store.grant(app.grant_id.unwrap_or_default()).await?;
    let p = plan(
        &consumer,
        Some(&grant),
        &service::source_of(&s),
        &ReadRequest {
            limit: s.draft.row_cap as usize,
            ..Default::default()
        },
        now,
        masker_for(store, consumer.org_id),
    )?;
    let bound = service::param::bind(&s.draft.params, &given)?;
    let answer = service::run(lake, &s, &bound, &p).await?;
    let ch = Channel {
        kind: "service",
        source_ip: "demo".into(),
        request_id: String::new(),
    };
    let subjects = [audit::subject_digest(store, &some_key)];
    audit::record(
        store,
        &audit::entry(
            &consumer,
            &p.target,
            Ok(&p),
            answer.rows.len(),
            &subjects,
            &ch,
        ),
    )
    .await?;
    out.push(format!(
        "人社局 called {} through grant {} ({} row, masked)",
        s.name,
        grant.id,
        answer.rows.len()
    ));

    // Identity verification (核验): 人社 may compare names and birth dates, never read them.
    let verify = flow
        .apply(
            &consumer,
            &Apply {
                target: Target::Verify(SubjectKind::Person).as_string(),
                items: vec![attr::NAME.into(), attr::BIRTH.into()],
                purpose: "养老金领取人身份核验".into(),
                legal_basis: "《社会保险法》第七十三条".into(),
                scenario: "社会保障待遇资格认证".into(),
                period_from: now,
                period_to: now + 365 * 86_400_000,
                expected_volume: "每月约 10 万人次".into(),
                contact: "人社局信息中心 028-86000000".into(),
            },
            now,
        )
        .await?;
    let verify = flow
        .provider_decide(
            &manager,
            verify.id,
            &Decision {
                approve: true,
                reason: "只核验、不返回数据".into(),
                ..Default::default()
            },
            now,
        )
        .await?;
    let vgrant = store.grant(verify.grant_id.unwrap_or_default()).await?;
    let vsource = resolve(store, lake, Target::Verify(SubjectKind::Person))
        .await?
        .source;
    let vplan = plan(
        &consumer,
        Some(&vgrant),
        &vsource,
        &ReadRequest {
            limit: MAX_PAGE,
            ..Default::default()
        },
        now,
        masker_for(store, consumer.org_id),
    )?;
    let claims = [Claim {
        key: some_key.clone(),
        items: [(attr::NAME.to_string(), "某某".to_string())].into(),
    }];
    let answer = verify::verify(lake, SubjectKind::Person, &vplan, &claims).await?;
    let vch = Channel {
        kind: "verify",
        ..ch.clone()
    };
    audit::record(
        store,
        &audit::entry(
            &consumer,
            &vplan.target,
            Ok(&vplan),
            answer.records,
            &subjects,
            &vch,
        ),
    )
    .await?;
    out.push(format!(
        "人社局 verified {} person against grant {} (POST /api/v1/verifications/population)",
        answer.records, vgrant.id
    ));
    let mut given = Given::default();
    for (k, v) in [
        ("id", some_key.as_str()),
        ("name", "某某"),
        ("birth", "1990-01-01"),
    ] {
        given.query.insert(k.into(), v.into());
    }
    let f = service::define(store, lake, &manager, &identity_verification()).await?;
    let (f, _) = service::test(store, lake, &manager, f.id, &given).await?;
    service::review(store, &reviewer, f.id, true, "只核验、不返回数据，同意发布").await?;
    let f = service::publish(store, &manager, f.id).await?;
    out.push(format!("service {} published at {}", f.name, f.path()));

    // 人社's pension system is an app with its own key: from this machine, 600 calls a minute.
    let app = store
        .create_app(
            consumer.org_id,
            consumer.user_id,
            &AppDraft {
                name: "养老金资格认证系统".into(),
                description: "社会保障待遇资格认证，调用婚姻状况查询".into(),
                ip_allow: vec!["127.0.0.0/8".into(), "::1".into()],
                per_minute: 600,
            },
        )
        .await?;
    let key = store
        .create_app_key(app.id, consumer.user_id, "生产", None)
        .await?;
    out.push(format!(
        "人社局 app '{}' key {} (try: curl -H 'Authorization: Bearer {}' '…{}?id={}')",
        app.name,
        key.key.prefix,
        key.secret,
        s.path(),
        some_key
    ));
    Ok(out)
}
