//! Real-time feeds from message queues (R8: 实时数据接入): a NATS JetStream consumer or a RabbitMQ
//! queue. Messages are collected for a time window or up to a row count, stored as one batch (one
//! Delta commit), and only then acknowledged: delivery is at least once, and the message ids the
//! resource has taken make a redelivered message a no-op, so every row is stored exactly once.
//!
//! A message body is a JSON object (one row), an array of objects, or JSON lines; keys map to items
//! by name or by the source's confirmed mapping. A body that is not JSON is quarantined whole with
//! the reason; a row that carries none of the resource's items is quarantined too.

pub mod amqp;
pub mod nats;

use crate::json::ObjectRows;
use crate::rows::{Mapping, Parsed};
use crate::{Outcome, Reader, land, recover};
use futures::{Stream, StreamExt};
use serde_json::Value;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use yishu_lake::Lake;
use yishu_lake::arrow::array::RecordBatch;
use yishu_meta::Store;
use yishu_meta::batch::BatchStart;
use yishu_meta::catalog::{Item, Resource};
use yishu_types::{Error, ErrorCode};

/// Checksum a feed batch holds until its messages are known to be new.
pub const FEED_PENDING: &str = "pending:feed";

/// Raw text kept in quarantine for a body that is not JSON.
const RAW_KEPT: usize = 4000;

/// One message as the broker delivered it.
#[derive(Debug, Clone)]
pub struct Message {
    /// The publisher's message id (`Nats-Msg-Id`, AMQP `message_id`), else a broker position or
    /// a hash of the body: what makes a redelivery recognisable.
    pub id: String,
    /// Where it came from, kept as `_source_ref` (e.g. `nats:gjj.jiaocun#42`).
    pub source_ref: String,
    pub body: Vec<u8>,
}

/// When a batch closes: after `window` from its first message, or at `max_rows` rows.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub window: Duration,
    pub max_rows: usize,
    /// How long to wait for a first message before saying there is none.
    pub idle: Duration,
}

pub(crate) fn default_window_ms() -> u64 {
    5_000
}
pub(crate) fn default_max_rows() -> usize {
    10_000
}

impl Window {
    pub fn new(window_ms: u64, max_rows: usize) -> Result<Window, Error> {
        if window_ms == 0 || window_ms > 3_600_000 {
            return Err(Error::field(
                "config.window_ms",
                "the window is between 1 ms and one hour",
            ));
        }
        if max_rows == 0 || max_rows > 1_000_000 {
            return Err(Error::field(
                "config.max_rows",
                "a feed batch holds between 1 and 1,000,000 rows",
            ));
        }
        let window = Duration::from_millis(window_ms);
        Ok(Window {
            window,
            max_rows,
            idle: window.min(Duration::from_millis(1_000)),
        })
    }
}

/// What one feed run did.
#[derive(Debug, Clone)]
pub struct FeedRun {
    /// The batch, or None when every message was a duplicate (or none came).
    pub outcome: Option<Outcome>,
    pub received: usize,
    pub duplicates: usize,
}

impl FeedRun {
    /// The line a source's run record shows.
    pub fn message(&self) -> String {
        match &self.outcome {
            None if self.received == 0 => "no new messages".into(),
            None => format!(
                "{} message(s), all already stored (duplicates dropped)",
                self.received
            ),
            Some(Outcome::Ingested(b) | Outcome::AlreadyIngested(b) | Outcome::Unchanged(b)) => {
                format!(
                    "batch {}: {} message(s), {} duplicate(s) dropped; {} rows read = {} stored + {} quarantined",
                    b.id,
                    self.received,
                    self.duplicates,
                    b.rows_read,
                    b.rows_stored,
                    b.rows_quarantined
                )
            }
        }
    }
}

/// The rows of a body: an object, an array of objects, or JSON lines.
fn rows_of(body: &[u8]) -> Result<Vec<Value>, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    let text = text.trim().trim_start_matches('\u{feff}');
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(rows)) => Ok(rows),
        Ok(v) => Ok(vec![v]),
        Err(whole) => {
            let lines: Result<Vec<Value>, _> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(serde_json::from_str)
                .collect();
            lines.map_err(|_| format!("the body is not JSON: {whole}"))
        }
    }
}

/// Rows a body will give (a body that is not JSON counts as the one row it is quarantined as).
pub fn row_count(body: &[u8]) -> usize {
    rows_of(body).map(|r| r.len().max(1)).unwrap_or(1)
}

/// Collects deliveries from `stream` for one window: none if nothing comes within the idle wait,
/// else until the window from the first delivery ends, `max_rows` rows arrive or the stream ends.
pub async fn collect<T, E: std::fmt::Display>(
    stream: &mut (impl Stream<Item = Result<T, E>> + Unpin),
    w: &Window,
    rows: impl Fn(&T) -> usize,
    what: &str,
) -> Result<Vec<T>, Error> {
    let mut got = Vec::new();
    let mut n = 0;
    let mut deadline = Instant::now() + w.idle;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || n >= w.max_rows {
            break;
        }
        match tokio::time::timeout(left, stream.next()).await {
            Ok(Some(Ok(m))) => {
                if got.is_empty() {
                    deadline = Instant::now() + w.window;
                }
                n += rows(&m);
                got.push(m);
            }
            Ok(Some(Err(e))) => {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("{what}: receiving failed: {e}"),
                ));
            }
            Ok(None) | Err(_) => break,
        }
    }
    Ok(got)
}

/// Stores the new messages of one window as one batch. Messages this resource already took are
/// dropped; the ids are recorded before the commit, so a crash in between is settled by
/// [`recover`] on the next run (committed: the ids stay taken; not: they are taken again).
pub async fn ingest_messages(
    store: &Store,
    lake: &Lake,
    resource: &Resource,
    source: &str,
    messages: Vec<Message>,
    mapping: &Mapping,
) -> Result<FeedRun, Error> {
    recover(store, lake, resource, FEED_PENDING).await?;
    let received = messages.len();
    let mut ids = HashSet::new();
    let mut fresh: Vec<Message> = messages
        .into_iter()
        .filter(|m| ids.insert(m.id.clone()))
        .collect();
    let fresh_ids: Vec<String> = fresh.iter().map(|m| m.id.clone()).collect();
    let seen = store.seen_messages(resource.id, &fresh_ids).await?;
    fresh.retain(|m| !seen.contains(&m.id));
    let mut run = FeedRun {
        outcome: None,
        received,
        duplicates: received - fresh.len(),
    };
    if fresh.is_empty() {
        return Ok(run);
    }
    let id = match store.start_batch(resource.id, source, FEED_PENDING).await? {
        BatchStart::New(id) => id,
        BatchStart::AlreadyIngested(b) => {
            return Err(Error::new(
                ErrorCode::Internal,
                format!("batch {} claims a pending feed's checksum", b.id),
            ));
        }
    };
    let taken: Vec<String> = fresh.iter().map(|m| m.id.clone()).collect();
    let mut h = blake3::Hasher::new();
    for t in &taken {
        h.update(t.as_bytes());
        h.update(b"\n");
    }
    let sum = format!("msgs:{}", h.finalize().to_hex());
    let (items, bid, mapping) = (resource.meta.items.clone(), id.clone(), mapping.clone());
    let reader: Reader = Box::new(move |progress, sink| {
        read_messages(&fresh, &items, &bid, &mapping, progress, sink)
    });
    let landed = async {
        store.take_messages(resource.id, &id, &taken).await?;
        land(store, lake, resource, &id, reader, &mut |_| {}, |_| sum).await
    };
    match landed.await {
        Ok((outcome, _)) => {
            run.outcome = Some(outcome);
            Ok(run)
        }
        Err(e) => {
            store.fail_batch(&id, &e.message).await?;
            Err(e)
        }
    }
}

fn cut(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .take(RAW_KEPT)
        .collect()
}

/// Turns messages into ods rows and quarantined rows (runs on a blocking thread).
fn read_messages(
    messages: &[Message],
    items: &[Item],
    batch_id: &str,
    mapping: &Mapping,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(RecordBatch) -> Result<(), Error>,
) -> Result<Parsed, Error> {
    let mut out = ObjectRows::new("the feed", items, mapping, batch_id, sink, progress)?;
    for (n, m) in messages.iter().enumerate() {
        let line = n as i64 + 1;
        let rows = match rows_of(&m.body) {
            Ok(rows) => rows,
            Err(why) => {
                out.reject(
                    &m.source_ref,
                    line,
                    &cut(&m.body),
                    "ingest_bad_json",
                    &format!("message {} ({}): {why}", m.id, m.source_ref),
                );
                continue;
            }
        };
        let many = rows.len() > 1;
        for (k, row) in rows.iter().enumerate() {
            let at = if many {
                format!("{}[{k}]", m.source_ref)
            } else {
                m.source_ref.clone()
            };
            match row {
                Value::Object(o) => {
                    out.row(&at, line, &|| format!("message {} ({at})", m.id), o)?
                }
                other => out.reject(
                    &at,
                    line,
                    &other.to_string(),
                    "ingest_not_object",
                    &format!("message {} ({at}) holds JSON that is not an object", m.id),
                ),
            }
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::rows_of;

    #[test]
    fn bodies_are_objects_arrays_or_lines() {
        assert_eq!(rows_of(br#"{"a":1}"#).unwrap().len(), 1);
        assert_eq!(rows_of(br#"[{"a":1},{"a":2}]"#).unwrap().len(), 2);
        assert_eq!(rows_of(b"{\"a\":1}\n\n{\"a\":2}\n").unwrap().len(), 2);
        assert!(rows_of(b"not json").unwrap_err().contains("not JSON"));
        assert!(rows_of(&[0xff, 0xfe]).unwrap_err().contains("UTF-8"));
    }
}
