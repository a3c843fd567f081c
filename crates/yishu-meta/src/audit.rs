//! The audit chain: every security-relevant action is one record whose hash (SM3, GM/T 0004)
//! covers its fields and the previous record's hash, so any edit or removal breaks the chain at
//! that record. Appends serialise on the single `audit_head` row, in SQLite and PostgreSQL alike.

use crate::store::{Page, Store, db_err, now_ms};
use serde::{Deserialize, Serialize};
use sm3::{Digest, Sm3};
use sqlx::Row;
use yishu_types::{Error, ErrorCode, OrgId, UserId};

mod sqlite;

/// Hash of the (empty) record before the first one.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a caller records.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuditEntry {
    pub actor_id: Option<UserId>,
    /// User name, or the name tried in a failed login, or `system`.
    pub actor_name: String,
    pub org_id: Option<OrgId>,
    /// Dotted action name, e.g. `auth.login`, `org.create`, `user.roles`.
    pub action: String,
    /// What was acted on, e.g. `org:12`.
    pub object: String,
    pub source_ip: String,
    pub request_id: String,
    /// `ok`, `denied` or `failed`.
    pub outcome: String,
    /// Free text (JSON) with what changed.
    pub detail: String,
}

/// A stored record with its place in the chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<UserId>,
    pub actor_name: String,
    pub org_id: Option<OrgId>,
    pub action: String,
    pub object: String,
    pub source_ip: String,
    pub request_id: String,
    pub outcome: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Filters for reading the log.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// Prefix match: `org` finds `org.create` and `org.move`.
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Exact object, e.g. `grant:12`.
    #[serde(default)]
    pub object: Option<String>,
    /// Text the detail holds (a subject's digest): "who read this person".
    #[serde(default)]
    pub detail_has: Option<String>,
}

/// Result of walking the chain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ChainReport {
    pub records: i64,
    /// The first record found altered, out of place or missing, with why.
    pub broken_at: Option<Broken>,
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Broken {
    pub seq: i64,
    pub reason: String,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.broken_at.is_none()
    }
}

/// SM3 over the record's fields, separated by U+001F, and the previous hash.
pub fn record_hash(prev_hash: &str, seq: i64, at: i64, e: &AuditEntry) -> String {
    let texts = [
        e.actor_name.as_str(),
        &e.action,
        &e.object,
        &e.source_ip,
        &e.request_id,
        &e.outcome,
        &e.detail,
    ];
    chain_hash(
        prev_hash,
        seq,
        at,
        (e.actor_id.map(|u| u.0), e.org_id.map(|o| o.0)),
        texts,
    )
}

/// [`record_hash`] over borrowed fields (verifying millions of records copies none of them):
/// the texts are actor name, action, object, source IP, request id, outcome and detail.
fn chain_hash(
    prev_hash: &str,
    seq: i64,
    at: i64,
    ids: (Option<i64>, Option<i64>),
    texts: [&str; 7],
) -> String {
    hex::encode(chain_digest(prev_hash, seq, at, ids, texts))
}

/// Whether `hash` (lower-case hex, as stored) is the SM3 of the record's fields.
fn chain_hash_is(
    hash: &str,
    prev_hash: &str,
    seq: i64,
    at: i64,
    ids: (Option<i64>, Option<i64>),
    texts: [&str; 7],
) -> bool {
    let mut hex = [0u8; 64];
    let digest = chain_digest(prev_hash, seq, at, ids, texts);
    hex::encode_to_slice(digest, &mut hex).is_ok() && hex == hash.as_bytes()
}

fn chain_digest(
    prev_hash: &str,
    seq: i64,
    at: i64,
    (actor_id, org_id): (Option<i64>, Option<i64>),
    texts: [&str; 7],
) -> [u8; 32] {
    let mut h = Sm3::new();
    let mut field = |b: &[u8]| {
        h.update(b);
        h.update([0x1f]);
    };
    let mut digits = [0u8; 20];
    field(prev_hash.as_bytes());
    field(decimal(seq, &mut digits));
    field(decimal(at, &mut digits));
    match actor_id {
        Some(n) => field(decimal(n, &mut digits)),
        None => field(&[]),
    }
    field(texts[0].as_bytes());
    match org_id {
        Some(n) => field(decimal(n, &mut digits)),
        None => field(&[]),
    }
    for t in &texts[1..] {
        field(t.as_bytes());
    }
    h.finalize().into()
}

/// `n` in decimal, written into `buf` (as `to_string` would, without allocating).
fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// A record read with [`COLUMNS`], by position (a name lookup per cell is a cost when millions
/// of records are verified).
fn record_from_row(r: &sqlx::any::AnyRow) -> Result<AuditRecord, sqlx::Error> {
    Ok(AuditRecord {
        seq: r.try_get(0)?,
        at: r.try_get(1)?,
        actor_id: r.try_get::<Option<i64>, _>(2)?.map(UserId),
        actor_name: r.try_get(3)?,
        org_id: r.try_get::<Option<i64>, _>(4)?.map(OrgId),
        action: r.try_get(5)?,
        object: r.try_get(6)?,
        source_ip: r.try_get(7)?,
        request_id: r.try_get(8)?,
        outcome: r.try_get(9)?,
        detail: r.try_get(10)?,
        prev_hash: r.try_get(11)?,
        hash: r.try_get(12)?,
    })
}

impl AuditRecord {
    /// Whether the record's content matches its hash.
    fn hash_ok(&self) -> bool {
        let texts = [
            self.actor_name.as_str(),
            &self.action,
            &self.object,
            &self.source_ip,
            &self.request_id,
            &self.outcome,
            &self.detail,
        ];
        let ids = (self.actor_id.map(|u| u.0), self.org_id.map(|o| o.0));
        chain_hash_is(&self.hash, &self.prev_hash, self.seq, self.at, ids, texts)
    }
}

const COLUMNS: &str = "seq, at, actor_id, actor_name, org_id, action, object, source_ip, request_id, outcome, detail, prev_hash, hash";

/// Appends waiting to be written. Concurrent callers queue their records; whoever takes the
/// writer's turn writes everything queued in one transaction (one head update, multi-row
/// inserts), so the chain's single head row costs one lock per batch, not per record.
#[derive(Debug, Default)]
pub(crate) struct AuditQueue {
    pending: std::sync::Mutex<Vec<Queued>>,
    writer: tokio::sync::Mutex<()>,
    /// The writer's own connection to a SQLite store's file, kept between batches.
    sqlite: std::sync::Mutex<Option<rusqlite::Connection>>,
}

type Queued = (
    AuditEntry,
    tokio::sync::oneshot::Sender<Result<AuditRecord, Error>>,
);

/// Records per INSERT statement (13 values each stays under every backend's parameter limit).
const INSERT_ROWS: usize = 200;

impl Store {
    /// Appends one record to the chain and returns it. Concurrent appends share a transaction.
    pub async fn audit(&self, e: &AuditEntry) -> Result<AuditRecord, Error> {
        use tokio::sync::oneshot::error::TryRecvError;
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let lost = || {
            Error::new(
                ErrorCode::StoreError,
                "the audit writer stopped before writing the record",
            )
        };
        self.audits
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((e.clone(), tx));
        loop {
            match rx.try_recv() {
                Ok(r) => return r,
                Err(TryRecvError::Closed) => return Err(lost()),
                Err(TryRecvError::Empty) => {}
            }
            let _turn = self.audits.writer.lock().await;
            match rx.try_recv() {
                Ok(r) => return r,
                Err(TryRecvError::Closed) => return Err(lost()),
                Err(TryRecvError::Empty) => {}
            }
            let batch: Vec<Queued> = std::mem::take(
                &mut *self
                    .audits
                    .pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()),
            );
            if batch.is_empty() {
                continue;
            }
            // Written by a task of its own: a caller that goes away cannot cancel the others'.
            let store = self.clone();
            let written = match self.sqlite_file() {
                // On SQLite's file the whole batch is one hand-off to a blocking thread.
                Some(file) => {
                    let file = file.clone();
                    tokio::task::spawn_blocking(move || {
                        let entries: Vec<&AuditEntry> = batch.iter().map(|(e, _)| e).collect();
                        let result = store.append_on_file(&file, &entries);
                        answer(batch, result);
                    })
                }
                None => tokio::spawn(async move {
                    let entries: Vec<&AuditEntry> = batch.iter().map(|(e, _)| e).collect();
                    let result = store.append_pooled(&entries).await;
                    answer(batch, result);
                }),
            };
            let _ = written.await;
        }
    }

    /// Appends many records in order, a transaction per few thousand: an import, or a
    /// benchmark's long chain.
    pub async fn audit_all(&self, entries: &[AuditEntry]) -> Result<u64, Error> {
        let _turn = self.audits.writer.lock().await;
        for chunk in entries.chunks(5_000) {
            match self.sqlite_file() {
                Some(file) => {
                    let (store, file, chunk) = (self.clone(), file.clone(), chunk.to_vec());
                    tokio::task::spawn_blocking(move || {
                        let refs: Vec<&AuditEntry> = chunk.iter().collect();
                        store.append_on_file(&file, &refs).map(|_| ())
                    })
                    .await
                    .map_err(|e| {
                        Error::new(
                            ErrorCode::StoreError,
                            format!("the audit writer failed: {e}"),
                        )
                    })??;
                }
                None => {
                    let refs: Vec<&AuditEntry> = chunk.iter().collect();
                    self.append_pooled(&refs).await?;
                }
            }
        }
        Ok(entries.len() as u64)
    }

    /// Appends `entries` in order in one transaction on the writer's kept connection to the
    /// SQLite `file` (opened the first time; dropped after a failure, so the next batch starts
    /// on a fresh one). Blocks: run it off the async threads.
    fn append_on_file(
        &self,
        file: &std::path::Path,
        entries: &[&AuditEntry],
    ) -> Result<Vec<AuditRecord>, Error> {
        let fail = |what: &str, e: rusqlite::Error| {
            Error::new(ErrorCode::StoreError, format!("cannot {what}: {e}"))
        };
        let mut kept = self.audits.sqlite.lock().unwrap_or_else(|p| p.into_inner());
        let conn = match kept.as_mut() {
            Some(conn) => conn,
            None => kept.insert(
                crate::lane::open_writer(file).map_err(|e| fail("open the audit writer", e))?,
            ),
        };
        let written = append_rusqlite(conn, entries);
        if written.is_err() {
            *kept = None;
        }
        written.map_err(|e| fail("append audit records", e))
    }

    /// Appends `entries` in order in one transaction through the pool.
    async fn append_pooled(&self, entries: &[&AuditEntry]) -> Result<Vec<AuditRecord>, Error> {
        let n = entries.len() as i64;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_err("begin an audit append"))?;
        // Updating the head first takes the write lock, so concurrent appends queue here.
        let head = sqlx::query(
            "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, last_hash",
        )
        .bind(n)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err("advance the audit chain"))?;
        let last: i64 = head.try_get("seq").map_err(db_err("read the audit head"))?;
        let mut prev: String = head
            .try_get("last_hash")
            .map_err(db_err("read the audit head"))?;
        let records = chained(entries, last, &mut prev);
        for chunk in records.chunks(INSERT_ROWS) {
            let values: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let b = r * 13;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6,
                        b + 7,
                        b + 8,
                        b + 9,
                        b + 10,
                        b + 11,
                        b + 12,
                        b + 13
                    )
                })
                .collect();
            // Only placeholders are formatted into the statement; every value is bound.
            let sql = format!(
                "INSERT INTO audit_log ({COLUMNS}) VALUES {}",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(r.seq)
                    .bind(r.at)
                    .bind(r.actor_id.map(|u| u.0))
                    .bind(r.actor_name.clone())
                    .bind(r.org_id.map(|o| o.0))
                    .bind(r.action.clone())
                    .bind(r.object.clone())
                    .bind(r.source_ip.clone())
                    .bind(r.request_id.clone())
                    .bind(r.outcome.clone())
                    .bind(r.detail.clone())
                    .bind(r.prev_hash.clone())
                    .bind(r.hash.clone());
            }
            q.execute(&mut *tx)
                .await
                .map_err(db_err("append audit records"))?;
        }
        sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1")
            .bind(&prev)
            .execute(&mut *tx)
            .await
            .map_err(db_err("advance the audit chain"))?;
        tx.commit().await.map_err(db_err("commit audit records"))?;
        Ok(records)
    }

    /// Audit records matching `f`, newest first. The action is a prefix and the detail a
    /// substring, taken literally (`_` and `%` are not wildcards: `share.who_read` is an action).
    pub async fn list_audit(
        &self,
        f: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Page<AuditRecord>, Error> {
        let limit = limit.clamp(1, 1000);
        let offset = offset.max(0);
        let action_prefix = f.action.as_ref().map(|a| format!("{}%", like_escaped(a)));
        let detail_has = f
            .detail_has
            .as_ref()
            .map(|d| format!("%{}%", like_escaped(d)));
        const WHERE: &str = "WHERE ($1 IS NULL OR actor_name = $1) AND ($2 IS NULL OR action LIKE $2 ESCAPE '\\') \
             AND ($3 IS NULL OR outcome = $3) AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5) \
             AND ($6 IS NULL OR object = $6) AND ($7 IS NULL OR detail LIKE $7 ESCAPE '\\')";
        let count_sql = format!("SELECT COUNT(*) FROM audit_log {WHERE}");
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
            .bind(f.actor.as_deref())
            .bind(action_prefix.as_deref())
            .bind(f.outcome.as_deref())
            .bind(f.from)
            .bind(f.to)
            .bind(f.object.as_deref())
            .bind(detail_has.as_deref())
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("count audit records"))?;
        let sql =
            format!("SELECT {COLUMNS} FROM audit_log {WHERE} ORDER BY seq DESC LIMIT $8 OFFSET $9");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(f.actor.as_deref())
            .bind(action_prefix.as_deref())
            .bind(f.outcome.as_deref())
            .bind(f.from)
            .bind(f.to)
            .bind(f.object.as_deref())
            .bind(detail_has.as_deref())
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("read audit records"))?;
        let items = rows
            .iter()
            .map(|r| record_from_row(r).map_err(db_err("read an audit record")))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            total,
            limit,
            offset,
        })
    }

    /// Walks the whole chain in order and names the first record that was altered or removed.
    pub async fn verify_audit(&self) -> Result<ChainReport, Error> {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("read the audit chain"))?;
        let last = last.unwrap_or(0);
        let walked = match self.sqlite_file() {
            Some(file) => walk_sqlite(file.to_path_buf(), last).await?,
            None => self.walk_pages(last).await?,
        };
        let (count, prev) = match walked {
            Ok(end) => end,
            Err(fault) => return Ok(fault.report()),
        };
        let head = sqlx::query("SELECT seq, last_hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("read the audit head"))?;
        let head_seq: i64 = head.try_get("seq").map_err(db_err("read the audit head"))?;
        let head_hash: String = head
            .try_get("last_hash")
            .map_err(db_err("read the audit head"))?;
        if head_seq != count || head_hash != prev {
            return Ok(Fault {
                seq: count + 1,
                reason: format!(
                    "the chain ends at record {count} but {head_seq} were written (records removed from the end)"
                ),
            }
            .report());
        }
        Ok(ChainReport {
            records: count,
            broken_at: None,
        })
    }

    /// Walks records 1..=`last` through the pool, in pages so a long log does not sit in
    /// memory: two connections read alternate pages while the hashes of the pages before are
    /// checked on other threads. Gives the number of records and the last hash, or the first
    /// fault.
    async fn walk_pages(&self, last: i64) -> Result<Result<(i64, String), Fault>, Error> {
        const PAGE: i64 = 10_000;
        // Decoding rows is most of the work, and one connection leaves a core idle.
        const READERS: i64 = 2;
        let pages = (last + PAGE - 1) / PAGE;
        let mut inboxes = Vec::new();
        let mut readers = Vec::new();
        for first in 0..READERS {
            let (tx, rx) = tokio::sync::mpsc::channel::<Vec<AuditRecord>>(2);
            inboxes.push(rx);
            let store = self.clone();
            readers.push(tokio::spawn(async move {
                // Page p holds the records with seq in [1 + p·PAGE, 1 + (p+1)·PAGE).
                for p in (first..pages).step_by(READERS as usize) {
                    let sql = format!(
                        "SELECT {COLUMNS} FROM audit_log WHERE seq >= $1 AND seq < $2 ORDER BY seq"
                    );
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(1 + p * PAGE)
                        .bind(1 + (p + 1) * PAGE)
                        .fetch_all(&store.pool)
                        .await
                        .map_err(db_err("read the audit chain"))?;
                    let page = rows
                        .iter()
                        .map(|r| record_from_row(r).map_err(db_err("read an audit record")))
                        .collect::<Result<Vec<_>, _>>()?;
                    if tx.send(page).await.is_err() {
                        break;
                    }
                }
                Ok::<(), Error>(())
            }));
        }
        let mut prev = GENESIS.to_string();
        let mut expected_seq = 1;
        // The hash checks of earlier pages run on other threads while links are walked and
        // the next pages are read; they are awaited in order, so the first altered record is
        // the one named.
        let mut checking: std::collections::VecDeque<tokio::task::JoinHandle<Option<i64>>> =
            Default::default();
        for p in 0..pages {
            let Some(page) = inboxes[(p % READERS) as usize].recv().await else {
                break; // a reader failed: its error is reported below
            };
            let mut fault = None;
            for rec in &page {
                if rec.seq != expected_seq {
                    fault = Some(Fault::missing(expected_seq, Some(rec.seq)));
                    break;
                }
                if rec.prev_hash != prev {
                    fault = Some(Fault::relinked(rec.seq));
                    break;
                }
                prev.clone_from(&rec.hash);
                expected_seq += 1;
            }
            if let Some(fault) = fault {
                // An altered record before the break point is named first.
                for h in checking.drain(..) {
                    if let Some(seq) = h.await.ok().flatten() {
                        return Ok(Err(Fault::altered(seq)));
                    }
                }
                if let Some(seq) = first_altered(&page, fault.seq) {
                    return Ok(Err(Fault::altered(seq)));
                }
                return Ok(Err(fault));
            }
            checking.push_back(tokio::task::spawn_blocking(move || {
                first_altered(&page, i64::MAX)
            }));
            while checking.len() > READERS as usize {
                if let Some(h) = checking.pop_front()
                    && let Some(seq) = h.await.ok().flatten()
                {
                    return Ok(Err(Fault::altered(seq)));
                }
            }
        }
        for h in checking {
            if let Some(seq) = h.await.ok().flatten() {
                return Ok(Err(Fault::altered(seq)));
            }
        }
        drop(inboxes);
        for r in readers {
            r.await
                .map_err(|e| Error::new(ErrorCode::Internal, format!("audit reader: {e}")))??;
        }
        Ok(Ok((expected_seq - 1, prev)))
    }

    /// Fails with `audit_chain_broken` unless the chain verifies.
    pub async fn require_intact_audit(&self) -> Result<ChainReport, Error> {
        let r = self.verify_audit().await?;
        match &r.broken_at {
            None => Ok(r),
            Some(b) => Err(Error::new(
                ErrorCode::AuditChainBroken,
                format!("audit chain broken at record {}: {}", b.seq, b.reason),
            )),
        }
    }
}

/// The first record of `page` (before `upto`) whose content does not match its hash.
fn first_altered(page: &[AuditRecord], upto: i64) -> Option<i64> {
    page.iter()
        .take_while(|r| r.seq < upto)
        .find(|r| !r.hash_ok())
        .map(|r| r.seq)
}

/// Walks records 1..=`last` of the SQLite store in `file`, one range per core (see
/// [`sqlite`]).
async fn walk_sqlite(
    file: std::path::PathBuf,
    last: i64,
) -> Result<Result<(i64, String), Fault>, Error> {
    let ranges = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8)) as i64;
    let step = (last / ranges).max(1);
    let mut walkers = Vec::new();
    let mut lo = 1;
    while lo <= last {
        let hi = if lo + step > last || walkers.len() as i64 == ranges - 1 {
            last + 1
        } else {
            lo + step
        };
        let file = file.clone();
        walkers.push(tokio::task::spawn_blocking(move || {
            sqlite::walk(&file, lo, hi)
        }));
        lo = hi;
    }
    let mut records = 0;
    let mut prev = GENESIS.to_string();
    // Awaited in order, so the earliest fault is the one named.
    for w in walkers {
        let walked = w
            .await
            .map_err(|e| Error::new(ErrorCode::Internal, format!("audit reader: {e}")))??;
        if let Some(fault) = walked.fault {
            return Ok(Err(fault));
        }
        records += walked.records;
        if let Some(h) = walked.last_hash {
            prev = h;
        }
    }
    Ok(Ok((records, prev)))
}

/// Sends each caller of a written batch its record, or the batch's error.
fn answer(batch: Vec<Queued>, result: Result<Vec<AuditRecord>, Error>) {
    match result {
        Ok(records) => {
            for ((_, tx), rec) in batch.into_iter().zip(records) {
                let _ = tx.send(Ok(rec));
            }
        }
        Err(err) => {
            for (_, tx) in batch {
                let _ = tx.send(Err(err.clone()));
            }
        }
    }
}

/// The records for `entries` following a head whose last record is now `last` (advanced by
/// `entries.len()`) and whose hash was `prev`; `prev` ends as the last new record's hash.
fn chained(entries: &[&AuditEntry], last: i64, prev: &mut String) -> Vec<AuditRecord> {
    let n = entries.len() as i64;
    let at = now_ms();
    let mut records = Vec::with_capacity(entries.len());
    for (k, e) in entries.iter().enumerate() {
        let seq = last - n + 1 + k as i64;
        let hash = record_hash(prev, seq, at, e);
        records.push(AuditRecord {
            seq,
            at,
            actor_id: e.actor_id,
            actor_name: e.actor_name.clone(),
            org_id: e.org_id,
            action: e.action.clone(),
            object: e.object.clone(),
            source_ip: e.source_ip.clone(),
            request_id: e.request_id.clone(),
            outcome: e.outcome.clone(),
            detail: e.detail.clone(),
            prev_hash: std::mem::replace(prev, hash.clone()),
            hash,
        });
    }
    records
}

/// The SQLite append on a connection of its own: the same statements as through the pool, in
/// one immediate transaction, each record one prepared insert (no hand-offs in between).
fn append_rusqlite(
    conn: &mut rusqlite::Connection,
    entries: &[&AuditEntry],
) -> rusqlite::Result<Vec<AuditRecord>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let (last, mut prev): (i64, String) = tx
        .prepare_cached(
            "UPDATE audit_head SET seq = seq + ?1 WHERE id = 1 RETURNING seq, last_hash",
        )?
        .query_row([entries.len() as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let records = chained(entries, last, &mut prev);
    {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO audit_log ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ))?;
        for r in &records {
            insert.execute(rusqlite::params![
                r.seq,
                r.at,
                r.actor_id.map(|u| u.0),
                r.actor_name,
                r.org_id.map(|o| o.0),
                r.action,
                r.object,
                r.source_ip,
                r.request_id,
                r.outcome,
                r.detail,
                r.prev_hash,
                r.hash,
            ])?;
        }
        tx.prepare_cached("UPDATE audit_head SET last_hash = ?1 WHERE id = 1")?
            .execute([&prev])?;
    }
    tx.commit()?;
    Ok(records)
}

/// The first thing found wrong in the chain: a record missing, relinked or altered.
#[derive(Debug)]
pub(crate) struct Fault {
    seq: i64,
    reason: String,
}

impl Fault {
    fn missing(seq: i64, next: Option<i64>) -> Fault {
        let reason = match next {
            Some(n) => format!("record {seq} is missing (next present is {n})"),
            None => format!("record {seq} is missing (none after it)"),
        };
        Fault { seq, reason }
    }

    fn relinked(seq: i64) -> Fault {
        Fault {
            seq,
            reason: "its link to the previous record was changed".into(),
        }
    }

    fn altered(seq: i64) -> Fault {
        Fault {
            seq,
            reason: "its content does not match its hash (altered)".into(),
        }
    }

    /// The report: the records before the fault verified.
    fn report(self) -> ChainReport {
        ChainReport {
            records: self.seq - 1,
            broken_at: Some(Broken {
                seq: self.seq,
                reason: self.reason,
            }),
        }
    }
}

/// `text` with LIKE's wildcards and escape taken literally (with `ESCAPE '\'`).
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}
