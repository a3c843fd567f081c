//! Row checks: each rule kind that looks at rows, evaluated batch by batch. A violation names the
//! row (`_source_ref`, its place in the source file), the value and what is wrong.

use crate::rule::{CrossCheck, RuleDef, Validator, compile_regex};
use crate::text::{self, Texts};
use chrono::Datelike;
use std::collections::HashMap as StdMap;
use yishu_lake::arrow::array::RecordBatch;
use yishu_types::codes;

/// One row that breaks one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Index of the rule in the scan's rule list.
    pub rule: usize,
    pub source_ref: String,
    pub value: String,
    pub detail: String,
}

/// Rows remembered per value group of a dependency rule (beyond this only the count is exact).
const DEPENDENCY_ROWS: usize = 1_000;

pub struct DepGroup {
    /// (rhs value, rows with it, first rows' refs)
    values: Vec<(Box<str>, u64, Vec<Box<str>>)>,
}

/// A rule ready to look at rows.
pub enum Eval {
    NotNull(String),
    Unique {
        columns: Vec<String>,
        /// Key hash → where the first row with it is, in `refs`.
        seen: text::HashMap<u64>,
        refs: text::Arena,
    },
    Format {
        column: String,
        regex: Option<regex::Regex>,
        validator: Option<Validator>,
    },
    Range {
        column: String,
        min: Option<f64>,
        max: Option<f64>,
        min_len: Option<u64>,
        max_len: Option<u64>,
        after: Option<chrono::NaiveDate>,
        before: Option<chrono::NaiveDate>,
    },
    Code {
        column: String,
        table: String,
        codes: std::collections::HashSet<String>,
    },
    Reference {
        column: String,
        target: String,
        keys: text::HashSet,
    },
    Cross(CrossCheck, Summaries),
    Dependency {
        lhs: Vec<String>,
        rhs: String,
        when: Option<(String, String)>,
        groups: text::HashMap<DepGroup>,
    },
}

/// Per-group running sums for the detail-sums-to-summary check.
#[derive(Default)]
pub struct Summaries {
    groups: StdMap<String, GroupSums>,
}

/// A group's detail total, and its summary rows (row ref, amount).
type GroupSums = (f64, Vec<(Box<str>, f64)>);

/// What a scan needs besides the rows: loaded reference keys and registered code tables.
#[derive(Default)]
pub struct Context {
    /// Per rule index: the keys a referential rule checks against.
    pub references: StdMap<usize, text::HashSet>,
    /// Registered (department) code tables: id → codes.
    pub code_tables: StdMap<String, Vec<String>>,
}

impl Eval {
    /// Prepares a rule for the scan; rule kinds that do not look at rows give None.
    pub fn new(def: &RuleDef, idx: usize, ctx: &mut Context) -> Result<Option<Eval>, String> {
        Ok(Some(match def {
            RuleDef::NotNull { column } => Eval::NotNull(column.clone()),
            RuleDef::Unique { columns } => Eval::Unique {
                columns: columns.clone(),
                seen: text::HashMap::default(),
                refs: text::Arena::default(),
            },
            RuleDef::Format {
                column,
                regex,
                validator,
            } => Eval::Format {
                column: column.clone(),
                regex: regex.as_deref().map(compile_regex).transpose()?,
                validator: *validator,
            },
            RuleDef::Range {
                column,
                min,
                max,
                min_len,
                max_len,
                after,
                before,
            } => {
                let date = |d: &Option<String>| {
                    d.as_deref()
                        .map(|d| {
                            yishu_types::date::parse_cn_date(d)
                                .map_err(|_| format!("'{d}' is not a date"))
                        })
                        .transpose()
                };
                Eval::Range {
                    column: column.clone(),
                    min: *min,
                    max: *max,
                    min_len: *min_len,
                    max_len: *max_len,
                    after: date(after)?,
                    before: date(before)?,
                }
            }
            RuleDef::CodeTable { column, table } => {
                let codes: std::collections::HashSet<String> = match codes::table(table) {
                    Some(t) => t.entries.iter().map(|e| e.code.clone()).collect(),
                    None => ctx
                        .code_tables
                        .get(table)
                        .ok_or_else(|| format!("code table '{table}' no longer exists"))?
                        .iter()
                        .cloned()
                        .collect(),
                };
                Eval::Code {
                    column: column.clone(),
                    table: table.clone(),
                    codes,
                }
            }
            RuleDef::Referential {
                column,
                resource,
                item,
            } => Eval::Reference {
                column: column.clone(),
                target: format!("{resource}.{item}"),
                keys: ctx.references.remove(&idx).ok_or_else(|| {
                    format!("the referenced resource {resource} ({item}) could not be read")
                })?,
            },
            RuleDef::Cross(c) => Eval::Cross(c.clone(), Summaries::default()),
            RuleDef::Dependency {
                lhs,
                rhs,
                when_column,
                when_value,
            } => Eval::Dependency {
                lhs: lhs.clone(),
                rhs: rhs.clone(),
                when: when_column.clone().zip(when_value.clone()),
                groups: text::HashMap::default(),
            },
            RuleDef::Volatility { .. } | RuleDef::Timeliness { .. } | RuleDef::Sql { .. } => {
                return Ok(None);
            }
        }))
    }

    /// Rough work per row, to spread rules over threads.
    pub fn cost(&self) -> u32 {
        match self {
            Eval::Unique { .. } | Eval::Dependency { .. } => 3,
            Eval::Format { .. } | Eval::Reference { .. } => 2,
            _ => 1,
        }
    }

    /// Checks a batch's rows, pushing violations. `refs` is the batch's `_source_ref` column.
    pub fn feed(
        &mut self,
        rule: usize,
        b: &RecordBatch,
        refs: Texts<'_>,
        out: &mut Vec<Violation>,
    ) {
        let col = |name: &str| b.column_by_name(name).and_then(Texts::of);
        let n = b.num_rows();
        let mut push = |i: usize, value: &str, detail: String| {
            out.push(Violation {
                rule,
                source_ref: refs.get(i).unwrap_or_default().to_string(),
                value: value.to_string(),
                detail,
            })
        };
        match self {
            Eval::NotNull(c) => {
                let c = col(c);
                for i in 0..n {
                    if c.and_then(|c| c.present(i)).is_none() {
                        push(i, "", "值为空".into());
                    }
                }
            }
            Eval::Unique {
                columns,
                seen,
                refs: firsts,
            } => {
                let cs: Vec<Option<Texts<'_>>> = columns.iter().map(|c| col(c)).collect();
                let mut joined = String::new();
                for i in 0..n {
                    // One column is hashed as it is; several are joined first.
                    let single = match cs.as_slice() {
                        [c] => Some(c.and_then(|c| c.present(i))),
                        _ => None,
                    };
                    let key: &str = match single {
                        Some(Some(v)) => v,
                        Some(None) => continue,
                        None => {
                            joined.clear();
                            let mut blank = true;
                            for (k, c) in cs.iter().enumerate() {
                                if k > 0 {
                                    joined.push('\u{1f}');
                                }
                                if let Some(v) = c.and_then(|c| c.present(i)) {
                                    joined.push_str(v);
                                    blank = false;
                                }
                            }
                            // Missing keys are the not-null rule's business.
                            if blank {
                                continue;
                            }
                            &joined
                        }
                    };
                    match seen.entry(text::hash(key)) {
                        hashbrown::hash_map::Entry::Occupied(first) => {
                            let detail =
                                format!("与第一次出现的记录 {} 重复", firsts.get(*first.get()));
                            push(i, &key.replace('\u{1f}', " | "), detail);
                        }
                        hashbrown::hash_map::Entry::Vacant(v) => {
                            v.insert(firsts.push(refs.get(i).unwrap_or_default()));
                        }
                    }
                }
            }
            Eval::Format {
                column,
                regex,
                validator,
            } => {
                let c = col(column);
                for i in 0..n {
                    // The value as written: a stray space is a format problem (a missing value
                    // is the not-null rule's).
                    let Some(v) = c.and_then(|c| c.get(i)).filter(|v| !v.trim().is_empty()) else {
                        continue;
                    };
                    let problem = match (regex.as_ref(), *validator) {
                        (Some(re), _) => (!re.is_match(v)).then(|| "格式不符".to_string()),
                        (None, Some(val)) => val.problem(v),
                        _ => None,
                    };
                    if let Some(detail) = problem {
                        push(i, v, detail);
                    }
                }
            }
            Eval::Range {
                column,
                min,
                max,
                min_len,
                max_len,
                after,
                before,
            } => {
                let c = col(column);
                for i in 0..n {
                    let Some(v) = c.and_then(|c| c.present(i)) else {
                        continue;
                    };
                    if min_len.is_some() || max_len.is_some() {
                        let len = text::char_len(v) as u64;
                        if min_len.is_some_and(|m| len < m) || max_len.is_some_and(|m| len > m) {
                            push(i, v, format!("长度 {len} 超出范围"));
                            continue;
                        }
                    }
                    if min.is_some() || max.is_some() {
                        match v.parse::<f64>() {
                            Ok(x) if min.is_some_and(|m| x < m) || max.is_some_and(|m| x > m) => {
                                push(i, v, "数值超出范围".into())
                            }
                            Ok(_) => {}
                            Err(_) => push(i, v, "不是数值".into()),
                        }
                        continue;
                    }
                    if after.is_some() || before.is_some() {
                        match yishu_types::date::parse_cn_date(v) {
                            Ok(d)
                                if after.is_some_and(|a| d < a)
                                    || before.is_some_and(|b| d > b) =>
                            {
                                push(i, v, "日期超出范围".into())
                            }
                            Ok(_) => {}
                            Err(_) => push(i, v, "不是日期".into()),
                        }
                    }
                }
            }
            Eval::Code {
                column,
                table,
                codes,
            } => {
                let c = col(column);
                for i in 0..n {
                    if let Some(v) = c.and_then(|c| c.present(i))
                        && !codes.contains(v)
                    {
                        push(i, v, format!("不在代码表 {table} 中"));
                    }
                }
            }
            Eval::Reference {
                column,
                target,
                keys,
            } => {
                let c = col(column);
                for i in 0..n {
                    if let Some(v) = c.and_then(|c| c.present(i))
                        && !keys.contains(&text::hash(v))
                    {
                        push(i, v, format!("在 {target} 中不存在"));
                    }
                }
            }
            Eval::Cross(check, sums) => cross(check, sums, &col, refs, n, &mut push),
            Eval::Dependency {
                lhs,
                rhs,
                when,
                groups,
            } => {
                let ls: Vec<Option<Texts<'_>>> = lhs.iter().map(|c| col(c)).collect();
                let r = col(rhs);
                let w = when.as_ref().map(|(c, v)| (col(c), v.as_str()));
                let mut key = String::new();
                for i in 0..n {
                    if let Some((wc, wv)) = w
                        && wc.and_then(|c| c.present(i)) != Some(wv)
                    {
                        continue;
                    }
                    key.clear();
                    for c in &ls {
                        key.push_str(c.and_then(|c| c.present(i)).unwrap_or_default());
                        key.push('\u{1f}');
                    }
                    let rv = r.and_then(|c| c.present(i)).unwrap_or_default();
                    let g = groups
                        .entry(text::hash(&key))
                        .or_insert_with(|| DepGroup { values: Vec::new() });
                    let this = refs.get(i).unwrap_or_default();
                    match g.values.iter_mut().find(|(v, _, _)| &**v == rv) {
                        Some((_, count, rows)) => {
                            *count += 1;
                            if rows.len() < DEPENDENCY_ROWS {
                                rows.push(this.into());
                            }
                        }
                        None => g.values.push((rv.into(), 1, vec![this.into()])),
                    }
                }
            }
        }
    }

    /// Violations that are known only once every row was seen; and a note (e.g. a dependency
    /// whose left side matched nothing).
    pub fn finish(self, rule: usize, out: &mut Vec<Violation>) -> Option<String> {
        match self {
            Eval::Dependency { groups, .. } => {
                if groups.is_empty() {
                    return Some("左侧条件没有匹配任何记录".into());
                }
                for (_, g) in groups {
                    let Some(major) = g
                        .values
                        .iter()
                        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                        .map(|v| v.0.clone())
                    else {
                        continue;
                    };
                    for (v, _, rows) in g.values {
                        if v != major {
                            for r in rows {
                                out.push(Violation {
                                    rule,
                                    source_ref: r.into(),
                                    value: v.to_string(),
                                    detail: format!("同组多数记录为 {major}"),
                                });
                            }
                        }
                    }
                }
                None
            }
            Eval::Cross(CrossCheck::DetailSumsToSummary { .. }, sums) => {
                for (group, (details, summaries)) in sums.groups {
                    for (r, total) in summaries {
                        if (total - details).abs() > 1e-6 * total.abs().max(1.0) {
                            out.push(Violation {
                                rule,
                                source_ref: r.into(),
                                value: format!("{total}"),
                                detail: format!("{group} 明细合计为 {details}"),
                            });
                        }
                    }
                }
                None
            }
            _ => None,
        }
    }
}

fn cross<'a>(
    check: &CrossCheck,
    sums: &mut Summaries,
    col: &dyn Fn(&str) -> Option<Texts<'a>>,
    refs: Texts<'_>,
    n: usize,
    push: &mut dyn FnMut(usize, &str, String),
) {
    match check {
        CrossCheck::BirthMatchesId { id, birth } => {
            let (ic, bc) = (col(id), col(birth));
            for i in 0..n {
                let (Some(idv), Some(bv)) =
                    (ic.and_then(|c| c.present(i)), bc.and_then(|c| c.present(i)))
                else {
                    continue;
                };
                let Some(from_id) = id_birth(idv) else {
                    continue;
                };
                if let Ok(d) = yishu_types::date::parse_cn_date(bv)
                    && (d.year() as u32, d.month(), d.day()) != from_id
                {
                    let (y, m, d) = from_id;
                    push(
                        i,
                        bv,
                        format!("身份证号码中的出生日期为 {y:04}{m:02}{d:02}"),
                    );
                }
            }
        }
        CrossCheck::SexMatchesId { id, sex } => {
            let table = codes::table("sex");
            let (ic, sc) = (col(id), col(sex));
            for i in 0..n {
                let (Some(idv), Some(sv)) =
                    (ic.and_then(|c| c.present(i)), sc.and_then(|c| c.present(i)))
                else {
                    continue;
                };
                let b = idv.as_bytes();
                let digit = match b.len() {
                    18 => b[16],
                    15 => b[14],
                    _ => continue,
                };
                if !digit.is_ascii_digit() {
                    continue;
                }
                let want = if (digit - b'0') % 2 == 1 { "1" } else { "2" };
                let Some(code) = table.and_then(|t| t.resolve(sv)).map(|e| e.code.as_str()) else {
                    continue;
                };
                if (code == "1" || code == "2") && code != want {
                    push(i, sv, format!("身份证号码第17位表示性别代码 {want}"));
                }
            }
        }
        CrossCheck::EndAfterStart { start, end } => {
            let (sc, ec) = (col(start), col(end));
            for i in 0..n {
                let (Some(s), Some(e)) =
                    (sc.and_then(|c| c.present(i)), ec.and_then(|c| c.present(i)))
                else {
                    continue;
                };
                if let (Ok(a), Ok(b)) = (
                    yishu_types::date::parse_cn_date(s),
                    yishu_types::date::parse_cn_date(e),
                ) && b < a
                {
                    push(i, e, format!("早于开始日期 {s}"));
                }
            }
        }
        CrossCheck::DetailSumsToSummary {
            group,
            label,
            summary,
            amount,
        } => {
            let gc = group.as_deref().map(col);
            let (lc, ac) = (col(label), col(amount));
            for i in 0..n {
                let g = gc
                    .flatten()
                    .and_then(|c| c.present(i))
                    .unwrap_or_default()
                    .to_string();
                let Some(x) = ac
                    .and_then(|c| c.present(i))
                    .and_then(|v| v.parse::<f64>().ok())
                else {
                    continue;
                };
                let entry = sums.groups.entry(g).or_default();
                if lc.and_then(|c| c.present(i)) == Some(summary.as_str()) {
                    // Judged in `finish`, when every detail row of the group has been seen.
                    entry.1.push((refs.get(i).unwrap_or_default().into(), x));
                } else {
                    entry.0 += x;
                }
            }
        }
    }
}

/// Digits 7–14 of an 18-digit ID (or 19 + digits 7–12 of a 15-digit one).
/// The birth date an ID number carries: (year, month, day) as written in its digits.
fn id_birth(id: &str) -> Option<(u32, u32, u32)> {
    let b = id.as_bytes();
    let num = |s: &[u8]| s.iter().fold(0u32, |n, c| n * 10 + (c - b'0') as u32);
    match b.len() {
        18 if b[..17].iter().all(u8::is_ascii_digit) => {
            Some((num(&b[6..10]), num(&b[10..12]), num(&b[12..14])))
        }
        15 if b.iter().all(u8::is_ascii_digit) => {
            Some((1900 + num(&b[6..8]), num(&b[8..10]), num(&b[10..12])))
        }
        _ => None,
    }
}
