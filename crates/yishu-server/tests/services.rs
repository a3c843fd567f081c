//! Data services over HTTP, as the bureau and a consumer department use them: a data manager
//! defines `marriage-status` in SQL, tests it on real rows, another data manager reviews it, it
//! is published at `/api/v1/services/marriage-status/v1`; 人社 calls it and is refused without a
//! grant, served masked with one, limited by its rate; bad values and old versions get clear
//! errors; every step and every call is in the audit chain.

mod common;

use common::{TestServer, actions, bureau_users, error_code};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use yishu_meta::now_ms;
use yishu_types::Role;

use common::{ID, population};

fn definition() -> Value {
    json!({
        "name": "marriage-status", "title": "婚姻状况查询",
        "sql": "SELECT 姓名, 婚姻状况 FROM base.population WHERE 公民身份号码 = :id",
        "params": [{"name": "id", "kind": {"type": "string", "min_len": 18, "max_len": 18,
            "pattern": "[0-9]{17}[0-9X]"}, "placement": "query", "required": true,
            "example": ID, "description": "公民身份号码"}]
    })
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
async fn a_service_is_defined_reviewed_published_and_called_through_a_grant() {
    let s = TestServer::start().await;
    let Start {
        author,
        second,
        rs: consumer,
        auditor,
        ..
    } = start(&s).await;
    let c = Client::new();
    let v = |path: &str| s.url(&format!("/api/v1/service-versions{path}"));

    // A consumer may not define services; SQL that writes is refused in words.
    let r = post(&c, v(""), &consumer, definition()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut bad = definition();
    bad["sql"] = json!("DELETE FROM base.population WHERE 公民身份号码 = :id");
    let r = post(&c, v(""), &author, bad).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "service_invalid");

    // Defined, tested, reviewed by the other data manager, published.
    let r = post(&c, v(""), &author, definition()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let svc: Value = r.json().await.unwrap();
    let id = svc["id"].as_i64().unwrap();
    assert_eq!(svc["status"], "draft");
    assert_eq!(svc["checked"]["outputs"][0]["name"], "姓名");
    let r = post(
        &c,
        v(&format!("/{id}/test")),
        &author,
        json!({"params": {"id": ID}}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["answer"]["rows"], json!([["张小三", "20"]]));
    assert_eq!(t["service"]["status"], "tested");
    let r = post(
        &c,
        v(&format!("/{id}/review")),
        &author,
        json!({"approve": true}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "the author reviews");
    let r = post(
        &c,
        v(&format!("/{id}/review")),
        &second,
        json!({"approve": true, "note": "同意"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = post(&c, v(&format!("/{id}/publish")), &author, json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Published, it is its own operation in the API document, typed from its declaration.
    let doc: Value = c
        .get(s.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let op = &doc["paths"]["/api/v1/services/marriage-status/v1"]["get"];
    assert_eq!(op["parameters"][0]["schema"]["maxLength"], 18, "{op}");
    assert_eq!(
        op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["items"]["items"]
            ["enum"],
        json!(["姓名", "婚姻状况"])
    );
    let own: Value = c
        .get(v(&format!("/{id}/openapi.json")))
        .bearer_auth(&consumer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(own["paths"].as_object().unwrap().len(), 1, "{own}");
    assert!(own["components"]["schemas"]["ErrorBody"].is_object());
    assert!(own["components"]["schemas"]["ErrorDetail"].is_object());
    // The consumer sees it listed once published.
    let list: Value = c
        .get(v(""))
        .bearer_auth(&consumer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");

    let call = |id: &str| {
        c.get(s.url(&format!("/api/v1/services/marriage-status/v1?id={id}")))
            .bearer_auth(&consumer)
            .send()
    };
    // No grant: refused, and the refusal is audited.
    let r = call(ID).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // 人社 applies for the service like any resource: it reads the population library, so it
    // is conditional; the bureau, its provider, approves with a mask and a rate (one step: the
    // provider's approval is the bureau's).
    let now = now_ms();
    let r = post(
        &c,
        s.url("/api/v1/share/applications"),
        &consumer,
        json!({"target": "service:marriage-status", "items": ["姓名", "婚姻状况"],
            "purpose": "低保审核", "legal_basis": "《社会救助暂行办法》", "scenario": "低保资格复核",
            "period_from": now, "period_to": now + 90 * 86_400_000i64,
            "expected_volume": "每日约 500 次", "contact": "人社局 028-1234"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let app: Value = r.json().await.unwrap();
    assert_eq!(app["status"], "submitted", "{app}");
    let url = s.url(&format!(
        "/api/v1/share/applications/{}/decision",
        app["id"]
    ));
    let r = post(
        &c,
        url,
        &second,
        json!({"approve": true, "reason": "符合条件",
        "masks": {"姓名": "partial"}, "per_minute": 2}),
    )
    .await;
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["status"], "granted", "{done}");
    let r = call(ID).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["items"], json!(["姓名", "婚姻状况"]));
    let name = a["rows"][0][0].as_str().unwrap();
    assert!(name != "张小三" && name.starts_with('张'), "{a}");
    assert_eq!(a["rows"][0][1], "20");
    // An injection attempt is a wrong value, not a query.
    let r = call("5101' OR '1'='1").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "param_invalid");
    let r = call(ID).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = call(ID).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    // The bureau suspends the grant: the next call stops at once (before the rate is asked).
    let grant = done["grant_id"].as_i64().unwrap();
    let r = post(
        &c,
        s.url(&format!("/api/v1/grants/{grant}/status")),
        &second,
        json!({"status": "suspended", "reason": "核查用途"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = call(ID).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(r).await, "grant_inactive");

    // A version that does not exist; a deprecated one past its sunset.
    let r = c
        .get(s.url(&format!("/api/v1/services/marriage-status/v9?id={ID}")))
        .bearer_auth(&consumer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post(
        &c,
        v(&format!("/{id}/deprecate")),
        &author,
        json!({"sunset": "2020-01-01"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .get(s.url(&format!("/api/v1/services/marriage-status/v1?id={ID}")))
        .bearer_auth(&author)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    assert_eq!(error_code(r).await, "service_gone");

    // Every step and call is in the chain, the refusals too.
    let page = s.audit_page(&auditor, "limit=100").await;
    let acts = actions(&page);
    for want in [
        "service.define",
        "service.test",
        "service.approve",
        "service.publish",
        "service.deprecate",
        "share.read",
    ] {
        assert!(acts.contains(&want), "{want} missing: {acts:?}");
    }
    let reads: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "share.read")
        .collect();
    assert!(reads.iter().any(|r| r["outcome"] == "denied"));
    assert!(reads.iter().any(|r| {
        r["outcome"] == "ok"
            && r["detail"]
                .as_str()
                .unwrap()
                .contains("\"channel\":\"service\"")
    }));
    s.stop().await;
}

/// `marriage-status` v1 defined by `author`, tested, reviewed by `second` and published.
async fn published_service(s: &TestServer, c: &Client, author: &str, second: &str) -> i64 {
    let v = |path: &str| s.url(&format!("/api/v1/service-versions{path}"));
    let svc: Value = post(c, v(""), author, definition())
        .await
        .json()
        .await
        .unwrap();
    let id = svc["id"].as_i64().unwrap();
    let steps = [
        ("test", author, json!({"params": {"id": ID}})),
        ("review", second, json!({"approve": true})),
        ("publish", author, json!({})),
    ];
    for (step, who, body) in steps {
        let r = post(c, v(&format!("/{id}/{step}")), who, body).await;
        assert_eq!(r.status(), StatusCode::OK, "{step}");
    }
    id
}

/// The consumer's application for `marriage-status`, approved by the bureau with `terms`.
async fn granted(s: &TestServer, c: &Client, consumer: &str, bureau: &str, terms: Value) -> i64 {
    let now = now_ms();
    let app: Value = post(
        c,
        s.url("/api/v1/share/applications"),
        consumer,
        json!({"target": "service:marriage-status", "items": ["姓名", "婚姻状况"],
            "purpose": "低保审核", "legal_basis": "《社会救助暂行办法》", "scenario": "低保资格复核",
            "period_from": now, "period_to": now + 90 * 86_400_000i64,
            "expected_volume": "每日约 500 次", "contact": "人社局 028-1234"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let url = s.url(&format!(
        "/api/v1/share/applications/{}/decision",
        app["id"]
    ));
    let mut decision = json!({"approve": true, "reason": "符合条件"});
    for (k, v) in terms.as_object().unwrap() {
        decision[k] = v.clone();
    }
    let done: Value = post(c, url, bureau, decision).await.json().await.unwrap();
    assert_eq!(done["status"], "granted", "{done}");
    done["grant_id"].as_i64().unwrap()
}

/// 人社's 低保 system is an app: its own key (never its maker's roles), calls only from its
/// addresses and within its rate, stopped at once when the bureau suspends it or the key is
/// revoked; every change and every refusal is audited, and its reads name the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_calls_with_its_own_key_from_its_addresses_within_its_rate() {
    let s = TestServer::start().await;
    let Start {
        author,
        second,
        rs,
        auditor,
        ..
    } = start(&s).await;
    s.department("CD-MZ", "成都市民政局", "mz", Role::Consumer)
        .await;
    let mz = s.key("mz").await;
    let c = Client::new();
    published_service(&s, &c, &author, &second).await;
    granted(&s, &c, &rs, &second, json!({"masks": {"姓名": "partial"}})).await;
    let apps = s.url("/api/v1/apps");

    // An allow-list entry that is not an address is refused in words.
    let bad =
        json!({"name": "低保审核系统", "ip_allow": ["127.0.0.1", "localhost"], "per_minute": 3});
    let r = post(&c, apps.clone(), &rs, bad).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ip_allow[1]"),
        "{body}"
    );
    let draft = json!({"name": "低保审核系统", "ip_allow": ["127.0.0.0/8"], "per_minute": 3});
    let r = post(&c, apps.clone(), &rs, draft).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let app: Value = r.json().await.unwrap();
    let id = app["id"].as_i64().unwrap();
    assert_eq!(app["status"], "active");
    let r = post(
        &c,
        s.url(&format!("/api/v1/apps/{id}/keys")),
        &rs,
        json!({"name": "生产", "expires_in_days": 30}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let made: Value = r.json().await.unwrap();
    let key = made["secret"].as_str().unwrap().to_string();
    let key_id = made["key"]["id"].as_i64().unwrap();
    assert_eq!(made["key"]["app_id"], id);
    assert!(made["key"]["expires_at"].as_i64().unwrap() > now_ms());
    // Another department neither sees the app nor makes its keys; the bureau sees it.
    let r = c
        .get(s.url(&format!("/api/v1/apps/{id}")))
        .bearer_auth(&mz)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "app_not_found");
    let seen: Value = c
        .get(apps.clone())
        .bearer_auth(&second)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen.as_array().unwrap().len(), 1, "{seen}");

    let call = || {
        c.get(s.url(&format!("/api/v1/services/marriage-status/v1?id={ID}")))
            .bearer_auth(&key)
            .send()
    };
    let r = call().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let a: Value = r.json().await.unwrap();
    assert!(a["rows"][0][0].as_str().unwrap() != "张小三", "masked: {a}");
    // The key is the app's, not its maker's: it cannot make keys or reach the console's API.
    let r = post(
        &c,
        s.url("/api/v1/me/api-keys"),
        &key,
        json!({"name": "escape"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Three calls a minute: the fourth waits.
    assert_eq!(call().await.unwrap().status(), StatusCode::OK);
    assert_eq!(call().await.unwrap().status(), StatusCode::OK);
    let r = call().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    // Moved to addresses this caller is not on: refused; back, and unlimited: served.
    let edit = |ips: Value| {
        c.put(s.url(&format!("/api/v1/apps/{id}")))
            .bearer_auth(&rs)
            .json(&json!({"name": "低保审核系统", "ip_allow": ips, "per_minute": 0}))
            .send()
    };
    assert_eq!(
        edit(json!(["10.9.0.0/16"])).await.unwrap().status(),
        StatusCode::OK
    );
    let r = call().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(r).await, "ip_not_allowed");
    assert_eq!(edit(json!([])).await.unwrap().status(), StatusCode::OK);
    assert_eq!(call().await.unwrap().status(), StatusCode::OK);

    // Another department cannot suspend it; the bureau can, and the next call stops.
    let switch = s.url(&format!("/api/v1/apps/{id}/status"));
    let status = |who: String, body: Value| {
        let (c, url) = (c.clone(), switch.clone());
        async move { post(&c, url, &who, body).await }
    };
    let r = status(mz.clone(), json!({"suspended": true, "reason": "x"})).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = status(second.clone(), json!({"suspended": true})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a reason is required");
    let r = status(
        second.clone(),
        json!({"suspended": true, "reason": "调用异常，暂停核查"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = call().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "app_suspended");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("调用异常"),
        "{body}"
    );
    let r = status(rs.clone(), json!({"suspended": false})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(call().await.unwrap().status(), StatusCode::OK);
    // A revoked key stops at once.
    let r = c
        .delete(s.url(&format!("/api/v1/apps/{id}/keys/{key_id}")))
        .bearer_auth(&rs)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = call().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "api_key_revoked");

    let page = s.audit_page(&auditor, "limit=200").await;
    let acts = actions(&page);
    for want in [
        "app.create",
        "app.key_create",
        "app.edit",
        "app.refused",
        "app.suspend",
        "app.resume",
        "app.key_revoke",
    ] {
        assert!(acts.contains(&want), "{want} missing: {acts:?}");
    }
    let items = page["items"].as_array().unwrap();
    let by_app = format!("\"app\":{id}");
    assert!(items.iter().any(|r| r["action"] == "share.read"
        && r["outcome"] == "ok"
        && r["detail"].as_str().unwrap().contains(&by_app)));
    assert!(items.iter().any(|r| r["action"] == "app.refused"
        && r["detail"].as_str().unwrap().contains("ip_not_allowed")));
    s.stop().await;
}

/// The bureau runs `marriage-status`: every call is counted per consumer department (calls,
/// rows, refusals, p50/p99, trend) in the operation report and at `/metrics`; an SLA lists the
/// days that missed it; one consumer, then everybody, is cut off and restored; each switch is
/// audited and consumers may not see the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_is_monitored_held_to_its_sla_and_cut_off_per_consumer() {
    let s = TestServer::start().await;
    let Start {
        author,
        second,
        rs,
        auditor,
        rs_org,
    } = start(&s).await;
    s.department("CD-MZ", "成都市民政局", "mz", Role::Consumer)
        .await;
    let mz = s.key("mz").await;
    let c = Client::new();
    let id = published_service(&s, &c, &author, &second).await;
    granted(&s, &c, &rs, &second, json!({})).await;
    granted(&s, &c, &mz, &second, json!({})).await;
    let call = |key: &str, id_no: &str| {
        c.get(s.url(&format!("/api/v1/services/marriage-status/v1?id={id_no}")))
            .bearer_auth(key)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(call(&rs, ID).await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(
        call(&rs, "bad").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(call(&mz, ID).await.unwrap().status(), StatusCode::OK);

    let v = |path: &str| s.url(&format!("/api/v1/service-versions/{id}{path}"));
    let r = c
        .get(v("/operations"))
        .bearer_auth(&rs)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "consumers see no report");
    let ops = |key: String| {
        let (c, url) = (c.clone(), v("/operations?days=7"));
        async move {
            let r = c.get(url).bearer_auth(&key).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()
        }
    };
    let o = ops(author.clone()).await;
    assert_eq!(o["total"]["calls"], 5, "{o}");
    assert_eq!(o["total"]["refused"], 1);
    assert_eq!(o["total"]["rows"], 4);
    let mine = o["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["org_id"] == rs_org.0)
        .unwrap()
        .clone();
    assert_eq!(mine["org_name"], "成都市人社局");
    assert_eq!(mine["tally"]["calls"], 4);
    assert!(mine["p99_ms"].as_i64().unwrap() >= 1);
    assert!(mine["tally"]["last_at"].as_i64().unwrap() > 0);
    assert_eq!(mine["by_day"].as_array().unwrap().len(), 1);
    // An SLA no call can meet: today is listed as missed.
    let r = c
        .put(v("/sla"))
        .bearer_auth(&author)
        .json(&json!({"availability": 99.9, "p99_ms": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let o = ops(author.clone()).await;
    assert!(
        o["breaches"][0]["missed"].as_str().unwrap().contains("p99"),
        "{o}"
    );
    // Cut 人社 off: its next call stops, 民政's does not; then everybody; then restored.
    let cut = |body: Value| post(&c, v("/cutoffs"), &author, body);
    let r = cut(json!({"org_id": rs_org.0, "reason": "调用异常"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = call(&rs, ID).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "service_cut_off");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("调用异常")
    );
    assert_eq!(call(&mz, ID).await.unwrap().status(), StatusCode::OK);
    let r = cut(json!({"reason": "停机维护"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(call(&mz, ID).await.unwrap().status(), StatusCode::FORBIDDEN);
    for org in [0, rs_org.0] {
        let r = c
            .delete(v(&format!("/cutoffs/{org}")))
            .bearer_auth(&author)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(call(&rs, ID).await.unwrap().status(), StatusCode::OK);
    let o = ops(author.clone()).await;
    let mine = o["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["org_id"] == rs_org.0)
        .unwrap()
        .clone();
    assert_eq!(mine["tally"]["refused"], 2, "the bad value and the cut-off");
    assert!(mine["cut_off"].is_null());

    // At /metrics, per service, version, consumer and outcome.
    let text = c
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ok = format!(
        "yishu_service_calls_total{{service=\"marriage-status\",version=\"v1\",consumer=\"{}\",outcome=\"ok\"}} 4",
        rs_org.0
    );
    assert!(text.contains(&ok), "{text}");
    assert!(text.contains("yishu_service_latency_seconds_bucket{service=\"marriage-status\""));
    let page = s.audit_page(&auditor, "limit=200").await;
    let acts = actions(&page);
    for want in ["service.sla", "service.cut_off", "service.restore"] {
        assert!(acts.contains(&want), "{want} missing: {acts:?}");
    }
    s.stop().await;
}

/// A function API: `identity-marriage` verifies a person's name, then (only when it matched)
/// reads their marital status through `marriage-status`; one call, one read-audit record per
/// step read, each on the caller's own grant for what the step calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_api_verifies_then_reads_each_step_through_its_grant() {
    let s = TestServer::start().await;
    let Start {
        author,
        second,
        rs,
        auditor,
        ..
    } = start(&s).await;
    let c = Client::new();
    published_service(&s, &c, &author, &second).await;
    let v = |path: &str| s.url(&format!("/api/v1/service-versions{path}"));
    let mut f = json!({
        "name": "identity-marriage", "title": "身份核验后查询婚姻状况",
        "params": [
            {"name": "id", "kind": {"type": "string", "min_len": 18, "max_len": 18}, "placement": "query", "required": true},
            {"name": "name", "kind": {"type": "string", "min_len": 1, "max_len": 50}, "placement": "query", "required": true}
        ],
        "steps": [
            {"name": "identity", "call": "verify:population", "with": {"key": ":id", "姓名": ":name"}, "stop_unless_matched": true},
            {"name": "marriage", "call": "service:marriage-status", "with": {"id": ":id"}}
        ]
    });
    // A step calling what does not exist, or mapping what the API does not declare: refused.
    f["steps"][1]["call"] = json!("service:nope");
    let r = post(&c, v(""), &author, f.clone()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "service_invalid");
    f["steps"][1]["call"] = json!("service:marriage-status");
    f["steps"][1]["with"]["id"] = json!(":nope");
    let r = post(&c, v(""), &author, f.clone()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    f["steps"][1]["with"]["id"] = json!(":id");
    let r = post(&c, v(""), &author, f).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let svc: Value = r.json().await.unwrap();
    let id = svc["id"].as_i64().unwrap();
    let outputs: Vec<&str> = svc["checked"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        outputs,
        [
            "identity.found",
            "identity.姓名",
            "marriage.姓名",
            "marriage.婚姻状况"
        ]
    );
    let steps = [
        (
            "test",
            &author,
            json!({"params": {"id": ID, "name": "张小三"}}),
        ),
        ("review", &second, json!({"approve": true})),
        ("publish", &author, json!({})),
    ];
    for (step, who, body) in steps {
        let r = post(&c, v(&format!("/{id}/{step}")), who, body).await;
        assert_eq!(r.status(), StatusCode::OK, "{step}");
        if step == "test" {
            let t: Value = r.json().await.unwrap();
            assert_eq!(
                t["answer"]["rows"][0],
                json!(["true", "match", "张小三", "20"])
            );
        }
    }
    let call = |name: &str| {
        c.get(s.url(&format!(
            "/api/v1/services/identity-marriage/v1?id={ID}&name={name}"
        )))
        .bearer_auth(&rs)
        .send()
    };
    // Without a grant for the verification, the first step stops the call.
    granted(&s, &c, &rs, &second, json!({"masks": {"姓名": "partial"}})).await;
    let r = call("张小三").await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // 人社 applies to verify names too.
    let now = now_ms();
    let app: Value = post(
        &c,
        s.url("/api/v1/share/applications"),
        &rs,
        json!({"target": "verify:population", "items": ["姓名"], "purpose": "身份核验",
            "legal_basis": "《社会保险法》", "scenario": "待遇资格认证", "period_from": now,
            "period_to": now + 30 * 86_400_000i64, "expected_volume": "少量", "contact": "人社局"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let r = post(
        &c,
        s.url(&format!(
            "/api/v1/share/applications/{}/decision",
            app["id"]
        )),
        &second,
        json!({"approve": true, "reason": "同意"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let before = reads(&s, &auditor).await;
    let r = call("张小三").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let a: Value = r.json().await.unwrap();
    let row = a["rows"][0].as_array().unwrap();
    assert_eq!(row[0], "true");
    assert_eq!(row[1], "match");
    let masked = row[2].as_str().unwrap();
    assert!(masked != "张小三" && masked.starts_with('张'), "{a}");
    assert_eq!(row[3], "20");
    assert_eq!(
        reads(&s, &auditor).await,
        before + 2,
        "one record per step read"
    );
    // The wrong name: the verification says so and nothing else is read.
    let r = call("李四").await.unwrap();
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["rows"][0], json!(["true", "mismatch", "", ""]));
    assert_eq!(reads(&s, &auditor).await, before + 3);
    // Its page shows the steps and what each one calls.
    let html = s.page(&format!("/console/services/{id}"), &author).await;
    assert!(
        html.contains("编排步骤") && html.contains("verify:population"),
        "{html}"
    );
    s.stop().await;
}

/// Successful reads in the read audit.
async fn reads(s: &TestServer, auditor: &str) -> usize {
    let page = s.audit_page(auditor, "limit=500").await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "share.read" && r["outcome"] == "ok")
        .count()
}

/// Where every test here starts: the bureau with two data managers (`reviewer` writes,
/// `reviewer2` reviews) and its auditor, 人社 as a consumer department, the population library.
struct Start {
    author: String,
    second: String,
    rs: String,
    auditor: String,
    rs_org: yishu_types::OrgId,
}

async fn start(s: &TestServer) -> Start {
    bureau_users(s).await;
    let dsj = s.store.get_org_by_code("DSJ").await.unwrap().id;
    s.store.set_bureau(dsj).await.unwrap();
    s.user("reviewer2", dsj, Role::DataManager).await;
    let rs_org = s
        .department("CD-RS", "成都市人社局", "rs", Role::Consumer)
        .await;
    population(s).await;
    Start {
        author: s.key("reviewer").await,
        second: s.key("reviewer2").await,
        rs: s.key("rs").await,
        auditor: s.key("auditor").await,
        rs_org,
    }
}

/// A data service the bureau runs over a department's resource reads that department's data:
/// the department's "who used my data" lists the service's grant with its calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_sees_the_calls_of_a_bureau_service_over_its_data() {
    use std::sync::Arc;
    use yishu_lake::datafusion::arrow::array::{RecordBatch, StringArray};
    use yishu_lake::datafusion::arrow::datatypes::{DataType, Field, Schema};
    let s = TestServer::start().await;
    let Start {
        author, second, rs, ..
    } = start(&s).await;
    let c = Client::new();
    let officer = s.key("provider_officer").await;
    let entry = json!({
        "class_kind": "department", "class_path": "01001001", "name": "户籍人口", "provider_org_id": s.dept.0,
        "summary": "公安局登记的户籍人口", "format": "database",
        "share_type": "conditional", "share_condition": "《居民身份证法》第十三条",
        "open_type": "never", "update_cycle": "daily",
        "items": [{"name": "公民身份号码", "item_type": "C", "length": 18}, {"name": "姓名", "item_type": "C", "length": 50}]
    });
    let rid = common::published(&s, &c, &officer, &author, entry).await;
    let table = s.store.get_resource(rid).await.unwrap().table();
    let schema = Arc::new(Schema::new(
        ["公民身份号码", "姓名", "_batch_id"]
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec![ID])),
            Arc::new(StringArray::from(vec!["张小三"])),
            Arc::new(StringArray::from(vec!["b1"])),
        ],
    )
    .unwrap();
    s.lake()
        .append(
            yishu_lake::Layer::Std,
            &table,
            vec![batch],
            Default::default(),
        )
        .await
        .unwrap();

    // The bureau's service over 公安's table, published and granted to 人社.
    let mut d = definition();
    d["name"] = json!("huji-name");
    d["title"] = json!("户籍姓名查询");
    d["sql"] = json!(format!(
        "SELECT 姓名 FROM std.{table} WHERE 公民身份号码 = :id"
    ));
    let v = |path: &str| s.url(&format!("/api/v1/service-versions{path}"));
    let svc: Value = post(&c, v(""), &author, d).await.json().await.unwrap();
    let id = svc["id"].as_i64().expect("defined");
    for (step, who, body) in [
        ("test", &author, json!({"params": {"id": ID}})),
        ("review", &second, json!({"approve": true})),
        ("publish", &author, json!({})),
    ] {
        let r = post(&c, v(&format!("/{id}/{step}")), who, body).await;
        assert_eq!(r.status(), StatusCode::OK, "{step}");
    }
    let now = now_ms();
    let app: Value = post(
        &c,
        s.url("/api/v1/share/applications"),
        &rs,
        json!({"target": "service:huji-name", "items": ["姓名"],
            "purpose": "低保审核", "legal_basis": "《社会救助暂行办法》", "scenario": "低保资格复核",
            "period_from": now, "period_to": now + 90 * 86_400_000i64,
            "expected_volume": "每日约 500 次", "contact": "人社局 028-1234"}),
    )
    .await
    .json()
    .await
    .unwrap();
    // A conditional resource makes the service conditional: 公安 is not asked, the bureau decides.
    let url = s.url(&format!(
        "/api/v1/share/applications/{}/decision",
        app["id"]
    ));
    let done: Value = post(
        &c,
        url,
        &author,
        json!({"approve": true, "reason": "符合条件"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(done["status"], "granted", "{done}");
    for _ in 0..3 {
        let r = c
            .get(s.url(&format!("/api/v1/services/huji-name/v1?id={ID}")))
            .bearer_auth(&rs)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    // 公安's officer sees who used its data through the service.
    let usage = common::get_json(&c, s.url("/api/v1/share/usage"), &officer).await;
    let through = usage
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["grant"]["target"] == "service:huji-name")
        .unwrap_or_else(|| panic!("the service's grant is in 公安's usage: {usage}"));
    assert_eq!(through["calls"], 3, "{through}");
    assert_eq!(through["rows"], 3, "{through}");
    s.stop().await;
}
