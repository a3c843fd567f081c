//! Message ids of queue feeds (消息队列订阅): which messages a resource has already taken, so a
//! redelivery after a crash or a lost acknowledgement stores nothing twice.

use crate::store::{Store, db_err};
use std::collections::HashSet;
use yishu_types::Error;

/// Ids per statement; keeps bind lists well under every backend's limit.
const CHUNK: usize = 500;

/// `$1, $2, …` for `n` binds after `first - 1` earlier ones: placeholders only, never values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Of `ids`, those this resource already took in a succeeded or still running batch.
    pub async fn seen_messages(
        &self,
        resource_id: i64,
        ids: &[String],
    ) -> Result<HashSet<String>, Error> {
        let mut seen = HashSet::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT f.message_id FROM feed_messages f JOIN batches b ON b.id = f.batch_id \
                 WHERE f.resource_id = $1 AND b.status IN ('succeeded', 'running') \
                 AND f.message_id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(resource_id);
            for id in chunk {
                q = q.bind(id);
            }
            seen.extend(
                q.fetch_all(&self.pool)
                    .await
                    .map_err(db_err("look up feed messages"))?,
            );
        }
        Ok(seen)
    }

    /// Records that `batch_id` takes these messages (before its commit, so a crash between the
    /// commit and the acknowledgement is settled by the batch's status). Ids left by a failed
    /// batch move to this one.
    pub async fn take_messages(
        &self,
        resource_id: i64,
        batch_id: &str,
        ids: &[String],
    ) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(db_err("begin"))?;
        for chunk in ids.chunks(CHUNK) {
            let rows = (0..chunk.len())
                .map(|k| format!("($1, $2, ${})", k + 3))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO feed_messages (resource_id, batch_id, message_id) VALUES {rows} \
                 ON CONFLICT (resource_id, message_id) DO UPDATE SET batch_id = excluded.batch_id"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(resource_id)
                .bind(batch_id);
            for id in chunk {
                q = q.bind(id);
            }
            q.execute(&mut *tx)
                .await
                .map_err(db_err("record feed messages"))?;
        }
        tx.commit().await.map_err(db_err("commit"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_from_the_first() {
        assert_eq!(super::placeholders(2, 3), "$2, $3, $4");
    }
}
