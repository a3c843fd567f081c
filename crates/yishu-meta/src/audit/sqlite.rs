//! Verifying a SQLite store's audit chain with SQLite's own cursor: each record's cells are
//! hashed where SQLite holds them (sqlx copies every cell two or three times on the way to a
//! record, which was most of the cost of verifying millions). The chain is cut into one range
//! per core; each range is walked on its own thread, and the earliest fault wins.

use super::{Fault, chain_hash_is};
use rusqlite::{OptionalExtension, types::ValueRef};
use std::path::Path;
use yishu_types::{Error, ErrorCode};

/// What walking one range found.
pub(super) struct Walked {
    /// Records that verified, in order from the range's first.
    pub records: i64,
    /// The first fault in the range, if any.
    pub fault: Option<Fault>,
    /// Hash of the range's last record (the link the next range starts from).
    pub last_hash: Option<String>,
}

/// Walks the records with `lo <= seq < hi` of the store in `file`.
pub(super) fn walk(file: &Path, lo: i64, hi: i64) -> Result<Walked, Error> {
    let fail = |e: rusqlite::Error| {
        Error::new(
            ErrorCode::StoreError,
            format!("read the audit chain from {}: {e}", file.display()),
        )
    };
    let conn = crate::lane::open_reader(file).map_err(fail)?;
    // The link into the range: the hash of the record before it (a missing one is reported by
    // the range that should hold it).
    let mut prev: Option<String> = if lo == 1 {
        Some(super::GENESIS.to_string())
    } else {
        conn.query_row("SELECT hash FROM audit_log WHERE seq = ?1", [lo - 1], |r| {
            r.get(0)
        })
        .optional()
        .map_err(fail)?
    };
    let sql = format!(
        "SELECT {} FROM audit_log WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
        super::COLUMNS
    );
    let mut stmt = conn.prepare(&sql).map_err(fail)?;
    let mut rows = stmt.query([lo, hi]).map_err(fail)?;
    let mut expected = lo;
    let bad = |col: usize| {
        Error::new(
            ErrorCode::StoreError,
            format!("audit record cell {col} has an unexpected type"),
        )
    };
    while let Some(row) = rows.next().map_err(fail)? {
        let int = |i: usize| row.get_ref(i).map_err(fail)?.as_i64().map_err(|_| bad(i));
        let opt = |i: usize| match row.get_ref(i).map_err(fail)? {
            ValueRef::Null => Ok(None),
            v => v.as_i64().map(Some).map_err(|_| bad(i)),
        };
        let text = |i: usize| row.get_ref(i).map_err(fail)?.as_str().map_err(|_| bad(i));
        let seq = int(0)?;
        if seq != expected {
            return Ok(faulted(lo, expected, Fault::missing(expected, Some(seq))));
        }
        let prev_hash = text(11)?;
        let hash = text(12)?;
        if prev.as_deref().is_some_and(|p| p != prev_hash) {
            return Ok(faulted(lo, seq, Fault::relinked(seq)));
        }
        let texts = [
            text(3)?,
            text(5)?,
            text(6)?,
            text(7)?,
            text(8)?,
            text(9)?,
            text(10)?,
        ];
        if !chain_hash_is(hash, prev_hash, seq, int(1)?, (opt(2)?, opt(4)?), texts) {
            return Ok(faulted(lo, seq, Fault::altered(seq)));
        }
        match &mut prev {
            Some(p) => {
                p.clear();
                p.push_str(hash);
            }
            None => prev = Some(hash.to_string()),
        }
        expected += 1;
    }
    if expected < hi {
        // Records missing at the range's end: name the next one present after it, if any.
        let next: Option<i64> = conn
            .query_row(
                "SELECT MIN(seq) FROM audit_log WHERE seq >= ?1",
                [hi],
                |r| r.get(0),
            )
            .map_err(fail)?;
        return Ok(faulted(lo, expected, Fault::missing(expected, next)));
    }
    Ok(Walked {
        records: expected - lo,
        fault: None,
        last_hash: prev,
    })
}

fn faulted(lo: i64, seq: i64, fault: Fault) -> Walked {
    Walked {
        records: seq - lo,
        fault: Some(fault),
        last_hash: None,
    }
}
