//! The demo's subscription: 人社 has its population-library grant delivered into a table of
//! the machine's PostgreSQL (database `yishu_demo`), when one answers; the server's scheduler
//! delivers it on start and every five minutes.

use anyhow::{Result, anyhow};
use sqlx::Connection;
use yishu_meta::Store;
use yishu_meta::subscription::SubscriptionDraft;

/// The demo's database and table in the consumer's PostgreSQL.
const DATABASE: &str = "yishu_demo";
const TABLE: &str = "rs_population";

/// Subscribes the consumer's population grant into `server` (`postgres://user@host:port`, no
/// database) and returns what to print, or `None` when no PostgreSQL answers there (or
/// `server` is empty: no subscription wanted).
pub async fn subscribe_city(store: &Store, server: &str) -> Result<Option<String>> {
    if server.trim().is_empty() {
        return Ok(None);
    }
    let admin = format!("{server}/postgres");
    let connect = sqlx::PgConnection::connect(&admin);
    let Ok(Ok(mut c)) = tokio::time::timeout(std::time::Duration::from_secs(3), connect).await
    else {
        return Ok(None);
    };
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(DATABASE)
        .fetch_optional(&mut c)
        .await?;
    if exists.is_none() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
            .execute(&mut c)
            .await?;
    }
    let url = format!("{server}/{DATABASE}");
    // A table left by an earlier demo may have other columns: this demo's subscription makes it anew.
    let mut d = sqlx::PgConnection::connect(&url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {TABLE}")))
        .execute(&mut d)
        .await?;
    let consumer = store.acting_as("consumer").await?;
    let grant = store
        .grants(Some(consumer.org_id), None)
        .await?
        .into_iter()
        .find(|g| g.target == "base:population" && g.status == "active")
        .ok_or_else(|| anyhow!("the demo has no population grant for 人社"))?;
    let sub = store
        .create_subscription(
            consumer.org_id,
            consumer.user_id,
            &SubscriptionDraft {
                grant_id: grant.id,
                name: "人口基础库同步（演示）".into(),
                destination: serde_json::json!({"kind": "database", "url": url, "table": TABLE}),
                every_minutes: 5,
            },
        )
        .await?;
    Ok(Some(format!(
        "subscription {} of grant {} into {url} table {TABLE}, delivered by the server on start and every 5 minutes (console → 数据订阅)",
        sub.id, grant.id
    )))
}
