//! 行政区划代码 (GB/T 2260): 6 digits, province (2) + prefecture (2) + county (2). The table that
//! ships inside the binary, `data/gbt2260.tsv`, holds every code in force at any time since the first
//! national table (1980), with the years each name was in force and, for an abolished code, the code
//! that replaced it (derived by `scripts/gbt2260-build.py`; its header names the sources). A citizen
//! ID keeps its code for life, so abolished codes stay valid for lookup.

use crate::error::Invalid;
use crate::text::{has_control, quote_for_message};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

const TABLE: &str = include_str!("../data/gbt2260.tsv");

/// A syntactically valid 6-digit division code. Use [`lookup`] to learn whether it is in the table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DivisionCode(pub(crate) String);

/// Level of a division, read from the code's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DivisionLevel {
    Province,
    Prefecture,
    County,
}

/// A code as the table knows it: its name now (or its last name, when abolished).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Division {
    pub code: DivisionCode,
    pub name: String,
    pub level: DivisionLevel,
    /// The first year of this name; `None` when it was already in the first table (1980).
    pub since: Option<u16>,
    /// For a code no longer in force: the last year it was.
    pub abolished: Option<u16>,
    /// For an abolished code: the code in force today that took its place, where known.
    pub successor: Option<DivisionCode>,
}

impl Division {
    /// In words, for messages: `412724（太康县，1999 年撤销，现为 411627 太康县）`.
    pub fn describe(&self) -> String {
        match self.abolished {
            None => format!("{}（{}）", self.code, self.name),
            Some(year) => match self.successor.as_ref().and_then(lookup) {
                Some(now) => format!(
                    "{}（{}，{year} 年撤销，现为 {} {}）",
                    self.code, self.name, now.code, now.name
                ),
                None => format!("{}（{}，{year} 年撤销）", self.code, self.name),
            },
        }
    }
}

impl DivisionCode {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.is_empty() {
            return Err(Invalid::new("empty", "division code is empty"));
        }
        if has_control(s) {
            return Err(Invalid::new(
                "control_char",
                format!(
                    "division code {} contains a control character",
                    quote_for_message(s)
                ),
            ));
        }
        if s.len() != 6 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(Invalid::new(
                "bad_format",
                format!(
                    "division code {} must be 6 ASCII digits",
                    quote_for_message(s)
                ),
            ));
        }
        Ok(DivisionCode(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> DivisionLevel {
        if self.0.ends_with("0000") {
            DivisionLevel::Province
        } else if self.0.ends_with("00") {
            DivisionLevel::Prefecture
        } else {
            DivisionLevel::County
        }
    }

    /// The province this code belongs to (`510107` → `510000`).
    pub fn province(&self) -> DivisionCode {
        DivisionCode(format!("{}0000", &self.0[..2]))
    }

    /// The prefecture this code belongs to (`510107` → `510100`).
    pub fn prefecture(&self) -> DivisionCode {
        DivisionCode(format!("{}00", &self.0[..4]))
    }
}

impl TryFrom<String> for DivisionCode {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DivisionCode> for String {
    fn from(c: DivisionCode) -> String {
        c.0
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every name each code has had, oldest first.
static DIVISIONS: LazyLock<HashMap<String, Vec<Division>>> = LazyLock::new(|| {
    let mut map: HashMap<String, Vec<Division>> = HashMap::new();
    for row in TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let d = parse_row(row).unwrap_or_else(|| panic!("bad line in gbt2260.tsv: {row}"));
        map.entry(d.code.0.clone()).or_default().push(d);
    }
    map
});

fn parse_row(line: &str) -> Option<Division> {
    let mut cols = line.split('\t');
    let code = DivisionCode::parse(cols.next()?).ok()?;
    let name = cols.next()?.to_string();
    let year = |s: Option<&str>| -> Option<Option<u16>> {
        match s.unwrap_or("") {
            "" => Some(None),
            y => y.parse().ok().map(Some),
        }
    };
    let since = year(cols.next())?;
    let abolished = year(cols.next())?;
    let successor = match cols.next().unwrap_or("") {
        "" => None,
        s => Some(DivisionCode::parse(s).ok()?),
    };
    Some(Division {
        level: code.level(),
        code,
        name,
        since,
        abolished,
        successor,
    })
}

/// Looks a code up: its name in force, or, for a code no longer in force, its last name with the
/// year it ended and its successor.
pub fn lookup(code: &DivisionCode) -> Option<Division> {
    let names = DIVISIONS.get(code.as_str())?;
    names
        .iter()
        .filter(|d| d.abolished.is_none())
        .max_by_key(|d| d.since)
        .or_else(|| names.iter().max_by_key(|d| d.abolished))
        .cloned()
}

/// Every name a code has had, oldest first (empty for a code that never existed).
pub fn history(code: &DivisionCode) -> &'static [Division] {
    DIVISIONS
        .get(code.as_str())
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// True if the code's first two digits name a province-level unit.
pub fn province_known(code: &DivisionCode) -> bool {
    DIVISIONS.contains_key(code.province().as_str())
}

/// All divisions whose code starts with `prefix` and that are current, sorted by code.
pub fn current_under(prefix: &str) -> Vec<&'static Division> {
    let mut v: Vec<_> = DIVISIONS
        .values()
        .flatten()
        .filter(|d| d.abolished.is_none() && d.code.0.starts_with(prefix))
        .collect();
    v.sort_by(|a, b| a.code.cmp(&b.code));
    v
}

/// Parses a code and requires it to be in the tables.
pub fn parse_known(s: &str) -> Result<Division, Invalid> {
    let code = DivisionCode::parse(s)?;
    lookup(&code).ok_or_else(|| {
        Invalid::new(
            "unknown_division",
            format!("division code {s} is not in the GB/T 2260 table"),
        )
    })
}
