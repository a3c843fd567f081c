//! What tests that look at rows share: a metadata store, a lake, one department with an
//! administrator, and resources filled from CSV files through the real ingest.

#![allow(dead_code)]

use std::path::Path;
use yishu_meta::catalog::*;
use yishu_meta::testing::TestDb;
use yishu_meta::{NewOrg, NewUser, OrgLevel, Store};
use yishu_types::{OrgId, Role, UserId};

pub struct World {
    pub dir: tempfile::TempDir,
    pub db: TestDb,
    pub store: Store,
    pub lake: yishu_lake::Lake,
    pub org: OrgId,
    pub user: UserId,
}

impl World {
    /// A SQLite store and a lake in a temporary directory, with 公安局 and its administrator.
    pub async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::sqlite();
        let store = db.open().await;
        let lake = yishu_lake::Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
        let org = store
            .create_org(&NewOrg {
                code: "GA".into(),
                name: "公安局".into(),
                level: Some(OrgLevel::City),
                ..Default::default()
            })
            .await
            .unwrap();
        let user = store
            .create_user(&NewUser {
                name: "admin".into(),
                display_name: None,
                org_id: org.id,
                password: "correct horse battery".into(),
                roles: vec![Role::Admin],
            })
            .await
            .unwrap();
        World {
            dir,
            db,
            store,
            lake,
            org: org.id,
            user: user.id,
        }
    }

    /// A resource of text items provided by the department, its rows ingested from `file`.
    pub async fn resource(&self, name: &str, items: &[&str], file: &Path) -> Resource {
        let res = self
            .store
            .create_resource(
                &yishu_meta::testing::text_draft(name, self.org, items),
                &Actor {
                    user: self.user,
                    org: self.org,
                    roles: &[Role::Admin],
                },
            )
            .await
            .unwrap();
        yishu_ingest::ingest_file(
            &self.store,
            &self.lake,
            &res,
            file,
            &yishu_ingest::ReadOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap();
        res
    }

    /// Drops the test database.
    pub async fn end(self) {
        self.db.cleanup().await;
    }

    /// The same from CSV text.
    pub async fn resource_from_text(&self, name: &str, items: &[&str], csv: &str) -> Resource {
        let file = self.dir.path().join(format!("{name}.csv"));
        std::fs::write(&file, csv).unwrap();
        self.resource(name, items, &file).await
    }
}
