//! The city's sharing, as the demo shows it: 人社局 (the demo's consumer) holds three grants —
//! 市场监管's enterprise register (unconditional, granted at once), 公安's household register
//! (conditional: 公安 approves with a district filter and masks, the bureau confirms) and the
//! population base library (the bureau provides and approves) — and has read through the first
//! two, so the console shows applications, grants and the read audit at once.

use super::datasets::{huji, qiye};
use super::plan::attr;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use yishu_lake::Lake;
use yishu_meta::catalog::ResourceStatus;
use yishu_meta::{Principal, Store, now_ms};
use yishu_share::application::{Apply, Decision, Workflow};
use yishu_share::audit::{self, Channel};
use yishu_share::read;
use yishu_share::target::{Target, resolve};
use yishu_share::{ReadRequest, masker_for, plan};

/// The published resource named `name`.
async fn resource(store: &Store, name: &str) -> Result<i64> {
    store
        .list_resources(Some(ResourceStatus::Published), None, 1000, 0)
        .await?
        .items
        .into_iter()
        .find(|r| r.meta.name == name)
        .map(|r| r.id)
        .with_context(|| format!("no published resource {name}"))
}

fn application(target: String, items: &[&str], purpose: &str, basis: &str) -> Apply {
    let now = now_ms();
    Apply {
        target,
        items: items.iter().map(|s| s.to_string()).collect(),
        purpose: purpose.into(),
        legal_basis: basis.into(),
        scenario: "社会保障待遇资格认证".into(),
        period_from: now,
        period_to: now + 365 * 86_400_000,
        expected_volume: "每日约 1 万条".into(),
        contact: "人社局信息中心 028-86000000".into(),
    }
}

fn decision(filter: Option<&str>, masks: &[(&str, &str)]) -> Decision {
    Decision {
        approve: true,
        reason: "用途明确、依据充分".into(),
        row_filter: filter.map(String::from),
        masks: masks
            .iter()
            .map(|(i, m)| (i.to_string(), m.to_string()))
            .collect::<BTreeMap<_, _>>(),
        ..Default::default()
    }
}

/// One page through grant `id` as `who`, recorded in the read audit like the API's.
async fn read_once(store: &Store, lake: &Lake, who: &Principal, id: i64) -> Result<usize> {
    let g = store.grant(id).await?;
    let target = Target::parse(&g.target)?;
    let r = resolve(store, lake, target.clone()).await?;
    let req = ReadRequest {
        limit: 20,
        ..Default::default()
    };
    let p = plan(
        who,
        Some(&g),
        &r.source,
        &req,
        now_ms(),
        masker_for(store, who.org_id),
    )?;
    let (layer, table) = read::table_of(store, &target).await?;
    let page = read::page(lake, layer, &table, &p, 0).await?;
    let ch = Channel {
        kind: "demo",
        source_ip: "local".into(),
        request_id: String::new(),
    };
    audit::record(
        store,
        &audit::entry(who, &target.as_string(), Ok(&p), page.rows.len(), &[], &ch),
    )
    .await?;
    Ok(page.rows.len())
}

/// Files the three applications, decides them and reads through two grants. Returns a line
/// per application for the demo's summary.
pub async fn share_city(store: &Store, lake: &Lake) -> Result<Vec<String>> {
    let flow = Workflow::new(store, lake);
    let consumer = store.acting_as("consumer").await?;
    let officer = store.acting_as("officer").await?;
    let manager = store.acting_as("manager").await?;
    let now = now_ms();
    let mut out = Vec::new();

    let qiye_id = resource(store, qiye::DATASET.resource).await?;
    let open = flow
        .apply(
            &consumer,
            &application(
                format!("resource:{qiye_id}"),
                &[qiye::CODE, qiye::NAME, qiye::STATUS],
                "核验参保单位登记状态",
                "《社会保险法》第五十七条",
            ),
            now,
        )
        .await?;
    out.push(format!(
        "application {} for {}: {} (grant {})",
        open.id,
        qiye::DATASET.resource,
        open.status,
        open.grant_id.unwrap_or_default()
    ));

    let huji_id = resource(store, huji::DATASET.resource).await?;
    let cond = flow
        .apply(
            &consumer,
            &application(
                format!("resource:{huji_id}"),
                &[
                    huji::ID,
                    huji::NAME,
                    huji::BIRTH,
                    huji::MARITAL,
                    huji::DIVISION,
                ],
                "核定养老保险待遇",
                "《社会保险法》第七十三条",
            ),
            now,
        )
        .await?;
    let filter = format!("{} prefix '5101'", huji::DIVISION);
    flow.provider_decide(
        &officer,
        cond.id,
        &decision(
            Some(&filter),
            &[
                (huji::ID, "token"),
                (huji::NAME, "partial"),
                (huji::BIRTH, "generalise"),
            ],
        ),
        now,
    )
    .await?;
    let cond = flow
        .bureau_decide(&manager, cond.id, &decision(None, &[]))
        .await?;
    out.push(format!(
        "application {} for {}: {} by 公安 and the bureau (grant {})",
        cond.id,
        huji::DATASET.resource,
        cond.status,
        cond.grant_id.unwrap_or_default()
    ));

    let base = flow
        .apply(
            &consumer,
            &application(
                "base:population".into(),
                &[
                    "subject_key",
                    attr::NAME,
                    attr::MARITAL,
                    attr::INSURANCE,
                    attr::DIBAO,
                ],
                "社会救助对象资格核查",
                "《社会救助暂行办法》第十一条",
            ),
            now,
        )
        .await?;
    let base = flow
        .provider_decide(
            &manager,
            base.id,
            &decision(None, &[("subject_key", "partial"), (attr::NAME, "partial")]),
            now,
        )
        .await?;
    out.push(format!(
        "application {} for the population base library: {} by the bureau (grant {})",
        base.id,
        base.status,
        base.grant_id.unwrap_or_default()
    ));

    for grant in [open.grant_id, cond.grant_id].into_iter().flatten() {
        let n = read_once(store, lake, &consumer, grant).await?;
        out.push(format!(
            "read {n} rows through grant {grant} (in the read audit)"
        ));
    }
    Ok(out)
}
