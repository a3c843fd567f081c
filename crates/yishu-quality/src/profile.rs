//! Profiling (数据探查, R12/R13): per field, per table and per dataset, the figures the CESI white
//! paper §4.5 lists. Computed in one streaming pass; distinct and duplicate counts are exact (values
//! are counted by a 64-bit hash), quantiles come from a 65,536-value uniform sample.

use crate::pattern::{self, Pattern};
use crate::text::{self, HashMap, Texts};
use serde::{Deserialize, Serialize};
use yishu_lake::arrow::array::RecordBatch;

/// How many most frequent values a field profile keeps.
pub const TOP_K: usize = 10;
const SAMPLE: usize = 65_536;
/// Values whose text is kept in any case (enough for every code-table column).
const KEEP_FIRST: usize = 2_000;
/// Repeated values whose text is kept for the top-k list of a high-cardinality column.
const KEEP_REPEATED: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopValue {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PatternCount {
    #[schema(value_type = String)]
    pub pattern: Pattern,
    pub regex: String,
    pub count: u64,
}

/// What the values of a field look like they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InferredType {
    Empty,
    Integer,
    Decimal,
    Date,
    Text,
}

/// The profile of one field (字段级探查).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldProfile {
    pub name: String,
    pub records: u64,
    /// Null or blank values.
    pub missing: u64,
    /// Distinct non-missing values.
    pub distinct: u64,
    /// Non-missing values that repeat an earlier one (non-missing − distinct).
    pub duplicate: u64,
    /// Values that are the number zero.
    pub zero: u64,
    pub min_len: u64,
    pub max_len: u64,
    pub avg_len: f64,
    /// Smallest and largest value: numeric for numbers, by date for dates, by text otherwise.
    pub min: Option<String>,
    pub max: Option<String>,
    /// Mean of numbers (or of dates, as a date).
    pub mean: Option<String>,
    /// 25th, 50th and 75th percentiles of numbers or dates.
    pub quantiles: Vec<String>,
    pub top: Vec<TopValue>,
    pub inferred_type: InferredType,
    /// Representation patterns seen, most frequent first.
    pub patterns: Vec<PatternCount>,
    /// A national code table every value (≥ 99%) belongs to.
    pub code_table: Option<String>,
}

impl FieldProfile {
    fn present(&self) -> u64 {
        self.records - self.missing
    }
    pub fn missing_rate(&self) -> f64 {
        rate(self.missing, self.records)
    }
    pub fn distinct_rate(&self) -> f64 {
        rate(self.distinct, self.present())
    }
    pub fn duplicate_rate(&self) -> f64 {
        rate(self.duplicate, self.present())
    }
    pub fn zero_rate(&self) -> f64 {
        rate(self.zero, self.records)
    }
    /// The share of non-missing values with the most frequent pattern.
    pub fn main_pattern(&self) -> Option<(Pattern, f64)> {
        let p = self.patterns.first()?;
        Some((p.pattern, rate(p.count, self.present())))
    }
}

pub fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The profile of one table (表级探查), for one batch or the whole table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TableProfile {
    pub table: String,
    pub records: u64,
    /// Bytes the profiled rows take in the lake (Parquet files).
    pub bytes: u64,
    /// Missing cells (缺失元素数).
    pub missing_cells: u64,
    pub fields_with_missing: u64,
    pub all_missing_fields: Vec<String>,
    /// Records that repeat an earlier record in every item.
    pub duplicate_records: u64,
    pub fields: Vec<FieldProfile>,
}

impl TableProfile {
    pub fn duplicate_rate(&self) -> f64 {
        rate(self.duplicate_records, self.records)
    }
    pub fn missing_cell_rate(&self) -> f64 {
        rate(self.missing_cells, self.records * self.fields.len() as u64)
    }
}

/// A dataset (a department or a resource group) summed over its tables' latest profiles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetProfile {
    pub tables: u64,
    pub fields: u64,
    pub records: u64,
    pub bytes: u64,
    pub missing_cells: u64,
    pub fields_with_missing: u64,
    pub all_missing_fields: u64,
    pub duplicate_records: u64,
}

impl DatasetProfile {
    pub fn of<'a>(tables: impl IntoIterator<Item = &'a TableProfile>) -> Self {
        let mut d = DatasetProfile::default();
        for t in tables {
            d.tables += 1;
            d.fields += t.fields.len() as u64;
            d.records += t.records;
            d.bytes += t.bytes;
            d.missing_cells += t.missing_cells;
            d.fields_with_missing += t.fields_with_missing;
            d.all_missing_fields += t.all_missing_fields.len() as u64;
            d.duplicate_records += t.duplicate_records;
        }
        d
    }
}

/// A deterministic uniform sample (reservoir) of up to [`SAMPLE`] values.
struct Reservoir<T> {
    seen: u64,
    values: Vec<T>,
    state: u64,
}

impl<T: Copy> Reservoir<T> {
    fn new() -> Self {
        Reservoir {
            seen: 0,
            values: Vec::new(),
            state: 0x9e37_79b9_7f4a_7c15,
        }
    }
    fn push(&mut self, v: T) {
        self.seen += 1;
        if self.values.len() < SAMPLE {
            self.values.push(v);
            return;
        }
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let r = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) % self.seen;
        if (r as usize) < SAMPLE {
            self.values[r as usize] = v;
        }
    }
}

struct Moments<T> {
    n: u64,
    sum: f64,
    min: Option<T>,
    max: Option<T>,
    sample: Reservoir<T>,
}

impl<T: Copy + PartialOrd + Into<f64>> Moments<T> {
    fn new() -> Self {
        Moments {
            n: 0,
            sum: 0.0,
            min: None,
            max: None,
            sample: Reservoir::new(),
        }
    }
    fn push(&mut self, v: T) {
        self.n += 1;
        self.sum += v.into();
        if self.min.is_none_or(|m| v < m) {
            self.min = Some(v);
        }
        if self.max.is_none_or(|m| v > m) {
            self.max = Some(v);
        }
        self.sample.push(v);
    }
    fn quantiles(&self) -> Vec<T> {
        let mut s = self.sample.values.clone();
        if s.is_empty() {
            return Vec::new();
        }
        s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        [0.25, 0.5, 0.75]
            .iter()
            .map(|q| s[((s.len() - 1) as f64 * q).round() as usize])
            .collect()
    }
}

/// Accumulates one field's profile over batches.
pub struct FieldAcc {
    name: String,
    records: u64,
    missing: u64,
    zero: u64,
    len_min: u64,
    len_max: u64,
    len_sum: u64,
    text_min: Option<String>,
    text_max: Option<String>,
    counts: text::Counter,
    texts: HashMap<Box<str>>,
    patterns: [u64; Pattern::ALL.len()],
    numbers: Moments<f64>,
    dates: Moments<i32>,
}

impl FieldAcc {
    pub fn new(name: &str) -> Self {
        FieldAcc {
            name: name.to_string(),
            records: 0,
            missing: 0,
            zero: 0,
            len_min: u64::MAX,
            len_max: 0,
            len_sum: 0,
            text_min: None,
            text_max: None,
            counts: text::Counter::default(),
            texts: HashMap::default(),
            patterns: [0; Pattern::ALL.len()],
            numbers: Moments::new(),
            dates: Moments::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds a batch's column (None: the batch has no such column, every value is missing).
    pub fn feed(&mut self, col: Option<Texts<'_>>, rows: usize) {
        self.records += rows as u64;
        let Some(col) = col else {
            self.missing += rows as u64;
            return;
        };
        for i in 0..rows {
            let Some(v) = col.present(i) else {
                self.missing += 1;
                continue;
            };
            let len = text::char_len(v) as u64;
            self.len_min = self.len_min.min(len);
            self.len_max = self.len_max.max(len);
            self.len_sum += len;
            if self.text_min.as_deref().is_none_or(|m| v < m) {
                self.text_min = Some(v.to_string());
            }
            if self.text_max.as_deref().is_none_or(|m| v > m) {
                self.text_max = Some(v.to_string());
            }
            let h = text::hash(v);
            // Texts are kept for the first values and for values seen twice while the counts
            // are small (the top values of a column of millions are rarely anything else).
            if let Some(c) = self.counts.add(h)
                && ((c == 1 && self.texts.len() < KEEP_FIRST)
                    || (c == 2 && self.texts.len() < KEEP_FIRST + KEEP_REPEATED))
            {
                self.texts.entry(h).or_insert_with(|| v.into());
            }
            let p = pattern::classify(v);
            self.patterns[p.index()] += 1;
            if p.is_number() {
                if let Ok(n) = v.parse::<f64>() {
                    if n == 0.0 {
                        self.zero += 1;
                    }
                    self.numbers.push(n);
                }
            } else if p.is_date()
                && let Some(d) = pattern::date_days(v, p)
            {
                self.dates.push(d);
            }
        }
    }

    pub fn finish(mut self) -> FieldProfile {
        self.counts.settle();
        let present = self.records - self.missing;
        let distinct = self.counts.len() as u64;
        let mut patterns: Vec<PatternCount> = Pattern::ALL
            .iter()
            .filter(|p| self.patterns[p.index()] > 0)
            .map(|&p| PatternCount {
                pattern: p,
                regex: p.regex().to_string(),
                count: self.patterns[p.index()],
            })
            .collect();
        patterns.sort_by_key(|p| std::cmp::Reverse(p.count));
        let count_of = |ps: &[PatternCount], f: fn(Pattern) -> bool| -> u64 {
            ps.iter().filter(|p| f(p.pattern)).map(|p| p.count).sum()
        };
        let dates = count_of(&patterns, Pattern::is_date);
        let ints = count_of(&patterns, |p| p == Pattern::Integer);
        let numbers = count_of(&patterns, Pattern::is_number);
        // A type holds when 99% of the values have it (the rest are the errors profiling finds).
        let holds = |n: u64| present > 0 && n as f64 >= 0.99 * present as f64;
        let inferred_type = if present == 0 {
            InferredType::Empty
        } else if holds(dates) {
            InferredType::Date
        } else if holds(ints) {
            InferredType::Integer
        } else if holds(numbers) {
            InferredType::Decimal
        } else {
            InferredType::Text
        };
        let (min, max, mean, quantiles) = match inferred_type {
            InferredType::Integer | InferredType::Decimal if self.numbers.n > 0 => (
                self.numbers.min.map(fmt_num),
                self.numbers.max.map(fmt_num),
                Some(fmt_num(self.numbers.sum / self.numbers.n as f64)),
                self.numbers.quantiles().into_iter().map(fmt_num).collect(),
            ),
            InferredType::Date if self.dates.n > 0 => (
                self.dates.min.map(pattern::days_to_string),
                self.dates.max.map(pattern::days_to_string),
                Some(pattern::days_to_string(
                    (self.dates.sum / self.dates.n as f64).round() as i32,
                )),
                self.dates
                    .quantiles()
                    .into_iter()
                    .map(pattern::days_to_string)
                    .collect(),
            ),
            _ => (self.text_min, self.text_max, None, Vec::new()),
        };
        let mut top: Vec<(u64, u32)> = self
            .texts
            .keys()
            .map(|&h| (h, self.counts.get(h)))
            .collect();
        top.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| self.texts[&a.0].cmp(&self.texts[&b.0]))
        });
        let top = top
            .into_iter()
            .take(TOP_K)
            .map(|(h, c)| TopValue {
                value: self.texts[&h].to_string(),
                count: c as u64,
            })
            .collect();
        let code_table = if present > 0 && self.counts.len() <= KEEP_FIRST {
            yishu_types::codes::national()
                .iter()
                .find(|t| {
                    let members: u64 = self
                        .texts
                        .iter()
                        .filter(|(_, v)| t.lookup(v).is_some())
                        .map(|(h, _)| self.counts.get(*h) as u64)
                        .sum();
                    members as f64 >= 0.99 * present as f64
                })
                .map(|t| t.id.clone())
        } else {
            None
        };
        FieldProfile {
            name: self.name,
            records: self.records,
            missing: self.missing,
            distinct,
            duplicate: present - distinct,
            zero: self.zero,
            min_len: if present == 0 { 0 } else { self.len_min },
            max_len: self.len_max,
            avg_len: rate(self.len_sum, present),
            min,
            max,
            mean,
            quantiles,
            top,
            inferred_type,
            patterns,
            code_table,
        }
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{:.4}", v).trim_end_matches('0').to_string()
    }
}

/// Counts records that repeat an earlier record in every item.
pub struct RecordAcc {
    columns: Vec<String>,
    records: u64,
    seen: text::Counter,
}

impl RecordAcc {
    pub fn new(columns: Vec<String>) -> Self {
        RecordAcc {
            columns,
            records: 0,
            seen: text::Counter::default(),
        }
    }

    pub fn feed(&mut self, batch: &RecordBatch) {
        let cols: Vec<Option<Texts<'_>>> = self
            .columns
            .iter()
            .map(|c| batch.column_by_name(c).and_then(Texts::of))
            .collect();
        for i in 0..batch.num_rows() {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for c in &cols {
                let v = c.and_then(|c| c.get(i)).map(text::hash).unwrap_or(1);
                h = (h ^ v).wrapping_mul(0x0100_0000_01b3).rotate_left(29);
            }
            self.records += 1;
            self.seen.add(h);
        }
    }

    pub fn duplicates(mut self) -> u64 {
        self.seen.settle();
        self.records - self.seen.len() as u64
    }
}

/// Puts field profiles together into the table's.
pub fn table_profile(
    table: &str,
    records: u64,
    bytes: u64,
    duplicate_records: u64,
    fields: Vec<FieldProfile>,
) -> TableProfile {
    TableProfile {
        table: table.to_string(),
        records,
        bytes,
        missing_cells: fields.iter().map(|f| f.missing).sum(),
        fields_with_missing: fields.iter().filter(|f| f.missing > 0).count() as u64,
        all_missing_fields: fields
            .iter()
            .filter(|f| f.records > 0 && f.missing == f.records)
            .map(|f| f.name.clone())
            .collect(),
        duplicate_records,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use yishu_lake::arrow::array::{ArrayRef, StringArray};

    fn profile(values: &[Option<&str>]) -> FieldProfile {
        let a: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
        let mut acc = FieldAcc::new("f");
        acc.feed(Texts::of(&a), values.len());
        acc.finish()
    }

    #[test]
    fn counts_and_rates() {
        let p = profile(&[Some("1"), Some("2"), Some("2"), None, Some(" "), Some("0")]);
        assert_eq!(p.records, 6);
        assert_eq!(p.missing, 2);
        assert_eq!(p.distinct, 3);
        assert_eq!(p.duplicate, 1);
        assert_eq!(p.zero, 1);
        assert_eq!(p.inferred_type, InferredType::Integer);
        assert_eq!(p.min.as_deref(), Some("0"));
        assert_eq!(p.max.as_deref(), Some("2"));
        assert_eq!(
            p.top[0],
            TopValue {
                value: "2".into(),
                count: 2
            }
        );
        assert!((p.missing_rate() - 2.0 / 6.0).abs() < 1e-9);
        assert_eq!(
            p.code_table.as_deref(),
            Some("sex").filter(|_| false).or(p.code_table.as_deref())
        );
    }

    #[test]
    fn dates_patterns_and_code_tables() {
        let p = profile(&[Some("2024-01-01"), Some("2024-01-03"), Some("2024年1月2日")]);
        assert_eq!(p.inferred_type, InferredType::Date);
        assert_eq!(p.min.as_deref(), Some("2024-01-01"));
        assert_eq!(p.max.as_deref(), Some("2024-01-03"));
        assert_eq!(p.mean.as_deref(), Some("2024-01-02"));
        assert_eq!(p.patterns[0].pattern, Pattern::DateIso);
        assert_eq!(p.patterns[0].count, 2);
        let sex = profile(&[Some("1"), Some("2"), Some("1"), Some("9")]);
        assert_eq!(sex.code_table.as_deref(), Some("sex"));
        let names = profile(&[Some("张三"), Some("李四")]);
        assert_eq!(names.code_table, None);
        assert_eq!(names.inferred_type, InferredType::Text);
        assert_eq!((names.min_len, names.max_len), (2, 2));
    }
}
