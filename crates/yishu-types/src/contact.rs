//! Mobile phone numbers (中国大陆 11 digits) and e-mail addresses.

use crate::error::Invalid;
use crate::text::{fold_width, has_control, quote_for_message};
use serde::{Deserialize, Serialize};

/// An 11-digit mainland mobile number starting 13–19, stored without country code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mobile(String);

impl Mobile {
    /// Accepts `13812345678`, `+86 138 1234 5678`, `86-138-1234-5678` and full-width digits.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.trim().is_empty() {
            return Err(Invalid::new("empty", "mobile number is empty"));
        }
        if has_control(s) {
            return Err(Invalid::new(
                "control_char",
                format!(
                    "mobile number {} contains a control character",
                    quote_for_message(s)
                ),
            ));
        }
        let folded = fold_width(s);
        let mut digits: String = folded
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        if let Some(rest) = digits.strip_prefix("+86") {
            digits = rest.to_string();
        } else if digits.len() == 13 && digits.starts_with("86") {
            digits = digits[2..].to_string();
        }
        let b = digits.as_bytes();
        if b.len() != 11 || !b.iter().all(u8::is_ascii_digit) {
            return Err(Invalid::new(
                "bad_format",
                format!("mobile number {} must have 11 digits", quote_for_message(s)),
            ));
        }
        if b[0] != b'1' || !(b'3'..=b'9').contains(&b[1]) {
            return Err(Invalid::new(
                "bad_prefix",
                format!(
                    "mobile number {} must start with 13–19",
                    quote_for_message(s)
                ),
            ));
        }
        Ok(Mobile(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address with a plausible local part and a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Invalid::new("empty", "e-mail address is empty"));
        }
        if has_control(t) || t.chars().any(char::is_whitespace) {
            return Err(Invalid::new(
                "bad_format",
                format!(
                    "e-mail address {} contains spaces or control characters",
                    quote_for_message(s)
                ),
            ));
        }
        if t.len() > 254 {
            return Err(Invalid::new(
                "too_long",
                format!("e-mail address has {} bytes, at most 254 allowed", t.len()),
            ));
        }
        let Some((local, domain)) = t.rsplit_once('@') else {
            return Err(Invalid::new(
                "bad_format",
                format!("e-mail address {} has no '@'", quote_for_message(s)),
            ));
        };
        let domain_ok = domain.contains('.')
            && domain
                .split('.')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(Invalid::new(
                "bad_format",
                format!(
                    "e-mail address {} is not of the form name@domain.tld",
                    quote_for_message(s)
                ),
            ));
        }
        Ok(Email(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
