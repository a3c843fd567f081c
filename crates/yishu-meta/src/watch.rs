//! Watching resources (订阅关注): a consumer who uses or watches a resource is told when it
//! changes or is retired — in the console (notifications) and, if they gave one, by an outgoing
//! webhook. Deliveries are stored first and retried with back-off until the receiver accepts.

use crate::store::{Store, db_err, now_ms};
use serde::Serialize;
use sqlx::Row;
use yishu_types::{Error, UserId};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: i64,
    /// The catalog entry the notice is about, if it is about one.
    pub resource_id: Option<i64>,
    /// updated, retired, published; application, decision, grant, overdue for sharing.
    pub kind: String,
    pub message: String,
    /// The console page the notice points to.
    pub link: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub url: String,
    pub payload: String,
    pub attempts: i64,
}

/// Wait before the next attempt after `attempts` earlier failures: 2 s, 4 s, 8 s … at most an hour.
pub fn retry_after_ms(attempts: i64) -> i64 {
    (2_000i64 << attempts.clamp(0, 12)).min(3_600_000)
}

/// Deliveries give up after this many attempts (about a day of retries).
pub const MAX_ATTEMPTS: i64 = 30;

/// Checks a webhook URL: http(s) only, with a host.
pub fn check_webhook(url: &str) -> Result<(), Error> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2000
        && url
            .split("://")
            .nth(1)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            "webhook_url",
            format!("'{url}' is not an http:// or https:// URL"),
        ))
    }
}

impl Store {
    /// Starts (or updates) watching a resource, optionally with a webhook.
    pub async fn watch(
        &self,
        user: UserId,
        resource_id: i64,
        webhook: Option<&str>,
    ) -> Result<(), Error> {
        if let Some(u) = webhook {
            check_webhook(u)?;
        }
        self.get_resource(resource_id).await?;
        sqlx::query(
            "INSERT INTO watches (user_id, resource_id, webhook_url, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, resource_id) DO UPDATE SET webhook_url = $3",
        )
        .bind(user.0)
        .bind(resource_id)
        .bind(webhook)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_err("watch a resource"))?;
        Ok(())
    }

    pub async fn unwatch(&self, user: UserId, resource_id: i64) -> Result<(), Error> {
        sqlx::query("DELETE FROM watches WHERE user_id = $1 AND resource_id = $2")
            .bind(user.0)
            .bind(resource_id)
            .execute(&self.pool)
            .await
            .map_err(db_err("stop watching"))?;
        Ok(())
    }

    /// Tells every watcher of a resource about a change: one notification each, and a webhook
    /// delivery queued for those who gave a URL. Returns how many watchers were told.
    pub async fn notify_watchers(
        &self,
        resource_id: i64,
        kind: &str,
        message: &str,
        payload: &serde_json::Value,
    ) -> Result<usize, Error> {
        let rows = sqlx::query("SELECT user_id, webhook_url FROM watches WHERE resource_id = $1")
            .bind(resource_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("list watchers"))?;
        let now = now_ms();
        let mut tx = self.pool.begin().await.map_err(db_err("notify"))?;
        for r in &rows {
            let user: i64 = r.try_get("user_id").map_err(db_err("notify"))?;
            let hook: Option<String> = r.try_get("webhook_url").map_err(db_err("notify"))?;
            sqlx::query(
                "INSERT INTO notifications (user_id, resource_id, kind, message, link, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(user)
            .bind(resource_id)
            .bind(kind)
            .bind(message)
            .bind(format!("/console/catalog/{resource_id}"))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err("notify"))?;
            if let Some(url) = hook {
                sqlx::query(
                    "INSERT INTO webhook_deliveries (url, payload, status, next_attempt_at, created_at) VALUES ($1, $2, 'pending', $3, $3)",
                )
                .bind(url)
                .bind(payload.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err("queue a webhook"))?;
            }
        }
        tx.commit().await.map_err(db_err("notify"))?;
        Ok(rows.len())
    }

    /// Tells each of `users` one thing in the console, and queues a webhook delivery for those
    /// who watch `resource_id` with a URL. Returns how many were told.
    pub async fn notify_users(
        &self,
        users: &[UserId],
        resource_id: Option<i64>,
        kind: &str,
        message: &str,
        link: &str,
        payload: &serde_json::Value,
    ) -> Result<usize, Error> {
        let now = now_ms();
        let mut tx = self.pool.begin().await.map_err(db_err("notify"))?;
        for user in users {
            sqlx::query(
                "INSERT INTO notifications (user_id, resource_id, kind, message, link, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(user.0)
            .bind(resource_id)
            .bind(kind)
            .bind(message)
            .bind(link)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err("notify"))?;
            sqlx::query(
                "INSERT INTO webhook_deliveries (url, payload, status, next_attempt_at, created_at) \
                 SELECT webhook_url, $3, 'pending', $4, $4 FROM watches WHERE user_id = $1 AND resource_id = $2 AND webhook_url IS NOT NULL",
            )
            .bind(user.0)
            .bind(resource_id)
            .bind(payload.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err("queue a webhook"))?;
        }
        tx.commit().await.map_err(db_err("notify"))?;
        Ok(users.len())
    }

    /// A user's notifications, newest first.
    pub async fn notifications(
        &self,
        user: UserId,
        limit: i64,
    ) -> Result<Vec<Notification>, Error> {
        let q = sqlx::query(
            "SELECT id, resource_id, kind, message, link, created_at, read_at FROM notifications WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(user.0)
        .bind(limit.clamp(1, 500));
        self.all(
            q,
            "list notifications",
            |r| {
                Ok(Notification {
                    id: r.try_get("id")?,
                    resource_id: r.try_get("resource_id")?,
                    kind: r.try_get("kind")?,
                    message: r.try_get("message")?,
                    link: r.try_get("link")?,
                    created_at: r.try_get("created_at")?,
                    read_at: r.try_get("read_at")?,
                })
            },
            "list notifications",
        )
        .await
    }

    /// Webhook deliveries due now.
    pub async fn due_deliveries(&self, limit: i64) -> Result<Vec<Delivery>, Error> {
        let q = sqlx::query(
            "SELECT id, url, payload, attempts FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT $2",
        )
        .bind(now_ms())
        .bind(limit);
        self.all(
            q,
            "list deliveries",
            |r| {
                Ok(Delivery {
                    id: r.try_get("id")?,
                    url: r.try_get("url")?,
                    payload: r.try_get("payload")?,
                    attempts: r.try_get("attempts")?,
                })
            },
            "list deliveries",
        )
        .await
    }

    /// Records an attempt: delivered, or retried later (given up after [`MAX_ATTEMPTS`]).
    pub async fn record_delivery(&self, d: &Delivery, error: Option<&str>) -> Result<(), Error> {
        let attempts = d.attempts + 1;
        let status = match error {
            None => "delivered",
            Some(_) if attempts >= MAX_ATTEMPTS => "failed",
            Some(_) => "pending",
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, last_error = $5 WHERE id = $1",
        )
        .bind(d.id)
        .bind(status)
        .bind(attempts)
        .bind(now_ms() + retry_after_ms(attempts - 1))
        .bind(error.unwrap_or(""))
        .execute(&self.pool)
        .await
        .map_err(db_err("record a delivery"))?;
        Ok(())
    }

    /// Delivery states by id, for pages and tests: (status, attempts, last_error).
    pub async fn delivery(&self, id: i64) -> Result<(String, i64, String), Error> {
        let r = sqlx::query(
            "SELECT status, attempts, last_error FROM webhook_deliveries WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("read a delivery"))?;
        (|| {
            Ok((
                r.try_get("status")?,
                r.try_get("attempts")?,
                r.try_get("last_error")?,
            ))
        })()
        .map_err(db_err("read a delivery"))
    }
}
