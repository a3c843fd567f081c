//! A data service's SQL, parsed once when it is defined with DataFusion's SQL parser: one
//! SELECT, reading only `std.`, `base.` and `theme.` tables, calling only functions on the list,
//! with `:name` placeholders for declared parameters. What is kept is the query with DataFusion's
//! `$name` placeholders, to which each call binds its typed values.

use crate::service::param::Bound;
use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;
use yishu_lake::datafusion::sql::sqlparser::ast::{
    Expr, ObjectName, Query, Statement, Value, Visit, Visitor, visit_expressions_mut,
};
use yishu_lake::datafusion::sql::sqlparser::dialect::GenericDialect;
use yishu_lake::datafusion::sql::sqlparser::parser::Parser;
use yishu_lake::{Layer, check_table_name};
use yishu_meta::service::{Param, ParamKind};
use yishu_types::{Error, ErrorCode};

/// Functions a service may call: text, number, date, conditional and aggregate functions that
/// read only their arguments (nothing that reads files, the clock's effects aside, or settings).
pub const FUNCTIONS: &[&str] = &[
    // text
    "upper",
    "lower",
    "trim",
    "ltrim",
    "rtrim",
    "btrim",
    "substr",
    "substring",
    "left",
    "right",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "concat",
    "concat_ws",
    "replace",
    "lpad",
    "rpad",
    "starts_with",
    "ends_with",
    "strpos",
    "split_part",
    "reverse",
    "regexp_like",
    "regexp_replace",
    "to_hex",
    "md5",
    // numbers
    "abs",
    "round",
    "floor",
    "ceil",
    "trunc",
    "power",
    "mod",
    "greatest",
    "least",
    // dates
    "date_part",
    "date_trunc",
    "to_date",
    "to_timestamp",
    "to_char",
    "current_date",
    "now",
    "make_date",
    "extract",
    // conditionals
    "coalesce",
    "nullif",
    "ifnull",
    "nvl",
    // aggregates
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "bool_and",
    "bool_or",
    "array_agg",
    "string_agg",
    "approx_distinct",
];

/// The layers a service may read.
const LAYERS: [Layer; 3] = [Layer::Std, Layer::Base, Layer::Theme];

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::ServiceInvalid, msg)
}

/// A definition's SQL as checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The query with `$name` placeholders (a list parameter `:ids` as `$ids__1 … $ids__N`).
    pub sql: String,
    /// Every table it reads.
    pub tables: Vec<(Layer, String)>,
    /// Set when the query is a key lookup of a base library.
    pub key: Option<KeyLookup>,
}

/// What a walk over the query collects.
#[derive(Default)]
struct Found {
    ctes: BTreeSet<String>,
    relations: Vec<ObjectName>,
    functions: BTreeSet<String>,
}

impl Visitor for Found {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if let Some(w) = &q.with {
            for c in &w.cte_tables {
                self.ctes.insert(c.alias.name.value.to_lowercase());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, r: &ObjectName) -> ControlFlow<()> {
        self.relations.push(r.clone());
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if let Expr::Function(f) = e {
            self.functions.insert(f.name.to_string().to_lowercase());
        }
        ControlFlow::Continue(())
    }
}

/// The placeholder's parameter name, for `:name`.
fn placeholder(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Placeholder(p) => Some(p.as_str()),
            _ => None,
        },
        _ => None,
    }
}

fn named(name: &str) -> Expr {
    Expr::value(Value::Placeholder(format!("${name}")))
}

/// The name of item `k` of a list parameter's placeholders.
pub fn list_item(name: &str, k: usize) -> String {
    format!("{name}__{k}")
}

/// Parses and checks `sql` against the declared `params`.
pub fn parse(sql: &str, params: &[Param]) -> Result<Parsed, Error> {
    let mut stmts = Parser::parse_sql(&GenericDialect {}, sql)
        .map_err(|e| invalid(format!("the SQL does not parse: {e}")))?;
    if stmts.len() != 1 {
        return Err(invalid(format!(
            "a service is exactly one SELECT statement; this SQL has {}",
            stmts.len()
        )));
    }
    let mut stmt = stmts.remove(0);
    let key = key_lookup(&stmt);
    let Statement::Query(q) = &stmt else {
        return Err(invalid(
            "a service only reads: its SQL must be a SELECT (no INSERT, UPDATE, DELETE, DDL or settings)",
        ));
    };
    if has_into(q) {
        return Err(invalid(
            "SELECT … INTO writes a table; a service only reads",
        ));
    }
    let mut found = Found::default();
    let _ = stmt.visit(&mut found);
    let mut tables = Vec::new();
    for r in &found.relations {
        let parts: Vec<String> =
            r.0.iter()
                .map(|p| p.as_ident().map(|i| i.value.clone()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid(format!("'{r}' is not a table name")))?;
        match parts.as_slice() {
            [one] if found.ctes.contains(&one.to_lowercase()) => {}
            [layer, table] => {
                let Some(l) = LAYERS.into_iter().find(|l| l.as_str() == layer) else {
                    return Err(invalid(format!(
                        "'{r}': a service reads only std., base. and theme. tables"
                    )));
                };
                check_table_name(table).map_err(|e| invalid(format!("'{r}': {}", e.message)))?;
                if !tables.contains(&(l, table.clone())) {
                    tables.push((l, table.clone()));
                }
            }
            _ => {
                return Err(invalid(format!(
                    "'{r}' is not a table a service may read: name it as std.<table>, base.<table> or theme.<table>"
                )));
            }
        }
    }
    if tables.is_empty() {
        return Err(invalid("the SQL reads no table"));
    }
    let refused: Vec<&String> = found
        .functions
        .iter()
        .filter(|f| !FUNCTIONS.contains(&f.as_str()))
        .collect();
    if !refused.is_empty() {
        return Err(invalid(format!(
            "function {} is not on the list a service may call; allowed: {}",
            refused
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            FUNCTIONS.join(", ")
        )));
    }
    let kinds: HashMap<&str, &ParamKind> =
        params.iter().map(|p| (p.name.as_str(), &p.kind)).collect();
    let is_list = |n: &str| matches!(kinds.get(n), Some(ParamKind::List { .. }));
    let mut used = BTreeSet::new();
    let mut generated = BTreeSet::new();
    let mut bad: Option<Error> = None;
    // First a list parameter inside IN ( … ) becomes its items' placeholders …
    let _ = visit_expressions_mut(&mut stmt, |e| {
        if let Expr::InList { list, .. } = e {
            let mut out = Vec::new();
            for x in list.drain(..) {
                match placeholder(&x).and_then(|p| p.strip_prefix(':')) {
                    Some(n) if is_list(n) => {
                        let Some(ParamKind::List { max, .. }) = kinds.get(n) else {
                            unreachable!("checked as a list above")
                        };
                        for k in 1..=*max {
                            generated.insert(format!("${}", list_item(n, k)));
                            out.push(named(&list_item(n, k)));
                        }
                        used.insert(n.to_string());
                    }
                    _ => out.push(x),
                }
            }
            *list = out;
        }
        ControlFlow::<()>::Continue(())
    });
    // … then every other placeholder is a scalar parameter's.
    let _ = visit_expressions_mut(&mut stmt, |e| {
        let Some(p) = placeholder(e) else {
            return ControlFlow::Continue(());
        };
        let Some(n) = p.strip_prefix(':') else {
            if !generated.contains(p) {
                bad = Some(invalid(format!(
                    "placeholder {p}: name parameters as :name (declared in the parameter list)"
                )));
                return ControlFlow::Break(());
            }
            return ControlFlow::Continue(());
        };
        if !kinds.contains_key(n) {
            bad = Some(invalid(format!(
                ":{n} is not a declared parameter; declare it with its type"
            )));
            return ControlFlow::Break(());
        }
        if is_list(n) {
            bad = Some(invalid(format!(":{n} is a list: use it only as IN (:{n})")));
            return ControlFlow::Break(());
        }
        used.insert(n.to_string());
        *e = named(n);
        ControlFlow::Continue(())
    });
    if let Some(e) = bad {
        return Err(e);
    }
    if let Some(p) = params.iter().find(|p| !used.contains(&p.name)) {
        return Err(invalid(format!(
            "parameter :{} is declared but the SQL does not use it",
            p.name
        )));
    }
    Ok(Parsed {
        sql: stmt.to_string(),
        tables,
        key,
    })
}

/// A service that reads one subject of a base library by its key: `SELECT a, b AS c FROM
/// base.<library> WHERE subject_key = :p`. Such a call is served by the library's key index
/// (a page or two) instead of a scan of the library.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyLookup {
    pub table: String,
    /// (column read, name in the result), in order.
    pub columns: Vec<(String, String)>,
    /// The parameter holding the key.
    pub param: String,
}

/// The key lookup `stmt` is, if it is exactly one (nothing else in it: no joins, functions,
/// grouping, ordering or limits).
fn key_lookup(stmt: &Statement) -> Option<KeyLookup> {
    use yishu_lake::datafusion::sql::sqlparser::ast::{
        BinaryOperator, GroupByExpr, SelectItem, SetExpr, TableFactor,
    };
    let Statement::Query(q) = stmt else {
        return None;
    };
    if q.with.is_some() || q.order_by.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
        return None;
    }
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    let plain = sel.distinct.is_none()
        && sel.top.is_none()
        && sel.into.is_none()
        && sel.having.is_none()
        && sel.qualify.is_none()
        && matches!(&sel.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty())
        && sel.from.len() == 1
        && sel.from[0].joins.is_empty();
    if !plain {
        return None;
    }
    let TableFactor::Table {
        name, args: None, ..
    } = &sel.from[0].relation
    else {
        return None;
    };
    let parts: Vec<&str> = name
        .0
        .iter()
        .map(|p| p.as_ident().map(|i| i.value.as_str()))
        .collect::<Option<_>>()?;
    let ["base", table] = parts.as_slice() else {
        return None;
    };
    // A column as written: bare, or qualified by the table or its alias.
    let column = |e: &Expr| match e {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(ids) => ids.last().map(|i| i.value.clone()),
        _ => None,
    };
    let mut columns = Vec::new();
    for item in &sel.projection {
        match item {
            SelectItem::UnnamedExpr(e) => {
                let c = column(e)?;
                columns.push((c.clone(), c));
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                columns.push((column(expr)?, alias.value.clone()));
            }
            _ => return None,
        }
    }
    let Some(Expr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    }) = &sel.selection
    else {
        return None;
    };
    let (col, value) = match (column(left), column(right)) {
        (Some(c), None) => (c, right.as_ref()),
        (None, Some(c)) => (c, left.as_ref()),
        _ => return None,
    };
    let param = placeholder(value)?.strip_prefix(':')?.to_string();
    (col == "subject_key").then(|| KeyLookup {
        table: table.to_string(),
        columns,
        param,
    })
}

/// Whether a query (or any set operation inside it) selects INTO a table.
fn has_into(q: &Query) -> bool {
    use yishu_lake::datafusion::sql::sqlparser::ast::SetExpr;
    fn walk(s: &SetExpr) -> bool {
        match s {
            SetExpr::Select(sel) => sel.into.is_some(),
            SetExpr::Query(q) => walk(&q.body),
            SetExpr::SetOperation { left, right, .. } => walk(left) || walk(right),
            _ => false,
        }
    }
    walk(&q.body)
}

/// The values DataFusion binds, by placeholder name: a list's values fill its items'
/// placeholders, the last repeated (an IN list is unchanged by repeats).
pub fn param_values(
    params: &[Param],
    bound: &HashMap<String, Bound>,
) -> HashMap<String, yishu_lake::datafusion::scalar::ScalarValue> {
    let mut out = HashMap::new();
    for p in params {
        match (bound.get(&p.name), &p.kind) {
            (Some(Bound::One(v)), _) => {
                out.insert(p.name.clone(), v.clone());
            }
            (Some(Bound::Many(vs)), ParamKind::List { max, .. }) if !vs.is_empty() => {
                for k in 1..=*max {
                    let v = vs.get(k - 1).unwrap_or(&vs[vs.len() - 1]);
                    out.insert(list_item(&p.name, k), v.clone());
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use yishu_meta::service::Placement;

    fn p(name: &str, kind: ParamKind) -> Param {
        Param {
            name: name.into(),
            kind,
            placement: Placement::Query,
            required: true,
            default: None,
            example: None,
            description: String::new(),
        }
    }

    fn text() -> ParamKind {
        ParamKind::String {
            min_len: 1,
            max_len: 18,
            pattern: None,
        }
    }

    #[test]
    fn a_lookup_is_parsed_with_bound_placeholders() {
        let got = parse(
            "SELECT 姓名, 婚姻状况 FROM base.population WHERE 公民身份号码 = :id",
            &[p("id", text())],
        )
        .unwrap();
        assert_eq!(got.tables, vec![(Layer::Base, "population".to_string())]);
        assert!(got.sql.contains("= $id"), "{}", got.sql);
        let list = ParamKind::List {
            item: Box::new(text()),
            max: 3,
        };
        let got = parse(
            "WITH p AS (SELECT * FROM std.r_a) SELECT upper(x) FROM p JOIN base.houses h ON p.k = h.k WHERE p.k IN (:ks) AND h.y = :y",
            &[p("ks", list), p("y", text())],
        )
        .unwrap();
        assert!(
            got.sql.contains("IN ($ks__1, $ks__2, $ks__3)"),
            "{}",
            got.sql
        );
        assert_eq!(got.tables.len(), 2);
    }

    #[test]
    fn key_lookups_are_recognised_and_nothing_else() {
        let key = |sql: &str| parse(sql, &[p("id", text())]).unwrap().key;
        let k =
            key("SELECT 姓名, p.婚姻状况 AS 婚姻 FROM base.population p WHERE subject_key = :id")
                .unwrap();
        assert_eq!(k.table, "population");
        assert_eq!(
            k.columns,
            vec![
                ("姓名".to_string(), "姓名".to_string()),
                ("婚姻状况".to_string(), "婚姻".to_string())
            ]
        );
        assert_eq!(k.param, "id");
        for other in [
            "SELECT 姓名 FROM base.population WHERE 姓名 = :id",
            "SELECT 姓名 FROM base.population WHERE subject_key = :id LIMIT 1",
            "SELECT upper(姓名) FROM base.population WHERE subject_key = :id",
            "SELECT * FROM base.population WHERE subject_key = :id",
            "SELECT 姓名 FROM std.r_a WHERE subject_key = :id",
            "SELECT 姓名 FROM base.population WHERE subject_key = :id AND 姓名 = 'x'",
            "SELECT DISTINCT 姓名 FROM base.population WHERE subject_key = :id",
        ] {
            assert_eq!(key(other), None, "{other}");
        }
    }

    #[test]
    fn what_a_service_may_not_do_is_refused() {
        for (sql, want) in [
            ("DELETE FROM base.population", "must be a SELECT"),
            (
                "SELECT 1 FROM base.population; SELECT 2 FROM base.population",
                "has 2",
            ),
            ("SELECT * FROM ods.r_a", "only std., base. and theme."),
            ("SELECT * FROM population", "name it as std.<table>"),
            (
                "SELECT * FROM generate_series(1, 10)",
                "name it as std.<table>",
            ),
            (
                "SELECT pg_read_file('x') FROM base.population",
                "pg_read_file is not on the list",
            ),
            ("SELECT * INTO t FROM base.population", "INTO"),
            (
                "SELECT * FROM base.population WHERE a = :nope",
                ":nope is not a declared parameter",
            ),
            (
                "SELECT * FROM base.population WHERE a = $1",
                "name parameters as :name",
            ),
            (
                "SELECT * FROM base.population",
                "declared but the SQL does not use it",
            ),
            ("SELEC * FROM base.population", "does not parse"),
        ] {
            let e = parse(sql, &[p("id", text())]).unwrap_err();
            assert_eq!(e.code, ErrorCode::ServiceInvalid, "{sql}");
            assert!(e.message.contains(want), "{sql}: {}", e.message);
        }
        let list = ParamKind::List {
            item: Box::new(text()),
            max: 3,
        };
        let e = parse(
            "SELECT * FROM base.population WHERE a = :ks",
            &[p("ks", list)],
        )
        .unwrap_err();
        assert!(e.message.contains("only as IN (:ks)"), "{}", e.message);
    }
}
