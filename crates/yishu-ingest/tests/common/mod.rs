//! Shared set-up of the ingest suites: a department's resource, a generated city.
#![allow(dead_code)]

use yishu_lake::Lake;
use yishu_meta::catalog::*;
use yishu_meta::testing::TestDb;
use yishu_meta::{NewOrg, NewUser, OrgLevel, Store};
use yishu_types::Role;

pub async fn resource(store: &Store, items: &[&str]) -> Resource {
    let city = store
        .create_org(&NewOrg {
            code: "CD".into(),
            name: "成都市".into(),
            level: Some(OrgLevel::City),
            ..Default::default()
        })
        .await
        .unwrap();
    let ga = store
        .create_org(&NewOrg {
            code: "GA".into(),
            name: "公安局".into(),
            parent_id: Some(city.id),
            ..Default::default()
        })
        .await
        .unwrap();
    let u = store
        .create_user(&NewUser {
            name: "admin".into(),
            display_name: None,
            org_id: ga.id,
            password: "correct horse battery".into(),
            roles: vec![Role::Admin],
        })
        .await
        .unwrap();
    let by = Actor {
        user: u.id,
        org: ga.id,
        roles: &[Role::Admin],
    };
    let d = yishu_meta::testing::text_draft("户籍人口", ga.id, items);
    store.create_resource(&d, &by).await.unwrap()
}

/// A generated city in a temp dir, with a SQLite store and a lake beside it.
pub async fn city_world(
    people: usize,
    seed: u64,
    problem_rate: f64,
) -> (tempfile::TempDir, std::path::PathBuf, TestDb, Store, Lake) {
    let dir = tempfile::tempdir().unwrap();
    let city = dir.path().join("city");
    let args = yishu_gen::CityArgs {
        people,
        seed,
        out: city.clone(),
        problem_rate,
    };
    yishu_gen::generate_city(&args, &mut yishu_gen::NoProgress)
        .await
        .unwrap();
    let db = TestDb::sqlite();
    let store = db.open().await;
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    (dir, city, db, store, lake)
}

pub fn count(b: &[yishu_lake::arrow::array::RecordBatch]) -> i64 {
    b[0].column(0)
        .as_any()
        .downcast_ref::<yishu_lake::arrow::array::Int64Array>()
        .unwrap()
        .value(0)
}
