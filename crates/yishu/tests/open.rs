//! The demo's open data through the real binary: `yishu demo` opens four datasets; served, CKAN
//! clients and the portal see exactly those, downloads leave the numbers that identify people
//! out, and the conditionally open one asks for approval.

mod common;

use common::{demo, serve};
use serde_json::Value;

/// Whether `cell` looks like a 公民身份号码.
fn id_like(cell: &str) -> bool {
    let b = cell.trim().as_bytes();
    b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_opens_four_datasets_to_the_public() {
    let (_home, dir, text) = demo(600);
    assert!(text.contains("open data: 市场主体登记信息"), "{text}");
    let s = serve(&dir).await;
    let c = reqwest::Client::new();
    let v: Value = c
        .get(format!("{}/api/3/action/package_search?rows=10", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["result"]["count"], 4, "{v}");
    let results = v["result"]["results"].as_array().unwrap();
    let name_of = |title: &str| {
        results
            .iter()
            .find(|r| r["title"] == title)
            .unwrap_or_else(|| panic!("{title} is open: {v}"))["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for title in ["市场主体登记信息", "最低生活保障对象信息", "婚姻登记信息"]
    {
        let url = format!("{}/open/datasets/{}/download.csv", s.base, name_of(title));
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{url}");
        let body = String::from_utf8(r.bytes().await.unwrap()[3..].to_vec()).unwrap();
        assert!(body.lines().count() > 1, "{title} has rows: {body}");
        let cells: Vec<&str> = body.lines().flat_map(|l| l.split(',')).collect();
        assert!(
            !cells.iter().any(|x| id_like(x)),
            "{title} leaves ID numbers out"
        );
    }
    let r = c
        .get(format!(
            "{}/api/3/action/datastore_search?resource_id={}",
            s.base,
            name_of("住房公积金缴存信息")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403, "conditional: approval first");
    let home = c
        .get(format!("{}/", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("最低生活保障对象信息") && home.contains("婚姻登记信息"));
}
