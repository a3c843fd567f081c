//! Other engines read the lake: every ods, std and base table of a city after an incremental
//! fusion run (so the base tables carry deletion vectors) is read by `deltalake` and `polars`
//! from PyPI with the same rows and values as Yishu's own reads.

mod common;

use common::{changes_resource, deliver, demo, out};
use std::path::PathBuf;
use yishu_lake::{Lake, Layer};

/// The Python that `scripts/test` makes with deltalake, polars and pyarrow installed.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("YISHU_PYTHON") {
        return p.into();
    }
    let venv = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/yishu-py/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

/// Every column as text, so both sides compare by the same formatting.
fn as_text(
    df: yishu_lake::datafusion::dataframe::DataFrame,
    columns: &[String],
) -> yishu_lake::datafusion::dataframe::DataFrame {
    use yishu_lake::datafusion::prelude::{cast, ident};
    df.select(
        columns
            .iter()
            .map(|c| cast(ident(c), yishu_lake::arrow::datatypes::DataType::Utf8).alias(c))
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

async fn count(df: yishu_lake::datafusion::dataframe::DataFrame) -> usize {
    df.count().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltalake_and_polars_read_what_yishu_reads() {
    let (home, dir, _) = demo(600);
    let code = changes_resource(&dir);
    deliver(&dir, home.path(), &code, 0);
    let o = common::yishu(&dir, &["fusion", "run"], None);
    assert!(o.status.success(), "{}", out(&o));

    let read = home.path().join("read");
    let o = std::process::Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/read_lake.py"
        ))
        .arg(dir.join("lake"))
        .arg(&read)
        .output()
        .expect("python runs (scripts/test installs deltalake and polars)");
    assert!(o.status.success(), "{}", out(&o));
    let tables: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();

    let lake = Lake::open(dir.join("lake").to_str().unwrap()).unwrap();
    let mut with_vectors = Vec::new();
    for layer in [Layer::Ods, Layer::Std, Layer::Base] {
        let ours = lake.list_tables(layer);
        let theirs: Vec<&str> = tables
            .iter()
            .filter(|t| t["layer"] == layer.as_str())
            .filter_map(|t| t["table"].as_str())
            .collect();
        assert_eq!(
            ours.iter().map(String::as_str).collect::<Vec<_>>(),
            theirs,
            "{layer}: the tables both sides see"
        );
        assert!(!ours.is_empty(), "{layer} has tables");
    }
    for t in &tables {
        let (layer, name) = (t["layer"].as_str().unwrap(), t["table"].as_str().unwrap());
        let layer = match layer {
            "ods" => Layer::Ods,
            "std" => Layer::Std,
            _ => Layer::Base,
        };
        let df = lake.frame(layer, name).await.unwrap().unwrap();
        let columns: Vec<String> = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let ours = as_text(df, &columns);
        let rows = count(ours.clone()).await;
        if t["deletion_vectors"] == true && t["file_rows"].as_u64().unwrap() > rows as u64 {
            with_vectors.push(format!("{layer}.{name}"));
        }
        let ctx = ours.clone().into_parts().0;
        let ctx = yishu_lake::datafusion::prelude::SessionContext::new_with_state(ctx);
        for engine in ["deltalake", "polars"] {
            assert_eq!(
                t[engine].as_u64(),
                Some(rows as u64),
                "{engine} reads {layer}.{name} with another row count: {t}"
            );
            let file = read.join(engine).join(format!("{layer}.{name}.parquet"));
            let other = ctx
                .read_parquet(file.to_str().unwrap(), Default::default())
                .await
                .unwrap();
            let other = as_text(other, &columns);
            // Equal as multisets: nothing on one side that is not on the other, row for row.
            let missing = count(ours.clone().except(other.clone()).unwrap()).await;
            let extra = count(other.except(ours.clone()).unwrap()).await;
            assert_eq!(
                (missing, extra),
                (0, 0),
                "{engine} and Yishu disagree on {layer}.{name}"
            );
        }
    }
    // The comparison covered tables whose deletion vectors hide rows: both engines applied them.
    assert!(
        with_vectors.iter().any(|t| t == "base.population"),
        "{with_vectors:?}"
    );
}
