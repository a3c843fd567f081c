//! Accuracy on the synthetic city's ground truth: every injected problem a configured rule can see
//! is found (recall 100%), and nothing is reported where no problem was injected (precision 100%),
//! per problem kind. The table is printed (`cargo nextest run -p yishu-quality accuracy
//! --no-capture`).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use yishu_quality::clean::{Action, CleanJob, CleanRule, StdType, clean_batch};
use yishu_quality::rule::PlannedRule;
use yishu_quality::{Scan, scan};

const FILE: &str = "gongan_huji.csv";
const ITEMS: [&str; 11] = [
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
];

/// One injected problem from `truth/problems.csv`.
struct Injected {
    line: String,
    column: String,
    kind: String,
}

fn truth(city: &std::path::Path) -> Vec<Injected> {
    let mut r = csv::Reader::from_path(city.join("truth/problems.csv")).unwrap();
    r.records()
        .map(|x| x.unwrap())
        .filter(|x| &x[0] == FILE)
        .map(|x| Injected {
            line: x[1].to_string(),
            column: x[2].to_string(),
            kind: x[3].to_string(),
        })
        .collect()
}

/// The rules configured for 公安's household register, and the problem kinds each can see.
fn rules() -> Vec<(PlannedRule, &'static [&'static str])> {
    let r = |id: i64, v: serde_json::Value| PlannedRule {
        id,
        version: 1,
        def: serde_json::from_value(v).unwrap(),
    };
    vec![
        (
            r(
                1,
                serde_json::json!({"kind": "format", "column": "公民身份号码", "validator": "citizen_id"}),
            ),
            &["bad_check_digit", "id_full_width"],
        ),
        (
            r(
                2,
                serde_json::json!({"kind": "unique", "columns": ["公民身份号码"]}),
            ),
            &["exact_duplicate", "near_duplicate"],
        ),
        (
            r(3, serde_json::json!({"kind": "not_null", "column": "姓名"})),
            &["missing_value"],
        ),
        (
            r(4, serde_json::json!({"kind": "not_null", "column": "住址"})),
            &["missing_value"],
        ),
        (
            r(
                5,
                serde_json::json!({"kind": "format", "column": "出生日期", "regex": "^\\d{4}-\\d{2}-\\d{2}$"}),
            ),
            &["mixed_date_format"],
        ),
        (
            r(
                6,
                serde_json::json!({"kind": "range", "column": "出生日期", "after": "1900-01-01", "before": "2030-12-31"}),
            ),
            &["out_of_range"],
        ),
        (
            r(
                7,
                serde_json::json!({"kind": "format", "column": "姓名", "regex": "^[^\\s\\u{3000}]+$"}),
            ),
            &["name_stray_space"],
        ),
        (
            r(
                8,
                serde_json::json!({"kind": "cross", "check": "birth_matches_id", "id": "公民身份号码", "birth": "出生日期"}),
            ),
            &["out_of_range"],
        ),
        (
            r(
                9,
                serde_json::json!({"kind": "code_table", "column": "民族", "table": "ethnicity"}),
            ),
            &[],
        ),
        (
            r(
                10,
                serde_json::json!({"kind": "code_table", "column": "性别", "table": "sex"}),
            ),
            &[],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_visible_injected_problem_is_found_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let city = dir.path().join("city");
    yishu_gen::generate_city(
        &yishu_gen::CityArgs {
            people: 3000,
            seed: 5,
            out: city.clone(),
            problem_rate: 0.05,
        },
        &mut yishu_gen::NoProgress,
    )
    .await
    .unwrap();
    let w = common::World::new().await;
    let (store, lake) = (&w.store, &w.lake);
    let res = w.resource("户籍人口", &ITEMS, &city.join(FILE)).await;
    let configured = rules();
    let planned: Vec<PlannedRule> = configured.iter().map(|(r, _)| r.clone()).collect();
    let fields: Vec<String> = ITEMS.iter().map(|s| s.to_string()).collect();
    let out = scan(Scan {
        lake,
        table: &res.table(),
        batch_id: None,
        fields: &fields,
        rules: &planned,
        context: Default::default(),
        threads: 2,
    })
    .await
    .unwrap();
    let line_of = |r: &str| r.rsplit(':').next().unwrap_or_default().to_string();
    let injected = truth(&city);
    assert!(
        injected.len() > 50,
        "too few problems to measure: {}",
        injected.len()
    );

    // Recall per kind: each injected problem of a kind some rule can see, found by such a rule.
    let mut table: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for p in &injected {
        let seers: Vec<usize> = configured
            .iter()
            .enumerate()
            .filter(|(_, (_, kinds))| kinds.contains(&p.kind.as_str()))
            .map(|(i, _)| i)
            .collect();
        let e = table.entry(p.kind.clone()).or_default();
        e.0 += 1;
        if seers.is_empty() {
            continue;
        }
        e.1 += 1;
        let found = out
            .violations
            .iter()
            .any(|v| seers.contains(&v.rule) && line_of(&v.source_ref) == p.line);
        if found {
            e.2 += 1;
        }
    }
    // Precision: every violation sits on a row and column where a problem was injected (a
    // near-duplicate's name variant counts for the name rules; a unique-rule violation is the
    // repeated row).
    let mut by_line: HashMap<&str, Vec<&Injected>> = HashMap::new();
    for p in &injected {
        by_line.entry(p.line.as_str()).or_default().push(p);
    }
    let mut false_positives: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for v in &out.violations {
        let (rule, kinds) = &configured[v.rule];
        let cols: BTreeSet<&str> = rule.def.columns().into_iter().collect();
        let line = line_of(&v.source_ref);
        let ok = by_line.get(line.as_str()).is_some_and(|ps| {
            ps.iter().any(|p| {
                cols.contains(p.column.as_str())
                    || (p.kind.ends_with("duplicate") && kinds.contains(&p.kind.as_str()))
            })
        });
        if !ok {
            false_positives
                .entry(rule.id)
                .or_default()
                .push(format!("{} {:?}", v.source_ref, v.value));
        }
    }
    println!(
        "\n{:<20} {:>9} {:>15} {:>7} {:>8}",
        "problem kind", "injected", "rule can see", "found", "recall"
    );
    for (kind, (n, visible, found)) in &table {
        let recall = if *visible == 0 {
            "—".to_string()
        } else {
            format!("{:.1}%", 100.0 * *found as f64 / *visible as f64)
        };
        println!("{kind:<20} {n:>9} {visible:>15} {found:>7} {recall:>8}");
    }
    let reported = out.violations.len();
    let fp: usize = false_positives.values().map(Vec::len).sum();
    println!(
        "violations reported: {reported}, on rows/columns without an injected problem: {fp} → precision {:.1}%",
        100.0 * (reported - fp) as f64 / reported.max(1) as f64
    );
    assert!(
        false_positives.is_empty(),
        "false positives by rule: {false_positives:#?}"
    );
    for (kind, (_, visible, found)) in &table {
        assert_eq!(found, visible, "recall for {kind}");
    }
    // Cleaning: the fixable kinds go back to their true value in std.
    let fix = |id: i64, v: serde_json::Value| CleanRule {
        id,
        version: 1,
        name: format!("fix{id}"),
        def: serde_json::from_value(serde_json::json!({ "fix": v })).unwrap(),
        action: Action::Fix,
    };
    let cleaning = vec![
        fix(21, serde_json::json!({"kind": "trim", "column": "姓名"})),
        fix(
            22,
            serde_json::json!({"kind": "half_width", "column": "公民身份号码"}),
        ),
        fix(
            23,
            serde_json::json!({"kind": "unify_date", "column": "出生日期"}),
        ),
    ];
    let columns: Vec<(String, StdType)> = ITEMS
        .iter()
        .map(|c| (c.to_string(), StdType::Text))
        .collect();
    let batch = store.list_batches(res.id).await.unwrap()[0].id.clone();
    let table = res.table();
    let report = clean_batch(CleanJob {
        lake,
        table: &table,
        into: &table,
        batch_id: &batch,
        columns: &columns,
        rules: &cleaning,
        local: &HashMap::new(),
        references: HashMap::new(),
        lookups: HashMap::new(),
    })
    .await
    .unwrap();
    assert!(report.broken.is_empty(), "{:?}", report.broken);
    assert_eq!(report.rows_in, report.rows_out + report.rows_filtered);
    let ctx = lake.session().await.unwrap();
    let rows = yishu_lake::query(
        &ctx,
        &format!(
            "SELECT _ods_ref, \"姓名\", \"公民身份号码\", \"出生日期\", _fixes FROM std.{}",
            res.table()
        ),
    )
    .await
    .unwrap();
    let mut std: HashMap<String, [String; 4]> = HashMap::new();
    for b in &rows {
        let col = |k: usize| {
            let c = yishu_lake::arrow::compute::cast(
                b.column(k),
                &yishu_lake::arrow::datatypes::DataType::Utf8,
            )
            .unwrap();
            c.as_any()
                .downcast_ref::<yishu_lake::arrow::array::StringArray>()
                .unwrap()
                .clone()
        };
        let (r, n, i, d, f) = (col(0), col(1), col(2), col(3), col(4));
        for k in 0..b.num_rows() {
            std.insert(
                line_of(r.value(k)),
                [
                    n.value(k).into(),
                    i.value(k).into(),
                    d.value(k).into(),
                    f.value(k).into(),
                ],
            );
        }
    }
    assert_eq!(std.len() as u64, report.rows_out);
    let mut r = csv::Reader::from_path(city.join("truth/problems.csv")).unwrap();
    let mut fixed: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for x in r.records().map(|x| x.unwrap()).filter(|x| &x[0] == FILE) {
        let at = match &x[3] {
            "name_stray_space" => 0,
            "id_full_width" => 1,
            "mixed_date_format" => 2,
            _ => continue,
        };
        let e = fixed.entry(x[3].to_string()).or_default();
        e.0 += 1;
        if std.get(&x[1]).is_some_and(|row| row[at] == x[4]) {
            e.1 += 1;
        }
    }
    println!(
        "\n{:<20} {:>9} {:>16} {:>8}",
        "fixable kind", "injected", "fixed to truth", "rate"
    );
    for (kind, (n, ok)) in &fixed {
        println!(
            "{kind:<20} {n:>9} {ok:>16} {:>7.1}%",
            100.0 * *ok as f64 / *n as f64
        );
    }
    println!(
        "std: {} rows in, {} out, fixes {:?}",
        report.rows_in, report.rows_out, report.fixes
    );
    for (kind, (n, ok)) in &fixed {
        assert_eq!(n, ok, "{kind} fixed back to the true value");
    }
    // Rows without a problem are untouched: no fix is recorded on them.
    let problem_lines: BTreeSet<String> = injected.iter().map(|p| p.line.clone()).collect();
    let touched: Vec<&String> = std
        .iter()
        .filter(|(l, row)| !row[3].is_empty() && !problem_lines.contains(*l))
        .map(|(l, _)| l)
        .collect();
    assert!(touched.is_empty(), "fixes on clean rows: {touched:?}");
    w.end().await;
}
