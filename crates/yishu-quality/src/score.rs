//! Quality scores on the GB/T 36344 dimensions: each rule's pass rate (1 − failed / checked),
//! weighted by the rule's importance, averaged per dimension; the total weighs the dimensions by
//! the bureau's weights. A department's score weighs its resources by their records.

use crate::rule::{Dimension, Level};
use std::collections::BTreeMap;

/// One rule's result as scoring sees it.
pub struct Scored {
    pub dimension: Dimension,
    pub importance: Level,
    pub checked: u64,
    pub failed: u64,
}

fn importance_weight(l: Level) -> f64 {
    match l {
        Level::Low => 1.0,
        Level::Medium => 2.0,
        Level::High => 3.0,
    }
}

/// Score (0–100) per dimension that has at least one result.
pub fn dimensions(results: &[Scored]) -> BTreeMap<Dimension, f64> {
    let mut sums: BTreeMap<Dimension, (f64, f64)> = BTreeMap::new();
    for r in results.iter().filter(|r| r.checked > 0) {
        let pass = 1.0 - (r.failed.min(r.checked) as f64 / r.checked as f64);
        let w = importance_weight(r.importance);
        let e = sums.entry(r.dimension).or_default();
        e.0 += w * pass;
        e.1 += w;
    }
    sums.into_iter()
        .map(|(d, (s, w))| (d, (100.0 * s / w * 100.0).round() / 100.0))
        .collect()
}

/// The total: dimension scores weighted by `weights` (a dimension not listed weighs 1). `None`
/// when no dimension was measured: a batch no rule looked at has no score (未评估), never 100.
pub fn total(scores: &BTreeMap<Dimension, f64>, weights: &[(String, f64)]) -> Option<f64> {
    let weight = |d: Dimension| {
        weights
            .iter()
            .find(|(k, _)| k == d.as_str())
            .map_or(1.0, |(_, w)| *w)
    };
    let (mut s, mut w) = (0.0, 0.0);
    for (&d, &v) in scores {
        s += weight(d) * v;
        w += weight(d);
    }
    (w > 0.0).then(|| (s / w * 100.0).round() / 100.0)
}

/// A weighted mean of (score, records) pairs: a department's score from its resources' measured
/// scores (pass only those); `None` when there are none.
pub fn weighted_by_records(parts: &[(f64, u64)]) -> Option<f64> {
    let n: u64 = parts.iter().map(|p| p.1.max(1)).sum();
    if parts.is_empty() {
        return None;
    }
    let s: f64 = parts.iter().map(|p| p.0 * p.1.max(1) as f64).sum();
    Some((s / n as f64 * 100.0).round() / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_scores() {
        let r = [
            Scored {
                dimension: Dimension::Completeness,
                importance: Level::High,
                checked: 100,
                failed: 10,
            },
            Scored {
                dimension: Dimension::Completeness,
                importance: Level::Low,
                checked: 100,
                failed: 0,
            },
            Scored {
                dimension: Dimension::Accuracy,
                importance: Level::Medium,
                checked: 100,
                failed: 50,
            },
        ];
        let d = dimensions(&r);
        // (3 × 0.9 + 1 × 1.0) / 4 = 0.925
        assert_eq!(d[&Dimension::Completeness], 92.5);
        assert_eq!(d[&Dimension::Accuracy], 50.0);
        assert_eq!(total(&d, &[]), Some(71.25));
        // (92.5 + 3 × 50) / 4 = 60.625, rounded to two places.
        assert_eq!(total(&d, &[("accuracy".into(), 3.0)]), Some(60.63));
        // Nothing measured: no score, not 100. A rule that checked no record measures nothing.
        assert_eq!(total(&BTreeMap::new(), &[]), None);
        let idle = [Scored {
            dimension: Dimension::Timeliness,
            importance: Level::High,
            checked: 0,
            failed: 0,
        }];
        assert!(dimensions(&idle).is_empty());
        assert_eq!(weighted_by_records(&[]), None);
        assert_eq!(weighted_by_records(&[(100.0, 1), (50.0, 3)]), Some(62.5));
    }
}
