//! 行政区划代码 (GB/T 2260): 6 digits, province (2) + prefecture (2) + county (2). Two tables ship
//! inside the binary: the national table with its revisions 2002–2016 (the `gb2260` crate, from the
//! 民政部 publications) and `data/gbt2260.tsv` with later changes and their successors. Abolished
//! codes stay valid for lookup because old records (and citizen IDs) still carry them.

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

/// One row of the GB/T 2260 table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Division {
    pub code: DivisionCode,
    pub name: String,
    pub level: DivisionLevel,
    /// For an abolished code: the year it was abolished and the code that replaced it.
    pub abolished: Option<(u16, String)>,
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

static DIVISIONS: LazyLock<HashMap<String, Division>> = LazyLock::new(|| {
    TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(parse_row)
        .map(|d| (d.code.0.clone(), d))
        .collect()
});

fn parse_row(line: &str) -> Option<Division> {
    let mut cols = line.split('\t');
    let code = DivisionCode::parse(cols.next()?).ok()?;
    let name = cols.next()?.to_string();
    let status = cols.next().unwrap_or("current");
    let abolished = status.strip_prefix("abolished:").and_then(|rest| {
        let (year, successor) = rest.split_once('>')?;
        Some((year.parse().ok()?, successor.to_string()))
    });
    Some(Division {
        level: code.level(),
        code,
        name,
        abolished,
    })
}

/// Looks a code up in the shipped tables: later changes first, then the national table's newest
/// revision, then its older revisions (reported as abolished).
pub fn lookup(code: &DivisionCode) -> Option<Division> {
    if let Some(d) = DIVISIONS.get(code.as_str()) {
        return Some(d.clone());
    }
    if let Some(d) = gb2260::Division::get(code.as_str()) {
        return Some(Division {
            code: code.clone(),
            name: d.name.to_string(),
            level: code.level(),
            abolished: None,
        });
    }
    let old = gb2260::Division::search(code.as_str())?;
    let year = old
        .revision
        .get(..4)
        .and_then(|y| y.parse().ok())
        .unwrap_or(0);
    Some(Division {
        code: code.clone(),
        name: old.name.to_string(),
        level: code.level(),
        abolished: Some((year, String::new())),
    })
}

/// True if the code's first two digits name a province-level unit.
pub fn province_known(code: &DivisionCode) -> bool {
    DIVISIONS.contains_key(code.province().as_str())
}

/// All divisions whose code starts with `prefix` and that are current, sorted by code.
pub fn current_under(prefix: &str) -> Vec<&'static Division> {
    let mut v: Vec<_> = DIVISIONS
        .values()
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
