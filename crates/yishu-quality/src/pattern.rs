//! The representation pattern (表示格式) of one value, found by looking at its bytes (no regex per
//! value: profiling classifies every cell of millions of rows). Each pattern has a regex a person can
//! read and a format rule can reuse.

use serde::{Deserialize, Serialize};

/// The shapes the profiler recognises, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// 公民身份号码 shape: 17 digits and a digit or X.
    CitizenId,
    /// 统一社会信用代码 shape: 18 characters of the code's alphabet with at least one letter.
    CreditCode,
    /// A mainland mobile number: 11 digits starting 1[3-9].
    Mobile,
    /// yyyy-mm-dd
    DateIso,
    /// yyyymmdd
    DateCompact,
    /// yyyy/m/d
    DateSlash,
    /// yyyy.m.d
    DateDot,
    /// yyyy年m月d日
    DateChinese,
    /// yyyy-mm-dd hh:mm[:ss]
    DateTime,
    Integer,
    Decimal,
    Email,
    Text,
}

impl Pattern {
    pub const ALL: [Pattern; 13] = [
        Pattern::CitizenId,
        Pattern::CreditCode,
        Pattern::Mobile,
        Pattern::DateIso,
        Pattern::DateCompact,
        Pattern::DateSlash,
        Pattern::DateDot,
        Pattern::DateChinese,
        Pattern::DateTime,
        Pattern::Integer,
        Pattern::Decimal,
        Pattern::Email,
        Pattern::Text,
    ];

    /// A regex for the pattern, usable in a format rule.
    pub fn regex(self) -> &'static str {
        match self {
            Pattern::CitizenId => r"^\d{17}[\dXx]$",
            Pattern::CreditCode => r"^[0-9A-HJ-NPQRTUWXY]{18}$",
            Pattern::Mobile => r"^1[3-9]\d{9}$",
            Pattern::DateIso => r"^\d{4}-\d{2}-\d{2}$",
            Pattern::DateCompact => r"^\d{8}$",
            Pattern::DateSlash => r"^\d{4}/\d{1,2}/\d{1,2}$",
            Pattern::DateDot => r"^\d{4}\.\d{1,2}\.\d{1,2}$",
            Pattern::DateChinese => r"^\d{4}年\d{1,2}月\d{1,2}日$",
            Pattern::DateTime => r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$",
            Pattern::Integer => r"^-?\d+$",
            Pattern::Decimal => r"^-?\d+\.\d+$",
            Pattern::Email => r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            Pattern::Text => r"^.*$",
        }
    }

    /// Chinese label for pages.
    pub fn label_zh(self) -> &'static str {
        match self {
            Pattern::CitizenId => "公民身份号码",
            Pattern::CreditCode => "统一社会信用代码",
            Pattern::Mobile => "手机号码",
            Pattern::DateIso => "日期 yyyy-mm-dd",
            Pattern::DateCompact => "日期 yyyymmdd",
            Pattern::DateSlash => "日期 yyyy/m/d",
            Pattern::DateDot => "日期 yyyy.m.d",
            Pattern::DateChinese => "日期 yyyy年m月d日",
            Pattern::DateTime => "日期时间",
            Pattern::Integer => "整数",
            Pattern::Decimal => "小数",
            Pattern::Email => "电子邮箱",
            Pattern::Text => "文本",
        }
    }

    pub fn is_date(self) -> bool {
        matches!(
            self,
            Pattern::DateIso
                | Pattern::DateCompact
                | Pattern::DateSlash
                | Pattern::DateDot
                | Pattern::DateChinese
                | Pattern::DateTime
        )
    }

    pub fn is_number(self) -> bool {
        matches!(self, Pattern::Integer | Pattern::Decimal)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

fn digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

fn month_day_ok(m: u32, d: u32) -> bool {
    (1..=12).contains(&m) && (1..=31).contains(&d)
}

fn num(b: &[u8]) -> u32 {
    b.iter().fold(0, |a, &c| a * 10 + (c - b'0') as u32)
}

/// Splits `y<sep>m<sep>d` with 1–2 digit month and day; returns (y, m, d).
fn ymd(b: &[u8], sep: u8) -> Option<(u32, u32, u32)> {
    let mut parts = b.split(|&c| c == sep);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || y.len() != 4
        || !(1..=2).contains(&m.len())
        || !(1..=2).contains(&d.len())
        || !digits(y)
        || !digits(m)
        || !digits(d)
    {
        return None;
    }
    Some((num(y), num(m), num(d)))
}

/// Classifies one non-empty, trimmed value.
pub fn classify(s: &str) -> Pattern {
    let b = s.as_bytes();
    let n = b.len();
    if n == 0 {
        return Pattern::Text;
    }
    let first = b[0];
    if first.is_ascii_digit() || first == b'-' {
        if digits(b) {
            if n == 18 {
                return Pattern::CitizenId;
            }
            if n == 11 && first == b'1' && (b'3'..=b'9').contains(&b[1]) {
                return Pattern::Mobile;
            }
            if n == 8
                && month_day_ok(num(&b[4..6]), num(&b[6..8]))
                && (1800..2200).contains(&num(&b[..4]))
            {
                return Pattern::DateCompact;
            }
            return Pattern::Integer;
        }
        if n == 18 && digits(&b[..17]) && (b[17] == b'X' || b[17] == b'x') {
            return Pattern::CitizenId;
        }
        if n == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && ymd(b, b'-').is_some_and(|(_, m, d)| month_day_ok(m, d))
        {
            return Pattern::DateIso;
        }
        if (16..=19).contains(&n) && (b[10] == b' ' || b[10] == b'T') {
            let (date, time) = (&b[..10], &b[11..]);
            if ymd(date, b'-').is_some_and(|(_, m, d)| month_day_ok(m, d))
                && time.len() >= 5
                && time[2] == b':'
                && digits(&time[..2])
                && digits(&time[3..5])
                && (time.len() == 5 || (time.len() == 8 && time[5] == b':' && digits(&time[6..8])))
            {
                return Pattern::DateTime;
            }
        }
        if b.contains(&b'/') {
            if ymd(b, b'/').is_some_and(|(_, m, d)| month_day_ok(m, d)) {
                return Pattern::DateSlash;
            }
        } else if b.contains(&b'.') {
            if ymd(b, b'.').is_some_and(|(_, m, d)| month_day_ok(m, d)) {
                return Pattern::DateDot;
            }
            let body = b.strip_prefix(b"-").unwrap_or(b);
            if let Some((i, f)) = std::str::from_utf8(body)
                .ok()
                .and_then(|t| t.split_once('.'))
                && digits(i.as_bytes())
                && digits(f.as_bytes())
            {
                return Pattern::Decimal;
            }
        } else if first == b'-' && digits(&b[1..]) {
            return Pattern::Integer;
        } else if s.contains('年') {
            let t = s.replace(['年', '月'], "-");
            if let Some(t) = t.strip_suffix('日')
                && ymd(t.as_bytes(), b'-').is_some_and(|(_, m, d)| month_day_ok(m, d))
            {
                return Pattern::DateChinese;
            }
        }
        if n == 18 && is_credit_shape(b) {
            return Pattern::CreditCode;
        }
        return email_or_text(b);
    }
    if n == 18 && is_credit_shape(b) {
        return Pattern::CreditCode;
    }
    email_or_text(b)
}

fn is_credit_shape(b: &[u8]) -> bool {
    b.iter().all(|&c| {
        c.is_ascii_digit()
            || (c.is_ascii_uppercase() && !matches!(c, b'I' | b'O' | b'S' | b'V' | b'Z'))
    }) && b.iter().any(u8::is_ascii_uppercase)
}

fn email_or_text(b: &[u8]) -> Pattern {
    if let Some(at) = b.iter().position(|&c| c == b'@')
        && at > 0
        && b[at + 1..].contains(&b'.')
        && !b[at + 1..].contains(&b'@')
        && !b.iter().any(u8::is_ascii_whitespace)
        && !b.ends_with(b".")
    {
        return Pattern::Email;
    }
    Pattern::Text
}

/// Days since 1970-01-01 of a date-shaped value, for min/max/mean/quantiles of date columns.
pub fn date_days(s: &str, p: Pattern) -> Option<i32> {
    let b = s.as_bytes();
    let (y, m, d) = match p {
        Pattern::DateIso => ymd(b, b'-')?,
        Pattern::DateTime => ymd(&b[..10], b'-')?,
        Pattern::DateCompact => (num(&b[..4]), num(&b[4..6]), num(&b[6..8])),
        Pattern::DateSlash => ymd(b, b'/')?,
        Pattern::DateDot => ymd(b, b'.')?,
        Pattern::DateChinese => {
            let t = s.replace(['年', '月'], "-");
            ymd(t.strip_suffix('日')?.as_bytes(), b'-')?
        }
        _ => return None,
    };
    let date = chrono::NaiveDate::from_ymd_opt(y as i32, m, d)?;
    Some((date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32)
}

/// The date a day number stands for, as yyyy-mm-dd.
pub fn days_to_string(days: i32) -> String {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|e| e.checked_add_signed(chrono::TimeDelta::days(days as i64)))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let cases = [
            ("11010519491231002X", Pattern::CitizenId),
            ("110105194912310021", Pattern::CitizenId),
            ("91350100M000100Y43", Pattern::CreditCode),
            ("13800138000", Pattern::Mobile),
            ("2024-03-05", Pattern::DateIso),
            ("20240305", Pattern::DateCompact),
            ("2024/3/5", Pattern::DateSlash),
            ("2024.03.05", Pattern::DateDot),
            ("2024年3月5日", Pattern::DateChinese),
            ("2024-03-05 08:30:00", Pattern::DateTime),
            ("42", Pattern::Integer),
            ("-7", Pattern::Integer),
            ("3.25", Pattern::Decimal),
            ("-0.5", Pattern::Decimal),
            ("a.b@gov.cn", Pattern::Email),
            ("张三", Pattern::Text),
            ("2024-13-05", Pattern::Text),
            ("20241305", Pattern::Integer),
            ("1.2.3.4", Pattern::Text),
        ];
        for (v, want) in cases {
            assert_eq!(classify(v), want, "{v}");
            if want != Pattern::Text {
                let re = regex::Regex::new(want.regex()).unwrap();
                assert!(re.is_match(v), "{v} should match {}", want.regex());
            }
        }
    }

    #[test]
    fn date_numbers() {
        let a = date_days("2024-03-05", Pattern::DateIso).unwrap();
        assert_eq!(date_days("2024年3月5日", Pattern::DateChinese), Some(a));
        assert_eq!(date_days("20240305", Pattern::DateCompact), Some(a));
        assert_eq!(days_to_string(a), "2024-03-05");
        assert_eq!(date_days("2023-02-30", Pattern::DateIso), None);
    }
}
