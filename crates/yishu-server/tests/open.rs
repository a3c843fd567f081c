//! The CKAN Action API over the open catalog, driven by the real `ckanapi` client from PyPI
//! (`scripts/test` installs it) the way a harvester or a data journalist's script would: the
//! published resources whose open attribute allows it are datasets; searched in Chinese, filtered
//! by department, faceted, shown one by one, dumped whole and crawled page by page; a resource
//! never to be opened does not exist there; bad requests get CKAN's error envelope.

mod common;

use common::{TestServer, bureau_users, published, push_csv};
use reqwest::Client;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use yishu_types::Role;

/// The ckanapi command: `YISHU_CKANAPI`, the virtualenv `scripts/test` makes, or PATH.
fn ckanapi() -> PathBuf {
    if let Some(p) = std::env::var_os("YISHU_CKANAPI") {
        return p.into();
    }
    let venv = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/yishu-py/bin/ckanapi");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("ckanapi")
}

fn ckan(base: &str, args: &[&str]) -> String {
    let exe = ckanapi();
    // `dump` starts workers of `ckanapi` by name: its directory goes first on PATH.
    let mut path = exe
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
        .into_os_string();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let out = Command::new(&exe)
        .env("PATH", path)
        .args(args)
        .args(["-r", base])
        .output()
        .expect("ckanapi runs (scripts/test installs it from PyPI)");
    assert!(
        out.status.success(),
        "ckanapi {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn entry(provider: i64, name: &str, open: &str, keywords: &[&str]) -> Value {
    json!({
        "class_kind": "department", "class_path": "01001001", "name": name, "provider_org_id": provider,
        "summary": format!("{name}的开放数据"), "format": "database",
        "share_type": "unconditional", "open_type": open,
        "open_condition": if open == "conditional" { "经审核后开放" } else { "" },
        "update_cycle": "monthly", "extended": {"keywords": keywords},
        "items": [{"name": "名称", "item_type": "C", "length": 50}, {"name": "数量", "item_type": "N", "length": 10}]
    })
}

async fn call(c: &Client, url: String) -> (u16, Value) {
    let r = c.get(url).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Opens resource `id` to the public as `key`'s department decides: items, row filter, masks.
async fn open(s: &TestServer, c: &Client, key: &str, id: i64, terms: Value) -> (u16, Value) {
    let r = c
        .put(s.url(&format!("/api/v1/resources/{id}/opening")))
        .bearer_auth(key)
        .json(&terms)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ckan_clients_find_the_open_datasets_and_nothing_else() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let jt = s
        .department("CD-JT", "成都市交通运输局", "jt", Role::ProviderOfficer)
        .await;
    let c = Client::new();
    let (ga, jt_key, reviewer) = (
        s.key("provider_officer").await,
        s.key("jt").await,
        s.key("reviewer").await,
    );
    let mut opened = Vec::new();
    for (key, org, name, open_type, tags) in [
        (
            &jt_key,
            jt.0,
            "公交线路",
            "unconditional",
            &["公交", "交通"][..],
        ),
        (&jt_key, jt.0, "公交站点", "conditional", &["公交"][..]),
        (
            &ga,
            s.dept.0,
            "户籍人口统计",
            "unconditional",
            &["人口"][..],
        ),
    ] {
        let id = published(&s, &c, key, &reviewer, entry(org, name, open_type, tags)).await;
        opened.push((key, id));
    }
    let never = published(
        &s,
        &c,
        &ga,
        &reviewer,
        entry(s.dept.0, "在逃人员", "never", &[]),
    )
    .await;
    // Published is not open: nothing is listed until a department decides to open.
    let (_, listed) = call(&c, format!("{}/api/3/action/package_list", s.base)).await;
    assert_eq!(listed["result"], json!([]), "{listed}");
    for (key, id) in &opened {
        let (status, v) = open(&s, &c, key, *id, json!({})).await;
        assert_eq!(status, 200, "{v}");
    }
    // Never to be opened: refused, whoever asks.
    let (status, v) = open(&s, &c, &ga, never, json!({})).await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("不予开放"),
        "{v}"
    );
    let base = s.base.clone();

    // ckanapi: a Chinese search, one dataset, the departments.
    let found: Value =
        serde_json::from_str(&ckan(&base, &["action", "package_search", "q=公交"])).unwrap();
    assert_eq!(found["count"], 2, "{found}");
    let titles: Vec<&str> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"公交线路") && titles.contains(&"公交站点"),
        "{titles:?}"
    );
    let name = found["results"][0]["name"].as_str().unwrap().to_string();
    let shown: Value = serde_json::from_str(&ckan(
        &base,
        &["action", "package_show", &format!("id={name}")],
    ))
    .unwrap();
    assert_eq!(shown["name"], name.as_str());
    assert_eq!(shown["organization"]["name"], "cd-jt");
    assert_eq!(shown["num_resources"], 4);
    let faceted: Value = serde_json::from_str(&ckan(
        &base,
        &[
            "action",
            "package_search",
            "fq=tags:公交",
            "facet.field:[\"organization\",\"tags\"]",
            "rows=1",
        ],
    ))
    .unwrap();
    assert_eq!(faceted["count"], 2);
    assert_eq!(faceted["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        faceted["search_facets"]["organization"]["items"][0]["name"], "cd-jt",
        "{faceted}"
    );
    assert_eq!(
        faceted["search_facets"]["organization"]["items"][0]["count"],
        2
    );
    let orgs: Value = serde_json::from_str(&ckan(&base, &["action", "organization_list"])).unwrap();
    assert_eq!(orgs, json!(["cd-ga", "cd-jt"]));

    // ckanapi dump: every open dataset, the one never to be opened absent.
    let dump = ckan(&base, &["dump", "datasets", "--all", "-q"]);
    let titles: Vec<String> = dump
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["title"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(titles.len(), 3, "{dump}");
    assert!(!titles.iter().any(|t| t == "在逃人员"));

    // A harvester's crawl: pages by id with a modification-time filter, until an empty page.
    let mut seen = Vec::new();
    for page in 0.. {
        let (status, v) = call(
            &c,
            format!("{base}/api/3/action/package_search?rows=1&start={page}&sort=id%20asc&fq=metadata_modified:%5B2000-01-01T00:00:00Z%20TO%20*%5D"),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        let rows = v["result"]["results"].as_array().unwrap();
        if rows.is_empty() {
            break;
        }
        seen.push(rows[0]["name"].as_str().unwrap().to_string());
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(
        (seen.len(), &seen),
        (3, &sorted),
        "ordered by id, each once"
    );

    // CKAN's errors: unknown action, too many rows, bad fq, a dataset that is not open.
    let (status, v) = call(&c, format!("{base}/api/action/no_such_action")).await;
    assert_eq!((status, v["success"].clone()), (400, json!(false)), "{v}");
    assert_eq!(v["error"]["__type"], "Bad Request");
    let (status, v) = call(&c, format!("{base}/api/3/action/package_search?rows=5000")).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"]["__type"], "Validation Error");
    let (status, v) = call(
        &c,
        format!("{base}/api/3/action/package_search?fq=nonsense"),
    )
    .await;
    assert_eq!(status, 409, "{v}");
    let never = s.store.get_resource(never).await.unwrap();
    let (status, v) = call(
        &c,
        format!(
            "{base}/api/3/action/package_show?id={}",
            never.code.replace('/', "-")
        ),
    )
    .await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["__type"], "Not Found Error");

    // include_private: a department's members also see its published datasets that are not
    // open, marked private and without a public download; nobody else does.
    let private: Value = serde_json::from_str(&ckan(
        &base,
        &[
            "action",
            "package_search",
            "include_private=true",
            "fq=organization:cd-ga",
            "-a",
            &ga,
        ],
    ))
    .unwrap();
    assert_eq!(private["count"], 2, "{private}");
    let hidden = private["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["title"] == "在逃人员")
        .expect("the department's own dataset");
    assert_eq!(
        (&hidden["private"], &hidden["num_resources"]),
        (&json!(true), &json!(0))
    );
    let by = |key: Option<&str>, q: &str| {
        let mut r = c.get(format!("{base}/api/3/action/{q}"));
        if let Some(k) = key {
            r = r.header("X-CKAN-API-Key", k);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let search = "package_search?include_private=true&fq=organization:cd-ga";
    for key in [None, Some(jt_key.as_str())] {
        let (_, v) = by(key, search).await;
        assert_eq!(v["result"]["count"], 1, "{v}");
    }
    let show = format!("package_show?id={}", never.code.replace('/', "-"));
    let (status, v) = by(Some(&ga), &show).await;
    assert_eq!(
        (status, &v["result"]["private"]),
        (200, &json!(true)),
        "{v}"
    );
    assert_eq!(by(Some(&jt_key), &show).await.0, 404);
    s.stop().await;
}

fn gate_entry(provider: i64, name: &str, open: &str) -> Value {
    json!({
        "class_kind": "department", "class_path": "01001001", "name": name, "provider_org_id": provider,
        "summary": format!("{name}（测试）"), "format": "database",
        "share_type": "unconditional", "open_type": open,
        "open_condition": if open == "conditional" { "经审核的科研机构" } else { "" },
        "update_cycle": "monthly", "extended": {"keywords": ["公交"]},
        "items": [{"name": "线路", "item_type": "C", "length": 50}, {"name": "站数", "item_type": "N", "length": 10},
                  {"name": "负责人身份号码", "item_type": "C", "length": 18}]
    })
}

const ROWS: &str = "线路,站数,负责人身份号码\n\
    1路,12,510107199001011234\n\
    2路,3,510107198502023456\n\
    <script>alert(1)</script>,5,510108197003035678\n\
    快速公交K1,1,51010719950404789X\n";

/// A server with the bureau's users and one published resource of [`ROWS`] in std.
struct World {
    s: TestServer,
    c: Client,
    officer: String,
    reviewer: String,
    consumer: String,
    id: i64,
}

async fn world() -> World {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let c = Client::new();
    let (officer, reviewer, consumer) = (
        s.key("provider_officer").await,
        s.key("reviewer").await,
        s.key("consumer").await,
    );
    let id = published(
        &s,
        &c,
        &officer,
        &reviewer,
        gate_entry(s.dept.0, "公交线路站数", "unconditional"),
    )
    .await;
    push_csv(&s, &c, &officer, id, ROWS, 4).await;
    World {
        s,
        c,
        officer,
        reviewer,
        consumer,
        id,
    }
}

/// The name clients address resource `id` by.
async fn dataset_name(s: &TestServer, id: i64) -> String {
    s.store
        .get_resource(id)
        .await
        .unwrap()
        .code
        .to_ascii_lowercase()
        .replace('/', "-")
}

async fn status_text(c: &Client, url: String) -> (u16, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Open data is a grant to the public read through the one gate: only the items and rows the
/// opening names, masked; downloads in four formats and `datastore_search` by anyone, audited
/// with the address truncated; conditional datasets per approved user; withdrawal and
/// destruction stop reads at once and leave the record; the portal shows all of it, escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_data_passes_the_gate() {
    let World {
        s,
        c,
        officer,
        reviewer,
        consumer,
        id,
    } = world().await;
    let name = dataset_name(&s, id).await;
    let base = s.base.clone();
    let download = |f: &str| format!("{base}/open/datasets/{name}/download.{f}");

    // Not open yet: the public does not see it.
    let (status, body) = status_text(&c, download("csv")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("dataset_not_found"), "{body}");

    // Only the providing department (or the bureau) decides; bad terms are refused in words.
    let (status, _) = open(&s, &c, &consumer, id, json!({})).await;
    assert_eq!(status, 403);
    let (status, v) = open(&s, &c, &officer, id, json!({"items": ["不存在"]})).await;
    assert_eq!(status, 400, "{v}");
    let terms = json!({"items": ["线路", "站数", "负责人身份号码"], "row_filter": "站数 >= 2",
        "masks": {"负责人身份号码": "hash"}});
    let (status, v) = open(&s, &c, &officer, id, terms).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "open");

    // datastore_search: the opened rows only, the number never in clear.
    let ds = |q: &str| format!("{base}/api/3/action/datastore_search?resource_id={name}-csv&{q}");
    let (status, v) = call(&c, ds("sort=站数%20desc")).await;
    assert_eq!(status, 200, "{v}");
    let r = &v["result"];
    assert_eq!(r["total"], 3, "{v}");
    assert_eq!(r["records"][0]["线路"], "1路");
    assert!(
        r["records"][0]["站数"].as_str().unwrap().starts_with("12"),
        "{v}"
    );
    let text = v.to_string();
    assert!(
        !text.contains("510107199001011234") && !text.contains("快速公交"),
        "{text}"
    );
    assert_ne!(r["records"][0]["负责人身份号码"], "");
    let (_, v) = call(&c, ds("q=2路&records_format=lists")).await;
    let found = &v["result"]["records"];
    assert_eq!(
        (found.as_array().unwrap().len(), &found[0][0]),
        (1, &json!("2路")),
        "{v}"
    );
    let (_, v) = call(&c, ds("records_format=csv&fields=线路&limit=1")).await;
    assert_eq!(v["result"]["records"], "1路\n", "{v}");
    // Filtering, searching or sorting by a masked item would tell its values: refused.
    let (status, v) = call(
        &c,
        ds("filters=%7B%22负责人身份号码%22%3A%22510107198502023456%22%7D"),
    )
    .await;
    assert_eq!(
        (status, v["error"]["__type"].as_str()),
        (409, Some("Validation Error")),
        "{v}"
    );
    let (status, _) = call(&c, ds("sort=负责人身份号码")).await;
    assert_eq!(status, 409);
    let (status, v) = call(&c, ds("q=510107198502023456")).await;
    assert_eq!(
        (status, v["result"]["total"].clone()),
        (200, json!(0)),
        "{v}"
    );
    let (status, _) = call(&c, ds("limit=40000")).await;
    assert_eq!(status, 409);
    let (status, v) = call(
        &c,
        format!("{base}/api/3/action/datastore_search?resource_id=nope"),
    )
    .await;
    assert_eq!(
        (status, v["error"]["__type"].as_str()),
        (404, Some("Not Found Error")),
        "{v}"
    );

    // Downloads: CSV with a BOM, JSON, a workbook, Parquet — the same rows, masked.
    let r = c.get(download("csv")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    let csv = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(
        csv.starts_with("线路,站数,负责人身份号码") && !csv.contains("510107"),
        "{csv}"
    );
    let json: Value = c
        .get(download("json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3, "{json}");
    let xlsx = c
        .get(download("xlsx"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(xlsx.starts_with(b"PK"));
    let parquet = c
        .get(download("parquet"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(parquet.starts_with(b"PAR1"));
    let (status, _) = status_text(&c, download("exe")).await;
    assert_eq!(status, 400);

    // Every read is audited; the anonymous reader by a truncated address only.
    let reads = s
        .store
        .list_audit(
            &yishu_meta::AuditFilter {
                action: Some("share.read".into()),
                ..Default::default()
            },
            100,
            0,
        )
        .await
        .unwrap();
    let open_reads: Vec<_> = reads
        .items
        .iter()
        .filter(|r| r.detail.contains("\"open_"))
        .collect();
    assert!(open_reads.len() >= 8, "{} open reads", open_reads.len());
    assert!(
        open_reads
            .iter()
            .all(|r| r.source_ip == "127.0.0.0" && r.actor_id.is_none())
    );
    assert!(
        open_reads.iter().any(|r| r.outcome == "denied"),
        "refusals are audited too"
    );

    // The portal: home, search, the dataset page with its preview and chart; input escaped.
    let (status, home) = status_text(&c, format!("{base}/")).await;
    assert_eq!(status, 200);
    assert!(home.contains("公交线路站数") && home.contains("公共数据开放门户"));
    let (_, found) = status_text(&c, format!("{base}/open/datasets?q=公交")).await;
    assert!(found.contains(&format!("/open/datasets/{name}")), "{found}");
    let (_, probe) = status_text(
        &c,
        format!("{base}/open/datasets?q=%3Cscript%3Ealert(2)%3C/script%3E&org=%22%3E%3Cb%3E"),
    )
    .await;
    assert!(
        !probe.contains("<script>alert(2)") && !probe.contains("\"><b>"),
        "reflected input is escaped"
    );
    let (status, page) = status_text(&c, format!("{base}/open/datasets/{name}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("id=\"preview\"") && page.contains("已脱敏"),
        "{page}"
    );
    assert!(
        !page.contains("<script>alert(1)") && page.contains("&#60;script&#62;alert(1)"),
        "{page}"
    );
    assert!(!page.contains("510107199001011234"));
    assert!(page.contains(&format!("/open/datasets/{name}/download.parquet")));
    let (status, _) = status_text(&c, format!("{base}/open/orgs/cd-ga")).await;
    assert_eq!(status, 200);

    // Withdrawn: reads stop at once, the record and reason stay; destroyed: never again.
    let end = |what: &str, reason: &str| {
        c.post(s.url(&format!("/api/v1/resources/{id}/opening/{what}")))
            .bearer_auth(&officer)
            .json(&json!({"reason": reason}))
            .send()
    };
    assert_eq!(
        end("withdrawal", "数据口径调整")
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let (status, body) = status_text(&c, download("csv")).await;
    assert_eq!(status, 410, "{body}");
    assert!(body.contains("dataset_withdrawn") && body.contains("数据口径调整"));
    let (status, _) = call(&c, ds("")).await;
    assert_eq!(status, 404);
    let (status, page) = status_text(&c, format!("{base}/open/datasets/{name}")).await;
    assert_eq!(status, 410);
    assert!(page.contains("已撤回") && page.contains("数据口径调整"));
    assert_eq!(
        end("destruction", "超过保存期限")
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let (status, v) = open(&s, &c, &officer, id, json!({})).await;
    assert_eq!(status, 410, "{v}");
    let (_, page) = status_text(&c, format!("{base}/open/datasets/{name}")).await;
    assert!(page.contains("已销毁") && page.contains("超过保存期限"));
    let history = get_opening(&s, &c, &officer, id).await;
    let events: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["opened", "withdrawn", "destroyed"]);

    // Conditional: anonymous and unapproved readers are refused; an approved user reads with
    // their key in CKAN's header until the access expires.
    let cond = published(
        &s,
        &c,
        &officer,
        &reviewer,
        gate_entry(s.dept.0, "公交客流", "conditional"),
    )
    .await;
    push_csv(&s, &c, &officer, cond, ROWS, 4).await;
    assert_eq!(open(&s, &c, &officer, cond, json!({})).await.0, 200);
    let cname = dataset_name(&s, cond).await;
    let cds = format!("{base}/api/3/action/datastore_search?resource_id={cname}");
    let (status, v) = call(&c, cds.clone()).await;
    assert_eq!(
        (status, v["error"]["__type"].as_str()),
        (403, Some("Authorization Error")),
        "{v}"
    );
    let keyed = |k: &str| c.get(&cds).header("X-CKAN-API-Key", k).send();
    assert_eq!(keyed(&consumer).await.unwrap().status().as_u16(), 403);
    let r = c
        .post(s.url("/api/v1/open-access"))
        .bearer_auth(&consumer)
        .json(&json!({"resource_id": cond, "purpose": "公交客流研究"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let application: Value = r.json().await.unwrap();
    assert_eq!(application["status"], "pending");
    let decide = |k: &str| {
        c.post(s.url(&format!(
            "/api/v1/open-access/{}/decision",
            application["id"]
        )))
        .bearer_auth(k)
        .json(&json!({"grant": true, "days": 30}))
        .send()
    };
    assert_eq!(
        decide(&consumer).await.unwrap().status().as_u16(),
        403,
        "not the consumer's to decide"
    );
    assert_eq!(decide(&officer).await.unwrap().status().as_u16(), 200);
    let r = keyed(&consumer).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result"]["total"], 4, "{v}");
    let (status, _) = call(&c, cds.clone()).await;
    assert_eq!(status, 403, "still closed to anonymous readers");
    // From the dataset page: a signed-in reader applies with the page's form.
    let page = c
        .get(s.url(&format!("/open/datasets/{cname}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"apply\"") && page.contains("/console/login"),
        "anonymous readers are asked to sign in"
    );
    let (browser, csrf) = s.login("outsider").await;
    let page = browser
        .get(s.url(&format!("/open/datasets/{cname}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("apply-form"), "{page}");
    let r = browser
        .post(s.url(&format!("/open/datasets/{cname}/applications")))
        .form(&[("purpose", "客流研究"), ("_csrf", "stale")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = browser
        .post(s.url(&format!("/open/datasets/{cname}/applications")))
        .form(&[("purpose", "客流与线网优化研究"), ("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "back on the page");
    assert!(r.text().await.unwrap().contains("pending"));

    // A flood of anonymous requests from one address is limited; the server stays up.
    let mut limited = 0;
    for _ in 0..130 {
        let r = c.get(ds("limit=1")).send().await.unwrap();
        if r.status().as_u16() == 429 {
            limited += 1;
        }
    }
    assert!(limited > 0, "anonymous reads are rate-limited per address");
    assert_eq!(
        keyed(&consumer).await.unwrap().status().as_u16(),
        200,
        "a registered reader has their own limit"
    );
    s.stop().await;
}

async fn get_opening(s: &TestServer, c: &Client, key: &str, id: i64) -> Value {
    c.get(s.url(&format!("/api/v1/resources/{id}/opening")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The python of the virtualenv `scripts/test` makes (rdflib, pyshacl), or PATH's.
fn python() -> PathBuf {
    let venv = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/yishu-py/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// The catalog as DCAT-AP 3 in Turtle, JSON-LD and RDF/XML parses with rdflib and conforms to
/// SHACL shapes written from the specification (pyshacl); pages link with hydra from the
/// configured address; `modified_since` narrows; dataset pages point at their descriptions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dcat_catalog_conforms_to_dcat_ap_3() {
    let s = TestServer::start().await;
    bureau_users(&s).await;
    let c = Client::new();
    let (officer, reviewer) = (s.key("provider_officer").await, s.key("reviewer").await);
    let mut names = Vec::new();
    for (name, tags) in [
        ("公交线路", &["公交", "交通"][..]),
        ("停车场", &["停车"][..]),
    ] {
        let id = published(
            &s,
            &c,
            &officer,
            &reviewer,
            entry(s.dept.0, name, "unconditional", tags),
        )
        .await;
        assert_eq!(open(&s, &c, &officer, id, json!({})).await.0, 200);
        names.push(dataset_name(&s, id).await);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (path, fmt, file) in [
        ("/catalog.ttl", "turtle", "catalog.ttl"),
        ("/catalog.jsonld", "json-ld", "catalog.jsonld"),
        ("/catalog.rdf", "xml", "catalog.rdf"),
        (
            &format!("/dataset/{}.ttl", names[0]),
            "turtle",
            "dataset.ttl",
        ),
        (
            &format!("/dataset/{}.jsonld", names[1]),
            "json-ld",
            "dataset.jsonld",
        ),
    ] {
        let r = c.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let body = r.bytes().await.unwrap();
        std::fs::write(dir.path().join(file), &body).unwrap();
        files.push(format!("{}:{fmt}", dir.path().join(file).display()));
    }
    let shapes = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/dcat-ap-3-shapes.ttl"
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/validate_dcat.py");
    let out = Command::new(python())
        .arg(script)
        .arg(shapes)
        .args(&files)
        .output()
        .expect("python runs (scripts/test installs rdflib and pyshacl)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 5);
    for r in &reports {
        assert_eq!(r["conforms"], true, "{}", r["report"]);
    }
    assert_eq!(
        (
            reports[0]["datasets"].clone(),
            reports[0]["distributions"].clone()
        ),
        (json!(2), json!(8))
    );
    // The three syntaxes carry the same graph.
    assert_eq!(reports[0]["triples"], reports[1]["triples"]);
    assert_eq!(reports[0]["triples"], reports[2]["triples"]);

    // Hydra paging from the request's address; modified_since narrows; bad input in words.
    let ttl = c
        .get(s.url("/catalog.ttl"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        ttl.contains("hydra:PartialCollectionView")
            && ttl.contains(&format!("{}/catalog.ttl?page=1", s.base)),
        "{ttl}"
    );
    assert!(ttl.contains("公交线路") && ttl.contains("dcat:downloadURL"));
    let later = c
        .get(s.url("/catalog.ttl?modified_since=2999-01-01"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !later.contains("dcat:Dataset") && later.contains("hydra:totalItems"),
        "{later}"
    );
    let r = c
        .get(s.url("/catalog.ttl?modified_since=yesterday"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = c.get(s.url("/catalog.ttl?page=0")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = c.get(s.url("/dataset/nope.ttl")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let page = c
        .get(s.url(&format!("/open/datasets/{}", names[0])))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!(
        "rel=\"alternate\" type=\"text/turtle\" href=\"/dataset/{}.ttl\"",
        names[0]
    )));
    s.stop().await;
}

async fn post_json(c: &Client, url: String, key: Option<&str>, body: Value) -> (u16, Value) {
    let mut r = c.post(url).json(&body);
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Society's part (R34): anyone asks for data and the department answers in public by a
/// deadline; signed-in readers rate datasets and their comments show once moderated; the
/// showcase lists applications once the bureau reviews them; and the openness evaluation per
/// department and period comes as JSON, a page and a workbook — every step audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn society_asks_rates_showcases_and_evaluates() {
    let World {
        s,
        c,
        officer,
        reviewer,
        consumer,
        id,
    } = world().await;
    assert_eq!(open(&s, &c, &officer, id, json!({})).await.0, 200);
    let name = dataset_name(&s, id).await;
    let api = |p: &str| s.url(&format!("/api/v1/open/{p}"));

    // Anyone asks, through the API or the portal's form; bad input is refused in words.
    let (status, asked) = post_json(
        &c,
        api("requests"),
        None,
        json!({"title": "公交实时到站", "description": "用于出行应用", "org": "cd-ga"}),
    )
    .await;
    assert_eq!(status, 200, "{asked}");
    assert_eq!(asked["status"], "open");
    assert_eq!(
        asked["due_at"].as_i64().unwrap() - asked["created_at"].as_i64().unwrap(),
        15 * 86_400_000
    );
    let (status, _) = post_json(
        &c,
        api("requests"),
        None,
        json!({"title": "", "description": "x"}),
    )
    .await;
    assert_eq!(status, 400);
    let r = c
        .post(s.url("/open/requests"))
        .form(&[
            ("title", "停车场空位"),
            ("description", "<b>实时</b>空位数"),
            ("org", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("需求已提交") && page.contains("停车场空位") && !page.contains("<b>实时"),
        "{page}"
    );
    // The department answers; nobody else may; once only.
    let answer = api(&format!("requests/{}/answer", asked["id"]));
    let (status, _) = post_json(
        &c,
        answer.clone(),
        Some(&consumer),
        json!({"outcome": "granted", "answer": "已开放"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, v) = post_json(
        &c,
        answer.clone(),
        Some(&officer),
        json!({"outcome": "granted", "answer": "已于本月开放公交到站数据"}),
    )
    .await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("answered")),
        "{v}"
    );
    let (status, _) = post_json(
        &c,
        answer,
        Some(&officer),
        json!({"outcome": "refused", "answer": "改变主意"}),
    )
    .await;
    assert_eq!(status, 409);
    let page = c
        .get(s.url("/open/requests"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("已于本月开放公交到站数据")
            && page.contains("同意开放")
            && page.contains("待答复")
    );

    // Ratings: signed-in readers only; comments shown once the department agrees, escaped.
    let (status, _) = post_json(
        &c,
        api("ratings"),
        None,
        json!({"dataset": name, "stars": 4}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post_json(
        &c,
        api("ratings"),
        Some(&consumer),
        json!({"dataset": name, "stars": 9}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, rating) = post_json(
        &c,
        api("ratings"),
        Some(&consumer),
        json!({"dataset": name, "stars": 4, "comment": "数据<i>很</i>及时"}),
    )
    .await;
    assert_eq!(
        (status, rating["status"].as_str()),
        (200, Some("pending")),
        "{rating}"
    );
    let dataset_page = || async {
        c.get(s.url(&format!("/open/datasets/{name}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert!(dataset_page().await.contains("暂无评价"));
    let moderate = api(&format!("ratings/{}/moderation", rating["id"]));
    let (status, _) = post_json(
        &c,
        moderate.clone(),
        Some(&consumer),
        json!({"status": "shown"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = post_json(&c, moderate, Some(&officer), json!({"status": "shown"})).await;
    assert_eq!(status, 200);
    let page = dataset_page().await;
    assert!(
        page.contains("4.0 / 5") && page.contains("数据&#60;i&#62;很") && !page.contains("<i>很"),
        "{page}"
    );

    // The showcase: submitted by a signed-in user, shown once the bureau reviews it.
    let (status, _) = post_json(
        &c,
        api("showcase"),
        Some(&consumer),
        json!({"title": "公交助手", "description": "到站提醒", "url": "javascript:alert(1)"}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, entry) = post_json(&c, api("showcase"), Some(&consumer), json!({"title": "公交助手", "description": "到站提醒应用", "url": "https://example.org/bus", "datasets": [name]})).await;
    assert_eq!(status, 200, "{entry}");
    assert!(
        !c.get(s.url("/open/showcase"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("公交助手")
    );
    let review = api(&format!("showcase/{}/moderation", entry["id"]));
    assert_eq!(
        post_json(
            &c,
            review.clone(),
            Some(&officer),
            json!({"status": "shown"})
        )
        .await
        .0,
        403
    );
    assert_eq!(
        post_json(&c, review, Some(&reviewer), json!({"status": "shown"}))
            .await
            .0,
        200
    );
    assert!(
        c.get(s.url("/open/showcase"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("公交助手")
    );

    // The evaluation: the department's indicators and score, as JSON, a page and a workbook.
    let v: Value = c
        .get(api("evaluation"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(
        (rows[0]["org"].as_str(), rows[0]["datasets"].as_i64()),
        (Some("cd-ga"), Some(1))
    );
    assert_eq!(rows[0]["response"], 100.0, "answered on time: {v}");
    assert_eq!(rows[0]["machine_readable"], 100.0);
    assert!(rows[0]["score"].as_f64().unwrap() > 50.0, "{v}");
    let r = c
        .get(api("evaluation?from=2031-01-01&to=2030-01-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let page = c
        .get(s.url("/open/evaluation"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("成都市公安局") && page.contains("evaluation-xlsx"));
    let xlsx = c
        .get(api("evaluation.xlsx"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    use calamine::Reader as _;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.to_vec())).unwrap();
    let sheet = wb.worksheet_range("开放评价").unwrap();
    let cells: Vec<String> = sheet
        .rows()
        .flat_map(|r| r.iter().map(|c| c.to_string()))
        .collect();
    assert!(
        cells.iter().any(|c| c == "成都市公安局") && cells.iter().any(|c| c == "综合得分"),
        "{cells:?}"
    );

    // Every step is in the audit.
    for action in [
        "open.request",
        "open.answer",
        "open.rate",
        "open.moderate",
        "open.showcase",
    ] {
        let found = s
            .store
            .list_audit(
                &yishu_meta::AuditFilter {
                    action: Some(action.into()),
                    ..Default::default()
                },
                10,
                0,
            )
            .await
            .unwrap();
        assert!(!found.items.is_empty(), "{action} is audited");
    }
    s.stop().await;
}

/// A developer registers on the portal (no role inside the platform: a member of the public
/// who signs in to make API keys) and signs in; registrations are limited per address and
/// audited with the address truncated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn developers_register_on_the_portal() {
    let s = TestServer::start().await;
    let c = Client::new();
    let form = |name: &str, p2: &str| {
        vec![
            ("name".to_string(), name.to_string()),
            ("display_name".to_string(), "某科技公司".to_string()),
            ("password".to_string(), "公交 数据 开发 2026".to_string()),
            ("password2".to_string(), p2.to_string()),
        ]
    };
    let r = c
        .post(s.url("/open/register"))
        .form(&form("dev1", "不一样的密码 123"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("differ"));
    let r = c
        .post(s.url("/open/register"))
        .form(&form("dev1", "公交 数据 开发 2026"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("注册成功"));
    let u = s.store.get_user_by_name("dev1").await.unwrap();
    assert!(u.roles.is_empty(), "no role inside the platform");
    assert_eq!(s.store.get_org(u.org_id).await.unwrap().code, "_public");
    // The name is taken now; the address soon runs out of registrations.
    let r = c
        .post(s.url("/open/register"))
        .form(&form("dev1", "公交 数据 开发 2026"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let mut limited = false;
    for i in 0..6 {
        let r = c
            .post(s.url("/open/register"))
            .form(&form(&format!("bot{i}"), "公交 数据 开发 2026"))
            .send()
            .await
            .unwrap();
        limited |= r.status().as_u16() == 429;
    }
    assert!(limited, "registrations are limited per address");
    let r = c
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"name": "dev1", "password": "公交 数据 开发 2026"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let registered = s
        .store
        .list_audit(
            &yishu_meta::AuditFilter {
                action: Some("user.register".into()),
                ..Default::default()
            },
            10,
            0,
        )
        .await
        .unwrap();
    // dev1, and the two bots before the limit (five tries a minute: two refused ones count).
    assert_eq!(registered.items.len(), 3);
    assert!(registered.items.iter().all(|e| e.source_ip == "127.0.0.0"));
    assert!(registered.items.iter().any(|e| e.detail.contains("dev1")));
    s.stop().await;
}

/// A department runs its open data from the console: opens a resource choosing items, rows and
/// masks; decides an application; answers a request and moderates a comment in public; and
/// withdraws the dataset with a reason — each through a form, each taking effect at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn departments_run_open_data_from_the_console() {
    let World { s, c, id, .. } = world().await;
    let name = dataset_name(&s, id).await;
    let (officer, csrf) = s.login("provider_officer").await;
    let (consumer, consumer_csrf) = s.login("consumer").await;
    let page = |c: &Client, path: String| {
        let c = c.clone();
        async move {
            let r = c.get(path).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let post = |c: &Client, path: String, form: Vec<(&str, &str)>| {
        let c = c.clone();
        let form: Vec<(String, String)> = form
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        async move {
            let r = c.post(path).form(&form).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };

    // The department's published resources, not yet open.
    let (status, html) = page(&officer, s.url("/console/open")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("公交线路站数") && html.contains(r#"data-state="not_open""#),
        "{html}"
    );
    let (status, html) = page(&officer, s.url(&format!("/console/open/{id}"))).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"name="mask.负责人身份号码""#), "{html}");

    // Opening through the form: two items, some rows; a forged form and an outsider are refused.
    let decide = s.url(&format!("/console/open/{id}"));
    fn terms(token: &str) -> Vec<(&str, &str)> {
        vec![
            ("_csrf", token),
            ("item", "线路"),
            ("item", "站数"),
            ("mask.线路", "keep"),
            ("mask.站数", "keep"),
            ("mask.负责人身份号码", "keep"),
            ("row_filter", "站数 >= 2"),
        ]
    }
    assert_eq!(post(&officer, decide.clone(), terms("forged")).await.0, 403);
    let (status, html) = post(&consumer, decide.clone(), terms(&consumer_csrf)).await;
    assert_eq!(status, 403, "{html}");
    let token = csrf.as_str();
    let mut bad = terms(token);
    bad.retain(|(k, _)| *k != "row_filter");
    bad.push(("row_filter", "站数 >>> 2"));
    let (status, html) = post(&officer, decide.clone(), bad).await;
    assert_eq!(status, 400, "a bad row filter is refused in words");
    assert!(html.contains("站数"), "{html}");
    let (status, html) = post(&officer, decide.clone(), terms(token)).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"data-state="open""#), "{html}");
    // At once: the public reads the two items and the three rows, nothing else.
    let (status, v) = call(
        &c,
        s.url(&format!(
            "/api/3/action/datastore_search?resource_id={name}"
        )),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["result"]["total"], 3, "{v}");
    let fields: Vec<&str> = v["result"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(fields, ["线路", "站数"], "{v}");
    assert!(!v.to_string().contains("510107"), "{v}");

    // The public's part waits on the console: an application, a request, a comment.
    let reader = s.store.get_user_by_name("consumer").await.unwrap();
    let applied = s
        .store
        .apply_open_access(id, reader.id, "出行应用研发")
        .await
        .unwrap();
    let (_, asked) = post_json(
        &c,
        s.url("/api/v1/open/requests"),
        None,
        json!({"title": "公交实时到站", "description": "用于出行应用", "org": "cd-ga"}),
    )
    .await;
    let rating = s
        .store
        .rate(id, reader.id, 2, "<i>站数</i>不全")
        .await
        .unwrap();
    let (_, html) = page(&officer, s.url("/console/open")).await;
    assert!(
        html.contains("出行应用研发")
            && html.contains("公交实时到站")
            && html.contains("&#60;i&#62;站数")
            && !html.contains("<i>站数"),
        "{html}"
    );
    let (status, html) = post(
        &officer,
        s.url(&format!("/console/open/access/{}", applied.id)),
        vec![
            ("_csrf", token),
            ("granted", "yes"),
            ("days", "30"),
            ("reason", ""),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let a = s.store.open_access(applied.id).await.unwrap();
    assert_eq!(a.status, "granted");
    let days = (a.expires_at - yishu_meta::now_ms()) / 86_400_000;
    assert!((29..=30).contains(&days), "{days}");
    let (status, _) = post(
        &officer,
        s.url(&format!("/console/open/requests/{}", asked["id"])),
        vec![
            ("_csrf", token),
            ("outcome", "partly"),
            ("answer", "站点数据已开放，实时到站待接入"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let (_, public) = page(&c, s.url("/open/requests")).await;
    assert!(public.contains("实时到站待接入"), "{public}");
    let (status, _) = post(
        &officer,
        s.url(&format!("/console/open/ratings/{}", rating.id)),
        vec![("_csrf", token), ("status", "shown")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(s.store.rating(rating.id).await.unwrap().status, "shown");
    // The showcase is the bureau's: a department officer cannot approve an entry.
    let (status, _) = post(
        &officer,
        s.url("/console/open/showcase/1"),
        vec![("_csrf", token), ("status", "shown")],
    )
    .await;
    assert!(status == 403 || status == 404, "{status}");

    // Withdrawn with a reason: reads stop at once, the reason is public, the history kept.
    let end = s.url(&format!("/console/open/{id}/end"));
    let (status, _) = post(
        &officer,
        end.clone(),
        vec![("_csrf", token), ("to", "withdrawn"), ("reason", "")],
    )
    .await;
    assert_eq!(status, 400, "a withdrawal needs its reason");
    let (status, html) = post(
        &officer,
        end,
        vec![
            ("_csrf", token),
            ("to", "withdrawn"),
            ("reason", "线路调整，数据更新中"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(r#"data-state="withdrawn""#) && html.contains("opened"),
        "{html}"
    );
    let (status, body) =
        status_text(&c, s.url(&format!("/open/datasets/{name}/download.csv"))).await;
    assert_eq!(status, 410, "{body}");
    assert!(body.contains("线路调整"), "{body}");
}

/// Markup sent in any parameter of any public page — query, path, form — comes back escaped or
/// not at all; what is not HTML is not served as HTML; the language switch never sends a reader
/// to another site.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_public_page_reflects_markup() {
    let World {
        s, c, officer, id, ..
    } = world().await;
    assert_eq!(open(&s, &c, &officer, id, json!({})).await.0, 200);
    let name = dataset_name(&s, id).await;
    const PAYLOADS: [&str; 3] = [
        "\"><script>alert(7)</script>",
        "'><img src=x onerror=alert(7)>",
        "javascript:alert(7)",
    ];
    let enc = |p: &str| -> String { url::form_urlencoded::byte_serialize(p.as_bytes()).collect() };
    let clean = |what: &str, body: &str| {
        assert!(
            !body.contains("<script>alert(7)") && !body.contains("<img src=x onerror"),
            "{what} reflects markup: {body}"
        );
        assert!(
            !body.contains("href=\"javascript:") && !body.contains("src=\"javascript:"),
            "{what} links to script: {body}"
        );
    };
    let mut probes = Vec::new();
    for p in PAYLOADS {
        let e = enc(p);
        for k in ["q", "org", "tag", "type", "kind", "sort", "page"] {
            probes.push(format!("/open/datasets?{k}={e}"));
        }
        for path in [
            format!("/?q={e}"),
            format!("/open/datasets/{e}"),
            format!("/open/datasets/{name}?q={e}"),
            format!("/open/orgs/{e}"),
            format!("/open/requests?q={e}"),
            format!("/open/showcase?q={e}"),
            format!("/open/register?name={e}"),
            format!("/open/evaluation?from={e}"),
            format!("/open/evaluation?to={e}"),
            format!("/open/datasets/{name}/download.{e}"),
            format!("/dataset/{e}.ttl"),
            format!("/catalog.ttl?page={e}"),
            format!("/catalog.jsonld?modified_since={e}"),
            format!("/api/3/action/package_search?q={e}"),
            format!("/api/3/action/package_search?fq={e}"),
            format!("/api/3/action/package_show?id={e}"),
            format!("/api/3/action/{e}"),
            format!("/api/3/action/datastore_search?resource_id={name}&q={e}"),
            format!("/api/3/action/datastore_search?resource_id={e}"),
        ] {
            probes.push(path);
        }
    }
    for path in &probes {
        let r = c.get(s.url(path)).send().await.unwrap();
        let html = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html"));
        let body = r.text().await.unwrap();
        if html {
            clean(path, &body);
        } else {
            // JSON, Turtle and the like may carry the text; a browser never renders them.
            assert!(
                !body.trim_start().starts_with('<') || !body.contains("alert(7)"),
                "{path}: {body}"
            );
        }
    }
    // Forms echo what was sent, escaped.
    let (_, csrf) = s.login("consumer").await;
    for p in PAYLOADS {
        for (path, form) in [
            (
                "/open/requests".to_string(),
                vec![("title", p), ("description", p), ("org", p)],
            ),
            (
                "/open/register".to_string(),
                vec![
                    ("name", p),
                    ("display_name", p),
                    ("password", p),
                    ("password2", "x"),
                ],
            ),
            (
                format!("/open/datasets/{name}/applications"),
                vec![("purpose", p), ("_csrf", csrf.as_str())],
            ),
        ] {
            let r = c.post(s.url(&path)).form(&form).send().await.unwrap();
            let body = r.text().await.unwrap();
            clean(&path, &body);
        }
    }
    // The language switch goes back to a path of this site only.
    let stay = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for back in [
        "//evil.example/",
        "/\\evil.example/",
        "https://evil.example/",
        "javascript:alert(7)",
        "/open/x\r\nSet-Cookie: a=b",
    ] {
        let r = stay
            .get(s.url(&format!("/console/lang?to=en&back={}", enc(back))))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            "/console",
            "{back}"
        );
    }
    let r = stay
        .get(s.url("/console/lang?to=en&back=%2Fopen%2Fdatasets"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/open/datasets");
}
