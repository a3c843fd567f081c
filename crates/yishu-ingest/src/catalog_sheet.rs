//! The cataloguing workbook (编目表) departments already fill in: one sheet of resources, one of
//! their information items. [`template`] writes it empty with the allowed values, [`export`]
//! writes the catalog into it, and [`parse`] reads a filled one, reporting every error by sheet,
//! row and column in Chinese — nothing is imported until the sheet is clean, unless the caller
//! chooses to import the valid resources only.

use calamine::{Data, Reader};
use rust_xlsxwriter::{Format, Workbook};
use serde::Serialize;
use std::collections::HashMap;
use yishu_meta::Org;
use yishu_meta::catalog::{
    ClassKind, Extended, ITEM_TYPES, Item, OpenType, Resource, ResourceDraft, ResourceFormat,
    ShareType, UpdateCycle, check_draft,
};
use yishu_types::{Error, ErrorCode, OrgId};

pub const RESOURCES: &str = "资源";
pub const ITEMS: &str = "信息项";
const HELP: &str = "填写说明";

const RESOURCE_COLUMNS: &[&str] = &[
    "资源代码",
    "资源名称*",
    "提供方代码*",
    "资源分类*",
    "类目编码*",
    "资源摘要*",
    "资源格式*",
    "共享属性*",
    "共享条件",
    "开放属性*",
    "开放条件",
    "更新周期*",
    "关键字",
    "联系方式",
    "关联资源代码",
];
const ITEM_COLUMNS: &[&str] = &["资源名称*", "信息项名称*", "数据类型*", "长度", "数据元"];

/// One problem in an uploaded sheet.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SheetError {
    pub sheet: String,
    /// Excel row number (the header is row 1).
    pub row: usize,
    /// Column letter and heading, e.g. `H 共享属性`; empty when the whole row is meant.
    pub column: String,
    pub message: String,
}

/// A resource read from the sheet, with the row it came from.
#[derive(Debug, Clone)]
pub struct SheetResource {
    pub row: usize,
    pub draft: ResourceDraft,
}

/// What a sheet holds: the resources that are valid and every error found.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub resources: Vec<SheetResource>,
    pub errors: Vec<SheetError>,
    /// Rows (of the resource sheet) with at least one error; their resources are not in `resources`.
    pub rejected: usize,
}

fn xerr(e: rust_xlsxwriter::XlsxError) -> Error {
    Error::new(ErrorCode::Internal, format!("writing the workbook: {e}"))
}

fn col_name(i: usize, headers: &[&str]) -> String {
    format!(
        "{} {}",
        (b'A' + i as u8) as char,
        headers[i].trim_end_matches('*')
    )
}

fn write_book(rows: &[Vec<String>], items: &[Vec<String>]) -> Result<Vec<u8>, Error> {
    let mut book = Workbook::new();
    let head = Format::new().set_bold().set_background_color(0xF0F2F5);
    let sheet = book.add_worksheet().set_name(RESOURCES).map_err(xerr)?;
    for (c, h) in RESOURCE_COLUMNS.iter().enumerate() {
        sheet
            .write_with_format(0, c as u16, *h, &head)
            .map_err(xerr)?;
        sheet.set_column_width(c as u16, 16).map_err(xerr)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet
                .write(r as u32 + 1, c as u16, v.as_str())
                .map_err(xerr)?;
        }
    }
    let sheet = book.add_worksheet().set_name(ITEMS).map_err(xerr)?;
    for (c, h) in ITEM_COLUMNS.iter().enumerate() {
        sheet
            .write_with_format(0, c as u16, *h, &head)
            .map_err(xerr)?;
        sheet.set_column_width(c as u16, 18).map_err(xerr)?;
    }
    for (r, row) in items.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet
                .write(r as u32 + 1, c as u16, v.as_str())
                .map_err(xerr)?;
        }
    }
    let help = book.add_worksheet().set_name(HELP).map_err(xerr)?;
    let lines: Vec<String> = vec![
        "带 * 的列必填；一行一个资源，信息项写在“信息项”表，用资源名称关联。".into(),
        format!(
            "资源分类：{}",
            ClassKind::ALL
                .iter()
                .map(|v| v.label_zh())
                .collect::<Vec<_>>()
                .join("、")
        ),
        "类目编码：8 位数字（项 2 位、目 3 位、细目 3 位），如 01001001。".into(),
        format!(
            "资源格式：{}",
            ResourceFormat::ALL
                .iter()
                .map(|v| v.label_zh())
                .collect::<Vec<_>>()
                .join("、")
        ),
        format!(
            "共享属性：{}（有条件共享、不予共享须填写共享条件或依据）",
            ShareType::ALL
                .iter()
                .map(|v| v.label_zh())
                .collect::<Vec<_>>()
                .join("、")
        ),
        format!(
            "开放属性：{}（有条件开放须填写开放条件）",
            OpenType::ALL
                .iter()
                .map(|v| v.label_zh())
                .collect::<Vec<_>>()
                .join("、")
        ),
        format!(
            "更新周期：{}",
            UpdateCycle::ALL
                .iter()
                .map(|v| v.label_zh())
                .collect::<Vec<_>>()
                .join("、")
        ),
        format!(
            "数据类型：{}",
            ITEM_TYPES
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join("、")
        ),
        "关键字用顿号或逗号分隔；关联资源代码用分号分隔。资源代码由平台生成，导入时不填。".into(),
    ];
    for (r, l) in lines.iter().enumerate() {
        help.write(r as u32, 0, l.as_str()).map_err(xerr)?;
    }
    help.set_column_width(0, 100).map_err(xerr)?;
    book.save_to_buffer().map_err(xerr)
}

/// The empty cataloguing workbook.
pub fn template() -> Result<Vec<u8>, Error> {
    write_book(&[], &[])
}

/// The catalog in the cataloguing workbook's layout (with codes filled in).
pub fn export(resources: &[Resource], orgs: &[Org]) -> Result<Vec<u8>, Error> {
    let code_of: HashMap<OrgId, &str> = orgs.iter().map(|o| (o.id, o.code.as_str())).collect();
    let mut rows = Vec::new();
    let mut items = Vec::new();
    for r in resources {
        let m = &r.meta;
        rows.push(vec![
            r.code.clone(),
            m.name.clone(),
            code_of.get(&m.provider_org_id).unwrap_or(&"").to_string(),
            m.class_kind.label_zh().into(),
            m.class_path.clone(),
            m.summary.clone(),
            m.format.label_zh().into(),
            m.share_type.label_zh().into(),
            m.share_condition.clone(),
            m.open_type.label_zh().into(),
            m.open_condition.clone(),
            m.update_cycle.label_zh().into(),
            m.extended.keywords.join("、"),
            m.extended.contact.clone(),
            m.related_codes.join(";"),
        ]);
        for it in &m.items {
            items.push(vec![
                m.name.clone(),
                it.name.clone(),
                it.item_type.clone(),
                it.length.map(|l| l.to_string()).unwrap_or_default(),
                it.data_element.clone().unwrap_or_default(),
            ]);
        }
    }
    write_book(&rows, &items)
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        other => other.to_string().trim().to_string(),
    }
}

/// Rows to read, counted from the sheet's first row (calamine's range starts at the first used
/// cell, so positions are taken as absolute).
fn rows_of(r: &calamine::Range<Data>) -> usize {
    r.end().map_or(0, |(row, _)| row as usize + 1)
}

/// The texts of row `row` (0-based, absolute), columns A.. up to `n`.
fn cells(r: &calamine::Range<Data>, row: usize, n: usize) -> Vec<String> {
    (0..n)
        .map(|c| {
            r.get_value((row as u32, c as u32))
                .map(cell_text)
                .unwrap_or_default()
        })
        .collect()
}

/// Parses an enum cell by its Chinese label or its English word.
fn choice<T: Copy>(
    v: &str,
    all: &[T],
    zh: fn(T) -> &'static str,
    en: fn(T) -> &'static str,
) -> Option<T> {
    all.iter().copied().find(|x| zh(*x) == v || en(*x) == v)
}

/// Reads a filled cataloguing workbook. `orgs` resolves provider codes.
pub fn parse(bytes: &[u8], orgs: &[Org]) -> Result<Parsed, Error> {
    let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .map_err(|e| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("不是可读取的 Excel 工作簿: {e}"),
            )
        })?;
    let sheet = |book: &mut calamine::Sheets<_>, name: &str| {
        book.worksheet_range(name).map_err(|_| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("工作簿缺少“{name}”工作表；请使用平台下载的编目模板"),
            )
        })
    };
    let res = sheet(&mut book, RESOURCES)?;
    let its = sheet(&mut book, ITEMS)?;
    let mut errors = Vec::new();
    let org_by_code: HashMap<&str, OrgId> = orgs.iter().map(|o| (o.code.as_str(), o.id)).collect();

    // Items first, grouped by resource name.
    let mut items: HashMap<String, Vec<(usize, Item)>> = HashMap::new();
    for i in 1..rows_of(&its) {
        let excel_row = i + 1;
        let v = cells(&its, i, ITEM_COLUMNS.len());
        if v.iter().all(String::is_empty) {
            continue;
        }
        let mut err = |c: usize, m: String| {
            errors.push(SheetError {
                sheet: ITEMS.into(),
                row: excel_row,
                column: col_name(c, ITEM_COLUMNS),
                message: m,
            })
        };
        if v[0].is_empty() {
            err(0, "必填：所属资源的名称".into());
        }
        if v[1].is_empty() {
            err(1, "必填：信息项名称".into());
        }
        let t = ITEM_TYPES
            .iter()
            .find(|(c, n)| *c == v[2] || *n == v[2])
            .map(|(c, _)| c.to_string());
        if t.is_none() {
            err(
                2,
                format!(
                    "“{}”不是数据类型；可填 C N Y D T L M G B I F 或其中文名称",
                    v[2]
                ),
            );
        }
        let length = if v[3].is_empty() {
            None
        } else {
            match v[3].parse::<i64>() {
                Ok(l) if l >= 1 => Some(l),
                _ => {
                    err(3, format!("“{}”不是正整数", v[3]));
                    None
                }
            }
        };
        items.entry(v[0].clone()).or_default().push((
            excel_row,
            Item {
                name: v[1].clone(),
                item_type: t.unwrap_or_default(),
                length,
                data_element: Some(v[4].clone()).filter(|d| !d.is_empty()),
                description: String::new(),
            },
        ));
    }

    let mut resources = Vec::new();
    let mut rejected = 0;
    let mut names = std::collections::HashSet::new();
    for i in 1..rows_of(&res) {
        let excel_row = i + 1;
        let v = cells(&res, i, RESOURCE_COLUMNS.len());
        if v.iter().all(String::is_empty) {
            continue;
        }
        let before = errors.len();
        let mk = |c: usize, m: String| {
            let column = if c == usize::MAX {
                String::new()
            } else {
                col_name(c, RESOURCE_COLUMNS)
            };
            SheetError {
                sheet: RESOURCES.into(),
                row: excel_row,
                column,
                message: m,
            }
        };
        macro_rules! err {
            ($c:expr, $m:expr) => {
                errors.push(mk($c, $m))
            };
        }
        for c in [1, 2, 3, 4, 5, 6, 7, 9, 11] {
            if v[c].is_empty() {
                err!(
                    c,
                    format!("必填：{}", RESOURCE_COLUMNS[c].trim_end_matches('*'))
                );
            }
        }
        if !v[1].is_empty() && !names.insert(v[1].clone()) {
            err!(1, format!("资源名称“{}”在表中出现了两次", v[1]));
        }
        let class_path_ok = v[4].len() == 8 && v[4].bytes().all(|b| b.is_ascii_digit());
        if !v[4].is_empty() && !class_path_ok {
            err!(
                4,
                format!("“{}”应为 8 位数字（项 2 位、目 3 位、细目 3 位）", v[4])
            );
        }
        let provider = org_by_code.get(v[2].as_str()).copied();
        if provider.is_none() && !v[2].is_empty() {
            err!(2, format!("没有代码为“{}”的部门", v[2]));
        }
        let bad = |what: &str, val: &str| format!("“{val}”不是有效的{what}；可选值见“填写说明”表");
        let class = choice(
            &v[3],
            ClassKind::ALL,
            ClassKind::label_zh,
            ClassKind::as_str,
        );
        if class.is_none() && !v[3].is_empty() {
            err!(3, bad("资源分类", &v[3]));
        }
        let format = choice(
            &v[6],
            ResourceFormat::ALL,
            ResourceFormat::label_zh,
            ResourceFormat::as_str,
        );
        if format.is_none() && !v[6].is_empty() {
            err!(6, bad("资源格式", &v[6]));
        }
        let share = choice(
            &v[7],
            ShareType::ALL,
            ShareType::label_zh,
            ShareType::as_str,
        );
        if share.is_none() && !v[7].is_empty() {
            err!(7, bad("共享属性", &v[7]));
        }
        let open = choice(&v[9], OpenType::ALL, OpenType::label_zh, OpenType::as_str);
        if open.is_none() && !v[9].is_empty() {
            err!(9, bad("开放属性", &v[9]));
        }
        let cycle = choice(
            &v[11],
            UpdateCycle::ALL,
            UpdateCycle::label_zh,
            UpdateCycle::as_str,
        );
        if cycle.is_none() && !v[11].is_empty() {
            err!(11, bad("更新周期", &v[11]));
        }
        let its = items.remove(&v[1]).unwrap_or_default();
        if its.is_empty() && !v[1].is_empty() {
            err!(
                usize::MAX,
                format!("资源“{}”在“信息项”表中没有信息项", v[1])
            );
        }
        if let (
            Some(provider_org_id),
            Some(class_kind),
            Some(format),
            Some(share_type),
            Some(open_type),
            Some(update_cycle),
        ) = (provider, class, format, share, open, cycle)
        {
            let draft = ResourceDraft {
                class_kind,
                class_path: v[4].clone(),
                name: v[1].clone(),
                provider_org_id,
                summary: v[5].clone(),
                format,
                share_type,
                share_condition: v[8].clone(),
                open_type,
                open_condition: v[10].clone(),
                update_cycle,
                related_codes: v[14]
                    .split([';', '；'])
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                extended: Extended {
                    contact: v[13].clone(),
                    keywords: v[12]
                        .split(['、', ',', '，'])
                        .map(str::trim)
                        .filter(|k| !k.is_empty())
                        .map(str::to_string)
                        .collect(),
                    ..Default::default()
                },
                items: its.into_iter().map(|(_, it)| it).collect(),
            };
            if errors.len() == before {
                // The store's own rules, in words the sheet's author can act on.
                if let Err(e) = check_draft(&draft) {
                    err!(usize::MAX, format!("不符合编目规则：{}", e.message));
                }
            }
            if errors.len() == before {
                resources.push(SheetResource {
                    row: excel_row,
                    draft,
                });
            }
        }
        if errors.len() > before {
            rejected += 1;
        }
    }
    for (name, rows) in items {
        for (row, _) in rows {
            errors.push(SheetError {
                sheet: ITEMS.into(),
                row,
                column: col_name(0, ITEM_COLUMNS),
                message: format!("“资源”表中没有名为“{name}”的资源"),
            });
        }
    }
    errors.sort_by_key(|e| (e.sheet != RESOURCES, e.row));
    Ok(Parsed {
        resources,
        errors,
        rejected,
    })
}
