//! Cleaning into std with rules that read other resources: a value filled from a reference
//! resource, a referential check that filters, and a rule whose reference cannot be read — which
//! is reported as broken while the batch is still cleaned (never a failed batch).

mod common;

use std::collections::HashMap;
use yishu_quality::clean::{Action, CleanJob, CleanRule, StdType, clean_batch};

fn rule(id: i64, v: serde_json::Value, action: Action) -> CleanRule {
    CleanRule {
        id,
        version: 1,
        name: format!("规则{id}"),
        def: serde_json::from_value(v).unwrap(),
        action,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fills_from_a_reference_filters_on_it_and_survives_a_broken_one() {
    let w = common::World::new().await;
    let (store, lake) = (&w.store, &w.lake);
    let divisions = w
        .resource_from_text(
            "行政区划",
            &["代码", "名称"],
            "代码,名称\n510104,锦江区\n510105,青羊区\n",
        )
        .await;
    let people = w
        .resource_from_text(
            "人口",
            &["姓名", "性别", "行政区划代码", "行政区划名称", "登记日期"],
            "姓名,性别,行政区划代码,行政区划名称,登记日期\n\
             张 三,男,510104,,2024年3月5日\n\
             李四,女,510105,青羊区,2024-03-06\n\
             王五,1,999999,,2024/03/07\n\
             赵六,2,510104,,不详\n",
        )
        .await;
    let rules = vec![
        rule(
            1,
            serde_json::json!({"fix": {"kind": "trim", "column": "姓名"}}),
            Action::Fix,
        ),
        rule(
            2,
            serde_json::json!({"fix": {"kind": "map_codes", "column": "性别", "table": "sex"}}),
            Action::Fix,
        ),
        rule(
            3,
            serde_json::json!({"fix": {"kind": "fill_reference", "column": "行政区划名称",
                "key": "行政区划代码", "resource": divisions.code, "on": "代码", "take": "名称"}}),
            Action::Fix,
        ),
        rule(
            4,
            serde_json::json!({"check": {"kind": "referential", "column": "行政区划代码",
                "resource": divisions.code, "item": "代码"}}),
            Action::Filter,
        ),
        rule(
            5,
            serde_json::json!({"check": {"kind": "referential", "column": "行政区划代码",
                "resource": "999999/999999", "item": "代码"}}),
            Action::Filter,
        ),
    ];
    let columns: Vec<(String, StdType)> = [
        ("姓名", StdType::Text),
        ("性别", StdType::Text),
        ("行政区划代码", StdType::Text),
        ("行政区划名称", StdType::Text),
        ("登记日期", StdType::Date),
    ]
    .iter()
    .map(|(c, t)| (c.to_string(), *t))
    .collect();
    let (references, lookups) =
        yishu_quality::cleaning::clean_references(store, lake, &rules).await;
    let batch = store.list_batches(people.id).await.unwrap()[0].id.clone();
    let table = people.table();
    let report = clean_batch(CleanJob {
        lake,
        table: &table,
        into: &table,
        batch_id: &batch,
        columns: &columns,
        rules: &rules,
        local: &HashMap::new(),
        references,
        lookups,
    })
    .await
    .unwrap();
    assert_eq!(
        (report.rows_in, report.rows_out, report.rows_filtered),
        (4, 3, 1)
    );
    assert_eq!(report.broken.len(), 1, "{:?}", report.broken);
    assert!(report.broken[0].starts_with("规则5"), "{:?}", report.broken);
    assert_eq!(report.fixes["fill_reference@行政区划名称"], 2);
    assert_eq!(report.type_failures, 1);

    let ctx = lake.session().await.unwrap();
    let rows = yishu_lake::query(
        &ctx,
        &format!(
            "SELECT \"姓名\", \"性别\", \"行政区划名称\", CAST(\"登记日期\" AS VARCHAR) AS d, _fixes, _flags \
             FROM std.{table} ORDER BY _ods_ref"
        ),
    )
    .await
    .unwrap();
    let text: Vec<Vec<String>> = rows
        .iter()
        .flat_map(|b| {
            (0..b.num_rows()).map(move |i| {
                (0..b.num_columns())
                    .map(|c| {
                        yishu_lake::arrow::util::display::array_value_to_string(b.column(c), i)
                            .unwrap()
                    })
                    .collect()
            })
        })
        .collect();
    assert_eq!(text.len(), 3, "{text:?}");
    assert_eq!(text[0][..4], ["张三", "1", "锦江区", "2024-03-05"]);
    assert!(
        text[0][4].contains("fill_reference@行政区划名称"),
        "{text:?}"
    );
    assert_eq!(text[1][..4], ["李四", "2", "青羊区", "2024-03-06"]);
    assert_eq!(text[2][..3], ["赵六", "2", "锦江区"]);
    assert_eq!(text[2][3], "", "an unreadable date is null in std");
    assert!(text[2][5].contains("类型@登记日期"), "{text:?}");
    let filtered = yishu_lake::query(
        &ctx,
        &format!("SELECT reason, raw FROM quarantine.s_{table}"),
    )
    .await
    .unwrap();
    let reason =
        yishu_lake::arrow::util::display::array_value_to_string(filtered[0].column(0), 0).unwrap();
    assert!(reason.starts_with("规则4：999999"), "{reason}");
    w.end().await;
}
