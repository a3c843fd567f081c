//! 统一社会信用代码 (GB 32100-2015) and 组织机构代码 (GB 11714-1997).

use crate::error::Invalid;
use crate::text::{fold_identifier, has_control, quote_for_message};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The 31-character alphabet of GB 32100 (no I, O, S, V, Z).
pub const CREDIT_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// A valid unified social credit code: 18 characters from the GB 32100 alphabet with a MOD 31 check.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

fn credit_value(c: u8) -> Option<u32> {
    CREDIT_ALPHABET
        .iter()
        .position(|&a| a == c)
        .map(|p| p as u32)
}

/// The GB 32100 check character for the first 17 characters (all from the alphabet).
pub fn credit_check_char(first17: &[u8]) -> Option<char> {
    let mut sum = 0;
    for (c, w) in first17.iter().zip(CREDIT_WEIGHTS) {
        sum += credit_value(*c)? * w;
    }
    let v = (31 - sum % 31) % 31;
    Some(CREDIT_ALPHABET[v as usize] as char)
}

fn common_checks(what: &str, s: &str, len: usize) -> Result<(), Invalid> {
    if s.is_empty() {
        return Err(Invalid::new("empty", format!("{what} is empty")));
    }
    if has_control(s) {
        return Err(Invalid::new(
            "control_char",
            format!(
                "{what} {} contains a control character",
                quote_for_message(s)
            ),
        ));
    }
    let n = s.chars().count();
    if n != len {
        return Err(Invalid::new(
            "bad_length",
            format!(
                "{what} {} has {n} characters, expected {len}",
                quote_for_message(s)
            ),
        ));
    }
    Ok(())
}

impl CreditCode {
    /// Strict parse of a stored code.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        const WHAT: &str = "unified social credit code";
        common_checks(WHAT, s, 18)?;
        let b = s.as_bytes();
        if b.len() != 18 {
            return Err(Invalid::new(
                "bad_char",
                format!("{WHAT} {} has non-ASCII characters", quote_for_message(s)),
            ));
        }
        if let Some(pos) = b.iter().position(|&c| credit_value(c).is_none()) {
            return Err(Invalid::new(
                "bad_char",
                format!(
                    "{WHAT} {} has '{}' at position {}, which GB 32100 does not use",
                    quote_for_message(s),
                    b[pos] as char,
                    pos + 1
                ),
            ));
        }
        if !b[2..8].iter().all(u8::is_ascii_digit) {
            return Err(Invalid::new(
                "bad_division",
                format!(
                    "{WHAT} {} must carry a 6-digit division code at positions 3–8",
                    quote_for_message(s)
                ),
            ));
        }
        let want = credit_check_char(&b[..17]).unwrap_or('?');
        if b[17] as char != want {
            return Err(Invalid::new(
                "bad_check_digit",
                format!(
                    "{WHAT} {} has check character '{}', expected '{want}'",
                    quote_for_message(s),
                    b[17] as char
                ),
            ));
        }
        Ok(CreditCode(s.to_string()))
    }

    /// Lenient parse: folds width, drops spaces, upper-cases.
    pub fn parse_lenient(s: &str) -> Result<Self, Invalid> {
        if has_control(s) {
            return Self::parse(s);
        }
        Self::parse(&fold_identifier(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The embedded 9-character 组织机构代码 (positions 9–17).
    pub fn org_code_part(&self) -> &str {
        &self.0[8..17]
    }
}

impl FromStr for CreditCode {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for CreditCode {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CreditCode> for String {
    fn from(c: CreditCode) -> String {
        c.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A valid 9-character organisation code (8 body characters and a MOD 11 check), stored without
/// the hyphen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgCode(String);

fn org_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        _ => None,
    }
}

/// The GB 11714 check character for an 8-character body.
pub fn org_check_char(body: &[u8]) -> Option<char> {
    let mut sum = 0;
    for (c, w) in body.iter().zip(ORG_WEIGHTS) {
        sum += org_value(*c)? * w;
    }
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        v => char::from_digit(v, 10).unwrap_or('?'),
    })
}

impl OrgCode {
    /// Parses `XXXXXXXX-C` or `XXXXXXXXC`.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        const WHAT: &str = "organisation code";
        let compact: String = if s.len() == 10 && s.as_bytes().get(8) == Some(&b'-') {
            s.replacen('-', "", 1)
        } else {
            s.to_string()
        };
        common_checks(WHAT, &compact, 9)?;
        let b = compact.as_bytes();
        if b.len() != 9
            || !b[..8].iter().all(|&c| org_value(c).is_some())
            || !(b[8].is_ascii_digit() || b[8] == b'X')
        {
            return Err(Invalid::new(
                "bad_char",
                format!(
                    "{WHAT} {} must be 8 digits or uppercase letters and a check character",
                    quote_for_message(s)
                ),
            ));
        }
        let want = org_check_char(&b[..8]).unwrap_or('?');
        if b[8] as char != want {
            return Err(Invalid::new(
                "bad_check_digit",
                format!(
                    "{WHAT} {} has check character '{}', expected '{want}'",
                    quote_for_message(s),
                    b[8] as char
                ),
            ));
        }
        Ok(OrgCode(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrgCode {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<OrgCode> for String {
    fn from(c: OrgCode) -> String {
        c.0
    }
}

impl fmt::Display for OrgCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", &self.0[..8], &self.0[8..])
    }
}
