//! A day's changes to a generated city: social-insurance rows whose payment status changed
//! today (人社's next delivery), for feeding incremental fusion runs.

use crate::GenError;
use crate::city::datasets::canbao;
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
    /// Rows of the file to pass over first (another day's changes are other rows); counted
    /// round the file, so a long series of days wraps to its top instead of running dry.
    #[arg(long, default_value_t = 0)]
    pub skip: usize,
    /// Where to write the CSV (UTF-8, the same columns as `renshe_canbao.csv`).
    #[arg(long)]
    pub out: PathBuf,
}

const STATUS: usize = 6;
const UPDATED: usize = 7;

/// Writes `records` rows of the city's 人社 file, from row `skip` on (round the file), with
/// the payment status flipped (正常缴费 ↔ 暂停缴费) and updated today; returns how many rows
/// were written (at most the file's rows).
pub fn write_changes(a: &ChangesArgs) -> Result<usize, GenError> {
    let from = a.city.join(canbao::FILE);
    let open = || {
        csv::Reader::from_path(&from)
            .map_err(|e| GenError::Invalid(format!("cannot read {}: {e}", from.display())))
    };
    let total = open()?.records().count();
    let start = a.skip.checked_rem(total).unwrap_or_default();
    let mut r = open()?;
    let header = r
        .headers()
        .map_err(|e| GenError::Invalid(format!("{}: {e}", from.display())))?
        .clone();
    if header.get(STATUS) != Some(canbao::STATUS) || header.get(UPDATED) != Some(canbao::UPDATED) {
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
    let mut top = open()?;
    for row in r.records().skip(start).chain(top.records().take(start)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_past_the_end_of_the_file_wrap_to_its_top() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = String::from("姓名,a,b,c,d,e,缴费状态,更新时间\n");
        for i in 0..5 {
            file.push_str(&format!("人{i},,,,,,正常缴费,2020-01-01\n"));
        }
        std::fs::write(dir.path().join("renshe_canbao.csv"), file).unwrap();
        let out = dir.path().join("changes.csv");
        let names = |skip: usize, records: usize| {
            let n = write_changes(&ChangesArgs {
                city: dir.path().to_path_buf(),
                records,
                skip,
                out: out.clone(),
            })
            .unwrap();
            let mut r = csv::Reader::from_path(&out).unwrap();
            let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
            assert_eq!(rows.len(), n);
            assert!(
                rows.iter().all(|row| &row[6] == "暂停缴费"),
                "status flipped"
            );
            rows.iter()
                .map(|row| row[0].to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(1, 2), ["人1", "人2"]);
        assert_eq!(names(7, 3), ["人2", "人3", "人4"], "day 7 is row 2 again");
        assert_eq!(names(3, 4), ["人3", "人4", "人0", "人1"], "round the end");
        assert_eq!(names(2, 9).len(), 5, "never a row twice");
    }
}
