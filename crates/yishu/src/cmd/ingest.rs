//! `yishu ingest`: one file into a resource's ods table as one batch.

use crate::cmd::audit::cli_entry;
use crate::cmd::serve::open;
use crate::config::Config;
use crate::exit;
use anyhow::{Result, anyhow};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct IngestArgs {
    /// The file to ingest.
    file: PathBuf,
    /// Code of the catalog resource, e.g. 301001001/000001.
    #[arg(long)]
    resource: String,
    /// Text encoding (utf-8, gbk, gb18030); detected when omitted.
    #[arg(long)]
    encoding: Option<yishu_ingest::csv::TextEncoding>,
    /// Field delimiter (one ASCII character); detected when omitted.
    #[arg(long)]
    delimiter: Option<char>,
    /// Workbook sheet to read (the first when omitted).
    #[arg(long)]
    sheet: Option<String>,
    /// Row of a workbook sheet that holds the header (1-based).
    #[arg(long, default_value_t = 1)]
    header_row: usize,
    /// Confirm a column → item pair where the names differ, e.g. `--map 身份证号=公民身份号码`
    /// (repeatable). A file whose columns match no item is refused with proposed pairs.
    #[arg(long = "map")]
    map: Vec<String>,
}

/// `yishu ingest`: one batch with a progress bar, its counts printed at the end.
pub async fn run(config: &Config, a: IngestArgs) -> Result<u8> {
    let (store, lake) = open(config).await?;
    let r = store.get_resource_by_code(&a.resource).await?;
    let delimiter = match a.delimiter {
        None => None,
        Some(c) if c.is_ascii() => Some(c as u8),
        Some(c) => {
            return Err(anyhow!(
                "--delimiter must be one ASCII character, not '{c}'"
            ));
        }
    };
    let mapping = yishu_ingest::mapping::parse_pairs(&a.map)?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} rows ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("ingesting {}", a.file.display()));
    let opts = yishu_ingest::ReadOptions {
        mapping,
        encoding: a.encoding,
        delimiter,
        sheet: a.sheet.clone(),
        header_row: a.header_row.max(1),
    };
    let out = yishu_ingest::ingest_file(&store, &lake, &r, &a.file, &opts, &mut |n| {
        bar.set_position(n)
    })
    .await;
    bar.finish_and_clear();
    match out? {
        yishu_ingest::Outcome::Ingested(b) => {
            let detail = serde_json::json!({"batch": b.id, "read": b.rows_read, "stored": b.rows_stored, "quarantined": b.rows_quarantined});
            store
                .audit(&cli_entry(
                    "ingest.batch",
                    format!("resource:{}", r.code),
                    detail,
                ))
                .await?;
            println!(
                "batch {}: {} rows read = {} stored + {} quarantined into ods.{} (lake version {})",
                b.id,
                b.rows_read,
                b.rows_stored,
                b.rows_quarantined,
                yishu_ingest::table_name(&r),
                b.lake_version
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into())
            );
        }
        yishu_ingest::Outcome::AlreadyIngested(b) => {
            println!(
                "already ingested: this file's content was stored by batch {} ({} rows); nothing written",
                b.id, b.rows_stored
            );
        }
        yishu_ingest::Outcome::Unchanged(b) => println!("batch {}: {}", b.id, b.message),
    }
    Ok(exit::OK)
}
