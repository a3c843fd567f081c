//! Sharing's records (R26, R37): applications with each review step, and grants. The rules —
//! who may decide a step, deadlines, what a grant allows — live in `yishu-share`; this module
//! only stores, and every state change is a conditional update so two deciders cannot both win.

use crate::store::{Store, db_err, now_ms};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;
use yishu_types::{Error, ErrorCode, OrgId, UserId};

/// What an application or grant is for: a catalog resource (`resource:<id>`) or a base library
/// (`base:population`, `base:entities`, `base:houses`).
pub type Target = String;

/// An application for data (共享申请).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Application {
    pub id: i64,
    pub consumer_org_id: OrgId,
    pub applicant_id: UserId,
    pub target: Target,
    pub resource_id: Option<i64>,
    pub provider_org_id: OrgId,
    pub items: Vec<String>,
    pub purpose: String,
    /// 依据: the law, regulation or document the use rests on.
    pub legal_basis: String,
    /// 应用场景.
    pub scenario: String,
    pub period_from: i64,
    pub period_to: i64,
    pub expected_volume: String,
    pub contact: String,
    /// The share type when applied for: unconditional, conditional, never.
    pub share_type: String,
    /// submitted (the provider decides), provider_approved (the bureau confirms), granted,
    /// rejected, refused (not shared), withdrawn.
    pub status: String,
    /// When the current step is due.
    pub step_deadline: Option<i64>,
    /// When an overdue step was escalated to the bureau.
    pub escalated_at: Option<i64>,
    pub grant_id: Option<i64>,
    /// The terms the provider approved, which the bureau confirms into a grant.
    pub terms: Terms,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The terms of a grant as the provider approves them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Terms {
    /// Row filter in the filter language; empty for all rows.
    pub row_filter: String,
    /// Mask per item; an item not named gets its default.
    pub masks: BTreeMap<String, String>,
    pub per_minute: i64,
    pub rows_per_day: i64,
    pub expires_at: i64,
}

/// What a consumer asks for.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub consumer_org_id: OrgId,
    pub applicant_id: UserId,
    pub target: Target,
    pub resource_id: Option<i64>,
    pub provider_org_id: OrgId,
    pub items: Vec<String>,
    pub purpose: String,
    pub legal_basis: String,
    pub scenario: String,
    pub period_from: i64,
    pub period_to: i64,
    pub expected_volume: String,
    pub contact: String,
    pub share_type: String,
    pub status: String,
    pub step_deadline: Option<i64>,
}

/// One step of an application's review, as it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Step {
    pub id: i64,
    pub application_id: i64,
    /// apply, provider, bureau, auto, escalate, withdraw.
    pub step: String,
    /// submitted, approved, rejected, granted, refused, overdue, withdrawn.
    pub decision: String,
    pub reason: String,
    pub actor_id: Option<UserId>,
    pub org_id: Option<OrgId>,
    pub at: i64,
    /// The deadline the step had.
    pub deadline: Option<i64>,
}

/// A grant (授权): what one consumer department may read of one target, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Grant {
    pub id: i64,
    pub application_id: Option<i64>,
    pub consumer_org_id: OrgId,
    pub provider_org_id: OrgId,
    pub target: Target,
    pub resource_id: Option<i64>,
    pub items: Vec<String>,
    /// The row filter's canonical text; empty for all rows.
    pub row_filter: String,
    /// Mask per item (`keep`, `partial`, `generalise`, `token`, `hash`).
    pub masks: BTreeMap<String, String>,
    pub per_minute: i64,
    pub rows_per_day: i64,
    pub purpose: String,
    pub expires_at: i64,
    /// active, suspended, revoked.
    pub status: String,
    pub status_reason: String,
    pub created_by: Option<UserId>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The terms a grant is made with.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub application_id: Option<i64>,
    pub consumer_org_id: OrgId,
    pub provider_org_id: OrgId,
    pub target: Target,
    pub resource_id: Option<i64>,
    pub items: Vec<String>,
    pub row_filter: String,
    pub masks: BTreeMap<String, String>,
    pub per_minute: i64,
    pub rows_per_day: i64,
    pub purpose: String,
    pub expires_at: i64,
    pub created_by: Option<UserId>,
}

/// Which applications to list.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    pub consumer: Option<OrgId>,
    pub provider: Option<OrgId>,
    pub status: Option<String>,
    pub resource_id: Option<i64>,
}

const APP_COLUMNS: &str = "id, consumer_org_id, applicant_id, target, resource_id, provider_org_id, items, purpose, legal_basis, scenario, period_from, period_to, expected_volume, contact, share_type, status, step_deadline, escalated_at, grant_id, terms, created_at, updated_at";
const STEP_COLUMNS: &str =
    "id, application_id, step, decision, reason, actor_id, org_id, at, deadline";
const GRANT_COLUMNS: &str = "id, application_id, consumer_org_id, provider_org_id, target, resource_id, items, row_filter, masks, per_minute, rows_per_day, purpose, expires_at, status, status_reason, created_by, created_at, updated_at";

fn json_col<T: serde::de::DeserializeOwned>(
    r: &sqlx::any::AnyRow,
    c: &str,
) -> Result<T, sqlx::Error> {
    let s: String = r.try_get(c)?;
    serde_json::from_str(&s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn application_from(r: &sqlx::any::AnyRow) -> Result<Application, sqlx::Error> {
    Ok(Application {
        id: r.try_get("id")?,
        consumer_org_id: OrgId(r.try_get("consumer_org_id")?),
        applicant_id: UserId(r.try_get("applicant_id")?),
        target: r.try_get("target")?,
        resource_id: r.try_get("resource_id")?,
        provider_org_id: OrgId(r.try_get("provider_org_id")?),
        items: json_col(r, "items")?,
        purpose: r.try_get("purpose")?,
        legal_basis: r.try_get("legal_basis")?,
        scenario: r.try_get("scenario")?,
        period_from: r.try_get("period_from")?,
        period_to: r.try_get("period_to")?,
        expected_volume: r.try_get("expected_volume")?,
        contact: r.try_get("contact")?,
        share_type: r.try_get("share_type")?,
        status: r.try_get("status")?,
        step_deadline: r.try_get("step_deadline")?,
        escalated_at: r.try_get("escalated_at")?,
        grant_id: r.try_get("grant_id")?,
        terms: json_col(r, "terms")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn step_from(r: &sqlx::any::AnyRow) -> Result<Step, sqlx::Error> {
    Ok(Step {
        id: r.try_get("id")?,
        application_id: r.try_get("application_id")?,
        step: r.try_get("step")?,
        decision: r.try_get("decision")?,
        reason: r.try_get("reason")?,
        actor_id: r.try_get::<Option<i64>, _>("actor_id")?.map(UserId),
        org_id: r.try_get::<Option<i64>, _>("org_id")?.map(OrgId),
        at: r.try_get("at")?,
        deadline: r.try_get("deadline")?,
    })
}

fn grant_from(r: &sqlx::any::AnyRow) -> Result<Grant, sqlx::Error> {
    Ok(Grant {
        id: r.try_get("id")?,
        application_id: r.try_get("application_id")?,
        consumer_org_id: OrgId(r.try_get("consumer_org_id")?),
        provider_org_id: OrgId(r.try_get("provider_org_id")?),
        target: r.try_get("target")?,
        resource_id: r.try_get("resource_id")?,
        items: json_col(r, "items")?,
        row_filter: r.try_get("row_filter")?,
        masks: json_col(r, "masks")?,
        per_minute: r.try_get("per_minute")?,
        rows_per_day: r.try_get("rows_per_day")?,
        purpose: r.try_get("purpose")?,
        expires_at: r.try_get("expires_at")?,
        status: r.try_get("status")?,
        status_reason: r.try_get("status_reason")?,
        created_by: r.try_get::<Option<i64>, _>("created_by")?.map(UserId),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

impl Store {
    /// Records an application and its first step.
    pub async fn create_application(&self, a: &NewApplication) -> Result<Application, Error> {
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO share_applications (consumer_org_id, applicant_id, target, resource_id, provider_org_id, items, purpose, legal_basis, scenario, period_from, period_to, expected_volume, contact, share_type, status, step_deadline, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17) RETURNING id",
        )
        .bind(a.consumer_org_id.0)
        .bind(a.applicant_id.0)
        .bind(&a.target)
        .bind(a.resource_id)
        .bind(a.provider_org_id.0)
        .bind(to_json(&a.items))
        .bind(&a.purpose)
        .bind(&a.legal_basis)
        .bind(&a.scenario)
        .bind(a.period_from)
        .bind(a.period_to)
        .bind(&a.expected_volume)
        .bind(&a.contact)
        .bind(&a.share_type)
        .bind(&a.status)
        .bind(a.step_deadline)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("record an application"))?;
        self.application(id).await
    }

    pub async fn application(&self, id: i64) -> Result<Application, Error> {
        let sql = format!("SELECT {APP_COLUMNS} FROM share_applications WHERE id = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        self.one(
            q,
            "read an application",
            application_from,
            "read an application",
        )
        .await?
        .ok_or_else(|| {
            Error::new(
                ErrorCode::ApplicationNotFound,
                format!("no application {id}"),
            )
        })
    }

    /// Applications, newest first.
    pub async fn applications(&self, f: &ApplicationFilter) -> Result<Vec<Application>, Error> {
        let sql = format!(
            "SELECT {APP_COLUMNS} FROM share_applications WHERE ($1 IS NULL OR consumer_org_id = $1) \
             AND ($2 IS NULL OR provider_org_id = $2) AND ($3 IS NULL OR status = $3) \
             AND ($4 IS NULL OR resource_id = $4) ORDER BY id DESC"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(f.consumer.map(|o| o.0))
            .bind(f.provider.map(|o| o.0))
            .bind(f.status.clone())
            .bind(f.resource_id);
        self.all(
            q,
            "list applications",
            application_from,
            "read an application",
        )
        .await
    }

    /// Moves an application from `from` to `to` (with the next step's deadline, and the terms or
    /// grant the step produced), or says it was no longer in `from`.
    pub async fn move_application(
        &self,
        id: i64,
        from: &str,
        to: &str,
        step_deadline: Option<i64>,
        terms: Option<&Terms>,
        grant_id: Option<i64>,
    ) -> Result<Application, Error> {
        let done = sqlx::query(
            "UPDATE share_applications SET status = $3, step_deadline = $4, terms = COALESCE($5, terms), grant_id = COALESCE($6, grant_id), escalated_at = NULL, updated_at = $7 \
             WHERE id = $1 AND status = $2",
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(step_deadline)
        .bind(terms.map(to_json))
        .bind(grant_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("move an application"))?;
        let a = self.application(id).await?;
        if done.rows_affected() == 0 {
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!("application {id} is {} now, not {from}", a.status),
            ));
        }
        Ok(a)
    }

    /// Marks an overdue step as escalated (once).
    pub async fn escalate_application(&self, id: i64, at: i64) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE share_applications SET escalated_at = $2 WHERE id = $1 AND escalated_at IS NULL",
        )
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(db_err("escalate an application"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records one step of an application's review.
    pub async fn record_step(
        &self,
        application_id: i64,
        step: &str,
        decision: &str,
        reason: &str,
        actor: Option<(UserId, OrgId)>,
        deadline: Option<i64>,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO share_steps (application_id, step, decision, reason, actor_id, org_id, at, deadline) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(application_id)
        .bind(step)
        .bind(decision)
        .bind(reason)
        .bind(actor.map(|a| a.0.0))
        .bind(actor.map(|a| a.1.0))
        .bind(now_ms())
        .bind(deadline)
        .execute(&self.pool)
        .await
        .map_err(db_err("record an application step"))?;
        Ok(())
    }

    /// An application's steps, oldest first.
    pub async fn steps(&self, application_id: i64) -> Result<Vec<Step>, Error> {
        let sql =
            format!("SELECT {STEP_COLUMNS} FROM share_steps WHERE application_id = $1 ORDER BY id");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(application_id);
        self.all(q, "read application steps", step_from, "read a step")
            .await
    }

    pub async fn create_grant(&self, g: &NewGrant) -> Result<Grant, Error> {
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO grants (application_id, consumer_org_id, provider_org_id, target, resource_id, items, row_filter, masks, per_minute, rows_per_day, purpose, expires_at, status, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active', $13, $14, $14) RETURNING id",
        )
        .bind(g.application_id)
        .bind(g.consumer_org_id.0)
        .bind(g.provider_org_id.0)
        .bind(&g.target)
        .bind(g.resource_id)
        .bind(to_json(&g.items))
        .bind(&g.row_filter)
        .bind(to_json(&g.masks))
        .bind(g.per_minute)
        .bind(g.rows_per_day)
        .bind(&g.purpose)
        .bind(g.expires_at)
        .bind(g.created_by.map(|u| u.0))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("record a grant"))?;
        self.grant(id).await
    }

    pub async fn grant(&self, id: i64) -> Result<Grant, Error> {
        let sql = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        self.one(q, "read a grant", grant_from, "read a grant")
            .await?
            .ok_or_else(|| Error::new(ErrorCode::GrantNotFound, format!("no grant {id}")))
    }

    /// Grants held by `consumer` or given by `provider` (either may be open), newest first.
    pub async fn grants(
        &self,
        consumer: Option<OrgId>,
        provider: Option<OrgId>,
    ) -> Result<Vec<Grant>, Error> {
        let sql = format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE ($1 IS NULL OR consumer_org_id = $1) \
             AND ($2 IS NULL OR provider_org_id = $2) ORDER BY id DESC"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(consumer.map(|o| o.0))
            .bind(provider.map(|o| o.0));
        self.all(q, "list grants", grant_from, "read a grant").await
    }

    /// The newest grant `consumer` holds for `target` that is active and not expired at `now`:
    /// what a read on the department's standing rests on.
    pub async fn active_grant(
        &self,
        consumer: OrgId,
        target: &str,
        now: i64,
    ) -> Result<Option<Grant>, Error> {
        if let Some(found) = self.active_grant_on_thread(consumer, target, now) {
            match found {
                None => return Ok(None),
                Some((id, updated_at)) => {
                    let seen = self
                        .grants_seen
                        .lock()
                        .ok()
                        .and_then(|m| m.get(&id).cloned())
                        .filter(|g| g.updated_at == updated_at);
                    if let Some(g) = seen {
                        return Ok(Some(g));
                    }
                    let g = self.grant(id).await?;
                    if g.updated_at == updated_at && g.status == "active" && g.expires_at > now {
                        if let Ok(mut m) = self.grants_seen.lock() {
                            if m.len() >= 10_000 {
                                m.clear();
                            }
                            m.insert(id, g.clone());
                        }
                        return Ok(Some(g));
                    }
                    // Changed since it was asked for: ask again below.
                }
            }
        }
        let sql = format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE consumer_org_id = $1 AND target = $2 \
             AND status = 'active' AND expires_at > $3 ORDER BY id DESC LIMIT 1"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(consumer.0)
            .bind(target)
            .bind(now);
        self.one(q, "read a grant", grant_from, "read a grant")
            .await
    }

    /// The id and `updated_at` of the newest active grant, asked on this thread's connection to
    /// a SQLite store's file; `None` where there is no such file or the question failed (the
    /// caller asks through the pool).
    fn active_grant_on_thread(
        &self,
        consumer: OrgId,
        target: &str,
        now: i64,
    ) -> Option<Option<(i64, i64)>> {
        use rusqlite::OptionalExtension;
        let file = self.sqlite_file()?;
        let asked = crate::lane::read(file, |c| {
            c.prepare_cached(
                "SELECT id, updated_at FROM grants WHERE consumer_org_id = ?1 AND target = ?2 \
                 AND status = 'active' AND expires_at > ?3 ORDER BY id DESC LIMIT 1",
            )?
            .query_row(rusqlite::params![consumer.0, target, now], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        });
        match asked {
            Ok(found) => Some(found),
            Err(e) => {
                tracing::debug!("grant check on the store file failed, asking the pool: {e}");
                None
            }
        }
    }

    /// Suspends, resumes or revokes a grant. A revoked grant stays revoked.
    pub async fn set_grant_status(
        &self,
        id: i64,
        status: &str,
        reason: &str,
    ) -> Result<Grant, Error> {
        let done = sqlx::query(
            "UPDATE grants SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1 AND status <> 'revoked'",
        )
        .bind(id)
        .bind(status)
        .bind(reason)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("change a grant"))?;
        // What this process keeps of the grant goes with it (its status reason changed too).
        if let Ok(mut m) = self.grants_seen.lock() {
            m.remove(&id);
        }
        let g = self.grant(id).await?;
        if done.rows_affected() == 0 {
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!("grant {id} is revoked and stays so"),
            ));
        }
        Ok(g)
    }
}
