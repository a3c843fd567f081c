//! Rules judged on a batch as a whole rather than row by row: volatility against the previous
//! batch's profile, and timeliness against the update cycle.

use crate::profile::TableProfile;
use crate::scan::RuleOutcome;

/// Volatility (波动): the batch's row count, or a column's mean (numbers) or distinct count,
/// changed by more than `threshold` relative to the previous batch. No previous batch: passes.
pub fn volatility(
    column: Option<&str>,
    threshold: f64,
    now: &TableProfile,
    before: Option<&TableProfile>,
) -> RuleOutcome {
    let mut out = RuleOutcome {
        checked: 1,
        ran: true,
        ..Default::default()
    };
    let Some(before) = before else {
        out.note = Some("没有上一批次，无法比较".into());
        return out;
    };
    let figure = |p: &TableProfile| -> Option<f64> {
        match column {
            None => Some(p.records as f64),
            Some(c) => {
                let f = p.fields.iter().find(|f| f.name == c)?;
                f.mean
                    .as_deref()
                    .and_then(|m| m.parse::<f64>().ok())
                    .or(Some(f.distinct as f64))
            }
        }
    };
    let (Some(a), Some(b)) = (figure(before), figure(now)) else {
        out.broken = Some(format!("列“{}”没有探查结果", column.unwrap_or_default()));
        return out;
    };
    let change = if a == 0.0 {
        if b == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        (b - a).abs() / a.abs()
    };
    if change > threshold {
        out.failed = 1;
        out.note = Some(format!(
            "由 {a} 变为 {b}，变化 {:.1}%（阈值 {:.1}%）",
            change * 100.0,
            threshold * 100.0
        ));
    }
    out
}

/// Timeliness (及时性): the newest batch is at most `max_days` old at `now` (milliseconds).
pub fn timeliness(max_days: u32, newest_batch_ms: Option<i64>, now_ms: i64) -> RuleOutcome {
    let mut out = RuleOutcome {
        checked: 1,
        ran: true,
        ..Default::default()
    };
    match newest_batch_ms {
        None => {
            out.failed = 1;
            out.note = Some("尚无任何批次".into());
        }
        Some(t) => {
            let days = (now_ms - t) as f64 / 86_400_000.0;
            if days > max_days as f64 {
                out.failed = 1;
                out.note = Some(format!(
                    "最近一批距今 {days:.1} 天，超过更新周期 {max_days} 天"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::table_profile;

    #[test]
    fn volatility_compares_with_the_previous_batch() {
        let a = table_profile("t", 1000, 0, 0, vec![]);
        let b = table_profile("t", 1400, 0, 0, vec![]);
        assert_eq!(volatility(None, 0.3, &b, Some(&a)).failed, 1);
        assert_eq!(volatility(None, 0.5, &b, Some(&a)).failed, 0);
        assert_eq!(volatility(None, 0.5, &b, None).failed, 0);
        assert!(volatility(Some("x"), 0.5, &b, Some(&a)).broken.is_some());
    }

    #[test]
    fn timeliness_counts_days() {
        let day = 86_400_000;
        assert_eq!(timeliness(1, Some(0), day / 2).failed, 0);
        assert_eq!(timeliness(1, Some(0), 3 * day).failed, 1);
        assert_eq!(timeliness(1, None, 0).failed, 1);
    }
}
