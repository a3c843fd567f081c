//! Ingest batches: one row per run into a resource's ods table. rows_read = rows_stored +
//! rows_quarantined always; a file already ingested (same checksum, succeeded) is not ingested again.

use crate::store::{Store, db_err, now_ms};
use serde::Serialize;
use sqlx::Row;
use yishu_types::{Error, ErrorCode};

/// A stored batch.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Batch {
    pub id: String,
    pub resource_id: i64,
    pub source: String,
    pub checksum: String,
    /// running, succeeded, failed, or unchanged (a pull that found the same rows as before).
    pub status: String,
    pub rows_read: i64,
    pub rows_stored: i64,
    pub rows_quarantined: i64,
    pub message: String,
    pub lake_version: Option<i64>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// The source's shape as this batch found it: `missing_items` (items the source has no
    /// column for) and `extra_columns` (columns no item describes).
    pub drift: serde_json::Value,
}

/// What starting a batch found.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchStart {
    /// A new batch with this id is running.
    New(String),
    /// The same content was already ingested by this batch.
    AlreadyIngested(Batch),
}

const COLUMNS: &str = "id, resource_id, source, checksum, status, rows_read, rows_stored, rows_quarantined, message, lake_version, started_at, finished_at, drift";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Batch, sqlx::Error> {
    Ok(Batch {
        id: r.try_get("id")?,
        resource_id: r.try_get("resource_id")?,
        source: r.try_get("source")?,
        checksum: r.try_get("checksum")?,
        status: r.try_get("status")?,
        rows_read: r.try_get("rows_read")?,
        rows_stored: r.try_get("rows_stored")?,
        rows_quarantined: r.try_get("rows_quarantined")?,
        message: r.try_get("message")?,
        lake_version: r.try_get("lake_version")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        drift: serde_json::from_str(&r.try_get::<String, _>("drift")?).unwrap_or_default(),
    })
}

impl Store {
    /// Starts a batch unless the same content (checksum) already succeeded for this resource.
    pub async fn start_batch(
        &self,
        resource_id: i64,
        source: &str,
        checksum: &str,
    ) -> Result<BatchStart, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM batches WHERE resource_id = $1 AND checksum = $2 AND status = 'succeeded'"
        );
        if let Some(r) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(resource_id)
            .bind(checksum)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("look up batches"))?
        {
            return Ok(BatchStart::AlreadyIngested(
                from_row(&r).map_err(db_err("read a batch"))?,
            ));
        }
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query("INSERT INTO batches (id, resource_id, source, checksum, status, started_at) VALUES ($1, $2, $3, $4, 'running', $5)")
            .bind(&id)
            .bind(resource_id)
            .bind(source)
            .bind(checksum)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(db_err("start a batch"))?;
        Ok(BatchStart::New(id))
    }

    /// Marks a batch succeeded with its counts; refuses counts that do not add up.
    pub async fn finish_batch(
        &self,
        id: &str,
        read: i64,
        stored: i64,
        quarantined: i64,
        lake_version: Option<i64>,
    ) -> Result<Batch, Error> {
        if read != stored + quarantined {
            return Err(Error::new(
                ErrorCode::Internal,
                format!(
                    "batch {id}: {read} rows read but {stored} stored + {quarantined} quarantined"
                ),
            ));
        }
        sqlx::query(
            "UPDATE batches SET status = 'succeeded', rows_read = $2, rows_stored = $3, rows_quarantined = $4, lake_version = $5, finished_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(read)
        .bind(stored)
        .bind(quarantined)
        .bind(lake_version)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("finish a batch"))?;
        self.get_batch(id).await
    }

    /// Records how far a running batch has read, for its page while the job runs.
    pub async fn set_batch_progress(&self, id: &str, rows_read: i64) -> Result<(), Error> {
        sqlx::query("UPDATE batches SET rows_read = $2 WHERE id = $1 AND status = 'running'")
            .bind(id)
            .bind(rows_read)
            .execute(&self.pool)
            .await
            .map_err(db_err("record batch progress"))?;
        Ok(())
    }

    /// Marks a batch failed with the reason; nothing of it is visible in the lake.
    pub async fn fail_batch(&self, id: &str, message: &str) -> Result<(), Error> {
        sqlx::query(
            "UPDATE batches SET status = 'failed', message = $2, finished_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(message)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("fail a batch"))?;
        Ok(())
    }

    /// Records what a batch found about the source's shape (see [`Batch::drift`]).
    pub async fn set_batch_drift(&self, id: &str, drift: &serde_json::Value) -> Result<(), Error> {
        sqlx::query("UPDATE batches SET drift = $2 WHERE id = $1")
            .bind(id)
            .bind(drift.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("record drift"))?;
        Ok(())
    }

    /// Records the content checksum of a batch whose content is known only once read (a
    /// database pull), and returns an earlier succeeded batch of the same content, if any.
    pub async fn set_batch_checksum(
        &self,
        id: &str,
        resource_id: i64,
        checksum: &str,
    ) -> Result<Option<Batch>, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM batches WHERE resource_id = $1 AND checksum = $2 AND status = 'succeeded'"
        );
        let earlier = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(resource_id)
            .bind(checksum)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("look up batches"))?
            .map(|r| from_row(&r))
            .transpose()
            .map_err(db_err("read a batch"))?;
        sqlx::query("UPDATE batches SET checksum = $2 WHERE id = $1")
            .bind(id)
            .bind(checksum)
            .execute(&self.pool)
            .await
            .map_err(db_err("record a checksum"))?;
        Ok(earlier)
    }

    /// Closes a batch that found exactly the content of `same_as`: nothing was written.
    pub async fn settle_unchanged(&self, id: &str, same_as: &Batch) -> Result<Batch, Error> {
        sqlx::query(
            "UPDATE batches SET status = 'unchanged', message = $2, finished_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(format!(
            "the source holds the same rows as batch {}; nothing written",
            same_as.id
        ))
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("settle a batch"))?;
        self.get_batch(id).await
    }

    pub async fn get_batch(&self, id: &str) -> Result<Batch, Error> {
        let sql = format!("SELECT {COLUMNS} FROM batches WHERE id = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        self.one(q, "read a batch", from_row, "read a batch")
            .await?
            .ok_or_else(|| Error::new(ErrorCode::BatchNotFound, format!("no batch {id}")))
    }

    /// Batches of this content still marked running: runs that were interrupted (or are running
    /// in another process).
    pub async fn running_batches(
        &self,
        resource_id: i64,
        checksum: &str,
    ) -> Result<Vec<Batch>, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM batches WHERE resource_id = $1 AND checksum = $2 AND status = 'running' ORDER BY id"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(resource_id)
            .bind(checksum);
        self.all(q, "list running batches", from_row, "read a batch")
            .await
    }

    /// A resource's batches, newest first.
    pub async fn list_batches(&self, resource_id: i64) -> Result<Vec<Batch>, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM batches WHERE resource_id = $1 ORDER BY started_at DESC, id DESC"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(resource_id);
        self.all(q, "list batches", from_row, "read a batch").await
    }

    /// A published resource by its code.
    pub async fn get_resource_by_code(
        &self,
        code: &str,
    ) -> Result<crate::catalog::Resource, Error> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM resources WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("find a resource"))?;
        match id {
            Some(id) => self.get_resource(id).await,
            None => Err(Error::new(
                ErrorCode::ResourceNotFound,
                format!("no resource with code {code}"),
            )),
        }
    }
}

/// A published resource with a regular update cycle, and its newest stored batch: what the
/// scheduler needs to notice a provider that went silent.
#[derive(Debug, Clone, PartialEq)]
pub struct Freshness {
    pub resource_id: i64,
    pub code: String,
    pub name: String,
    pub org_id: yishu_types::OrgId,
    pub update_cycle: crate::catalog::UpdateCycle,
    pub published_at: Option<i64>,
    pub newest_batch: Option<String>,
    /// When the newest batch that stored rows finished.
    pub newest_at: Option<i64>,
}

impl Store {
    /// Every published resource whose update cycle is regular, by id, with its newest batch that
    /// stored rows (`succeeded`; a pull that found nothing new does not count as a delivery).
    pub async fn freshness(&self) -> Result<Vec<Freshness>, Error> {
        let q = sqlx::query(
            "SELECT r.id, r.code, r.name, r.provider_org_id, r.update_cycle, r.published_at, \
               (SELECT b.id FROM batches b WHERE b.resource_id = r.id AND b.status = 'succeeded' \
                  ORDER BY b.finished_at DESC, b.id DESC LIMIT 1) AS newest_batch, \
               (SELECT MAX(b.finished_at) FROM batches b WHERE b.resource_id = r.id AND b.status = 'succeeded') AS newest_at \
             FROM resources r WHERE r.status = 'published' AND r.update_cycle <> 'irregular' ORDER BY r.id",
        );
        self.all(
            q,
            "read when resources last received data",
            |r| -> Result<Freshness, sqlx::Error> {
                let cycle: String = r.try_get("update_cycle")?;
                Ok(Freshness {
                    resource_id: r.try_get("id")?,
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    org_id: yishu_types::OrgId(r.try_get("provider_org_id")?),
                    update_cycle: crate::catalog::UpdateCycle::parse(&cycle)
                        .unwrap_or(crate::catalog::UpdateCycle::Irregular),
                    published_at: r.try_get("published_at")?,
                    newest_batch: r.try_get("newest_batch")?,
                    newest_at: r.try_get("newest_at")?,
                })
            },
            "read when resources last received data",
        )
        .await
    }
}
