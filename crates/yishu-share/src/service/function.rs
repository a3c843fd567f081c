//! Function APIs (R28): a version that calls, in steps, other published services and
//! verifications — "verify this person, then read their marital and insurance status" — with
//! its parameters mapped onto theirs. Each step is its own read through the gate on the
//! caller's grant for what it calls, and its own record in the read audit; a verification
//! step may stop the later steps unless everything matched. The answer is one row, its items
//! named `<step>.<item>`.

use super::param::{self, Bound, Given};
use super::{Answer, invalid, run, source_of};
use crate::gate::{MAX_PAGE, ReadPlan, ReadRequest, Source};
use crate::target::{Target, resolve};
use crate::verify::{self, Claim, Verdict};
use futures::future::BoxFuture;
use std::collections::HashMap;
use yishu_lake::Lake;
use yishu_lake::datafusion::scalar::ScalarValue;
use yishu_meta::Store;
use yishu_meta::service::{Checked, Output, Param, Service, ServiceDraft, ServiceStatus};
use yishu_types::Error;

/// The newest published version of service `name`.
async fn callee(store: &Store, name: &str) -> Result<Service, Error> {
    store
        .services()
        .await?
        .into_iter()
        .filter(|s| s.name == name && s.status == ServiceStatus::Published)
        .max_by_key(|s| s.version)
        .ok_or_else(|| invalid(format!("no published data service named {name} to call")))
}

/// A mapped value: `:param` of the function's own, or a literal.
fn mapped<'a>(v: &'a str, params: &[Param]) -> Result<Option<&'a str>, Error> {
    match v.strip_prefix(':') {
        Some(p) if params.iter().any(|x| x.name == p) => Ok(Some(p)),
        Some(p) => Err(invalid(format!("':{p}' is not a parameter of this API"))),
        None => Ok(None),
    }
}

/// Checks a function's steps and names what it returns.
pub async fn check(store: &Store, lake: &Lake, d: &ServiceDraft) -> Result<Checked, Error> {
    if !d.sql.trim().is_empty() {
        return Err(invalid(
            "a function API calls steps instead of SQL: leave sql empty",
        ));
    }
    if d.steps.len() > 10 {
        return Err(invalid("a function API has at most 10 steps"));
    }
    let mut tables: Vec<String> = Vec::new();
    let mut outputs: Vec<Output> = Vec::new();
    for (i, st) in d.steps.iter().enumerate() {
        let at = |m: String| invalid(format!("steps[{i}] ({}): {m}", st.name));
        let name_ok = !st.name.is_empty()
            && st.name.len() <= 32
            && st
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok || d.steps[..i].iter().any(|o| o.name == st.name) {
            return Err(at(
                "a step needs its own name of letters, digits and _".into()
            ));
        }
        for v in st.with.values() {
            mapped(v, &d.params).map_err(|e| at(e.message))?;
        }
        match Target::parse(&st.call).map_err(|e| at(e.message))? {
            Target::Service(name) => {
                if name == d.name {
                    return Err(at("a function does not call itself".into()));
                }
                let c = callee(store, &name).await.map_err(|e| at(e.message))?;
                if !c.draft.steps.is_empty() {
                    return Err(at(format!(
                        "{name} is itself a function API; call its steps instead"
                    )));
                }
                for k in st.with.keys() {
                    if !c.draft.params.iter().any(|p| &p.name == k) {
                        return Err(at(format!("{name} has no parameter '{k}'")));
                    }
                }
                for p in c.draft.params.iter().filter(|p| p.required) {
                    if !st.with.contains_key(&p.name) {
                        return Err(at(format!("{name} needs its parameter '{}'", p.name)));
                    }
                }
                tables.extend(c.checked.tables.iter().cloned());
                outputs.extend(c.checked.outputs.iter().map(|o| Output {
                    name: format!("{}.{}", st.name, o.name),
                    source: o.source.clone(),
                }));
            }
            Target::Verify(kind) => {
                if !st.with.contains_key("key") {
                    return Err(at("a verification needs 'key'".into()));
                }
                let items: Vec<&String> = st.with.keys().filter(|k| *k != "key").collect();
                if items.is_empty() {
                    return Err(at("a verification compares at least one item".into()));
                }
                let source = resolve(store, lake, Target::Verify(kind)).await?.source;
                for item in &items {
                    if !source.has(item) {
                        return Err(at(format!("the library has no item '{item}'")));
                    }
                }
                tables.push(format!("base.{}", yishu_fusion::schema::base_table(kind)));
                outputs.push(Output {
                    name: format!("{}.found", st.name),
                    source: None,
                });
                outputs.extend(items.iter().map(|item| Output {
                    name: format!("{}.{item}", st.name),
                    source: None,
                }));
            }
            Target::Resource(_) | Target::Base(_) => {
                return Err(at("a step calls service:<name> or verify:<library>".into()));
            }
        }
    }
    tables.sort();
    tables.dedup();
    Ok(Checked { tables, outputs })
}

/// A bound value as the text a called service or a verification takes.
fn text(b: &Bound) -> String {
    match b {
        Bound::One(ScalarValue::Utf8(Some(s))) => s.clone(),
        Bound::One(v) if v.is_null() => String::new(),
        Bound::One(v) => v.to_string(),
        Bound::Many(vs) => vs
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// How a function's steps are read: planned by the gate (on the caller's grant for what a step
/// calls, or the author's standing in a test run) and recorded (the read audit).
pub trait StepGate: Send + Sync {
    fn plan(&self, source: Source, req: ReadRequest) -> BoxFuture<'_, Result<ReadPlan, Error>>;
    fn record<'a>(
        &'a self,
        plan: &'a ReadPlan,
        rows: usize,
        subjects: Vec<String>,
    ) -> BoxFuture<'a, Result<(), Error>>;
}

/// Runs function `s` with its checked values: each step planned and recorded by `gate` before
/// its cells join the answer.
pub async fn run_function(
    store: &Store,
    lake: &Lake,
    s: &Service,
    bound: &HashMap<String, Bound>,
    gate: &dyn StepGate,
) -> Result<Answer, Error> {
    let value = |v: &str| -> Result<String, Error> {
        Ok(match mapped(v, &s.draft.params)? {
            Some(p) => bound.get(p).map(text).unwrap_or_default(),
            None => v.to_string(),
        })
    };
    let mut row: Vec<String> = Vec::new();
    let mut stopped = false;
    for st in &s.draft.steps {
        match Target::parse(&st.call)? {
            Target::Verify(kind) if !stopped => {
                let key = value(&st.with["key"])?;
                let mut items = std::collections::BTreeMap::new();
                for (k, v) in st.with.iter().filter(|(k, _)| *k != "key") {
                    items.insert(k.clone(), value(v)?);
                }
                let source = resolve(store, lake, Target::Verify(kind)).await?.source;
                let req = ReadRequest {
                    items: items.keys().cloned().collect(),
                    limit: MAX_PAGE,
                    ..Default::default()
                };
                let plan = gate.plan(source, req).await?;
                let claim = Claim {
                    key: key.clone(),
                    items: items.clone(),
                };
                let v = verify::verify(lake, kind, &plan, std::slice::from_ref(&claim)).await?;
                let checked = &v.results[0];
                gate.record(&plan, 1, if checked.found { vec![key] } else { vec![] })
                    .await?;
                row.push(checked.found.to_string());
                let mut all = checked.found;
                for item in items.keys() {
                    let verdict = checked.items.get(item).copied();
                    all &= verdict == Some(Verdict::Match);
                    row.push(
                        verdict
                            .map(|v| {
                                serde_json::to_value(v)
                                    .ok()
                                    .and_then(|j| j.as_str().map(String::from))
                                    .unwrap_or_default()
                            })
                            .unwrap_or_default(),
                    );
                }
                stopped = st.stop_unless_matched && !all;
            }
            Target::Service(name) if !stopped => {
                let c = callee(store, &name).await?;
                let mut given = Given::default();
                for (k, v) in &st.with {
                    given.query.insert(k.clone(), value(v)?);
                }
                let b = param::bind(&c.draft.params, &given)?;
                let req = ReadRequest {
                    limit: c.draft.row_cap as usize,
                    ..Default::default()
                };
                let plan = gate.plan(source_of(&c), req).await?;
                let a = run(lake, &c, &b, &plan).await?;
                gate.record(&plan, a.rows.len(), a.subjects.clone()).await?;
                // The items as the function was checked with (a newer version of the called
                // service may have others): each from the answer when it has it.
                let prefix = format!("{}.", st.name);
                for o in s
                    .checked
                    .outputs
                    .iter()
                    .filter(|o| o.name.starts_with(&prefix))
                {
                    let item = &o.name[prefix.len()..];
                    let cell = a
                        .items
                        .iter()
                        .position(|i| i == item)
                        .and_then(|p| a.rows.first().map(|r| r[p].clone()));
                    row.push(cell.unwrap_or_default());
                }
            }
            // A step after a stop: its cells stay empty and nothing is read.
            _ => {
                let n = s
                    .checked
                    .outputs
                    .iter()
                    .filter(|o| o.name.starts_with(&format!("{}.", st.name)))
                    .count();
                row.extend(std::iter::repeat_n(String::new(), n));
            }
        }
    }
    Ok(Answer {
        items: s.checked.outputs.iter().map(|o| o.name.clone()).collect(),
        rows: vec![row],
        truncated: false,
        subjects: Vec::new(),
    })
}
