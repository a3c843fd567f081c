//! Fusion's metadata (R18–R24): the plan in versions (the newest is in force), each run with its
//! report, and the review queue — records linking could not decide, each with its candidate
//! subject and evidence, and the decision a person recorded, which every later run follows.

use crate::store::{Store, db_err, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use yishu_types::{Error, ErrorCode, UserId};

/// A saved version of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SavedPlan {
    pub version: i64,
    #[schema(value_type = Object)]
    pub body: Value,
    pub saved_by: Option<UserId>,
    pub saved_at: i64,
}

/// One fusion run.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FusionRun {
    pub id: String,
    pub plan_version: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// running, done, failed.
    pub status: String,
    #[schema(value_type = Object)]
    pub report: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// 待审核
    Pending,
    /// 确认为同一对象
    Linked,
    /// 确认不是同一对象
    Rejected,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Linked => "linked",
            ReviewStatus::Rejected => "rejected",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "待审核",
            ReviewStatus::Linked => "已确认同一人",
            ReviewStatus::Rejected => "已确认非同一人",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(ReviewStatus::Pending),
            "linked" => Some(ReviewStatus::Linked),
            "rejected" => Some(ReviewStatus::Rejected),
            _ => None,
        }
    }
}

/// A record in doubt.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Review {
    pub id: i64,
    pub resource_code: String,
    pub ods_ref: String,
    pub role: String,
    /// The subject the record would join.
    pub subject_key: String,
    pub probability: f64,
    /// `model` (between the thresholds, or two subjects nearly as likely) or `collision` (a
    /// valid number already used by a clearly different person).
    pub reason: String,
    /// Both records' values and the comparison levels.
    #[schema(value_type = Object)]
    pub evidence: Value,
    pub status: ReviewStatus,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<i64>,
    pub note: String,
    pub run_id: String,
    pub created_at: i64,
}

/// What a run found in doubt, for [`Store::queue_reviews`].
pub struct NewReview {
    pub resource_code: String,
    pub ods_ref: String,
    pub role: String,
    pub subject_key: String,
    pub probability: f64,
    pub reason: String,
    pub evidence: Value,
}

const REVIEW_COLUMNS: &str = "id, resource_code, ods_ref, role, subject_key, probability, reason, evidence, status, decided_by, decided_at, note, run_id, created_at";

fn review_from(r: &sqlx::any::AnyRow) -> Result<Review, sqlx::Error> {
    Ok(Review {
        id: r.try_get("id")?,
        resource_code: r.try_get("resource_code")?,
        ods_ref: r.try_get("ods_ref")?,
        role: r.try_get("role")?,
        subject_key: r.try_get("subject_key")?,
        probability: r.try_get("probability")?,
        reason: r.try_get("reason")?,
        evidence: serde_json::from_str(&r.try_get::<String, _>("evidence")?).unwrap_or_default(),
        status: ReviewStatus::parse(&r.try_get::<String, _>("status")?)
            .unwrap_or(ReviewStatus::Pending),
        decided_by: r.try_get::<Option<i64>, _>("decided_by")?.map(UserId),
        decided_at: r.try_get("decided_at")?,
        note: r.try_get("note")?,
        run_id: r.try_get("run_id")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Saves a new version of the plan (checked by the caller) and returns it.
    pub async fn save_fusion_plan(
        &self,
        body: &Value,
        by: Option<UserId>,
    ) -> Result<SavedPlan, Error> {
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO fusion_plans (body, saved_by, saved_at) VALUES ($1, $2, $3) RETURNING version",
        )
        .bind(body.to_string())
        .bind(by.map(|u| u.0))
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("save the fusion plan"))?;
        self.fusion_plan()
            .await?
            .filter(|p| p.version == version)
            .ok_or_else(|| Error::new(ErrorCode::Internal, "the saved plan is gone"))
    }

    /// The plan in force (the newest version), if any was saved.
    pub async fn fusion_plan(&self) -> Result<Option<SavedPlan>, Error> {
        let r = sqlx::query(
            "SELECT version, body, saved_by, saved_at FROM fusion_plans ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("read the fusion plan"))?;
        r.map(|r| -> Result<SavedPlan, sqlx::Error> {
            Ok(SavedPlan {
                version: r.try_get("version")?,
                body: serde_json::from_str(&r.try_get::<String, _>("body")?).unwrap_or_default(),
                saved_by: r.try_get::<Option<i64>, _>("saved_by")?.map(UserId),
                saved_at: r.try_get("saved_at")?,
            })
        })
        .transpose()
        .map_err(db_err("read the fusion plan"))
    }

    pub async fn start_fusion_run(&self, id: &str, plan_version: i64) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO fusion_runs (id, plan_version, started_at, status) VALUES ($1, $2, $3, 'running')",
        )
        .bind(id)
        .bind(plan_version)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("record a fusion run"))?;
        Ok(())
    }

    pub async fn finish_fusion_run(&self, id: &str, ok: bool, report: &Value) -> Result<(), Error> {
        sqlx::query(
            "UPDATE fusion_runs SET finished_at = $2, status = $3, report = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(now_ms())
        .bind(if ok { "done" } else { "failed" })
        .bind(report.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_err("record a fusion run"))?;
        Ok(())
    }

    /// The newest runs first.
    pub async fn fusion_runs(&self, limit: i64) -> Result<Vec<FusionRun>, Error> {
        let q = sqlx::query(
            "SELECT id, plan_version, started_at, finished_at, status, report FROM fusion_runs ORDER BY started_at DESC, id DESC LIMIT $1",
        )
        .bind(limit);
        self.all(
            q,
            "read fusion runs",
            |r| -> Result<FusionRun, sqlx::Error> {
                Ok(FusionRun {
                    id: r.try_get("id")?,
                    plan_version: r.try_get("plan_version")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                    status: r.try_get("status")?,
                    report: serde_json::from_str(&r.try_get::<String, _>("report")?)
                        .unwrap_or_default(),
                })
            },
            "read fusion runs",
        )
        .await
    }

    /// Puts a run's records in doubt on the queue. A record already there keeps its decision; a
    /// pending one gets the newest candidate and evidence. Returns how many are new.
    pub async fn queue_reviews(&self, run_id: &str, items: &[NewReview]) -> Result<u64, Error> {
        let mut tx = self.pool.begin().await.map_err(db_err("queue reviews"))?;
        let now = now_ms();
        let mut new = 0;
        for it in items {
            let done = sqlx::query(
                "UPDATE fusion_reviews SET subject_key = $4, probability = $5, reason = $6, evidence = $7, run_id = $8 WHERE resource_code = $1 AND ods_ref = $2 AND role = $3 AND status = 'pending'",
            )
            .bind(&it.resource_code)
            .bind(&it.ods_ref)
            .bind(&it.role)
            .bind(&it.subject_key)
            .bind(it.probability)
            .bind(&it.reason)
            .bind(it.evidence.to_string())
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("queue reviews"))?;
            if done.rows_affected() > 0 {
                continue;
            }
            let exists: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM fusion_reviews WHERE resource_code = $1 AND ods_ref = $2 AND role = $3",
            )
            .bind(&it.resource_code)
            .bind(&it.ods_ref)
            .bind(&it.role)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err("queue reviews"))?;
            if exists.is_some() {
                continue;
            }
            sqlx::query(
                "INSERT INTO fusion_reviews (resource_code, ods_ref, role, subject_key, probability, reason, evidence, status, run_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9)",
            )
            .bind(&it.resource_code)
            .bind(&it.ods_ref)
            .bind(&it.role)
            .bind(&it.subject_key)
            .bind(it.probability)
            .bind(&it.reason)
            .bind(it.evidence.to_string())
            .bind(run_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err("queue reviews"))?;
            new += 1;
        }
        tx.commit().await.map_err(db_err("queue reviews"))?;
        Ok(new)
    }

    /// The queue, pending first then newest decisions; `status` narrows it.
    pub async fn reviews(
        &self,
        status: Option<ReviewStatus>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Review>, i64), Error> {
        let s = status.map(|s| s.as_str()).unwrap_or("");
        let sql = format!(
            "SELECT {REVIEW_COLUMNS} FROM fusion_reviews WHERE ($1 = '' OR status = $1) ORDER BY CASE WHEN status = 'pending' THEN 0 ELSE 1 END, probability DESC, id LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(s)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("read reviews"))?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM fusion_reviews WHERE ($1 = '' OR status = $1)",
        )
        .bind(s)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("count reviews"))?;
        let items = rows
            .iter()
            .map(review_from)
            .collect::<Result<_, _>>()
            .map_err(db_err("read reviews"))?;
        Ok((items, total))
    }

    pub async fn review(&self, id: i64) -> Result<Review, Error> {
        let sql = format!("SELECT {REVIEW_COLUMNS} FROM fusion_reviews WHERE id = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        self.one(q, "read a review", review_from, "read a review")
            .await?
            .ok_or_else(|| Error::new(ErrorCode::FusionNotFound, format!("no review {id}")))
    }

    /// Records a person's decision on a record in doubt.
    pub async fn decide_review(
        &self,
        id: i64,
        to: ReviewStatus,
        note: &str,
        by: UserId,
    ) -> Result<Review, Error> {
        if to == ReviewStatus::Pending {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                "a decision is linked or rejected",
            ));
        }
        let r = self.review(id).await?;
        if r.status != ReviewStatus::Pending {
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!("review {id} was already decided ({})", r.status.label_zh()),
            ));
        }
        sqlx::query(
            "UPDATE fusion_reviews SET status = $2, note = $3, decided_by = $4, decided_at = $5 WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(to.as_str())
        .bind(note)
        .bind(by.0)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("record a review decision"))?;
        self.review(id).await
    }

    /// Every decided review, for a run to follow.
    pub async fn review_decisions(&self) -> Result<Vec<Review>, Error> {
        let sql = format!(
            "SELECT {REVIEW_COLUMNS} FROM fusion_reviews WHERE status <> 'pending' ORDER BY id"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        self.all(
            q,
            "read review decisions",
            review_from,
            "read review decisions",
        )
        .await
    }
}

/// A correction request on a core attribute (R20).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Correction {
    pub id: i64,
    pub subject_kind: String,
    pub subject_key: String,
    pub attribute: String,
    pub value: String,
    pub reason: String,
    /// The proposing department.
    pub from_org: i64,
    /// The lead department's code, which decides.
    pub to_org: String,
    /// pending, accepted, rejected.
    pub status: String,
    pub created_by: UserId,
    pub created_at: i64,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<i64>,
    pub note: String,
    /// How the person concerned confirmed the change (recorded by the lead department; a
    /// request is accepted only once confirmed).
    pub confirmation: String,
    pub confirmed_by: Option<UserId>,
    pub confirmed_at: Option<i64>,
}

/// What a department proposes.
pub struct NewCorrection<'a> {
    pub subject_kind: &'a str,
    pub subject_key: &'a str,
    pub attribute: &'a str,
    pub value: &'a str,
    pub reason: &'a str,
    pub from_org: i64,
    pub to_org: &'a str,
    pub by: UserId,
}

const CORRECTION_COLUMNS: &str = "id, subject_kind, subject_key, attribute, value, reason, from_org, to_org, status, created_by, created_at, decided_by, decided_at, note, confirmation, confirmed_by, confirmed_at";

fn correction_from(r: &sqlx::any::AnyRow) -> Result<Correction, sqlx::Error> {
    Ok(Correction {
        id: r.try_get("id")?,
        subject_kind: r.try_get("subject_kind")?,
        subject_key: r.try_get("subject_key")?,
        attribute: r.try_get("attribute")?,
        value: r.try_get("value")?,
        reason: r.try_get("reason")?,
        from_org: r.try_get("from_org")?,
        to_org: r.try_get("to_org")?,
        status: r.try_get("status")?,
        created_by: UserId(r.try_get("created_by")?),
        created_at: r.try_get("created_at")?,
        decided_by: r.try_get::<Option<i64>, _>("decided_by")?.map(UserId),
        decided_at: r.try_get("decided_at")?,
        note: r.try_get("note")?,
        confirmation: r.try_get("confirmation")?,
        confirmed_by: r.try_get::<Option<i64>, _>("confirmed_by")?.map(UserId),
        confirmed_at: r.try_get("confirmed_at")?,
    })
}

impl Store {
    pub async fn create_correction(&self, c: &NewCorrection<'_>) -> Result<Correction, Error> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO fusion_corrections (subject_kind, subject_key, attribute, value, reason, from_org, to_org, status, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9) RETURNING id",
        )
        .bind(c.subject_kind)
        .bind(c.subject_key)
        .bind(c.attribute)
        .bind(c.value)
        .bind(c.reason)
        .bind(c.from_org)
        .bind(c.to_org)
        .bind(c.by.0)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("record a correction request"))?;
        self.correction(id).await
    }

    pub async fn correction(&self, id: i64) -> Result<Correction, Error> {
        let sql = format!("SELECT {CORRECTION_COLUMNS} FROM fusion_corrections WHERE id = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        self.one(
            q,
            "read a correction request",
            correction_from,
            "read a correction request",
        )
        .await?
        .ok_or_else(|| {
            Error::new(
                ErrorCode::FusionNotFound,
                format!("no correction request {id}"),
            )
        })
    }

    /// Requests, newest first; `status` narrows them (`accepted` for a run to apply).
    pub async fn corrections(&self, status: Option<&str>) -> Result<Vec<Correction>, Error> {
        let sql = format!(
            "SELECT {CORRECTION_COLUMNS} FROM fusion_corrections WHERE ($1 = '' OR status = $1) ORDER BY id DESC"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(status.unwrap_or(""));
        self.all(
            q,
            "read correction requests",
            correction_from,
            "read correction requests",
        )
        .await
    }

    /// The lead department records how the person concerned confirmed a pending request.
    pub async fn confirm_correction(
        &self,
        id: i64,
        how: &str,
        by: UserId,
    ) -> Result<Correction, Error> {
        let done = sqlx::query(
            "UPDATE fusion_corrections SET confirmation = $2, confirmed_by = $3, confirmed_at = $4 WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(how)
        .bind(by.0)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("confirm a correction request"))?;
        self.pending_changed(id, done.rows_affected()).await
    }

    /// A request after an update that only a pending request takes: the request, or why not.
    async fn pending_changed(&self, id: i64, rows: u64) -> Result<Correction, Error> {
        let c = self.correction(id).await?;
        if rows == 0 {
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!("correction request {id} was already {}", c.status),
            ));
        }
        Ok(c)
    }

    /// The lead department accepts (only once the person concerned confirmed) or rejects a
    /// pending request.
    pub async fn decide_correction(
        &self,
        id: i64,
        accept: bool,
        note: &str,
        by: UserId,
    ) -> Result<Correction, Error> {
        let c = self.correction(id).await?;
        if accept && c.status == "pending" && c.confirmed_at.is_none() {
            return Err(Error::new(
                ErrorCode::CorrectionUnconfirmed,
                format!(
                    "correction request {id} changes a core attribute ({}): record how the person concerned confirmed it before accepting",
                    c.attribute
                ),
            ));
        }
        let done = sqlx::query(
            "UPDATE fusion_corrections SET status = $2, note = $3, decided_by = $4, decided_at = $5 WHERE id = $1 AND status = 'pending' AND ($2 = 'rejected' OR confirmed_at IS NOT NULL)",
        )
        .bind(id)
        .bind(if accept { "accepted" } else { "rejected" })
        .bind(note)
        .bind(by.0)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("decide a correction request"))?;
        self.pending_changed(id, done.rows_affected()).await
    }
}
