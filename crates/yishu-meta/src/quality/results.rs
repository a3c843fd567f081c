//! What checks leave behind: each batch's profile and rule results, claims on unchecked batches,
//! discarded suggestions, scores and the dimension weights.

use crate::store::{Store, db_err, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use yishu_types::{Error, OrgId, UserId};

/// One rule's result on one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleResult {
    pub batch_id: String,
    pub rule_id: i64,
    pub rule_version: i64,
    pub resource_id: i64,
    pub checked: i64,
    pub failed: i64,
    /// passed, failed or broken.
    pub status: String,
    pub message: String,
    pub created_at: i64,
}

/// A stored profile of one batch.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredProfile {
    pub batch_id: String,
    pub resource_id: i64,
    pub records: i64,
    #[schema(value_type = Object)]
    pub body: Value,
    pub created_at: i64,
}

impl Store {
    /// Stores a batch's profile (JSON of `yishu_quality::TableProfile`).
    pub async fn save_profile(
        &self,
        batch_id: &str,
        resource_id: i64,
        records: i64,
        body: &Value,
    ) -> Result<(), Error> {
        // One statement: two checks of a batch at once both land, the later one kept.
        sqlx::query(
            "INSERT INTO profiles (batch_id, resource_id, records, body, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (batch_id) DO UPDATE SET resource_id = excluded.resource_id, records = excluded.records, body = excluded.body, created_at = excluded.created_at",
        )
        .bind(batch_id)
        .bind(resource_id)
        .bind(records)
        .bind(body.to_string())
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("save a profile"))?;
        Ok(())
    }

    /// A resource's profiles, newest first, at most `limit`.
    pub async fn profiles(
        &self,
        resource_id: i64,
        limit: i64,
    ) -> Result<Vec<StoredProfile>, Error> {
        let q = sqlx::query(
            "SELECT batch_id, resource_id, records, body, created_at FROM profiles WHERE resource_id = $1 AND records >= 0 ORDER BY created_at DESC, batch_id DESC LIMIT $2",
        )
        .bind(resource_id)
        .bind(limit);
        self.all(q, "list profiles", stored_profile, "read a profile")
            .await
    }

    /// The stored profile of one batch, if it has been checked.
    pub async fn profile(&self, batch_id: &str) -> Result<Option<StoredProfile>, Error> {
        let row = sqlx::query(
            "SELECT batch_id, resource_id, records, body, created_at FROM profiles WHERE batch_id = $1 AND records >= 0",
        )
        .bind(batch_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("read a profile"))?;
        row.map(|r| stored_profile(&r))
            .transpose()
            .map_err(db_err("read a profile"))
    }

    /// Succeeded batches not yet checked, oldest first: the quality job's queue. A batch claimed
    /// by a check that has not finished within `CLAIM_MS` (its process died) is due again.
    pub async fn unchecked_batches(&self, limit: i64) -> Result<Vec<(String, i64)>, Error> {
        let rows = sqlx::query(
            "SELECT id, resource_id FROM batches b WHERE status = 'succeeded' AND rows_stored > 0 AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.batch_id = b.id AND (p.records >= 0 OR p.created_at > $2)) ORDER BY started_at, id LIMIT $1",
        )
        .bind(limit)
        .bind(now_ms() - CLAIM_MS)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list unchecked batches"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("resource_id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err("read a batch"))
    }

    /// Claims a batch for checking so that two nodes do not check it at once: true when this
    /// caller got it (no claim yet, or only one older than `CLAIM_MS`).
    pub async fn claim_check(&self, batch_id: &str, resource_id: i64) -> Result<bool, Error> {
        let now = now_ms();
        let n = sqlx::query(
            "INSERT INTO profiles (batch_id, resource_id, records, body, created_at) VALUES ($1, $2, -1, '{}', $3) ON CONFLICT (batch_id) DO UPDATE SET created_at = $3 WHERE profiles.records < 0 AND profiles.created_at < $4",
        )
        .bind(batch_id)
        .bind(resource_id)
        .bind(now)
        .bind(now - CLAIM_MS)
        .execute(&self.pool)
        .await
        .map_err(db_err("claim a batch for checking"))?
        .rows_affected();
        Ok(n == 1)
    }

    /// Stores the results of a batch's checks (replacing an earlier run of the same batch).
    pub async fn save_results(&self, batch_id: &str, results: &[RuleResult]) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(db_err("save results"))?;
        sqlx::query("DELETE FROM rule_results WHERE batch_id = $1")
            .bind(batch_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("save results"))?;
        for r in results {
            sqlx::query(
                "INSERT INTO rule_results (batch_id, rule_id, rule_version, resource_id, checked, failed, status, message, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (batch_id, rule_id) DO UPDATE SET rule_version = excluded.rule_version, resource_id = excluded.resource_id, checked = excluded.checked, failed = excluded.failed, status = excluded.status, message = excluded.message, created_at = excluded.created_at",
            )
            .bind(batch_id)
            .bind(r.rule_id)
            .bind(r.rule_version)
            .bind(r.resource_id)
            .bind(r.checked)
            .bind(r.failed)
            .bind(&r.status)
            .bind(&r.message)
            .bind(r.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err("save results"))?;
        }
        tx.commit().await.map_err(db_err("save results"))
    }

    /// Results of one batch's checks, by rule.
    pub async fn batch_results(&self, batch_id: &str) -> Result<Vec<RuleResult>, Error> {
        let sql = format!(
            "SELECT {RESULT_COLUMNS} FROM rule_results WHERE batch_id = $1 ORDER BY rule_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(batch_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list rule results"))?;
        results(&rows)
    }

    /// Results on the resources a department provides, checked in `[from, to)` (ms), oldest
    /// first: a report's rule lines.
    pub async fn org_results(
        &self,
        org: OrgId,
        from: i64,
        to: i64,
    ) -> Result<Vec<RuleResult>, Error> {
        let sql = format!(
            "SELECT {RESULT_COLUMNS} FROM rule_results WHERE resource_id IN (SELECT id FROM resources WHERE provider_org_id = $1) AND created_at >= $2 AND created_at < $3 ORDER BY created_at, rule_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list rule results"))?;
        results(&rows)
    }

    /// A resource's results, newest first.
    pub async fn resource_results(&self, resource_id: i64) -> Result<Vec<RuleResult>, Error> {
        let sql = format!(
            "SELECT {RESULT_COLUMNS} FROM rule_results WHERE resource_id = $1 ORDER BY created_at DESC, rule_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(resource_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list rule results"))?;
        results(&rows)
    }
}

const RESULT_COLUMNS: &str =
    "batch_id, rule_id, rule_version, resource_id, checked, failed, status, message, created_at";

fn results(rows: &[sqlx::any::AnyRow]) -> Result<Vec<RuleResult>, Error> {
    rows.iter()
        .map(|r| {
            Ok(RuleResult {
                batch_id: r.try_get("batch_id")?,
                rule_id: r.try_get("rule_id")?,
                rule_version: r.try_get("rule_version")?,
                resource_id: r.try_get("resource_id")?,
                checked: r.try_get("checked")?,
                failed: r.try_get("failed")?,
                status: r.try_get("status")?,
                message: r.try_get("message")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err("read a rule result"))
}

impl Store {
    /// Remembers that a suggested rule was discarded for a resource.
    pub async fn discard_suggestion(
        &self,
        resource_id: i64,
        definition: &Value,
        by: UserId,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO discarded_suggestions (resource_id, definition, discarded_by, discarded_at) VALUES ($1, $2, $3, $4) ON CONFLICT (resource_id, definition) DO NOTHING",
        )
        .bind(resource_id)
        .bind(definition.to_string())
        .bind(by.0)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("discard a suggestion"))?;
        Ok(())
    }

    /// Definitions discarded for a resource.
    pub async fn discarded_suggestions(&self, resource_id: i64) -> Result<Vec<Value>, Error> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT definition FROM discarded_suggestions WHERE resource_id = $1",
        )
        .bind(resource_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("list discarded suggestions"))?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect())
    }
}

/// How long a claimed check may run before another node may take the batch over.
const CLAIM_MS: i64 = 30 * 60 * 1000;

/// Quality scores of one checked batch on the GB/T 36344 dimensions (0–100 each).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredScore {
    pub batch_id: String,
    pub resource_id: i64,
    pub org_id: OrgId,
    pub records: i64,
    /// dimension → score for the dimensions something measured; the others are absent (未评估).
    #[schema(value_type = Object)]
    pub dimensions: Value,
    /// The weighted total; `None` (未评估) when nothing measured the batch.
    pub total: Option<f64>,
    pub created_at: i64,
}

const SCORE_COLUMNS: &str = "batch_id, resource_id, org_id, records, dimensions, total, created_at";

fn score_from_row(r: &sqlx::any::AnyRow) -> Result<StoredScore, sqlx::Error> {
    Ok(StoredScore {
        batch_id: r.try_get("batch_id")?,
        resource_id: r.try_get("resource_id")?,
        org_id: OrgId(r.try_get("org_id")?),
        records: r.try_get("records")?,
        dimensions: serde_json::from_str(&r.try_get::<String, _>("dimensions")?)
            .unwrap_or_default(),
        total: r.try_get("total")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    pub async fn save_score(&self, s: &StoredScore) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(db_err("save a score"))?;
        sqlx::query("DELETE FROM quality_scores WHERE batch_id = $1")
            .bind(&s.batch_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("save a score"))?;
        sqlx::query(
            "INSERT INTO quality_scores (batch_id, resource_id, org_id, records, dimensions, total, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (batch_id) DO UPDATE SET resource_id = excluded.resource_id, org_id = excluded.org_id, records = excluded.records, dimensions = excluded.dimensions, total = excluded.total, created_at = excluded.created_at",
        )
        .bind(&s.batch_id)
        .bind(s.resource_id)
        .bind(s.org_id.0)
        .bind(s.records)
        .bind(s.dimensions.to_string())
        .bind(s.total)
        .bind(s.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err("save a score"))?;
        tx.commit().await.map_err(db_err("save a score"))
    }

    /// Scores since `since` (ms), oldest first: of one resource, one department, or all (None).
    pub async fn scores(
        &self,
        resource: Option<i64>,
        org: Option<OrgId>,
        since: i64,
    ) -> Result<Vec<StoredScore>, Error> {
        let sql = format!(
            "SELECT {SCORE_COLUMNS} FROM quality_scores WHERE ($1 < 0 OR resource_id = $1) AND ($2 < 0 OR org_id = $2) AND created_at >= $3 ORDER BY created_at, batch_id"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(resource.unwrap_or(-1))
            .bind(org.map_or(-1, |o| o.0))
            .bind(since);
        self.all(q, "list scores", score_from_row, "read a score")
            .await
    }

    /// Each resource's latest score before `before` (ms): one row per resource scored by then.
    pub async fn latest_scores(&self, before: i64) -> Result<Vec<StoredScore>, Error> {
        let sql = format!(
            "SELECT {SCORE_COLUMNS} FROM quality_scores s WHERE s.created_at = \
             (SELECT MAX(t.created_at) FROM quality_scores t WHERE t.resource_id = s.resource_id AND t.created_at < $1) \
             ORDER BY s.resource_id, s.batch_id"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(before);
        self.all(q, "list latest scores", score_from_row, "read a score")
            .await
    }

    /// The bureau's dimension weights (dimensions not set weigh 1).
    pub async fn quality_weights(&self) -> Result<Vec<(String, f64)>, Error> {
        let rows = sqlx::query("SELECT dimension, weight FROM quality_weights ORDER BY dimension")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("read weights"))?;
        rows.iter()
            .map(|r| Ok((r.try_get("dimension")?, r.try_get("weight")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err("read weights"))
    }

    pub async fn set_quality_weight(&self, dimension: &str, weight: f64) -> Result<(), Error> {
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(Error::field("weight", "must be a number ≥ 0"));
        }
        sqlx::query(
            "INSERT INTO quality_weights (dimension, weight) VALUES ($1, $2) ON CONFLICT (dimension) DO UPDATE SET weight = $2",
        )
        .bind(dimension)
        .bind(weight)
        .execute(&self.pool)
        .await
        .map_err(db_err("set a weight"))?;
        Ok(())
    }
}

fn stored_profile(r: &sqlx::any::AnyRow) -> Result<StoredProfile, sqlx::Error> {
    Ok(StoredProfile {
        batch_id: r.try_get("batch_id")?,
        resource_id: r.try_get("resource_id")?,
        records: r.try_get("records")?,
        body: serde_json::from_str(&r.try_get::<String, _>("body")?).unwrap_or_default(),
        created_at: r.try_get("created_at")?,
    })
}
