//! Addresses as linking compares them: the county-level division (GB/T 2260) the address is in,
//! the street and number (…路321号), and the rest (building, unit, room). Departments write the
//! same address with or without the province and city, in full or half width, with spaces; the
//! parts make those comparable.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::LazyLock;
use yishu_types::division::{self, DivisionLevel};

/// An address taken apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Address {
    /// The county-level division code, when the address names one.
    pub division: Option<String>,
    /// Street and number, e.g. 红星路321号 (the whole remainder when there is no 号).
    pub street: String,
    /// Building, unit and room.
    pub detail: String,
}

/// Current division names → codes, by level.
static NAMES: LazyLock<[HashMap<&'static str, Vec<&'static str>>; 3]> = LazyLock::new(|| {
    let mut maps: [HashMap<&'static str, Vec<&'static str>>; 3] = Default::default();
    for d in division::current_under("") {
        let k = match d.level {
            DivisionLevel::Province => 0,
            DivisionLevel::Prefecture => 1,
            DivisionLevel::County => 2,
        };
        maps[k]
            .entry(d.name.as_str())
            .or_default()
            .push(d.code.as_str());
    }
    maps
});

/// The longest division name of `level` at the start of `s` whose code starts with `within`.
fn leading(s: &str, level: usize, within: &str) -> Option<(&'static str, usize)> {
    let mut best: Option<(&'static str, usize)> = None;
    for (end, _) in s
        .char_indices()
        .skip(1)
        .chain(std::iter::once((s.len(), ' ')))
    {
        if end > 30 {
            break;
        }
        if let Some(codes) = NAMES[level].get(&s[..end]) {
            let mut inside = codes.iter().filter(|c| c.starts_with(within));
            if let (Some(c), None) = (inside.next(), inside.next()) {
                best = Some((c, end));
            }
        }
    }
    best
}

/// Takes an address apart.
pub fn parse_address(raw: &str) -> Address {
    let folded: String = yishu_types::text::fold_width(raw)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut rest = folded.as_str();
    let mut within = String::new();
    let mut county = None;
    // Province, city and county, each optional, each searched within what came before.
    for level in 0..3 {
        if let Some((code, end)) = leading(rest, level, &within) {
            rest = &rest[end..];
            within = match level {
                0 => code[..2].to_string(),
                1 => code[..4].to_string(),
                _ => code.to_string(),
            };
            if level == 2 {
                county = Some(code.to_string());
            }
        }
    }
    let (street, detail) = match rest.find('号') {
        Some(i) => (&rest[..i + '号'.len_utf8()], &rest[i + '号'.len_utf8()..]),
        None => (rest, ""),
    };
    Address {
        division: county,
        street: street.to_string(),
        detail: detail.to_string(),
    }
}

/// How two addresses compare, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressLevel {
    /// Same division, street and detail.
    Exact,
    /// Same division and street (another building or room, or none given).
    Street,
    /// Same county only.
    Division,
    Different,
    Missing,
}

pub fn address_level(a: &Address, b: &Address) -> AddressLevel {
    if a.street.is_empty() || b.street.is_empty() {
        return AddressLevel::Missing;
    }
    // A side that names no division does not disagree on it.
    let same_division = match (&a.division, &b.division) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    if !same_division {
        return AddressLevel::Different;
    }
    if a.street == b.street {
        if a.detail == b.detail {
            AddressLevel::Exact
        } else {
            AddressLevel::Street
        }
    } else if a.division.is_some() && b.division.is_some() {
        AddressLevel::Division
    } else {
        AddressLevel::Different
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_come_apart_with_or_without_province_and_city() {
        let full = parse_address("四川省成都市都江堰市红星路321号19栋4单元2701室");
        assert_eq!(full.division.as_deref(), Some("510181"));
        assert_eq!(full.street, "红星路321号");
        assert_eq!(full.detail, "19栋4单元2701室");
        let short = parse_address("都江堰市 红星路３２１号");
        assert_eq!(short.division.as_deref(), Some("510181"));
        assert_eq!(address_level(&full, &short), AddressLevel::Street);
        let same = parse_address("成都市都江堰市红星路321号19栋4单元2701室");
        assert_eq!(address_level(&full, &same), AddressLevel::Exact);
        let other = parse_address("四川省成都市武侯区红星路321号");
        assert_eq!(other.division.as_deref(), Some("510107"));
        assert_eq!(address_level(&full, &other), AddressLevel::Different);
        let street_only = parse_address("红星路321号");
        assert_eq!(street_only.division, None);
        assert_eq!(address_level(&full, &street_only), AddressLevel::Street);
        assert_eq!(
            address_level(&full, &parse_address("")),
            AddressLevel::Missing
        );
    }
}
