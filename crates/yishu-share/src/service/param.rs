//! A data service's parameters: declared with a type and a domain and checked when the service
//! is defined; a call's values are checked against them and become typed values that DataFusion
//! binds to the query's placeholders — a value is never text in the SQL.

use chrono::NaiveDate;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use yishu_lake::datafusion::scalar::ScalarValue;
use yishu_meta::service::{Param, ParamKind, Placement};
use yishu_types::{Error, ErrorCode};

/// Longest text a parameter may be declared to take.
pub const MAX_TEXT: usize = 4_096;
/// Most values a list parameter may be declared to take.
pub const MAX_LIST: usize = 1_000;

fn invalid_decl(name: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::ServiceInvalid,
        format!("parameter :{name}: {why}"),
    )
}

fn invalid_value(name: &str, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::ParamInvalid, format!("parameter {name}: {why}"))
}

/// Whether `name` can be a placeholder: an ASCII identifier (it follows `:` in the SQL).
pub fn is_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 64
}

/// The pattern as it must match: the whole value.
fn anchored(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
}

/// Checks the declarations: names, domains, placements, and that defaults and examples fit.
pub fn check_declared(params: &[Param]) -> Result<(), Error> {
    let mut seen = std::collections::BTreeSet::new();
    for p in params {
        if !is_param_name(&p.name) {
            return Err(invalid_decl(
                &p.name,
                "a name is lowercase ASCII letters, digits and _ (it follows : in the SQL)",
            ));
        }
        if !seen.insert(p.name.as_str()) {
            return Err(invalid_decl(&p.name, "declared twice"));
        }
        check_kind(&p.name, &p.kind, false)?;
        if p.placement == Placement::Path && (!p.required || p.default.is_some()) {
            return Err(invalid_decl(
                &p.name,
                "a path parameter is always required and has no default",
            ));
        }
        if p.placement == Placement::Path && matches!(p.kind, ParamKind::List { .. }) {
            return Err(invalid_decl(&p.name, "a list cannot travel in the path"));
        }
        if p.required && p.default.is_some() {
            return Err(invalid_decl(&p.name, "a required parameter has no default"));
        }
        for (what, v) in [("default", &p.default), ("example", &p.example)] {
            if let Some(v) = v {
                value_of(p, &Value::String(v.clone())).map_err(|e| {
                    invalid_decl(
                        &p.name,
                        format_args!("its {what} does not fit: {}", e.message),
                    )
                })?;
            }
        }
    }
    Ok(())
}

fn check_kind(name: &str, kind: &ParamKind, in_list: bool) -> Result<(), Error> {
    match kind {
        ParamKind::String {
            min_len,
            max_len,
            pattern,
        } => {
            if *max_len == 0 || *max_len > MAX_TEXT || min_len > max_len {
                return Err(invalid_decl(
                    name,
                    format_args!(
                        "lengths must hold 0 ≤ min_len ≤ max_len ≤ {MAX_TEXT}, max_len ≥ 1"
                    ),
                ));
            }
            if let Some(p) = pattern {
                anchored(p).map_err(|e| invalid_decl(name, format_args!("bad pattern: {e}")))?;
            }
        }
        ParamKind::Integer { min, max } => {
            if let (Some(a), Some(b)) = (min, max)
                && a > b
            {
                return Err(invalid_decl(name, "min is above max"));
            }
        }
        ParamKind::Date => {}
        ParamKind::Enum { values } => {
            if values.is_empty() {
                return Err(invalid_decl(name, "an enum needs at least one value"));
            }
        }
        ParamKind::List { item, max } => {
            if in_list {
                return Err(invalid_decl(name, "a list of lists is not a parameter"));
            }
            if *max == 0 || *max > MAX_LIST {
                return Err(invalid_decl(
                    name,
                    format_args!("a list takes 1 to {MAX_LIST} values"),
                ));
            }
            check_kind(name, item, true)?;
        }
    }
    Ok(())
}

/// A call's values as they arrived, by placement.
#[derive(Debug, Clone, Default)]
pub struct Given {
    pub path: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
    pub body: serde_json::Map<String, Value>,
}

impl Given {
    /// Values sent as a JSON object (a test run from the console): every placement at once.
    pub fn from_json(v: &serde_json::Map<String, Value>) -> Self {
        Given {
            body: v.clone(),
            path: BTreeMap::new(),
            query: BTreeMap::new(),
        }
    }

    fn get(&self, p: &Param) -> Option<Value> {
        let text = |m: &BTreeMap<String, String>| m.get(&p.name).map(|s| Value::String(s.clone()));
        match p.placement {
            Placement::Path => text(&self.path).or_else(|| self.body.get(&p.name).cloned()),
            Placement::Query => text(&self.query).or_else(|| self.body.get(&p.name).cloned()),
            Placement::Body => self.body.get(&p.name).cloned(),
        }
    }
}

/// A bound value: one scalar, or a list's scalars.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    One(ScalarValue),
    Many(Vec<ScalarValue>),
}

/// The call's values, checked and typed, by parameter name; an unknown name in the query or
/// body is refused (a misspelt optional parameter would otherwise be silently dropped).
pub fn bind(params: &[Param], given: &Given) -> Result<HashMap<String, Bound>, Error> {
    for name in given.query.keys().chain(given.body.keys()) {
        if !params.iter().any(|p| &p.name == name) {
            let known: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            return Err(invalid_value(
                name,
                format_args!(
                    "this service takes no such parameter; it takes: {}",
                    known.join(", ")
                ),
            ));
        }
    }
    let mut out = HashMap::new();
    for p in params {
        let v = match (given.get(p), &p.default) {
            (Some(Value::Null) | None, Some(d)) => Value::String(d.clone()),
            (Some(Value::Null) | None, None) if p.required => {
                return Err(invalid_value(&p.name, "is required"));
            }
            (Some(Value::Null) | None, None) => Value::Null,
            (Some(v), _) => v,
        };
        out.insert(p.name.clone(), value_of(p, &v)?);
    }
    Ok(out)
}

/// One parameter's value, checked. A list comes as a JSON array or as comma-separated text.
fn value_of(p: &Param, v: &Value) -> Result<Bound, Error> {
    match &p.kind {
        ParamKind::List { item, max } => {
            let parts: Vec<Value> = match v {
                Value::Array(a) => a.clone(),
                Value::String(s) => s
                    .split(',')
                    .map(|x| Value::String(x.trim().to_string()))
                    .collect(),
                Value::Null => Vec::new(),
                other => vec![other.clone()],
            };
            if parts.is_empty() {
                return Err(invalid_value(&p.name, "needs at least one value"));
            }
            if parts.len() > *max {
                return Err(invalid_value(
                    &p.name,
                    format_args!("takes at most {max} values, got {}", parts.len()),
                ));
            }
            parts
                .iter()
                .map(|x| scalar_of(&p.name, item, x))
                .collect::<Result<Vec<_>, _>>()
                .map(Bound::Many)
        }
        kind => scalar_of(&p.name, kind, v).map(Bound::One),
    }
}

fn scalar_of(name: &str, kind: &ParamKind, v: &Value) -> Result<ScalarValue, Error> {
    if v.is_null() {
        return Ok(match kind {
            ParamKind::Integer { .. } => ScalarValue::Int64(None),
            ParamKind::Date => ScalarValue::Date32(None),
            _ => ScalarValue::Utf8(None),
        });
    }
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err(invalid_value(name, "must be a single value")),
    };
    match kind {
        ParamKind::String {
            min_len,
            max_len,
            pattern,
        } => {
            let n = text.chars().count();
            if n < *min_len || n > *max_len {
                return Err(invalid_value(
                    name,
                    if min_len == max_len {
                        format!("must be {max_len} characters, got {n}")
                    } else {
                        format!("must be {min_len} to {max_len} characters, got {n}")
                    },
                ));
            }
            if let Some(pat) = pattern {
                let re = anchored(pat).map_err(|e| invalid_value(name, e))?;
                if !re.is_match(&text) {
                    return Err(invalid_value(
                        name,
                        format_args!("does not match the pattern {pat}"),
                    ));
                }
            }
            Ok(ScalarValue::Utf8(Some(text)))
        }
        ParamKind::Integer { min, max } => {
            let n: i64 = text
                .trim()
                .parse()
                .map_err(|_| invalid_value(name, format_args!("'{text}' is not an integer")))?;
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                return Err(invalid_value(
                    name,
                    format_args!(
                        "{n} is outside {}..{}",
                        min.map_or(String::new(), |m| m.to_string()),
                        max.map_or(String::new(), |m| m.to_string())
                    ),
                ));
            }
            Ok(ScalarValue::Int64(Some(n)))
        }
        ParamKind::Date => {
            let d = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
                invalid_value(name, format_args!("'{text}' is not a date like 2024-03-01"))
            })?;
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            Ok(ScalarValue::Date32(Some(
                d.signed_duration_since(epoch).num_days() as i32,
            )))
        }
        ParamKind::Enum { values } => {
            if values.contains(&text) {
                Ok(ScalarValue::Utf8(Some(text)))
            } else {
                Err(invalid_value(
                    name,
                    format_args!("'{text}' is not one of {}", values.join(", ")),
                ))
            }
        }
        ParamKind::List { .. } => Err(invalid_value(name, "a list of lists is not a value")),
    }
}

/// A value of each parameter for planning a definition: its example, its default, or the
/// least value its type allows (planning needs the types only).
pub fn stand_ins(params: &[Param]) -> HashMap<String, Bound> {
    params
        .iter()
        .map(|p| {
            let given = p
                .example
                .clone()
                .or_else(|| p.default.clone())
                .map(Value::String);
            let b = given
                .and_then(|v| value_of(p, &v).ok())
                .unwrap_or_else(|| match &p.kind {
                    ParamKind::List { item, .. } => Bound::Many(vec![null_of(item)]),
                    k => Bound::One(null_of(k)),
                });
            (p.name.clone(), b)
        })
        .collect()
}

fn null_of(kind: &ParamKind) -> ScalarValue {
    scalar_of("", kind, &Value::Null).unwrap_or(ScalarValue::Utf8(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_param() -> Param {
        Param {
            example: Some("510107199001011234".into()),
            ..Param::citizen_number("id")
        }
    }

    #[test]
    fn values_are_checked_and_typed() {
        let ps = vec![
            id_param(),
            Param {
                name: "codes".into(),
                kind: ParamKind::List {
                    item: Box::new(ParamKind::Enum {
                        values: vec!["10".into(), "20".into()],
                    }),
                    max: 2,
                },
                placement: Placement::Body,
                required: false,
                default: Some("10".into()),
                example: None,
                description: String::new(),
            },
            Param {
                name: "on".into(),
                kind: ParamKind::Date,
                placement: Placement::Query,
                required: false,
                default: None,
                example: None,
                description: String::new(),
            },
        ];
        check_declared(&ps).unwrap();
        let mut g = Given::default();
        g.query.insert("id".into(), "510107199001011234".into());
        g.query.insert("on".into(), "1970-01-11".into());
        let b = bind(&ps, &g).unwrap();
        assert_eq!(
            b["id"],
            Bound::One(ScalarValue::Utf8(Some("510107199001011234".into())))
        );
        assert_eq!(b["on"], Bound::One(ScalarValue::Date32(Some(10))));
        assert_eq!(
            b["codes"],
            Bound::Many(vec![ScalarValue::Utf8(Some("10".into()))])
        );
        // Too short, an injection attempt, an unknown name, too many list values.
        for (k, v, want) in [
            ("id", "5101", "must be 18 characters, got 4"),
            ("id", "51010719900101' OR", "does not match"),
            ("idd", "1", "no such parameter"),
        ] {
            let mut g = Given::default();
            g.query.insert("id".into(), "510107199001011234".into());
            g.query.insert(k.into(), v.into());
            let e = bind(&ps, &g).unwrap_err();
            assert_eq!(e.code, ErrorCode::ParamInvalid);
            assert!(e.message.contains(want), "{}", e.message);
        }
        let mut g = Given::default();
        g.query.insert("id".into(), "510107199001011234".into());
        g.body
            .insert("codes".into(), serde_json::json!(["10", "20", "10"]));
        assert!(bind(&ps, &g).unwrap_err().message.contains("at most 2"));
        let e = bind(&ps, &Given::default()).unwrap_err();
        assert!(e.message.contains("id: is required"), "{}", e.message);
    }

    #[test]
    fn bad_declarations_are_refused() {
        let mut p = id_param();
        p.name = "身份".into();
        assert!(check_declared(&[p]).is_err());
        let mut p = id_param();
        p.example = Some("123".into());
        let e = check_declared(&[p]).unwrap_err();
        assert_eq!(e.code, ErrorCode::ServiceInvalid);
        assert!(e.message.contains("example does not fit"), "{}", e.message);
        let mut p = id_param();
        p.placement = Placement::Path;
        p.required = false;
        assert!(check_declared(&[p]).is_err());
        assert!(check_declared(&[id_param(), id_param()]).is_err());
    }
}
