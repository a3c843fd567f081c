//! Batch comparison (批量比对) on the fused demo city through the real server: a list of people
//! with numbers right, missing or mistyped, and people the city does not have, linked by the
//! fusion's own linker — by key, by the model, or not at all — with the subject as the caller
//! may see it: in clear for the bureau, masked and only the granted items for 人社.

mod common;

use common::{demo, password_of, serve, sign_in};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_is_linked_to_the_library_by_key_by_model_or_not_at_all() {
    let (_home, dir, text) = demo(1500);
    let served = serve(&dir).await;
    let base = served.base.clone();
    let (manager, m_csrf) = sign_in(&base, "manager", &password_of(&text, "manager")).await;
    let (consumer, c_csrf) = sign_in(&base, "consumer", &password_of(&text, "consumer")).await;
    let people: Vec<Value> = manager
        .get(format!("{base}/api/v1/base/person?limit=200"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let full: Vec<&Value> = people
        .iter()
        .filter(|p| {
            ["subject_key", "姓名", "出生日期", "性别"]
                .iter()
                .all(|c| p[*c].as_str().is_some_and(|v| !v.is_empty()))
                && p["subject_key"].as_str().unwrap().len() == 18
        })
        .take(30)
        .collect();
    assert_eq!(full.len(), 30, "thirty whole people in the library");
    let row = |p: &Value, id: &str| {
        json!({"身份证号": id, "姓名": p["姓名"], "出生日期": p["出生日期"],
            "性别": if p["性别"] == "1" { "男" } else { "女" }})
    };
    let mut records = Vec::new();
    for (i, p) in full.iter().enumerate() {
        let key = p["subject_key"].as_str().unwrap();
        records.push(match i % 3 {
            0 => row(p, key),
            1 => row(p, ""),
            // One digit of the sequence mistyped.
            _ => {
                let mut k: Vec<char> = key.chars().collect();
                k[15] = if k[15] == '9' {
                    '0'
                } else {
                    char::from(k[15] as u8 + 1)
                };
                row(p, &k.into_iter().collect::<String>())
            }
        });
    }
    for i in 1..=5 {
        records.push(json!({"身份证号": "", "姓名": format!("欧阳不存在{i}"),
            "出生日期": format!("1901-01-0{i}"), "性别": "男"}));
    }
    let body = json!({"records": records, "mapping": {"身份证号": "公民身份号码"}});
    let url = format!("{base}/api/v1/comparisons/population");
    let r = manager
        .post(&url)
        .header("x-csrf-token", &m_csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let got: Value = r.json().await.unwrap();
    let results = got["results"].as_array().unwrap();
    assert_eq!(results.len(), 35);
    let mut right = 0;
    for (i, p) in full.iter().enumerate() {
        let res = &results[i];
        let class = res["class"].as_str().unwrap();
        if i % 3 == 0 {
            assert_eq!(class, "key", "{res}");
        }
        if res["subject"]["subject_key"] == p["subject_key"] {
            right += 1;
            assert!(["key", "model"].contains(&class), "{res}");
            assert!(res["evidence"]["name"]["level"].as_u64().is_some(), "{res}");
        }
    }
    // Every number right is found by key; of the numbers missing or mistyped the model finds
    // at least eight in ten, and nobody is linked to the wrong person.
    assert!(right >= 26, "{right} of 30 linked: {got}");
    for (i, p) in full.iter().enumerate() {
        let s = &results[i]["subject"];
        assert!(
            s.is_null() || s["subject_key"] == p["subject_key"],
            "row {i} misattributed: {s}"
        );
    }
    for r in &results[30..] {
        assert_eq!(r["class"], "none", "{r}");
        assert!(r["subject"].is_null());
    }
    assert!(got["counts"]["none"].as_u64().unwrap() >= 5, "{got}");

    // 人社 sees the subjects through its grant: masked as granted, nothing else.
    let send = |b: &Value| {
        consumer
            .post(&url)
            .header("x-csrf-token", &c_csrf)
            .json(b)
            .send()
    };
    let r = send(&body).await.unwrap();
    assert!(r.status().is_success());
    let got: Value = r.json().await.unwrap();
    let first = &got["results"][0]["subject"];
    assert!(first.is_object(), "{got}");
    assert_ne!(
        first["subject_key"], full[0]["subject_key"],
        "masked: {first}"
    );
    // A column it cannot name is refused in words.
    let bad = json!({"records": [{"手机": "13800000000"}]});
    let r = send(&bad).await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("手机"));

    // The same list as a GBK CSV file on the console page: the answer beside its columns.
    let mut csv_text = String::from("身份证号,姓名,出生日期,性别\n");
    for r in &records {
        csv_text.push_str(&format!(
            "{},{},{},{}\n",
            r["身份证号"].as_str().unwrap(),
            r["姓名"].as_str().unwrap(),
            r["出生日期"].as_str().unwrap(),
            r["性别"].as_str().unwrap()
        ));
    }
    let gbk = encoding_rs::GBK.encode(&csv_text).0.into_owned();
    let upload = |op: &'static str| {
        form_upload(
            &consumer,
            format!("{base}/console/comparisons"),
            &c_csrf,
            op,
            gbk.clone(),
        )
    };
    let r = upload("download").await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let bytes = r.bytes().await.unwrap();
    let mut rd = csv::Reader::from_reader(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap());
    let head: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &head[..6],
        [
            "身份证号",
            "姓名",
            "出生日期",
            "性别",
            "匹配方式",
            "匹配概率"
        ]
    );
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 35);
    for (i, row) in rows.iter().enumerate().take(30).step_by(3) {
        assert_eq!(&row[4], "key", "line {}", i + 2);
    }
    assert!(rows[30..].iter().all(|r| &r[4] == "none"));
    let page = upload("show").await.unwrap().text().await.unwrap();
    assert!(
        page.contains("id=\"cmp-rows\"") && page.contains("未匹配"),
        "{page}"
    );
    // Verification of names on the console page: per item match or not, never a value.
    let mut held = String::from("身份证号,姓名\n");
    for (i, p) in full.iter().take(10).enumerate() {
        let name = p["姓名"].as_str().unwrap();
        let sent = if i % 2 == 0 {
            name.to_string()
        } else {
            format!("{name}某")
        };
        held.push_str(&format!("{},{sent}\n", p["subject_key"].as_str().unwrap()));
    }
    let url = format!("{base}/console/verifications");
    let r = form_upload(
        &consumer,
        url.clone(),
        &c_csrf,
        "download",
        held.clone().into_bytes(),
    )
    .await
    .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let bytes = r.bytes().await.unwrap();
    let mut rd = csv::Reader::from_reader(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap());
    let head: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(head, ["身份证号", "姓名", "姓名核验"]);
    let verdicts: Vec<String> = rd.records().map(|r| r.unwrap()[2].to_string()).collect();
    let want: Vec<&str> = (0..10)
        .map(|i| if i % 2 == 0 { "match" } else { "mismatch" })
        .collect();
    assert_eq!(verdicts, want);
    let page = form_upload(&consumer, url, &c_csrf, "show", held.into_bytes())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"ver-tally\"") && page.contains("不一致"),
        "{page}"
    );
    drop(served);
}

/// Posts the console's upload form (`_csrf`, a `身份证号=公民身份号码` mapping, `op` and the
/// file) as a browser does.
fn form_upload(
    client: &reqwest::Client,
    url: String,
    csrf: &str,
    op: &str,
    file: Vec<u8>,
) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
    let boundary = "yishu-test-boundary";
    let mut b: Vec<u8> = Vec::new();
    for (name, value) in [
        ("_csrf", csrf),
        ("mapping", "身份证号=公民身份号码"),
        ("op", op),
    ] {
        b.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    b.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"名单.csv\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes());
    b.extend(&file);
    b.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    client
        .post(url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(b)
        .send()
}
