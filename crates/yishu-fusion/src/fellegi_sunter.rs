//! The Fellegi–Sunter model for records without a usable key: each candidate pair is a vector of
//! comparison levels (one per field); `m` is how often a level occurs among true matches, `u` among
//! non-matches; a pair's weight is the sum of log₂(m/u) over its fields. `m`, `u` and the share of
//! matches are estimated by expectation–maximisation from the pairs themselves — no labelled data.
//! Pairs are counted by pattern first (millions of pairs have a few hundred distinct vectors), so
//! each EM round costs the number of patterns, not of pairs.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One field's probabilities per level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldModel {
    pub name: String,
    /// P(level | match).
    pub m: Vec<f64>,
    /// P(level | non-match).
    pub u: Vec<f64>,
    /// A level that says nothing (a missing value): weight 0 whatever m and u are.
    pub neutral: Option<u8>,
    /// m came from known matches and EM leaves it alone.
    #[serde(default)]
    pub fixed_m: bool,
}

/// The fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub fields: Vec<FieldModel>,
    /// The share of candidate pairs that are matches.
    pub prior: f64,
    /// EM rounds run, and whether it converged.
    pub rounds: usize,
    pub converged: bool,
    /// u came from random pairs (nearly all non-matches) and EM leaves it alone — the way a data
    /// team estimates it too; EM alone can mistake one kind of match for the non-matches.
    #[serde(default)]
    pub fixed_u: bool,
    /// The share of matches is known from the blocking (each record has at most one match among
    /// its candidates) and EM leaves it alone: with u fixed and the share free, EM's best answer
    /// would call every pair a match.
    #[serde(default)]
    pub fixed_prior: bool,
}

/// Smallest probability kept, so no level ever has weight ±∞.
const FLOOR: f64 = 1e-6;

/// Distinct comparison vectors with how many pairs have each.
#[derive(Debug, Default, Clone)]
pub struct Patterns {
    counts: HashMap<Vec<u8>, u64>,
}

impl Patterns {
    pub fn add(&mut self, levels: &[u8]) {
        *self.counts.entry(levels.to_vec()).or_default() += 1;
    }

    pub fn add_n(&mut self, levels: &[u8], n: u64) {
        *self.counts.entry(levels.to_vec()).or_default() += n;
    }

    pub fn pairs(&self) -> u64 {
        self.counts.values().sum()
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.counts.iter().map(|(k, &v)| (k.as_slice(), v))
    }
}

/// The shape of the comparison: per field its name, number of levels (0 = best) and the level
/// meaning "missing", if any.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub name: String,
    pub levels: usize,
    pub neutral: Option<u8>,
}

impl Model {
    /// A start for EM: matches mostly agree (level 0), non-matches mostly disagree (last level).
    pub fn start(fields: &[FieldSpec], prior: f64) -> Model {
        let fields = fields
            .iter()
            .map(|f| {
                let n = f.levels.max(2);
                let mut m = vec![0.1 / (n - 1) as f64; n];
                m[0] = 0.9;
                let mut u = vec![0.1 / (n - 1) as f64; n];
                u[n - 1] = 0.9;
                FieldModel {
                    name: f.name.clone(),
                    m,
                    u,
                    neutral: f.neutral,
                    fixed_m: false,
                }
            })
            .collect();
        Model {
            fields,
            prior: prior.clamp(FLOOR, 1.0 - FLOOR),
            rounds: 0,
            converged: false,
            fixed_u: false,
            fixed_prior: false,
        }
    }

    /// Sets u from the comparison vectors of random pairs, and keeps it fixed while fitting.
    pub fn with_u_from(mut self, random: &Patterns) -> Model {
        let total = random.pairs() as f64;
        if total == 0.0 {
            return self;
        }
        for (i, f) in self.fields.iter_mut().enumerate() {
            let mut counts = vec![0.0; f.u.len()];
            for (levels, n) in random.iter() {
                if let Some(c) = levels.get(i).and_then(|l| counts.get_mut(*l as usize)) {
                    *c += n as f64;
                }
            }
            f.u = counts.iter().map(|c| (c / total).max(FLOOR)).collect();
        }
        self.fixed_u = true;
        self
    }

    /// Sets m of the `fields` given from the comparison vectors of pairs known to match (records
    /// that share a valid key), and keeps them fixed while fitting: left free, EM tends to take
    /// "same name" for "same person" when most candidates come from name blocks. The current m
    /// counts as `pseudo` pairs more, so a level the known pairs never show (their records may be
    /// cleaner than those without a key) keeps a plausible share instead of none.
    pub fn with_m_from(mut self, known: &Patterns, fields: &[usize], pseudo: f64) -> Model {
        let total = known.pairs() as f64;
        if total == 0.0 {
            return self;
        }
        for &i in fields {
            let Some(f) = self.fields.get_mut(i) else {
                continue;
            };
            let mut counts = vec![0.0; f.m.len()];
            for (levels, n) in known.iter() {
                if let Some(c) = levels.get(i).and_then(|l| counts.get_mut(*l as usize)) {
                    *c += n as f64;
                }
            }
            f.m = counts
                .iter()
                .zip(&f.m)
                .map(|(c, m)| ((c + pseudo * m) / (total + pseudo)).max(FLOOR))
                .collect();
            f.fixed_m = true;
        }
        self
    }

    /// Keeps the share of matches at `prior` while fitting.
    pub fn with_fixed_prior(mut self, prior: f64) -> Model {
        self.prior = prior.clamp(FLOOR, 1.0 - FLOOR);
        self.fixed_prior = true;
        self
    }

    /// log₂ Bayes factor of one field's level.
    pub fn field_weight(&self, field: usize, level: u8) -> f64 {
        let f = &self.fields[field];
        if f.neutral == Some(level) {
            return 0.0;
        }
        let l = level as usize;
        match (f.m.get(l), f.u.get(l)) {
            (Some(m), Some(u)) => (m.max(FLOOR) / u.max(FLOOR)).log2(),
            _ => 0.0,
        }
    }

    /// The pair's weight: the sum of its fields' weights.
    pub fn weight(&self, levels: &[u8]) -> f64 {
        levels
            .iter()
            .enumerate()
            .map(|(i, &l)| self.field_weight(i, l))
            .sum()
    }

    /// The probability that a pair with these levels is a match, given the prior.
    pub fn probability(&self, levels: &[u8]) -> f64 {
        self.probability_of_weight(self.weight(levels))
    }

    /// The probability that a pair of weight `w` is a match, given the prior.
    pub fn probability_of_weight(&self, w: f64) -> f64 {
        let prior_odds = (self.prior / (1.0 - self.prior)).log2();
        1.0 / (1.0 + (-(w + prior_odds)).exp2())
    }

    /// Fits m, u and the prior by EM over the patterns, from this model as the start. Stops when
    /// no probability moves more than `tolerance`, or after `max_rounds`.
    pub fn fit(mut self, patterns: &Patterns, max_rounds: usize, tolerance: f64) -> Model {
        let total = patterns.pairs() as f64;
        if total == 0.0 {
            return self;
        }
        for round in 1..=max_rounds {
            // E: each pattern's probability of being a match.
            let mut m_sum: Vec<Vec<f64>> =
                self.fields.iter().map(|f| vec![0.0; f.m.len()]).collect();
            let mut u_sum: Vec<Vec<f64>> =
                self.fields.iter().map(|f| vec![0.0; f.u.len()]).collect();
            let (mut matched, mut unmatched) = (0.0, 0.0);
            for (levels, n) in patterns.iter() {
                let g = self.posterior(levels);
                let (wm, wu) = (g * n as f64, (1.0 - g) * n as f64);
                matched += wm;
                unmatched += wu;
                for (i, &l) in levels.iter().enumerate() {
                    if let Some(x) = m_sum[i].get_mut(l as usize) {
                        *x += wm;
                    }
                    if let Some(x) = u_sum[i].get_mut(l as usize) {
                        *x += wu;
                    }
                }
            }
            // M: new m, u and prior.
            let mut moved: f64 = 0.0;
            for (i, f) in self.fields.iter_mut().enumerate() {
                for (probs, sums, fixed) in [
                    (&mut f.m, &m_sum[i], f.fixed_m),
                    (&mut f.u, &u_sum[i], self.fixed_u),
                ] {
                    let whole: f64 = sums.iter().sum();
                    if fixed {
                        continue;
                    }
                    if whole <= 0.0 {
                        continue;
                    }
                    for (p, s) in probs.iter_mut().zip(sums) {
                        let new = (s / whole).max(FLOOR);
                        moved = moved.max((new - *p).abs());
                        *p = new;
                    }
                }
            }
            if !self.fixed_prior {
                let prior = (matched / (matched + unmatched)).clamp(FLOOR, 1.0 - FLOOR);
                moved = moved.max((prior - self.prior).abs());
                self.prior = prior;
            }
            self.rounds = round;
            if moved < tolerance {
                self.converged = true;
                break;
            }
        }
        self
    }

    /// P(match | levels) under the current parameters (the E step).
    fn posterior(&self, levels: &[u8]) -> f64 {
        let (mut pm, mut pu) = (self.prior, 1.0 - self.prior);
        for (i, &l) in levels.iter().enumerate() {
            let f = &self.fields[i];
            pm *= f.m.get(l as usize).copied().unwrap_or(1.0);
            pu *= f.u.get(l as usize).copied().unwrap_or(1.0);
        }
        if pm + pu <= 0.0 { 0.0 } else { pm / (pm + pu) }
    }
}

/// What to do with a pair, by its match probability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Link,
    /// Between the thresholds: a person looks at both records.
    Review,
    NoLink,
}

impl Decision {
    /// The more cautious of two decisions (Link > Review > NoLink).
    pub fn min_with(self, other: Decision) -> Decision {
        let rank = |d: Decision| match d {
            Decision::Link => 2,
            Decision::Review => 1,
            Decision::NoLink => 0,
        };
        if rank(self) <= rank(other) {
            self
        } else {
            other
        }
    }
}

/// Thresholds on the match probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub link: f64,
    pub review: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            link: 0.99,
            review: 0.5,
        }
    }
}

impl Thresholds {
    pub fn decide(&self, p: f64) -> Decision {
        if p >= self.link {
            Decision::Link
        } else if p >= self.review {
            Decision::Review
        } else {
            Decision::NoLink
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator, so the test needs no dependency.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn pick(&mut self, probs: &[f64]) -> u8 {
            let mut r = self.next();
            for (i, p) in probs.iter().enumerate() {
                if r < *p {
                    return i as u8;
                }
                r -= p;
            }
            (probs.len() - 1) as u8
        }
    }

    /// Pairs drawn from known m and u: EM finds them again without labels, and the decisions
    /// it makes are right for nearly every pair.
    #[test]
    fn em_recovers_known_parameters() {
        let true_m = [
            vec![0.92, 0.05, 0.03],
            vec![0.95, 0.05],
            vec![0.85, 0.1, 0.05],
        ];
        let true_u = [
            vec![0.02, 0.08, 0.90],
            vec![0.05, 0.95],
            vec![0.01, 0.04, 0.95],
        ];
        let specs: Vec<FieldSpec> = ["name", "birth", "address"]
            .iter()
            .zip([3, 2, 3])
            .map(|(n, l)| FieldSpec {
                name: n.to_string(),
                levels: l,
                neutral: None,
            })
            .collect();
        let mut rng = Lcg(42);
        let mut patterns = Patterns::default();
        let mut truth = Vec::new();
        for _ in 0..200_000 {
            let is_match = rng.next() < 0.05;
            let table = if is_match { &true_m } else { &true_u };
            let levels: Vec<u8> = table.iter().map(|p| rng.pick(p)).collect();
            patterns.add(&levels);
            truth.push((levels, is_match));
        }
        let model = Model::start(&specs, 0.1).fit(&patterns, 200, 1e-7);
        assert!(model.converged, "{model:?}");
        assert!((model.prior - 0.05).abs() < 0.01, "prior {}", model.prior);
        for (f, (m, u)) in model.fields.iter().zip(true_m.iter().zip(&true_u)) {
            assert!(
                (f.m[0] - m[0]).abs() < 0.03,
                "{}: m {:?} vs {m:?}",
                f.name,
                f.m
            );
            assert!(
                (f.u[0] - u[0]).abs() < 0.01,
                "{}: u {:?} vs {u:?}",
                f.name,
                f.u
            );
        }
        let t = Thresholds {
            link: 0.5,
            review: 0.5,
        };
        let right = truth
            .iter()
            .filter(|(l, is_match)| (t.decide(model.probability(l)) == Decision::Link) == *is_match)
            .count();
        assert!(right as f64 / truth.len() as f64 > 0.99, "{right}");
    }

    #[test]
    fn missing_levels_weigh_nothing() {
        let specs = vec![FieldSpec {
            name: "phone".into(),
            levels: 3,
            neutral: Some(2),
        }];
        let m = Model::start(&specs, 0.01);
        assert_eq!(m.field_weight(0, 2), 0.0);
        assert!(m.field_weight(0, 0) > 0.0);
        assert!(m.field_weight(0, 1) <= 0.0);
    }
}
