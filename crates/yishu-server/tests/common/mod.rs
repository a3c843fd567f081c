//! A real server on 127.0.0.1:0 over a temp data directory (SQLite) or a fresh PostgreSQL
//! database, with one user per role.

#![allow(dead_code)]

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use yishu_meta::testing::TestDb;
use yishu_meta::{NewOrg, NewUser, OrgLevel, Store};
use yishu_types::{OrgId, Role};

pub const PASSWORD: &str = "correct horse battery";

pub struct TestServer {
    pub base: String,
    pub store: Store,
    pub city: OrgId,
    pub dept: OrgId,
    /// The scheduler's clock: a test moves it forward to see a provider go silent.
    pub clock: yishu_meta::Clock,
    db: Option<TestDb>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_on(TestDb::sqlite()).await
    }

    pub async fn start_postgres() -> Self {
        Self::start_on(TestDb::postgres().await).await
    }

    async fn start_on(db: TestDb) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = db.open().await;
        let lake = yishu_lake::Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
        let city = store
            .create_org(&NewOrg {
                code: "CD".into(),
                name: "成都市".into(),
                level: Some(OrgLevel::City),
                division_code: Some("510100".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let dept = store
            .create_org(&NewOrg {
                code: "CD-GA".into(),
                name: "成都市公安局".into(),
                parent_id: Some(city.id),
                ..Default::default()
            })
            .await
            .unwrap();
        for role in Role::ALL {
            store
                .create_user(&NewUser {
                    name: role.as_str().into(),
                    display_name: Some(format!("{}用户", role.label_zh())),
                    org_id: dept.id,
                    password: PASSWORD.into(),
                    roles: vec![role],
                })
                .await
                .unwrap();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let search = yishu_server::open_search(None, &store).await.unwrap();
        let clock = yishu_meta::Clock::default();
        let state = yishu_server::AppState::new(
            store.clone(),
            lake,
            search,
            yishu_server::ServerConfig {
                scheduler_tick: std::time::Duration::from_millis(200),
                clock: clock.clone(),
                // The tests' receivers and mounted services listen on loopback.
                outbound: yishu_ingest::outbound::Outbound::new(&["127.0.0.1"]).unwrap(),
                drop_root: Some(dir.path().join("outbox")),
                ..Default::default()
            },
        );
        tokio::spawn(yishu_server::serve(listener, state, std::future::pending()));
        TestServer {
            base,
            store,
            city: city.id,
            dept: dept.id,
            clock,
            db: Some(db),
            _dir: dir,
        }
    }

    /// A department under the city with one user of `role` in it.
    pub async fn department(&self, code: &str, name: &str, user: &str, role: Role) -> OrgId {
        let org = self
            .store
            .create_org(&NewOrg {
                code: code.into(),
                name: name.into(),
                parent_id: Some(self.city),
                ..Default::default()
            })
            .await
            .unwrap();
        self.user(user, org.id, role).await;
        org.id
    }

    /// A user of `role` in `org`, with the test password.
    pub async fn user(&self, name: &str, org: OrgId, role: Role) {
        self.store
            .create_user(&NewUser {
                name: name.into(),
                display_name: None,
                org_id: org,
                password: PASSWORD.into(),
                roles: vec![role],
            })
            .await
            .unwrap();
    }

    /// A page's HTML as the holder of `key` sees it.
    pub async fn page(&self, path: &str, key: &str) -> String {
        Client::new()
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The server's lake, opened again (tests read its tables directly).
    /// Where subscriptions' drop directories are.
    pub fn outbox(&self) -> std::path::PathBuf {
        self._dir.path().join("outbox")
    }

    pub fn lake(&self) -> yishu_lake::Lake {
        yishu_lake::Lake::open(self._dir.path().join("lake").to_str().unwrap()).unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A cookie-keeping client signed in as `user`, and its CSRF token.
    pub async fn login(&self, user: &str) -> (Client, String) {
        let c = Client::builder().cookie_store(true).build().unwrap();
        let r = c
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"name": user, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "login as {user}");
        let v: Value = r.json().await.unwrap();
        (c, v["csrf_token"].as_str().unwrap().to_string())
    }

    /// An API key for `user`.
    pub async fn key(&self, user: &str) -> String {
        let u = self.store.get_user_by_name(user).await.unwrap();
        self.store
            .create_api_key(u.id, "test", None)
            .await
            .unwrap()
            .secret
    }

    /// A page of the audit log as the holder of `key` (an auditor) reads it.
    pub async fn audit_page(&self, key: &str, query: &str) -> Value {
        Client::new()
            .get(self.url(&format!("/api/v1/audit?{query}")))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        self.store.close().await;
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
    }
}

/// Asserts the uniform error body and returns its code.
/// GETs `url` with the key and returns the JSON body, asserting 200.
pub async fn get_json(c: &Client, url: String, key: &str) -> Value {
    let r = c.get(url).bearer_auth(key).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

pub async fn error_code(r: reqwest::Response) -> String {
    let rid = r
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_string());
    let v: Value = r.json().await.expect("error body is JSON");
    let e = &v["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert_eq!(
        e["request_id"].as_str().map(str::to_string),
        rid,
        "request id in body and header"
    );
    e["code"].as_str().unwrap().to_string()
}

/// The actions of an audit page, newest first.
pub fn actions(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect()
}

/// A PDF as departments make them: an HTML page printed by headless Chromium (fonts embedded as
/// subsets, text mapped back to Unicode).
pub fn print_pdf(dir: &std::path::Path, title: &str, body: &str) -> Vec<u8> {
    let html = dir.join("doc.html");
    std::fs::write(
        &html,
        format!("<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><body><h1>{title}</h1><p>{body}</p></body></html>"),
    )
    .unwrap();
    let pdf = dir.join("doc.pdf");
    let out = std::process::Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium (scripts/test installs it)");
    assert!(pdf.exists(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(pdf).unwrap()
}

/// A Word document: the minimal parts of an Office Open XML package, one paragraph per line.
pub fn write_docx(lines: &[&str]) -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    let parts = [
        ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#.to_string()),
        ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#.to_string()),
        ("word/document.xml", format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{}</w:body></w:document>"#,
            lines.iter().map(|l| format!("<w:p><w:r><w:t>{l}</w:t></w:r></w:p>")).collect::<String>()
        )),
    ];
    for (name, text) in parts {
        z.start_file(name, opts).unwrap();
        z.write_all(text.as_bytes()).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// A reviewer (data manager) and a consumer ("outsider") in the bureau, outside the provider.
pub async fn bureau_users(s: &TestServer) {
    // A data manager in a different org than the provider (公安).
    let bureau = s
        .department("DSJ", "大数据局", "reviewer", Role::DataManager)
        .await;
    // A consumer outside the providing department.
    s.user("outsider", bureau, Role::Consumer).await;
}

/// Creates an entry as the officer; returns its id.
pub async fn created(s: &TestServer, c: &Client, officer: &str, d: Value) -> i64 {
    let r = c
        .post(s.url("/api/v1/resources"))
        .bearer_auth(officer)
        .json(&d)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// The officer submits entry `id`; the bureau's reviewer approves and publishes it.
pub async fn publish(s: &TestServer, c: &Client, id: i64, officer: &str, reviewer: &str) {
    for (path, key, body) in [
        ("submit", officer, json!({})),
        ("review", reviewer, json!({"approve": true})),
        ("publish", reviewer, json!({})),
    ] {
        let r = c
            .post(s.url(&format!("/api/v1/resources/{id}/{path}")))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
}

/// Creates an entry as the officer and has the bureau's reviewer approve and publish it.
pub async fn published(s: &TestServer, c: &Client, officer: &str, reviewer: &str, d: Value) -> i64 {
    let id = created(s, c, officer, d).await;
    publish(s, c, id, officer, reviewer).await;
    id
}

/// The citizen number of the first person in [`population`].
pub const ID: &str = "510107199001011234";

/// A small population base library (key, number, name, birth date, marital status) in the
/// server's lake.
pub async fn population(s: &TestServer) {
    use std::sync::Arc;
    use yishu_lake::datafusion::arrow::array::{RecordBatch, StringArray};
    use yishu_lake::datafusion::arrow::datatypes::{DataType, Field, Schema};
    let schema = Arc::new(Schema::new(
        [
            "subject_key",
            "公民身份号码",
            "姓名",
            "出生日期",
            "婚姻状况",
        ]
        .iter()
        .map(|n| Field::new(*n, DataType::Utf8, true))
        .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec![ID, "510107198502023456"])),
            Arc::new(StringArray::from(vec![ID, "510107198502023456"])),
            Arc::new(StringArray::from(vec!["张小三", "李四"])),
            Arc::new(StringArray::from(vec!["1990-01-01", ""])),
            Arc::new(StringArray::from(vec!["20", "10"])),
        ],
    )
    .unwrap();
    s.lake()
        .overwrite(
            yishu_lake::Layer::Base,
            "population",
            vec![batch],
            Default::default(),
        )
        .await
        .unwrap();
}

/// Waits until the std table of resource `id` holds `n` rows (the check and cleaning jobs run in
/// the background after a push).
pub async fn std_rows(s: &TestServer, id: i64, n: usize) {
    let table = s.store.get_resource(id).await.unwrap().table();
    let lake = s.lake();
    for _ in 0..200 {
        if let Some(f) = lake.frame(yishu_lake::Layer::Std, &table).await.unwrap()
            && f.count().await.unwrap() >= n
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("std.{table} did not reach {n} rows");
}

/// Pushes CSV rows into resource `id` as `key` and waits until its std table holds `n` rows.
pub async fn push_csv(s: &TestServer, c: &Client, key: &str, id: i64, csv: &str, n: usize) {
    let r = c
        .post(s.url(&format!("/api/v1/resources/{id}/rows")))
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    std_rows(s, id, n).await;
}
