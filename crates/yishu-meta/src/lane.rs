//! Reads of a SQLite store's file on the calling thread, for the hottest checks: every read
//! through a grant asks for the grant, and through sqlx each question is two hand-offs to and
//! from a worker thread — a third of a gated lookup's cost. A connection is kept per thread
//! (read-only; WAL readers take no lock, so the question takes microseconds). The audit
//! writer keeps one read-write connection the same way, so a batch of records is one hand-off.

use rusqlite::{Connection, OpenFlags};
use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

/// Connections kept per thread (one per store file; a process has one store, tests a few).
const KEPT: usize = 4;

thread_local! {
    static READERS: RefCell<Vec<(Arc<Path>, Connection)>> = const { RefCell::new(Vec::new()) };
}

/// A read-only connection to `file`.
pub(crate) fn open_reader(file: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(1))?;
    Ok(conn)
}

/// A read-write connection to `file`, set as the pool's connections are (WAL, the same
/// patience with a busy file, the same durability).
pub(crate) fn open_writer(file: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
    )?;
    Ok(conn)
}

/// Runs `f` on this thread's connection to `file`, opening it the first time.
pub(crate) fn read<T>(
    file: &Arc<Path>,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    READERS.with(|kept| {
        let mut kept = kept.borrow_mut();
        let at = match kept.iter().position(|(p, _)| p == file) {
            Some(at) => at,
            None => {
                if kept.len() >= KEPT {
                    kept.remove(0);
                }
                kept.push((file.clone(), open_reader(file)?));
                kept.len() - 1
            }
        };
        f(&kept[at].1)
    })
}
