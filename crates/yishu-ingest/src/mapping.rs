//! Column mapping proposals (字段映射建议): which source column feeds which item, when the names
//! are not identical — same name after folding width, case and punctuation; the same pinyin (full
//! or initials, as in `sfzh` for 身份证号); or similar characters. A person confirms a proposal by
//! passing it as an explicit mapping (`--map 列=信息项`, or a source's `mapping`).

use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use yishu_meta::catalog::Item;

/// How a proposal was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Exact,
    Normalized,
    Pinyin,
    Similar,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Proposal {
    pub column: String,
    pub item: String,
    pub method: Method,
    /// 0–1; exact is 1.
    pub score: f64,
}

/// Lower-case ASCII, full-width folded, without spaces, punctuation and brackets.
fn normalize(s: &str) -> String {
    yishu_types::text::fold_width(s)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Full pinyin and initials of a name (non-Chinese characters kept as they are).
fn pinyin(s: &str) -> (String, String) {
    use pinyin::ToPinyin;
    let (mut full, mut initials) = (String::new(), String::new());
    for c in normalize(s).chars() {
        match c.to_pinyin() {
            Some(p) => {
                full.push_str(p.plain());
                initials.push_str(p.first_letter());
            }
            None => {
                full.push(c);
                initials.push(c);
            }
        }
    }
    (full, initials)
}

/// Dice coefficient over character bigrams (single characters for one-character names).
fn similarity(a: &str, b: &str) -> f64 {
    let grams = |s: &str| -> Vec<String> {
        let cs: Vec<char> = s.chars().collect();
        if cs.len() < 2 {
            return cs.iter().map(|c| c.to_string()).collect();
        }
        cs.windows(2).map(|w| w.iter().collect()).collect()
    };
    let (ga, gb) = (grams(a), grams(b));
    if ga.is_empty() || gb.is_empty() {
        return 0.0;
    }
    let mut rest = gb.clone();
    let mut common = 0;
    for g in &ga {
        if let Some(i) = rest.iter().position(|x| x == g) {
            rest.swap_remove(i);
            common += 1;
        }
    }
    2.0 * common as f64 / (ga.len() + gb.len()) as f64
}

/// How well a column name fits an item name, if at all.
fn score(column: &str, item: &str) -> Option<(Method, f64)> {
    if column.trim() == item.trim() {
        return Some((Method::Exact, 1.0));
    }
    let (nc, ni) = (normalize(column), normalize(item));
    if nc.is_empty() || ni.is_empty() {
        return None;
    }
    if nc == ni {
        return Some((Method::Normalized, 0.95));
    }
    let (pc, ic) = (pinyin(column), pinyin(item));
    // Same sound, or a column written as the item's pinyin or its initials (`sfzh`).
    if pc.0 == ic.0 || nc == ic.0 || nc == ic.1 {
        return Some((Method::Pinyin, 0.9));
    }
    let s = similarity(&nc, &ni);
    (s >= 0.5).then_some((Method::Similar, (s * 0.85 * 100.0).round() / 100.0))
}

/// Proposes one item per column, best first, each column and item used at most once.
pub fn propose(header: &[String], items: &[Item]) -> Vec<Proposal> {
    let mut all = Vec::new();
    for c in header {
        for it in items {
            if let Some((method, score)) = score(c, &it.name) {
                all.push(Proposal {
                    column: c.clone(),
                    item: it.name.trim().to_string(),
                    method,
                    score,
                });
            }
        }
    }
    all.sort_by(|a, b| b.score.total_cmp(&a.score));
    let (mut cols, mut its) = (HashSet::new(), HashSet::new());
    all.into_iter()
        .filter(|p| {
            let fresh = !cols.contains(&p.column) && !its.contains(&p.item);
            if fresh {
                cols.insert(p.column.clone());
                its.insert(p.item.clone());
            }
            fresh
        })
        .collect()
}

/// Parses `列=信息项` pairs (from `--map`).
pub fn parse_pairs(pairs: &[String]) -> Result<BTreeMap<String, String>, yishu_types::Error> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(c, i)| (c.trim().to_string(), i.trim().to_string()))
                .filter(|(c, i)| !c.is_empty() && !i.is_empty())
                .ok_or_else(|| {
                    yishu_types::Error::field("map", format!("'{p}' is not column=item"))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(names: &[&str]) -> Vec<Item> {
        names
            .iter()
            .map(|n| Item {
                name: (*n).into(),
                item_type: "C".into(),
                length: None,
                data_element: None,
                description: String::new(),
            })
            .collect()
    }

    #[test]
    fn proposals_by_name_pinyin_and_similarity() {
        let header: Vec<String> = ["姓名", "ＸＭ", "sfzh", "出生 日期", "户籍住址", "备用"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = propose(
            &header,
            &items(&["姓名", "身份证号", "出生日期", "住址", "xm"]),
        );
        let got: Vec<(&str, &str, Method)> = p
            .iter()
            .map(|p| (p.column.as_str(), p.item.as_str(), p.method))
            .collect();
        assert!(got.contains(&("姓名", "姓名", Method::Exact)), "{got:?}");
        assert!(got.contains(&("ＸＭ", "xm", Method::Normalized)), "{got:?}");
        assert!(
            got.contains(&("sfzh", "身份证号", Method::Pinyin)),
            "{got:?}"
        );
        assert!(
            got.contains(&("出生 日期", "出生日期", Method::Normalized)),
            "{got:?}"
        );
        assert!(
            got.contains(&("户籍住址", "住址", Method::Similar)),
            "{got:?}"
        );
        assert!(!got.iter().any(|g| g.0 == "备用"), "{got:?}");
        // One column per item.
        let items_used: HashSet<&str> = got.iter().map(|g| g.1).collect();
        assert_eq!(items_used.len(), got.len());
    }

    #[test]
    fn pairs_parse_or_name_the_bad_one() {
        let m = parse_pairs(&["身份证号=公民身份号码".into()]).unwrap();
        assert_eq!(m["身份证号"], "公民身份号码");
        let e = parse_pairs(&["oops".into()]).unwrap_err();
        assert!(e.message.contains("'oops'"), "{}", e.message);
    }
}
