//! A grant's rate limits: requests per minute and rows per day, counted per grant in fixed
//! windows. The counters live in the serving process (a cache: a restart forgets at most a
//! minute's and a day's counts, never a grant's terms); a refusal says when to come back.

use std::collections::HashMap;
use std::sync::Mutex;
use yishu_types::{Error, ErrorCode};

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    minute: i64,
    requests: i64,
    day: i64,
    rows: i64,
}

/// Counters of every grant read through this process.
#[derive(Debug, Default)]
pub struct Limiter {
    windows: Mutex<HashMap<i64, Window>>,
}

/// A refusal for going over a limit, with the seconds until the window turns.
pub fn limited(msg: String, retry_after_s: i64) -> Error {
    Error::new(
        ErrorCode::RateLimited,
        format!("{msg}; retry after {retry_after_s} s"),
    )
}

impl Limiter {
    /// Takes one request of grant `id` at `now`, refusing it over `per_minute` requests in this
    /// minute or when `rows_per_day` rows were already read today. Returns the rows left today.
    pub fn request(
        &self,
        id: i64,
        now: i64,
        per_minute: i64,
        rows_per_day: i64,
    ) -> Result<i64, (Error, i64)> {
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let e = w.entry(id).or_default();
        let (minute, day) = (now / MINUTE, now / DAY);
        if e.minute != minute {
            e.minute = minute;
            e.requests = 0;
        }
        if e.day != day {
            e.day = day;
            e.rows = 0;
        }
        if e.rows >= rows_per_day {
            let wait = ((day + 1) * DAY - now + 999) / 1000;
            return Err((
                limited(
                    format!("grant {id} has read its {rows_per_day} rows for today"),
                    wait,
                ),
                wait,
            ));
        }
        if e.requests >= per_minute {
            let wait = ((minute + 1) * MINUTE - now + 999) / 1000;
            return Err((
                limited(
                    format!("grant {id} allows {per_minute} requests a minute"),
                    wait,
                ),
                wait,
            ));
        }
        e.requests += 1;
        Ok(rows_per_day - e.rows)
    }

    /// Takes one call of app `id` at `now`, refusing it over `per_minute` calls in this minute
    /// (0: no app limit). An app's counters are kept apart from the grants' (its own limiter).
    pub fn app_call(&self, id: i64, now: i64, per_minute: i64) -> Result<(), Error> {
        if per_minute <= 0 {
            return Ok(());
        }
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let e = w.entry(id).or_default();
        let minute = now / MINUTE;
        if e.minute != minute {
            e.minute = minute;
            e.requests = 0;
        }
        if e.requests >= per_minute {
            let wait = ((minute + 1) * MINUTE - now + 999) / 1000;
            return Err(limited(
                format!("app {id} allows {per_minute} calls a minute"),
                wait,
            ));
        }
        e.requests += 1;
        Ok(())
    }

    /// Counts rows read through grant `id` today.
    pub fn rows(&self, id: i64, n: i64) {
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        w.entry(id).or_default().rows += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_rows_are_limited_per_window() {
        let l = Limiter::default();
        let t = 1_000 * MINUTE + 500;
        assert!(l.request(1, t, 2, 100).is_ok());
        assert!(l.request(1, t, 2, 100).is_ok());
        let (e, wait) = l.request(1, t + 1, 2, 100).unwrap_err();
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert_eq!(wait, 60);
        assert!(l.request(2, t, 2, 100).is_ok(), "grants count apart");
        assert!(l.request(1, t + MINUTE, 2, 100).is_ok(), "a new minute");
        l.rows(1, 100);
        let (_, wait) = l.request(1, t + MINUTE, 1000, 100).unwrap_err();
        assert!(wait > 60, "waits for tomorrow");
    }

    #[test]
    fn app_calls_are_limited_per_minute() {
        let l = Limiter::default();
        let t = 7 * MINUTE + 30_000;
        assert!(l.app_call(9, t, 0).is_ok(), "0 is no app limit");
        assert!(l.app_call(9, t, 1).is_ok());
        let e = l.app_call(9, t + 5, 1).unwrap_err();
        assert!(e.message.ends_with("retry after 30 s"), "{}", e.message);
        assert!(l.app_call(9, t + MINUTE, 1).is_ok());
    }
}
