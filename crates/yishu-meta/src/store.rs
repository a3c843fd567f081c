//! Connection, migrations and the small helpers every table module shares.

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, SqlSafeStr};
use std::borrow::Cow;
use std::sync::Arc;
use yishu_types::{Error, ErrorCode};

/// Which database holds the metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Handle to the metadata store. Cheap to clone (a pool inside).
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// Installation secret that keys the hashes of session tokens and API keys.
    pub(crate) key_secret: Arc<Vec<u8>>,
    /// Audit records waiting for the writer's turn (shared by clones, per process).
    pub(crate) audits: Arc<crate::audit::AuditQueue>,
    /// The SQLite database file, which the grant check, the audit writer and its verifier use
    /// directly (none for PostgreSQL and in-memory databases).
    sqlite_file: Option<Arc<std::path::Path>>,
    /// Grants read by id, with the `updated_at` they were read at: a grant's terms never
    /// change after it is made (only its status, which moves `updated_at`).
    pub(crate) grants_seen:
        Arc<std::sync::Mutex<std::collections::HashMap<i64, crate::share::Grant>>>,
}

/// One page of a listing and the total number of matching rows.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Milliseconds since the Unix epoch, the time unit of every stored timestamp.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The time the scheduler judges deadlines by (a provider's update cycle): the system clock moved
/// by an offset, zero in production. A test moves it forward to see what a silent month does
/// without waiting a month. Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl Clock {
    pub fn now_ms(&self) -> i64 {
        now_ms() + self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Maps a database failure to the registry, naming the operation. Unique-constraint violations
/// become the given conflict code so callers can say "code already taken".
/// A query that binds its values, as the store's functions build them.
pub(crate) type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

impl Store {
    /// Every row `q` returns, read by `from_row`; `list` and `row` name the query and a row in
    /// errors.
    pub(crate) async fn all<T>(
        &self,
        q: Query<'_>,
        list: &str,
        from_row: impl Fn(&sqlx::any::AnyRow) -> Result<T, sqlx::Error>,
        row: &str,
    ) -> Result<Vec<T>, Error> {
        let rows = q.fetch_all(&self.pool).await.map_err(db_err(list))?;
        rows.iter()
            .map(|r| from_row(r).map_err(db_err(row)))
            .collect()
    }

    /// The first row `q` returns, read by `from_row`, if there is one.
    pub(crate) async fn one<T>(
        &self,
        q: Query<'_>,
        what: &str,
        from_row: impl Fn(&sqlx::any::AnyRow) -> Result<T, sqlx::Error>,
        row: &str,
    ) -> Result<Option<T>, Error> {
        q.fetch_optional(&self.pool)
            .await
            .map_err(db_err(what))?
            .map(|r| from_row(&r).map_err(db_err(row)))
            .transpose()
    }
}

pub(crate) fn db_err(what: &str) -> impl FnOnce(sqlx::Error) -> Error + '_ {
    move |e| {
        tracing::warn!(error = %e, "metadata store: {what}");
        Error::new(
            ErrorCode::StoreError,
            format!("metadata store failed to {what}: {e}"),
        )
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/sqlite/0001_foundation.sql"),
    ),
    (
        2,
        "catalog",
        include_str!("../migrations/sqlite/0002_catalog.sql"),
    ),
    (
        3,
        "batches",
        include_str!("../migrations/sqlite/0003_batches.sql"),
    ),
    (
        4,
        "stats",
        include_str!("../migrations/sqlite/0004_stats.sql"),
    ),
    (
        5,
        "sources",
        include_str!("../migrations/sqlite/0005_sources.sql"),
    ),
    (
        6,
        "batch_drift",
        include_str!("../migrations/sqlite/0006_batch_drift.sql"),
    ),
    (
        7,
        "watches",
        include_str!("../migrations/sqlite/0007_watches.sql"),
    ),
    (
        8,
        "matters",
        include_str!("../migrations/sqlite/0008_matters.sql"),
    ),
    (
        9,
        "feed_messages",
        include_str!("../migrations/sqlite/0009_feed_messages.sql"),
    ),
    (
        10,
        "attachments",
        include_str!("../migrations/sqlite/0010_attachments.sql"),
    ),
    (
        11,
        "mounts",
        include_str!("../migrations/sqlite/0011_mounts.sql"),
    ),
    (
        12,
        "quality",
        include_str!("../migrations/sqlite/0012_quality.sql"),
    ),
    (
        13,
        "fusion",
        include_str!("../migrations/sqlite/0013_fusion.sql"),
    ),
    (
        14,
        "corrections",
        include_str!("../migrations/sqlite/0014_corrections.sql"),
    ),
    (
        15,
        "confirmations",
        include_str!("../migrations/sqlite/0015_confirmations.sql"),
    ),
    (
        16,
        "unmeasured",
        include_str!("../migrations/sqlite/0016_unmeasured.sql"),
    ),
    (
        17,
        "sharing",
        include_str!("../migrations/sqlite/0017_sharing.sql"),
    ),
    (
        18,
        "resource_proposals",
        include_str!("../migrations/sqlite/0018_resource_proposals.sql"),
    ),
    (
        19,
        "services",
        include_str!("../migrations/sqlite/0019_services.sql"),
    ),
    (
        20,
        "apps",
        include_str!("../migrations/sqlite/0020_apps.sql"),
    ),
    (
        21,
        "downloads",
        include_str!("../migrations/sqlite/0021_downloads.sql"),
    ),
    (
        22,
        "service_ops",
        include_str!("../migrations/sqlite/0022_service_ops.sql"),
    ),
    (
        23,
        "function_services",
        include_str!("../migrations/sqlite/0023_function_services.sql"),
    ),
    (
        24,
        "subscriptions",
        include_str!("../migrations/sqlite/0024_subscriptions.sql"),
    ),
    (
        25,
        "openings",
        include_str!("../migrations/sqlite/0025_openings.sql"),
    ),
    (
        26,
        "open_society",
        include_str!("../migrations/sqlite/0026_open_society.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/postgres/0001_foundation.sql"),
    ),
    (
        2,
        "catalog",
        include_str!("../migrations/postgres/0002_catalog.sql"),
    ),
    (
        3,
        "batches",
        include_str!("../migrations/postgres/0003_batches.sql"),
    ),
    (
        4,
        "stats",
        include_str!("../migrations/postgres/0004_stats.sql"),
    ),
    (
        5,
        "sources",
        include_str!("../migrations/postgres/0005_sources.sql"),
    ),
    (
        6,
        "batch_drift",
        include_str!("../migrations/postgres/0006_batch_drift.sql"),
    ),
    (
        7,
        "watches",
        include_str!("../migrations/postgres/0007_watches.sql"),
    ),
    (
        8,
        "matters",
        include_str!("../migrations/postgres/0008_matters.sql"),
    ),
    (
        9,
        "feed_messages",
        include_str!("../migrations/postgres/0009_feed_messages.sql"),
    ),
    (
        10,
        "attachments",
        include_str!("../migrations/postgres/0010_attachments.sql"),
    ),
    (
        11,
        "mounts",
        include_str!("../migrations/postgres/0011_mounts.sql"),
    ),
    (
        12,
        "quality",
        include_str!("../migrations/postgres/0012_quality.sql"),
    ),
    (
        13,
        "fusion",
        include_str!("../migrations/postgres/0013_fusion.sql"),
    ),
    (
        14,
        "corrections",
        include_str!("../migrations/postgres/0014_corrections.sql"),
    ),
    (
        15,
        "confirmations",
        include_str!("../migrations/postgres/0015_confirmations.sql"),
    ),
    (
        16,
        "unmeasured",
        include_str!("../migrations/postgres/0016_unmeasured.sql"),
    ),
    (
        17,
        "sharing",
        include_str!("../migrations/postgres/0017_sharing.sql"),
    ),
    (
        18,
        "resource_proposals",
        include_str!("../migrations/postgres/0018_resource_proposals.sql"),
    ),
    (
        19,
        "services",
        include_str!("../migrations/postgres/0019_services.sql"),
    ),
    (
        20,
        "apps",
        include_str!("../migrations/postgres/0020_apps.sql"),
    ),
    (
        21,
        "downloads",
        include_str!("../migrations/postgres/0021_downloads.sql"),
    ),
    (
        22,
        "service_ops",
        include_str!("../migrations/postgres/0022_service_ops.sql"),
    ),
    (
        23,
        "function_services",
        include_str!("../migrations/postgres/0023_function_services.sql"),
    ),
    (
        24,
        "subscriptions",
        include_str!("../migrations/postgres/0024_subscriptions.sql"),
    ),
    (
        25,
        "openings",
        include_str!("../migrations/postgres/0025_openings.sql"),
    ),
    (
        26,
        "open_society",
        include_str!("../migrations/postgres/0026_open_society.sql"),
    ),
];

impl Store {
    /// Opens (creating if needed) the store at `url` (`sqlite://path` or `postgres://…`) and
    /// applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, Error> {
        install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(Error::new(
                ErrorCode::ConfigInvalid,
                format!("database_url must start with sqlite: or postgres://, got '{url}'"),
            ));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let opts = AnyPoolOptions::new()
            .acquire_timeout(std::time::Duration::from_secs(10))
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            });
        let opts = if backend == Backend::Sqlite {
            opts.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                         PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                    )
                    .await?;
                    Ok(())
                })
            })
        } else {
            opts
        };
        let pool = opts.connect(&url).await.map_err(|e| {
            Error::new(
                ErrorCode::StoreError,
                format!("cannot open metadata store {}: {e}", redact(&url)),
            )
        })?;
        let sqlite_file = match backend {
            Backend::Sqlite if !url.contains(":memory:") && !url.contains("mode=memory") => {
                use std::str::FromStr;
                sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                    .ok()
                    .map(|o| Arc::from(o.get_filename()))
            }
            _ => None,
        };
        let mut store = Store {
            pool,
            backend,
            sqlite_file,
            grants_seen: Arc::default(),
            key_secret: Arc::new(Vec::new()),
            audits: Arc::default(),
        };
        store.migrate().await?;
        store.key_secret = Arc::new(store.load_key_secret().await?);
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite database file, for work done on it directly (none for PostgreSQL and
    /// in-memory databases).
    pub(crate) fn sqlite_file(&self) -> Option<&Arc<std::path::Path>> {
        self.sqlite_file.as_ref()
    }

    /// Applies the embedded migrations for this backend; safe to call repeatedly.
    pub async fn migrate(&self) -> Result<(), Error> {
        let list = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let migrations = list
            .iter()
            .map(|(v, d, sql)| {
                Migration::new(
                    *v,
                    Cow::Borrowed(*d),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect();
        let migrator = Migrator::with_migrations(migrations);
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| Error::new(ErrorCode::StoreError, format!("migration failed: {e}")))
    }

    /// Reads the installation secret, creating it on first start. Every process sharing the store
    /// reads the same value, so hashes agree across API nodes.
    async fn load_key_secret(&self) -> Result<Vec<u8>, Error> {
        let mut fresh = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut fresh);
        sqlx::query("INSERT INTO settings (name, value) VALUES ('key_secret', $1) ON CONFLICT (name) DO NOTHING")
            .bind(hex::encode(fresh))
            .execute(&self.pool)
            .await
            .map_err(db_err("create the installation secret"))?;
        let v: String = sqlx::query_scalar("SELECT value FROM settings WHERE name = 'key_secret'")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("read the installation secret"))?;
        hex::decode(v).map_err(|e| {
            Error::new(
                ErrorCode::StoreError,
                format!("installation secret is corrupt: {e}"),
            )
        })
    }

    /// Closes the pool; pending queries finish first.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Liveness of the store, for `/readyz`.
    pub async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db_err("answer a ping"))
    }
}

/// Hides a password in a connection URL before it reaches a log or message.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Store {
    /// Runs a constant SQL statement. For tests and `yishu` maintenance commands only: the
    /// statement is a literal, never built from user input.
    pub async fn raw_execute(&self, sql: &'static str) -> Result<u64, Error> {
        sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(db_err("run a maintenance statement"))
    }

    /// The statement that removes the append-only guard on the audit log: what an attacker with
    /// database access would run before editing records. Tests use it to prove `verify` notices.
    pub fn drop_audit_guard_sql(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => {
                "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
            }
            Backend::Postgres => "DROP TRIGGER audit_log_no_change ON audit_log;",
        }
    }
}
