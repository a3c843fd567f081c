//! The scan against a real Delta table: every planted problem is found at its row, nothing else is.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use yishu_lake::arrow::array::{ArrayRef, RecordBatch, StringArray};
use yishu_lake::arrow::datatypes::{DataType, Field, Schema};
use yishu_lake::{Lake, Layer};
use yishu_quality::eval::Context;
use yishu_quality::rule::PlannedRule;
use yishu_quality::{Scan, scan, text};

const COLS: [&str; 6] = [
    "公民身份号码",
    "姓名",
    "性别",
    "出生日期",
    "区划代码",
    "区划名称",
];

fn id(body: &str) -> String {
    format!(
        "{body}{}",
        yishu_types::citizen_id::check_char(body.as_bytes())
    )
}

/// Rows: (id, name, sex, birth, division code, division name); refs are `people.csv:<line>`.
fn rows() -> Vec<[String; 6]> {
    let mut v = Vec::new();
    for i in 0..200u32 {
        let body = format!("510107{:04}0101{:03}", 1950 + i % 50, i);
        let sex = if (i % 1000) % 2 == 1 { "1" } else { "2" };
        v.push([
            id(&body),
            format!("张{i}"),
            sex.to_string(),
            format!("{:04}-01-01", 1950 + i % 50),
            "510107".into(),
            "武侯区".into(),
        ]);
    }
    // Planted problems, each at a known line (line = index + 2, after the header).
    // A wrong check digit (format).
    let last = if v[3][0].ends_with('0') { '1' } else { '0' };
    v[3][0] = format!("{}{last}", &v[3][0][..17]);
    v[5][1] = String::new(); // missing name (not-null)
    v[7][2] = "7".into(); // not a sex code (code table)
    v[9][3] = "1959-02-01".into(); // birth differs from the ID (cross)
    v[11][2] = if v[11][2] == "1" {
        "2".into()
    } else {
        "1".into()
    }; // sex differs from ID
    v[13] = v[12].clone(); // duplicate record (unique on ID)
    v[15][5] = "锦江区".into(); // same division code, other name (dependency)
    v[17][3] = "1850-01-01".into(); // out of range (also breaks birth = ID)
    v
}

async fn lake_with(rows: &[[String; 6]]) -> (tempfile::TempDir, Lake) {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let mut fields: Vec<Field> = COLS
        .iter()
        .map(|c| Field::new(*c, DataType::Utf8, true))
        .collect();
    fields.push(Field::new("_batch_id", DataType::Utf8, false));
    fields.push(Field::new("_source_ref", DataType::Utf8, false));
    let schema = Arc::new(Schema::new(fields));
    let mut cols: Vec<ArrayRef> = (0..6)
        .map(|c| {
            Arc::new(StringArray::from_iter(rows.iter().map(|r| {
                let v = &r[c];
                (!v.is_empty()).then(|| v.clone())
            }))) as ArrayRef
        })
        .collect();
    cols.push(Arc::new(StringArray::from(vec!["b1"; rows.len()])));
    cols.push(Arc::new(StringArray::from_iter_values(
        (0..rows.len()).map(|i| format!("people.csv:{}", i + 2)),
    )));
    let b = RecordBatch::try_new(schema, cols).unwrap();
    lake.append(Layer::Ods, "r_people", vec![b], HashMap::new())
        .await
        .unwrap();
    (dir, lake)
}

fn rule(id: i64, v: serde_json::Value) -> PlannedRule {
    PlannedRule {
        id,
        version: 1,
        def: serde_json::from_value(v).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_finds_each_planted_problem_and_nothing_else() {
    let (_dir, lake) = lake_with(&rows()).await;
    // The referenced resource: the division table holds only 510107.
    let mut context = Context::default();
    let mut keys = text::HashSet::default();
    keys.insert(text::hash("510107"));
    context.references.insert(8, keys);
    let rules = vec![
        rule(1, serde_json::json!({"kind": "not_null", "column": "姓名"})),
        rule(
            2,
            serde_json::json!({"kind": "unique", "columns": ["公民身份号码"]}),
        ),
        rule(
            3,
            serde_json::json!({"kind": "format", "column": "公民身份号码", "validator": "citizen_id"}),
        ),
        rule(
            4,
            serde_json::json!({"kind": "code_table", "column": "性别", "table": "sex"}),
        ),
        rule(
            5,
            serde_json::json!({"kind": "cross", "check": "birth_matches_id", "id": "公民身份号码", "birth": "出生日期"}),
        ),
        rule(
            6,
            serde_json::json!({"kind": "cross", "check": "sex_matches_id", "id": "公民身份号码", "sex": "性别"}),
        ),
        rule(
            7,
            serde_json::json!({"kind": "dependency", "lhs": ["区划代码"], "rhs": "区划名称"}),
        ),
        rule(
            8,
            serde_json::json!({"kind": "range", "column": "出生日期", "after": "1900-01-01", "before": "2030-12-31"}),
        ),
        rule(
            9,
            serde_json::json!({"kind": "referential", "column": "区划代码", "resource": "division", "item": "code"}),
        ),
        rule(
            10,
            serde_json::json!({"kind": "format", "column": "姓名", "regex": "^张\\d+$"}),
        ),
        rule(
            11,
            serde_json::json!({"kind": "not_null", "column": "已删除的列"}),
        ),
        rule(
            12,
            serde_json::json!({"kind": "sql", "sql": "SELECT _source_ref, \"姓名\" AS value FROM t WHERE \"姓名\" = '张20'"}),
        ),
    ];
    // The referential rule is index 8 in this list.
    let fields: Vec<String> = COLS.iter().map(|c| c.to_string()).collect();
    let out = scan(Scan {
        lake: &lake,
        table: "r_people",
        batch_id: Some("b1"),
        fields: &fields,
        rules: &rules,
        context,
        threads: 2,
    })
    .await
    .unwrap();
    let found = |rule: usize| -> BTreeSet<String> {
        out.violations
            .iter()
            .filter(|v| v.rule == rule)
            .map(|v| v.source_ref.clone())
            .collect()
    };
    let lines = |ls: &[usize]| -> BTreeSet<String> {
        ls.iter().map(|l| format!("people.csv:{}", l + 2)).collect()
    };
    assert_eq!(found(0), lines(&[5]), "not-null");
    assert_eq!(found(1), lines(&[13]), "unique: the later of the two rows");
    assert_eq!(found(2), lines(&[3]), "ID check digit");
    assert_eq!(found(3), lines(&[7]), "sex code table");
    assert_eq!(found(4), lines(&[9, 17]), "birth vs ID");
    assert_eq!(found(5), lines(&[11]), "sex vs ID");
    assert_eq!(found(6), lines(&[15]), "dependency: the minority row");
    assert_eq!(found(7), lines(&[17]), "birth date range");
    assert!(found(8).is_empty(), "every division code exists");
    assert_eq!(found(9), lines(&[]), "names match the regex");
    assert!(
        out.outcomes[10]
            .broken
            .as_deref()
            .unwrap()
            .contains("已删除的列")
    );
    assert_eq!(found(11), lines(&[20]), "custom SQL");
    for (i, o) in out.outcomes.iter().enumerate() {
        if i != 10 {
            assert!(o.ran && o.broken.is_none(), "rule {i}: {o:?}");
            assert_eq!(o.checked, 200);
            assert_eq!(o.failed as usize, found(i).len());
        }
    }
    let unique = out.violations.iter().find(|v| v.rule == 1).unwrap();
    assert!(unique.detail.contains("people.csv:14"), "{}", unique.detail);

    // The profile of the same pass.
    let p = &out.profile;
    assert_eq!(p.records, 200);
    assert_eq!(p.fields.len(), 6);
    assert_eq!(p.duplicate_records, 1);
    assert_eq!(p.missing_cells, 1);
    assert_eq!(p.fields_with_missing, 1);
    let idf = &p.fields[0];
    assert_eq!(idf.distinct, 199);
    assert_eq!(idf.duplicate, 1);
    assert_eq!(
        idf.patterns[0].pattern,
        yishu_quality::pattern::Pattern::CitizenId
    );
    let sex = &p.fields[2];
    assert_eq!(sex.code_table.as_deref(), Some("sex"));
    let birth = &p.fields[3];
    assert_eq!(
        birth.inferred_type,
        yishu_quality::profile::InferredType::Date
    );
    assert_eq!(birth.min.as_deref(), Some("1850-01-01"));
    assert!(p.bytes > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sql_is_refused_at_save_time() {
    let (_dir, lake) = lake_with(&rows()).await;
    for (sql, want) in [
        ("SELEC nonsense", "cannot run"),
        ("SELECT \"姓名\" FROM t", "_source_ref"),
        ("DROP TABLE t", "cannot run"),
        ("SELECT _source_ref FROM ods.r_people", "cannot run"),
    ] {
        let e = yishu_quality::scan::check_sql(&lake, "r_people", sql)
            .await
            .unwrap_err();
        assert_eq!(e.code, yishu_types::ErrorCode::RuleInvalid);
        assert!(e.message.contains(want), "{sql}: {}", e.message);
    }
    yishu_quality::scan::check_sql(
        &lake,
        "r_people",
        "SELECT _source_ref FROM t WHERE \"性别\" = '9'",
    )
    .await
    .unwrap();
}
