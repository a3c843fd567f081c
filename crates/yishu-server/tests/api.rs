//! The API driven over HTTP the way a program uses it.

mod common;

use common::{PASSWORD, TestServer, error_code};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conventions_errors_health_and_openapi() {
    let s = TestServer::start().await;
    let c = Client::new();
    // Every response carries a request id; errors use the one body shape.
    let r = c.get(s.url("/api/v1/nope")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(error_code(r).await, "route_not_found");
    let r = c.get(s.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "unauthenticated");
    let r = c.get(s.url("/healthz")).send().await.unwrap();
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(r.text().await.unwrap(), "ok");
    assert_eq!(
        c.get(s.url("/readyz")).send().await.unwrap().status(),
        StatusCode::OK
    );

    // Bad bodies.
    let key = s.key("admin").await;
    let post = |body: String| {
        c.post(s.url("/api/v1/orgs"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = post("{\"code\": ".into()).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "malformed_json");
    let r = post(json!({"code": "X", "name": "x", "parent_id": 1, "colour": "red"}).to_string())
        .await
        .unwrap();
    let code = error_code(r).await;
    assert_eq!(code, "invalid_input");
    let r = post(json!({"name": "x"}).to_string()).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let big = format!("{{\"code\":\"X\",\"name\":\"{}\"}}", "长".repeat(600_000));
    // Its own client: the server answers 413 before reading the body and closes the connection,
    // which must not be pooled for the requests after it.
    let r = reqwest::Client::new()
        .post(s.url("/api/v1/orgs"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(r).await, "payload_too_large");
    let r = post(json!({"code": "X9", "name": "新部门", "parent_id": s.city.0, "credit_code": "91350100M000100Y44"}).to_string()).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("credit_code:"),
        "{v}"
    );

    // Metrics count requests per route.
    let m = c
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains(
            "yishu_http_requests_total{method=\"POST\",route=\"/api/v1/orgs\",status=\"400\"}"
        ),
        "{m}"
    );
    assert!(m.contains("yishu_http_request_duration_seconds_bucket"));

    // OpenAPI document and the vendored Swagger UI.
    let doc: Value = c
        .get(s.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/orgs",
        "/api/v1/users",
        "/api/v1/me",
        "/api/v1/audit",
        "/api/v1/me/api-keys",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from OpenAPI");
    }
    let ui = c.get(s.url("/api/v1/docs/")).send().await.unwrap();
    assert_eq!(ui.status(), StatusCode::OK);
    let html = ui.text().await.unwrap();
    assert!(
        !html.contains("unpkg") && !html.contains("cdn"),
        "Swagger UI must be vendored"
    );
    s.stop().await;
}

/// Each role against each endpoint class: the status it gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_against_endpoint_classes() {
    let s = TestServer::start().await;
    let c = Client::new();
    // (role, read orgs, write orgs, read users, write users, read audit, own keys)
    let expect: [(&str, [u16; 6]); 5] = [
        ("admin", [200, 201, 200, 201, 403, 200]),
        ("data_manager", [200, 403, 200, 403, 403, 200]),
        ("provider_officer", [200, 403, 403, 403, 403, 200]),
        ("consumer", [200, 403, 403, 403, 403, 200]),
        ("auditor", [200, 403, 200, 403, 200, 200]),
    ];
    for (i, (role, want)) in expect.iter().enumerate() {
        let key = s.key(role).await;
        let got = [
            c.get(s.url("/api/v1/orgs")).bearer_auth(&key).send().await.unwrap().status().as_u16(),
            c.post(s.url("/api/v1/orgs")).bearer_auth(&key).json(&json!({"code": format!("D{i}"), "name": "测试部门", "parent_id": s.city.0})).send().await.unwrap().status().as_u16(),
            c.get(s.url("/api/v1/users")).bearer_auth(&key).send().await.unwrap().status().as_u16(),
            c.post(s.url("/api/v1/users")).bearer_auth(&key).json(&json!({"name": format!("u{i}"), "org_id": s.dept.0, "password": PASSWORD, "roles": ["consumer"]})).send().await.unwrap().status().as_u16(),
            c.get(s.url("/api/v1/audit")).bearer_auth(&key).send().await.unwrap().status().as_u16(),
            c.get(s.url("/api/v1/me/api-keys")).bearer_auth(&key).send().await.unwrap().status().as_u16(),
        ];
        assert_eq!(&got, want, "role {role}");
    }
    // Nobody can edit or delete the audit log through the API.
    let key = s.key("auditor").await;
    for m in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let st = c
            .request(m, s.url("/api/v1/audit"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    }
    // Denials were audited.
    let page: Value = c
        .get(s.url("/api/v1/audit?action=access.denied"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(page["total"].as_i64().unwrap() >= 10, "{page}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_csrf_lockout_and_audit() {
    let s = TestServer::start().await;
    let (c, csrf) = s.login("admin").await;
    let me: Value = c
        .get(s.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "admin");
    // A cookie-authenticated write without the CSRF header is refused.
    let r = c
        .post(s.url("/api/v1/orgs"))
        .json(&json!({"code": "A1", "name": "甲", "parent_id": s.city.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(r).await, "csrf_mismatch");
    let r = c
        .post(s.url("/api/v1/orgs"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"code": "A1", "name": "甲", "parent_id": s.city.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // Wrong passwords, then lockout.
    let anon = Client::new();
    for _ in 0..5 {
        let r = anon
            .post(s.url("/api/v1/auth/login"))
            .json(&json!({"name": "consumer", "password": "wrong password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(r).await, "bad_credentials");
    }
    let r = anon
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"name": "consumer", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(r).await, "account_locked");
    // Logout ends the session.
    let r = c
        .post(s.url("/api/v1/auth/logout"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        c.get(s.url("/api/v1/me")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // The auditor sees logins, failures and the logout, and the chain verifies.
    let key = s.key("auditor").await;
    let page = s.audit_page(&key, "action=auth&limit=100").await;
    let actions = common::actions(&page);
    assert!(
        actions.contains(&"auth.login") && actions.contains(&"auth.logout"),
        "{actions:?}"
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "auth.login_failed")
            .count(),
        6
    );
    let failed = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "auth.login_failed")
        .unwrap();
    assert_eq!(failed["actor_name"], "consumer");
    assert_eq!(failed["source_ip"], "127.0.0.1");
    assert!(!failed["request_id"].as_str().unwrap().is_empty());
    let v: Value = Client::new()
        .get(s.url("/api/v1/audit/verify"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["broken_at"].is_null(), "{v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_created_used_revoked_and_expired() {
    let s = TestServer::start().await;
    let (c, csrf) = s.login("consumer").await;
    let r = c
        .post(s.url("/api/v1/me/api-keys"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "夜间同步"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let k: Value = r.json().await.unwrap();
    let secret = k["secret"].as_str().unwrap().to_string();
    let id = k["key"]["id"].as_i64().unwrap();
    let anon = Client::new();
    let me: Value = anon
        .get(s.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["credential"]["kind"], "api_key");
    // The list never shows the secret.
    let list = c
        .get(s.url("/api/v1/me/api-keys"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!list.contains(&secret));
    // Another user cannot revoke it.
    let other = s.key("provider_officer").await;
    let r = anon
        .delete(s.url(&format!("/api/v1/me/api-keys/{id}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = c
        .delete(s.url(&format!("/api/v1/me/api-keys/{id}")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = anon
        .get(s.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "api_key_revoked");
    // An expired key.
    let u = s.store.get_user_by_name("consumer").await.unwrap();
    let short = s
        .store
        .create_api_key(u.id, "short", Some(yishu_meta::now_ms() + 200))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let r = anon
        .get(s.url("/api/v1/me"))
        .bearer_auth(&short.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "api_key_expired");
    let r = anon
        .get(s.url("/api/v1/me"))
        .bearer_auth("ysk_not_a_real_key")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "unauthenticated");
    let r = c
        .post(s.url("/api/v1/me/api-keys"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "x", "expires_in_days": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "invalid_input");
    s.stop().await;
}

async fn concurrent_org_edits(s: &TestServer) {
    let key = s.key("admin").await;
    let c = Client::new();
    let org: Value = c
        .get(s.url(&format!("/api/v1/orgs/{}", s.dept.0)))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let version = org["version"].as_i64().unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (c, key, url) = (
            c.clone(),
            key.clone(),
            s.url(&format!("/api/v1/orgs/{}", s.dept.0)),
        );
        tasks.push(tokio::spawn(async move {
            c.patch(url)
                .bearer_auth(key)
                .json(&json!({"version": version, "name": format!("公安局{i}")}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    // Names with SQL and markup are stored verbatim.
    let r = c.post(s.url("/api/v1/orgs")).bearer_auth(&key).json(&json!({"code": "EVIL", "name": "x'); DROP TABLE orgs;-- <script>alert(1)</script>", "parent_id": s.city.0})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let o: Value = r.json().await.unwrap();
    assert_eq!(
        o["name"],
        "x'); DROP TABLE orgs;-- <script>alert(1)</script>"
    );
    // Moving the city under its own department is refused.
    let city: Value = c
        .get(s.url(&format!("/api/v1/orgs/{}", s.city.0)))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = c
        .patch(s.url(&format!("/api/v1/orgs/{}", s.city.0)))
        .bearer_auth(&key)
        .json(&json!({"version": city["version"], "parent_id": s.dept.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "org_hierarchy");
    assert!(s.store.verify_audit().await.unwrap().is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_sqlite() {
    let s = TestServer::start().await;
    concurrent_org_edits(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_postgres() {
    let s = TestServer::start_postgres().await;
    concurrent_org_edits(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_escape_markup_and_need_login() {
    let s = TestServer::start().await;
    let key = s.key("admin").await;
    let c = Client::new();
    c.post(s.url("/api/v1/orgs"))
        .bearer_auth(&key)
        .json(&json!({"code": "XSS", "name": "<script>alert(1)</script>", "parent_id": s.city.0}))
        .send()
        .await
        .unwrap();
    let anon = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anon.get(s.url("/console/orgs")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/console/login");
    let html = c
        .get(s.url("/console/orgs"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("alert(1)"), "the name is shown");
    assert!(!html.contains("<script>alert(1)"));
    let portal = c
        .get(s.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(portal.contains("公共数据开放门户"));
    assert!(
        !portal.contains("http://") && !portal.contains("https://"),
        "no external links on the portal"
    );
    s.stop().await;
}
