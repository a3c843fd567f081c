//! Excel workbooks (XLSX, XLS, ODS via calamine): a chosen sheet (the first by default), a header
//! row, Excel date serials written as ISO dates, and rows holding Excel errors (#REF!, #N/A…)
//! quarantined with the cell that held them.

use crate::io_err;
use crate::rows::{ColumnMap, Parsed, RowWriter};
use calamine::{Data, Reader, open_workbook_auto};
use chrono::{Duration, NaiveDate};
use std::path::Path;
use yishu_lake::arrow::array::RecordBatch;
use yishu_meta::catalog::Item;
use yishu_types::{Error, ErrorCode};

/// A cell as ods text: dates as `YYYY-MM-DD` (or with a time), whole numbers without `.0`.
/// `Err` carries the Excel error shown in the cell.
fn cell_text(c: &Data) -> Result<Option<String>, String> {
    Ok(match c {
        Data::Empty => None,
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{}", *f as i64)),
        Data::Float(f) => Some(f.to_string()),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(d) if d.is_duration() => Some(d.as_f64().to_string()),
        Data::DateTime(d) => {
            // Excel's 1900 date system: serial 1 is 1900-01-01, with the 1900 leap-year bug, so
            // day 0 is 1899-12-30 for every serial after February 1900.
            let serial = d.as_f64();
            let base = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default();
            let day = base + Duration::days(serial.floor() as i64);
            let secs = ((serial - serial.floor()) * 86_400.0).round() as i64;
            if secs == 0 {
                Some(day.format("%Y-%m-%d").to_string())
            } else {
                let t = day.and_hms_opt(0, 0, 0).unwrap_or_default() + Duration::seconds(secs);
                Some(t.format("%Y-%m-%d %H:%M:%S").to_string())
            }
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        Data::Error(e) => return Err(e.to_string()),
    })
}

/// Reads one sheet into ods batches (through `sink`) and quarantined rows.
pub fn read(
    path: &Path,
    items: &[Item],
    batch_id: &str,
    opts: &crate::ReadOptions,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(RecordBatch) -> Result<(), Error>,
) -> Result<Parsed, Error> {
    if !path.exists() {
        return Err(io_err(
            path,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let what = path.display().to_string();
    let mut wb = open_workbook_auto(path).map_err(|e| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("{what} cannot be opened as a workbook: {e}"),
        )
    })?;
    let names = wb.sheet_names();
    let sheet = match &opts.sheet {
        Some(s) if names.contains(s) => s.clone(),
        Some(s) => {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("{what} has no sheet '{s}' (sheets: {})", names.join(", ")),
            ));
        }
        None => names
            .first()
            .cloned()
            .ok_or_else(|| Error::new(ErrorCode::InvalidInput, format!("{what} has no sheets")))?,
    };
    let range = wb.worksheet_range(&sheet).map_err(|e| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("{what}, sheet {sheet}: {e}"),
        )
    })?;
    let first_row = range.start().map(|(r, _)| r as usize + 1).unwrap_or(1);
    let mut rows_iter = range
        .rows()
        .enumerate()
        .skip(opts.header_row.saturating_sub(1));
    let Some((_, header_cells)) = rows_iter.next() else {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("{what}, sheet {sheet} is empty: no header, no rows"),
        ));
    };
    let header: Vec<String> = header_cells
        .iter()
        .map(|c| {
            cell_text(c)
                .ok()
                .flatten()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .collect();
    let map = ColumnMap::new(
        &format!("{what}, sheet {sheet}"),
        &header,
        items,
        &opts.mapping,
    )?;
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut out = RowWriter::new(batch_id, items, map, sink, progress);
    for (i, cells) in rows_iter {
        if cells.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        let row_no = (first_row + i) as i64;
        let source_ref = format!("{file_name}:{sheet}!{row_no}");
        let mut texts = Vec::with_capacity(cells.len());
        let mut bad = None;
        for (col, c) in cells.iter().enumerate() {
            match cell_text(c) {
                Ok(t) => texts.push(t),
                Err(e) => {
                    bad.get_or_insert((col, e));
                    texts.push(None);
                }
            }
        }
        match bad {
            Some((col, e)) => {
                let raw: Vec<String> = texts
                    .iter()
                    .map(|t| t.clone().unwrap_or_default())
                    .collect();
                let name = header.get(col).cloned().unwrap_or_default();
                let why = format!(
                    "row {row_no}, column {} ({name}) holds the Excel error {e}",
                    col + 1
                );
                out.reject(
                    format_args!("{source_ref}"),
                    row_no,
                    &raw.join(","),
                    "ingest_cell_error",
                    &why,
                );
            }
            None => out.accept(format_args!("{source_ref}"), |c| {
                texts.get(c).and_then(|t| t.as_deref())
            })?,
        }
    }
    out.finish()
}
