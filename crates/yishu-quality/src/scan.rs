//! One pass over a resource's rows (a batch, or the whole table) that profiles every field and runs
//! every row rule. The rows are read once, in file order, and every field profiler and rule (a
//! task) sees every batch in order, on whichever worker thread is free, so profiling ten rules
//! costs one scan, not eleven.

use crate::eval::{Context, Eval, Violation};
use crate::profile::{FieldAcc, RecordAcc, TableProfile, table_profile};
use crate::rule::{PlannedRule, RuleDef};
use crate::text::Texts;
use futures::StreamExt;
use std::sync::Arc;
use yishu_lake::arrow::array::RecordBatch;
use yishu_lake::datafusion::prelude::{DataFrame, SessionConfig, SessionContext, col, lit};
use yishu_lake::lineage::{BATCH_ID, SOURCE_REF};
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
        let refs = b.column_by_name(SOURCE_REF).and_then(Texts::of);
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
            .filter(col(BATCH_ID).eq(lit(b)))
            .map_err(lake_err("cannot select the batch")),
        None => Ok(df),
    }
}

/// Batches read ahead of the slowest task, at most.
const AHEAD: usize = 16;

/// Work the scan's threads share: every task sees every batch in order; an idle worker takes any
/// task that has a batch it has not seen, so no core waits while another has a queue.
struct Board {
    state: std::sync::Mutex<BoardState>,
    wake: std::sync::Condvar,
    /// Free places in the queue of batches (the reader waits for one).
    room: tokio::sync::Semaphore,
}

#[derive(Default)]
struct BoardState {
    /// None while a worker holds the task.
    tasks: Vec<Option<Task>>,
    /// Batches each task has been fed (counted from the start).
    seen: Vec<usize>,
    batches: std::collections::VecDeque<Arc<RecordBatch>>,
    /// The count of batches already dropped from the front of the queue.
    first: usize,
    closed: bool,
    failed: bool,
}

impl Board {
    /// Queues a batch for every task; false once a worker has failed.
    fn post(&self, b: Arc<RecordBatch>) -> bool {
        let Ok(mut st) = self.state.lock() else {
            return false;
        };
        if st.failed {
            return false;
        }
        st.batches.push_back(b);
        self.wake.notify_all();
        true
    }

    fn close(&self) {
        if let Ok(mut st) = self.state.lock() {
            st.closed = true;
        }
        self.wake.notify_all();
    }

    /// A worker: feeds the task furthest behind its next batch until every task saw every batch.
    fn work(&self) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        loop {
            if st.failed {
                return;
            }
            let end = st.first + st.batches.len();
            let next = (0..st.tasks.len())
                .filter(|&i| st.tasks[i].is_some() && st.seen[i] < end)
                .min_by_key(|&i| st.seen[i]);
            let Some(i) = next else {
                if st.closed && st.seen.iter().all(|&n| n == end) {
                    self.wake.notify_all();
                    return;
                }
                st = match self.wake.wait(st) {
                    Ok(st) => st,
                    Err(_) => return,
                };
                continue;
            };
            let mut task = st.tasks[i].take().expect("picked a free task");
            let batch = st.batches[st.seen[i] - st.first].clone();
            drop(st);
            let fed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.feed(&batch)));
            st = match self.state.lock() {
                Ok(st) => st,
                Err(_) => return,
            };
            if fed.is_err() {
                st.failed = true;
                self.room.close();
                self.wake.notify_all();
                return;
            }
            st.tasks[i] = Some(task);
            st.seen[i] += 1;
            // A batch every task has seen leaves the queue and makes room for the reader.
            let done = st.seen.iter().copied().min().unwrap_or(0);
            while st.first < done {
                st.batches.pop_front();
                st.first += 1;
                self.room.add_permits(1);
            }
            self.wake.notify_all();
        }
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
    // Heaviest first: an idle worker takes the first task that has a batch waiting.
    tasks.sort_by_key(|t| std::cmp::Reverse(t.cost()));
    let n_tasks = tasks.len();
    let board = Arc::new(Board {
        state: std::sync::Mutex::new(BoardState {
            seen: vec![0; n_tasks],
            tasks: tasks.into_iter().map(Some).collect(),
            batches: std::collections::VecDeque::new(),
            first: 0,
            closed: false,
            failed: false,
        }),
        wake: std::sync::Condvar::new(),
        room: tokio::sync::Semaphore::new(AHEAD),
    });
    let workers: Vec<_> = (0..threads.clamp(1, n_tasks.max(1)))
        .map(|_| {
            let board = board.clone();
            std::thread::spawn(move || board.work())
        })
        .collect();
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
        // At most AHEAD batches wait for the slowest task.
        match board.room.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => break,
        }
        if !board.post(b) {
            failure = Some(Error::new(ErrorCode::Internal, "a check worker stopped"));
            break;
        }
    }
    board.close();
    for w in workers {
        tokio::task::block_in_place(|| w.join())
            .map_err(|_| Error::new(ErrorCode::Internal, "a check worker panicked"))?;
    }
    let state = std::mem::take(
        &mut *board
            .state
            .lock()
            .map_err(|_| Error::new(ErrorCode::Internal, "a check worker panicked"))?,
    );
    if state.failed {
        return Err(Error::new(ErrorCode::Internal, "a check worker panicked"));
    }
    let mut fields = Vec::new();
    let mut duplicates = 0;
    let mut violations = Vec::new();
    for t in state.tasks.into_iter().flatten() {
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
    // Violations in rule order, each rule's in row order (as one worker would have found them).
    violations.sort_by_key(|v| v.rule);
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
    if df.schema().field_with_unqualified_name(SOURCE_REF).is_err() {
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
        let Some(refs) = text(SOURCE_REF) else {
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
