//! Update schedules of sources (采集周期): five-field cron (`minute hour day month weekday`, with
//! `*`, lists, ranges and `/step`) or `@every 15m` / `@hourly` / `@daily` / `@weekly` /
//! `@monthly`, evaluated in Beijing time (UTC+8), where the departments keep their hours.

use chrono::{DateTime, Datelike, Duration, FixedOffset, TimeZone, Timelike};
use yishu_types::Error;

#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Every(Duration),
    Cron {
        minute: Vec<bool>,
        hour: Vec<bool>,
        day: Vec<bool>,
        month: Vec<bool>,
        weekday: Vec<bool>,
    },
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

fn field(spec: &str, lo: u32, hi: u32, name: &str) -> Result<Vec<bool>, Error> {
    let bad = |why: &str| Error::field("schedule", format!("{name} '{spec}': {why}"));
    let mut on = vec![false; hi as usize + 1];
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>().map_err(|_| bad("step is not a number"))?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err(bad("step must be at least 1"));
        }
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = a.parse().map_err(|_| bad("not a number"))?;
            let b = b.parse().map_err(|_| bad("not a number"))?;
            (a, b)
        } else {
            let a = range.parse().map_err(|_| bad("not a number"))?;
            (a, if part.contains('/') { hi } else { a })
        };
        if a < lo || b > hi || a > b {
            return Err(bad(&format!("values must lie in {lo}–{hi}")));
        }
        for v in (a..=b).step_by(step as usize) {
            on[v as usize] = true;
        }
    }
    Ok(on)
}

impl Schedule {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let cron = match s {
            "@hourly" => "0 * * * *",
            "@daily" => "0 2 * * *",
            "@weekly" => "0 2 * * 1",
            "@monthly" => "0 2 1 * *",
            "@yearly" => "0 2 1 1 *",
            other => other,
        };
        if let Some(d) = cron.strip_prefix("@every") {
            let d = d.trim();
            let (n, unit) = d.split_at(d.find(|c: char| !c.is_ascii_digit()).unwrap_or(d.len()));
            let n: i64 = n.parse().map_err(|_| {
                Error::field(
                    "schedule",
                    format!("'@every {d}': use e.g. 30s, 15m, 2h, 1d"),
                )
            })?;
            let dur = match unit {
                "s" => Duration::seconds(n),
                "m" => Duration::minutes(n),
                "h" => Duration::hours(n),
                "d" => Duration::days(n),
                _ => {
                    return Err(Error::field(
                        "schedule",
                        format!("'@every {d}': use e.g. 30s, 15m, 2h, 1d"),
                    ));
                }
            };
            if n <= 0 {
                return Err(Error::field("schedule", "the interval must be positive"));
            }
            return Ok(Schedule::Every(dur));
        }
        let f: Vec<&str> = cron.split_whitespace().collect();
        if f.len() != 5 {
            return Err(Error::field(
                "schedule",
                format!(
                    "'{s}' is not 'minute hour day month weekday' (five fields) nor @every/@daily/…"
                ),
            ));
        }
        let mut weekday = field(f[4], 0, 7, "weekday")?;
        if weekday[7] {
            weekday[0] = true; // 7 is Sunday too
        }
        Ok(Schedule::Cron {
            minute: field(f[0], 0, 59, "minute")?,
            hour: field(f[1], 0, 23, "hour")?,
            day: field(f[2], 1, 31, "day")?,
            month: field(f[3], 1, 12, "month")?,
            weekday,
        })
    }

    /// The first run strictly after `after_ms` (Unix ms).
    pub fn next_after(&self, after_ms: i64) -> i64 {
        match self {
            Schedule::Every(d) => after_ms + d.num_milliseconds(),
            Schedule::Cron {
                minute,
                hour,
                day,
                month,
                weekday,
            } => {
                let tz = beijing();
                let start: DateTime<FixedOffset> = tz
                    .timestamp_millis_opt(after_ms)
                    .single()
                    .unwrap_or_else(|| tz.timestamp_millis_opt(0).unwrap());
                let mut t = start
                    .with_second(0)
                    .and_then(|t| t.with_nanosecond(0))
                    .unwrap_or(start)
                    + Duration::minutes(1);
                // At most ~5 years of days; a field set that never matches (31 February) stops.
                for _ in 0..(60 * 24 * 366 * 5) {
                    let day_ok = month[t.month() as usize]
                        && day[t.day() as usize]
                        && weekday[t.weekday().num_days_from_sunday() as usize];
                    if !day_ok {
                        t = (t + Duration::days(1))
                            .with_hour(0)
                            .and_then(|t| t.with_minute(0))
                            .unwrap_or(t + Duration::days(1));
                        continue;
                    }
                    if !hour[t.hour() as usize] {
                        t = (t + Duration::hours(1))
                            .with_minute(0)
                            .unwrap_or(t + Duration::hours(1));
                        continue;
                    }
                    if minute[t.minute() as usize] {
                        return t.timestamp_millis();
                    }
                    t += Duration::minutes(1);
                }
                i64::MAX
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn cron_in_beijing_time() {
        let daily = Schedule::parse("30 2 * * *").unwrap();
        assert_eq!(
            daily.next_after(at("2026-11-25T10:00:00+08:00")),
            at("2026-11-26T02:30:00+08:00")
        );
        assert_eq!(
            daily.next_after(at("2026-11-25T02:29:59+08:00")),
            at("2026-11-25T02:30:00+08:00")
        );
        let workdays = Schedule::parse("0 9-17/4 * * 1-5").unwrap();
        // Friday 18:00 → Monday 09:00.
        assert_eq!(
            workdays.next_after(at("2026-11-27T18:00:00+08:00")),
            at("2026-11-30T09:00:00+08:00")
        );
        assert_eq!(
            workdays.next_after(at("2026-11-30T09:00:00+08:00")),
            at("2026-11-30T13:00:00+08:00")
        );
        let monthly = Schedule::parse("@monthly").unwrap();
        assert_eq!(
            monthly.next_after(at("2026-11-25T00:00:00+08:00")),
            at("2026-12-01T02:00:00+08:00")
        );
        let every = Schedule::parse("@every 15m").unwrap();
        assert_eq!(every.next_after(1000), 1000 + 15 * 60_000);
        assert_eq!(
            Schedule::parse("0 0 31 2 *").unwrap().next_after(0),
            i64::MAX
        );
    }

    #[test]
    fn bad_schedules_are_named() {
        for (s, needle) in [
            ("61 * * * *", "minute '61'"),
            ("* * *", "five fields"),
            ("*/0 * * * *", "step must be"),
            ("@every soon", "@every"),
            ("0 25 * * *", "hour '25'"),
        ] {
            let e = Schedule::parse(s).unwrap_err();
            assert!(e.message.contains(needle), "{s}: {}", e.message);
        }
    }
}
