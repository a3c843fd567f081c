//! The catalog over HTTP: a provider catalogues, the bureau reviews and publishes, consumers see
//! only published entries, and every step is audited.

mod common;

use common::{
    TestServer, bureau_users, created, error_code, get_json, print_pdf, publish, published,
    write_docx,
};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

fn draft(provider: i64) -> Value {
    json!({
        "class_kind": "department", "class_path": "01001001", "name": "户籍人口信息", "provider_org_id": provider,
        "summary": "公安局登记的户籍人口基本信息", "format": "database",
        "share_type": "conditional", "share_condition": "《居民身份证法》第十三条",
        "open_type": "never", "update_cycle": "daily",
        "extended": {"keywords": ["人口"]},
        "items": [{"name": "公民身份号码", "item_type": "C", "length": 18}, {"name": "姓名", "item_type": "C", "length": 50}]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_review_publish_and_see() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let c = Client::new();
    let (officer, reviewer, consumer, auditor) = (
        s.key("provider_officer").await,
        s.key("reviewer").await,
        s.key("outsider").await,
        s.key("auditor").await,
    );
    // Consumers cannot catalogue; bad metadata names the field.
    let r = c
        .post(s.url("/api/v1/resources"))
        .bearer_auth(&consumer)
        .json(&draft(s.dept.0))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut bad = draft(s.dept.0);
    bad["items"][1]["item_type"] = json!("Q");
    let r = c
        .post(s.url("/api/v1/resources"))
        .bearer_auth(&officer)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("items[1].item_type"),
        "{v}"
    );

    let r = c
        .post(s.url("/api/v1/resources"))
        .bearer_auth(&officer)
        .json(&draft(s.dept.0))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let res: Value = r.json().await.unwrap();
    let id = res["id"].as_i64().unwrap();
    assert_eq!(res["code"], "301001001/000001");
    assert_eq!(res["status"], "draft");
    // The draft is hidden from consumers.
    let r = c
        .get(s.url(&format!("/api/v1/resources/{id}")))
        .bearer_auth(&consumer)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "resource_not_found");
    let list: Value = c
        .get(s.url("/api/v1/resources"))
        .bearer_auth(&consumer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 0);

    let post = |path: String, key: String, body: Value| {
        c.post(s.url(&path)).bearer_auth(key).json(&body).send()
    };
    assert_eq!(
        post(
            format!("/api/v1/resources/{id}/submit"),
            officer.clone(),
            json!({})
        )
        .await
        .unwrap()
        .status(),
        StatusCode::OK
    );
    // The provider cannot approve its own entry.
    assert_eq!(
        post(
            format!("/api/v1/resources/{id}/review"),
            officer.clone(),
            json!({"approve": true})
        )
        .await
        .unwrap()
        .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            format!("/api/v1/resources/{id}/review"),
            reviewer.clone(),
            json!({"approve": true})
        )
        .await
        .unwrap()
        .status(),
        StatusCode::OK
    );
    let r = post(
        format!("/api/v1/resources/{id}/publish"),
        reviewer.clone(),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let published: Value = r.json().await.unwrap();
    assert_eq!(published["status"], "published");

    // Now consumers see it; an update makes a new version with a diff.
    let list: Value = c
        .get(s.url("/api/v1/resources"))
        .bearer_auth(&consumer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    let mut d = draft(s.dept.0);
    d["update_cycle"] = json!("realtime");
    let r = c
        .put(s.url(&format!("/api/v1/resources/{id}")))
        .bearer_auth(&officer)
        .json(&json!({"version": published["version"], "resource": d}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .put(s.url(&format!("/api/v1/resources/{id}")))
        .bearer_auth(&officer)
        .json(&json!({"version": published["version"], "resource": d}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "edit_conflict");
    let versions: Value = c
        .get(s.url(&format!("/api/v1/resources/{id}/versions")))
        .bearer_auth(&consumer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[1]["changes"][0]["field"], "update_cycle");
    assert_eq!(versions[1]["changes"][0]["after"], "realtime");

    // Every step is in the audit log.
    let page = s.audit_page(&auditor, "action=resource&limit=50").await;
    let actions = common::actions(&page);
    for a in [
        "resource.create",
        "resource.submit",
        "resource.approve",
        "resource.publish",
        "resource.update",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let batches: Value = c
        .get(s.url(&format!("/api/v1/resources/{id}/batches")))
        .bearer_auth(&consumer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(batches, json!([]));
    let doc: Value = c
        .get(s.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"].get("/api/v1/resources/{id}/review").is_some());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_follows_the_catalog() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let c = Client::new();
    let (officer, reviewer, consumer, admin) = (
        s.key("provider_officer").await,
        s.key("reviewer").await,
        s.key("outsider").await,
        s.key("admin").await,
    );
    let search = |q: &str| s.url(&format!("/api/v1/search?{q}"));
    let id = created(&s, &c, &officer, draft(s.dept.0)).await;
    // The draft is found by its own department at once, and not by others.
    let mine = get_json(&c, search("q=%E6%88%B7%E7%B1%8D"), &officer).await;
    assert_eq!(mine["total"], 1, "{mine}");
    assert_eq!(mine["hits"][0]["id"], id);
    assert!(
        mine["hits"][0]["name_html"]
            .as_str()
            .unwrap()
            .contains("<b>户籍</b>"),
        "{mine}"
    );
    assert_eq!(mine["words"], json!(["户籍"]));
    let theirs = get_json(&c, search("q=户籍"), &consumer).await;
    assert_eq!(theirs["total"], 0, "{theirs}");

    publish(&s, &c, id, &officer, &reviewer).await;
    // Published: everyone finds it, by words, item names or code; facets are labelled.
    let found = get_json(&c, search("q=户籍 人口&share=conditional"), &consumer).await;
    assert_eq!(found["total"], 1, "{found}");
    let share = &found["facets"]["share"][0];
    assert_eq!(
        (share["value"].as_str(), share["label"].as_str()),
        (Some("conditional"), Some("有条件共享"))
    );
    let provider = &found["facets"]["provider"][0];
    assert_eq!(provider["value"], s.dept.0.to_string());
    assert_eq!(provider["label"], "成都市公安局");
    assert_eq!(
        get_json(&c, search("q=公民身份号码"), &consumer).await["total"],
        1
    );
    assert_eq!(
        get_json(&c, search("q=301001001/000001"), &consumer).await["total"],
        1
    );
    assert_eq!(
        get_json(&c, search("q=户籍&share=never"), &consumer).await["total"],
        0
    );
    // A bad filter value is simply not matched; an unknown parameter is an error naming it.
    let r = c
        .get(search("q=户籍&colour=red"))
        .bearer_auth(&consumer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Usage: a view and the searches above are counted.
    get_json(&c, s.url(&format!("/api/v1/resources/{id}")), &consumer).await;
    let mut stats = Value::Null;
    for _ in 0..50 {
        stats = get_json(
            &c,
            s.url(&format!("/api/v1/resources/{id}/stats")),
            &consumer,
        )
        .await;
        if stats["search_hits"].as_i64() >= Some(4) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(stats["views"], 1, "{stats}");
    assert!(stats["search_hits"].as_i64() >= Some(4), "{stats}");

    // Renamed: found by the new name only; retired: still listed, with its status.
    let mut d = draft(s.dept.0);
    d["name"] = json!("常住人口登记信息");
    let current = get_json(&c, s.url(&format!("/api/v1/resources/{id}")), &officer).await;
    let r = c
        .put(s.url(&format!("/api/v1/resources/{id}")))
        .bearer_auth(&officer)
        .json(&json!({"version": current["version"], "resource": d}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(get_json(&c, search("q=常住"), &consumer).await["total"], 1);
    let old = get_json(&c, search("q=户籍人口信息"), &consumer).await;
    assert!(
        old["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| !h["name_html"].as_str().unwrap().contains("户籍人口信息")),
        "{old}"
    );

    // Rebuilding is for admins, audited, and gives the same answers.
    let r = c
        .post(s.url("/api/v1/search/rebuild"))
        .bearer_auth(&consumer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(s.url("/api/v1/search/rebuild"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rebuilt: Value = r.json().await.unwrap();
    assert_eq!(rebuilt["indexed"], 1);
    assert_eq!(get_json(&c, search("q=常住"), &consumer).await["total"], 1);
    let audit = s
        .audit_page(&s.key("auditor").await, "action=search.rebuild")
        .await;
    assert_eq!(audit["total"], 1, "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeding_a_resource_by_push_and_by_sources() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let c = Client::new();
    let (officer, reviewer, consumer) = (
        s.key("provider_officer").await,
        s.key("reviewer").await,
        s.key("outsider").await,
    );
    let id = published(&s, &c, &officer, &reviewer, draft(s.dept.0)).await;
    let push = |key: &str, idem: Option<&str>, body: &str| {
        let mut r = c
            .post(s.url(&format!("/api/v1/resources/{id}/rows")))
            .bearer_auth(key)
            .body(body.to_string());
        if let Some(k) = idem {
            r = r.header("Idempotency-Key", k);
        }
        r.send()
    };
    let rows = r#"[{"公民身份号码": "510104199001011234", "姓名": "张三"}, {"公民身份号码": "510104199202022345", "姓名": "李四"}, 42]"#;
    // Only the providing department pushes; a wrong key is refused before anything is read.
    assert_eq!(
        push(&consumer, None, rows).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let r = push("ysk_not_a_real_key", None, rows).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = push(&officer, Some("2026-11-25-001"), rows).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["stored"], true);
    let b = &v["batch"];
    assert_eq!(
        (
            b["rows_read"].as_i64(),
            b["rows_stored"].as_i64(),
            b["rows_quarantined"].as_i64()
        ),
        (Some(3), Some(2), Some(1))
    );
    // The rejected row downloads as CSV (with a BOM for Excel) for the department to fix.
    let csv = c
        .get(s.url(&format!(
            "/api/v1/batches/{}/quarantine.csv",
            b["id"].as_str().unwrap()
        )))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next(),
        Some("行号,原因代码,原因说明,原因,来源,原始内容")
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with("1,ingest_not_object,不是 JSON 对象"),
        "{row}"
    );
    assert!(row.contains(",push.json:1[2],"), "{row}");
    assert!(row.ends_with(",42"), "{row}");
    // A few rows for the department (audited), not for others.
    let sample = get_json(
        &c,
        s.url(&format!("/api/v1/resources/{id}/sample")),
        &officer,
    )
    .await;
    assert_eq!(sample["rows"].as_array().unwrap().len(), 2, "{sample}");
    assert_eq!(sample["columns"][0], "公民身份号码");
    let r = c
        .get(s.url(&format!("/api/v1/resources/{id}/sample")))
        .bearer_auth(&consumer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A mount that cannot be read is refused at once, and nothing is stored.
    for (body, says) in [
        (json!({"kind": "api", "url": "ftp://host/rows"}), "http://"),
        (
            json!({"kind": "api", "url": "http://127.0.0.1:9/rows"}),
            "mounted API",
        ),
        (
            json!({"kind": "external_table", "url": "sqlite:///no/such.db", "table": "t"}),
            "front-end database",
        ),
    ] {
        let r = c
            .put(s.url(&format!("/api/v1/resources/{id}/mount")))
            .bearer_auth(&officer)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let e: Value = r.json().await.unwrap();
        assert!(
            e["error"]["message"].as_str().unwrap().contains(says),
            "{e}"
        );
    }
    let mount = get_json(
        &c,
        s.url(&format!("/api/v1/resources/{id}/mount")),
        &officer,
    )
    .await;
    assert!(mount.is_null(), "{mount}");
    // The same key again, even with another body: a no-op that says so.
    let r = push(&officer, Some("2026-11-25-001"), "[]").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["stored"], false);
    assert_eq!(again["batch"]["id"], b["id"]);
    // A new key stores again; an empty body is refused with a reason.
    assert_eq!(
        push(&officer, Some("2026-11-25-002"), rows)
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    let r = push(&officer, None, "  ").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("empty"));

    // A drop directory source, run now through the API; its batch shows on the entry.
    let drop = tempfile::tempdir().unwrap();
    std::fs::write(
        drop.path().join("huji.csv"),
        "公民身份号码,姓名\n510104199303033456,王五\n510104199404044567,赵六\n",
    )
    .unwrap();
    let r = c
        .post(s.url(&format!("/api/v1/resources/{id}/sources")))
        .bearer_auth(&officer)
        .json(&json!({"kind": "drop_dir", "config": {"dir": drop.path()}, "schedule": "0 2 * * *"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let src: Value = r.json().await.unwrap();
    let r = c
        .post(s.url(&format!("/api/v1/sources/{}/run", src["id"])))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = get_json(
            &c,
            s.url(&format!("/api/v1/resources/{id}/sources")),
            &officer,
        )
        .await;
        if listed[0]["last_status"] == "succeeded" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(listed[0]["last_status"], "succeeded", "{listed}");
    assert!(drop.path().join("done/huji.csv").exists());
    let batches = get_json(
        &c,
        s.url(&format!("/api/v1/resources/{id}/batches")),
        &officer,
    )
    .await;
    assert_eq!(batches.as_array().unwrap().len(), 3, "{batches}");

    // A database source: bad names are refused; a password never comes back.
    let bad = c
        .post(s.url(&format!("/api/v1/resources/{id}/sources")))
        .bearer_auth(&officer)
        .json(&json!({"kind": "database", "config": {"url": "postgres://u:secret@db/x", "table": "t; drop"}, "schedule": "@daily"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let ok: Value = c
        .post(s.url(&format!("/api/v1/resources/{id}/sources")))
        .bearer_auth(&officer)
        .json(&json!({"kind": "database", "config": {"url": "postgres://u:secret@db.invalid/x", "table": "dibao", "watermark_column": "updated_at"}, "schedule": "@every 1h"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!ok.to_string().contains("secret"), "{ok}");
    let listed = get_json(
        &c,
        s.url(&format!("/api/v1/resources/{id}/sources")),
        &officer,
    )
    .await;
    assert!(!listed.to_string().contains("secret"), "{listed}");
    let audit = s
        .audit_page(&s.key("auditor").await, "action=ingest.push")
        .await;
    assert_eq!(audit["total"], 3, "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_hear_of_updates_and_retirement() {
    use std::sync::{Arc, Mutex};
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let c = Client::new();
    let (officer, reviewer, consumer) = (
        s.key("provider_officer").await,
        s.key("reviewer").await,
        s.key("outsider").await,
    );
    // A receiver that refuses the first delivery: the platform must retry.
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = {
        let (got, calls) = (got.clone(), calls.clone());
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::body::Bytes| {
                let (got, calls) = (got.clone(), calls.clone());
                async move {
                    if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    got.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap());
                    StatusCode::OK
                }
            }),
        )
    };
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });

    let id = published(&s, &c, &officer, &reviewer, draft(s.dept.0)).await;
    let r = c
        .post(s.url(&format!("/api/v1/resources/{id}/watch")))
        .bearer_auth(&consumer)
        .json(&json!({"webhook_url": "ftp://nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .post(s.url(&format!("/api/v1/resources/{id}/watch")))
        .bearer_auth(&consumer)
        .json(&json!({"webhook_url": hook}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let current = get_json(&c, s.url(&format!("/api/v1/resources/{id}")), &officer).await;
    let mut d = draft(s.dept.0);
    d["summary"] = json!("公安局登记的户籍人口基本信息（含迁入迁出）");
    let r = c
        .put(s.url(&format!("/api/v1/resources/{id}")))
        .bearer_auth(&officer)
        .json(&json!({"version": current["version"], "resource": d}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let notes = get_json(&c, s.url("/api/v1/me/notifications"), &consumer).await;
    assert_eq!(notes[0]["kind"], "updated", "{notes}");
    assert!(
        notes[0]["message"]
            .as_str()
            .unwrap()
            .contains("户籍人口信息"),
        "{notes}"
    );
    // The refused first delivery is retried (after ~2 s) and lands once.
    for _ in 0..100 {
        if !got.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let delivered = got.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0]["event"], "resource.updated");
    assert_eq!(delivered[0]["resource_id"], id);
    assert!(calls.load(std::sync::atomic::Ordering::SeqCst) >= 2);

    let r = c
        .post(s.url(&format!("/api/v1/resources/{id}/retire")))
        .bearer_auth(&reviewer)
        .json(&json!({"reason": "并入人口综合库"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let notes = get_json(&c, s.url("/api/v1/me/notifications"), &consumer).await;
    assert_eq!(notes[0]["kind"], "retired", "{notes}");
    assert!(
        notes[0]["message"]
            .as_str()
            .unwrap()
            .contains("并入人口综合库"),
        "{notes}"
    );
    // The duty list: 公安's matter produces two items of this entry; others may not add to it.
    let m = c
        .post(s.url("/api/v1/matters"))
        .bearer_auth(&officer)
        .json(&json!({"code": "GA-QR-0001", "name": "户口迁移登记", "org_id": s.dept.0, "kind": "行政确认"}))
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), StatusCode::CREATED);
    let mid = m.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = c
        .post(s.url("/api/v1/matters"))
        .bearer_auth(&consumer)
        .json(&json!({"code": "X-1", "name": "别人的事项", "org_id": s.dept.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(s.url(&format!("/api/v1/matters/{mid}/resources")))
        .bearer_auth(&officer)
        .json(&json!({"resource_id": id, "items": ["公民身份号码", "姓名"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let page = get_json(&c, s.url(&format!("/api/v1/matters/{mid}")), &consumer).await;
    assert_eq!(page["produces"][0]["resource_id"], id, "{page}");
    assert_eq!(
        page["produces"][0]["items"],
        json!(["公民身份号码", "姓名"])
    );
    let back = get_json(
        &c,
        s.url(&format!("/api/v1/resources/{id}/matters")),
        &consumer,
    )
    .await;
    assert_eq!(back[0]["name"], "户口迁移登记");

    // Someone who does not watch hears nothing.
    let none = get_json(&c, s.url("/api/v1/me/notifications"), &reviewer).await;
    assert_eq!(none, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_kept_and_their_text_found() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let c = Client::new();
    let (officer, reviewer, consumer) = (
        s.key("provider_officer").await,
        s.key("reviewer").await,
        s.key("outsider").await,
    );
    let id = published(&s, &c, &officer, &reviewer, draft(s.dept.0)).await;
    let dir = tempfile::tempdir().unwrap();
    let pdf = print_pdf(
        dir.path(),
        "户籍业务办理规范",
        "第一条 迁入登记须核验准迁证明。第二条 集体户口的管理。",
    );
    let docx = write_docx(&["居住证申领须知", "申领人应当提供租赁合同和照片。"]);
    let attach = |key: &str, name: &str, body: Vec<u8>| {
        c.post(s.url(&format!("/api/v1/resources/{id}/attachments")))
            .query(&[("name", name), ("description", "业务文件")])
            .bearer_auth(key)
            .body(body)
            .send()
    };
    // Only the providing department attaches. (Refused before its body is read, so the server
    // closes that connection: the refused upload goes on a client of its own.)
    let r = Client::new()
        .post(s.url(&format!("/api/v1/resources/{id}/attachments?name=x.pdf")))
        .bearer_auth(&consumer)
        .body(pdf.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = attach(&officer, "户籍业务办理规范.pdf", pdf.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["media_type"], "application/pdf");
    assert_eq!(a["pages"], 1);
    assert!(a["text_chars"].as_i64().unwrap() > 20, "{a}");
    // The same bytes again: kept once.
    let r = attach(&officer, "副本.pdf", pdf.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["id"], a["id"]);
    let r = attach(&officer, "居住证申领须知.docx", docx).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let d: Value = r.json().await.unwrap();
    assert!(
        d["media_type"]
            .as_str()
            .unwrap()
            .contains("wordprocessingml")
    );
    // A table is not an attachment; the error says what is.
    let r = attach(&officer, "名单.pdf", "姓名,身份证\n张三,1\n".into())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a PDF, DOCX or image"),
        "{e}"
    );

    // Words found only inside the files find the resource.
    for words in ["准迁证明", "租赁合同"] {
        let hits = get_json(&c, s.url(&format!("/api/v1/search?q={words}")), &consumer).await;
        assert_eq!(hits["total"], 1, "{words}: {hits}");
        assert_eq!(hits["hits"][0]["id"], id);
    }
    // Anyone who may see the entry lists and downloads its files, byte for byte; audited.
    let list = get_json(
        &c,
        s.url(&format!("/api/v1/resources/{id}/attachments")),
        &consumer,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let got = c
        .get(s.url(&format!("/api/v1/attachments/{}/content", a["id"])))
        .bearer_auth(&consumer)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.headers()["content-type"], "application/pdf");
    assert_eq!(got.bytes().await.unwrap().to_vec(), pdf);
    let audit = s
        .audit_page(&s.key("auditor").await, "action=attachment.read")
        .await;
    assert_eq!(audit["total"], 1, "{audit}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_workbook_import_and_export_over_http() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let c = Client::new();
    let (officer, consumer) = (s.key("provider_officer").await, s.key("outsider").await);
    let dept = s.store.get_org(s.dept).await.unwrap().code;
    let r = c
        .get(s.url("/api/v1/catalog/template.xlsx"))
        .bearer_auth(&consumer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().starts_with(b"PK"));

    // A filled workbook: one good resource, one without a name.
    let mut book = rust_xlsxwriter::Workbook::new();
    let rows: [[&str; 15]; 3] = [
        [
            "资源代码",
            "资源名称*",
            "提供方代码*",
            "资源分类*",
            "类目编码*",
            "资源摘要*",
            "资源格式*",
            "共享属性*",
            "共享条件",
            "开放属性*",
            "开放条件",
            "更新周期*",
            "关键字",
            "联系方式",
            "关联资源代码",
        ],
        [
            "",
            "暂住人员信息",
            &dept,
            "部门信息资源",
            "01003001",
            "暂住人员登记",
            "数据库",
            "无条件共享",
            "",
            "不予开放",
            "",
            "每月",
            "暂住",
            "",
            "",
        ],
        [
            "",
            "",
            &dept,
            "部门信息资源",
            "01003002",
            "缺名称",
            "数据库",
            "无条件共享",
            "",
            "不予开放",
            "",
            "每月",
            "",
            "",
            "",
        ],
    ];
    let sheet = book.add_worksheet().set_name("资源").unwrap();
    for (i, row) in rows.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            sheet.write(i as u32, j as u16, *v).unwrap();
        }
    }
    let items = book.add_worksheet().set_name("信息项").unwrap();
    for (i, row) in [
        ["资源名称*", "信息项名称*", "数据类型*", "长度", "数据元"],
        ["暂住人员信息", "姓名", "C", "50", ""],
    ]
    .iter()
    .enumerate()
    {
        for (j, v) in row.iter().enumerate() {
            items.write(i as u32, j as u16, *v).unwrap();
        }
    }
    let bytes = book.save_to_buffer().unwrap();
    let import = |q: &'static str| {
        c.post(s.url(&format!("/api/v1/catalog/import{q}")))
            .bearer_auth(&officer)
            .body(bytes.clone())
            .send()
    };
    let r = import("").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["refused"], true);
    assert!(v["created"].as_array().unwrap().is_empty());
    let e = &v["errors"][0];
    assert_eq!(
        (e["sheet"].as_str(), e["row"].as_i64()),
        (Some("资源"), Some(3)),
        "{v}"
    );
    let r = import("?valid_only=true").await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["created"][0]["name"], "暂住人员信息");
    assert_eq!(v["created"][0]["status"], "draft");

    // The export holds what the caller may see: the department its draft, others not.
    let mine: Value = get_json(&c, s.url("/api/v1/catalog/export.json"), &officer).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let theirs: Value = get_json(&c, s.url("/api/v1/catalog/export.json"), &consumer).await;
    assert!(theirs.as_array().unwrap().is_empty());
    let xlsx = c
        .get(s.url("/api/v1/catalog/export.xlsx"))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.to_vec())).unwrap();
    let sheet = wb.worksheet_range("资源").unwrap();
    assert!(sheet.rows().any(|r| r.iter().any(|c| *c == "暂住人员信息")));
    s.stop().await;
}

/// Outbound addresses go through the configured allow-list (here: 127.0.0.1 only): internal and
/// unlisted addresses are refused before any connection, and a redirect is not followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_addresses_are_allow_listed() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let c = Client::new();
    let (officer, reviewer, consumer) = (
        s.key("provider_officer").await,
        s.key("reviewer").await,
        s.key("outsider").await,
    );
    let id = published(&s, &c, &officer, &reviewer, draft(s.dept.0)).await;
    // A service that redirects every request to the cloud metadata address.
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::FOUND,
            [(
                axum::http::header::LOCATION,
                "http://169.254.169.254/latest/meta-data/",
            )],
        )
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirecting = format!("http://{}/rows", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    for (url, says) in [
        ("http://169.254.169.254/latest/meta-data/", "internal"),
        ("http://10.1.2.3/rows", "internal"),
        ("http://127.0.0.2:8080/rows", "internal"),
        (redirecting.as_str(), "redirect"),
    ] {
        let r = c
            .put(s.url(&format!("/api/v1/resources/{id}/mount")))
            .bearer_auth(&officer)
            .json(&json!({"kind": "api", "url": url}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{url}: {}", r.status());
        let e: Value = r.json().await.unwrap();
        assert!(
            e["error"]["message"].as_str().unwrap().contains(says),
            "{url}: {e}"
        );
    }
    let r = c
        .put(s.url(&format!("/api/v1/resources/{id}/mount")))
        .bearer_auth(&officer)
        .json(&json!({"kind": "external_table", "url": "postgres://postgres@10.9.9.9:5432/x", "table": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "forbidden");
    let r = c
        .post(s.url(&format!("/api/v1/resources/{id}/watch")))
        .bearer_auth(&consumer)
        .json(&json!({"webhook_url": "http://192.168.0.10/hook"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "forbidden");
    s.stop().await;
}

/// A published entry's items and share/open attributes change only after review: the edit is a
/// pending change, the published version stays in force, a data manager approves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_items_change_after_review() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let c = Client::new();
    let (officer, reviewer) = (s.key("provider_officer").await, s.key("reviewer").await);
    let id = published(&s, &c, &officer, &reviewer, draft(s.dept.0)).await;
    let cur = get_json(&c, s.url(&format!("/api/v1/resources/{id}")), &officer).await;
    let mut d = draft(s.dept.0);
    d["items"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "婚姻状况", "item_type": "C", "length": 2}));
    d["share_type"] = json!("unconditional");
    let r = c
        .put(s.url(&format!("/api/v1/resources/{id}")))
        .bearer_auth(&officer)
        .json(&json!({"version": cur["version"], "resource": d}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let now = get_json(&c, s.url(&format!("/api/v1/resources/{id}")), &officer).await;
    assert_eq!(
        now["version"], cur["version"],
        "the published version stays"
    );
    assert_eq!(now["share_type"], "conditional");
    assert_eq!(now["items"].as_array().unwrap().len(), 2);
    let pending = get_json(
        &c,
        s.url(&format!("/api/v1/resources/{id}/pending-change")),
        &officer,
    )
    .await;
    assert_eq!(pending["draft"]["items"].as_array().unwrap().len(), 3);
    let page = s.page(&format!("/console/catalog/{id}"), &reviewer).await;
    assert!(page.contains("id=\"pending-change\"") && page.contains("do-approve-change"));
    // The provider cannot approve its own change; the bureau's reviewer can.
    let review = s.url(&format!("/api/v1/resources/{id}/pending-change/review"));
    let r = c
        .post(review.clone())
        .bearer_auth(&officer)
        .json(&json!({"approve": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(review.clone())
        .bearer_auth(&reviewer)
        .json(&json!({"approve": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let after: Value = r.json().await.unwrap();
    assert_eq!(after["share_type"], "unconditional");
    assert_eq!(after["items"].as_array().unwrap().len(), 3);
    let r = c
        .post(review)
        .bearer_auth(&reviewer)
        .json(&json!({"approve": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "edit_conflict");
    s.stop().await;
}
