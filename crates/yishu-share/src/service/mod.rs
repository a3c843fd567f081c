//! Data services (数据服务, R28): an API written once in SQL and called by many systems. A
//! definition is checked here before it is stored — its parameters, its SQL (one SELECT over
//! std/base/theme tables the author may read, functions on the list), and its plan, which names
//! the result's columns. A call binds typed values, runs under the version's row cap and
//! timeout, and its rows pass the same plan (items, filter, masks) as any read through a grant.
//! Callers (routes, commands) record each step in the audit chain with the request's origin.

pub mod function;
pub mod param;
pub mod sql;

use crate::filter::ItemKind;
use crate::gate::{ReadPlan, Source, standing};
use crate::target::bureau;
use function::StepGate;
use param::{Bound, Given};
use std::collections::{BTreeMap, HashMap};
use yishu_lake::datafusion::execution::context::SQLOptions;
use yishu_lake::datafusion::prelude::{DataFrame, SessionContext};
use yishu_lake::{Lake, Layer, text_rows};
use yishu_meta::service::{Checked, Output, Service, ServiceDraft, ServiceStatus};
use yishu_meta::{Principal, Store};
use yishu_types::{Error, ErrorCode, OrgId};

/// Most rows a version may be declared to return per call.
pub const MAX_ROW_CAP: i64 = crate::gate::MAX_PAGE as i64;
/// Longest timeout a version may be declared to have, in milliseconds.
pub const MAX_TIMEOUT_MS: i64 = 60_000;

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::ServiceInvalid, msg)
}

fn lake_err(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::LakeError,
        format!("the service's query failed: {e}"),
    )
}

/// Who provides a table: a std table its resource's department, base and theme tables the bureau.
async fn provider_of(store: &Store, layer: Layer, table: &str) -> Result<OrgId, Error> {
    match layer {
        Layer::Std => store
            .all_resources()
            .await?
            .into_iter()
            .find(|r| r.table() == table)
            .map(|r| r.meta.provider_org_id)
            .ok_or_else(|| invalid(format!("std.{table} is no catalog resource's table"))),
        _ => bureau(store).await,
    }
}

/// Checks a definition for `who` and names what its SQL reads and returns.
pub async fn check(
    store: &Store,
    lake: &Lake,
    who: &Principal,
    d: &ServiceDraft,
) -> Result<Checked, Error> {
    let name_ok = d.name.len() >= 2
        && d.name.len() <= 63
        && d.name.starts_with(|c: char| c.is_ascii_lowercase())
        && d.name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        return Err(invalid(format!(
            "name '{}': 2–63 lowercase letters, digits and -, starting with a letter (it is the service's path)",
            d.name
        )));
    }
    if d.title.trim().is_empty() {
        return Err(invalid("title: a service needs a title people recognise"));
    }
    if !(1..=MAX_ROW_CAP).contains(&d.row_cap) {
        return Err(invalid(format!(
            "row_cap: 1 to {MAX_ROW_CAP} rows per call"
        )));
    }
    if !(10..=MAX_TIMEOUT_MS).contains(&d.timeout_ms) {
        return Err(invalid(format!("timeout_ms: 10 to {MAX_TIMEOUT_MS}")));
    }
    param::check_declared(&d.params)?;
    if !d.steps.is_empty() {
        return function::check(store, lake, d).await;
    }
    let parsed = sql::parse(&d.sql, &d.params)?;
    for (layer, table) in &parsed.tables {
        if !lake.has_table(*layer, table) {
            return Err(invalid(format!("{layer}.{table} does not exist (yet)")));
        }
        let provider = provider_of(store, *layer, table).await?;
        if standing(who, provider).is_none() {
            return Err(Error::new(
                ErrorCode::Forbidden,
                format!(
                    "{layer}.{table} is another department's data: a service reads only what its author may read"
                ),
            ));
        }
    }
    let df = frame(lake, &parsed, &d.params, &param::stand_ins(&d.params)).await?;
    let mut columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (layer, table) in &parsed.tables {
        for c in lake.columns(*layer, table).await?.unwrap_or_default() {
            columns
                .entry(c)
                .or_default()
                .push(format!("{layer}.{table}"));
        }
    }
    let mut outputs: Vec<Output> = Vec::new();
    for f in df.schema().fields() {
        let name = f.name().clone();
        if outputs.iter().any(|o| o.name == name) {
            return Err(invalid(format!(
                "the result has two columns named {name}; give one an alias"
            )));
        }
        let source = match columns.get(&name).map(Vec::as_slice) {
            Some([one]) => Some(format!("{one}.{name}")),
            _ => None,
        };
        outputs.push(Output { name, source });
    }
    Ok(Checked {
        tables: parsed
            .tables
            .iter()
            .map(|(l, t)| format!("{l}.{t}"))
            .collect(),
        outputs,
    })
}

/// The query planned in a session holding only its tables, values bound.
async fn frame(
    lake: &Lake,
    parsed: &sql::Parsed,
    params: &[yishu_meta::service::Param],
    bound: &HashMap<String, Bound>,
) -> Result<DataFrame, Error> {
    let ctx: SessionContext = lake.session_of(&parsed.tables).await?;
    let opts = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let df = ctx
        .sql_with_options(&parsed.sql, opts)
        .await
        .map_err(|e| invalid(format!("the SQL does not plan: {e}")))?;
    df.with_param_values(sql::param_values(params, bound))
        .map_err(|e| invalid(format!("a parameter does not fit where it is used: {e}")))
}

/// Records a new version of `d` by `who` as a draft.
pub async fn define(
    store: &Store,
    lake: &Lake,
    who: &Principal,
    d: &ServiceDraft,
) -> Result<Service, Error> {
    let checked = check(store, lake, who, d).await?;
    store
        .create_service(who.org_id, who.user_id, d, &checked)
        .await
}

/// Replaces a draft's definition; it needs a new test run.
pub async fn edit(
    store: &Store,
    lake: &Lake,
    who: &Principal,
    id: i64,
    d: &ServiceDraft,
) -> Result<Service, Error> {
    let cur = store.service(id).await?;
    mine(who, &cur)?;
    if d.name != cur.name {
        return Err(invalid(format!(
            "name: a version keeps its service's name ({}); define a new service instead",
            cur.name
        )));
    }
    let checked = check(store, lake, who, d).await?;
    store.edit_service(id, d, &checked).await
}

/// Only the department that defined a version changes it (the bureau's data managers too).
fn mine(who: &Principal, s: &Service) -> Result<(), Error> {
    if standing(who, s.provider_org_id).is_some() {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::Forbidden,
            format!("{} v{} is another department's service", s.name, s.version),
        ))
    }
}

/// What one call returned, as the plan shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Answer {
    pub items: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// More rows matched than the version's row cap; the first ones are here.
    pub truncated: bool,
    /// Keys of the subjects the rows are about, when a key lookup found them (for "who read
    /// this person"; never sent).
    #[serde(skip)]
    pub subjects: Vec<String>,
}

/// Runs version `s` with checked values under `plan`: at most the row cap, within the
/// timeout, each row through the plan's filter and masks.
pub async fn run(
    lake: &Lake,
    s: &Service,
    bound: &HashMap<String, Bound>,
    plan: &ReadPlan,
) -> Result<Answer, Error> {
    if !s.draft.steps.is_empty() {
        return Err(invalid(format!(
            "{} v{} is a function API: its steps are run one by one",
            s.name, s.version
        )));
    }
    let parsed = parsed_once(s)?;
    if let Some(k) = &parsed.key
        && let Some(answer) = by_key(lake, k, bound, plan).await?
    {
        return Ok(answer);
    }
    let cap = s.draft.row_cap.max(1) as usize;
    let df = frame(lake, &parsed, &s.draft.params, bound)
        .await?
        .limit(0, Some(cap + 1))
        .map_err(lake_err)?;
    let names: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let limit = std::time::Duration::from_millis(s.draft.timeout_ms.max(1) as u64);
    let batches = tokio::time::timeout(limit, df.collect())
        .await
        .map_err(|_| {
            Error::new(
                ErrorCode::ServiceTimeout,
                format!(
                    "{} v{} ran past its timeout of {} ms and was stopped",
                    s.name, s.version, s.draft.timeout_ms
                ),
            )
        })?
        .map_err(lake_err)?;
    let mut rows = Vec::new();
    let mut matched = 0usize;
    for b in &batches {
        for cells in text_rows(b) {
            matched += 1;
            if rows.len() == cap {
                continue;
            }
            let row: crate::gate::Row = names.iter().cloned().zip(cells).collect();
            if let Some(shown) = plan.apply(&row) {
                rows.push(plan.items.iter().map(|i| shown[i].clone()).collect());
            }
        }
    }
    Ok(Answer {
        items: plan.items.clone(),
        rows,
        truncated: matched > cap,
        subjects: Vec::new(),
    })
}

/// Version `s`'s SQL as parsed the first time it was called (a version's SQL changes only
/// with its `updated_at`, which is part of the key): parsing again cost a twentieth of a call.
fn parsed_once(s: &Service) -> Result<std::sync::Arc<sql::Parsed>, Error> {
    use std::sync::{Arc, Mutex, OnceLock};
    type Parses = Mutex<HashMap<(i64, i64), Arc<sql::Parsed>>>;
    static PARSED: OnceLock<Parses> = OnceLock::new();
    let cache = PARSED.get_or_init(Parses::default);
    let key = (s.id, s.updated_at);
    if let Some(p) = cache.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(p);
    }
    let p = Arc::new(sql::parse(&s.draft.sql, &s.draft.params)?);
    if let Ok(mut m) = cache.lock() {
        if m.len() >= 1_000 {
            m.clear();
        }
        m.insert(key, p.clone());
    }
    Ok(p)
}

/// A key lookup's answer from the library's key index (`None` when the version is not one):
/// the same row a scan would find, at the cost of a page or two.
async fn by_key(
    lake: &Lake,
    k: &sql::KeyLookup,
    bound: &HashMap<String, Bound>,
    plan: &ReadPlan,
) -> Result<Option<Answer>, Error> {
    use yishu_lake::datafusion::scalar::ScalarValue;
    let Some(kind) = yishu_fusion::SubjectKind::ALL
        .into_iter()
        .find(|kind| yishu_fusion::schema::base_table(*kind) == k.table)
    else {
        return Ok(None);
    };
    let Some(Bound::One(ScalarValue::Utf8(key))) = bound.get(&k.param) else {
        return Ok(None);
    };
    let found = match key {
        Some(key) => yishu_fusion::library::by_key(lake, kind, key).await?,
        None => None,
    };
    let subjects: Vec<String> = found
        .as_ref()
        .and_then(|row| row.get("subject_key").cloned())
        .into_iter()
        .collect();
    let rows: Vec<Vec<String>> = found
        .map(|row| {
            let named: crate::gate::Row = k
                .columns
                .iter()
                .map(|(col, out)| (out.clone(), row.get(col).cloned().unwrap_or_default()))
                .collect();
            plan.apply(&named)
                .map(|shown| plan.items.iter().map(|i| shown[i].clone()).collect())
        })
        .into_iter()
        .flatten()
        .collect();
    Ok(Some(Answer {
        items: plan.items.clone(),
        subjects: if rows.is_empty() {
            Vec::new()
        } else {
            subjects
        },
        rows,
        truncated: false,
    }))
}

/// A version as a grant sees it: its result's columns are the items, its department the
/// provider.
pub fn source_of(s: &Service) -> Source {
    Source {
        target: s.target(),
        provider_org: s.provider_org_id,
        items: s
            .checked
            .outputs
            .iter()
            .map(|o| (o.name.clone(), ItemKind::Text))
            .collect(),
        levels: BTreeMap::new(),
    }
}

/// The version a call names, if it serves: a retired version, or a deprecated one past its
/// sunset, is gone (410); one not yet published is not found.
pub async fn serving(store: &Store, name: &str, version: i64, now: i64) -> Result<Service, Error> {
    let s = store.service_version(name, version).await?;
    match s.status {
        ServiceStatus::Published => Ok(s),
        ServiceStatus::Deprecated if s.sunset_at.is_none_or(|t| t > now) => Ok(s),
        ServiceStatus::Deprecated | ServiceStatus::Retired => Err(Error::new(
            ErrorCode::ServiceGone,
            format!(
                "{name} v{version} is no longer served{}",
                match store.services().await.ok().and_then(|all| {
                    all.into_iter()
                        .filter(|x| x.name == name && x.status == ServiceStatus::Published)
                        .map(|x| x.version)
                        .max()
                }) {
                    Some(v) => format!("; call v{v}"),
                    None => String::new(),
                }
            ),
        )),
        _ => Err(Error::new(
            ErrorCode::ServiceNotFound,
            format!("{name} v{version} is not published"),
        )),
    }
}

/// A test run by the author's department: values checked, rows in clear (its own standing),
/// recorded as the version's test; a draft becomes tested.
pub async fn test(
    store: &Store,
    lake: &Lake,
    who: &Principal,
    id: i64,
    given: &Given,
) -> Result<(Service, Answer), Error> {
    let s = store.service(id).await?;
    mine(who, &s)?;
    let bound = param::bind(&s.draft.params, given)?;
    // On the author's own standing, in clear; a test run is recorded as the version's test.
    let gate = Standing { store, who };
    let answer = if s.draft.steps.is_empty() {
        let req = crate::gate::ReadRequest {
            limit: s.draft.row_cap as usize,
            ..Default::default()
        };
        let plan = gate.plan(source_of(&s), req).await?;
        run(lake, &s, &bound, &plan).await?
    } else {
        function::run_function(store, lake, &s, &bound, &gate).await?
    };
    let s = if matches!(s.status, ServiceStatus::Draft | ServiceStatus::Tested) {
        store.service_tested(id, answer.rows.len() as i64).await?
    } else {
        s
    };
    Ok((s, answer))
}

/// Steps read on their reader's own standing (a test run), not recorded as reads.
struct Standing<'a> {
    store: &'a Store,
    who: &'a Principal,
}

impl function::StepGate for Standing<'_> {
    fn plan(
        &self,
        source: Source,
        req: crate::gate::ReadRequest,
    ) -> futures::future::BoxFuture<'_, Result<ReadPlan, Error>> {
        Box::pin(async move {
            crate::gate::plan(
                self.who,
                None,
                &source,
                &req,
                yishu_meta::now_ms(),
                crate::masker_for(self.store, self.who.org_id),
            )
        })
    }

    fn record<'a>(
        &'a self,
        _: &'a ReadPlan,
        _: usize,
        _: Vec<String>,
    ) -> futures::future::BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

/// The review of a tested version by a data manager who did not write it (four eyes).
pub async fn review(
    store: &Store,
    who: &Principal,
    id: i64,
    approve: bool,
    note: &str,
) -> Result<Service, Error> {
    let s = store.service(id).await?;
    if !who.has(yishu_types::Role::DataManager) {
        return Err(Error::new(
            ErrorCode::Forbidden,
            "the bureau's data managers review services",
        ));
    }
    if s.author_id == who.user_id {
        return Err(Error::new(
            ErrorCode::Forbidden,
            "a service is reviewed by someone other than its author",
        ));
    }
    if !approve && note.trim().is_empty() {
        return Err(Error::field("note", "a rejection says why"));
    }
    store.review_service(id, who.user_id, approve, note).await
}

/// Publishes a reviewed version at its path.
pub async fn publish(store: &Store, who: &Principal, id: i64) -> Result<Service, Error> {
    let s = store.service(id).await?;
    mine(who, &s)?;
    store.publish_service(id).await
}

/// The moment a version deprecated with last day `day` (`YYYY-MM-DD`) stops serving: the end
/// of that day in China (UTC+8), in milliseconds.
pub fn sunset_after(day: &str) -> Result<i64, Error> {
    chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .and_then(|n| n.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis() - 8 * 3_600_000)
        .ok_or_else(|| Error::field("sunset", format!("'{day}' is not a date like 2027-01-31")))
}

/// Deprecates a published version: it serves until `sunset_at` (ms), then answers 410.
pub async fn deprecate(
    store: &Store,
    who: &Principal,
    id: i64,
    sunset_at: i64,
) -> Result<Service, Error> {
    let s = store.service(id).await?;
    mine(who, &s)?;
    store.deprecate_service(id, sunset_at).await
}

/// Retires a version: calls answer 410 from now on.
pub async fn retire(store: &Store, who: &Principal, id: i64) -> Result<Service, Error> {
    let s = store.service(id).await?;
    mine(who, &s)?;
    store.retire_service(id).await
}
