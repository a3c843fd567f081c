//! A real Delta table on disk: write, read back through SQL, append, time-travel.

use std::collections::HashMap;
use std::sync::Arc;
use yishu_lake::arrow::array::{Int64Array, RecordBatch, StringArray};
use yishu_lake::arrow::datatypes::{DataType, Field, Schema};
use yishu_lake::{Lake, Layer, query};

fn batch(ids: &[i64], names: &[&str]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(ids.to_vec())),
            Arc::new(StringArray::from(names.to_vec())),
        ],
    )
    .unwrap()
}

fn count(batches: &[RecordBatch]) -> i64 {
    batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_read_and_time_travel() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let meta = HashMap::from([("yishu.batch_id".to_string(), serde_json::json!("b1"))]);
    let v0 = lake
        .append(
            Layer::Ods,
            "people",
            vec![batch(&[1, 2], &["张三", "李四"])],
            meta,
        )
        .await
        .unwrap();
    let v1 = lake
        .append(
            Layer::Ods,
            "people",
            vec![batch(&[3], &["王五"])],
            HashMap::new(),
        )
        .await
        .unwrap();
    assert_eq!((v0, v1), (0, 1));
    assert_eq!(lake.list_tables(Layer::Ods), vec!["people".to_string()]);

    let ctx = lake.session().await.unwrap();
    let r = query(&ctx, "SELECT COUNT(*) FROM ods.people")
        .await
        .unwrap();
    assert_eq!(count(&r), 3);
    let r = query(&ctx, "SELECT name FROM ods.people WHERE id = 3")
        .await
        .unwrap();
    let names = r[0]
        .column(0)
        .as_any()
        .downcast_ref::<yishu_lake::arrow::array::StringViewArray>()
        .map(|a| a.value(0).to_string())
        .or_else(|| {
            r[0].column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .map(|a| a.value(0).to_string())
        })
        .unwrap();
    assert_eq!(names, "王五");

    // The first version still holds only the first batch.
    lake.register_version(&ctx, Layer::Ods, "people", 0, "people_v0")
        .await
        .unwrap();
    let r = query(&ctx, "SELECT COUNT(*) FROM people_v0").await.unwrap();
    assert_eq!(count(&r), 2);
}

#[test]
fn rejects_bad_names_and_roots() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    assert!(lake.table_url(Layer::Std, "../etc").is_err());
    assert!(lake.table_url(Layer::Std, "People").is_err());
    assert!(lake.table_url(Layer::Std, "people_2024").is_ok());
    let e = Lake::open("ftp://x/y").unwrap_err();
    assert_eq!(e.code, yishu_types::ErrorCode::ConfigInvalid);
    if !cfg!(feature = "s3") {
        assert!(
            Lake::open("s3://bucket/lake")
                .unwrap_err()
                .message
                .contains("--features s3")
        );
    }
}

/// A streaming append is invisible until its one commit, and then holds every row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_append_commits_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let schema = batch(&[0], &["x"]).schema();
    let mut app = lake
        .appender(Layer::Ods, "stream", schema.clone())
        .await
        .unwrap();
    for i in 0..50 {
        let ids: Vec<i64> = (i * 1000..(i + 1) * 1000).collect();
        let names: Vec<&str> = ids.iter().map(|_| "张三").collect();
        app.write(batch(&ids, &names)).await.unwrap();
    }
    // Before the commit the table exists (created empty) but shows no rows.
    let ctx = lake.session().await.unwrap();
    assert_eq!(
        count(
            &query(&ctx, "SELECT COUNT(*) FROM ods.stream")
                .await
                .unwrap()
        ),
        0
    );
    let meta = HashMap::from([("yishu.batch_id".to_string(), serde_json::json!("s1"))]);
    let v = app.commit(meta).await.unwrap();
    assert_eq!(v, 1);
    let ctx = lake.session().await.unwrap();
    assert_eq!(
        count(
            &query(&ctx, "SELECT COUNT(*) FROM ods.stream")
                .await
                .unwrap()
        ),
        50_000
    );
    assert!(
        lake.find_commit(Layer::Ods, "stream", "yishu.batch_id", "s1")
            .await
            .unwrap()
            .is_some()
    );
    // An appender dropped without commit leaves the table as it was.
    let mut dropped = lake.appender(Layer::Ods, "stream", schema).await.unwrap();
    dropped.write(batch(&[1], &["李四"])).await.unwrap();
    drop(dropped);
    let ctx = lake.session().await.unwrap();
    assert_eq!(
        count(
            &query(&ctx, "SELECT COUNT(*) FROM ods.stream")
                .await
                .unwrap()
        ),
        50_000
    );
}

/// The names in a table, ordered by id, read back through SQL (deletion vectors applied).
async fn names(lake: &Lake) -> Vec<(i64, String)> {
    let ctx = lake.session().await.unwrap();
    let r = query(&ctx, "SELECT id, name FROM base.people ORDER BY id")
        .await
        .unwrap();
    let mut out = Vec::new();
    for b in &r {
        let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        let n = yishu_lake::arrow::compute::cast(b.column(1), &DataType::Utf8).unwrap();
        let n = n.as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..b.num_rows() {
            out.push((ids.value(i), n.value(i).to_string()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_picked_rows_leaves_files_and_applies_deletion_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    // Nothing to pick in a table that does not exist; replacing creates it.
    let none = lake
        .pick(Layer::Base, "people", &["name"], |_| true, None)
        .await
        .unwrap();
    assert!(none.is_empty());
    lake.replace_picked(
        Layer::Base,
        "people",
        none,
        vec![batch(&[1, 2, 3], &["张三", "李四", "王五"])],
        HashMap::new(),
    )
    .await
    .unwrap();
    lake.append(
        Layer::Base,
        "people",
        vec![batch(&[4, 5], &["赵六", "钱七"])],
        HashMap::new(),
    )
    .await
    .unwrap();
    let files = |dir: &std::path::Path| {
        std::fs::read_dir(dir.join("lake/base/people"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
            .count()
    };
    assert_eq!(files(dir.path()), 2);

    // Pick one row in each file by its key; only those come back, with every column.
    let picked = lake
        .pick(
            Layer::Base,
            "people",
            &["name"],
            |k| k[0] == "李四" || k[0] == "钱七",
            None,
        )
        .await
        .unwrap();
    assert_eq!(picked.len(), 2);
    let rows: usize = picked.rows.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 2);
    assert_eq!(picked.rows[0].num_columns(), 2);
    let v = lake
        .replace_picked(
            Layer::Base,
            "people",
            picked,
            vec![batch(&[2], &["李四（改）"])],
            HashMap::new(),
        )
        .await
        .unwrap();
    // The two old files stay; one new file holds the new row.
    assert_eq!(files(dir.path()), 3);
    assert_eq!(
        names(&lake).await,
        vec![
            (1, "张三".to_string()),
            (2, "李四（改）".to_string()),
            (3, "王五".to_string()),
            (4, "赵六".to_string()),
        ]
    );

    // A second replacement in a file with a deletion vector keeps the earlier deletions, and a
    // deleted row is never picked again.
    let picked = lake
        .pick(
            Layer::Base,
            "people",
            &["name"],
            |k| k[0] == "张三" || k[0] == "钱七",
            Some(&[]),
        )
        .await
        .unwrap();
    assert_eq!(picked.len(), 1, "钱七 was deleted already");
    assert!(picked.rows.is_empty(), "no column asked for, none read");
    lake.replace_picked(Layer::Base, "people", picked, vec![], HashMap::new())
        .await
        .unwrap();
    assert_eq!(
        names(&lake).await,
        vec![
            (2, "李四（改）".to_string()),
            (3, "王五".to_string()),
            (4, "赵六".to_string()),
        ]
    );
    let ctx = lake.session().await.unwrap();
    let n = query(&ctx, "SELECT COUNT(*) FROM base.people")
        .await
        .unwrap();
    assert_eq!(count(&n), 3, "a count applies the deletion vectors too");

    // The version before the replacement still reads as it was; a whole rewrite drops the
    // vectors with their files.
    let old = lake
        .open_table_at(Layer::Base, "people", v - 1)
        .await
        .unwrap();
    assert_eq!(old.snapshot().unwrap().log_data().num_files(), 2);
    lake.overwrite(
        Layer::Base,
        "people",
        vec![batch(&[9], &["孙九"])],
        HashMap::new(),
    )
    .await
    .unwrap();
    assert_eq!(names(&lake).await, vec![(9, "孙九".to_string())]);
    let picked = lake
        .pick(
            Layer::Base,
            "people",
            &["id"],
            |k| k[0] == "9",
            Some(&["name"]),
        )
        .await
        .unwrap();
    assert_eq!(picked.len(), 1, "keys of any type are read as text");
    assert_eq!(
        picked.rows[0].num_columns(),
        1,
        "only the columns asked for"
    );

    // A handle keeps the tables it picked from open, and brings them up to date before the
    // next pick: rows another handle (another process) committed since are found, and rows it
    // deleted are not.
    let other = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    other
        .append(
            Layer::Base,
            "people",
            vec![batch(&[10], &["周十"])],
            HashMap::new(),
        )
        .await
        .unwrap();
    let by_name = |n: &'static str| {
        let lake = lake.clone();
        async move {
            lake.pick(Layer::Base, "people", &["name"], |k| k[0] == n, None)
                .await
                .unwrap()
        }
    };
    assert_eq!(by_name("周十").await.len(), 1, "another handle's append");
    let gone = other
        .pick(Layer::Base, "people", &["name"], |k| k[0] == "孙九", None)
        .await
        .unwrap();
    other
        .replace_picked(Layer::Base, "people", gone, vec![], HashMap::new())
        .await
        .unwrap();
    assert!(by_name("孙九").await.is_empty(), "another handle's delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_deletion_vector_is_an_error_not_a_resurrected_row() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let rows = batch(&[1, 2, 3], &["张三", "李四", "王五"]);
    lake.append(Layer::Base, "people", vec![rows], HashMap::new())
        .await
        .unwrap();
    let pick = |name: &'static str| {
        let lake = &lake;
        async move {
            lake.pick(
                Layer::Base,
                "people",
                &["name"],
                move |k| k[0] == name,
                Some(&[]),
            )
            .await
        }
    };
    let picked = pick("李四").await.unwrap();
    lake.replace_picked(Layer::Base, "people", picked, vec![], HashMap::new())
        .await
        .unwrap();
    assert_eq!(
        pick("李四").await.unwrap().len(),
        0,
        "deleted, not picked again"
    );
    assert_eq!(pick("王五").await.unwrap().len(), 1);
    // Flip a bit of the bitmap: the checksum no longer matches.
    let vector = std::fs::read_dir(dir.path().join("lake/base/people"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".bin"))
        .expect("a deletion-vector file");
    let mut bytes = std::fs::read(&vector).unwrap();
    let at = bytes.len() - 6;
    bytes[at] ^= 1;
    std::fs::write(&vector, bytes).unwrap();
    let e = pick("王五")
        .await
        .err()
        .expect("a damaged vector fails the pick");
    assert_eq!(e.code.as_str(), "lake_error");
    assert!(e.message.contains("checksum"), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_with_one_value_per_file_is_read_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let none = lake
        .file_values(Layer::Std, "people", "name")
        .await
        .unwrap();
    assert_eq!(none, Some(Default::default()), "no table, no values");
    for (ids, name) in [(&[1, 2][..], "批次甲"), (&[3][..], "批次乙")] {
        let names = vec![name; ids.len()];
        lake.append(
            Layer::Std,
            "people",
            vec![batch(ids, &names)],
            HashMap::new(),
        )
        .await
        .unwrap();
    }
    let got = lake
        .file_values(Layer::Std, "people", "name")
        .await
        .unwrap();
    assert_eq!(
        got,
        Some(["批次甲".to_string(), "批次乙".to_string()].into()),
        "one value per file"
    );
    // A file with two values does not say which rows hold which: the caller reads the column.
    assert_eq!(
        lake.file_values(Layer::Std, "people", "id").await.unwrap(),
        None
    );
}

/// A batch of (id, name) with a hash column `_h` holding the given hashes.
fn hashed_batch(ids: &[i64], names: &[&str], hashes: &[i64]) -> RecordBatch {
    let plain = batch(ids, names);
    let mut fields = plain.schema().fields().to_vec();
    fields.push(Arc::new(Field::new("_h", DataType::Int64, false)));
    let mut columns = plain.columns().to_vec();
    columns.push(Arc::new(Int64Array::from(hashes.to_vec())));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_rows_by_hash_checks_the_keys_and_falls_back_to_them() {
    use yishu_lake::{Finder, KeyHashes, key_hash};
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let h = |s: &str| key_hash(&[s]);
    assert_eq!(
        h("张三"),
        key_hash(&["张三"]),
        "the same key, the same hash"
    );
    assert_ne!(
        key_hash(&["ab", "c"]),
        key_hash(&["a", "bc"]),
        "parts stay apart"
    );
    // 王五's row carries 张三's hash, as a collision would: the key decides.
    lake.append(
        Layer::Base,
        "people",
        vec![hashed_batch(
            &[1, 2, 3],
            &["张三", "李四", "王五"],
            &[h("张三"), h("李四"), h("张三")],
        )],
        HashMap::new(),
    )
    .await
    .unwrap();
    let wanted: KeyHashes = [h("张三")].into_iter().collect();
    let find = |table: &'static str| {
        let lake = &lake;
        let wanted = &wanted;
        async move {
            let finder = Finder {
                keys: &["name"],
                pick: |k: &[&str]| k[0] == "张三",
                hashed: Some(("_h", wanted)),
            };
            lake.find(Layer::Base, table, finder, Some(&["id"]))
                .await
                .unwrap()
        }
    };
    let picked = find("people").await;
    assert_eq!(
        picked.len(),
        1,
        "the candidate with another key is not picked"
    );
    let ids = picked.rows[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(ids.values().to_vec(), vec![1]);
    assert_eq!(
        picked.rows[0].num_columns(),
        1,
        "the key read to check is not returned"
    );
    // Replaced, the row is gone from later finds.
    lake.replace_picked(
        Layer::Base,
        "people",
        picked,
        vec![hashed_batch(&[4], &["赵六"], &[h("赵六")])],
        HashMap::new(),
    )
    .await
    .unwrap();
    assert!(
        find("people").await.is_empty(),
        "a deleted row is not found"
    );
    assert_eq!(
        names(&lake).await,
        vec![(2, "李四".into()), (3, "王五".into()), (4, "赵六".into())]
    );
    // A table written without the hash column is found by its keys.
    lake.append(
        Layer::Base,
        "older",
        vec![batch(&[7, 8], &["张三", "李四"])],
        HashMap::new(),
    )
    .await
    .unwrap();
    let picked = find("older").await;
    assert_eq!(picked.len(), 1);
    let ids = picked.rows[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(ids.values().to_vec(), vec![7]);
}

/// The key-index files of a table, by path.
fn index_files(table: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(table.join("_yishu_index"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_indexes_find_what_a_scan_finds_and_a_bad_one_is_written_again() {
    use yishu_lake::{Finder, KeyHashes, key_hash};
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let table = dir.path().join("lake/base/people");
    let h = |s: &str| key_hash(&[s]);
    // 3,000 people; 张三 has 200 rows (more than an index block), all in the middle of the
    // hash order; two files.
    let mut names: Vec<String> = (0..3000).map(|i| format!("人{i}")).collect();
    names.extend((0..200).map(|_| "张三".to_string()));
    // A second hash column, before the key's: files keep their own column order.
    let with_key = |ids: &[i64], names: &[String]| {
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let b = hashed_batch(ids, &refs, &refs.iter().map(|n| h(n)).collect::<Vec<_>>());
        let other: Vec<i64> = ids.iter().map(|i| h(&i.to_string())).collect();
        let mut fields = b.schema().fields()[..2].to_vec();
        fields.push(Arc::new(Field::new("_to_hash", DataType::Int64, false)));
        fields.push(Arc::new(Field::new("_key_hash", DataType::Int64, false)));
        let mut columns = b.columns()[..2].to_vec();
        columns.push(Arc::new(Int64Array::from(other)));
        columns.push(b.column(2).clone());
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    };
    let ids: Vec<i64> = (0..names.len() as i64).collect();
    for part in [0..1400, 1400..names.len()] {
        let mut app = lake
            .appender(Layer::Base, "people", with_key(&[0], &names[..1]).schema())
            .await
            .unwrap();
        app.write(with_key(&ids[part.clone()], &names[part]))
            .await
            .unwrap();
        app.commit(HashMap::new()).await.unwrap();
    }
    let ending = |end: &str| {
        index_files(&table)
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(end))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ending(".idx").len(),
        4,
        "one index per data file and hash column"
    );
    assert_eq!(ending(".pages").len(), 2, "one page list per data file");

    let wanted: KeyHashes = ["张三", "人7", "人2999", "无此人"]
        .iter()
        .map(|n| h(n))
        .collect();
    let find = || {
        let (lake, wanted) = (&lake, &wanted);
        async move {
            let finder = Finder {
                keys: &["name"],
                pick: |k: &[&str]| ["张三", "人7", "人2999", "无此人"].contains(&k[0]),
                hashed: Some(("_key_hash", wanted)),
            };
            let p = lake
                .find(Layer::Base, "people", finder, Some(&["id"]))
                .await
                .unwrap();
            let mut ids: Vec<i64> = p
                .rows
                .iter()
                .flat_map(|b| {
                    let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                    a.values().to_vec()
                })
                .collect();
            ids.sort();
            (p, ids)
        }
    };
    let mut expected: Vec<i64> = vec![7, 2999];
    expected.extend(3000..3200);
    let (_, by_index) = find().await;
    assert_eq!(by_index, expected, "every row of a hash over many blocks");

    // An index that does not match its file (cut short) is not trusted: it is written again
    // from the file, and the next pick finds it whole.
    let key_indexes: Vec<_> = index_files(&table)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with("_key_hash.idx"))
        .collect();
    let first = &key_indexes[0];
    let bytes = std::fs::read(first).unwrap();
    std::fs::write(first, &bytes[..bytes.len() - 8]).unwrap();
    assert_eq!(find().await.1, expected);
    assert_eq!(
        std::fs::read(first).unwrap(),
        bytes,
        "the cut index is rewritten"
    );
    // Nor one for another file.
    let second = &key_indexes[1];
    std::fs::write(first, std::fs::read(second).unwrap()).unwrap();
    assert_eq!(find().await.1, expected);
    assert_eq!(
        std::fs::read(first).unwrap(),
        bytes,
        "another file's is replaced"
    );
    // A page list that does not match its file is not used (by a new handle: this one keeps
    // what it read): the file's own offset index is. Written whole and renamed into place, as
    // the lake writes.
    for list in ending(".pages") {
        let bytes = std::fs::read(&list).unwrap();
        let cut = list.with_extension("cut");
        std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
        std::fs::rename(&cut, &list).unwrap();
    }
    let again = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let finder = Finder {
        keys: &["name"],
        pick: |k: &[&str]| ["人7", "人2999"].contains(&k[0]),
        hashed: Some(("_key_hash", &wanted)),
    };
    let p = again
        .find(Layer::Base, "people", finder, Some(&["id"]))
        .await
        .unwrap();
    assert_eq!(p.len(), 2);
    // Without indexes the files are scanned, with the same result.
    std::fs::remove_dir_all(table.join("_yishu_index")).unwrap();
    let (picked, scanned) = find().await;
    assert_eq!(scanned, expected);

    // Rows written by a replacement get their index; deleted rows are not found again.
    lake.replace_picked(
        Layer::Base,
        "people",
        picked,
        vec![with_key(&[5000, 5001], &["张三".into(), "人7".into()])],
        HashMap::new(),
    )
    .await
    .unwrap();
    assert_eq!(ending(".idx").len(), 2, "the new file's indexes");
    assert_eq!(ending(".pages").len(), 1, "and its page list");
    assert_eq!(find().await.1, vec![5000, 5001]);
    // And a replacement that picked nothing but writes rows indexes them too.
    let none: KeyHashes = [h("无此人")].into_iter().collect();
    let finder = Finder {
        keys: &["name"],
        pick: |k: &[&str]| k[0] == "无此人",
        hashed: Some(("_key_hash", &none)),
    };
    let nothing = lake
        .find(Layer::Base, "people", finder, Some(&[]))
        .await
        .unwrap();
    assert!(nothing.is_empty());
    lake.replace_picked(
        Layer::Base,
        "people",
        nothing,
        vec![with_key(&[6000], &["人2999".into()])],
        HashMap::new(),
    )
    .await
    .unwrap();
    assert_eq!(ending(".idx").len(), 4);
    assert_eq!(find().await.1, vec![5000, 5001, 6000]);
}

/// A table the lake creates checkpoints its log every 10 commits, so opening it replays at most
/// ten commits however many runs wrote to it; a new handle reads it whole from the checkpoint.
#[tokio::test]
async fn tables_checkpoint_their_log_every_ten_commits() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    for i in 0..12 {
        lake.append(
            Layer::Ods,
            "runs",
            vec![batch(&[i], &["张三"])],
            HashMap::new(),
        )
        .await
        .unwrap();
    }
    let log = dir.path().join("lake/ods/runs/_delta_log");
    let checkpoints: Vec<String> = std::fs::read_dir(&log)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".checkpoint"))
        .collect();
    assert_eq!(
        checkpoints,
        vec!["00000000000000000009.checkpoint.parquet".to_string()]
    );
    assert!(log.join("_last_checkpoint").exists());
    let again = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let ctx = again.session().await.unwrap();
    let r = query(&ctx, "SELECT COUNT(*) FROM ods.runs").await.unwrap();
    assert_eq!(count(&r), 12);
}

/// Tables are kept open between reads and asked for new commits with a look at the log: a
/// commit made through another handle (another process) is seen by the next read, and so is a
/// table removed and made anew with fewer versions than the one kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_tables_see_commits_from_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    let reader = Lake::open(root.to_str().unwrap()).unwrap();
    let writer = Lake::open(root.to_str().unwrap()).unwrap();
    assert!(!reader.has_table(Layer::Base, "people"));
    assert_eq!(reader.columns(Layer::Base, "people").await.unwrap(), None);
    for (i, name) in ["张三", "李四", "王五"].iter().enumerate() {
        writer
            .append(
                Layer::Base,
                "people",
                vec![batch(&[i as i64], &[name])],
                HashMap::new(),
            )
            .await
            .unwrap();
        assert!(reader.has_table(Layer::Base, "people"));
        assert_eq!(picked(&reader).await, i + 1);
    }
    // Made anew: one version (0) where the reader keeps version 2.
    std::fs::remove_dir_all(root.join("base").join("people")).unwrap();
    assert!(!reader.has_table(Layer::Base, "people"));
    writer
        .append(
            Layer::Base,
            "people",
            vec![batch(&[9], &["赵六"])],
            HashMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(picked(&reader).await, 1);
}

/// Rows of base.people read through the kept table (a pick of every row).
async fn picked(lake: &Lake) -> usize {
    lake.pick(Layer::Base, "people", &["name"], |_| true, None)
        .await
        .unwrap()
        .len()
}
