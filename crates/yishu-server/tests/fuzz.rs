//! The API holds under generated requests: schemathesis (from PyPI; `scripts/test` installs it)
//! reads the served OpenAPI document and drives every operation, signed in as each role, with the
//! checks `not_a_server_error`, `status_code_conformance` and `response_schema_conformance`. An
//! operation that answers 500, a status the document does not list, or a body that does not match
//! its schema fails the test. Operations that end the caller's own session or key are left out.

mod common;

use common::{TestServer, bureau_users, published};
use reqwest::Client;
use serde_json::json;
use std::path::PathBuf;

/// The schemathesis command: `YISHU_SCHEMATHESIS`, the virtualenv `scripts/test` makes, or PATH.
fn schemathesis() -> PathBuf {
    if let Some(p) = std::env::var_os("YISHU_SCHEMATHESIS") {
        return p.into();
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let venv = home.join(".cache/yishu-py/bin/schemathesis");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("schemathesis")
}

/// Examples per operation and phase; `YISHU_FUZZ_EXAMPLES` raises it for a longer hunt.
fn examples() -> String {
    std::env::var("YISHU_FUZZ_EXAMPLES").unwrap_or_else(|_| "8".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generated_requests_get_documented_answers_for_every_role() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    yishu_quality::standard::seed(&s.store).await.unwrap();
    // Something to find: a published resource with a checked batch.
    let c = Client::new();
    let (officer, reviewer) = (s.key("provider_officer").await, s.key("reviewer").await);
    let res = published(
        &s,
        &c,
        &officer,
        &reviewer,
        json!({
            "class_kind": "department", "class_path": "01001001", "name": "户籍人口信息",
            "provider_org_id": s.dept.0, "summary": "公安局登记的户籍人口基本信息",
            "format": "database", "share_type": "conditional", "share_condition": "依申请",
            "open_type": "never", "update_cycle": "daily",
            "items": [
                {"name": "公民身份号码", "item_type": "C", "length": 18, "data_element": "citizen_id"},
                {"name": "姓名", "item_type": "C", "length": 50}
            ]
        }),
    )
    .await;
    let r = c
        .post(s.url(&format!("/api/v1/resources/{res}/rows")))
        .bearer_auth(&officer)
        .header("content-type", "text/csv")
        .body("公民身份号码,姓名\n11010519491231002X,张三\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);

    // One schemathesis process per role, all at once; one worker each (hypothesis's source
    // inspection is not thread-safe: two workers in one process fail now and then inside it).
    // schemathesis keeps a cache in its working directory: a temporary one, not the crate.
    let work = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for role in [
        "data_manager",
        "provider_officer",
        "consumer",
        "auditor",
        "admin",
    ] {
        let name = if role == "data_manager" {
            "reviewer"
        } else {
            role
        };
        let key = s.key(name).await;
        let schema = s.url("/api/v1/openapi.json");
        let base = s.base.clone();
        let cwd = work.path().to_path_buf();
        runs.push((
            role,
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(schemathesis())
                    .current_dir(cwd)
                    .args(["--no-color", "run", &schema, "--url", &base])
                    .args([
                        "--checks",
                        "not_a_server_error,status_code_conformance,response_schema_conformance",
                    ])
                    .args(["--header", &format!("Authorization: Bearer {key}")])
                    // Ending the caller's own session or key would sign the run out.
                    .args(["--exclude-operation-id", "logout"])
                    .args(["--exclude-operation-id", "revoke"])
                    .args(["--phases", "examples,coverage,fuzzing"])
                    .args(["--max-examples", &examples()])
                    .args(["--workers", "1", "--seed", "1"])
                    .args(["--suppress-health-check", "all"])
                    .output()
            }),
        ));
    }
    let mut failed = Vec::new();
    for (role, run) in runs {
        let out = run.await.unwrap().unwrap_or_else(|e| {
            panic!(
                "schemathesis did not start ({e}); scripts/test installs it into ~/.cache/yishu-py"
            )
        });
        if !out.status.success() {
            failed.push(format!(
                "as {role}:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
    s.stop().await;
}
