//! The CKAN Action API over the open catalog, driven by the real `ckanapi` client from PyPI
//! (`scripts/test` installs it) the way a harvester or a data journalist's script would: the
//! published resources whose open attribute allows it are datasets; searched in Chinese, filtered
//! by department, faceted, shown one by one, dumped whole and crawled page by page; a resource
//! never to be opened does not exist there; bad requests get CKAN's error envelope.

mod common;

use common::{TestServer, bureau_users, published};
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
    published(
        &s,
        &c,
        &jt_key,
        &reviewer,
        entry(jt.0, "公交线路", "unconditional", &["公交", "交通"]),
    )
    .await;
    published(
        &s,
        &c,
        &jt_key,
        &reviewer,
        entry(jt.0, "公交站点", "conditional", &["公交"]),
    )
    .await;
    published(
        &s,
        &c,
        &ga,
        &reviewer,
        entry(s.dept.0, "户籍人口统计", "unconditional", &["人口"]),
    )
    .await;
    published(
        &s,
        &c,
        &ga,
        &reviewer,
        entry(s.dept.0, "在逃人员", "never", &[]),
    )
    .await;
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
    let never = s
        .store
        .all_resources()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.meta.name == "在逃人员")
        .unwrap();
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
    s.stop().await;
}
