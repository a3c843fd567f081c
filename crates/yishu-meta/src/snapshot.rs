//! A consistent copy of the metadata store while it is in use, for backups: SQLite writes one
//! with `VACUUM INTO` (a single read transaction, so every table is at the same instant).

use crate::store::{Backend, Store, db_err};
use yishu_types::{Error, ErrorCode};

/// The audit chain's head when a snapshot was taken: its last record and that record's hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

impl Store {
    /// Writes a consistent copy of the store to `path` (which must not exist yet) and returns
    /// the audit chain's head in it.
    pub async fn snapshot_into(&self, path: &std::path::Path) -> Result<AuditHead, Error> {
        if self.backend() != Backend::Sqlite {
            return Err(Error::new(
                ErrorCode::ConfigInvalid,
                "a PostgreSQL metadata store is backed up with pg_dump; yishu backup copies SQLite stores only so far",
            ));
        }
        let target = path.to_str().ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("{} is not a UTF-8 path", path.display()),
            )
        })?;
        // One connection: the copy and the head it reports are read in the same state.
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_err("open the store for a snapshot"))?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&mut *conn)
            .await
            .map_err(db_err("copy the store"))?;
        drop(conn);
        // The head as the copy holds it: read from the copy itself, opened read-only and
        // immutable so that no journal file appears beside it.
        use sqlx::Connection;
        let mut copy =
            sqlx::AnyConnection::connect(&format!("sqlite://{target}?mode=ro&immutable=1"))
                .await
                .map_err(db_err("open the store's copy"))?;
        let head = head_of(&mut copy).await;
        let _ = copy.close().await;
        head
    }

    /// The audit chain's last record and its hash.
    pub async fn audit_head(&self) -> Result<AuditHead, Error> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_err("read the audit chain's head"))?;
        head_of(&mut conn).await
    }
}

async fn head_of(conn: &mut sqlx::AnyConnection) -> Result<AuditHead, Error> {
    let (seq, hash): (i64, String) =
        sqlx::query_as("SELECT seq, last_hash FROM audit_head WHERE id = 1")
            .fetch_one(conn)
            .await
            .map_err(db_err("read the audit chain's head"))?;
    Ok(AuditHead { seq, hash })
}
