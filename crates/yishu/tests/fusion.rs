//! Fusion through the real binary: the demo city fused into the base libraries, measured against
//! its ground truth; bad plans refused in words; a second run over unchanged data changes nothing.

mod common;

use common::{out, yishu};

#[test]
fn the_demo_city_fuses_to_its_truth_and_bad_plans_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("demo");
    let o = yishu(
        d.path(),
        &[
            "demo",
            "--people",
            "2000",
            "--data-dir",
            dir.to_str().unwrap(),
            "--no-serve",
        ],
        None,
    );
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("fusion: 2000 people"), "{text}");
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
    // A second run over the same std rows: every golden record keeps its version.
    let o = yishu(&dir, &["fusion", "run"], None);
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!(report["changed"], 0, "{text}");
    assert_eq!(report["subjects"]["person"], 2000, "{text}");
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
}
