//! Every connector into a real Delta lake and a real metadata store, on the synthetic city's files
//! and on hostile files.

use std::path::Path;
use yishu_ingest::csv::TextEncoding;
use yishu_ingest::{FileFormat, Outcome, ReadOptions, ingest_file, table_name};
use yishu_lake::{Lake, query};
use yishu_meta::Store;
use yishu_meta::catalog::*;
use yishu_meta::testing::TestDb;
use yishu_types::ErrorCode;

mod common;
use common::{city_world, count, resource};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gb18030_register_into_ods_once() {
    let (_dir, city, _db, store, lake) = city_world(3000, 5, 0.02).await;
    let r = resource(
        &store,
        &[
            "公民身份号码",
            "姓名",
            "性别",
            "民族",
            "出生日期",
            "婚姻状况",
            "住址",
            "行政区划代码",
            "户籍状态",
            "注销原因",
            "注销日期",
        ],
    )
    .await;
    let file = city.join("gongan_huji.csv");
    let mut seen = 0;
    let out = ingest_file(
        &store,
        &lake,
        &r,
        &file,
        &ReadOptions::default(),
        &mut |n| seen = n,
    )
    .await
    .unwrap();
    let Outcome::Ingested(b) = out else {
        panic!("expected a new batch")
    };
    assert_eq!(b.status, "succeeded");
    assert_eq!(b.rows_read, b.rows_stored + b.rows_quarantined);
    assert!(b.rows_read >= 3000, "{b:?}");
    assert_eq!(seen as i64, b.rows_read);
    let ctx = lake.session().await.unwrap();
    let t = table_name(&r);
    let n = count(
        &query(&ctx, &format!("SELECT COUNT(*) FROM ods.{t}"))
            .await
            .unwrap(),
    );
    assert_eq!(n, b.rows_stored);
    // Chinese text survived the GB18030 decoding, and lineage points at the source line.
    let rows = query(&ctx, &format!("SELECT COUNT(*) FROM ods.{t} WHERE \"住址\" LIKE '四川省成都市%' AND _source_ref LIKE 'gongan_huji.csv:%'")).await.unwrap();
    assert!(count(&rows) > 2500);
    // The commit records the batch and its counts, which is what settles an interrupted run.
    let info = lake
        .find_commit(yishu_lake::Layer::Ods, &t, "yishu.batch_id", &b.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info["yishu.rows_stored"].as_i64(), Some(b.rows_stored));
    assert_eq!(info["yishu.rows_read"].as_i64(), Some(b.rows_read));
    // The same file again is a no-op that says so.
    let again = ingest_file(
        &store,
        &lake,
        &r,
        &file,
        &ReadOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(again, Outcome::AlreadyIngested(b.clone()));
    let ctx = lake.session().await.unwrap();
    assert_eq!(
        count(
            &query(&ctx, &format!("SELECT COUNT(*) FROM ods.{t}"))
                .await
                .unwrap()
        ),
        b.rows_stored
    );
    assert_eq!(store.list_batches(r.id).await.unwrap().len(), 1);
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_quarantine_or_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite();
    let store = db.open().await;
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let r = resource(&store, &["身份号码", "姓名"]).await;
    let t = table_name(&r);

    // Ragged rows are quarantined with their line; the rest is stored.
    let ragged = dir.path().join("ragged.csv");
    write(&ragged, "\u{feff}身份号码,姓名\n11010519491231002X,张三\n110105194912310021\n510107199003071236,李四,多余\n".as_bytes());
    let Outcome::Ingested(b) = ingest_file(
        &store,
        &lake,
        &r,
        &ragged,
        &ReadOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!((b.rows_read, b.rows_stored, b.rows_quarantined), (3, 1, 2));
    let ctx = lake.session().await.unwrap();
    let q = query(
        &ctx,
        &format!("SELECT line, reason_code FROM quarantine.{t} ORDER BY line"),
    )
    .await
    .unwrap();
    let lines = q[0]
        .column(0)
        .as_any()
        .downcast_ref::<yishu_lake::arrow::array::Int64Array>()
        .unwrap();
    assert_eq!((lines.value(0), lines.value(1)), (3, 4));

    // A GBK file declared as UTF-8: its rows are quarantined as bad encoding, nothing is lost.
    let gbk = dir.path().join("gbk.csv");
    let (bytes, _, _) = encoding_rs::GBK.encode("身份号码,姓名\n11010519491231002X,王五\n");
    let mut content = "身份号码,姓名\n".as_bytes().to_vec();
    content.extend_from_slice(&bytes[bytes.iter().position(|b| *b == b'\n').unwrap() + 1..]);
    write(&gbk, &content);
    let opts = ReadOptions {
        encoding: Some(TextEncoding::Utf8),
        delimiter: None,
        ..Default::default()
    };
    let Outcome::Ingested(b) = ingest_file(&store, &lake, &r, &gbk, &opts, &mut |_| {})
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!((b.rows_read, b.rows_quarantined), (1, 1));

    // Tab-separated GBK is detected without being told.
    let tsv = dir.path().join("tsv.csv");
    let (bytes, _, _) = encoding_rs::GBK.encode("身份号码\t姓名\n11010519491231002X\t赵六\n");
    write(&tsv, &bytes);
    let Outcome::Ingested(b) = ingest_file(
        &store,
        &lake,
        &r,
        &tsv,
        &ReadOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!((b.rows_read, b.rows_stored), (1, 1));
    let ctx = lake.session().await.unwrap();
    let names = query(
        &ctx,
        &format!("SELECT COUNT(*) FROM ods.{t} WHERE \"姓名\" = '赵六'"),
    )
    .await
    .unwrap();
    assert_eq!(count(&names), 1);

    // Empty files, headers that match nothing and duplicate columns fail with a clear message,
    // and the failed batch is recorded.
    let empty = dir.path().join("empty.csv");
    write(&empty, b"");
    let e = ingest_file(
        &store,
        &lake,
        &r,
        &empty,
        &ReadOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.contains("empty"), "{}", e.message);
    let other = dir.path().join("other.csv");
    write(&other, b"a,b\n1,2\n");
    let e = ingest_file(
        &store,
        &lake,
        &r,
        &other,
        &ReadOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("no column matches"), "{}", e.message);
    let dup = dir.path().join("dup.csv");
    write(&dup, "姓名,姓名\n甲,乙\n".as_bytes());
    let e = ingest_file(
        &store,
        &lake,
        &r,
        &dup,
        &ReadOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("twice"), "{}", e.message);
    let batches = store.list_batches(r.id).await.unwrap();
    assert_eq!(batches.iter().filter(|b| b.status == "failed").count(), 3);
    assert!(batches.iter().all(|b| b.status != "running"));
}

/// A run killed after its ods commit is completed by the next run, not ingested twice; a run
/// killed before it is marked failed and the content is ingested anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_batches_are_settled() {
    use yishu_ingest::csv;
    use yishu_meta::batch::BatchStart;
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite();
    let store = db.open().await;
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let r = resource(&store, &["身份号码", "姓名"]).await;
    let t = table_name(&r);
    let f = dir.path().join("a.csv");
    write(
        &f,
        "身份号码,姓名\n11010519491231002X,张三\n510107199003071236,李四\n".as_bytes(),
    );
    let sum = yishu_ingest::checksum(&f).unwrap();

    // Crash after the commit: the batch row still says running.
    let BatchStart::New(id) = store.start_batch(r.id, "a.csv", &sum).await.unwrap() else {
        panic!()
    };
    let mut rows = Vec::new();
    csv::read(
        &f,
        &r.meta.items,
        &id,
        &ReadOptions::default(),
        &mut |_| {},
        &mut |b| {
            rows.push(b);
            Ok(())
        },
    )
    .unwrap();
    let meta = std::collections::HashMap::from([
        ("yishu.batch_id".to_string(), serde_json::json!(id)),
        ("yishu.rows_read".to_string(), serde_json::json!(2)),
        ("yishu.rows_stored".to_string(), serde_json::json!(2)),
        ("yishu.rows_quarantined".to_string(), serde_json::json!(0)),
    ]);
    lake.append(yishu_lake::Layer::Ods, &t, rows, meta)
        .await
        .unwrap();
    let out = ingest_file(&store, &lake, &r, &f, &ReadOptions::default(), &mut |_| {})
        .await
        .unwrap();
    let Outcome::AlreadyIngested(b) = out else {
        panic!("expected completion, got {out:?}")
    };
    assert_eq!(
        (b.id.as_str(), b.status.as_str(), b.rows_stored),
        (id.as_str(), "succeeded", 2)
    );
    let ctx = lake.session().await.unwrap();
    assert_eq!(
        count(
            &query(&ctx, &format!("SELECT COUNT(*) FROM ods.{t}"))
                .await
                .unwrap()
        ),
        2
    );

    // Crash before the commit: the old batch fails, the content goes in once.
    let g = dir.path().join("b.csv");
    write(&g, "身份号码,姓名\n11010519491231002X,王五\n".as_bytes());
    let sum = yishu_ingest::checksum(&g).unwrap();
    let BatchStart::New(dead) = store.start_batch(r.id, "b.csv", &sum).await.unwrap() else {
        panic!()
    };
    let Outcome::Ingested(b) =
        ingest_file(&store, &lake, &r, &g, &ReadOptions::default(), &mut |_| {})
            .await
            .unwrap()
    else {
        panic!()
    };
    assert_ne!(b.id, dead);
    assert_eq!(store.get_batch(&dead).await.unwrap().status, "failed");
    let ctx = lake.session().await.unwrap();
    assert_eq!(
        count(
            &query(&ctx, &format!("SELECT COUNT(*) FROM ods.{t}"))
                .await
                .unwrap()
        ),
        3
    );
}

/// 市场监管's workbook: Excel date serials arrive as ISO dates, capital as plain numbers, and each
/// row points at its sheet and row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsx_sheet_into_ods() {
    let (_dir, city, _db, store, lake) = city_world(2000, 9, 0.0).await;
    let r = resource(
        &store,
        &[
            "统一社会信用代码",
            "企业名称",
            "法定代表人身份证号",
            "注册资本(万元)",
            "成立日期",
        ],
    )
    .await;
    let file = city.join("shichang_qiye.xlsx");
    let src = ReadOptions::default();
    assert_eq!(FileFormat::of(&file), FileFormat::Workbook);
    let Outcome::Ingested(b) = ingest_file(&store, &lake, &r, &file, &src, &mut |_| {})
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(b.rows_read, b.rows_stored + b.rows_quarantined);
    assert!(b.rows_stored >= 80, "{b:?}");
    let t = table_name(&r);
    let ctx = lake.session().await.unwrap();
    let n = query(&ctx, &format!("SELECT COUNT(*) FROM ods.{t} WHERE \"成立日期\" SIMILAR TO '[12][0-9]{{3}}-[01][0-9]-[0-3][0-9]' AND _source_ref LIKE 'shichang_qiye.xlsx:企业登记!%'")).await.unwrap();
    assert_eq!(count(&n), b.rows_stored);
    let n = query(
        &ctx,
        &format!("SELECT COUNT(*) FROM ods.{t} WHERE \"注册资本(万元)\" LIKE '%.%'"),
    )
    .await
    .unwrap();
    assert_eq!(count(&n), 0, "whole numbers are written without .0");
    // A sheet that does not exist is named in the error with the sheets that do.
    let src = ReadOptions {
        sheet: Some("不存在".into()),
        ..Default::default()
    };
    let e = ingest_file(
        &store,
        &lake,
        &r,
        &city.join("minzheng_hunyin.xlsx"),
        &src,
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("婚姻登记"), "{}", e.message);
    // A workbook cut short in transfer is refused whole, naming the file; nothing is stored.
    let bytes = std::fs::read(&file).unwrap();
    let cut = city.join("shichang_qiye_cut.xlsx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let src = ReadOptions::default();
    let e = ingest_file(&store, &lake, &r, &cut, &src, &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        e.message.contains("shichang_qiye_cut.xlsx"),
        "{}",
        e.message
    );
    assert_eq!(e.code, ErrorCode::InvalidInput);
    let n = query(&ctx, &format!("SELECT COUNT(*) FROM ods.{t}"))
        .await
        .unwrap();
    assert_eq!(count(&n), b.rows_stored);
}

/// 卫健's NDJSON events: keys map to items, a broken line is quarantined with its number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_events_into_ods() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite();
    let store = db.open().await;
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let r = resource(&store, &["type", "child_id", "child_name", "dose"]).await;
    let f = dir.path().join("events.ndjson");
    write(
        &f,
        "{\"type\":\"birth\",\"child_id\":\"510107201801011234\",\"child_name\":\"张小明\"}\n\n{\"type\":\"vaccination\",\"dose\":2}\n{\"type\": broken\n[1,2]\n"
            .as_bytes(),
    );
    let src = ReadOptions::default();
    assert_eq!(FileFormat::of(&f), FileFormat::Json);
    let Outcome::Ingested(b) = ingest_file(&store, &lake, &r, &f, &src, &mut |_| {})
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!((b.rows_read, b.rows_stored, b.rows_quarantined), (5, 2, 3));
    let t = table_name(&r);
    let ctx = lake.session().await.unwrap();
    let n = query(
        &ctx,
        &format!("SELECT COUNT(*) FROM ods.{t} WHERE child_name = '张小明' OR dose = '2'"),
    )
    .await
    .unwrap();
    assert_eq!(count(&n), 2);
    let q = query(
        &ctx,
        &format!(
            "SELECT COUNT(*) FROM quarantine.{t} WHERE reason_code = 'ingest_bad_json' AND line = 4"
        ),
    )
    .await
    .unwrap();
    assert_eq!(count(&q), 1);
    // Keys named otherwise: refused with proposed pairs, then stored once confirmed.
    let g = dir.path().join("renkou.json");
    write(
        &g,
        r#"[{"TYPE":"birth","ChildName":"王小红","extra":1},{"TYPE":"death"},{"zzz":1}]"#
            .as_bytes(),
    );
    let e = ingest_file(&store, &lake, &r, &g, &ReadOptions::default(), &mut |_| {})
        .await
        .unwrap_err();
    assert!(e.message.contains("proposed mapping"), "{}", e.message);
    let mapping: yishu_ingest::rows::Mapping = [("TYPE", "type"), ("ChildName", "child_name")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let Outcome::Ingested(b) = ingest_file(
        &store,
        &lake,
        &r,
        &g,
        &ReadOptions {
            mapping,
            ..Default::default()
        },
        &mut |_| {},
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!((b.rows_read, b.rows_stored, b.rows_quarantined), (3, 2, 1));
    assert_eq!(
        b.drift["extra_columns"],
        serde_json::json!(["extra", "zzz"])
    );
    assert_eq!(
        b.drift["missing_items"],
        serde_json::json!(["child_id", "dose"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_accounts_into_ods() {
    use std::sync::Arc;
    use yishu_lake::arrow::array::{ArrayRef, BinaryArray, RecordBatch, StringArray};
    let (dir, city, _db, store, lake) = city_world(1500, 9, 0.02).await;
    let items = [
        "身份证号",
        "姓名",
        "单位名称",
        "缴存基数",
        "月缴存额",
        "开户日期",
        "账户状态",
    ];
    let r = resource(&store, &items).await;
    let f = city.join("gongjijin_jiaocun.parquet");
    let src = ReadOptions::default();
    assert_eq!(FileFormat::of(&f), FileFormat::Parquet);
    let Outcome::Ingested(b) = ingest_file(&store, &lake, &r, &f, &src, &mut |_| {})
        .await
        .unwrap()
    else {
        panic!("expected a new batch")
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(city.join("manifest.json")).unwrap()).unwrap();
    let rows = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "gongjijin_jiaocun.parquet")
        .unwrap()["rows"]
        .as_i64()
        .unwrap();
    assert_eq!(
        (b.rows_read, b.rows_stored, b.rows_quarantined),
        (rows, rows, 0)
    );
    let t = table_name(&r);
    let ctx = lake.session().await.unwrap();
    // Typed values arrive as text: dates as ISO dates, amounts as numbers; lineage is the row.
    let n = query(
        &ctx,
        &format!(
            "SELECT COUNT(*) FROM ods.{t} WHERE \"开户日期\" LIKE '____-__-__' AND CAST(\"缴存基数\" AS DOUBLE) >= 3000 AND _source_ref LIKE 'gongjijin_jiaocun.parquet:%'"
        ),
    )
    .await
    .unwrap();
    assert_eq!(count(&n), rows);

    // A binary column with bytes that are not text: that row is quarantined, the rest stored.
    let odd = dir.path().join("odd.parquet");
    let schema = Arc::new(yishu_lake::arrow::datatypes::Schema::new(vec![
        yishu_lake::arrow::datatypes::Field::new(
            "身份证号",
            yishu_lake::arrow::datatypes::DataType::Utf8,
            true,
        ),
        yishu_lake::arrow::datatypes::Field::new(
            "姓名",
            yishu_lake::arrow::datatypes::DataType::Binary,
            true,
        ),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![
            "510107199001011234",
            "510107199001015678",
        ])),
        Arc::new(BinaryArray::from(vec![
            "张三".as_bytes(),
            &[0xff, 0xfe][..],
        ])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&odd).unwrap(), schema, None)
            .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let Outcome::Ingested(b) = ingest_file(
        &store,
        &lake,
        &r,
        &odd,
        &ReadOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!((b.rows_read, b.rows_stored, b.rows_quarantined), (2, 1, 1));
    let ctx = lake.session().await.unwrap();
    let q = query(
        &ctx,
        &format!(
            "SELECT COUNT(*) FROM quarantine.{t} WHERE reason_code = 'ingest_cast' AND line = 2"
        ),
    )
    .await
    .unwrap();
    assert_eq!(count(&q), 1);

    // Not Parquet at all: a clear error, no batch left running.
    let junk = dir.path().join("junk.parquet");
    write(&junk, b"PAR1 this is not parquet");
    let e = ingest_file(
        &store,
        &lake,
        &r,
        &junk,
        &ReadOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(
        e.message.contains("not a readable Parquet file"),
        "{}",
        e.message
    );
}

const DIBAO: [&str; 8] = [
    "id",
    "citizen_id",
    "name",
    "household_size",
    "monthly_amount",
    "start_month",
    "status",
    "updated_at",
];

/// Pulls and unwraps to (batch, watermark).
async fn pull(
    store: &Store,
    lake: &Lake,
    r: &Resource,
    p: &yishu_ingest::db::DbPull,
    since: Option<&str>,
) -> (yishu_meta::batch::Batch, Option<String>, bool) {
    let (out, wm) = yishu_ingest::ingest_pull(store, lake, r, p, since, &mut |_| {})
        .await
        .unwrap();
    match out {
        Outcome::Ingested(b) => (b, wm, false),
        Outcome::Unchanged(b) => (b, wm, true),
        Outcome::AlreadyIngested(b) => panic!("a pull is never 'already ingested': {b:?}"),
    }
}

/// The city's 民政 front-end SQLite database (低保 recipients), pulled in full and by watermark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontend_sqlite_full_and_incremental() {
    use yishu_ingest::db::DbPull;
    let (_dir, city, _db, store, lake) = city_world(1500, 3, 0.02).await;
    let r = resource(&store, &DIBAO).await;
    let url = format!(
        "sqlite://{}",
        city.join("minzheng_qianzhiku.sqlite").display()
    );
    let full = DbPull {
        url: url.clone(),
        table: "dibao".into(),
        watermark_column: None,
        mapping: Default::default(),
    };
    let (b, _, unchanged) = pull(&store, &lake, &r, &full, None).await;
    assert!(!unchanged);
    assert!(b.rows_read > 10, "{b:?}");
    assert_eq!(b.rows_read, b.rows_stored + b.rows_quarantined);
    assert!(b.source.ends_with("#dibao"), "{}", b.source);
    // The same rows again: a no-op that says so.
    let (again, _, unchanged) = pull(&store, &lake, &r, &full, None).await;
    assert!(unchanged, "{again:?}");
    assert_eq!(again.status, "unchanged");
    assert!(again.message.contains(&b.id), "{}", again.message);

    // Incremental by updated_at: everything first, then only what changed after the watermark.
    let inc = DbPull {
        watermark_column: Some("updated_at".into()),
        ..full.clone()
    };
    // The first incremental pull finds the very rows the full pull stored: nothing is written
    // twice, and the watermark still moves to the newest row.
    let (first, wm, unchanged) = pull(&store, &lake, &r, &inc, None).await;
    assert!(unchanged, "{first:?}");
    let wm = wm.unwrap();
    assert!(wm.starts_with("20"), "{wm}");
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    for (id, at) in [
        (900001, "2099-01-01 08:00:00"),
        (900002, "2099-01-02 08:00:00"),
    ] {
        sqlx::query("INSERT INTO dibao VALUES (?, '510104199001011234', '王五', 2, 1200.5, '2099-01', '在保', ?)")
            .bind(id)
            .bind(at)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let (next, wm2, _) = pull(&store, &lake, &r, &inc, Some(&wm)).await;
    assert_eq!((next.rows_read, next.rows_stored), (2, 2));
    assert_eq!(wm2.as_deref(), Some("2099-01-02 08:00:00"));
    let (none, wm3, _) = pull(&store, &lake, &r, &inc, wm2.as_deref()).await;
    assert_eq!(none.rows_read, 0);
    assert_eq!(wm3, wm2, "an empty pull keeps the watermark");
    let ctx = lake.session().await.unwrap();
    let t = table_name(&r);
    let n = query(
        &ctx,
        &format!("SELECT COUNT(*) FROM ods.{t} WHERE name = '王五' AND _source_ref LIKE 'dibao#%'"),
    )
    .await
    .unwrap();
    assert_eq!(count(&n), 2);

    // Hostile set-ups fail clearly and name what is wrong.
    for (p, needle) in [
        (
            DbPull {
                table: "dibao; DROP TABLE dibao".into(),
                ..full.clone()
            },
            "not a plain table",
        ),
        (
            DbPull {
                table: "nope".into(),
                ..full.clone()
            },
            "no table 'nope'",
        ),
        (
            DbPull {
                watermark_column: Some("changed".into()),
                ..full.clone()
            },
            "no column 'changed'",
        ),
        (
            DbPull {
                url: "oracle://x".into(),
                ..full.clone()
            },
            "must start with",
        ),
        (
            DbPull {
                mapping: [("证件号".to_string(), "citizen_id".to_string())].into(),
                ..full.clone()
            },
            "has no column '证件号'",
        ),
    ] {
        let e = yishu_ingest::ingest_pull(&store, &lake, &r, &p, None, &mut |_| {})
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput, "{e}");
        assert!(e.message.contains(needle), "{}", e.message);
    }
}

/// The same table in PostgreSQL (typed columns) and MariaDB, pulled by an increasing id whose
/// values cross a digit boundary (9 → 10 must compare as numbers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontend_postgres_and_mariadb_by_id() {
    use sqlx::Connection;
    use yishu_ingest::db::DbPull;
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite();
    let store = db.open().await;
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let r = resource(&store, &DIBAO).await;
    let pg = TestDb::postgres().await;
    let my_table = format!("dibao_{}", std::process::id());
    let mysql = std::env::var("YISHU_TEST_MYSQL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    for (url, table, ddl) in [
        (pg.url.clone(), "dibao".to_string(), "CREATE TABLE dibao (id BIGINT PRIMARY KEY, citizen_id TEXT, name TEXT, household_size INT, monthly_amount NUMERIC(10,2), start_month DATE, status TEXT, updated_at TIMESTAMP)".to_string()),
        (mysql.clone(), my_table.clone(), format!("CREATE TABLE {my_table} (id BIGINT PRIMARY KEY, citizen_id VARCHAR(18), name VARCHAR(50), household_size INT, monthly_amount DECIMAL(10,2), start_month DATE, status VARCHAR(10), updated_at DATETIME) CHARACTER SET utf8mb4"))
    ] {
        let mut c = sqlx::AnyConnection::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach {url}: {e}; scripts/test starts PostgreSQL and MariaDB"));
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}"))).execute(&mut c).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(ddl)).execute(&mut c).await.unwrap();
        let insert = |id: i64| {
            format!("INSERT INTO {table} VALUES ({id}, '51010419900101{:04}', '张{id}', 3, 1500.25, '2024-03-01', '在保', '2024-03-0{} 10:00:00')", id, 1 + id % 9)
        };
        for id in 1..=9 {
            sqlx::query(sqlx::AssertSqlSafe(insert(id))).execute(&mut c).await.unwrap();
        }
        let p = DbPull { url: url.clone(), table: table.clone(), watermark_column: Some("id".into()), mapping: Default::default() };
        let (b, wm, _) = pull(&store, &lake, &r, &p, None).await;
        assert_eq!((b.rows_read, b.rows_stored), (9, 9), "{url}");
        assert_eq!(wm.as_deref(), Some("9"));
        for id in 10..=12 {
            sqlx::query(sqlx::AssertSqlSafe(insert(id))).execute(&mut c).await.unwrap();
        }
        let (b, wm, _) = pull(&store, &lake, &r, &p, wm.as_deref()).await;
        assert_eq!(b.rows_read, 3, "{url}: 10, 11, 12 only");
        assert_eq!(wm.as_deref(), Some("12"));
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}"))).execute(&mut c).await.ok();
    }
    // Values arrive as the database renders them: dates and decimals as text, Chinese intact.
    let ctx = lake.session().await.unwrap();
    let t = table_name(&r);
    let n = query(&ctx, &format!("SELECT COUNT(*) FROM ods.{t} WHERE start_month = '2024-03-01' AND monthly_amount = '1500.25' AND name LIKE '张%'"))
        .await
        .unwrap();
    assert_eq!(count(&n), 24);
    pg.cleanup().await;
}

/// Sources on a schedule: a drop directory and a front-end database, claimed and run by the
/// scheduler, with outcomes recorded, failures retried with back-off, and every run audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_sources_run_record_and_back_off() {
    use yishu_ingest::sources;
    let (dir, city, _db, store, lake) = city_world(800, 4, 0.0).await;
    let huji = resource(
        &store,
        &["公民身份号码", "姓名", "性别", "出生日期", "住址"],
    )
    .await;
    // Same org: a second resource for 低保 needs a new code, which `resource` allocates.
    let drop = dir.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    std::fs::copy(city.join("gongan_huji.csv"), drop.join("huji-2026-11.csv")).unwrap();
    write(&drop.join("broken.csv"), b"");
    let cfg = serde_json::json!({"dir": drop});
    sources::validate("drop_dir", &cfg).unwrap();
    let e = sources::validate("drop_dir", &serde_json::json!({"dir": "/no/such/dir"})).unwrap_err();
    assert!(e.message.contains("not a directory"), "{}", e.message);
    let e = sources::validate(
        "database",
        &serde_json::json!({"url": "sqlite://x", "table": "a b"}),
    )
    .unwrap_err();
    assert!(e.message.contains("not a plain table"), "{}", e.message);
    let e = store
        .create_source(huji.id, "drop_dir", &cfg, "every day", "officer")
        .await
        .unwrap_err();
    assert!(e.message.contains("five fields"), "{}", e.message);
    let s = store
        .create_source(huji.id, "drop_dir", &cfg, "@daily", "officer")
        .await
        .unwrap();
    assert_eq!(sources::run_due(&store, &lake).await.unwrap(), 1);
    let s = store.get_source(s.id).await.unwrap();
    assert_eq!(s.last_status, "failed", "{s:?}");
    assert!(s.last_message.contains("broken.csv"), "{}", s.last_message);
    assert!(
        s.last_message.contains("huji-2026-11.csv: "),
        "{}",
        s.last_message
    );
    assert_eq!(s.failures, 1);
    // Retried in about a minute, not at tomorrow's 02:00.
    let wait = s.next_run_at - s.last_run_at.unwrap();
    assert!((59_000..=61_000).contains(&wait), "back-off {wait} ms");
    assert!(drop.join("done/huji-2026-11.csv").exists());
    assert!(drop.join("failed/broken.csv").exists());
    let why = std::fs::read_to_string(drop.join("failed/broken.csv.error.txt")).unwrap();
    assert!(why.contains("empty"), "{why}");
    // Nothing is due now; a second node cannot claim what this one holds.
    assert_eq!(sources::run_due(&store, &lake).await.unwrap(), 0);
    let mut stale = s.clone();
    stale.next_run_at -= 1;
    assert!(!store.claim_source(&stale, 0).await.unwrap());

    // A front-end database table by watermark: the first run pulls all, the next only news.
    let dibao = {
        let d = huji.meta.clone();
        let mut d = d;
        d.name = "低保救助对象".into();
        d.items = DIBAO
            .iter()
            .map(|n| Item {
                name: (*n).into(),
                item_type: "C".into(),
                length: None,
                data_element: None,
                description: String::new(),
            })
            .collect();
        let admin = store.get_user_by_name("admin").await.unwrap();
        let by = Actor {
            user: admin.id,
            org: d.provider_org_id,
            roles: &[yishu_types::Role::Admin],
        };
        store.create_resource(&d, &by).await.unwrap()
    };
    let url = format!(
        "sqlite://{}",
        city.join("minzheng_qianzhiku.sqlite").display()
    );
    let cfg = serde_json::json!({"url": url, "table": "dibao", "watermark_column": "updated_at"});
    sources::validate("database", &cfg).unwrap();
    let s = store
        .create_source(dibao.id, "database", &cfg, "*/15 * * * *", "officer")
        .await
        .unwrap();
    assert_eq!(sources::run_due(&store, &lake).await.unwrap(), 1);
    let s = store.get_source(s.id).await.unwrap();
    assert_eq!(s.last_status, "succeeded", "{s:?}");
    let wm = s.watermark.clone().unwrap();
    assert!(wm.starts_with("20"), "{wm}");
    assert_eq!(s.failures, 0);
    let batches = store.list_batches(dibao.id).await.unwrap();
    assert_eq!(batches.len(), 1);
    assert!(batches[0].rows_stored > 0);
    store.run_source_now(s.id).await.unwrap();
    assert_eq!(sources::run_due(&store, &lake).await.unwrap(), 1);
    let s = store.get_source(s.id).await.unwrap();
    assert_eq!(
        s.watermark.as_deref(),
        Some(wm.as_str()),
        "nothing new: the watermark stays"
    );
    assert_eq!(store.list_batches(dibao.id).await.unwrap()[0].rows_read, 0);

    let audit = store
        .list_audit(
            &yishu_meta::AuditFilter {
                action: Some("source.run".into()),
                ..Default::default()
            },
            100,
            0,
        )
        .await
        .unwrap();
    assert_eq!(audit.total, 3);
    assert_eq!(
        audit.items.iter().filter(|a| a.outcome == "failed").count(),
        1
    );
}

/// Drift: items the source lacks, columns no item describes, and values that do not fit types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_between_items_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite();
    let store = db.open().await;
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let mut r = resource(&store, &["公民身份号码", "出生日期", "家庭人数", "备注"]).await;
    // Before any data: not mounted yet, nothing to compare.
    let d = yishu_ingest::drift::check(&store, &lake, &r, 0, &local())
        .await
        .unwrap();
    assert!(d.table.is_none());
    let admin = store.get_user_by_name("admin").await.unwrap();
    let by = Actor {
        user: admin.id,
        org: r.meta.provider_org_id,
        roles: &[yishu_types::Role::Admin],
    };
    let mut m = r.meta.clone();
    m.items[1].item_type = "D".into();
    m.items[2].item_type = "I".into();
    r = store
        .update_resource(r.id, &m, r.version, &by)
        .await
        .unwrap();
    let f = dir.path().join("people.csv");
    write(&f, "公民身份号码,出生日期,家庭人数,联系电话\n510104199001011234,1990-01-01,3,13800000000\n510104199202022345,1992-13-45,三,13900000000\n510104199303033456,1993-03-03,2,\n".as_bytes());
    let out = ingest_file(&store, &lake, &r, &f, &ReadOptions::default(), &mut |_| {})
        .await
        .unwrap();
    let Outcome::Ingested(b) = out else { panic!() };
    assert_eq!(b.drift["extra_columns"], serde_json::json!(["联系电话"]));
    let d = yishu_ingest::drift::check(&store, &lake, &r, 0, &local())
        .await
        .unwrap();
    assert_eq!(
        d.table.as_deref(),
        Some(format!("ods.{}", table_name(&r)).as_str())
    );
    assert_eq!(d.items_without_column, vec!["备注"]);
    assert_eq!(d.columns_without_item, vec!["联系电话"]);
    let mism: Vec<(&str, usize, &str)> = d
        .type_mismatches
        .iter()
        .map(|t| (t.item.as_str(), t.bad, t.example.as_str()))
        .collect();
    assert_eq!(
        mism,
        vec![("出生日期", 1, "1992-13-45"), ("家庭人数", 1, "三")]
    );
    assert!(!d.is_clean());
}

/// Answers every HTTP request on a local port with `body` (JSON); returns the address.
async fn json_server(body: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
        }
    });
    format!("http://{addr}/rows")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mounted_on_an_external_table_or_an_api() {
    use yishu_ingest::drift;
    use yishu_ingest::mount::{Mount, sample_rows};
    let (_dir, city, _db, store, lake) = city_world(300, 4, 0.0).await;
    let r = resource(
        &store,
        &["citizen_id", "name", "monthly_amount", "家庭住址"],
    )
    .await;
    let url = format!(
        "sqlite://{}",
        city.join("minzheng_qianzhiku.sqlite").display()
    );
    // A table of the department's own database: read in place, nothing copied to ods.
    let table = Mount::ExternalTable {
        url: url.clone(),
        table: "dibao".into(),
    };
    store
        .set_mount(r.id, Some(&serde_json::to_value(&table).unwrap()), "test")
        .await
        .unwrap();
    let s = sample_rows(&store, &lake, &r, 3, &local()).await.unwrap();
    assert_eq!(s.rows.len(), 3);
    assert!(s.columns.contains(&"citizen_id".to_string()));
    assert!(s.from.ends_with("#dibao"), "{}", s.from);
    let d = drift::check(&store, &lake, &r, yishu_meta::now_ms(), &local())
        .await
        .unwrap();
    assert!(d.table.as_deref().unwrap().starts_with("mounted: "));
    assert_eq!(d.items_without_column, vec!["家庭住址"]);
    assert!(
        d.columns_without_item
            .contains(&"household_size".to_string())
    );
    assert!(d.stale.is_none());
    assert!(lake.list_tables(yishu_lake::Layer::Ods).is_empty());

    // An HTTP API: its keys are the columns; a value that is not a number is a type mismatch.
    let api = Mount::Api {
        url: json_server(r#"{"data": [{"name": "张三", "monthly_amount": "八百"}, {"name": "李四", "monthly_amount": "750.5"}]}"#).await,
    };
    store
        .set_mount(r.id, Some(&serde_json::to_value(&api).unwrap()), "test")
        .await
        .unwrap();
    let mut r2 = r.clone();
    r2.meta.items[2].item_type = "N".into();
    let d = drift::check(&store, &lake, &r2, yishu_meta::now_ms(), &local())
        .await
        .unwrap();
    assert_eq!(d.items_without_column, vec!["citizen_id", "家庭住址"]);
    assert_eq!(d.type_mismatches.len(), 1);
    assert_eq!(d.type_mismatches[0].example, "八百");
    // A mount that cannot be read flags the data as missing, with the reason.
    let gone = Mount::ExternalTable {
        url,
        table: "no_such_table".into(),
    };
    store
        .set_mount(r.id, Some(&serde_json::to_value(&gone).unwrap()), "test")
        .await
        .unwrap();
    let d = drift::check(&store, &lake, &r, yishu_meta::now_ms(), &local())
        .await
        .unwrap();
    assert!(
        d.stale
            .as_deref()
            .unwrap()
            .contains("no table 'no_such_table'"),
        "{d:?}"
    );
    // Unmounted: back to the (empty) ods table.
    store.set_mount(r.id, None, "test").await.unwrap();
    assert!(
        sample_rows(&store, &lake, &r, 5, &local())
            .await
            .unwrap()
            .rows
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_columns_and_a_hundred_megabyte_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite();
    let store = db.open().await;
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let r = resource(&store, &["公民身份号码", "姓名"]).await;
    let t = table_name(&r);

    // 10,000 columns no item describes: the rows are stored, the batch names the first 200.
    let wide = dir.path().join("wide.csv");
    let mut text = String::from("公民身份号码,姓名");
    for c in 0..10_000 {
        text += &format!(",c{c}");
    }
    text.push('\n');
    for n in 0..50 {
        text += &format!("51010719900307{n:04},王{n}");
        text += &",x".repeat(10_000);
        text.push('\n');
    }
    write(&wide, text.as_bytes());
    let Outcome::Ingested(b) = ingest_file(
        &store,
        &lake,
        &r,
        &wide,
        &ReadOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!((b.rows_read, b.rows_stored), (50, 50));
    assert_eq!(b.drift["extra_column_count"], 10_000);
    assert_eq!(b.drift["extra_columns"].as_array().unwrap().len(), 200);

    // A line of 100 MB between two good ones: quarantined with its start, the others stored.
    let long = dir.path().join("long.csv");
    let mut bytes = "公民身份号码,姓名\n510107199003071236,李四\n510107199003071244,"
        .as_bytes()
        .to_vec();
    bytes.extend(std::iter::repeat_n(b'A', 100 * 1024 * 1024));
    bytes.extend("\n510107199003071252,赵五\n".as_bytes());
    write(&long, &bytes);
    drop(bytes);
    let Outcome::Ingested(b) = ingest_file(
        &store,
        &lake,
        &r,
        &long,
        &ReadOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!((b.rows_read, b.rows_stored, b.rows_quarantined), (3, 2, 1));
    let ctx = lake.session().await.unwrap();
    let q = query(
        &ctx,
        &format!("SELECT COUNT(*) FROM quarantine.{t} WHERE reason_code = 'ingest_line_too_long' AND line = 3 AND length(raw) <= 200"),
    )
    .await
    .unwrap();
    assert_eq!(count(&q), 1);
}

/// The outbound allow-list of these tests: the local machine's loopback address.
fn local() -> yishu_ingest::outbound::Outbound {
    yishu_ingest::outbound::Outbound::new(&["127.0.0.1"]).unwrap()
}
