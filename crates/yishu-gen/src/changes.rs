//! A day's changes to a generated city: social-insurance rows whose payment status changed
//! today (人社's next delivery), for feeding incremental fusion runs.

use crate::GenError;
use std::path::PathBuf;

/// `yishu gen changes` options.
#[derive(Debug, Clone, clap::Args)]
pub struct ChangesArgs {
    /// The city directory (`yishu gen city --out`, or the demo's `city/`).
    #[arg(long)]
    pub city: PathBuf,
    /// How many changed rows.
    #[arg(long, default_value_t = 10_000)]
    pub records: usize,
    /// Rows of the file to pass over first (another day's changes are other rows).
    #[arg(long, default_value_t = 0)]
    pub skip: usize,
    /// Where to write the CSV (UTF-8, the same columns as `renshe_canbao.csv`).
    #[arg(long)]
    pub out: PathBuf,
}

const STATUS: usize = 6;
const UPDATED: usize = 7;

/// Writes the first `records` rows of the city's 人社 file with the payment status flipped
/// (正常缴费 ↔ 暂停缴费) and updated today; returns how many rows were written.
pub fn write_changes(a: &ChangesArgs) -> Result<usize, GenError> {
    let from = a.city.join("renshe_canbao.csv");
    let mut r = csv::Reader::from_path(&from)
        .map_err(|e| GenError::Invalid(format!("cannot read {}: {e}", from.display())))?;
    let header = r
        .headers()
        .map_err(|e| GenError::Invalid(format!("{}: {e}", from.display())))?
        .clone();
    if header.get(STATUS) != Some("缴费状态") || header.get(UPDATED) != Some("更新时间") {
        return Err(GenError::Invalid(format!(
            "{} does not have the generator's columns",
            from.display()
        )));
    }
    let write_err = |e: csv::Error| GenError::Io(format!("{}: {e}", a.out.display()));
    let mut w = csv::Writer::from_path(&a.out).map_err(write_err)?;
    w.write_record(&header).map_err(write_err)?;
    let today = chrono::Local::now().date_naive().to_string();
    let mut n = 0;
    for row in r.records().skip(a.skip) {
        if n == a.records {
            break;
        }
        let row = row.map_err(|e| GenError::Invalid(format!("{}: {e}", from.display())))?;
        let mut out: Vec<String> = row.iter().map(str::to_string).collect();
        out[STATUS] = if out[STATUS] == "暂停缴费" {
            "正常缴费".into()
        } else {
            "暂停缴费".into()
        };
        out[UPDATED] = today.clone();
        w.write_record(&out).map_err(write_err)?;
        n += 1;
    }
    w.flush().map_err(|e| GenError::io(&a.out, e))?;
    Ok(n)
}
