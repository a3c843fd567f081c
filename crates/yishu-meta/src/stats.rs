//! Usage statistics per resource (资源使用统计): how often its page was viewed, how many searches
//! found it, and how many applications and calls were made against it.

use crate::store::{Store, db_err};
use serde::Serialize;
use sqlx::Row;
use yishu_types::Error;

/// One counter of [`ResourceStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Views,
    SearchHits,
    Applications,
    Calls,
}

impl Counter {
    fn column(self) -> &'static str {
        match self {
            Counter::Views => "views",
            Counter::SearchHits => "search_hits",
            Counter::Applications => "applications",
            Counter::Calls => "calls",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ResourceStats {
    pub views: i64,
    pub search_hits: i64,
    pub applications: i64,
    pub calls: i64,
}

impl Store {
    /// Adds one to `counter` of each resource in `ids`, in one transaction.
    pub async fn count_use(&self, counter: Counter, ids: &[i64]) -> Result<(), Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let col = counter.column();
        // The column name comes from the closed `Counter` enum, never from input.
        let sql = format!(
            "INSERT INTO resource_stats (resource_id, {col}) VALUES ($1, 1) \
             ON CONFLICT (resource_id) DO UPDATE SET {col} = resource_stats.{col} + 1"
        );
        let mut tx = self.pool.begin().await.map_err(db_err("count use"))?;
        for id in ids {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err("count use"))?;
        }
        tx.commit().await.map_err(db_err("count use"))
    }

    pub async fn resource_stats(&self, id: i64) -> Result<ResourceStats, Error> {
        let row = sqlx::query(
            "SELECT views, search_hits, applications, calls FROM resource_stats WHERE resource_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("read usage"))?;
        let Some(r) = row else {
            return Ok(ResourceStats::default());
        };
        let get = |c: &str| r.try_get::<i64, _>(c);
        (|| {
            Ok(ResourceStats {
                views: get("views")?,
                search_hits: get("search_hits")?,
                applications: get("applications")?,
                calls: get("calls")?,
            })
        })()
        .map_err(db_err("read usage"))
    }
}
