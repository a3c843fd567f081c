//! Sharing over HTTP, as the departments do it: 人社 applies for 公安's entry, 公安 approves with a
//! row filter and masks, the bureau confirms, a grant appears; outsiders see nothing of it, the
//! bureau suspends it in one step, and every action — refusals too — is in the audit chain. The
//! console pages show each step.

mod common;

use common::{TestServer, bureau_users, error_code, get_json, published, std_rows};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use yishu_types::Role;

fn entry(provider: i64, share: &str) -> Value {
    json!({
        "class_kind": "department", "class_path": "01001001", "name": "人口基本信息", "provider_org_id": provider,
        "summary": "公安局登记的人口基本信息", "format": "database",
        "share_type": share, "share_condition": "《居民身份证法》第十三条",
        "open_type": "never", "update_cycle": "daily",
        "items": [
            {"name": "公民身份号码", "item_type": "C", "length": 18}, {"name": "姓名", "item_type": "C", "length": 50},
            {"name": "行政区划代码", "item_type": "C", "length": 6}, {"name": "婚姻状况", "item_type": "C", "length": 2},
            {"name": "住址", "item_type": "C", "length": 200}
        ]
    })
}

fn application(target: &str) -> Value {
    let now = chrono::Utc::now().timestamp_millis();
    json!({
        "target": target, "items": ["公民身份号码", "姓名", "行政区划代码", "婚姻状况"],
        "purpose": "核定养老保险待遇", "legal_basis": "《社会保险法》第七十三条", "scenario": "养老金资格认证",
        "period_from": now, "period_to": now + 180 * 86_400_000i64, "expected_volume": "每日约 2 万次",
        "contact": "人社局信息中心 028-12345678"
    })
}

/// API keys of the people in [`world`].
struct Keys {
    officer: String,
    reviewer: String,
    rs: String,
    outsider: String,
    auditor: String,
}

/// 公安 (the provider, with a published conditional entry), the bureau (DSJ, with a reviewer and
/// an outsider), 人社 (`rs`, the consumer) and the auditor.
async fn world() -> (TestServer, Client, Keys, i64) {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let dsj = s.store.get_org_by_code("DSJ").await.unwrap().id;
    s.store.set_bureau(dsj).await.unwrap();
    s.department("CD-RS", "成都市人社局", "rs", Role::Consumer)
        .await;
    let c = Client::new();
    let k = Keys {
        officer: s.key("provider_officer").await,
        reviewer: s.key("reviewer").await,
        rs: s.key("rs").await,
        outsider: s.key("outsider").await,
        auditor: s.key("auditor").await,
    };
    let id = published(
        &s,
        &c,
        &k.officer,
        &k.reviewer,
        entry(s.dept.0, "conditional"),
    )
    .await;
    (s, c, k, id)
}

async fn post(c: &Client, url: String, key: &str, body: Value) -> reqwest::Response {
    c.post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_approve_confirm_and_suspend() {
    let (s, c, k, id) = world().await;
    let Keys {
        officer,
        reviewer,
        rs,
        outsider,
        auditor,
    } = k;
    let target = format!("resource:{id}");

    // 人社 applies; a bad application names its field.
    let mut bad = application(&target);
    bad["items"] = json!(["血型"]);
    let r = post(&c, s.url("/api/v1/share/applications"), &rs, bad).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("血型"));
    let r = post(
        &c,
        s.url("/api/v1/share/applications"),
        &rs,
        application(&target),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["status"], "submitted");
    let app = a["id"].as_i64().unwrap();
    assert!(a["step_deadline"].as_i64().unwrap() > a["created_at"].as_i64().unwrap());

    // Each side sees it in its list; an outsider does not see it at all.
    let mine = get_json(&c, s.url("/api/v1/share/applications"), &rs).await;
    assert_eq!(mine[0]["id"], app);
    let todo = get_json(
        &c,
        s.url("/api/v1/share/applications?list=to_decide"),
        &officer,
    )
    .await;
    assert_eq!(todo[0]["id"], app);
    let r = c
        .get(s.url(&format!("/api/v1/share/applications/{app}")))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "application_not_found");
    let r = c
        .get(s.url("/api/v1/share/applications?list=all"))
        .bearer_auth(&rs)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Only 公安 decides first; its terms are checked; then the bureau confirms.
    let decision = json!({"approve": true, "reason": "符合条件", "row_filter": "行政区划代码 prefix '510107'",
        "masks": {"公民身份号码": "token", "姓名": "partial"}, "per_minute": 120, "rows_per_day": 50000});
    let url = s.url(&format!("/api/v1/share/applications/{app}/decision"));
    let r = post(&c, url.clone(), &rs, decision.clone()).await;
    assert_eq!(error_code(r).await, "forbidden");
    let mut bad = decision.clone();
    bad["row_filter"] = json!("行政区划代码 = '1' or 1=1; drop table grants");
    let r = post(&c, url.clone(), &officer, bad).await;
    assert_eq!(error_code(r).await, "filter_invalid");
    let r = post(&c, url.clone(), &officer, decision).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["status"],
        "provider_approved"
    );
    let r = post(&c, url.clone(), &reviewer, json!({"approve": true})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["status"], "granted");
    let grant = a["grant_id"].as_i64().unwrap();
    let detail = get_json(&c, s.url(&format!("/api/v1/share/applications/{app}")), &rs).await;
    let steps: Vec<&str> = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| st["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["apply", "provider", "bureau"]);

    // The grant: its holder, its provider and the bureau see it; nobody else.
    let g = get_json(&c, s.url(&format!("/api/v1/grants/{grant}")), &rs).await;
    assert_eq!(g["row_filter"], "行政区划代码 prefix '510107'");
    assert_eq!(g["masks"]["公民身份号码"], "token");
    assert_eq!(g["items"].as_array().unwrap().len(), 4);
    get_json(&c, s.url(&format!("/api/v1/grants/{grant}")), &officer).await;
    let r = c
        .get(s.url(&format!("/api/v1/grants/{grant}")))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "grant_not_found");
    assert_eq!(
        get_json(&c, s.url("/api/v1/grants"), &rs).await[0]["id"],
        grant
    );

    // Suspension needs a reason and is the bureau's or the provider's; the consumer cannot.
    let status_url = s.url(&format!("/api/v1/grants/{grant}/status"));
    let r = post(
        &c,
        status_url.clone(),
        &rs,
        json!({"status": "suspended", "reason": "x"}),
    )
    .await;
    assert_eq!(error_code(r).await, "forbidden");
    let r = post(
        &c,
        status_url.clone(),
        &reviewer,
        json!({"status": "suspended"}),
    )
    .await;
    assert_eq!(error_code(r).await, "invalid_input");
    let r = post(
        &c,
        status_url.clone(),
        &reviewer,
        json!({"status": "suspended", "reason": "核查用途"}),
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "suspended");

    // Not shared: refused at once with the catalog's reason; retired: not shared.
    let never = published(&s, &c, &officer, &reviewer, entry(s.dept.0, "never")).await;
    let r = post(
        &c,
        s.url("/api/v1/share/applications"),
        &rs,
        application(&format!("resource:{never}")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let refused: Value = r.json().await.unwrap();
    assert_eq!(refused["status"], "refused");

    // Every step is in the audit chain, the refusals too.
    let log = s.audit_page(&auditor, "action=share").await;
    let actions: Vec<(String, String)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("share.apply", "ok"),
        ("share.apply", "denied"),
        ("share.decide", "ok"),
        ("share.decide", "denied"),
    ] {
        assert!(
            actions.iter().any(|(a, o)| a == want.0 && o == want.1),
            "{want:?} not in {actions:?}"
        );
    }
    let log = s.audit_page(&auditor, "action=grant.status").await;
    assert!(log["total"].as_i64().unwrap() >= 3);

    // The resource page counts its applications.
    let stats = get_json(
        &c,
        s.url(&format!("/api/v1/resources/{id}/stats")),
        &officer,
    )
    .await;
    assert_eq!(stats["applications"], 1);

    // The console: lists, the application with its steps, the grants with their controls.
    let page = s.page("/console/share", &rs).await;
    assert!(
        page.contains("人口基本信息") && page.contains("已授权"),
        "{page}"
    );
    let page = s.page("/console/share?list=all", &reviewer).await;
    assert!(page.contains("办理用时"));
    let page = s
        .page(&format!("/console/share/applications/{app}"), &officer)
        .await;
    assert!(page.contains("核定养老保险待遇") && page.contains("行政区划代码 prefix"));
    let page = s.page("/console/share/grants", &reviewer).await;
    assert!(page.contains("已暂停") && page.contains("恢复"));
    let page = s
        .page(&format!("/console/share/apply?target=resource:{id}"), &rs)
        .await;
    assert!(page.contains("name=\"items\" value=\"婚姻状况\""));
    let page = s.page(&format!("/console/catalog/{id}"), &rs).await;
    assert!(page.contains("/console/share/apply?target=resource:"));
    s.stop().await;
}

/// The console's forms take a consumer from the catalog to a decided application.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_forms_apply_and_decide() {
    let (s, _c, _k, id) = world().await;
    let (rs, csrf) = s.login("rs").await;
    let r = rs
        .post(s.url("/console/share/applications"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("target", &format!("resource:{id}")),
            ("items", "姓名"),
            ("items", "婚姻状况"),
            ("purpose", "低保资格核查"),
            ("legal_basis", "《社会救助暂行办法》"),
            ("scenario", "低保审批"),
            ("period_from", "2026-01-01"),
            ("period_to", "2099-12-31"),
            ("contact", "张三 028-1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "redirected to the application");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("低保资格核查") && html.contains("待提供部门审核"),
        "{html}"
    );
    let app = s.store.applications(&Default::default()).await.unwrap()[0].clone();
    assert_eq!(app.items, ["姓名", "婚姻状况"]);
    let (ga, csrf) = s.login("provider_officer").await;
    let r = ga
        .post(s.url(&format!("/console/share/applications/{}/decision", app.id)))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("approve", "no"),
            ("reason", "用途不明确"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("未通过"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_through_a_grant() {
    let (s, c, k, id) = world().await;
    let Keys {
        officer,
        reviewer,
        rs,
        outsider,
        auditor,
    } = k;
    let csv = "公民身份号码,姓名,行政区划代码,婚姻状况,住址\n\
        510107199001011234,张小三,510107,20,红星路1号\n\
        510107198502023456,李四,510107,10,人民南路2号\n\
        510108197003035678,王五,510108,20,建设路3号\n\
        51010719950404789X,欧阳明月,510107,21,玉林路4号\n";
    let r = c
        .post(s.url(&format!("/api/v1/resources/{id}/rows")))
        .bearer_auth(&officer)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    std_rows(&s, id, 4).await;

    let r = post(
        &c,
        s.url("/api/v1/share/applications"),
        &rs,
        application(&format!("resource:{id}")),
    )
    .await;
    let app = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let url = s.url(&format!("/api/v1/share/applications/{app}/decision"));
    post(
        &c,
        url.clone(),
        &officer,
        json!({"approve": true, "row_filter": "行政区划代码 prefix '510107'",
        "masks": {"公民身份号码": "token", "姓名": "partial"}, "per_minute": 12}),
    )
    .await;
    let a: Value = post(&c, url, &reviewer, json!({"approve": true}))
        .await
        .json()
        .await
        .unwrap();
    let grant = a["grant_id"].as_i64().unwrap();
    let rows_url = |q: &str| s.url(&format!("/api/v1/grants/{grant}/rows{q}"));

    // Only the granted items, only the filter's rows, masked as the grant says.
    let page = get_json(&c, rows_url(""), &rs).await;
    assert_eq!(
        page["items"],
        json!(["公民身份号码", "姓名", "行政区划代码", "婚姻状况"])
    );
    let rows = page["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{page}");
    assert!(!page.to_string().contains("510108") && !page.to_string().contains("红星路"));
    let names: Vec<&str> = rows.iter().map(|r| r[1].as_str().unwrap()).collect();
    assert!(
        names.contains(&"张*三") && names.contains(&"欧**月"),
        "{names:?}"
    );
    for r in rows {
        let token = r[0].as_str().unwrap();
        assert_eq!(token.chars().count(), 18);
        assert!(!csv.contains(token), "an identity number in clear: {token}");
    }
    // The caller's own filter narrows further; a page holds at most `limit` rows.
    let page = get_json(&c, rows_url("?filter=婚姻状况%20%3D%20'20'"), &rs).await;
    assert_eq!(page["rows"].as_array().unwrap().len(), 1);
    let page = get_json(&c, rows_url("?limit=2"), &rs).await;
    assert_eq!(
        (
            page["rows"].as_array().unwrap().len(),
            page["next"].as_i64()
        ),
        (2, Some(2))
    );

    // The resource's sample through the grant: its items, its rows, masked; not for others.
    let sample = get_json(&c, s.url(&format!("/api/v1/resources/{id}/sample")), &rs).await;
    assert_eq!(
        sample["columns"],
        json!(["公民身份号码", "姓名", "行政区划代码", "婚姻状况"])
    );
    assert_eq!(sample["rows"].as_array().unwrap().len(), 3, "{sample}");
    let text = sample.to_string();
    assert!(
        !text.contains("510108") && !text.contains("510107199001011234"),
        "{text}"
    );
    assert!(text.contains("张*三"), "{text}");
    let r = c
        .get(s.url(&format!("/api/v1/resources/{id}/sample")))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "forbidden");
    // Raw lines of the provider's batches are not in any grant: refused, and in the read audit.
    let batch = s.store.list_batches(id).await.unwrap()[0].id.clone();
    for what in ["quarantine.csv", "violations.csv"] {
        let r = c
            .get(s.url(&format!("/api/v1/batches/{batch}/{what}")))
            .bearer_auth(&rs)
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(r).await, "forbidden", "{what}");
        let r = c
            .get(s.url(&format!("/api/v1/batches/{batch}/{what}")))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{what}");
    }

    // Asking beyond the grant, or around it, is refused and audited.
    for (q, code) in [
        ("?items=住址", "forbidden"),
        ("?filter=住址%20%3D%20'红星路1号'", "filter_invalid"),
        // 姓名 is shown masked: filtering on it would tell names row by row.
        ("?filter=姓名%20%3D%20'张三'", "invalid_input"),
        (
            "?filter=婚姻状况%20%3D%20'20'%20or%201%3D1",
            "filter_invalid",
        ),
    ] {
        let r = c.get(rows_url(q)).bearer_auth(&rs).send().await.unwrap();
        assert_eq!(error_code(r).await, code, "{q}");
    }
    let r = c
        .get(rows_url(""))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "grant_not_found");

    // The whole grant as CSV, streamed, with a BOM for Excel.
    let r = c
        .get(rows_url("?format=csv"))
        .bearer_auth(&rs)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.bytes().await.unwrap();
    assert_eq!(&body[..3], &[0xEF, 0xBB, 0xBF]);
    let text = String::from_utf8(body[3..].to_vec()).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.starts_with("公民身份号码,姓名,行政区划代码,婚姻状况"));

    // The same as a workbook and as Parquet.
    let r = c
        .get(rows_url("?format=xlsx"))
        .bearer_auth(&rs)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let book = r.bytes().await.unwrap();
    assert_eq!(&book[..2], b"PK", "an XLSX is a zip");
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(book.to_vec())).unwrap();
    use calamine::Reader;
    let sheet = wb.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(sheet.height(), 4, "heading and three rows");
    assert!(!format!("{sheet:?}").contains("510107199001011234"));
    let r = c
        .get(rows_url("?format=parquet"))
        .bearer_auth(&rs)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(&r.bytes().await.unwrap()[..4], b"PAR1");

    // The read audit: who, grant, purpose, items, rows; the refusals too.
    let log = s.audit_page(&auditor, "action=share.read").await;
    let items = log["items"].as_array().unwrap();
    let ok = items
        .iter()
        .find(|r| r["outcome"] == "ok" && r["action"] == "share.read")
        .unwrap();
    let d: Value = serde_json::from_str(ok["detail"].as_str().unwrap()).unwrap();
    assert_eq!(d["grant"], grant);
    assert_eq!(d["purpose"], "核定养老保险待遇");
    assert!(d["query"].as_str().unwrap().len() == 16);
    assert!(items.iter().filter(|r| r["outcome"] == "denied").count() >= 7);
    let channels: Vec<String> = items
        .iter()
        .map(|r| serde_json::from_str::<Value>(r["detail"].as_str().unwrap()).unwrap())
        .map(|d| {
            format!(
                "{} {}",
                d["channel"].as_str().unwrap_or(""),
                d["basis"].as_str().unwrap_or("-")
            )
        })
        .collect();
    for seen in [
        "sample grant",
        "sample -",
        "quarantine -",
        "quarantine provider",
        "violations provider",
    ] {
        assert!(
            channels.iter().any(|c| c == seen),
            "no {seen} read in {channels:?}"
        );
    }
    assert!(items.iter().any(|r| r["action"] == "share.read.end"));
    let stats = get_json(
        &c,
        s.url(&format!("/api/v1/resources/{id}/stats")),
        &officer,
    )
    .await;
    assert!(stats["calls"].as_i64().unwrap() >= 3);

    // Who used my data: 公安 sees the grant's calls, rows and refusals.
    let usage = get_json(&c, s.url("/api/v1/share/usage"), &officer).await;
    let u = usage
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["grant"]["id"] == grant)
        .unwrap();
    assert!(u["calls"].as_i64().unwrap() >= 3, "{u}");
    assert!(u["rows"].as_i64().unwrap() >= 6, "{u}");
    assert!(u["refused"].as_i64().unwrap() >= 3, "{u}");
    assert!(u["last_at"].is_i64() && !u["by_day"].as_array().unwrap().is_empty());
    // Who read one person: the bureau's and the auditor's question, asked in the body.
    let ask = json!({"key": "510107199001011234", "days": 30});
    let r = post(&c, s.url("/api/v1/share/who-read"), &rs, ask.clone()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(&c, s.url("/api/v1/share/who-read"), &auditor, ask).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.json::<Value>().await.unwrap().is_array());

    // Over the grant's 12 requests a minute: 429 with Retry-After (within 25 requests, should
    // the minute turn while they are sent).
    let mut limited = None;
    for _ in 0..25 {
        let r = c.get(rows_url("")).bearer_auth(&rs).send().await.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("the limit holds");
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
    assert_eq!(error_code(r).await, "rate_limited");

    // Suspension stops reads at once.
    post(
        &c,
        s.url(&format!("/api/v1/grants/{grant}/status")),
        &reviewer,
        json!({"status": "suspended", "reason": "核查"}),
    )
    .await;
    let r = c.get(rows_url("")).bearer_auth(&rs).send().await.unwrap();
    assert_eq!(error_code(r).await, "grant_inactive");
    s.stop().await;
}
