//! The filling workbook of one resource (填报模板, R7 manual filling): a sheet whose header is the
//! resource's items, every column formatted as text so identity numbers and leading zeros survive
//! Excel, and a sheet explaining each item. Filled in and uploaded, it is read like any workbook.

use rust_xlsxwriter::{Format, Workbook};
use yishu_meta::catalog::{ITEM_TYPES, Resource};
use yishu_types::{Error, ErrorCode};

/// The sheet the data goes in (the first one, which a workbook ingest reads by default).
pub const DATA_SHEET: &str = "数据";
const HELP_SHEET: &str = "填写说明";

fn xerr(e: rust_xlsxwriter::XlsxError) -> Error {
    Error::new(ErrorCode::Internal, format!("writing the workbook: {e}"))
}

/// Builds the workbook for `r`.
pub fn workbook(r: &Resource) -> Result<Vec<u8>, Error> {
    let mut book = Workbook::new();
    let head = Format::new().set_bold().set_background_color(0xF0F2F5);
    let text = Format::new().set_num_format("@");
    let sheet = book.add_worksheet().set_name(DATA_SHEET).map_err(xerr)?;
    for (c, it) in r.meta.items.iter().enumerate() {
        let c = u16::try_from(c).map_err(|_| {
            Error::new(
                ErrorCode::InvalidInput,
                "a workbook holds at most 65,535 items",
            )
        })?;
        sheet
            .write_with_format(0, c, it.name.trim(), &head)
            .map_err(xerr)?;
        sheet
            .set_column_width(c, (it.name.chars().count() as f64 * 2.2).clamp(12.0, 40.0))
            .map_err(xerr)?;
        sheet.set_column_format(c, &text).map_err(xerr)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(xerr)?;
    let help = book.add_worksheet().set_name(HELP_SHEET).map_err(xerr)?;
    help.write_with_format(0, 0, "资源", &head).map_err(xerr)?;
    help.write(0, 1, format!("{} {}", r.code, r.meta.name))
        .map_err(xerr)?;
    help.write(
        1,
        0,
        "在“数据”表第 1 行下逐行填写，一行一条记录；不要改动表头。日期写成 2024-01-31。",
    )
    .map_err(xerr)?;
    for (c, h) in ["信息项", "类型", "长度", "数据元", "说明"]
        .iter()
        .enumerate()
    {
        help.write_with_format(3, c as u16, *h, &head)
            .map_err(xerr)?;
        help.set_column_width(c as u16, if c == 4 { 40 } else { 16 })
            .map_err(xerr)?;
    }
    for (i, it) in r.meta.items.iter().enumerate() {
        let row = i as u32 + 4;
        let kind = ITEM_TYPES
            .iter()
            .find(|(t, _)| *t == it.item_type)
            .map(|(t, n)| format!("{t} {n}"))
            .unwrap_or_else(|| it.item_type.clone());
        help.write(row, 0, it.name.as_str()).map_err(xerr)?;
        help.write(row, 1, kind).map_err(xerr)?;
        if let Some(l) = it.length {
            help.write(row, 2, l as f64).map_err(xerr)?;
        }
        help.write(row, 3, it.data_element.as_deref().unwrap_or(""))
            .map_err(xerr)?;
        help.write(row, 4, it.description.as_str()).map_err(xerr)?;
    }
    book.save_to_buffer().map_err(xerr)
}
