//! Quality over HTTP: rules are refused in words when wrong, take effect after two approvals, every
//! pushed batch is profiled and checked, violations are downloadable by the provider only, a
//! failing rule opens a work order that the next clean batch closes, and scores follow.

mod common;

use common::{TestServer, bureau_users, error_code, get_json, published};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

fn draft(provider: i64) -> Value {
    json!({
        "class_kind": "department", "class_path": "01001001", "name": "户籍人口信息", "provider_org_id": provider,
        "summary": "公安局登记的户籍人口基本信息", "format": "database",
        "share_type": "conditional", "share_condition": "《居民身份证法》第十三条",
        "open_type": "never", "update_cycle": "daily",
        "items": [
            {"name": "公民身份号码", "item_type": "C", "length": 18, "data_element": "citizen_id"},
            {"name": "姓名", "item_type": "C", "length": 50},
            {"name": "性别", "item_type": "C", "length": 1, "data_element": "sex_code"}
        ]
    })
}

fn id(body: &str) -> String {
    format!(
        "{body}{}",
        yishu_types::citizen_id::check_char(body.as_bytes())
    )
}

/// Polls until the batch has been checked by the server's quality job.
async fn checked(c: &Client, s: &TestServer, key: &str, batch: &str) -> Value {
    for _ in 0..100 {
        let v = get_json(c, s.url(&format!("/api/v1/batches/{batch}/quality")), key).await;
        if !v["quality"].is_null() {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("batch {batch} was not checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_reviews_checks_work_orders_and_scores() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    yishu_quality::standard::seed(&s.store).await.unwrap();
    let c = Client::new();
    let (officer, reviewer, outsider) = (
        s.key("provider_officer").await,
        s.key("reviewer").await,
        s.key("outsider").await,
    );
    let res = published(&s, &c, &officer, &reviewer, draft(s.dept.0)).await;
    let post = |path: &str, key: &str, body: Value| {
        c.post(s.url(path)).bearer_auth(key).json(&body).send()
    };

    // Wrong rules are refused at save time, in words, with a stable code.
    for (def, want) in [
        (
            json!({"kind": "format", "column": "姓名", "regex": "(["}),
            "invalid regex",
        ),
        (json!({"kind": "not_null", "column": "住址"}), "not an item"),
        (
            json!({"kind": "code_table", "column": "性别", "table": "nope"}),
            "no code table",
        ),
        (
            json!({"kind": "dependency", "lhs": [], "rhs": "姓名"}),
            "left-hand",
        ),
        (json!({"kind": "teleport"}), "unknown variant"),
    ] {
        let r = post("/api/v1/rules", &officer, json!({"resource_id": res, "name": "x", "definition": def, "dimension": "accuracy", "importance": "high", "severity": "high"})).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{def}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "rule_invalid", "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(want),
            "{v}"
        );
    }
    // A custom SQL rule needs data to be checked against.
    let r = post("/api/v1/rules", &officer, json!({"resource_id": res, "name": "x", "definition": {"kind": "sql", "sql": "SELECT _source_ref FROM t"}, "dimension": "accuracy", "importance": "high", "severity": "high"})).await.unwrap();
    assert_eq!(error_code(r).await, "rule_invalid");

    // Two rules: the name must be there; the ID must be unique. Both reviewed by two people.
    let mut rules = Vec::new();
    for (name, def, dim) in [
        (
            "姓名不能为空",
            json!({"kind": "not_null", "column": "姓名"}),
            "完整性",
        ),
        (
            "身份号码唯一",
            json!({"kind": "unique", "columns": ["公民身份号码"]}),
            "consistency",
        ),
    ] {
        let r = post("/api/v1/rules", &officer, json!({"resource_id": res, "name": name, "definition": def, "dimension": dim, "importance": "high", "severity": "high"})).await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let v: Value = r.json().await.unwrap();
        rules.push(v["id"].as_i64().unwrap());
    }
    for &rid in &rules {
        let path = format!("/api/v1/rules/{rid}/versions/1/approve");
        let r = post(&path, &reviewer, json!({"side": "business"}))
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "a data manager is not the business owner"
        );
        let r = post(&path, &officer, json!({"side": "business"}))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = post(&path, &reviewer, json!({"side": "technical"}))
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["active"]["version"], 1, "{v}");
    }

    // A batch with a missing name, a repeated ID and a sex code outside GB/T 2261.1.
    let (a, b) = (id("51010719900101001"), id("51010719920202002"));
    let csv = format!(
        "公民身份号码,姓名,性别\n{a},张三,1\n{b},,2\n{a},张三,1\n{},王五,7\n",
        id("51010719930303003")
    );
    let r = c
        .post(s.url(&format!("/api/v1/resources/{res}/rows")))
        .bearer_auth(&officer)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let batch1 = r.json::<Value>().await.unwrap()["batch"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let q = checked(&c, &s, &officer, &batch1).await;
    let p = &q["quality"]["profile"];
    assert_eq!(p["records"], 4);
    assert_eq!(p["duplicate_records"], 1);
    assert_eq!(p["fields"][0]["duplicate"], 1);
    assert_eq!(p["fields"][1]["missing"], 1);
    assert_eq!(
        p["fields"][0]["top"][0]["value"],
        a.as_str(),
        "the provider sees values"
    );
    // The batch was also written to std: no cleaning rule, so every row, typed, with lineage.
    let st = &q["quality"]["std"];
    assert_eq!(
        (
            st["rows_in"].as_u64(),
            st["rows_out"].as_u64(),
            st["rows_filtered"].as_u64()
        ),
        (Some(4), Some(4), Some(0)),
        "{st}"
    );
    let conf = &q["quality"]["conformance"];
    let sex = conf
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["item"] == "性别")
        .unwrap();
    assert_eq!(
        sex["domain_failed"], 1,
        "7 is not a GB/T 2261.1 code: {conf}"
    );
    let results = q["results"].as_array().unwrap();
    let failed: Vec<(i64, i64, i64)> = results
        .iter()
        .map(|r| {
            (
                r["rule_id"].as_i64().unwrap(),
                r["rule_version"].as_i64().unwrap(),
                r["failed"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(failed, vec![(rules[0], 1, 1), (rules[1], 1, 1)]);

    // Violations: per record, the provider may download them, others may not; values are hidden
    // from the profile for those who may not read raw rows.
    let r = c
        .get(s.url(&format!("/api/v1/batches/{batch1}/violations.csv")))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(text.starts_with('\u{feff}'));
    assert!(
        text.contains(":3,") && text.contains(":4,"),
        "rows 3 (no name) and 4 (repeat): {text}"
    );
    assert!(text.contains("与第一次出现的记录"), "{text}");
    let r = c
        .get(s.url(&format!("/api/v1/batches/{batch1}/violations.csv")))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the bureau may read them");
    let r = c
        .get(s.url(&format!("/api/v1/batches/{batch1}/violations.csv")))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Each failing rule opened a work order for the providing department.
    let orders = get_json(&c, s.url("/api/v1/work-orders?open=true"), &officer).await;
    let orders = orders.as_array().unwrap();
    assert_eq!(orders.len(), 2, "{orders:?}");
    assert!(
        orders
            .iter()
            .all(|o| o["org_id"] == s.dept.0 && o["status"] == "open")
    );
    let order = orders.iter().find(|o| o["rule_id"] == rules[0]).unwrap();
    assert_eq!(
        order["evidence"]["samples"][0]["row"]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next(),
        Some("3")
    );
    let oid = order["id"].as_i64().unwrap();
    let r = post(
        &format!("/api/v1/work-orders/{oid}/status"),
        &officer,
        json!({"status": "fixed", "note": "已补录"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // The fixed data: the next batch passes both rules, and their orders close themselves.
    let csv = format!("公民身份号码,姓名,性别\n{a},张三,1\n{b},李四,2\n");
    let r = c
        .post(s.url(&format!("/api/v1/resources/{res}/rows")))
        .bearer_auth(&officer)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let batch2 = r.json::<Value>().await.unwrap()["batch"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let q2 = checked(&c, &s, &officer, &batch2).await;
    assert!(
        q2["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "passed"),
        "{q2}"
    );
    let open = get_json(&c, s.url("/api/v1/work-orders?open=true"), &officer).await;
    assert_eq!(open.as_array().unwrap().len(), 0, "{open}");
    let page = get_json(&c, s.url(&format!("/api/v1/work-orders/{oid}")), &officer).await;
    let actions: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["opened", "fixed", "verified"]);

    // Scores moved up, and the department is ranked.
    let scores = get_json(
        &c,
        s.url(&format!("/api/v1/quality/scores?resource={res}")),
        &outsider,
    )
    .await;
    let totals: Vec<f64> = scores
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["total"].as_f64().unwrap())
        .collect();
    assert_eq!(totals.len(), 2);
    assert!(totals[1] > totals[0], "{totals:?}");
    assert_eq!(totals[1], 100.0);
    let ranking = get_json(&c, s.url("/api/v1/quality/ranking"), &outsider).await;
    assert_eq!(ranking[0]["org_id"], s.dept.0);
    assert_eq!(ranking[0]["score"], 100.0);

    // The department's report for the period: both batches, the score's move, the failing rule,
    // the two work orders opened and closed, the dataset's profile totals.
    let report_url = format!("/api/v1/quality/report?org={}", s.dept.0);
    let report = get_json(&c, s.url(&report_url), &officer).await;
    assert_eq!(report["batches"], 2, "{report}");
    assert_eq!(report["score"], 100.0);
    assert_eq!(report["resources"][0]["first_score"], totals[0]);
    assert_eq!(report["resources"][0]["score"], 100.0);
    assert_eq!(report["orders"]["opened"], 2);
    assert_eq!(report["orders"]["closed"], 2);
    assert_eq!(report["orders"]["open_at_end"], 0);
    assert_eq!(report["dataset"]["tables"], 1);
    assert!(
        report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["failed_runs"] == 1 && r["runs"] == 2),
        "{report}"
    );
    // Another department's report is the bureau's to read; a period is checked in words.
    let r = c
        .get(s.url(&report_url))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    get_json(&c, s.url(&report_url), &reviewer).await;
    let r = c
        .get(s.url(&format!("{report_url}&from=2026-13-01")))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "invalid_input");
    let r = c
        .get(s.url(&format!("/api/v1/quality/report.xlsx?org={}", s.dept.0)))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let xlsx = r.bytes().await.unwrap();
    {
        use calamine::Reader;
        let mut wb: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.to_vec())).unwrap();
        assert_eq!(
            wb.sheet_names(),
            vec!["概况", "资源", "规则", "工单", "趋势"]
        );
        let summary = wb.worksheet_range("概况").unwrap();
        let score = summary
            .rows()
            .find(|row| row[0] == "质量得分")
            .map(|row| row[1].to_string());
        assert_eq!(score.as_deref(), Some("100"));
        let orders = wb.worksheet_range("工单").unwrap();
        assert_eq!(orders.height(), 3, "a heading and the two orders");
    }
    // A batch's profile as a workbook, with each field's trend over the resource's batches.
    let r = c
        .get(s.url(&format!("/api/v1/batches/{batch1}/profile.xlsx")))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let xlsx = r.bytes().await.unwrap();
    {
        use calamine::Reader;
        let mut wb: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.to_vec())).unwrap();
        assert_eq!(wb.sheet_names(), vec!["字段探查", "表级探查", "字段趋势"]);
        let fields = wb.worksheet_range("字段探查").unwrap();
        assert_eq!(fields.height(), 4, "a heading and three fields");
        let trend = wb.worksheet_range("字段趋势").unwrap();
        assert_eq!(
            trend.height(),
            7,
            "a heading and three fields × two batches"
        );
    }

    // Suggestions from the newest profile: not-null on 性别 (never missing), its code table.
    let sug = get_json(
        &c,
        s.url(&format!("/api/v1/resources/{res}/suggestions")),
        &officer,
    )
    .await;
    let defs: Vec<&Value> = sug
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["definition"])
        .collect();
    assert!(
        defs.contains(&&json!({"kind": "code_table", "column": "性别", "table": "sex"})),
        "{sug}"
    );
    assert!(
        !defs.contains(&&json!({"kind": "not_null", "column": "姓名"})),
        "an existing rule is not suggested again"
    );
    let r = post(
        &format!("/api/v1/resources/{res}/suggestions/discard"),
        &officer,
        json!({"definition": {"kind": "code_table", "column": "性别", "table": "sex"}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let sug = get_json(
        &c,
        s.url(&format!("/api/v1/resources/{res}/suggestions")),
        &officer,
    )
    .await;
    assert!(!sug.to_string().contains("\"table\":\"sex\""), "{sug}");

    // An outsider sees the figures but not the values.
    let q = get_json(
        &c,
        s.url(&format!("/api/v1/batches/{batch1}/quality")),
        &outsider,
    )
    .await;
    assert_eq!(q["quality"]["profile"]["fields"][0]["duplicate"], 1);
    assert!(
        q["quality"]["profile"]["fields"][0]["top"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(!q.to_string().contains(&a));

    s.stop().await;
}

/// Pushes CSV rows to a resource and returns the batch id.
async fn push(c: &Client, s: &TestServer, key: &str, res: i64, csv: String) -> String {
    let r = c
        .post(s.url(&format!("/api/v1/resources/{res}/rows")))
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["batch"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Polls the open work orders until one of `kind` for `res` is open (or, with `open = false`,
/// until none is), and returns it.
async fn order_of(
    c: &Client,
    s: &TestServer,
    key: &str,
    res: i64,
    kind: &str,
    open: bool,
) -> Value {
    for _ in 0..100 {
        let list = get_json(c, s.url("/api/v1/work-orders?open=true"), key).await;
        let found = list
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["kind"] == kind && o["resource_id"] == res)
            .cloned();
        match (found, open) {
            (Some(o), true) => return o,
            (None, false) => return Value::Null,
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    panic!(
        "no {kind} order for resource {res} became {}",
        if open { "open" } else { "closed" }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmeasured_departments_silent_providers_and_drift() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    yishu_quality::standard::seed(&s.store).await.unwrap();
    // A second department whose resource no rule and no data element measures.
    let civil = s
        .department(
            "CD-MZ",
            "成都市民政局",
            "mz_officer",
            yishu_types::Role::ProviderOfficer,
        )
        .await;
    let c = Client::new();
    let (officer, mz, reviewer) = (
        s.key("provider_officer").await,
        s.key("mz_officer").await,
        s.key("reviewer").await,
    );
    // 公安: items bound to data elements, so conformance measures every batch.
    let measured = published(&s, &c, &officer, &reviewer, draft(s.dept.0)).await;
    let mut d = draft(civil.0);
    d["name"] = json!("婚姻登记信息");
    d["update_cycle"] = json!("monthly");
    for item in d["items"].as_array_mut().unwrap() {
        item.as_object_mut().unwrap().remove("data_element");
    }
    let unmeasured = published(&s, &c, &mz, &reviewer, d).await;

    let bad_sex = format!(
        "公民身份号码,姓名,性别\n{},张三,7\n",
        id("51010719900101001")
    );
    let b1 = push(&c, &s, &officer, measured, bad_sex).await;
    checked(&c, &s, &officer, &b1).await;
    let good = format!(
        "公民身份号码,姓名,性别\n{},李四,1\n",
        id("51010719920202002")
    );
    let b2 = push(&c, &s, &mz, unmeasured, good.clone()).await;
    checked(&c, &s, &mz, &b2).await;

    // A batch nothing measured has no score: not 100, and no dimension.
    let scores = get_json(
        &c,
        s.url(&format!("/api/v1/quality/scores?resource={unmeasured}")),
        &reviewer,
    )
    .await;
    assert_eq!(scores[0]["total"], Value::Null, "{scores}");
    assert_eq!(scores[0]["dimensions"], json!({}), "{scores}");
    let scores = get_json(
        &c,
        s.url(&format!("/api/v1/quality/scores?resource={measured}")),
        &reviewer,
    )
    .await;
    let total = scores[0]["total"].as_f64().expect("measured");
    assert!(total < 100.0, "{scores}");
    assert!(
        scores[0]["dimensions"]["conformity"].is_number(),
        "{scores}"
    );

    // The ranking puts the measured department first; the unmeasured one follows, without a score.
    let ranking = get_json(&c, s.url("/api/v1/quality/ranking"), &reviewer).await;
    assert_eq!(ranking[0]["org_id"], s.dept.0, "{ranking}");
    assert_eq!(ranking[0]["score"], total, "{ranking}");
    assert_eq!(ranking[1]["org_id"], civil.0, "{ranking}");
    assert_eq!(ranking[1]["score"], Value::Null, "{ranking}");
    let page = s.page("/console/quality", &reviewer).await;
    let (ranked, apart) = page
        .split_once("id=\"unmeasured\"")
        .expect("a table of unmeasured departments");
    assert!(
        ranked.contains("成都市公安局") && !ranked.contains("成都市民政局"),
        "{ranked}"
    );
    assert!(
        apart.contains("成都市民政局") && apart.contains("未评估"),
        "{apart}"
    );
    // Each GB/T 36344 dimension of the batch is shown measured or not.
    let page = s
        .page(&format!("/console/catalog/{measured}/quality"), &reviewer)
        .await;
    let dims = page
        .split_once("id=\"dimensions\"")
        .expect("dimension table")
        .1;
    assert!(
        dims.contains("规范性") && dims.contains("时效性") && dims.contains("未评估"),
        "{dims}"
    );

    // Nobody is late yet. A month and more passes with nothing from 公安 (daily) and 民政 (monthly).
    assert_eq!(
        order_of(&c, &s, &reviewer, measured, "timeliness", false).await,
        Value::Null
    );
    s.clock.advance(40 * 86_400_000);
    let late = order_of(&c, &s, &reviewer, measured, "timeliness", true).await;
    assert_eq!(late["org_id"], s.dept.0);
    assert!(
        late["title"]
            .as_str()
            .unwrap()
            .contains("超过更新周期（每日）"),
        "{late}"
    );
    assert!(
        late["evidence"]["days_late"].as_i64().unwrap() >= 37,
        "{late}"
    );
    let late_mz = order_of(&c, &s, &reviewer, unmeasured, "timeliness", true).await;
    assert_eq!(late_mz["org_id"], civil.0);
    let page = s.page("/console/quality", &reviewer).await;
    let silent = page
        .split_once("id=\"silent\"")
        .expect("a table of silent resources")
        .1;
    assert!(
        silent.contains("户籍人口信息") && silent.contains("婚姻登记信息"),
        "{silent}"
    );
    // Only one order each, however many times the scheduler looks.
    s.clock.advance(86_400_000);
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let list = get_json(&c, s.url("/api/v1/work-orders?open=true"), &reviewer).await;
    let count = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "timeliness")
        .count();
    assert_eq!(count, 2, "{list}");

    // 民政's next batch closes its order — and, with a new column and a retyped one, opens a
    // drift order.
    let drifted = "公民身份号码,姓名,性别,备注\n2024-01-01,王五,1,新列\n".to_string();
    let b3 = push(&c, &s, &mz, unmeasured, drifted).await;
    checked(&c, &s, &mz, &b3).await;
    order_of(&c, &s, &reviewer, unmeasured, "timeliness", false).await;
    let closed = get_json(
        &c,
        s.url(&format!("/api/v1/work-orders/{}", late_mz["id"])),
        &reviewer,
    )
    .await;
    assert_eq!(closed["order"]["status"], "closed", "{closed}");
    let drift = order_of(&c, &s, &reviewer, unmeasured, "drift", true).await;
    assert_eq!(drift["org_id"], civil.0);
    assert_eq!(drift["evidence"]["new_columns"], json!(["备注"]), "{drift}");
    assert_eq!(
        drift["evidence"]["retyped"][0]["column"], "公民身份号码",
        "{drift}"
    );
    assert_eq!(drift["evidence"]["retyped"][0]["from"], "text", "{drift}");
    assert_eq!(drift["evidence"]["retyped"][0]["to"], "date", "{drift}");
    // A batch in the catalog's shape again closes it.
    let b4 = push(&c, &s, &mz, unmeasured, good.replace("李四", "赵六")).await;
    checked(&c, &s, &mz, &b4).await;
    order_of(&c, &s, &reviewer, unmeasured, "drift", false).await;
    // 公安 is still late.
    order_of(&c, &s, &reviewer, measured, "timeliness", true).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_item_type_evolves_the_std_table() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let c = Client::new();
    let (officer, reviewer) = (s.key("provider_officer").await, s.key("reviewer").await);
    let mut d = draft(s.dept.0);
    d["items"] = json!([
        {"name": "公民身份号码", "item_type": "C", "length": 18},
        {"name": "姓名", "item_type": "C", "length": 50},
        {"name": "出生日期", "item_type": "C", "length": 10}
    ]);
    let res = published(&s, &c, &officer, &reviewer, d.clone()).await;
    let b1 = push(
        &c,
        &s,
        &officer,
        res,
        format!(
            "公民身份号码,姓名,出生日期\n{},张三,1990-01-01\n",
            id("51010719900101001")
        ),
    )
    .await;
    checked(&c, &s, &officer, &b1).await;
    let b2 = push(
        &c,
        &s,
        &officer,
        res,
        format!(
            "公民身份号码,姓名,出生日期\n{},李四,1992年2月2日\n",
            id("51010719920202002")
        ),
    )
    .await;
    checked(&c, &s, &officer, &b2).await;

    // The provider corrects the item's type: 出生日期 is a date (D), no longer text.
    let now = get_json(&c, s.url(&format!("/api/v1/resources/{res}")), &officer).await;
    d["items"][2]["item_type"] = json!("D");
    let r = c
        .put(s.url(&format!("/api/v1/resources/{res}")))
        .bearer_auth(&officer)
        .json(&json!({"version": now["version"], "resource": d}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "{}",
        r.text().await.unwrap()
    );
    // A published entry's items change after the bureau's review.
    let r = c
        .post(s.url(&format!("/api/v1/resources/{res}/pending-change/review")))
        .bearer_auth(&reviewer)
        .json(&json!({"approve": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    // Checking a batch again cleans into std under the new type: not a 500.
    let r = c
        .post(s.url(&format!("/api/v1/batches/{b2}/check")))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    // std has a new version with 出生日期 as a date, and both batches' rows converted; the
    // version before the change still reads as text.
    let code = now["code"].as_str().unwrap().replace('/', "_");
    let lake = s.lake();
    let ctx = lake.session().await.unwrap();
    let rows = yishu_lake::query(
        &ctx,
        &format!("SELECT 姓名, CAST(出生日期 AS VARCHAR) AS d, arrow_typeof(出生日期) AS t FROM std.r_{code} ORDER BY 姓名"),
    )
    .await
    .unwrap();
    let text = yishu_lake::arrow::util::pretty::pretty_format_batches(&rows)
        .unwrap()
        .to_string();
    assert!(
        text.contains("张三") && text.contains("1990-01-01"),
        "{text}"
    );
    assert!(
        text.contains("李四") && text.contains("1992-02-02"),
        "{text}"
    );
    assert!(text.contains("Date32") && !text.contains("Utf8"), "{text}");

    // Three checks of one batch at once race for the same std table: each answers 200 (the one
    // that commits second runs again), none a 500.
    let check = || {
        c.post(s.url(&format!("/api/v1/batches/{b1}/check")))
            .bearer_auth(&reviewer)
            .send()
    };
    let (x, y, z) = tokio::join!(check(), check(), check());
    for r in [x, y, z] {
        let r = r.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    }
    s.stop().await;
}
