//! CSV ingest into a real Delta lake and a real metadata store, on the synthetic city's GB18030
//! household register and on hostile files.

use std::path::Path;
use yishu_ingest::csv::{CsvOptions, TextEncoding};
use yishu_ingest::{Outcome, ingest_csv, table_name};
use yishu_lake::{Lake, query};
use yishu_meta::catalog::*;
use yishu_meta::testing::TestDb;
use yishu_meta::{NewOrg, NewUser, OrgLevel, Store};
use yishu_types::{ErrorCode, Role};

async fn resource(store: &Store, items: &[&str]) -> Resource {
    let city = store
        .create_org(&NewOrg {
            code: "CD".into(),
            name: "成都市".into(),
            level: Some(OrgLevel::City),
            ..Default::default()
        })
        .await
        .unwrap();
    let ga = store
        .create_org(&NewOrg {
            code: "GA".into(),
            name: "公安局".into(),
            parent_id: Some(city.id),
            ..Default::default()
        })
        .await
        .unwrap();
    let u = store
        .create_user(&NewUser {
            name: "admin".into(),
            display_name: None,
            org_id: ga.id,
            password: "correct horse battery".into(),
            roles: vec![Role::Admin],
        })
        .await
        .unwrap();
    let by = Actor {
        user: u.id,
        org: ga.id,
        roles: &[Role::Admin],
    };
    let d = ResourceDraft {
        class_kind: ClassKind::Department,
        class_path: "01001001".into(),
        name: "户籍人口".into(),
        provider_org_id: ga.id,
        summary: "户籍".into(),
        format: ResourceFormat::Database,
        share_type: ShareType::Unconditional,
        share_condition: String::new(),
        open_type: OpenType::Never,
        open_condition: String::new(),
        update_cycle: UpdateCycle::Daily,
        related_codes: vec![],
        extended: Extended::default(),
        items: items
            .iter()
            .map(|n| Item {
                name: (*n).into(),
                item_type: "C".into(),
                length: None,
                data_element: None,
                description: String::new(),
            })
            .collect(),
    };
    store.create_resource(&d, &by).await.unwrap()
}

/// A generated city in a temp dir, with a SQLite store and a lake beside it.
async fn city_world(
    people: usize,
    seed: u64,
    problem_rate: f64,
) -> (tempfile::TempDir, std::path::PathBuf, TestDb, Store, Lake) {
    let dir = tempfile::tempdir().unwrap();
    let city = dir.path().join("city");
    let args = yishu_gen::CityArgs {
        people,
        seed,
        out: city.clone(),
        problem_rate,
    };
    yishu_gen::generate_city(&args, &mut yishu_gen::NoProgress)
        .await
        .unwrap();
    let db = TestDb::sqlite();
    let store = db.open().await;
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    (dir, city, db, store, lake)
}

fn count(b: &[yishu_lake::arrow::array::RecordBatch]) -> i64 {
    b[0].column(0)
        .as_any()
        .downcast_ref::<yishu_lake::arrow::array::Int64Array>()
        .unwrap()
        .value(0)
}

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
    let out = ingest_csv(&store, &lake, &r, &file, &CsvOptions::default(), &mut |n| {
        seen = n
    })
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
    let again = ingest_csv(
        &store,
        &lake,
        &r,
        &file,
        &CsvOptions::default(),
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
    let Outcome::Ingested(b) = ingest_csv(
        &store,
        &lake,
        &r,
        &ragged,
        &CsvOptions::default(),
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
    let opts = CsvOptions {
        encoding: Some(TextEncoding::Utf8),
        delimiter: None,
    };
    let Outcome::Ingested(b) = ingest_csv(&store, &lake, &r, &gbk, &opts, &mut |_| {})
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
    let Outcome::Ingested(b) =
        ingest_csv(&store, &lake, &r, &tsv, &CsvOptions::default(), &mut |_| {})
            .await
            .unwrap()
    else {
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
    let e = ingest_csv(
        &store,
        &lake,
        &r,
        &empty,
        &CsvOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.contains("empty"), "{}", e.message);
    let other = dir.path().join("other.csv");
    write(&other, b"a,b\n1,2\n");
    let e = ingest_csv(
        &store,
        &lake,
        &r,
        &other,
        &CsvOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("no column matches"), "{}", e.message);
    let dup = dir.path().join("dup.csv");
    write(&dup, "姓名,姓名\n甲,乙\n".as_bytes());
    let e = ingest_csv(&store, &lake, &r, &dup, &CsvOptions::default(), &mut |_| {})
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
        &CsvOptions::default(),
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
    let out = ingest_csv(&store, &lake, &r, &f, &CsvOptions::default(), &mut |_| {})
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
        ingest_csv(&store, &lake, &r, &g, &CsvOptions::default(), &mut |_| {})
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
    use yishu_ingest::xlsx::XlsxOptions;
    use yishu_ingest::{Source, ingest_file};
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
    let src = Source::for_path(&file, CsvOptions::default(), XlsxOptions::default());
    assert!(matches!(src, Source::Xlsx(_)));
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
    let src = Source::Xlsx(XlsxOptions {
        sheet: Some("不存在".into()),
        header_row: 1,
    });
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
}

/// 卫健's NDJSON events: keys map to items, a broken line is quarantined with its number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_events_into_ods() {
    use yishu_ingest::xlsx::XlsxOptions;
    use yishu_ingest::{Source, ingest_file};
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
    let src = Source::for_path(&f, CsvOptions::default(), XlsxOptions::default());
    assert!(matches!(src, Source::Json));
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_accounts_into_ods() {
    use std::sync::Arc;
    use yishu_ingest::xlsx::XlsxOptions;
    use yishu_ingest::{Source, ingest_file};
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
    let src = Source::for_path(&f, CsvOptions::default(), XlsxOptions::default());
    assert!(matches!(src, Source::Parquet));
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
    let Outcome::Ingested(b) = ingest_file(&store, &lake, &r, &odd, &Source::Parquet, &mut |_| {})
        .await
        .unwrap()
    else {
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
    let e = ingest_file(&store, &lake, &r, &junk, &Source::Parquet, &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(
        e.message.contains("not a readable Parquet file"),
        "{}",
        e.message
    );
}
