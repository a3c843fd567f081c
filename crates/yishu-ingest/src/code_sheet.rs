//! A department's own code table (本地代码表) read from the file it keeps — CSV (UTF-8, GBK or
//! GB18030) or the first sheet of a workbook — as code/name pairs, to be mapped to a national table
//! ([`yishu_types::codes::CodeTable::map_local`]). The first row is the header; the first two
//! columns are the code and the name.

use crate::io_err;
use calamine::Reader;
use std::path::Path;
use yishu_types::codes::LocalCode;
use yishu_types::{Error, ErrorCode};

fn bad(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        format!("{}: {why}", path.display()),
    )
}

/// Reads the code/name pairs; a row without a code or a name, or a code given twice, is an error
/// naming its row.
pub fn read(path: &Path) -> Result<Vec<LocalCode>, Error> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = if matches!(ext.as_str(), "xlsx" | "xlsm" | "xls" | "ods") {
        let mut wb = calamine::open_workbook_auto(path).map_err(|e| bad(path, e))?;
        let range = wb
            .worksheet_range_at(0)
            .ok_or_else(|| bad(path, "the workbook has no sheet"))?
            .map_err(|e| bad(path, e))?;
        range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    } else {
        let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
        let text = match crate::csv::detect_encoding(&bytes[..bytes.len().min(64 * 1024)]) {
            crate::csv::TextEncoding::Utf8 => String::from_utf8(bytes)
                .map_err(|_| bad(path, "the file is not valid UTF-8, GBK or GB18030"))?,
            _ => encoding_rs::GB18030.decode(&bytes).0.into_owned(),
        };
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        rdr.records()
            .map(|r| {
                r.map(|r| r.iter().map(str::to_string).collect())
                    .map_err(|e| bad(path, e))
            })
            .collect::<Result<_, _>>()?
    };
    let mut out: Vec<LocalCode> = Vec::new();
    for (i, row) in rows.iter().enumerate().skip(1) {
        let cell = |k: usize| row.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
        let (code, name) = (cell(0), cell(1));
        if code.is_empty() && name.is_empty() {
            continue;
        }
        if code.is_empty() || name.is_empty() {
            return Err(bad(path, format!("第 {} 行：代码和名称都要填写", i + 1)));
        }
        if out.iter().any(|l| l.code == code) {
            return Err(bad(path, format!("第 {} 行：代码 {code} 重复", i + 1)));
        }
        out.push(LocalCode { code, name });
    }
    if out.is_empty() {
        return Err(bad(path, "no codes below the header row"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use yishu_types::codes::{MatchedBy, table};

    #[test]
    fn a_gbk_csv_and_a_workbook_of_local_codes() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("民政婚姻代码.csv");
        let (gbk, _, _) = encoding_rs::GBK.encode("代码,名称\n1,未婚\n2,已婚\n3,离异\n");
        std::fs::write(&csv, &gbk).unwrap();
        let local = super::read(&csv).unwrap();
        assert_eq!(local.len(), 3);
        let maps = table("marital").unwrap().map_local(&local);
        assert_eq!(maps[2].national.as_ref().unwrap().code, "40");
        assert_eq!(maps[2].by, MatchedBy::Name);

        let xlsx = dir.path().join("民族.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let ws = book.add_worksheet();
        for (r, (c, n)) in [("代码", "名称"), ("H", "汉"), ("Y", "彝族"), ("Y", "重复")]
            .iter()
            .enumerate()
        {
            ws.write(r as u32, 0, *c).unwrap();
            ws.write(r as u32, 1, *n).unwrap();
        }
        book.save(&xlsx).unwrap();
        let e = super::read(&xlsx).unwrap_err();
        assert!(e.message.contains("第 4 行：代码 Y 重复"), "{}", e.message);
    }
}
