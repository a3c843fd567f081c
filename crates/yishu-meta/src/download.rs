//! Granted downloads (R36): who took which file through which grant, and the watermark code
//! its rows carry — what `yishu watermark identify` compares a leaked file with.

use crate::store::{Store, db_err, now_ms};
use rand::RngCore;
use serde::Serialize;
use sqlx::Row;
use yishu_types::{Error, ErrorCode, OrgId, UserId};

/// One download.
#[derive(Debug, Clone, Serialize)]
pub struct Download {
    pub id: i64,
    pub grant_id: i64,
    pub user_id: UserId,
    pub org_id: OrgId,
    /// csv, xlsx, parquet, json.
    pub format: String,
    /// The watermark code.
    #[serde(skip)]
    pub code: u64,
    pub created_at: i64,
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Download, sqlx::Error> {
    Ok(Download {
        id: r.try_get("id")?,
        grant_id: r.try_get("grant_id")?,
        user_id: UserId(r.try_get("user_id")?),
        org_id: OrgId(r.try_get("org_id")?),
        format: r.try_get("format")?,
        code: r.try_get::<i64, _>("code")? as u64,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Records a download through grant `grant_id` with a fresh random code.
    pub async fn record_download(
        &self,
        grant_id: i64,
        user: UserId,
        org: OrgId,
        format: &str,
    ) -> Result<Download, Error> {
        let code = rand::rng().next_u64();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO downloads (grant_id, user_id, org_id, format, code, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(grant_id)
        .bind(user.0)
        .bind(org.0)
        .bind(format)
        .bind(code as i64)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("record a download"))?;
        self.download(id).await
    }

    pub async fn download(&self, id: i64) -> Result<Download, Error> {
        let q = sqlx::query(
            "SELECT id, grant_id, user_id, org_id, format, code, created_at FROM downloads WHERE id = $1",
        )
        .bind(id);
        self.one(q, "read a download", from_row, "read a download")
            .await?
            .ok_or_else(|| Error::new(ErrorCode::GrantNotFound, format!("no download {id}")))
    }

    /// Every download's (id, code).
    pub async fn download_codes(&self) -> Result<Vec<(i64, u64)>, Error> {
        let rows = sqlx::query("SELECT id, code FROM downloads")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list downloads"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>("id")
                        .map_err(db_err("read a download"))?,
                    r.try_get::<i64, _>("code")
                        .map_err(db_err("read a download"))? as u64,
                ))
            })
            .collect()
    }
}
