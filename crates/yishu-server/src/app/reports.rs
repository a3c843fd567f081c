//! Quality reports per department and period (R15, 质量报告), as data and as an XLSX workbook.
//! A department reads its own; the bureau reads every department's.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use chrono::NaiveDate;
use serde::Deserialize;
use yishu_meta::Principal;
use yishu_quality::report::{DepartmentReport, day_start, department_report};
use yishu_types::{ErrorCode, OrgId, Role};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ReportQuery {
    /// The department (default: the caller's).
    pub org: Option<i64>,
    /// First day of the period, `yyyy-mm-dd` (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day of the period, included, `yyyy-mm-dd` (default: today, Beijing time).
    pub to: Option<String>,
}

fn day(what: &str, v: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidInput,
            format!("{what}: '{v}' is not a date written yyyy-mm-dd"),
        )
    })
}

/// The department and period a query asks for: the org, the first day and the last day.
pub(crate) fn period(who: &Principal, q: &ReportQuery) -> ApiResult<(OrgId, NaiveDate, NaiveDate)> {
    let org = OrgId(q.org.unwrap_or(who.org_id.0));
    if org != who.org_id && !(who.has(Role::DataManager) || who.has(Role::Admin)) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "a department reads its own quality report",
        ));
    }
    let today = chrono::Utc::now()
        .with_timezone(&yishu_quality::report::beijing())
        .date_naive();
    let to = match q.to.as_deref().filter(|v| !v.trim().is_empty()) {
        Some(v) => day("to", v)?,
        None => today,
    };
    let from = match q.from.as_deref().filter(|v| !v.trim().is_empty()) {
        Some(v) => day("from", v)?,
        None => to - chrono::Duration::days(29),
    };
    if from > to {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("the period starts ({from}) after it ends ({to})"),
        ));
    }
    Ok((org, from, to))
}

/// Builds the report a query asks for, once the caller may read it.
pub(crate) async fn build(
    s: &AppState,
    who: &Principal,
    q: &ReportQuery,
) -> ApiResult<DepartmentReport> {
    let (org, from, to) = period(who, q)?;
    let end = day_start(to + chrono::Duration::days(1));
    Ok(department_report(&s.store, org, day_start(from), end).await?)
}

/// Writes one sheet of headings and rows.
fn sheet(
    book: &mut rust_xlsxwriter::Workbook,
    name: &str,
    headings: &[&str],
    rows: Vec<Vec<Cell>>,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let head = rust_xlsxwriter::Format::new().set_bold();
    let pct = rust_xlsxwriter::Format::new().set_num_format("0.00%");
    let ws = book.add_worksheet().set_name(name)?;
    for (c, h) in headings.iter().enumerate() {
        ws.write_with_format(0, c as u16, *h, &head)?;
    }
    for (i, row) in rows.into_iter().enumerate() {
        let r = i as u32 + 1;
        for (c, cell) in row.into_iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(t) => ws.write_string(r, c, t)?,
                Cell::Number(n) => ws.write_number(r, c, n)?,
                Cell::Rate(n) => ws.write_number_with_format(r, c, n, &pct)?,
            };
        }
    }
    ws.autofit();
    Ok(())
}

enum Cell {
    Text(String),
    Number(f64),
    Rate(f64),
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn num(n: impl Into<f64>) -> Cell {
    Cell::Number(n.into())
}

/// A score, or 未评估 when nothing measured it.
fn opt(n: Option<f64>) -> Cell {
    n.map_or_else(|| text("未评估"), Cell::Number)
}

/// The report as a workbook.
pub(crate) fn workbook(r: &DepartmentReport) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let date = |ms: i64| {
        crate::time::fmt_time(ms)
            .chars()
            .take(10)
            .collect::<String>()
    };
    let d = &r.dataset;
    let mut summary = vec![
        vec![text("部门"), text(r.org_name.clone())],
        vec![
            text("统计期"),
            text(format!("{} 至 {}", date(r.from), date(r.to - 1))),
        ],
        vec![
            text("生成时间"),
            text(crate::time::fmt_time(r.generated_at)),
        ],
        vec![text("质量得分"), opt(r.score)],
        vec![text("上期得分"), opt(r.previous_score)],
        vec![text("检查批次数"), num(r.batches as f64)],
        vec![text("检查记录数"), num(r.records as f64)],
        vec![text("数据集：表数"), num(d.tables as f64)],
        vec![text("数据集：字段数"), num(d.fields as f64)],
        vec![text("数据集：记录数"), num(d.records as f64)],
        vec![text("数据集：存储大小（字节）"), num(d.bytes as f64)],
        vec![text("数据集：缺失元素数"), num(d.missing_cells as f64)],
        vec![
            text("数据集：含缺失值的字段数"),
            num(d.fields_with_missing as f64),
        ],
        vec![
            text("数据集：全部缺失的字段数"),
            num(d.all_missing_fields as f64),
        ],
        vec![text("数据集：重复记录数"), num(d.duplicate_records as f64)],
        vec![text("新开工单"), num(r.orders.opened as f64)],
        vec![text("关闭工单"), num(r.orders.closed as f64)],
        vec![text("期末未关闭工单"), num(r.orders.open_at_end as f64)],
        vec![text("期末超期工单"), num(r.orders.overdue_at_end as f64)],
    ];
    for (dim, v) in &r.dimensions {
        let label = yishu_quality::Dimension::parse(dim).map_or(dim.as_str(), |d| d.label_zh());
        summary.push(vec![text(format!("维度：{label}")), num(*v)]);
    }
    sheet(&mut book, "概况", &["项目", "值"], summary)?;
    sheet(
        &mut book,
        "资源",
        &[
            "代码",
            "资源",
            "批次",
            "记录数",
            "期初得分",
            "期末得分",
            "问题记录数",
        ],
        r.resources
            .iter()
            .map(|x| {
                vec![
                    text(x.code.clone()),
                    text(x.name.clone()),
                    num(x.batches as f64),
                    num(x.records as f64),
                    opt(x.first_score),
                    opt(x.score),
                    num(x.violations as f64),
                ]
            })
            .collect(),
    )?;
    sheet(
        &mut book,
        "规则",
        &[
            "规则",
            "资源",
            "维度",
            "检查次数",
            "未通过次数",
            "无法执行次数",
            "问题记录数",
            "通过率",
        ],
        r.rules
            .iter()
            .map(|x| {
                let dim = yishu_quality::Dimension::parse(&x.dimension)
                    .map_or(x.dimension.clone(), |d| d.label_zh().to_string());
                vec![
                    text(x.name.clone()),
                    text(x.resource.clone()),
                    text(dim),
                    num(x.runs as f64),
                    num(x.failed_runs as f64),
                    num(x.broken_runs as f64),
                    num(x.violations as f64),
                    Cell::Rate(x.pass_rate),
                ]
            })
            .collect(),
    )?;
    sheet(
        &mut book,
        "工单",
        &[
            "编号",
            "标题",
            "状态",
            "问题记录数",
            "开立",
            "期限",
            "关闭",
            "超期",
        ],
        r.order_list
            .iter()
            .map(|o| {
                vec![
                    num(o.id as f64),
                    text(o.title.clone()),
                    text(o.status.label_zh()),
                    num(o.failed as f64),
                    text(crate::time::fmt_time(o.opened_at)),
                    text(crate::time::fmt_time(o.due_at)),
                    text(o.closed_at.map(crate::time::fmt_time).unwrap_or_default()),
                    text(if o.overdue { "是" } else { "否" }),
                ]
            })
            .collect(),
    )?;
    sheet(
        &mut book,
        "趋势",
        &["日期", "平均得分"],
        r.trend
            .iter()
            .map(|(d, v)| vec![text(d.clone()), num(*v)])
            .collect(),
    )?;
    book.save_to_buffer()
}
