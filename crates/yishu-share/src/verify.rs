//! Verification (核验, R31): a caller sends what it holds about people (a key and some items —
//! 姓名, 出生日期 …) and learns, item by item, whether the base library agrees, never the
//! library's value. Up to [`MAX_RECORDS`] records a call, looked up together by their key
//! hashes in one pass over the library. The plan decides which items may be compared (a grant
//! on `verify:<library>`) and its row filter hides subjects outside it: to the caller they are
//! not found.

use crate::gate::ReadPlan;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use yishu_fusion::SubjectKind;
use yishu_fusion::compare::fold_name;
use yishu_fusion::library;
use yishu_lake::Lake;
use yishu_types::{Error, ErrorCode};

/// Most records one call verifies.
pub const MAX_RECORDS: usize = 10_000;

/// One record as the caller holds it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// The subject's key (公民身份号码 for people).
    pub key: String,
    /// Values to compare, by item.
    pub items: BTreeMap<String, String>,
}

/// How one item compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The library holds the same value (after folding width, spaces, case and date writing).
    Match,
    Mismatch,
    /// The library holds no value for the item.
    NoValue,
}

/// The answer for one record, in the order sent.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Checked {
    /// Whether the library has a subject with this key (within the grant's rows).
    pub found: bool,
    /// Per item sent; empty when not found.
    pub items: BTreeMap<String, Verdict>,
}

/// Counts of one item's verdicts.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Tally {
    pub matched: usize,
    pub mismatched: usize,
    pub no_value: usize,
}

/// The answer of a call: per record, and counted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub records: usize,
    pub found: usize,
    pub results: Vec<Checked>,
    pub tally: BTreeMap<String, Tally>,
}

/// The items a call compares (every item any record sends), each one the plan allows; or why
/// not. Checked before the library is read.
pub fn items_of(plan: &ReadPlan, claims: &[Claim]) -> Result<Vec<String>, Error> {
    if claims.is_empty() {
        return Err(Error::field("records", "send at least one record"));
    }
    if claims.len() > MAX_RECORDS {
        return Err(Error::field(
            "records",
            format!(
                "{} records; one call verifies at most {MAX_RECORDS}",
                claims.len()
            ),
        ));
    }
    let mut items: Vec<String> = Vec::new();
    for (i, c) in claims.iter().enumerate() {
        if c.key.trim().is_empty() {
            return Err(Error::field(&format!("records[{i}].key"), "is empty"));
        }
        if c.items.is_empty() {
            return Err(Error::field(
                &format!("records[{i}].items"),
                "name at least one item to compare",
            ));
        }
        for name in c.items.keys() {
            if !items.contains(name) {
                if !plan.items.contains(name) {
                    return Err(Error::new(
                        ErrorCode::Forbidden,
                        format!(
                            "records[{i}]: '{name}' is not an item you may verify against {}; you may: {}",
                            plan.target,
                            plan.items.join("、")
                        ),
                    ));
                }
                items.push(name.clone());
            }
        }
    }
    Ok(items)
}

/// Verifies `claims` against base library `kind` as `plan` allows ([`items_of`] first).
pub async fn verify(
    lake: &Lake,
    kind: SubjectKind,
    plan: &ReadPlan,
    claims: &[Claim],
) -> Result<Verification, Error> {
    let items = items_of(plan, claims)?;
    let keys: Vec<String> = claims.iter().map(|c| canonical_key(&c.key)).collect();
    let columns = plan.columns_for(&items);
    let rows = library::by_keys(lake, kind, &keys, &columns).await?;
    let mut out = Verification {
        records: claims.len(),
        found: 0,
        results: Vec::with_capacity(claims.len()),
        tally: items
            .iter()
            .map(|i| (i.clone(), Tally::default()))
            .collect(),
    };
    for (c, key) in claims.iter().zip(&keys) {
        let row = rows
            .get(key)
            .filter(|r| plan.filter.as_ref().is_none_or(|f| f.matches(r)));
        let Some(row) = row else {
            out.results.push(Checked {
                found: false,
                items: BTreeMap::new(),
            });
            continue;
        };
        out.found += 1;
        let mut verdicts = BTreeMap::new();
        for (item, held) in &c.items {
            let v = compare(row.get(item).map_or("", String::as_str), held);
            let t = out.tally.entry(item.clone()).or_default();
            match v {
                Verdict::Match => t.matched += 1,
                Verdict::Mismatch => t.mismatched += 1,
                Verdict::NoValue => t.no_value += 1,
            }
            verdicts.insert(item.clone(), v);
        }
        out.results.push(Checked {
            found: true,
            items: verdicts,
        });
    }
    Ok(out)
}

/// A key as the library writes it: trimmed, half-width, upper case (a trailing x of a citizen
/// number is X).
fn canonical_key(k: &str) -> String {
    yishu_types::text::fold_width(k.trim()).to_uppercase()
}

/// A date in any writing people use (1990-01-02, 1990/1/2, 19900102, 1990年1月2日).
fn date_of(s: &str) -> Option<NaiveDate> {
    yishu_types::date::parse_cn_date(s).ok()
}

/// How a held value compares with the library's: dates by the day they name, whatever their
/// writing; other text after folding width, spaces, traditional characters and case.
pub fn compare(library: &str, held: &str) -> Verdict {
    if library.trim().is_empty() {
        return Verdict::NoValue;
    }
    let same = match (date_of(library), date_of(held)) {
        (Some(a), Some(b)) => a == b,
        _ => fold_name(library).to_uppercase() == fold_name(held).to_uppercase(),
    };
    if same {
        Verdict::Match
    } else {
        Verdict::Mismatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_as_people_write_them() {
        assert_eq!(compare("张小三", "张小三"), Verdict::Match);
        assert_eq!(compare("张小三", " 张 小三 "), Verdict::Match);
        assert_eq!(compare("張小三", "张小三"), Verdict::Match);
        assert_eq!(compare("张小三", "张晓三"), Verdict::Mismatch);
        assert_eq!(compare("1990-01-02", "1990/1/2"), Verdict::Match);
        assert_eq!(compare("1990-01-02", "19900102"), Verdict::Match);
        assert_eq!(compare("1990-01-02", "1990年1月2日"), Verdict::Match);
        assert_eq!(compare("1990-01-02", "1990-01-03"), Verdict::Mismatch);
        assert_eq!(compare("", "1990-01-02"), Verdict::NoValue);
        assert_eq!(compare("ab", "ＡＢ"), Verdict::Match);
        assert_eq!(canonical_key(" 51010119900102123x "), "51010119900102123X");
    }
}
