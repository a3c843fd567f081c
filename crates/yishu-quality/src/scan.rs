//! One pass over a resource's rows (a batch, or the whole table) that profiles every field and runs
//! every row rule. The rows are read once, in file order, and handed to worker threads that each
//! own a share of the fields and rules, so profiling ten rules costs one scan, not eleven.

use crate::eval::{Context, Eval, Violation};
use crate::profile::{FieldAcc, RecordAcc, TableProfile, table_profile};
use crate::rule::{PlannedRule, RuleDef};
use crate::text::Texts;
use futures::StreamExt;
use std::sync::Arc;
use yishu_lake::arrow::array::RecordBatch;
use yishu_lake::datafusion::prelude::{DataFrame, SessionConfig, SessionContext, col, lit};
use yishu_lake::{Lake, Layer};
use yishu_types::{Error, ErrorCode};

/// What to scan and check.
pub struct Scan<'a> {
    pub lake: &'a Lake,
    /// The resource's table (its ods table name).
    pub table: &'a str,
    /// Only this batch's rows; None: the whole table.
    pub batch_id: Option<&'a str>,
    /// Items to profile.
    pub fields: &'a [String],
    pub rules: &'a [PlannedRule],
    pub context: Context,
    /// Worker threads (0: one per core).
    pub threads: usize,
}

/// How one rule fared on the scanned rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleOutcome {
    pub checked: u64,
    pub failed: u64,
    /// Why the rule could not run (a column dropped by drift, a reference that cannot be read).
    pub broken: Option<String>,
    /// Something worth saying that is not a failure (a dependency that matched nothing).
    pub note: Option<String>,
    /// False for rules that do not look at rows (volatility, timeliness): judged elsewhere.
    pub ran: bool,
}

pub struct ScanResult {
    pub profile: TableProfile,
    /// One per rule, in the order given.
    pub outcomes: Vec<RuleOutcome>,
    pub violations: Vec<Violation>,
}

enum Task {
    Field(usize, Box<FieldAcc>),
    Records(RecordAcc),
    Rule(usize, Eval, Vec<Violation>),
}

impl Task {
    fn cost(&self) -> u32 {
        match self {
            Task::Field(..) => 4,
            Task::Records(_) => 3,
            Task::Rule(_, e, _) => e.cost(),
        }
    }

    fn feed(&mut self, b: &RecordBatch) {
        let refs = b.column_by_name("_source_ref").and_then(Texts::of);
        match self {
            Task::Field(_, acc) => {
                let c = b.column_by_name(acc.name()).and_then(Texts::of);
                acc.feed(c, b.num_rows());
            }
            Task::Records(acc) => acc.feed(b),
            Task::Rule(idx, eval, out) => {
                if let Some(refs) = refs {
                    eval.feed(*idx, b, refs, out);
                }
            }
        }
    }
}

fn lake_err(what: &str) -> impl FnOnce(yishu_lake::datafusion::error::DataFusionError) -> Error {
    let what = what.to_string();
    move |e| Error::new(ErrorCode::LakeError, format!("{what}: {e}"))
}

/// The rows of `table` (optionally of one batch) as a DataFrame in a one-partition session, so
/// rows come in file order (which row of two duplicates is "the later" does not depend on luck).
pub async fn rows(lake: &Lake, table: &str, batch_id: Option<&str>) -> Result<DataFrame, Error> {
    let t = lake.open_table(Layer::Ods, table).await?;
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    t.update_datafusion_session(&ctx.state())
        .map_err(|e| Error::new(ErrorCode::LakeError, format!("cannot read {table}: {e}")))?;
    let provider = t
        .table_provider()
        .await
        .map_err(lake_err(&format!("cannot read {table}")))?;
    let df = ctx
        .read_table(provider)
        .map_err(lake_err(&format!("cannot read {table}")))?;
    match batch_id {
        Some(b) => df
            .filter(col("_batch_id").eq(lit(b)))
            .map_err(lake_err("cannot select the batch")),
        None => Ok(df),
    }
}

/// Profiles the rows and runs the row rules.
pub async fn scan(s: Scan<'_>) -> Result<ScanResult, Error> {
    let df = rows(s.lake, s.table, s.batch_id).await?;
    let present: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut context = s.context;
    let mut outcomes = vec![RuleOutcome::default(); s.rules.len()];
    let mut tasks: Vec<Task> = s
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| Task::Field(i, Box::new(FieldAcc::new(f))))
        .collect();
    tasks.push(Task::Records(RecordAcc::new(s.fields.to_vec())));
    for (i, r) in s.rules.iter().enumerate() {
        if let Some(c) = r
            .def
            .columns()
            .into_iter()
            .find(|c| !present.contains(&c.to_string()))
        {
            outcomes[i].broken = Some(format!("列“{c}”不在数据中（可能已被删除或改名）"));
            continue;
        }
        match Eval::new(&r.def, i, &mut context) {
            Ok(Some(e)) => tasks.push(Task::Rule(i, e, Vec::new())),
            Ok(None) => {}
            Err(why) => outcomes[i].broken = Some(why),
        }
    }
    let threads = if s.threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        s.threads
    };
    // Spread the work: heaviest first, each to the least loaded worker.
    tasks.sort_by_key(|t| std::cmp::Reverse(t.cost()));
    let mut shares: Vec<(u32, Vec<Task>)> = (0..threads).map(|_| (0, Vec::new())).collect();
    for t in tasks {
        let w = shares
            .iter_mut()
            .min_by_key(|(load, _)| *load)
            .expect("at least one worker");
        w.0 += t.cost();
        w.1.push(t);
    }
    let mut senders = Vec::new();
    let mut workers = Vec::new();
    for (_, mut share) in shares.into_iter().filter(|(_, s)| !s.is_empty()) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Arc<RecordBatch>>(4);
        senders.push(tx);
        workers.push(std::thread::spawn(move || {
            while let Some(b) = rx.blocking_recv() {
                for t in share.iter_mut() {
                    t.feed(&b);
                }
            }
            share
        }));
    }
    let mut stream = df
        .execute_stream()
        .await
        .map_err(lake_err(&format!("cannot read {}", s.table)))?;
    let mut records = 0u64;
    let mut failure = None;
    while let Some(b) = stream.next().await {
        let b = match b {
            Ok(b) => Arc::new(b),
            Err(e) => {
                failure = Some(Error::new(
                    ErrorCode::LakeError,
                    format!("cannot read {}: {e}", s.table),
                ));
                break;
            }
        };
        records += b.num_rows() as u64;
        for tx in &senders {
            if tx.send(b.clone()).await.is_err() {
                failure = Some(Error::new(ErrorCode::Internal, "a check worker stopped"));
            }
        }
    }
    drop(senders);
    let mut fields = Vec::new();
    let mut duplicates = 0;
    let mut violations = Vec::new();
    for w in workers {
        let share = tokio::task::block_in_place(|| w.join())
            .map_err(|_| Error::new(ErrorCode::Internal, "a check worker panicked"))?;
        for t in share {
            match t {
                Task::Field(i, acc) => fields.push((i, acc.finish())),
                Task::Records(acc) => duplicates = acc.duplicates(),
                Task::Rule(i, eval, mut out) => {
                    outcomes[i].ran = true;
                    outcomes[i].checked = records;
                    outcomes[i].note = eval.finish(i, &mut out);
                    outcomes[i].failed = out.len() as u64;
                    violations.append(&mut out);
                }
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    fields.sort_by_key(|(i, _)| *i);
    let total = records.max(1);
    let bytes = table_bytes(s.lake, s.table);
    let table_records = if s.batch_id.is_some() {
        crate::scan::count(s.lake, s.table).await.unwrap_or(total)
    } else {
        total
    };
    let bytes = (bytes as u128 * records as u128 / table_records.max(1) as u128) as u64;
    let profile = table_profile(
        s.table,
        records,
        bytes,
        duplicates,
        fields.into_iter().map(|(_, f)| f).collect(),
    );
    // Custom SQL rules run on the same rows once the pass is over.
    for (i, r) in s.rules.iter().enumerate() {
        if let RuleDef::Sql { sql } = &r.def
            && outcomes[i].broken.is_none()
        {
            match sql_violations(s.lake, s.table, s.batch_id, sql, i).await {
                Ok(mut out) => {
                    outcomes[i].ran = true;
                    outcomes[i].checked = records;
                    outcomes[i].failed = out.len() as u64;
                    violations.append(&mut out);
                }
                Err(e) => outcomes[i].broken = Some(e.message),
            }
        }
    }
    Ok(ScanResult {
        profile,
        outcomes,
        violations,
    })
}

/// Rows in a table.
pub async fn count(lake: &Lake, table: &str) -> Result<u64, Error> {
    let df = rows(lake, table, None).await?;
    df.count()
        .await
        .map(|n| n as u64)
        .map_err(lake_err(&format!("cannot count {table}")))
}

/// Bytes of the table's Parquet files on disk.
pub fn table_bytes(lake: &Lake, table: &str) -> u64 {
    let Ok(url) = lake.table_url(Layer::Ods, table) else {
        return 0;
    };
    let Ok(dir) = url.to_file_path() else {
        return 0;
    };
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// A session holding only the scanned rows as `t`, where user SQL may read and nothing else.
async fn sql_session(
    lake: &Lake,
    table: &str,
    batch_id: Option<&str>,
) -> Result<SessionContext, Error> {
    let df = rows(lake, table, batch_id).await?;
    let ctx = SessionContext::new();
    ctx.register_table("t", df.into_view())
        .map_err(lake_err("cannot prepare the rule's query"))?;
    Ok(ctx)
}

fn sql_options() -> yishu_lake::datafusion::execution::context::SQLOptions {
    yishu_lake::datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Plans a custom SQL rule against a table without running it: the check at save time.
pub async fn check_sql(lake: &Lake, table: &str, sql: &str) -> Result<(), Error> {
    let ctx = sql_session(lake, table, None).await?;
    let df = ctx
        .sql_with_options(sql, sql_options())
        .await
        .map_err(|e| Error::new(ErrorCode::RuleInvalid, format!("the SQL cannot run: {e}")))?;
    if df
        .schema()
        .field_with_unqualified_name("_source_ref")
        .is_err()
    {
        return Err(Error::new(
            ErrorCode::RuleInvalid,
            "the SQL must return the column _source_ref of the violating rows",
        ));
    }
    Ok(())
}

async fn sql_violations(
    lake: &Lake,
    table: &str,
    batch_id: Option<&str>,
    sql: &str,
    rule: usize,
) -> Result<Vec<Violation>, Error> {
    let ctx = sql_session(lake, table, batch_id).await?;
    let bad = |e: yishu_lake::datafusion::error::DataFusionError| {
        Error::new(ErrorCode::RuleInvalid, format!("the SQL failed: {e}"))
    };
    let df = ctx
        .sql_with_options(sql, sql_options())
        .await
        .map_err(bad)?;
    let mut stream = df.execute_stream().await.map_err(bad)?;
    let mut out = Vec::new();
    while let Some(b) = stream.next().await {
        let b = b.map_err(bad)?;
        let text = |name: &str| {
            b.column_by_name(name).and_then(|c| {
                yishu_lake::arrow::compute::cast(c, &yishu_lake::arrow::datatypes::DataType::Utf8)
                    .ok()
            })
        };
        let Some(refs) = text("_source_ref") else {
            return Err(Error::new(
                ErrorCode::RuleInvalid,
                "the SQL must return the column _source_ref of the violating rows",
            ));
        };
        let values = text("value");
        let (refs, values) = (Texts::of(&refs), values.as_ref().and_then(Texts::of));
        for i in 0..b.num_rows() {
            out.push(Violation {
                rule,
                source_ref: refs.and_then(|r| r.get(i)).unwrap_or_default().to_string(),
                value: values
                    .and_then(|v| v.get(i))
                    .unwrap_or_default()
                    .to_string(),
                detail: "自定义 SQL 规则".into(),
            });
        }
    }
    Ok(out)
}
