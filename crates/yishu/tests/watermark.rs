//! Watermarks through the real binary: the demo's consumer downloads the population library
//! through its grant as CSV, XLSX and Parquet; each file, leaked after shuffling, losing half its
//! rows, re-encoding to GBK or converting to CSV, is named by `yishu watermark identify` as the
//! download it came from, and the same rows without their marks are reported unmarked.

mod common;

use calamine::{Reader, open_workbook_auto_from_rs};
use common::{demo, out, password_of, serve, sign_in, yishu};
use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};

/// Shuffles the rows under the heading and keeps half of them.
fn leak(mut rows: Vec<Vec<String>>, rng: &mut StdRng) -> Vec<Vec<String>> {
    let head = rows.remove(0);
    rows.shuffle(rng);
    rows.truncate(rows.len() / 2);
    rows.insert(0, head);
    rows
}

fn csv_of(rows: &[Vec<String>]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(r).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body)
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaked_file_names_its_download_and_a_clean_one_is_unmarked() {
    let (home, dir, text) = demo(1500);
    let served = serve(&dir).await;
    let base = served.base.clone();
    let (consumer, _) = sign_in(&base, "consumer", &password_of(&text, "consumer")).await;
    let grants: serde_json::Value = consumer
        .get(format!("{base}/api/v1/grants"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grant = grants
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["target"] == "base:population" && g["status"] == "active")
        .expect("the demo grants the population library to 人社")["id"]
        .as_i64()
        .unwrap();
    let download = |format: &'static str| {
        let (c, base) = (consumer.clone(), base.clone());
        async move {
            let r = c
                .get(format!("{base}/api/v1/grants/{grant}/rows?format={format}"))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{format}: {}", r.status());
            r.bytes().await.unwrap().to_vec()
        }
    };
    let (csv_file, xlsx_file, parquet_file) = (
        download("csv").await,
        download("xlsx").await,
        download("parquet").await,
    );
    let mut rng = StdRng::seed_from_u64(11);
    let leaks = home.path().join("leaks");
    std::fs::create_dir_all(&leaks).unwrap();
    let identify = |name: &str, bytes: &[u8]| {
        let path = leaks.join(name);
        std::fs::write(&path, bytes).unwrap();
        let o = yishu(
            &dir,
            &["watermark", "identify", path.to_str().unwrap()],
            None,
        );
        assert!(o.status.success(), "{}", out(&o));
        out(&o)
    };

    // CSV: shuffled, half gone, re-encoded to GBK.
    let rows = csv_rows(&csv_file);
    assert!(rows.len() > 1000, "{} rows", rows.len());
    let leaked = csv_of(&leak(rows.clone(), &mut rng));
    let (gbk, _, lossy) = encoding_rs::GBK.encode(&leaked);
    assert!(!lossy);
    let said = identify("leak.csv", &gbk);
    assert!(
        said.starts_with("download ")
            && said.contains(&format!("grant {grant}"))
            && said.contains("format csv"),
        "{said}"
    );
    // XLSX converted to CSV, shuffled, half gone.
    let mut book = open_workbook_auto_from_rs(std::io::Cursor::new(xlsx_file.clone())).unwrap();
    let sheet = book.sheet_names()[0].clone();
    let xrows: Vec<Vec<String>> = book
        .worksheet_range(&sheet)
        .unwrap()
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let said = identify(
        "leak-from-xlsx.csv",
        csv_of(&leak(xrows, &mut rng)).as_bytes(),
    );
    assert!(said.contains("format xlsx"), "{said}");
    // The workbook and the Parquet file as they were.
    assert!(identify("whole.xlsx", &xlsx_file).contains("format xlsx"));
    assert!(identify("whole.parquet", &parquet_file).contains("format parquet"));
    // The same rows without their marks: unmarked, not anybody's download.
    let clean: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| c.trim_end().to_string()).collect())
        .collect();
    let said = identify("clean.csv", csv_of(&clean).as_bytes());
    assert!(said.starts_with("unmarked"), "{said}");
    // A handful of rows cannot tell.
    let said = identify("few.csv", csv_of(&rows[..20]).as_bytes());
    assert!(said.starts_with("cannot tell"), "{said}");

    // Each download is in the read audit with its number.
    let o = yishu(&dir, &["audit", "verify"], None);
    assert!(o.status.success(), "{}", out(&o));
    drop(served);
}
