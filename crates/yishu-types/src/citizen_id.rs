//! 公民身份号码 (GB 11643-1999): 6-digit division code, 8-digit birth date, 3-digit sequence
//! (odd = male), 1 check character by ISO 7064 MOD 11-2.

use crate::division::{self, DivisionCode};
use crate::error::Invalid;
use crate::text::{fold_identifier, has_control, quote_for_message};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// A valid 18-character citizen ID number. Constructing one proves the check character, the birth
/// date and the division prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CitizenId(String);

/// Sex encoded by the 17th digit (GB/T 2261.1 codes 1 = male, 2 = female).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// GB/T 2261.1 code.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
        }
    }
}

/// The check character for the first 17 digits. The caller guarantees 17 ASCII digits.
pub fn check_char(first17: &[u8]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize] as char
}

/// Eight ASCII digits `yyyymmdd` as a calendar date (no format-string parsing: this runs per
/// value on millions of rows).
fn ymd8(d: &str) -> Option<NaiveDate> {
    let b = d.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |s: &[u8]| s.iter().fold(0u32, |n, c| n * 10 + (c - b'0') as u32);
    NaiveDate::from_ymd_opt(num(&b[..4]) as i32, num(&b[4..6]), num(&b[6..]))
}

impl CitizenId {
    /// Strict parse: exactly 18 characters as stored by a clean system (uppercase X, no spaces).
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.is_empty() {
            return Err(Invalid::new("empty", "citizen ID is empty"));
        }
        if has_control(s) {
            return Err(Invalid::new(
                "control_char",
                format!(
                    "citizen ID {} contains a control character",
                    quote_for_message(s)
                ),
            ));
        }
        let n = s.chars().count();
        if n != 18 {
            return Err(Invalid::new(
                "bad_length",
                format!(
                    "citizen ID {} has {n} characters, expected 18",
                    quote_for_message(s)
                ),
            ));
        }
        let b = s.as_bytes();
        if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
            return Err(Invalid::new(
                "bad_char",
                format!(
                    "citizen ID {} must be 17 ASCII digits and a digit or X",
                    quote_for_message(s)
                ),
            ));
        }
        let last = b[17];
        if !(last.is_ascii_digit() || last == b'X') {
            return Err(Invalid::new(
                "bad_char",
                format!(
                    "citizen ID {} ends in '{}', expected a digit or uppercase X",
                    quote_for_message(s),
                    last as char
                ),
            ));
        }
        Self::check_body(s)?;
        let want = check_char(&b[..17]);
        if last as char != want {
            return Err(Invalid::new(
                "bad_check_digit",
                format!(
                    "citizen ID {} has check character '{}', expected '{want}'",
                    quote_for_message(s),
                    last as char
                ),
            ));
        }
        Ok(CitizenId(s.to_string()))
    }

    /// Lenient parse for values typed by people: folds full-width characters, removes spaces,
    /// upper-cases x, and upgrades a 15-digit legacy number to 18 digits.
    pub fn parse_lenient(s: &str) -> Result<Self, Invalid> {
        if has_control(s) {
            return Self::parse(s);
        }
        let folded = fold_identifier(s);
        if folded.len() == 15 && folded.bytes().all(|c| c.is_ascii_digit()) {
            return Self::upgrade15(&folded);
        }
        Self::parse(&folded)
    }

    /// Upgrades a 15-digit number (issued before 1999: 2-digit year, no check) to 18 digits.
    pub fn upgrade15(s: &str) -> Result<Self, Invalid> {
        if s.len() != 15 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(Invalid::new(
                "bad_length",
                format!(
                    "legacy citizen ID {} must be 15 digits",
                    quote_for_message(s)
                ),
            ));
        }
        let mut body = String::with_capacity(18);
        body.push_str(&s[..6]);
        body.push_str("19");
        body.push_str(&s[6..]);
        Self::check_body(&format!("{body}0"))?;
        let c = check_char(body.as_bytes());
        body.push(c);
        Ok(CitizenId(body))
    }

    /// Checks the division prefix and birth date of an 18-character candidate.
    fn check_body(s: &str) -> Result<(), Invalid> {
        let prefix = &s[..6];
        match DivisionCode::parse(prefix) {
            Ok(code) if division::lookup(&code).is_some() => {}
            _ => {
                return Err(Invalid::new(
                    "unknown_division",
                    format!(
                        "citizen ID {} starts with {prefix}, which is not a GB/T 2260 division code",
                        quote_for_message(s)
                    ),
                ));
            }
        }
        let birth = &s[6..14];
        let date = ymd8(birth).ok_or_else(|| {
            Invalid::new(
                "bad_birth_date",
                format!(
                    "citizen ID {} holds birth date {birth}, which is not a real date",
                    quote_for_message(s)
                ),
            )
        })?;
        let year = chrono::Datelike::year(&date);
        if !(1850..=2100).contains(&year) {
            return Err(Invalid::new(
                "bad_birth_date",
                format!(
                    "citizen ID {} holds birth year {year}, outside 1850–2100",
                    quote_for_message(s)
                ),
            ));
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The division where the number was first issued.
    pub fn division(&self) -> DivisionCode {
        DivisionCode(self.0[..6].to_string())
    }

    pub fn birth_date(&self) -> NaiveDate {
        // The constructor proved these 8 digits are a date.
        ymd8(&self.0[6..14]).unwrap_or_default()
    }

    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

impl FromStr for CitizenId {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for CitizenId {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CitizenId> for String {
    fn from(c: CitizenId) -> String {
        c.0
    }
}

impl fmt::Display for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
