//! Row filters of grants and requests: a small typed language over a resource's items —
//! `行政区划代码 prefix '510107' and 性别 in ('1', '2')`, `年龄 between 18 and 60`,
//! `(a = 'x' or b >= 3)`. A filter is parsed into a tree and checked against the resource's items
//! before it is stored; it becomes a DataFusion expression or is evaluated on a row, never text
//! spliced into SQL. An empty cell matches nothing, as a NULL would.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use yishu_lake::datafusion::arrow::datatypes::DataType;
use yishu_lake::datafusion::functions::expr_fn::{nullif, starts_with};
use yishu_lake::datafusion::prelude::{Expr, cast, ident, lit, try_cast};
use yishu_types::{Error, ErrorCode};

/// Longest filter text accepted, and most comparisons in one filter.
const MAX_TEXT: usize = 4096;
const MAX_TERMS: usize = 64;
const MAX_LIST: usize = 1000;

/// A literal: text, or a number for numeric items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Number(f64),
    Text(String),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Eq => o == Equal,
            Op::Ne => o != Equal,
            Op::Lt => o == Less,
            Op::Le => o != Greater,
            Op::Gt => o == Greater,
            Op::Ge => o != Less,
        }
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Filter {
    Cmp {
        item: String,
        op: Op,
        value: Value,
    },
    In {
        item: String,
        values: Vec<Value>,
    },
    Prefix {
        item: String,
        prefix: String,
    },
    Between {
        item: String,
        low: Value,
        high: Value,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// Whether an item holds text or numbers, by its catalog type (N Y I F are numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Text,
    Number,
}

impl ItemKind {
    pub fn of_catalog_type(t: &str) -> ItemKind {
        match t {
            "N" | "Y" | "I" | "F" => ItemKind::Number,
            _ => ItemKind::Text,
        }
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::FilterInvalid, msg)
}

impl Filter {
    /// Parses `text`; the error says what was expected and at which character.
    pub fn parse(text: &str) -> Result<Filter, Error> {
        if text.len() > MAX_TEXT {
            return Err(invalid(format!(
                "the filter is {} bytes long; at most {MAX_TEXT} are accepted",
                text.len()
            )));
        }
        let tokens = lex(text)?;
        let mut p = Parser {
            tokens,
            at: 0,
            terms: 0,
        };
        let f = p.or()?;
        if let Some((t, pos)) = p.tokens.get(p.at) {
            return Err(invalid(format!(
                "unexpected {t} at character {pos}: expected `and`, `or` or the end"
            )));
        }
        Ok(f)
    }

    /// Checks the filter against `items` (name → kind) and types its literals: a number written
    /// for a text item becomes its text; text for a number item must be a number.
    pub fn check(self, items: &BTreeMap<String, ItemKind>) -> Result<Filter, Error> {
        let kind = |item: &str| {
            items.get(item).copied().ok_or_else(|| {
                invalid(format!(
                    "the filter names '{item}', which is not among the items it may use: {}",
                    items.keys().cloned().collect::<Vec<_>>().join("、")
                ))
            })
        };
        let typed = |item: &str, v: Value, k: ItemKind| -> Result<Value, Error> {
            match (k, v) {
                (ItemKind::Text, Value::Number(n)) => Ok(Value::Text(number_text(n))),
                (ItemKind::Number, Value::Text(t)) => {
                    t.trim().parse::<f64>().map(Value::Number).map_err(|_| {
                        invalid(format!("'{item}' holds numbers; '{t}' is not a number"))
                    })
                }
                (_, v) => Ok(v),
            }
        };
        Ok(match self {
            Filter::Cmp { item, op, value } => {
                let k = kind(&item)?;
                let value = typed(&item, value, k)?;
                Filter::Cmp { item, op, value }
            }
            Filter::In { item, values } => {
                let k = kind(&item)?;
                let values = values
                    .into_iter()
                    .map(|v| typed(&item, v, k))
                    .collect::<Result<_, _>>()?;
                Filter::In { item, values }
            }
            Filter::Prefix { item, prefix } => {
                if kind(&item)? == ItemKind::Number {
                    return Err(invalid(format!(
                        "'{item}' holds numbers; `prefix` applies to text items"
                    )));
                }
                Filter::Prefix { item, prefix }
            }
            Filter::Between { item, low, high } => {
                let k = kind(&item)?;
                let low = typed(&item, low, k)?;
                let high = typed(&item, high, k)?;
                Filter::Between { item, low, high }
            }
            Filter::And(a, b) => Filter::And(Box::new(a.check(items)?), Box::new(b.check(items)?)),
            Filter::Or(a, b) => Filter::Or(Box::new(a.check(items)?), Box::new(b.check(items)?)),
        })
    }

    /// The items the filter reads.
    pub fn items(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_items(&mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn collect_items<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Filter::Cmp { item, .. }
            | Filter::In { item, .. }
            | Filter::Prefix { item, .. }
            | Filter::Between { item, .. } => out.push(item),
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.collect_items(out);
                b.collect_items(out);
            }
        }
    }

    /// Both filters must hold.
    pub fn and(self, other: Filter) -> Filter {
        Filter::And(Box::new(self), Box::new(other))
    }

    /// Whether the row (cells as text by item) passes.
    pub fn matches(&self, row: &BTreeMap<String, String>) -> bool {
        let cell = |item: &str| row.get(item).map(String::as_str).filter(|v| !v.is_empty());
        match self {
            Filter::Cmp { item, op, value } => {
                cell(item).is_some_and(|c| compare(c, value).is_some_and(|o| op.holds(o)))
            }
            Filter::In { item, values } => cell(item).is_some_and(|c| {
                values
                    .iter()
                    .any(|v| compare(c, v) == Some(std::cmp::Ordering::Equal))
            }),
            Filter::Prefix { item, prefix } => cell(item).is_some_and(|c| c.starts_with(prefix)),
            Filter::Between { item, low, high } => cell(item).is_some_and(|c| {
                compare(c, low).is_some_and(|o| o.is_ge())
                    && compare(c, high).is_some_and(|o| o.is_le())
            }),
            Filter::And(a, b) => a.matches(row) && b.matches(row),
            Filter::Or(a, b) => a.matches(row) || b.matches(row),
        }
    }

    /// The filter as a DataFusion expression over the table's columns: every literal bound.
    pub fn to_expr(&self) -> Expr {
        fn column(item: &str, v: &Value) -> Expr {
            match v {
                Value::Number(_) => try_cast(ident(item), DataType::Float64),
                Value::Text(_) => nullif(cast(ident(item), DataType::Utf8), lit("")),
            }
        }
        fn value(v: &Value) -> Expr {
            match v {
                Value::Number(n) => lit(*n),
                Value::Text(t) => lit(t.clone()),
            }
        }
        match self {
            Filter::Cmp { item, op, value: v } => {
                let (c, v) = (column(item, v), value(v));
                match op {
                    Op::Eq => c.eq(v),
                    Op::Ne => c.not_eq(v),
                    Op::Lt => c.lt(v),
                    Op::Le => c.lt_eq(v),
                    Op::Gt => c.gt(v),
                    Op::Ge => c.gt_eq(v),
                }
            }
            Filter::In { item, values } => {
                let c = values
                    .first()
                    .map_or_else(|| ident(item), |v| column(item, v));
                c.in_list(values.iter().map(value).collect(), false)
            }
            Filter::Prefix { item, prefix } => starts_with(
                nullif(cast(ident(item), DataType::Utf8), lit("")),
                lit(prefix.clone()),
            ),
            Filter::Between { item, low, high } => {
                column(item, low).between(value(low), value(high))
            }
            Filter::And(a, b) => a.to_expr().and(b.to_expr()),
            Filter::Or(a, b) => a.to_expr().or(b.to_expr()),
        }
    }
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// A cell against a literal: numerically for numbers (an unparsable cell compares to nothing),
/// by bytes for text, as DataFusion compares UTF-8.
fn compare(cell: &str, v: &Value) -> Option<std::cmp::Ordering> {
    match v {
        Value::Number(n) => cell.trim().parse::<f64>().ok()?.partial_cmp(n),
        Value::Text(t) => Some(cell.cmp(t.as_str())),
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Number(n) => number_text(*n),
        Value::Text(t) => quote(t),
    }
}

fn show_item(item: &str) -> String {
    if item.chars().all(is_ident_char) && !is_keyword(item) {
        item.to_string()
    } else {
        format!("`{}`", item.replace('`', ""))
    }
}

/// The canonical text: parsing it gives the same filter back.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Cmp { item, op, value } => write!(
                f,
                "{} {} {}",
                show_item(item),
                op.as_str(),
                show_value(value)
            ),
            Filter::In { item, values } => write!(
                f,
                "{} in ({})",
                show_item(item),
                values.iter().map(show_value).collect::<Vec<_>>().join(", ")
            ),
            Filter::Prefix { item, prefix } => {
                write!(f, "{} prefix {}", show_item(item), quote(prefix))
            }
            Filter::Between { item, low, high } => write!(
                f,
                "{} between {} and {}",
                show_item(item),
                show_value(low),
                show_value(high)
            ),
            Filter::And(a, b) => write!(f, "({a} and {b})"),
            Filter::Or(a, b) => write!(f, "({a} or {b})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Text(String),
    Number(f64),
    Op(Op),
    Open,
    Close,
    Comma,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::Text(s) => write!(f, "text {}", quote(s)),
            Tok::Number(n) => write!(f, "number {}", number_text(*n)),
            Tok::Op(o) => write!(f, "`{}`", o.as_str()),
            Tok::Open => f.write_str("`(`"),
            Tok::Close => f.write_str("`)`"),
            Tok::Comma => f.write_str("`,`"),
        }
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_keyword(s: &str) -> bool {
    ["and", "or", "in", "prefix", "between"]
        .iter()
        .any(|k| s.eq_ignore_ascii_case(k))
}

/// Tokens with the (1-based) character each starts at.
fn lex(text: &str) -> Result<Vec<(Tok, usize)>, Error> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | '（' => {
                out.push((Tok::Open, pos));
                i += 1;
            }
            ')' | '）' => {
                out.push((Tok::Close, pos));
                i += 1;
            }
            ',' | '，' => {
                out.push((Tok::Comma, pos));
                i += 1;
            }
            '\'' | '"' | '`' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(invalid(format!(
                                "the quote opened at character {pos} is not closed"
                            )));
                        }
                        Some(&q) if q == quote && chars.get(i + 1) == Some(&quote) => {
                            s.push(quote);
                            i += 2;
                        }
                        Some(&q) if q == quote => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((
                    if quote == '`' {
                        Tok::Ident(s)
                    } else {
                        Tok::Text(s)
                    },
                    pos,
                ));
            }
            '=' => {
                out.push((Tok::Op(Op::Eq), pos));
                i += 1;
            }
            '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('!', Some('=')) => (Op::Ne, 2),
                    ('<', Some('>')) => (Op::Ne, 2),
                    ('<', Some('=')) => (Op::Le, 2),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('<', _) => (Op::Lt, 1),
                    ('>', _) => (Op::Gt, 1),
                    _ => return Err(invalid(format!("`!` at character {pos} must be `!=`"))),
                };
                out.push((Tok::Op(op), pos));
                i += len;
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                let n = s
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| invalid(format!("'{s}' at character {pos} is not a number")))?;
                out.push((Tok::Number(n), pos));
            }
            c if is_ident_char(c) => {
                let start = i;
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
                out.push((Tok::Ident(chars[start..i].iter().collect()), pos));
            }
            other => {
                return Err(invalid(format!(
                    "'{other}' at character {pos} has no meaning in a filter"
                )));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(Tok, usize)>,
    at: usize,
    terms: usize,
}

impl Parser {
    fn peek_keyword(&self, k: &str) -> bool {
        matches!(self.tokens.get(self.at), Some((Tok::Ident(s), _)) if s.eq_ignore_ascii_case(k))
    }

    fn next(&mut self, expected: &str) -> Result<(Tok, usize), Error> {
        let t = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or_else(|| invalid(format!("the filter ends where {expected} was expected")))?;
        self.at += 1;
        Ok(t)
    }

    fn or(&mut self) -> Result<Filter, Error> {
        let mut f = self.and()?;
        while self.peek_keyword("or") {
            self.at += 1;
            f = Filter::Or(Box::new(f), Box::new(self.and()?));
        }
        Ok(f)
    }

    fn and(&mut self) -> Result<Filter, Error> {
        let mut f = self.factor()?;
        while self.peek_keyword("and") {
            self.at += 1;
            f = Filter::And(Box::new(f), Box::new(self.factor()?));
        }
        Ok(f)
    }

    fn factor(&mut self) -> Result<Filter, Error> {
        if matches!(self.tokens.get(self.at), Some((Tok::Open, _))) {
            self.at += 1;
            let f = self.or()?;
            match self.next("`)`")? {
                (Tok::Close, _) => return Ok(f),
                (t, pos) => {
                    return Err(invalid(format!(
                        "expected `)` at character {pos}, found {t}"
                    )));
                }
            }
        }
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(invalid(format!(
                "the filter has more than {MAX_TERMS} comparisons"
            )));
        }
        let item = match self.next("an item")? {
            (Tok::Ident(s), _) if !is_keyword(&s) => s,
            (t, pos) => {
                return Err(invalid(format!(
                    "expected an item name at character {pos}, found {t}"
                )));
            }
        };
        let (t, pos) = self.next("`=`, `in`, `prefix` or `between`")?;
        match t {
            Tok::Op(op) => Ok(Filter::Cmp {
                value: self.value()?,
                item,
                op,
            }),
            Tok::Ident(k) if k.eq_ignore_ascii_case("in") => {
                match self.next("`(`")? {
                    (Tok::Open, _) => {}
                    (t, pos) => {
                        return Err(invalid(format!(
                            "expected `(` at character {pos}, found {t}"
                        )));
                    }
                }
                let mut values = vec![self.value()?];
                loop {
                    match self.next("`,` or `)`")? {
                        (Tok::Comma, _) => values.push(self.value()?),
                        (Tok::Close, _) => break,
                        (t, pos) => {
                            return Err(invalid(format!(
                                "expected `,` or `)` at character {pos}, found {t}"
                            )));
                        }
                    }
                    if values.len() > MAX_LIST {
                        return Err(invalid(format!(
                            "an `in` list holds at most {MAX_LIST} values"
                        )));
                    }
                }
                Ok(Filter::In { item, values })
            }
            Tok::Ident(k) if k.eq_ignore_ascii_case("prefix") => match self.value()? {
                Value::Text(prefix) => Ok(Filter::Prefix { item, prefix }),
                Value::Number(n) => Ok(Filter::Prefix {
                    item,
                    prefix: number_text(n),
                }),
            },
            Tok::Ident(k) if k.eq_ignore_ascii_case("between") => {
                let low = self.value()?;
                if !self.peek_keyword("and") {
                    return Err(invalid(format!(
                        "`between` after '{item}' needs `and` between its two bounds"
                    )));
                }
                self.at += 1;
                let high = self.value()?;
                Ok(Filter::Between { item, low, high })
            }
            t => Err(invalid(format!(
                "expected `=`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `prefix` or `between` after '{item}' at character {pos}, found {t}"
            ))),
        }
    }

    fn value(&mut self) -> Result<Value, Error> {
        match self.next("a value")? {
            (Tok::Text(s), _) => Ok(Value::Text(s)),
            (Tok::Number(n), _) => Ok(Value::Number(n)),
            (t, pos) => Err(invalid(format!(
                "expected a value ('text' or a number) at character {pos}, found {t}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> BTreeMap<String, ItemKind> {
        [
            ("行政区划代码", ItemKind::Text),
            ("性别", ItemKind::Text),
            ("年龄", ItemKind::Number),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn row(cells: &[(&str, &str)]) -> BTreeMap<String, String> {
        cells
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_checks_and_evaluates() {
        let f = Filter::parse(
            "行政区划代码 prefix '510107' and (性别 in ('1', 2) or 年龄 between 18 and 60)",
        )
        .unwrap()
        .check(&items())
        .unwrap();
        assert_eq!(f.items(), vec!["年龄", "性别", "行政区划代码"]);
        assert!(f.matches(&row(&[("行政区划代码", "510107001"), ("性别", "2")])));
        assert!(f.matches(&row(&[("行政区划代码", "510107"), ("年龄", "30")])));
        assert!(!f.matches(&row(&[("行政区划代码", "510108"), ("性别", "1")])));
        assert!(!f.matches(&row(&[("行政区划代码", "510107"), ("年龄", "abc")])));
        assert!(!f.matches(&row(&[("行政区划代码", ""), ("性别", "1")])));
        // The canonical text parses back to the same filter.
        let again = Filter::parse(&f.to_string())
            .unwrap()
            .check(&items())
            .unwrap();
        assert_eq!(again, f);
    }

    #[test]
    fn bad_filters_are_refused_with_where() {
        let e = Filter::parse("婚姻状况 = '20'")
            .unwrap()
            .check(&items())
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::FilterInvalid);
        assert!(e.message.contains("婚姻状况"), "{}", e.message);
        let e = Filter::parse("性别 = '1' or 1=1; DROP TABLE x").unwrap_err();
        assert!(e.message.contains("character"), "{}", e.message);
        assert!(Filter::parse("性别 = '1").is_err());
        assert!(Filter::parse("年龄 >").is_err());
        assert!(Filter::parse("and = '1'").is_err());
        let e = Filter::parse("年龄 = 'x'")
            .unwrap()
            .check(&items())
            .unwrap_err();
        assert!(e.message.contains("not a number"));
        let long = vec!["性别 = '1'"; 70].join(" or ");
        assert!(Filter::parse(&long).unwrap_err().message.contains("64"));
    }

    #[test]
    fn quotes_inside_values_stay_values() {
        let f = Filter::parse("性别 = 'a'' or ''1''=''1'")
            .unwrap()
            .check(&items())
            .unwrap();
        assert_eq!(
            f,
            Filter::Cmp {
                item: "性别".into(),
                op: Op::Eq,
                value: Value::Text("a' or '1'='1".into())
            }
        );
        assert!(!f.matches(&row(&[("性别", "1")])));
    }
}
