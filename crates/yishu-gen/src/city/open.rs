//! The demo's open data (数据开放): four of the city's datasets opened by the bureau with the
//! items and masks a real opening would name — 企业登记 without the legal representative's
//! number, 婚姻登记 as counts of registrations only, 低保公示 with names partly hidden and no
//! numbers, and 公积金缴存 conditionally, for approved readers only.

use super::datasets::{dibao, gongjijin, hunyin, qiye};
use anyhow::{Result, anyhow};
use std::collections::BTreeMap;
use yishu_meta::Store;
use yishu_share::opening::{OpeningDraft, open};

/// One dataset the demo opens: resource name, items, masks by item.
type Opening = (
    &'static str,
    Vec<&'static str>,
    Vec<(&'static str, &'static str)>,
);

/// What the demo opens.
fn openings() -> Vec<Opening> {
    vec![
        (
            qiye::DATASET.resource,
            vec![
                qiye::CODE,
                qiye::NAME,
                qiye::LEGAL_REP,
                qiye::CAPITAL,
                qiye::FOUNDED,
                qiye::SEAT,
                qiye::STATUS,
                qiye::DIVISION,
            ],
            vec![(qiye::LEGAL_REP, "partial")],
        ),
        (
            hunyin::DATASET.resource,
            vec![hunyin::KIND, hunyin::DATE, hunyin::OFFICE],
            vec![],
        ),
        (
            dibao::DATASET.resource,
            vec![
                dibao::NAME,
                dibao::HOUSEHOLD,
                dibao::AMOUNT,
                dibao::START,
                dibao::STATUS,
            ],
            vec![(dibao::NAME, "partial")],
        ),
        (
            gongjijin::DATASET.resource,
            vec![
                gongjijin::NAME,
                gongjijin::EMPLOYER,
                gongjijin::BASE,
                gongjijin::MONTHLY,
                gongjijin::OPENED,
                gongjijin::STATUS,
            ],
            vec![(gongjijin::NAME, "partial")],
        ),
    ]
}

/// Opens the four datasets as the bureau's data manager; returns a line per dataset.
pub async fn open_city(store: &Store) -> Result<Vec<String>> {
    let manager = store.acting_as("manager").await?;
    let all = store.all_resources().await?;
    let mut out = Vec::new();
    for (name, items, masks) in openings() {
        let r = all
            .iter()
            .find(|r| r.meta.name == name)
            .ok_or_else(|| anyhow!("the demo catalog has no resource named {name}"))?;
        let draft = OpeningDraft {
            items: items.iter().map(|i| i.to_string()).collect(),
            row_filter: String::new(),
            masks: masks
                .iter()
                .map(|(i, m)| (i.to_string(), m.to_string()))
                .collect::<BTreeMap<_, _>>(),
        };
        open(store, &manager, r.id, &draft).await?;
        out.push(format!(
            "{name}（{}）: {} items{}",
            r.meta.open_type.label_zh(),
            items.len(),
            if masks.is_empty() {
                String::new()
            } else {
                format!(", {} masked", masks.len())
            }
        ));
    }
    Ok(out)
}
