//! Working days in China, for the deadlines of sharing steps: Monday to Friday, minus public
//! holidays, plus the weekend days worked in their place (调休). The calendar is data
//! (`data/holidays-cn.txt`, from the State Council's yearly notice); an installation may load its
//! own file instead.

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, TimeZone, Weekday};
use std::collections::BTreeMap;
use yishu_types::{Error, ErrorCode};

/// The calendar shipped with Yishu.
const SHIPPED: &str = include_str!("../data/holidays-cn.txt");

/// Deadlines fall at the end of a working day, China Standard Time.
fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// Public holidays and adjusted working days.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// true: a working day (调休); false: a holiday.
    days: BTreeMap<NaiveDate, bool>,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar::parse(SHIPPED).expect("the shipped calendar parses")
    }
}

impl Calendar {
    /// The shipped calendar, parsed once per process.
    pub fn shipped() -> &'static Calendar {
        static SHIPPED_CALENDAR: std::sync::LazyLock<Calendar> =
            std::sync::LazyLock::new(Calendar::default);
        &SHIPPED_CALENDAR
    }

    /// Reads lines of `YYYY-MM-DD off|work name`; `#` starts a comment.
    pub fn parse(text: &str) -> Result<Calendar, Error> {
        let mut days = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |why: &str| {
                Error::new(
                    ErrorCode::ConfigInvalid,
                    format!("holiday calendar line {}: {why}: '{line}'", n + 1),
                )
            };
            let mut parts = line.split_whitespace();
            let date = parts
                .next()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .ok_or_else(|| bad("expected a date YYYY-MM-DD first"))?;
            let work = match parts.next() {
                Some("off") => false,
                Some("work") => true,
                _ => return Err(bad("expected `off` or `work` after the date")),
            };
            days.insert(date, work);
        }
        Ok(Calendar { days })
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        match self.days.get(&d) {
            Some(&work) => work,
            None => !matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// The end (24:00 CST) of the `n`th working day after the day of `from_ms`, in milliseconds.
    pub fn deadline(&self, from_ms: i64, n: u32) -> i64 {
        let start: DateTime<FixedOffset> = cst()
            .timestamp_millis_opt(from_ms)
            .single()
            .unwrap_or_else(|| cst().timestamp_millis_opt(0).unwrap());
        let mut day = start.date_naive();
        let mut left = n;
        while left > 0 {
            day = day + Days::new(1);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        let end = day + Days::new(1);
        cst()
            .from_local_datetime(&end.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .single()
            .map_or(from_ms, |t| t.timestamp_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(y: i32, m: u32, d: u32, h: u32) -> i64 {
        cst()
            .with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn five_working_days_skip_weekends_and_holidays() {
        let c = Calendar::default();
        // Monday 2026-12-07 → Monday 2026-12-14 ends the fifth working day.
        assert_eq!(c.deadline(ms(2026, 12, 7, 10), 5), ms(2026, 12, 15, 0));
        // Applied on Friday 2026-09-18: 21 22 23 24 (Mon–Thu) and Sunday 20 (调休) — the 25th is
        // 中秋节, so the fifth working day is Thursday the 24th.
        assert_eq!(c.deadline(ms(2026, 9, 18, 10), 5), ms(2026, 9, 25, 0));
        // Applied on 2026-09-30: 1–7 October are off; the 8th, the 9th and Saturday the 10th
        // (调休) are worked.
        assert_eq!(c.deadline(ms(2026, 9, 30, 10), 3), ms(2026, 10, 11, 0));
        assert!(c.is_working_day(NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()));
        assert!(!c.is_working_day(NaiveDate::from_ymd_opt(2026, 2, 16).unwrap()));
    }

    #[test]
    fn a_malformed_line_names_itself() {
        let e = Calendar::parse("2026-13-01 off 假").unwrap_err();
        assert!(e.message.contains("line 1"));
        assert!(Calendar::parse("2026-01-01 maybe").is_err());
    }
}
