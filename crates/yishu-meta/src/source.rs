//! Sources (数据源) of a resource: a front-end database table or a watched drop directory, pulled
//! on a schedule into the resource's ods table. The store keeps each source's watermark and the
//! outcome of its last run; a failed run is retried with back-off.

use crate::schedule::Schedule;
use crate::store::{Store, db_err, now_ms};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use yishu_types::{Error, ErrorCode};

/// Kinds of pulled sources.
pub const KINDS: &[&str] = &["database", "drop_dir", "nats", "rabbitmq"];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Source {
    pub id: i64,
    pub resource_id: i64,
    /// database or drop_dir.
    pub kind: String,
    /// Kind-specific settings (passwords in URLs are shown redacted by the API).
    pub config: serde_json::Value,
    pub schedule: String,
    pub enabled: bool,
    pub watermark: Option<String>,
    pub next_run_at: i64,
    pub last_run_at: Option<i64>,
    /// '', succeeded, unchanged or failed.
    pub last_status: String,
    pub last_message: String,
    /// Failed runs in a row (drives the back-off).
    pub failures: i64,
    pub created_by: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, resource_id, kind, config, schedule, enabled, watermark, next_run_at, last_run_at, last_status, last_message, failures, created_by, created_at";

fn from_row(r: &AnyRow) -> Result<Source, sqlx::Error> {
    let config: String = r.try_get("config")?;
    Ok(Source {
        id: r.try_get("id")?,
        resource_id: r.try_get("resource_id")?,
        kind: r.try_get("kind")?,
        config: serde_json::from_str(&config).unwrap_or(serde_json::Value::Null),
        schedule: r.try_get("schedule")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        watermark: r.try_get("watermark")?,
        next_run_at: r.try_get("next_run_at")?,
        last_run_at: r.try_get("last_run_at")?,
        last_status: r.try_get("last_status")?,
        last_message: r.try_get("last_message")?,
        failures: r.try_get("failures")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Wait before retrying after `failures` failed runs in a row: 1, 2, 4 … minutes, at most 1 h.
pub fn backoff_ms(failures: i64) -> i64 {
    60_000 * (1i64 << (failures.clamp(1, 7) - 1)).min(60)
}

/// How a run ended, to record on its source.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub status: &'static str,
    pub message: String,
    pub watermark: Option<String>,
    /// A run that found nothing to do (a feed window with no message): recorded on the source
    /// but not audited, so a feed polled every few seconds does not flood the log.
    pub quiet: bool,
}

impl Store {
    /// Binds a new source to a resource; its first run is due at once.
    pub async fn create_source(
        &self,
        resource_id: i64,
        kind: &str,
        config: &serde_json::Value,
        schedule: &str,
        created_by: &str,
    ) -> Result<Source, Error> {
        if !KINDS.contains(&kind) {
            return Err(Error::field(
                "kind",
                format!("'{kind}': use one of {}", KINDS.join(", ")),
            ));
        }
        Schedule::parse(schedule)?;
        self.get_resource(resource_id).await?;
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sources (resource_id, kind, config, schedule, next_run_at, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(resource_id)
        .bind(kind)
        .bind(config.to_string())
        .bind(schedule.trim())
        .bind(now)
        .bind(created_by)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("create a source"))?;
        self.get_source(id).await
    }

    pub async fn get_source(&self, id: i64) -> Result<Source, Error> {
        let sql = format!("SELECT {COLUMNS} FROM sources WHERE id = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        self.one(q, "read a source", from_row, "read a source")
            .await?
            .ok_or_else(|| Error::new(ErrorCode::SourceNotFound, format!("no source with id {id}")))
    }

    pub async fn list_sources(&self, resource_id: i64) -> Result<Vec<Source>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM sources WHERE resource_id = $1 ORDER BY id");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(resource_id);
        self.all(q, "list sources", from_row, "read a source").await
    }

    /// Enabled sources whose next run is due at `now`.
    pub async fn due_sources(&self, now: i64) -> Result<Vec<Source>, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sources WHERE enabled = 1 AND next_run_at <= $1 ORDER BY next_run_at LIMIT 100"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        self.all(q, "list due sources", from_row, "read a source")
            .await
    }

    /// Takes a due source for this process by moving its next run to `lease_until` and marking
    /// it running; false when another process took it first.
    pub async fn claim_source(&self, s: &Source, lease_until: i64) -> Result<bool, Error> {
        let done =
            sqlx::query("UPDATE sources SET next_run_at = $3, last_status = 'running' WHERE id = $1 AND next_run_at = $2")
                .bind(s.id)
                .bind(s.next_run_at)
                .bind(lease_until)
                .execute(&self.pool)
                .await
                .map_err(db_err("claim a source"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a run: success schedules the next run and keeps the new watermark; failure keeps
    /// the watermark and retries with back-off.
    pub async fn record_run(&self, id: i64, r: &RunResult) -> Result<Source, Error> {
        let s = self.get_source(id).await?;
        let now = now_ms();
        let failed = r.status == "failed";
        let failures = if failed { s.failures + 1 } else { 0 };
        let next = if failed {
            now + backoff_ms(failures)
        } else {
            Schedule::parse(&s.schedule)?.next_after(now)
        };
        let watermark = if failed {
            s.watermark.clone()
        } else {
            r.watermark.clone().or(s.watermark.clone())
        };
        sqlx::query(
            "UPDATE sources SET last_status = $2, last_message = $3, watermark = $4, next_run_at = $5, \
             last_run_at = $6, failures = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(r.status)
        .bind(&r.message)
        .bind(watermark)
        .bind(next)
        .bind(now)
        .bind(failures)
        .execute(&self.pool)
        .await
        .map_err(db_err("record a run"))?;
        self.get_source(id).await
    }

    /// Makes a source due now (a "run now" from the console or API).
    pub async fn run_source_now(&self, id: i64) -> Result<Source, Error> {
        // A run in progress keeps its lease (else a scheduler tick would start the same run a
        // second time); a lease that ran out no longer counts.
        sqlx::query(
            "UPDATE sources SET next_run_at = $2 WHERE id = $1 AND (last_status <> 'running' OR next_run_at <= $2)",
        )
            .bind(id)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(db_err("schedule a run"))?;
        self.get_source(id).await
    }
}

impl Store {
    /// Mounts a resource on an external table or API (`config` as JSON), replacing any earlier
    /// mount; `None` unmounts it (back to its ods table).
    pub async fn set_mount(
        &self,
        resource_id: i64,
        config: Option<&serde_json::Value>,
        by: &str,
    ) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(db_err("begin"))?;
        sqlx::query("DELETE FROM mounts WHERE resource_id = $1")
            .bind(resource_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("unmount"))?;
        if let Some(c) = config {
            sqlx::query(
                "INSERT INTO mounts (resource_id, config, created_by, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(resource_id)
            .bind(c.to_string())
            .bind(by)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(db_err("mount"))?;
        }
        tx.commit().await.map_err(db_err("commit"))
    }

    /// The mount of a resource, as JSON, if it has one.
    pub async fn get_mount(&self, resource_id: i64) -> Result<Option<serde_json::Value>, Error> {
        let c: Option<String> =
            sqlx::query_scalar("SELECT config FROM mounts WHERE resource_id = $1")
                .bind(resource_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err("read a mount"))?;
        Ok(c.and_then(|c| serde_json::from_str(&c).ok()))
    }
}
