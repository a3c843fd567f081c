//! Open data (数据开放, R33): which resources are open to the public, on which grant (the
//! opening decision: items, row filter, masks — read through the same gate as any grant), and
//! each opening's life: open → updated → withdrawn → destroyed, the record kept to the end.
//! Conditional opening adds per-user access, applied for with a purpose and decided by the
//! providing department.

use crate::store::{Store, db_err, is_unique_violation, now_ms};
use serde::Serialize;
use sqlx::Row;
use yishu_types::{Error, ErrorCode, OrgId, UserId};

/// The organisation open data is granted to: the public (社会公众). Created on first use.
pub const PUBLIC_ORG_CODE: &str = "_public";

/// Where an opening stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpeningStatus {
    Open,
    Withdrawn,
    Destroyed,
}

impl OpeningStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OpeningStatus::Open => "open",
            OpeningStatus::Withdrawn => "withdrawn",
            OpeningStatus::Destroyed => "destroyed",
        }
    }

    fn parse(s: &str) -> OpeningStatus {
        match s {
            "open" => OpeningStatus::Open,
            "withdrawn" => OpeningStatus::Withdrawn,
            _ => OpeningStatus::Destroyed,
        }
    }
}

/// A resource's opening.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Opening {
    pub resource_id: i64,
    /// The grant to the public the open reads pass through.
    pub grant_id: i64,
    pub status: OpeningStatus,
    /// Why it was withdrawn or destroyed.
    pub reason: String,
    pub opened_by: UserId,
    pub opened_at: i64,
    pub updated_at: i64,
    pub downloads: i64,
    pub calls: i64,
}

/// One step of an opening's life.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OpeningEvent {
    pub at: i64,
    /// opened, updated, withdrawn, reopened, destroyed.
    pub event: String,
    pub reason: String,
}

/// A registered user's access to a conditionally open dataset.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OpenAccess {
    pub id: i64,
    pub resource_id: i64,
    pub user_id: UserId,
    pub purpose: String,
    /// pending, granted, refused.
    pub status: String,
    pub reason: String,
    pub expires_at: i64,
    pub created_at: i64,
    pub decided_at: Option<i64>,
}

/// What an open read counts.
#[derive(Debug, Clone, Copy)]
pub enum OpenUse {
    Download,
    Call,
}

const COLUMNS: &str =
    "resource_id, grant_id, status, reason, opened_by, opened_at, updated_at, downloads, calls";
const ACCESS_COLUMNS: &str =
    "id, resource_id, user_id, purpose, status, reason, expires_at, created_at, decided_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Opening, sqlx::Error> {
    Ok(Opening {
        resource_id: r.try_get("resource_id")?,
        grant_id: r.try_get("grant_id")?,
        status: OpeningStatus::parse(&r.try_get::<String, _>("status")?),
        reason: r.try_get("reason")?,
        opened_by: UserId(r.try_get("opened_by")?),
        opened_at: r.try_get("opened_at")?,
        updated_at: r.try_get("updated_at")?,
        downloads: r.try_get("downloads")?,
        calls: r.try_get("calls")?,
    })
}

fn access_row(r: &sqlx::any::AnyRow) -> Result<OpenAccess, sqlx::Error> {
    Ok(OpenAccess {
        id: r.try_get("id")?,
        resource_id: r.try_get("resource_id")?,
        user_id: UserId(r.try_get("user_id")?),
        purpose: r.try_get("purpose")?,
        status: r.try_get("status")?,
        reason: r.try_get("reason")?,
        expires_at: r.try_get("expires_at")?,
        created_at: r.try_get("created_at")?,
        decided_at: r.try_get("decided_at")?,
    })
}

impl Store {
    /// The public's organisation, created the first time it is asked for.
    pub async fn public_org(&self) -> Result<OrgId, Error> {
        if let Ok(o) = self.get_org_by_code(PUBLIC_ORG_CODE).await {
            return Ok(o.id);
        }
        // A system organisation outside the tree of levels and departments: inserted as it is.
        let now = now_ms();
        let made = sqlx::query(
            "INSERT INTO orgs (code, name, kind, created_at, updated_at) VALUES ($1, '社会公众', 'department', $2, $2)",
        )
        .bind(PUBLIC_ORG_CODE)
        .bind(now)
        .execute(&self.pool)
        .await;
        match made {
            // Made meanwhile by another request, or now.
            Ok(_) => Ok(self.get_org_by_code(PUBLIC_ORG_CODE).await?.id),
            Err(e) if is_unique_violation(&e) => {
                Ok(self.get_org_by_code(PUBLIC_ORG_CODE).await?.id)
            }
            Err(e) => Err(db_err("create the public's organisation")(e)),
        }
    }

    /// Opens resource `resource` on grant `grant` (made by the caller with the opening's
    /// terms): a first opening, a reopening after withdrawal, or an update of an open one's
    /// terms. A destroyed dataset is never opened again.
    pub async fn open_resource(
        &self,
        resource: i64,
        grant: i64,
        by: UserId,
    ) -> Result<Opening, Error> {
        let now = now_ms();
        let before = self.opening(resource).await?;
        let event = match before.as_ref().map(|o| o.status) {
            None => "opened",
            Some(OpeningStatus::Open) => "updated",
            Some(OpeningStatus::Withdrawn) => "reopened",
            Some(OpeningStatus::Destroyed) => {
                return Err(Error::new(
                    ErrorCode::DatasetWithdrawn,
                    format!("resource {resource} was destroyed; it cannot be opened again"),
                ));
            }
        };
        let mut tx = self.pool.begin().await.map_err(db_err("open a resource"))?;
        let q = if before.is_none() {
            sqlx::query(
                "INSERT INTO openings (resource_id, grant_id, status, reason, opened_by, opened_at, \
                 updated_at, downloads, calls) VALUES ($1, $2, 'open', '', $3, $4, $4, 0, 0)",
            )
        } else {
            sqlx::query(
                "UPDATE openings SET grant_id = $2, status = 'open', reason = '', opened_by = $3, \
                 updated_at = $4 WHERE resource_id = $1",
            )
        };
        q.bind(resource)
            .bind(grant)
            .bind(by.0)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::new(
                        ErrorCode::EditConflict,
                        format!("resource {resource} was opened meanwhile; reload and try again"),
                    )
                } else {
                    db_err("open a resource")(e)
                }
            })?;
        sqlx::query(
            "INSERT INTO opening_events (resource_id, at, event, reason, actor_id) VALUES ($1, $2, $3, '', $4)",
        )
        .bind(resource)
        .bind(now)
        .bind(event)
        .bind(by.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err("record an opening"))?;
        tx.commit().await.map_err(db_err("open a resource"))?;
        self.opening(resource)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::Internal, "the opening just made is gone"))
    }

    /// Withdraws (`Withdrawn`) or destroys (`Destroyed`) an opening, with the reason the public
    /// reads. Destroying is final.
    pub async fn end_opening(
        &self,
        resource: i64,
        to: OpeningStatus,
        reason: &str,
        by: UserId,
    ) -> Result<Opening, Error> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(Error::field(
                "reason",
                "say why, in 1 to 500 characters; the public reads it",
            ));
        }
        let Some(o) = self.opening(resource).await? else {
            return Err(Error::new(
                ErrorCode::DatasetNotFound,
                format!("resource {resource} is not open"),
            ));
        };
        let allowed = match to {
            OpeningStatus::Withdrawn => o.status == OpeningStatus::Open,
            OpeningStatus::Destroyed => o.status != OpeningStatus::Destroyed,
            OpeningStatus::Open => false,
        };
        if !allowed {
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!(
                    "resource {resource}'s opening is {}; it cannot become {}",
                    o.status.as_str(),
                    to.as_str()
                ),
            ));
        }
        let now = now_ms();
        let mut tx = self.pool.begin().await.map_err(db_err("end an opening"))?;
        sqlx::query(
            "UPDATE openings SET status = $2, reason = $3, updated_at = $4 WHERE resource_id = $1",
        )
        .bind(resource)
        .bind(to.as_str())
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err("end an opening"))?;
        sqlx::query(
            "INSERT INTO opening_events (resource_id, at, event, reason, actor_id) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(resource)
        .bind(now)
        .bind(to.as_str())
        .bind(reason)
        .bind(by.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err("record an opening"))?;
        tx.commit().await.map_err(db_err("end an opening"))?;
        self.opening(resource)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::Internal, "the opening is gone"))
    }

    pub async fn opening(&self, resource: i64) -> Result<Option<Opening>, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM openings WHERE resource_id = $1"
        )))
        .bind(resource);
        self.one(q, "read an opening", from_row, "read an opening")
            .await
    }

    /// A cheap fingerprint of what the open catalog is made of (openings, resources,
    /// organisations): when it is unchanged, a catalog built earlier still holds.
    pub async fn open_stamp(&self) -> Result<Vec<i64>, Error> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM openings) AS a, (SELECT COALESCE(MAX(updated_at), 0) FROM openings) AS b, \
             (SELECT COUNT(*) FROM resources) AS c, (SELECT COALESCE(MAX(updated_at), 0) FROM resources) AS d, \
             (SELECT COUNT(*) FROM orgs) AS e, (SELECT COALESCE(MAX(updated_at), 0) FROM orgs) AS f",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("read the open catalog's stamp"))?;
        ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|c| row.try_get::<i64, _>(*c))
            .collect::<Result<Vec<i64>, _>>()
            .map_err(db_err("read the open catalog's stamp"))
    }

    /// Every opening, whatever its status.
    pub async fn openings(&self) -> Result<Vec<Opening>, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM openings ORDER BY resource_id"
        )));
        self.all(q, "list openings", from_row, "read an opening")
            .await
    }

    /// Openings changed at or after `since` (ms), whatever their status.
    pub async fn openings_since(&self, since: i64) -> Result<Vec<Opening>, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM openings WHERE updated_at >= $1 ORDER BY resource_id"
        )))
        .bind(since);
        self.all(q, "list changed openings", from_row, "read an opening")
            .await
    }

    /// An opening's history, oldest first.
    pub async fn opening_events(&self, resource: i64) -> Result<Vec<OpeningEvent>, Error> {
        let q = sqlx::query(
            "SELECT at, event, reason FROM opening_events WHERE resource_id = $1 ORDER BY at, id",
        )
        .bind(resource);
        self.all(
            q,
            "read an opening's history",
            |r| {
                Ok(OpeningEvent {
                    at: r.try_get("at")?,
                    event: r.try_get("event")?,
                    reason: r.try_get("reason")?,
                })
            },
            "read an opening event",
        )
        .await
    }

    /// Counts one download or API call of an open dataset.
    pub async fn count_open_use(&self, resource: i64, what: OpenUse) -> Result<(), Error> {
        let sql = match what {
            OpenUse::Download => {
                "UPDATE openings SET downloads = downloads + 1 WHERE resource_id = $1"
            }
            OpenUse::Call => "UPDATE openings SET calls = calls + 1 WHERE resource_id = $1",
        };
        sqlx::query(sql)
            .bind(resource)
            .execute(&self.pool)
            .await
            .map_err(db_err("count an open read"))?;
        Ok(())
    }

    /// Records `user`'s application for a conditionally open dataset.
    pub async fn apply_open_access(
        &self,
        resource: i64,
        user: UserId,
        purpose: &str,
    ) -> Result<OpenAccess, Error> {
        let purpose = purpose.trim();
        if purpose.chars().count() < 4 || purpose.chars().count() > 1000 {
            return Err(Error::field(
                "purpose",
                "say what the data will be used for, in 4 to 1000 characters",
            ));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO open_access (resource_id, user_id, purpose, status, reason, expires_at, created_at) \
             VALUES ($1, $2, $3, 'pending', '', 0, $4) RETURNING id",
        )
        .bind(resource)
        .bind(user.0)
        .bind(purpose)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("record an application for open data"))?;
        self.open_access(id).await
    }

    pub async fn open_access(&self, id: i64) -> Result<OpenAccess, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCESS_COLUMNS} FROM open_access WHERE id = $1"
        )))
        .bind(id);
        self.one(q, "read an open access", access_row, "read an open access")
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::ApplicationNotFound,
                    format!("no application {id} for open data"),
                )
            })
    }

    /// Applications for the given datasets (every one when `resources` is `None`) or by one
    /// user, newest first.
    pub async fn open_accesses(
        &self,
        user: Option<UserId>,
        resource: Option<i64>,
    ) -> Result<Vec<OpenAccess>, Error> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCESS_COLUMNS} FROM open_access \
             WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR resource_id = $2) ORDER BY id DESC"
        )))
        .bind(user.map(|u| u.0))
        .bind(resource);
        self.all(q, "list open access", access_row, "read an open access")
            .await
    }

    /// Whether `user` may read conditionally open `resource` at `now`.
    pub async fn has_open_access(
        &self,
        resource: i64,
        user: UserId,
        now: i64,
    ) -> Result<bool, Error> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM open_access WHERE resource_id = $1 AND user_id = $2 \
             AND status = 'granted' AND expires_at > $3",
        )
        .bind(resource)
        .bind(user.0)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("check open access"))?;
        Ok(n > 0)
    }

    /// Decides a pending application: granted until `expires_at`, or refused with a reason.
    pub async fn decide_open_access(
        &self,
        id: i64,
        granted: bool,
        reason: &str,
        expires_at: i64,
        by: UserId,
    ) -> Result<OpenAccess, Error> {
        let now = now_ms();
        if granted && expires_at <= now {
            return Err(Error::field("expires_at", "must lie in the future"));
        }
        if !granted && reason.trim().is_empty() {
            return Err(Error::field("reason", "say why the application is refused"));
        }
        let done = sqlx::query(
            "UPDATE open_access SET status = $2, reason = $3, expires_at = $4, decided_at = $5, \
             decided_by = $6 WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(if granted { "granted" } else { "refused" })
        .bind(reason.trim())
        .bind(if granted { expires_at } else { 0 })
        .bind(now)
        .bind(by.0)
        .execute(&self.pool)
        .await
        .map_err(db_err("decide an application for open data"))?;
        if done.rows_affected() == 0 {
            let a = self.open_access(id).await?;
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!("application {id} was already decided ({})", a.status),
            ));
        }
        self.open_access(id).await
    }
}
