//! Fusion through the real binary: the demo city fused into the base libraries, measured against
//! its ground truth; bad plans refused in words; a second run over unchanged data changes nothing.

mod common;

use common::{deliver, demo, demo_with, ingest, out, password_of, serve, sign_in, yishu};

/// GET as JSON with a signed-in client.
async fn get_json<T: serde::de::DeserializeOwned>(c: &reqwest::Client, url: String) -> T {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

#[test]
fn another_seed_at_a_higher_problem_rate_fuses_to_its_truth() {
    let (_d, dir, text) = demo_with(2000, &["--seed", "7", "--problem-rate", "0.05"]);
    let city = dir.join("city");
    let truth = std::fs::read_to_string(city.join("manifest.json")).unwrap_or_default();
    let o = yishu(
        &dir,
        &["fusion", "accuracy", "--city", city.to_str().unwrap()],
        None,
    );
    let report = out(&o);
    assert!(o.status.success(), "{text}\n{truth}\n{report}");
    // A rate outside 0–0.5 is refused in words.
    let d = tempfile::tempdir().unwrap();
    let o = yishu(
        d.path(),
        &[
            "demo",
            "--people",
            "100",
            "--problem-rate",
            "0.9",
            "--data-dir",
            d.path().join("x").to_str().unwrap(),
            "--no-serve",
        ],
        None,
    );
    assert!(!o.status.success());
    assert!(out(&o).contains("between 0 and 0.5"), "{}", out(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_fuses_to_its_truth_and_bad_plans_are_refused() {
    let (d, dir, text) = demo(2000);
    // 2,000 people, and the one 法定代表人 number the city injects as an orphan reference
    // (valid, but nobody the register knows): a subject of its own, never merged into a neighbour.
    assert!(text.contains("fusion: 2001 people"), "{text}");
    // Accuracy against the truth: the command exits 0 only when every target holds.
    let city = dir.join("city");
    let o = yishu(
        &dir,
        &["fusion", "accuracy", "--city", city.to_str().unwrap()],
        None,
    );
    let text = out(&o);
    eprintln!("{text}");
    assert!(o.status.success(), "{text}");
    assert!(text.contains("precision"), "{text}");
    for kind in ["conflict_marital_status", "death_not_reported"] {
        let line = text.lines().find(|l| l.contains(kind)).unwrap();
        let n: Vec<&str> = line.split_whitespace().collect();
        // found / checkable / injected: every injected one found.
        assert_eq!(n[1], n[5], "{line}");
        assert_ne!(n[5], "0", "{line}");
    }
    // Per injected problem kind: records, precision, recall, golden.
    let table = text
        .split_once("per injected problem kind")
        .expect("a per-kind table")
        .1;
    for kind in ["bad_check_digit", "name_homophone", "mixed_date_format"] {
        let line = table.lines().find(|l| l.trim_start().starts_with(kind));
        let n: Vec<&str> = line
            .unwrap_or_else(|| panic!("{kind}: {table}"))
            .split_whitespace()
            .collect();
        assert!(n[1].parse::<u64>().unwrap() > 0, "{table}");
        let recall: f64 = n[3].parse().unwrap_or_else(|_| panic!("{table}"));
        assert!(recall > 0.9, "{table}");
    }
    // A second full run over the same std rows: every golden record keeps its version.
    let o = yishu(&dir, &["fusion", "run", "--full"], None);
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!(report["changed"], 0, "{text}");
    assert_eq!(report["subjects"]["person"], 2001, "{text}");
    // The plan in force, then two broken variants of it.
    let o = yishu(&dir, &["fusion", "plan", "--show"], None);
    assert!(o.status.success(), "{}", out(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let try_plan = |p: &serde_json::Value| {
        let f = d.path().join("plan.json");
        std::fs::write(&f, p.to_string()).unwrap();
        yishu(
            &dir,
            &["fusion", "plan", "--file", f.to_str().unwrap()],
            None,
        )
    };
    // Two authorities for 姓名.
    let mut two = plan.clone();
    let mut extra = two["person"][0].clone();
    extra["authority"] = "CD-RS".into();
    extra["checkers"] = serde_json::json!([]);
    two["person"].as_array_mut().unwrap().push(extra);
    let o = try_plan(&two);
    assert!(!o.status.success());
    assert!(
        out(&o).contains("has two authoritative sources (CD-GA and CD-RS)"),
        "{}",
        out(&o)
    );
    // Rules that go round.
    let mut round = plan.clone();
    round["person"][3]["authority"] = serde_json::Value::Null;
    round["person"][3]["fallback"] = serde_json::json!({"kind": "follow", "attribute": "住址"});
    round["person"][4]["authority"] = serde_json::Value::Null;
    round["person"][4]["fallback"] = serde_json::json!({"kind": "follow", "attribute": "民族"});
    let o = try_plan(&round);
    assert!(!o.status.success());
    assert!(out(&o).contains("go round"), "{}", out(&o));
    // A column the resource does not have.
    let mut col = plan.clone();
    col["sources"][0]["name"] = "名字".into();
    let o = try_plan(&col);
    assert!(!o.status.success());
    assert!(out(&o).contains("has no item 名字"), "{}", out(&o));
    // Nothing refused was saved: the plan in force is unchanged.
    let o = yishu(&dir, &["fusion", "plan", "--show"], None);
    let now: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(now, plan);
    // Without the 丧偶 rule the widowed are "married" again: their rows get a new version and
    // the old one goes to history with its valid-to; nobody else changes.
    let mut plain = plan.clone();
    plain["after_death"] = serde_json::json!([]);
    let o = try_plan(&plain);
    assert!(o.status.success(), "{}", out(&o));
    let o = yishu(&dir, &["fusion", "run"], None);
    assert!(o.status.success(), "{}", out(&o));
    let report: serde_json::Value =
        serde_json::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap();
    let changed = report["changed"].as_u64().unwrap();
    assert!(changed > 0 && changed < 100, "{report}");
    let lake = yishu_lake::Lake::open(dir.join("lake").to_str().unwrap()).unwrap();
    let ctx = lake.session().await.unwrap();
    let b = yishu_lake::query(
        &ctx,
        "SELECT COUNT(*) AS n, COUNT(_valid_to) AS closed, SUM(CASE WHEN \"婚姻状况\" = '30' THEN 1 ELSE 0 END) AS widowed FROM base.population_history",
    )
    .await
    .unwrap();
    use yishu_lake::arrow::array::{Array, Int64Array};
    let n = |c: usize| {
        b[0].column(c)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0) as u64
    };
    assert_eq!(n(0), changed, "one superseded version per changed person");
    assert_eq!(n(1), changed, "each closed with its valid-to");
    assert_eq!(n(2), changed, "the superseded versions said 丧偶");
}

/// Runs `yishu fusion run` with `extra` arguments and returns its report.
fn fusion_run(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["fusion", "run"];
    args.extend_from_slice(extra);
    let o = yishu(dir, &args, None);
    assert!(o.status.success(), "{}", out(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The base tables' contents, sorted, as text: what an incremental run and a full run must agree
/// on.
async fn libraries(dir: &std::path::Path) -> Vec<(String, Vec<String>)> {
    use yishu_lake::arrow::array::Array;
    let lake = yishu_lake::Lake::open(dir.join("lake").to_str().unwrap()).unwrap();
    let ctx = lake.session().await.unwrap();
    let mut out = Vec::new();
    for (table, columns) in [
        (
            "population",
            "subject_key, subject_id, _hash, _records, _conflicts, _key_hash",
        ),
        ("entities", "subject_key, subject_id, _hash, _records"),
        ("houses", "subject_key, subject_id, _hash, _records"),
        (
            "subject_records",
            "subject_kind, subject_key, resource, role, _ods_ref, _key_hash, _ref_hash",
        ),
        ("events", "subject_key, date, event, detail, _ods_ref"),
        (
            "relations",
            "from_key, relation, to_key, since, _key_hash, _to_hash",
        ),
        ("tags", "subject_key, tag"),
        ("person_index", "subject_key, name, birth"),
        (
            "person_blocks",
            "subject_key, block, _key_hash, _block_hash",
        ),
    ] {
        let sql = format!("SELECT concat_ws('|', {columns}) AS r FROM base.{table} ORDER BY r");
        let batches = yishu_lake::query(&ctx, &sql).await.unwrap();
        let rows = batches
            .iter()
            .flat_map(|b| {
                let c = yishu_lake::arrow::compute::cast(
                    b.column(0),
                    &yishu_lake::arrow::datatypes::DataType::Utf8,
                )
                .unwrap();
                let c = c
                    .as_any()
                    .downcast_ref::<yishu_lake::arrow::array::StringArray>()
                    .unwrap()
                    .clone();
                (0..c.len()).map(move |i| c.value(i).to_string())
            })
            .collect();
        out.push((table.to_string(), rows));
    }
    out
}

/// A new batch rewrites only the subjects its rows touch, and leaves the libraries exactly as a
/// full run over all the data would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_run_touches_only_its_subjects_and_equals_a_full_run() {
    use yishu_lake::arrow::array::Array;
    let (d, dir, _) = demo(1000);
    // Nothing new since the demo's run: nothing read, nothing changed.
    let report = fusion_run(&dir, &[]);
    assert_eq!(report["mode"], "incremental", "{report}");
    assert_eq!(report["new_batches"], 0, "{report}");
    assert_eq!(report["changed"], 0, "{report}");
    let people = report["subjects"]["person"].as_u64().unwrap();
    assert!(people > 990, "{report}");
    // 人社's next delivery: 60 rows whose payment status changed today, ingested and cleaned
    // the way any batch is.
    let o = yishu(&dir, &["fusion", "plan", "--show"], None);
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let code = plan["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["attributes"][0]["attribute"] == "参保状态"
                || s["attributes"][1]["attribute"] == "参保状态"
        })
        .unwrap()["resource"]
        .as_str()
        .unwrap()
        .to_string();
    deliver(&dir, d.path(), &code, 0);
    let files_before = data_files(&dir, "population");
    let report = fusion_run(&dir, &[]);
    eprintln!("{report:#}");
    // No file of the library was rewritten: the old rows of the touched people are marked
    // deleted (deletion vectors) and their new rows are one new file.
    let files_after = data_files(&dir, "population");
    assert!(
        files_before.is_subset(&files_after),
        "a library file was rewritten"
    );
    assert_eq!(files_after.len(), files_before.len() + 1, "{files_after:?}");
    let log = std::fs::read_dir(dir.join("lake/base/population/_delta_log"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .max()
        .unwrap();
    let last_commit = std::fs::read_to_string(log).unwrap();
    assert!(last_commit.contains("deletionVector"), "{last_commit}");
    assert_eq!(report["mode"], "incremental", "{report}");
    assert_eq!(report["new_batches"], 1, "{report}");
    // Only the new batch was read: one source (社保), at most its 60 rows.
    let rows = report["rows"].as_object().unwrap();
    assert_eq!(rows.len(), 1, "{report}");
    let read = rows.values().next().unwrap().as_u64().unwrap();
    assert!((50..=60).contains(&read), "{report}");
    // The people in it (and their spouses, whose status a death could change) — not the city.
    let touched = report["touched"].as_u64().unwrap();
    assert!((40..=150).contains(&touched), "{report}");
    let changed = report["changed"].as_u64().unwrap();
    assert!(changed >= 40 && changed <= touched, "{report}");
    assert_eq!(report["subjects"]["person"], people, "{report}");
    full_run_agrees(&dir, &report).await;
    // The changed people's superseded versions are in history.
    let lake = yishu_lake::Lake::open(dir.join("lake").to_str().unwrap()).unwrap();
    let ctx = lake.session().await.unwrap();
    let b = yishu_lake::query(
        &ctx,
        "SELECT COUNT(*) AS n FROM base.population_history WHERE \"参保状态\" IS NOT NULL",
    )
    .await
    .unwrap();
    let n = b[0]
        .column(0)
        .as_any()
        .downcast_ref::<yishu_lake::arrow::array::Int64Array>()
        .unwrap()
        .value(0) as u64;
    assert!(n >= changed, "{n} history rows for {changed} changed");
    // A changed person reads as one current row with the new value (the old row is hidden by
    // its deletion vector) and the old value among the earlier versions.
    let b = yishu_lake::query(
        &ctx,
        "SELECT p.subject_id, p.\"参保状态\", h.\"参保状态\" FROM base.population p \
         JOIN base.population_history h ON p.subject_key = h.subject_key \
         WHERE h.\"参保状态\" <> p.\"参保状态\" LIMIT 1",
    )
    .await
    .unwrap();
    let text = |c: usize| {
        let a = yishu_lake::arrow::compute::cast(
            b[0].column(c),
            &yishu_lake::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        a.as_any()
            .downcast_ref::<yishu_lake::arrow::array::StringArray>()
            .unwrap()
            .value(0)
            .to_string()
    };
    let (id, now, was) = (text(0), text(1), text(2));
    let view = yishu_fusion::library::subject(&lake, yishu_fusion::key::SubjectKind::Person, &id)
        .await
        .unwrap()
        .unwrap();
    let value = view
        .values
        .iter()
        .find(|v| v.attribute == "参保状态")
        .unwrap();
    assert_eq!(value.value, now);
    assert!(
        view.versions
            .iter()
            .any(|v| v.values.get("参保状态") == Some(&was)),
        "{:?}",
        view.versions
    );
    let rows = yishu_lake::query(
        &ctx,
        &format!("SELECT COUNT(*) FROM base.population WHERE subject_id = '{id}'"),
    )
    .await
    .unwrap();
    let rows = rows[0]
        .column(0)
        .as_any()
        .downcast_ref::<yishu_lake::arrow::array::Int64Array>()
        .unwrap()
        .value(0);
    assert_eq!(rows, 1, "one current row per person");
    // The next day's file has the same name (so its rows have the same source references) and
    // half of yesterday's people: rows are told apart by their batch, and the libraries are
    // still what a full run makes.
    deliver(&dir, d.path(), &code, 30);
    let report = fusion_run(&dir, &[]);
    assert_eq!(report["mode"], "incremental", "{report}");
    assert_eq!(report["new_batches"], 1, "{report}");
    full_run_agrees(&dir, &report).await;
    // Rows whose number alone does not place them, which the run must compare with the people
    // sharing a blocking key: a number mistyped into another valid one (one digit and the check
    // digit off) is still its person's, and a known number under a wholly different name is a
    // collision a person decides — its own subject meanwhile, never merged.
    let canbao = std::fs::read_to_string(dir.join("city/renshe_canbao.csv")).unwrap();
    let header = canbao.lines().next().unwrap();
    let rows: Vec<Vec<String>> = canbao
        .lines()
        .skip(200)
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|r| r[0].len() == 18 && r[0][..17].bytes().all(|b| b.is_ascii_digit()))
        .take(2)
        .collect();
    let mut mistyped = rows[0].clone();
    let digits = mistyped[0].as_bytes();
    let mut first17 = digits[..17].to_vec();
    first17[15] = if first17[15] == b'9' {
        b'0'
    } else {
        first17[15] + 1
    };
    let check = yishu_types::citizen_id::check_char(&first17);
    mistyped[0] = format!("{}{check}", String::from_utf8(first17).unwrap());
    let mut renamed = rows[1].clone();
    renamed[1] = "欧阳震华".into();
    let odd = d.path().join("renshe_odd.csv");
    std::fs::write(
        &odd,
        format!("{header}\n{}\n{}\n", mistyped.join(","), renamed.join(",")),
    )
    .unwrap();
    ingest(&dir, &odd, &code);
    let report = fusion_run(&dir, &[]);
    assert_eq!(report["mode"], "incremental", "{report}");
    assert_eq!(report["collisions"], 1, "{report}");
    assert_eq!(
        report["subjects"]["person"],
        people + 1,
        "the renamed number is a subject of its own, the mistyped one its person's: {report}"
    );
    full_run_agrees(&dir, &report).await;
}

/// The Parquet files in a base table's directory.
fn data_files(dir: &std::path::Path, table: &str) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dir.join("lake/base").join(table))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".parquet"))
        .collect()
}

/// A full run after an incremental one finds nothing to change, and the libraries it writes
/// are row for row the ones the incremental run left.
async fn full_run_agrees(dir: &std::path::Path, incremental: &serde_json::Value) {
    let before = libraries(dir).await;
    let full = fusion_run(dir, &["--full"]);
    assert_eq!(full["mode"], "full", "{full}");
    assert_eq!(full["changed"], 0, "{full}");
    assert_eq!(
        full["conflicts"], incremental["conflicts"],
        "{full} vs {incremental}"
    );
    let after = libraries(dir).await;
    for ((table, a), (_, b)) in before.iter().zip(&after) {
        assert_eq!(
            a.len(),
            b.len(),
            "base.{table}: incremental vs full row count"
        );
        let differ: Vec<_> = a.iter().zip(b).filter(|(x, y)| x != y).take(3).collect();
        assert!(differ.is_empty(), "base.{table} differs: {differ:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_libraries_are_served_masked_unless_the_reader_may_see_them() {
    let (_home, dir, text) = demo(600);
    // The demo's five grants (three for data, one for its service, one to verify people), four
    // more to the public (its open datasets), and the sharing commands:
    // apply, approve, list, revoke.
    let o = yishu(&dir, &["share", "grants"], None);
    let listed = out(&o);
    assert!(o.status.success(), "{listed}");
    assert_eq!(listed.matches("status=active").count(), 9, "{listed}");
    let o = yishu(
        &dir,
        &[
            "share",
            "apply",
            "--as",
            "consumer",
            "--target",
            "base:population",
            "--items",
            "subject_key,姓名",
            "--purpose",
            "核查",
            "--legal-basis",
            "《社会救助暂行办法》",
            "--scenario",
            "救助审批",
            "--contact",
            "028-1",
        ],
        None,
    );
    let said = out(&o);
    assert!(o.status.success() && said.contains(": submitted"), "{said}");
    let app: String = said
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    let o = yishu(&dir, &["share", "approve", &app, "--as", "manager"], None);
    let said = out(&o);
    assert!(
        o.status.success() && said.contains(": granted (grant "),
        "{said}"
    );
    let grant = said
        .rsplit("grant ")
        .next()
        .unwrap()
        .trim_end_matches([')', '\n']);
    let o = yishu(
        &dir,
        &["share", "revoke", grant, "--reason", "测试完毕"],
        None,
    );
    assert!(out(&o).contains(": revoked"), "{}", out(&o));
    // The demo's service, and the service commands: a v2 defined from a file, tested with a
    // value, reviewed by the second data manager, published beside v1.
    let listed = out(&yishu(&dir, &["service", "list"], None));
    assert!(listed.contains("marriage-status v1\tpublished"), "{listed}");
    assert!(
        listed.contains("identity-verification v1\tpublished"),
        "{listed}"
    );
    let def = dir.join("marriage-v2.json");
    let mut v2 = serde_json::to_value(yishu_gen::city::services::marriage_status()).unwrap();
    v2["title"] = serde_json::json!("婚姻状况查询（第二版）");
    std::fs::write(&def, v2.to_string()).unwrap();
    let o = yishu(
        &dir,
        &[
            "service",
            "define",
            "--as",
            "manager",
            def.to_str().unwrap(),
        ],
        None,
    );
    let said = out(&o);
    assert!(o.status.success() && said.contains("v2): draft"), "{said}");
    let v2_id = said.split_whitespace().nth(1).unwrap().to_string();
    let o = yishu(
        &dir,
        &[
            "service", "test", &v2_id, "--as", "manager", "--param", "id=5101",
        ],
        None,
    );
    assert!(!o.status.success(), "a wrong value is refused: {}", out(&o));
    let bad = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(bad.contains("must be 18 characters"), "{bad}");
    let key = yishu_lake::Lake::open(dir.join("lake").to_str().unwrap())
        .unwrap()
        .frame(yishu_lake::Layer::Base, "population")
        .await
        .unwrap()
        .unwrap()
        .select_columns(&["subject_key"])
        .unwrap()
        .limit(0, Some(1))
        .unwrap()
        .collect()
        .await
        .unwrap()
        .iter()
        .flat_map(yishu_lake::text_rows)
        .next()
        .unwrap()[0]
        .clone();
    let o = yishu(
        &dir,
        &[
            "service",
            "test",
            &v2_id,
            "--as",
            "manager",
            "--param",
            &format!("id={key}"),
        ],
        None,
    );
    assert!(out(&o).contains("tested"), "{}", out(&o));
    for (cmd, user) in [
        ("review", "manager"),
        ("review", "reviewer"),
        ("publish", "manager"),
    ] {
        let o = yishu(&dir, &["service", cmd, &v2_id, "--as", user], None);
        let said = format!("{}{}", out(&o), String::from_utf8_lossy(&o.stderr));
        // The author may not review their own service.
        assert_eq!(
            o.status.success(),
            user != "manager" || cmd == "publish",
            "{said}"
        );
    }
    let listed = out(&yishu(&dir, &["service", "list"], None));
    assert!(listed.contains("marriage-status v2\tpublished"), "{listed}");
    // The key lookup (served by the library's key index) answers what a scan answers.
    let mut scan = v2.clone();
    scan["name"] = serde_json::json!("marriage-scan");
    scan["sql"] = serde_json::json!(format!("{} AND 1 = 1", v2["sql"].as_str().unwrap()));
    std::fs::write(&def, scan.to_string()).unwrap();
    let said = out(&yishu(
        &dir,
        &[
            "service",
            "define",
            "--as",
            "manager",
            def.to_str().unwrap(),
        ],
        None,
    ));
    let scan_id = said.split_whitespace().nth(1).unwrap().to_string();
    let rows = |id: &str| {
        let said = out(&yishu(
            &dir,
            &[
                "service",
                "test",
                id,
                "--as",
                "manager",
                "--param",
                &format!("id={key}"),
            ],
            None,
        ));
        said.lines().take(2).collect::<Vec<_>>().join("\n")
    };
    let (by_key, by_scan) = (rows(&v2_id), rows(&scan_id));
    assert_eq!(by_key, by_scan);
    assert!(
        by_key.lines().count() == 2 && !by_key.contains("service "),
        "one row found: {by_key}"
    );
    // A verification's lookup (many keys at once by their hashes, only the columns compared)
    // finds what a scan finds, and nothing for a number the city does not have.
    let lake = yishu_lake::Lake::open(dir.join("lake").to_str().unwrap()).unwrap();
    let scanned: std::collections::HashMap<String, String> = lake
        .frame(yishu_lake::Layer::Base, "population")
        .await
        .unwrap()
        .unwrap()
        .select_columns(&["subject_key", "姓名"])
        .unwrap()
        .collect()
        .await
        .unwrap()
        .iter()
        .flat_map(yishu_lake::text_rows)
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let mut keys: Vec<String> = scanned.keys().step_by(7).cloned().collect();
    keys.push("110101190001011230".into());
    let found = yishu_fusion::library::by_keys(
        &lake,
        yishu_fusion::SubjectKind::Person,
        &keys,
        &["subject_key", "姓名"],
    )
    .await
    .unwrap();
    assert_eq!(found.len(), keys.len() - 1);
    for k in &keys[..keys.len() - 1] {
        assert_eq!(found[k]["姓名"], scanned[k], "{k}");
    }
    let password = |user: &str| password_of(&text, user);
    let served = serve(&dir).await;
    let base = served.base.clone();
    let (manager, csrf) = sign_in(&base, "manager", &password("manager")).await;
    let (consumer, consumer_csrf) = sign_in(&base, "consumer", &password("consumer")).await;
    // A married person: found by the bureau in clear.
    let people: Vec<serde_json::Value> =
        get_json(&manager, format!("{base}/api/v1/base/person?limit=200")).await;
    let married = people
        .iter()
        .find(|p| p["婚姻状况"] == "20" && p["_records"].as_str() != Some("1"))
        .expect("a married person with several records");
    let id = married["subject_id"].as_str().unwrap();
    let key = married["subject_key"].as_str().unwrap();
    assert_eq!(key.len(), 18, "the bureau sees the number: {key}");
    let detail: serde_json::Value =
        get_json(&manager, format!("{base}/api/v1/base/person/{id}")).await;
    assert_eq!(detail["subject"]["key"], key);
    let values = detail["subject"]["values"].as_array().unwrap();
    let name = values.iter().find(|v| v["attribute"] == "姓名").unwrap();
    assert_eq!(name["department"], "CD-GA", "{name}");
    assert!(
        name["row"]
            .as_str()
            .unwrap()
            .starts_with("gongan_huji.csv:")
    );
    let marital = values
        .iter()
        .find(|v| v["attribute"] == "婚姻状况")
        .unwrap();
    assert_eq!(marital["department"], "CD-MZ", "{marital}");
    let events: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(
        events.contains(&"出生") && events.contains(&"婚姻登记"),
        "{events:?}"
    );
    let dates: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["date"].as_str().unwrap())
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] <= w[1]),
        "in time order: {dates:?}"
    );
    // The spouse is one step away in the graph.
    let g: serde_json::Value = get_json(
        &manager,
        format!("{base}/api/v1/base/person/{id}/graph?depth=2"),
    )
    .await;
    assert!(
        g["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["relation"] == "配偶"),
        "{g}"
    );
    // The consumer (人社局) reads the same person through the demo's grant for the population
    // library: its items only, masked as granted — no number, no full name, no address.
    let masked: serde_json::Value =
        get_json(&consumer, format!("{base}/api/v1/base/person/{id}")).await;
    let shown: Vec<&str> = masked["subject"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["attribute"].as_str().unwrap())
        .collect();
    assert!(
        shown.contains(&"婚姻状况") && !shown.contains(&"住址"),
        "{shown:?}"
    );
    assert!(masked["timeline"].as_array().unwrap().is_empty());
    // Who read this person (R30): the bureau asks by the number and finds the consumer's read.
    let reads: Vec<serde_json::Value> = manager
        .post(format!("{base}/api/v1/share/who-read"))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({ "key": key }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        reads.iter().any(|r| r["actor_name"] == "consumer"),
        "{reads:?}"
    );
    let body = masked.to_string();
    assert!(!body.contains(key), "the number leaked: {body}");
    assert!(
        masked["subject"]["key"]
            .as_str()
            .unwrap()
            .contains("********")
    );
    let full_name = name["value"].as_str().unwrap();
    assert!(
        !body.contains(&format!("\"{full_name}\"")),
        "the name leaked"
    );
    // The demo's service, called by the consumer through its grant: the status in clear, the
    // name masked.
    let answer: serde_json::Value = get_json(
        &consumer,
        format!("{base}/api/v1/services/marriage-status/v1?id={key}"),
    )
    .await;
    assert_eq!(answer["rows"][0][1], "20", "{answer}");
    assert!(
        !answer.to_string().contains(&format!("\"{full_name}\"")),
        "the name leaked through the service: {answer}"
    );
    // The graph reaches past any grant's items: the bureau's alone, and the refusal is audited.
    let r = consumer
        .get(format!("{base}/api/v1/base/person/{id}/graph?depth=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        !r.text().await.unwrap().contains(key),
        "the refusal leaked the number"
    );
    // Only the bureau decides reviews.
    let r = consumer
        .post(format!("{base}/api/v1/fusion/reviews/1/decision"))
        .header("x-csrf-token", &consumer_csrf)
        .json(&serde_json::json!({"decision": "linked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = manager
        .post(format!("{base}/api/v1/fusion/reviews/999999/decision"))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"decision": "maybe"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // The pages: overview with the libraries and tags, the person page with timeline and graph.
    let page = manager
        .get(format!("{base}/console/base"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("人口库") && page.contains("老年人"), "{page}");
    assert!(
        page.contains("全量：首次融合"),
        "the demo's first run was full, and the page says why: {page}"
    );
    assert!(
        page.contains("id=\"monthly\""),
        "month-on-month table: {page}"
    );
    // Indicators: the elderly per division, and births per month with the month before.
    let ind: Vec<serde_json::Value> =
        get_json(&consumer, format!("{base}/api/v1/base/indicators")).await;
    let elderly: u64 = ind
        .iter()
        .filter(|i| i["name"] == "老年人")
        .map(|i| i["count"].as_u64().unwrap())
        .sum();
    assert!(elderly > 0, "{ind:?}");
    assert!(
        ind.iter()
            .all(|i| i["name"] != "老年人" || i["by"].as_str().unwrap().len() == 6)
    );
    assert!(
        ind.iter().any(|i| i["name"] == "出生"
            && i["previous"].is_u64()
            && i["by"].as_str().unwrap().len() == 7),
        "{ind:?}"
    );
    // Served as the last fusion run worked them out, and equal to counting the tables now.
    let store = yishu_meta::Store::open(&format!("sqlite://{}", dir.join("meta.db").display()))
        .await
        .unwrap();
    let last = store.fusion_runs(1).await.unwrap().remove(0);
    assert_eq!(last.report["indicators"], serde_json::json!(ind));
    store.close().await;
    let lake = yishu_lake::Lake::open(dir.join("lake").to_str().unwrap()).unwrap();
    let counted = yishu_fusion::library::indicator_table(&lake).await.unwrap();
    assert_eq!(serde_json::json!(counted), serde_json::json!(ind));
    let page = consumer
        .get(format!("{base}/console/base/person/{id}?depth=2"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"masked-note\"") && !page.contains(key));
    assert!(
        page.contains("<td>权威部门</td>"),
        "how each value was chosen, in words"
    );
    let page = manager
        .get(format!("{base}/console/fusion/reviews"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // Corrections (R20): the bureau asks 公安, the lead department for 姓名, to correct a name;
    // an extended attribute is refused; only 公安 decides; the next run takes the value.
    let (officer, officer_csrf) = sign_in(&base, "officer", &password("officer")).await;
    let propose = |attribute: &str, value: &str| {
        manager
            .post(format!("{base}/api/v1/base/person/{id}/corrections"))
            .header("x-csrf-token", &csrf)
            .json(&serde_json::json!({"attribute": attribute, "value": value, "reason": "户口簿原件核实"}))
            .send()
    };
    let r = propose("参保状态", "暂停缴费").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("extended attribute"));
    let r = propose("姓名", "王改名").await.unwrap();
    assert_eq!(r.status(), 200);
    let c: serde_json::Value = r.json().await.unwrap();
    assert_eq!(c["to_org"], "CD-GA");
    let decide = |client: &reqwest::Client, token: &str| {
        client
            .post(format!(
                "{base}/api/v1/fusion/corrections/{}/decision",
                c["id"]
            ))
            .header("x-csrf-token", token)
            .json(&serde_json::json!({"accept": true, "note": "已核实"}))
            .send()
    };
    assert_eq!(decide(&manager, &csrf).await.unwrap().status(), 403);
    // A core attribute changes only after the person concerned confirms (R20): accepting first
    // is refused; only 公安 records the confirmation, and it must say how.
    let r = decide(&officer, &officer_csrf).await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(
        r.text().await.unwrap().contains("correction_unconfirmed"),
        "refused with its code"
    );
    let confirm = |client: &reqwest::Client, token: &str, how: &str| {
        client
            .post(format!(
                "{base}/api/v1/fusion/corrections/{}/confirmation",
                c["id"]
            ))
            .header("x-csrf-token", token)
            .json(&serde_json::json!({"how": how}))
            .send()
    };
    let how = "本人到派出所窗口核验，受理号 2026120100123";
    assert_eq!(confirm(&manager, &csrf, how).await.unwrap().status(), 403);
    assert_eq!(
        confirm(&officer, &officer_csrf, " ")
            .await
            .unwrap()
            .status(),
        400
    );
    let r = confirm(&officer, &officer_csrf, how).await.unwrap();
    assert_eq!(r.status(), 200);
    let confirmed: serde_json::Value = r.json().await.unwrap();
    assert_eq!(confirmed["confirmation"], how);
    let r = decide(&officer, &officer_csrf).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // The console's page of requests: 公安 sees the accepted one with its confirmation, and
    // confirms or turns down a second one there.
    let r = propose("姓名", "王再改").await.unwrap();
    let second: serde_json::Value = r.json().await.unwrap();
    let page = officer
        .get(format!("{base}/console/fusion/corrections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("已采纳") && page.contains(how), "{page}");
    assert!(
        page.contains(&format!("/console/fusion/corrections/{}", second["id"])),
        "the lead department has forms for the pending one"
    );
    let r = officer
        .post(format!(
            "{base}/console/fusion/corrections/{}",
            second["id"]
        ))
        .form(&[
            ("_csrf", officer_csrf.as_str()),
            ("action", "accept"),
            ("note", ""),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("record how the person concerned confirmed"),
        "accepting before confirmation is refused in words"
    );
    let r = officer
        .post(format!(
            "{base}/console/fusion/corrections/{}",
            second["id"]
        ))
        .form(&[
            ("_csrf", officer_csrf.as_str()),
            ("action", "reject"),
            ("note", "本人未到场"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("未采纳"));
    let o = yishu(&dir, &["fusion", "run"], None);
    assert!(o.status.success(), "{}", out(&o));
    let after: serde_json::Value =
        get_json(&manager, format!("{base}/api/v1/base/person/{id}")).await;
    let name = after["subject"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["attribute"] == "姓名")
        .unwrap()
        .clone();
    assert_eq!(name["value"], "王改名", "{name}");
    assert_eq!(name["department"], "CD-GA");
    assert_eq!(name["resource"], "correction");
    assert_eq!(
        after["subject"]["versions"].as_array().unwrap().len(),
        1,
        "the old name is kept as a version"
    );
    // A conflict work order shows the authoritative value against the disagreeing ones.
    let orders: serde_json::Value =
        get_json(&manager, format!("{base}/api/v1/work-orders?all=true")).await;
    let list = orders
        .as_array()
        .cloned()
        .or_else(|| orders["items"].as_array().cloned())
        .unwrap_or_default();
    let fusion = list
        .iter()
        .find(|o| o["kind"] == "fusion")
        .unwrap_or_else(|| panic!("a fusion work order: {orders}"));
    let page = manager
        .get(format!("{base}/console/work-orders/{}", fusion["id"]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("权威部门的值") && page.contains("CD-"),
        "{page}"
    );
    // The reads went into the audit chain, which still verifies.
    let audit = std::process::Command::new(env!("CARGO_BIN_EXE_yishu"))
        .args(["audit", "verify"])
        .env("YISHU_DATA_DIR", &dir)
        .output()
        .unwrap();
    assert!(audit.status.success(), "{}", out(&audit));
    drop(served);
}
