//! Throw-away stores for tests: a SQLite file in a temp dir, or a fresh PostgreSQL database on the
//! server named by `YISHU_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`). Each test
//! gets its own database so tests run in parallel; the database is dropped by [`TestDb::cleanup`].

use crate::Store;
use sqlx::Connection;

/// The PostgreSQL server tests use.
pub fn pg_admin_url() -> String {
    std::env::var("YISHU_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A database created for one test.
pub struct TestDb {
    pub url: String,
    name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A SQLite store in a fresh temp directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("meta.db").display());
        TestDb {
            url,
            name: None,
            _dir: Some(dir),
        }
    }

    /// A fresh PostgreSQL database. Fails loudly, never skips, when no server answers.
    pub async fn postgres() -> Self {
        install_drivers();
        let admin = pg_admin_url();
        let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin}: {e}.\n\
                 Start it (scripts/test installs and starts PostgreSQL when missing) or set YISHU_TEST_PG."
            )
        });
        let name = format!("yishu_t_{}", uuid::Uuid::new_v4().simple());
        // The name is generated above from hex digits only; identifiers cannot be bound.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        TestDb {
            url: format!("{base}/{name}"),
            name: Some(name),
            _dir: None,
        }
    }

    pub async fn open(&self) -> Store {
        Store::open(&self.url).await.expect("open test store")
    }

    /// Drops the PostgreSQL database (SQLite temp dirs go with `self`).
    pub async fn cleanup(self) {
        if let Some(name) = &self.name
            && let Ok(mut conn) = sqlx::AnyConnection::connect(&pg_admin_url()).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

fn install_drivers() {
    sqlx::any::install_default_drivers();
}

/// Runs each named `async fn(&Store)` once on SQLite and once on a fresh PostgreSQL database,
/// as two tests in a module of the same name: the one store test suite for both backends.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testing::TestDb::sqlite();
                super::$name(&db.open().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = $crate::testing::TestDb::postgres().await;
                let store = db.open().await;
                super::$name(&store).await;
                store.close().await;
                db.cleanup().await;
            }
        }
    )*};
}

/// A draft resource of text items provided by `org`: what tests catalogue before they ingest.
pub fn text_draft(
    name: &str,
    org: yishu_types::OrgId,
    items: &[&str],
) -> crate::catalog::ResourceDraft {
    use crate::catalog::*;
    ResourceDraft {
        class_kind: ClassKind::Department,
        class_path: "01001001".into(),
        name: name.into(),
        provider_org_id: org,
        summary: name.into(),
        format: ResourceFormat::Database,
        share_type: ShareType::Unconditional,
        share_condition: String::new(),
        open_type: OpenType::Never,
        open_condition: String::new(),
        update_cycle: UpdateCycle::Daily,
        related_codes: vec![],
        extended: Extended::default(),
        items: items
            .iter()
            .map(|n| Item {
                name: (*n).into(),
                item_type: "C".into(),
                length: None,
                data_element: None,
                description: String::new(),
            })
            .collect(),
    }
}
