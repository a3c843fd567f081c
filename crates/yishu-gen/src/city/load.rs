//! Loading the synthetic city's files through the real pipeline: each department's file into
//! its catalog entry's ods table, and 民政's front-end database as a scheduled source.

use super::datasets::{DATASETS, dibao};
use anyhow::Result;
use yishu_meta::Store;

/// Ingests the city's CSV files and workbook sheets into their resources' ods tables; returns one
/// line per batch.
pub async fn ingest_city(
    store: &Store,
    lake: &yishu_lake::Lake,
    city: &std::path::Path,
) -> Result<Vec<String>> {
    let published = store
        .list_resources(
            Some(yishu_meta::catalog::ResourceStatus::Published),
            None,
            100,
            0,
        )
        .await?
        .items;
    let mut out = Vec::new();
    for d in DATASETS.iter().filter(|d| d.ingested()) {
        let Some(r) = published.iter().find(|r| r.meta.name == d.resource) else {
            continue;
        };
        let (file, sheet) = (d.file, d.part);
        let path = city.join(file);
        let opts = yishu_ingest::ReadOptions {
            sheet: sheet.map(str::to_string),
            ..Default::default()
        };
        let outcome = yishu_ingest::ingest_file(store, lake, r, &path, &opts, &mut |_| {}).await?;
        if let yishu_ingest::Outcome::Ingested(b) = outcome {
            let file = match sheet {
                Some(s) => format!("{file} {s}"),
                None => file.to_string(),
            };
            out.push(format!(
                "{file}: {} rows read = {} stored + {} quarantined",
                b.rows_read, b.rows_stored, b.rows_quarantined
            ));
        }
    }
    // 民政's front-end database is a source, pulled every 5 minutes by its watermark.
    if let Some(r) = published
        .iter()
        .find(|r| r.meta.name == dibao::DATASET.resource)
    {
        let db = city.join(dibao::FILE);
        let cfg = serde_json::json!({"url": format!("sqlite://{}", db.display()), "table": dibao::TABLE, "watermark_column": dibao::UPDATED});
        let src = store
            .create_source(r.id, "database", &cfg, "*/5 * * * *", "demo")
            .await?;
        let src = yishu_ingest::sources::run(store, lake, &src).await?;
        out.push(format!(
            "{} {} (source, every 5 min): {}",
            dibao::FILE,
            dibao::TABLE,
            src.last_message
        ));
    }
    Ok(out)
}
