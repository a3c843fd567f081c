//! Subscriptions (订阅, R27): a consumer department's standing order to have a grant's new
//! rows delivered into its own table or drop directory every few minutes. The store keeps the
//! schedule, the claim of the node delivering it, and what the last delivery did; the cursor
//! (what has been delivered) lives in the destination itself.

use crate::store::{Store, db_err, is_unique_violation, now_ms};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use yishu_types::{Error, ErrorCode, OrgId, UserId};

/// How often a subscription may be delivered at most, and least.
pub const MIN_EVERY: i64 = 1;
pub const MAX_EVERY: i64 = 7 * 24 * 60;

/// A subscription and how its deliveries stand.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: i64,
    /// Names the subscription's cursor in its destination.
    pub uid: String,
    pub grant_id: i64,
    pub org_id: OrgId,
    pub name: String,
    /// Where it delivers (as given; a database address with its password).
    #[serde(skip)]
    pub destination: String,
    pub every_minutes: i64,
    /// `active` or `paused`.
    pub status: String,
    pub status_reason: String,
    pub created_by: UserId,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the next delivery is due.
    pub next_at: i64,
    pub last_at: Option<i64>,
    pub last_ok_at: Option<i64>,
    /// Why the last delivery failed (empty when it did not).
    pub last_error: String,
    pub last_rows: i64,
    pub total_rows: i64,
    pub deliveries: i64,
    /// The source version the destination has.
    pub delivered_version: Option<i64>,
    /// The source's newest version when last looked at.
    pub source_version: Option<i64>,
    /// When the first change the destination lacks was made (ms); `None`: up to date.
    pub behind_since: Option<i64>,
}

/// What a department asks for.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionDraft {
    pub grant_id: i64,
    pub name: String,
    /// `{"kind": "database", "url": "postgres://…", "table": "…"}` or
    /// `{"kind": "directory", "path": "rs/population", "format": "csv"|"parquet"}`.
    #[schema(value_type = Object)]
    pub destination: serde_json::Value,
    /// Minutes between deliveries (1 to 10080; default 60).
    #[serde(default = "default_every")]
    pub every_minutes: i64,
}

fn default_every() -> i64 {
    60
}

/// What one delivery did, as the store records it.
#[derive(Debug, Clone, Default)]
pub struct DeliveryRecord {
    pub error: Option<String>,
    pub rows: i64,
    pub delivered_version: Option<i64>,
    pub source_version: Option<i64>,
    pub behind_since: Option<i64>,
}

const COLUMNS: &str = "id, uid, grant_id, org_id, name, destination, every_minutes, status, \
    status_reason, created_by, created_at, updated_at, next_at, last_at, last_ok_at, last_error, \
    last_rows, total_rows, deliveries, delivered_version, source_version, behind_since";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Subscription, sqlx::Error> {
    Ok(Subscription {
        id: r.try_get("id")?,
        uid: r.try_get("uid")?,
        grant_id: r.try_get("grant_id")?,
        org_id: OrgId(r.try_get("org_id")?),
        name: r.try_get("name")?,
        destination: r.try_get("destination")?,
        every_minutes: r.try_get("every_minutes")?,
        status: r.try_get("status")?,
        status_reason: r.try_get("status_reason")?,
        created_by: UserId(r.try_get("created_by")?),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        next_at: r.try_get("next_at")?,
        last_at: r.try_get("last_at")?,
        last_ok_at: r.try_get("last_ok_at")?,
        last_error: r.try_get("last_error")?,
        last_rows: r.try_get("last_rows")?,
        total_rows: r.try_get("total_rows")?,
        deliveries: r.try_get("deliveries")?,
        delivered_version: r.try_get("delivered_version")?,
        source_version: r.try_get("source_version")?,
        behind_since: r.try_get("behind_since")?,
    })
}

fn not_found(id: i64) -> Error {
    Error::new(
        ErrorCode::SubscriptionNotFound,
        format!("no subscription with id {id}"),
    )
}

impl Store {
    /// Records a subscription of department `org` made by `by`; its first delivery is due now.
    /// `destination` is stored as checked by the caller.
    pub async fn create_subscription(
        &self,
        org: OrgId,
        by: UserId,
        d: &SubscriptionDraft,
    ) -> Result<Subscription, Error> {
        let name = d.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::field(
                "name",
                "give the subscription a name of 1 to 100 characters",
            ));
        }
        if !(MIN_EVERY..=MAX_EVERY).contains(&d.every_minutes) {
            return Err(Error::field(
                "every_minutes",
                format!("must be between {MIN_EVERY} and {MAX_EVERY} minutes"),
            ));
        }
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO subscriptions (uid, grant_id, org_id, name, destination, every_minutes, \
             status, status_reason, created_by, created_at, updated_at, next_at, claimed_until, \
             last_error, last_rows, total_rows, deliveries) \
             VALUES ($1, $2, $3, $4, $5, $6, 'active', '', $7, $8, $8, $8, 0, '', 0, 0, 0) RETURNING id",
        )
        .bind(uuid::Uuid::new_v4().simple().to_string())
        .bind(d.grant_id)
        .bind(org.0)
        .bind(name)
        .bind(d.destination.to_string())
        .bind(d.every_minutes)
        .bind(by.0)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::field(
                    "name",
                    format!("the department already has a subscription named '{name}'"),
                )
            } else {
                db_err("record a subscription")(e)
            }
        })?;
        self.subscription(id).await
    }

    pub async fn subscription(&self, id: i64) -> Result<Subscription, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE id = $1"
        )))
        .bind(id);
        self.one(q, "read a subscription", from_row, "read a subscription")
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// A department's subscriptions (every one when `org` is `None`), newest first.
    pub async fn subscriptions(&self, org: Option<OrgId>) -> Result<Vec<Subscription>, Error> {
        let q = match org {
            Some(o) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM subscriptions WHERE org_id = $1 ORDER BY id DESC"
            )))
            .bind(o.0),
            None => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM subscriptions ORDER BY id DESC"
            ))),
        };
        self.all(q, "list subscriptions", from_row, "read a subscription")
            .await
    }

    /// Pauses (with a reason) or resumes a subscription; a resumed one is due at once.
    pub async fn set_subscription_status(
        &self,
        id: i64,
        active: bool,
        reason: &str,
    ) -> Result<Subscription, Error> {
        let now = now_ms();
        let n = sqlx::query(
            "UPDATE subscriptions SET status = $2, status_reason = $3, updated_at = $4, \
             next_at = CASE WHEN $2 = 'active' THEN $4 ELSE next_at END WHERE id = $1",
        )
        .bind(id)
        .bind(if active { "active" } else { "paused" })
        .bind(reason.trim())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_err("change a subscription"))?
        .rows_affected();
        if n == 0 {
            return Err(not_found(id));
        }
        self.subscription(id).await
    }

    /// Makes a subscription due now (a "deliver now" button).
    pub async fn subscription_due_now(&self, id: i64) -> Result<(), Error> {
        sqlx::query("UPDATE subscriptions SET next_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(db_err("change a subscription"))?;
        Ok(())
    }

    /// Claims up to `limit` active subscriptions due at `now` for `lease_ms`: each is taken by
    /// one node only (a node that dies leaves it to another once the lease ends).
    pub async fn claim_due_subscriptions(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Subscription>, Error> {
        let due: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM subscriptions WHERE status = 'active' AND next_at <= $1 \
             AND claimed_until < $1 ORDER BY next_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("find due subscriptions"))?;
        let mut out = Vec::new();
        for id in due {
            let taken = sqlx::query(
                "UPDATE subscriptions SET claimed_until = $2 WHERE id = $1 AND claimed_until < $3",
            )
            .bind(id)
            .bind(now + lease_ms)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db_err("claim a subscription"))?
            .rows_affected();
            if taken == 1 {
                out.push(self.subscription(id).await?);
            }
        }
        Ok(out)
    }

    /// Holds a claimed subscription longer (a delivery still running).
    pub async fn extend_subscription_claim(&self, id: i64, until: i64) -> Result<(), Error> {
        sqlx::query(
            "UPDATE subscriptions SET claimed_until = $2 WHERE id = $1 AND claimed_until > 0",
        )
        .bind(id)
        .bind(until)
        .execute(&self.pool)
        .await
        .map_err(db_err("hold a subscription"))?;
        Ok(())
    }

    /// Records what a delivery did, releases the claim and schedules the next one.
    pub async fn record_subscription_delivery(
        &self,
        id: i64,
        d: &DeliveryRecord,
    ) -> Result<(), Error> {
        let now = now_ms();
        let ok = d.error.is_none();
        sqlx::query(
            "UPDATE subscriptions SET claimed_until = 0, last_at = $2, \
             last_ok_at = CASE WHEN $3 THEN $2 ELSE last_ok_at END, last_error = $4, \
             last_rows = $5, total_rows = total_rows + $5, \
             deliveries = deliveries + CASE WHEN $3 THEN 1 ELSE 0 END, \
             delivered_version = COALESCE($6, delivered_version), \
             source_version = COALESCE($7, source_version), behind_since = $8, \
             next_at = $2 + every_minutes * 60000 WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .bind(ok)
        .bind(d.error.clone().unwrap_or_default())
        .bind(d.rows)
        .bind(d.delivered_version)
        .bind(d.source_version)
        .bind(d.behind_since)
        .execute(&self.pool)
        .await
        .map_err(db_err("record a delivery"))?;
        Ok(())
    }
}
