//! Comparisons that linking weighs (Fellegi–Sunter levels), made for Chinese records: names are
//! compared after folding width, spaces and traditional characters, then by toneless pinyin (a
//! homophone typed by a clerk — 张伟/张玮 — is the same sound), then by Jaro–Winkler on the pinyin;
//! dates allow a day/month swap and small slips.

use chrono::{Datelike, NaiveDate};
use pinyin::ToPinyin;
use serde::{Deserialize, Serialize};

/// How two names compare, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameLevel {
    /// Written the same.
    Exact,
    /// The same once spaces, width and traditional characters are folded.
    Folded,
    /// The same sound (toneless pinyin).
    Pinyin,
    /// Close: Jaro–Winkler of the pinyin at least [`SIMILAR`].
    Similar,
    Different,
    /// One side has no name.
    Missing,
}

/// Jaro–Winkler on pinyin from which two names count as similar.
pub const SIMILAR: f64 = 0.9;

/// A name in one canonical writing: no spaces (also U+3000), half-width, simplified characters.
pub fn fold_name(s: &str) -> String {
    let folded: String = yishu_types::text::fold_width(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    fast2s::convert(&folded)
}

/// Toneless pinyin syllables joined by nothing (张伟 → zhangwei); other characters lower-cased.
pub fn pinyin_of(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        match c.to_pinyin() {
            Some(p) => out.push_str(p.plain()),
            None => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Compares two names.
pub fn name_level(a: &str, b: &str) -> NameLevel {
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() || b.is_empty() {
        return NameLevel::Missing;
    }
    if a == b {
        return NameLevel::Exact;
    }
    let (fa, fb) = (fold_name(a), fold_name(b));
    if fa == fb {
        return NameLevel::Folded;
    }
    let (pa, pb) = (pinyin_of(&fa), pinyin_of(&fb));
    if pa == pb {
        return NameLevel::Pinyin;
    }
    if strsim::jaro_winkler(&pa, &pb) >= SIMILAR {
        NameLevel::Similar
    } else {
        NameLevel::Different
    }
}

/// How two dates compare, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateLevel {
    Exact,
    /// Day and month swapped (03-04 for 04-03), or one digit slipped in the same year.
    Slip,
    /// Within `tolerance` days.
    Near,
    Different,
    Missing,
}

/// Compares two dates; `tolerance` days count as near (registration dates of one event differ by
/// the days between the event and its recording).
pub fn date_level(a: Option<NaiveDate>, b: Option<NaiveDate>, tolerance: i64) -> DateLevel {
    let (Some(a), Some(b)) = (a, b) else {
        return DateLevel::Missing;
    };
    if a == b {
        return DateLevel::Exact;
    }
    let swapped = a.year() == b.year() && a.month() == b.day() && a.day() == b.month();
    let one_digit = {
        let (x, y) = (
            a.format("%Y%m%d").to_string(),
            b.format("%Y%m%d").to_string(),
        );
        x.bytes().zip(y.bytes()).filter(|(p, q)| p != q).count() == 1
    };
    if swapped || (one_digit && a.year() == b.year()) {
        return DateLevel::Slip;
    }
    if (a - b).num_days().abs() <= tolerance {
        DateLevel::Near
    } else {
        DateLevel::Different
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    #[test]
    fn names_fold_sound_and_differ() {
        assert_eq!(name_level("张伟", "张伟"), NameLevel::Exact);
        assert_eq!(name_level("张 伟", "张伟"), NameLevel::Folded);
        assert_eq!(name_level("張偉", "张伟"), NameLevel::Folded);
        assert_eq!(name_level("张玮", "张伟"), NameLevel::Pinyin);
        assert_eq!(name_level("张伟", "李娜"), NameLevel::Different);
        assert_eq!(name_level("", "李娜"), NameLevel::Missing);
        assert_eq!(pinyin_of("张伟A"), "zhangweia");
    }

    /// Every traditional spelling and homophone the synthetic city injects is recognised.
    #[test]
    fn the_generators_name_problems_are_seen() {
        // (A character written the same in both scripts is never substituted.)
        for (simplified, traditional) in
            yishu_gen::names::TRADITIONAL.iter().filter(|(s, t)| s != t)
        {
            let name = format!("王{simplified}");
            let written = format!("王{traditional}");
            assert_eq!(
                name_level(&written, &name),
                NameLevel::Folded,
                "{written} vs {name}"
            );
        }
        for (a, b) in yishu_gen::names::HOMOPHONES {
            let (x, y) = (format!("李{a}"), format!("李{b}"));
            assert!(
                name_level(&x, &y) <= NameLevel::Pinyin,
                "{x} vs {y}: {:?}",
                name_level(&x, &y)
            );
        }
    }

    #[test]
    fn dates_allow_slips() {
        assert_eq!(
            date_level(d("1980-03-04"), d("1980-03-04"), 0),
            DateLevel::Exact
        );
        assert_eq!(
            date_level(d("1980-03-04"), d("1980-04-03"), 0),
            DateLevel::Slip
        );
        assert_eq!(
            date_level(d("1980-03-04"), d("1980-03-07"), 0),
            DateLevel::Slip
        );
        assert_eq!(
            date_level(d("1980-03-04"), d("1980-05-20"), 90),
            DateLevel::Near
        );
        assert_eq!(
            date_level(d("1980-03-04"), d("1991-07-20"), 30),
            DateLevel::Different
        );
        assert_eq!(date_level(None, d("1991-07-20"), 30), DateLevel::Missing);
    }
}
