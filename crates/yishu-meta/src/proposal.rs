//! Changes of a published entry that wait for review: an edit of its items or its share/open
//! attributes is kept here as a proposal while the published version stays in force; a data
//! manager outside the providing department approves it (it becomes the new published version)
//! or rejects it with a reason. A newer proposal supersedes an older pending one.

use crate::catalog::{Actor, Resource, ResourceDraft, ResourceStatus, forbidden};
use crate::store::{Store, db_err, now_ms};
use serde::Serialize;
use sqlx::Row;
use yishu_types::{Error, ErrorCode, Role, UserId};

/// A proposed change of a published entry.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Proposal {
    pub id: i64,
    pub resource_id: i64,
    /// The published version the change was made against.
    pub base_version: i64,
    pub draft: ResourceDraft,
    /// pending, approved, rejected, superseded.
    pub status: String,
    pub proposed_by: UserId,
    pub proposed_at: i64,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<i64>,
    pub note: String,
}

const COLUMNS: &str = "id, resource_id, base_version, draft, status, proposed_by, proposed_at, decided_by, decided_at, note";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Proposal, sqlx::Error> {
    let draft: String = r.try_get("draft")?;
    Ok(Proposal {
        id: r.try_get("id")?,
        resource_id: r.try_get("resource_id")?,
        base_version: r.try_get("base_version")?,
        draft: serde_json::from_str(&draft).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        status: r.try_get("status")?,
        proposed_by: UserId(r.try_get("proposed_by")?),
        proposed_at: r.try_get("proposed_at")?,
        decided_by: r.try_get::<Option<i64>, _>("decided_by")?.map(UserId),
        decided_at: r.try_get("decided_at")?,
        note: r.try_get("note")?,
    })
}

impl Store {
    /// Records `d` as the pending change of published entry `cur`, superseding an older one.
    pub(crate) async fn propose_change(
        &self,
        cur: &Resource,
        d: &ResourceDraft,
        by: UserId,
    ) -> Result<Proposal, Error> {
        let draft = serde_json::to_string(d)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("cannot keep the change: {e}")))?;
        let mut tx = self.pool.begin().await.map_err(db_err("begin"))?;
        sqlx::query(
            "UPDATE resource_proposals SET status = 'superseded' WHERE resource_id = $1 AND status = 'pending'",
        )
        .bind(cur.id)
        .execute(&mut *tx)
        .await
        .map_err(db_err("supersede a proposal"))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO resource_proposals (resource_id, base_version, draft, status, proposed_by, proposed_at) VALUES ($1, $2, $3, 'pending', $4, $5) RETURNING id",
        )
        .bind(cur.id)
        .bind(cur.version)
        .bind(draft)
        .bind(by.0)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err("record a proposal"))?;
        tx.commit().await.map_err(db_err("commit"))?;
        self.proposal(id).await
    }

    pub async fn proposal(&self, id: i64) -> Result<Proposal, Error> {
        let sql = format!("SELECT {COLUMNS} FROM resource_proposals WHERE id = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        self.one(q, "read a proposal", from_row, "read a proposal")
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::ResourceNotFound,
                    format!("no proposed change {id}"),
                )
            })
    }

    /// The change of entry `resource_id` waiting for review, if any.
    pub async fn pending_change(&self, resource_id: i64) -> Result<Option<Proposal>, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM resource_proposals WHERE resource_id = $1 AND status = 'pending' ORDER BY id DESC LIMIT 1"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(resource_id);
        self.one(q, "read a proposal", from_row, "read a proposal")
            .await
    }

    /// A data manager outside the providing department approves (the change becomes the
    /// published version) or rejects (with a reason) a pending change.
    pub async fn decide_change(
        &self,
        id: i64,
        approve: bool,
        note: &str,
        by: &Actor<'_>,
    ) -> Result<Resource, Error> {
        let p = self.proposal(id).await?;
        let r = self.get_resource(p.resource_id).await?;
        if !by.roles.contains(&Role::DataManager) {
            return Err(forbidden(
                "only a data manager reviews a change of a published entry",
            ));
        }
        if r.meta.provider_org_id == by.org || p.proposed_by == by.user {
            return Err(forbidden(format!(
                "the change of {} comes from your own department or hand; another data manager must review it",
                r.code
            )));
        }
        if !approve && note.trim().is_empty() {
            return Err(Error::field(
                "note",
                "a rejection needs a reason the provider can act on",
            ));
        }
        if approve && (r.status != ResourceStatus::Published || r.version != p.base_version) {
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!(
                    "{} changed since the proposal (version {} now, proposed against {}); propose it again",
                    r.code, r.version, p.base_version
                ),
            ));
        }
        let done = sqlx::query(
            "UPDATE resource_proposals SET status = $2, decided_by = $3, decided_at = $4, note = $5 WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(if approve { "approved" } else { "rejected" })
        .bind(by.user.0)
        .bind(now_ms())
        .bind(note.trim())
        .execute(&self.pool)
        .await
        .map_err(db_err("decide a proposal"))?;
        if done.rows_affected() == 0 {
            return Err(Error::new(
                ErrorCode::EditConflict,
                format!("proposed change {id} is {} already", p.status),
            ));
        }
        if !approve {
            return Ok(r);
        }
        self.apply_edit(&r, &p.draft, r.version, by.user).await
    }
}
