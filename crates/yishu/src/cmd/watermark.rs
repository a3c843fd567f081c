//! `yishu watermark identify FILE`: which granted download a leaked file came from — read from
//! the marks its rows carry, also after shuffling, deleting rows, re-encoding or converting —
//! or that it carries none. The question is audited.

use crate::cmd::audit::cli_entry;
use crate::cmd::serve::open;
use crate::config::Config;
use crate::exit;
use anyhow::Result;
use clap::Subcommand;
use yishu_share::watermark::{self, Attribution};

#[derive(Subcommand)]
pub enum WatermarkCommand {
    /// Name the download a file (CSV in UTF-8 or GBK, XLSX, Parquet) came from.
    Identify {
        /// The file.
        file: std::path::PathBuf,
    },
}

pub async fn run(config: &Config, cmd: WatermarkCommand) -> Result<u8> {
    let (store, _) = open(config).await?;
    match cmd {
        WatermarkCommand::Identify { file } => {
            let key = watermark::key_for(&store);
            let reading = {
                let file = file.clone();
                tokio::task::spawn_blocking(move || watermark::read_file(&key, &file)).await??
            };
            let found = watermark::attribute(&reading, &store.download_codes().await?);
            let said = match &found {
                Attribution::Download {
                    id,
                    distance,
                    known,
                } => {
                    let d = store.download(*id).await?;
                    let user = store.get_user(d.user_id).await?;
                    let org = store.get_org(d.org_id).await?;
                    format!(
                        "download {id}: grant {}, {} ({}), user {}, {}, format {} — {} of {known} bits differ",
                        d.grant_id,
                        org.name,
                        org.code,
                        user.name,
                        yishu_server::time::fmt_time(d.created_at),
                        d.format,
                        distance
                    )
                }
                Attribution::Unmarked { known } => format!(
                    "unmarked: {} rows read, {known} bits, no download's mark is in them",
                    reading.rows
                ),
                Attribution::TooFewRows { rows, known } => format!(
                    "cannot tell: {rows} rows carry {known} bits, {} are needed",
                    watermark::MIN_KNOWN
                ),
            };
            store
                .audit(&cli_entry(
                    "watermark.identify",
                    format!("file:{}", file.display()),
                    serde_json::to_value(&found)?,
                ))
                .await?;
            println!("{said}");
            Ok(exit::OK)
        }
    }
}
