//! Subscriptions' change tracking on a real Delta lake, delivered into a drop directory and
//! replayed the way a consumer applies the files: after each delivery the consumer holds exactly
//! the rows the grant's plan shows of the newest version — a std batch cleaned again replaces its
//! rows, a base subject that changed is replaced, one that is gone or moved outside the grant's
//! filter is deleted — and a delivery with nothing new writes no file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use yishu_lake::arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use yishu_lake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use yishu_lake::{Lake, Layer};
use yishu_share::filter::Filter;
use yishu_share::gate::{Basis, MAX_PAGE, ReadPlan};
use yishu_share::mask::{Mask, Masker};
use yishu_share::subscribe::{Delivered, Destination, DropFormat, Feed, deliver};
use yishu_share::target::Target;

fn plan(target: &str) -> ReadPlan {
    ReadPlan {
        basis: Basis::Grant(1),
        target: target.into(),
        items: vec!["姓名".into(), "区划".into()],
        filter: Some(Filter::parse("区划 prefix '5101'").unwrap()),
        masks: BTreeMap::from([
            ("姓名".to_string(), Mask::Partial),
            ("区划".to_string(), Mask::Keep),
        ]),
        limit: MAX_PAGE,
        purpose: "测试".into(),
        masker: Masker::new(b"consumer-key"),
    }
}

fn text(values: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values.iter().copied()))
}

/// What a consumer holds after applying every delivered file in order: rows by key.
fn replay(dir: &Path) -> (BTreeMap<String, Vec<Vec<String>>>, usize) {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    let mut held: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap();
        let mut r = csv::Reader::from_reader(body);
        assert_eq!(
            r.headers().unwrap().iter().collect::<Vec<_>>(),
            ["_op", "_key", "姓名", "区划"]
        );
        for rec in r.records() {
            let rec: Vec<String> = rec.unwrap().iter().map(String::from).collect();
            match rec[0].as_str() {
                "truncate" => held.clear(),
                "delete" => {
                    held.remove(&rec[1]);
                }
                "insert" => held
                    .entry(rec[1].clone())
                    .or_default()
                    .push(rec[2..].to_vec()),
                op => panic!("unknown operation {op}"),
            }
        }
    }
    (held, files.len())
}

/// The rows of a replayed consumer table, sorted (keys aside).
fn rows_of(held: &BTreeMap<String, Vec<Vec<String>>>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = held.values().flatten().cloned().collect();
    out.sort();
    out
}

fn row(name: &str, division: &str) -> Vec<String> {
    vec![name.into(), division.into()]
}

async fn run(lake: &Lake, target: &Target, table: &str, dir: &Path) -> Delivered {
    let p = plan(&target.as_string());
    let types = BTreeMap::new();
    let feed = Feed {
        lake,
        target,
        table,
        plan: &p,
        types: &types,
    };
    let dest = Destination::Directory {
        path: dir.to_string_lossy().into_owned(),
        format: DropFormat::Csv,
    };
    deliver(&feed, &dest, "sub-test-uid").await.unwrap()
}

fn std_batch(names: &[&str], divisions: &[&str], batch: &str) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("姓名", DataType::Utf8, true),
        Field::new("区划", DataType::Utf8, true),
        Field::new("_batch_id", DataType::Utf8, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            text(names),
            text(divisions),
            text(&vec![batch; names.len()]),
        ],
    )
    .unwrap()
}

fn batch_meta(id: &str) -> HashMap<String, serde_json::Value> {
    HashMap::from([("batch_id".to_string(), serde_json::json!(id))])
}

#[tokio::test]
async fn std_batches_are_delivered_once_and_a_cleaned_again_batch_replaces_its_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake").to_str().unwrap()).unwrap();
    let out = tmp.path().join("drop");
    let target = Target::Resource(7);
    let t = "t_huji";
    lake.append(
        Layer::Std,
        t,
        vec![std_batch(
            &["张三", "李四", "王五"],
            &["510104", "510107", "510200"],
            "b1",
        )],
        batch_meta("b1"),
    )
    .await
    .unwrap();
    let first = run(&lake, &target, t, &out).await;
    assert!(first.full && first.rows == 2, "{first:?}");
    assert_eq!(
        rows_of(&replay(&out).0),
        [row("张*", "510104"), row("李*", "510107")]
    );

    // A new batch, and b1 cleaned again (its rows deleted, then written anew).
    lake.append(
        Layer::Std,
        t,
        vec![std_batch(&["赵六"], &["510105"], "b2")],
        batch_meta("b2"),
    )
    .await
    .unwrap();
    lake.delete_rows(Layer::Std, t, ("_batch_id", "b1"))
        .await
        .unwrap();
    lake.append(
        Layer::Std,
        t,
        vec![std_batch(&["张三丰", "王五"], &["510104", "510106"], "b1")],
        batch_meta("b1"),
    )
    .await
    .unwrap();
    let second = run(&lake, &target, t, &out).await;
    assert!(!second.full && second.rows == 3, "{second:?}");
    assert_eq!(
        rows_of(&replay(&out).0),
        [
            row("张*丰", "510104"),
            row("王*", "510106"),
            row("赵*", "510105")
        ]
    );

    // The same into a Parquet drop directory: one file of every operation and row.
    let pq = tmp.path().join("parquet");
    let p = plan(&target.as_string());
    let types = BTreeMap::new();
    let feed = Feed {
        lake: &lake,
        target: &target,
        table: t,
        plan: &p,
        types: &types,
    };
    let dest = Destination::Directory {
        path: pq.to_string_lossy().into_owned(),
        format: DropFormat::Parquet,
    };
    let got = deliver(&feed, &dest, "sub-parquet").await.unwrap();
    assert_eq!(got.rows, 3);
    let file = std::fs::read_dir(&pq)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .expect("a Parquet file");
    let reader = yishu_lake::datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(file).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let fields: Vec<String> = batches[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(fields, ["_op", "_key", "姓名", "区划"]);
    // truncate, then the three rows.
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 4);

    // Nothing new: no file.
    let files = replay(&out).1;
    let third = run(&lake, &target, t, &out).await;
    assert!(!third.changed && third.rows == 0, "{third:?}");
    assert_eq!(replay(&out).1, files);

    // The table rewritten whole (no batch named): the consumer's is filled anew.
    lake.overwrite(
        Layer::Std,
        t,
        vec![std_batch(&["钱七"], &["510101"], "b3")],
        HashMap::new(),
    )
    .await
    .unwrap();
    let fourth = run(&lake, &target, t, &out).await;
    assert!(fourth.full, "{fourth:?}");
    assert_eq!(rows_of(&replay(&out).0), [row("钱*", "510101")]);
}

/// Library rows (subject id, name, division, valid-from, valid-to).
fn library(rows: &[(&str, &str, &str, i64, Option<i64>)]) -> RecordBatch {
    let tz = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("subject_key", DataType::Utf8, false),
        Field::new("subject_id", DataType::Utf8, false),
        Field::new("姓名", DataType::Utf8, true),
        Field::new("区划", DataType::Utf8, true),
        Field::new("_valid_from", tz.clone(), false),
        Field::new("_valid_to", tz, true),
    ]));
    let from: Vec<i64> = rows.iter().map(|r| r.3).collect();
    let to: Vec<Option<i64>> = rows.iter().map(|r| r.4).collect();
    RecordBatch::try_new(
        schema,
        vec![
            text(&rows.iter().map(|r| r.0).collect::<Vec<_>>()),
            text(&rows.iter().map(|r| r.0).collect::<Vec<_>>()),
            text(&rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            text(&rows.iter().map(|r| r.2).collect::<Vec<_>>()),
            Arc::new(TimestampMicrosecondArray::from(from).with_timezone("UTC")),
            Arc::new(TimestampMicrosecondArray::from(to).with_timezone("UTC")),
        ],
    )
    .unwrap()
}

fn run_meta(at: i64) -> HashMap<String, serde_json::Value> {
    HashMap::from([("valid_at".to_string(), serde_json::json!(at))])
}

/// One fusion run at time `at`: the versions it closes go to history, then the library.
async fn fuse(
    lake: &Lake,
    at: i64,
    closed: &[(&str, &str, &str, i64, Option<i64>)],
    current: &[(&str, &str, &str, i64, Option<i64>)],
) {
    if !closed.is_empty() {
        lake.append(
            Layer::Base,
            "population_history",
            vec![library(closed)],
            run_meta(at),
        )
        .await
        .unwrap();
    }
    lake.overwrite(
        Layer::Base,
        "population",
        vec![library(current)],
        run_meta(at),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn base_changes_arrive_as_replacements_and_deletions() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake").to_str().unwrap()).unwrap();
    let out = tmp.path().join("drop");
    let target = Target::parse("base:population").unwrap();
    let t = "population";
    let (t1, t2, t3) = (1_000_000, 2_000_000, 3_000_000);
    fuse(
        &lake,
        t1,
        &[],
        &[
            ("a", "张三", "510104", t1, None),
            ("b", "李四", "510107", t1, None),
            ("c", "王五", "510200", t1, None),
            ("e", "孙八", "510108", t1, None),
        ],
    )
    .await;
    let first = run(&lake, &target, t, &out).await;
    assert!(first.full && first.rows == 3, "{first:?}");

    // a renamed, b gone, c moved into the grant's area, d new, e unchanged.
    fuse(
        &lake,
        t2,
        &[
            ("a", "张三", "510104", t1, Some(t2)),
            ("b", "李四", "510107", t1, Some(t2)),
            ("c", "王五", "510200", t1, Some(t2)),
        ],
        &[
            ("a", "张三丰", "510104", t2, None),
            ("c", "王五", "510106", t2, None),
            ("d", "赵六", "510105", t2, None),
            ("e", "孙八", "510108", t1, None),
        ],
    )
    .await;
    let second = run(&lake, &target, t, &out).await;
    assert!(
        !second.full && second.rows == 3,
        "only the changed subjects: {second:?}"
    );
    let (held, _) = replay(&out);
    assert_eq!(
        rows_of(&held),
        [
            row("孙*", "510108"),
            row("张*丰", "510104"),
            row("王*", "510106"),
            row("赵*", "510105")
        ]
    );
    assert_eq!(held.len(), 4, "one row a subject");
    assert!(
        held.keys()
            .all(|k| !["a", "b", "c", "d", "e"].contains(&k.as_str())),
        "subjects are keyed by a digest, not their id"
    );

    // d moves out of the grant's area: deleted, nothing sent in its place.
    fuse(
        &lake,
        t3,
        &[("d", "赵六", "510105", t2, Some(t3))],
        &[
            ("a", "张三丰", "510104", t2, None),
            ("c", "王五", "510106", t2, None),
            ("d", "赵六", "510200", t3, None),
            ("e", "孙八", "510108", t1, None),
        ],
    )
    .await;
    let third = run(&lake, &target, t, &out).await;
    assert_eq!((third.rows, third.deleted), (0, 1), "{third:?}");
    assert_eq!(
        rows_of(&replay(&out).0),
        [
            row("孙*", "510108"),
            row("张*丰", "510104"),
            row("王*", "510106")
        ]
    );
    let fourth = run(&lake, &target, t, &out).await;
    assert!(!fourth.changed, "{fourth:?}");
}
