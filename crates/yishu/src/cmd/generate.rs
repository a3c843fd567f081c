//! `yishu gen`: synthetic data — a city's departmental files with the truth, and a day's changes.

use crate::exit;
use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum GenCommand {
    /// A synthetic city's departmental data with injected problems and the ground truth.
    City(yishu_gen::CityArgs),
    /// A day's changes to a city: 人社 rows whose payment status changed today, as a CSV to
    /// ingest into 社会保险参保信息 (what incremental fusion runs are measured with).
    Changes(yishu_gen::ChangesArgs),
}

pub async fn run(cmd: GenCommand) -> Result<u8> {
    match cmd {
        GenCommand::City(args) => {
            let summary =
                yishu_gen::generate_city(&args, &mut yishu_gen::TermProgress::new()).await?;
            println!("{summary}");
            Ok(exit::OK)
        }
        GenCommand::Changes(args) => {
            let n = yishu_gen::write_changes(&args)?;
            println!("{n} changed rows written to {}", args.out.display());
            Ok(exit::OK)
        }
    }
}
