//! Dates as Chinese systems write them: 2024-01-02, 2024/1/2, 2024.1.2, 20240102, 2024年1月2日.

use crate::error::Invalid;
use crate::text::{fold_width, has_control, quote_for_message};
use chrono::NaiveDate;

/// Parses one date in any of the common Chinese forms. A time part after the date
/// (`2024-01-02 08:00:00`, `2024-01-02T08:00`) is ignored.
pub fn parse_cn_date(s: &str) -> Result<NaiveDate, Invalid> {
    // ASCII text has nothing to fold: no copy for the common case.
    let folded;
    let t = if s.is_ascii() {
        s
    } else {
        folded = fold_width(s);
        folded.as_str()
    };
    let t = t.trim();
    if t.is_empty() {
        return Err(Invalid::new("empty", "date is empty"));
    }
    if has_control(t) || t.len() > 40 {
        return Err(Invalid::new(
            "bad_format",
            format!("date {} is not a date", quote_for_message(s)),
        ));
    }
    let date_part = t.split([' ', 'T']).next().unwrap_or(t);
    let (y, m, d) = split_ymd(date_part).ok_or_else(|| {
        Invalid::new(
            "bad_format",
            format!(
                "date {} is not in a known form (2024-01-02, 2024/1/2, 20240102, 2024年1月2日)",
                quote_for_message(s)
            ),
        )
    })?;
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| {
        Invalid::new(
            "bad_date",
            format!(
                "date {} does not exist in the calendar",
                quote_for_message(s)
            ),
        )
    })
}

fn split_ymd(s: &str) -> Option<(i32, u32, u32)> {
    let b = s.as_bytes();
    let num = |d: &[u8]| d.iter().fold(0u32, |n, c| n * 10 + (c - b'0') as u32);
    // yyyy-mm-dd, the form almost every value has: read without splitting.
    if b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return Some((num(&b[..4]) as i32, num(&b[5..7]), num(&b[8..])));
    }
    if s.len() == 8 && s.bytes().all(|c| c.is_ascii_digit()) {
        return Some((
            s[..4].parse().ok()?,
            s[4..6].parse().ok()?,
            s[6..].parse().ok()?,
        ));
    }
    let s = s.strip_suffix('日').unwrap_or(s);
    let parts: Vec<&str> = s.split(['-', '/', '.', '年', '月']).collect();
    if parts.len() != 3 {
        return None;
    }
    let digits = |p: &str, max: usize| -> Option<u32> {
        if p.is_empty() || p.len() > max || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    if parts[0].len() != 4 {
        return None;
    }
    let y = digits(parts[0], 4)? as i32;
    Some((y, digits(parts[1], 2)?, digits(parts[2], 2)?))
}
