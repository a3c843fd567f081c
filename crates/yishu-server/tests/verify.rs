//! Verification (核验) over HTTP: 人社 holds a list of people and asks the population library,
//! per item, whether it agrees — refused without a grant, answered with match / mismatch / no
//! value (never a value) with one, refused for an item its grant does not name or for too many
//! records; the read audit holds the call with its counts and never the values sent.

mod common;

use common::{ID, TestServer, bureau_users, error_code, population};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use yishu_meta::now_ms;
use yishu_types::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_verifies_what_it_holds_and_never_sees_a_value() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let dsj = s.store.get_org_by_code("DSJ").await.unwrap().id;
    s.store.set_bureau(dsj).await.unwrap();
    s.department("CD-RS", "成都市人社局", "rs", Role::Consumer)
        .await;
    population(&s).await;
    let c = Client::new();
    let (bureau, rs, auditor) = (
        s.key("reviewer").await,
        s.key("rs").await,
        s.key("auditor").await,
    );
    let url = s.url("/api/v1/verifications/population");
    let send = |key: &str, body: Value| c.post(&url).bearer_auth(key).json(&body).send();
    let records = json!({"records": [
        {"key": ID, "items": {"姓名": "张 小三", "出生日期": "1990/1/1"}},
        {"key": "510107198502023456", "items": {"姓名": "李五", "出生日期": "1985-02-02"}},
        {"key": "110101200001011234", "items": {"姓名": "王五"}},
    ]});

    // No grant: refused.
    let r = send(&rs, records.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // 人社 applies to verify names and birth dates; the bureau approves.
    let now = now_ms();
    let app: Value = c
        .post(s.url("/api/v1/share/applications"))
        .bearer_auth(&rs)
        .json(&json!({"target": "verify:population", "items": ["姓名", "出生日期"],
            "purpose": "养老金领取资格核验", "legal_basis": "《社会保险法》", "scenario": "待遇资格认证",
            "period_from": now, "period_to": now + 30 * 86_400_000i64,
            "expected_volume": "每月约 10 万人次", "contact": "人社局 028-1234"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(app["status"], "submitted", "{app}");
    let done: Value = c
        .post(s.url(&format!(
            "/api/v1/share/applications/{}/decision",
            app["id"]
        )))
        .bearer_auth(&bureau)
        .json(&json!({"approve": true, "reason": "同意核验"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "granted", "{done}");

    let r = send(&rs, records.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["records"], 3);
    assert_eq!(v["found"], 2);
    assert_eq!(
        v["results"][0],
        json!({"found": true, "items": {"姓名": "match", "出生日期": "match"}})
    );
    assert_eq!(
        v["results"][1],
        json!({"found": true, "items": {"姓名": "mismatch", "出生日期": "no_value"}})
    );
    assert_eq!(v["results"][2], json!({"found": false, "items": {}}));
    assert_eq!(v["tally"]["姓名"]["matched"], 1);
    assert_eq!(v["tally"]["姓名"]["mismatched"], 1);
    for secret in ["李四", "20", "10", "1990-01-01"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }

    // An item the grant does not name; too many records; a library that does not exist.
    let r = send(
        &rs,
        json!({"records": [{"key": ID, "items": {"婚姻状况": "20"}}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("婚姻状况"),
        "{body}"
    );
    let many: Vec<Value> = (0..10_001)
        .map(|i| json!({"key": format!("5101071990010{i:05}"), "items": {"姓名": "某"}}))
        .collect();
    let r = send(&rs, json!({"records": many})).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "invalid_input");
    let r = c
        .post(s.url("/api/v1/verifications/planets"))
        .bearer_auth(&rs)
        .json(&records)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The grant verifies; it does not read.
    let grant = done["grant_id"].as_i64().unwrap();
    let r = c
        .get(s.url(&format!("/api/v1/grants/{grant}/rows")))
        .bearer_auth(&rs)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // In the read audit: the call, its items and count, never a value sent.
    let page = s.audit_page(&auditor, "limit=100").await;
    let reads: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "share.read")
        .collect();
    let ok = reads
        .iter()
        .find(|r| r["outcome"] == "ok" && r["detail"].as_str().unwrap().contains("\"verify\""))
        .expect("the verification is audited");
    let detail = ok["detail"].as_str().unwrap();
    assert!(detail.contains("\"rows\":3"), "{detail}");
    for secret in ["张", "李五", ID, "1990/1/1"] {
        assert!(!detail.contains(secret), "{secret} in the audit: {detail}");
    }
    assert!(reads.iter().any(|r| r["outcome"] == "denied"));
    s.stop().await;
}
