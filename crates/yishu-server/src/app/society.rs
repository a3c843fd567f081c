//! Society's part of open data (R34) for the API and the portal: demand requests (anyone asks,
//! the department answers in public by a deadline), ratings and comments (shown once a
//! moderator agrees), the showcase of applications, and the openness evaluation after
//! GB/T 38664.3 per department and period — every action audited.

use crate::AppState;
use crate::app::open::{Catalog, org_slug};
use crate::app::open_read::Reader;
use crate::auth::RequestMeta;
use crate::error::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};
use serde_json::json;
use yishu_meta::catalog::{Resource, UpdateCycle};
use yishu_meta::society::{DemandRequest, Rating, Showcase};
use yishu_meta::{Principal, now_ms};
use yishu_types::{Error, ErrorCode, OrgId, Role};

/// What someone asks for.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestDraft {
    pub title: String,
    pub description: String,
    /// The department asked (its portal name, e.g. `cd-jt`); empty: the bureau routes it.
    #[serde(default)]
    pub org: String,
}

/// Records a demand request from `reader` (anonymous ones keep only a truncated address).
pub async fn ask(s: &AppState, reader: &Reader, d: &RequestDraft) -> ApiResult<DemandRequest> {
    let (key, per_minute, rows) = reader.limit_key();
    s.open_limiter
        .request(key, now_ms(), per_minute, rows)
        .map_err(|(e, _)| e)?;
    let org = if d.org.trim().is_empty() {
        None
    } else {
        let c = Catalog::current(s).await?;
        Some(
            c.org_by_name(&d.org)
                .map(|o| o.id)
                .ok_or_else(|| Error::field("org", format!("no department '{}'", d.org)))?,
        )
    };
    let r = s
        .store
        .create_request(
            &d.title,
            &d.description,
            org,
            reader.user.as_ref().map(|u| u.user_id),
            &reader.meta.source_ip,
        )
        .await?;
    audit(
        s,
        reader.user.as_ref(),
        &reader.meta,
        "open.request",
        format!("request:{}", r.id),
        json!({}),
    )
    .await?;
    Ok(r)
}

/// Whether `who` answers or moderates for department `org` (the bureau for every one).
fn speaks_for(who: &Principal, org: Option<OrgId>) -> bool {
    who.has(Role::DataManager)
        || (who.has(Role::ProviderOfficer) && org.is_some_and(|o| o == who.org_id))
}

fn forbidden(what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Forbidden,
        format!("only the department concerned or the bureau {what}"),
    )
}

async fn audit(
    s: &AppState,
    who: Option<&Principal>,
    meta: &RequestMeta,
    action: &str,
    object: String,
    detail: serde_json::Value,
) -> ApiResult<()> {
    s.store
        .audit(&meta.entry(who, action, object, "ok", detail.to_string()))
        .await?;
    Ok(())
}

/// The department answers a request in public.
pub async fn answer(
    s: &AppState,
    who: &Principal,
    meta: &RequestMeta,
    id: i64,
    outcome: &str,
    text: &str,
) -> ApiResult<DemandRequest> {
    let r = s.store.request(id).await?;
    if !speaks_for(who, r.org_id) {
        return Err(forbidden("answers a demand request"));
    }
    let r = s
        .store
        .answer_request(id, outcome, text, who.user_id)
        .await?;
    audit(
        s,
        Some(who),
        meta,
        "open.answer",
        format!("request:{id}"),
        json!({"outcome": outcome}),
    )
    .await?;
    Ok(r)
}

/// A registered reader rates an open dataset; the comment waits for moderation.
pub async fn rate(
    s: &AppState,
    reader: &Reader,
    name: &str,
    stars: i64,
    comment: &str,
) -> ApiResult<Rating> {
    let Some(user) = &reader.user else {
        return Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "sign in to rate a dataset",
        ));
    };
    let c = Catalog::current(s).await?;
    let (r, _) = crate::app::open_read::dataset(&c, name)?;
    let rating = s.store.rate(r.id, user.user_id, stars, comment).await?;
    audit(
        s,
        Some(user),
        &reader.meta,
        "open.rate",
        format!("resource:{}", r.id),
        json!({"stars": stars}),
    )
    .await?;
    Ok(rating)
}

/// Shows or hides a rating's comment: the dataset's department or the bureau.
pub async fn moderate_rating(
    s: &AppState,
    who: &Principal,
    meta: &RequestMeta,
    id: i64,
    status: &str,
) -> ApiResult<Rating> {
    let rating = s.store.rating(id).await?;
    let r = s.store.get_resource(rating.resource_id).await?;
    if !speaks_for(who, Some(r.meta.provider_org_id)) {
        return Err(forbidden("moderates a comment"));
    }
    let rating = s.store.moderate_rating(id, status, who.user_id).await?;
    audit(
        s,
        Some(who),
        meta,
        "open.moderate",
        format!("rating:{id}"),
        json!({"status": status}),
    )
    .await?;
    Ok(rating)
}

/// An application built on open data, as submitted.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowcaseDraft {
    pub title: String,
    pub description: String,
    pub url: String,
    /// Names of the open datasets it uses.
    #[serde(default)]
    pub datasets: Vec<String>,
}

/// A registered user submits an application to the showcase; the bureau reviews it.
pub async fn submit(
    s: &AppState,
    who: &Principal,
    meta: &RequestMeta,
    d: &ShowcaseDraft,
) -> ApiResult<Showcase> {
    let c = Catalog::current(s).await?;
    for n in &d.datasets {
        crate::app::open_read::dataset(&c, n)?;
    }
    let e = s
        .store
        .submit_showcase(&d.title, &d.description, &d.url, &d.datasets, who.user_id)
        .await?;
    audit(
        s,
        Some(who),
        meta,
        "open.showcase",
        format!("showcase:{}", e.id),
        json!({}),
    )
    .await?;
    Ok(e)
}

/// The bureau shows or hides a showcase entry.
pub async fn moderate_showcase(
    s: &AppState,
    who: &Principal,
    meta: &RequestMeta,
    id: i64,
    status: &str,
) -> ApiResult<Showcase> {
    if !who.has(Role::DataManager) {
        return Err(forbidden("reviews the showcase"));
    }
    let e = s.store.moderate_showcase(id, status, who.user_id).await?;
    audit(
        s,
        Some(who),
        meta,
        "open.moderate",
        format!("showcase:{id}"),
        json!({"status": status}),
    )
    .await?;
    Ok(e)
}

/// One department's openness over a period, after GB/T 38664.3's dimensions.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Openness {
    pub org: String,
    pub org_name: String,
    /// 数据数量: open datasets, items opened, records in their latest batches.
    pub datasets: usize,
    pub items: usize,
    pub records: i64,
    /// 数据质量: the mean quality score of the open datasets' latest batches (0–100).
    pub quality: Option<f64>,
    /// 及时性: share of open datasets whose data is as fresh as their update cycle asks (%).
    pub timeliness: f64,
    /// 机器可读: share of open datasets offered in an open machine-readable format (%).
    pub machine_readable: f64,
    /// 利用: downloads and API calls.
    pub uses: i64,
    /// 需求响应: share of the period's demand requests answered by their deadline (%);
    /// `None` when there were none.
    pub response: Option<f64>,
    /// The weighted score (0–100): quantity 20, quality 20, timeliness 20, machine-readability
    /// 10, use 20, response 10; quantity and use against the best department of the period.
    pub score: f64,
}

/// How long data may age under an update cycle before it is late.
fn allowed_age(c: UpdateCycle) -> Option<i64> {
    const DAY: i64 = 86_400_000;
    Some(match c {
        UpdateCycle::Realtime | UpdateCycle::Daily => 2 * DAY,
        UpdateCycle::Weekly => 8 * DAY,
        UpdateCycle::Monthly => 32 * DAY,
        UpdateCycle::Quarterly => 93 * DAY,
        UpdateCycle::HalfYearly => 184 * DAY,
        UpdateCycle::Yearly => 367 * DAY,
        UpdateCycle::Irregular => return None,
    })
}

/// The openness evaluation of every providing department over `[from, to)` (ms).
pub async fn evaluation(s: &AppState, from: i64, to: i64) -> ApiResult<Vec<Openness>> {
    if from >= to {
        return Err(Error::field("from", "must come before to").into());
    }
    let c = Catalog::current(s).await?;
    // The latest batch of each resource at the period's end.
    let scores = s.store.latest_scores(to).await?;
    let latest: std::collections::HashMap<i64, &yishu_meta::quality::StoredScore> =
        scores.iter().map(|sc| (sc.resource_id, sc)).collect();
    let requests = s.store.requests(None).await?;
    let mut out = Vec::new();
    for o in c.providers() {
        let own: Vec<&Resource> = c
            .datasets
            .iter()
            .filter(|r| r.meta.provider_org_id == o.id)
            .map(|r| &**r)
            .collect();
        let n = own.len();
        let fresh = own
            .iter()
            .filter(|r| match allowed_age(r.meta.update_cycle) {
                None => true,
                Some(age) => latest
                    .get(&r.id)
                    .is_some_and(|sc| sc.created_at >= to - age),
            })
            .count();
        let totals: Vec<f64> = own
            .iter()
            .filter_map(|r| latest.get(&r.id).and_then(|sc| sc.total))
            .collect();
        let asked: Vec<&DemandRequest> = requests
            .iter()
            .filter(|r| r.org_id == Some(o.id) && r.created_at >= from && r.created_at < to)
            .collect();
        let on_time = asked
            .iter()
            .filter(|r| r.answered_at.is_some_and(|a| a <= r.due_at))
            .count();
        out.push(Openness {
            org: org_slug(o),
            org_name: o.name.clone(),
            datasets: n,
            items: own.iter().map(|r| r.meta.items.len()).sum(),
            records: own
                .iter()
                .filter_map(|r| latest.get(&r.id).map(|sc| sc.records))
                .sum(),
            quality: (!totals.is_empty()).then(|| totals.iter().sum::<f64>() / totals.len() as f64),
            timeliness: percent(fresh, n),
            // Every open dataset is offered as CSV, JSON and Parquet besides XLSX.
            machine_readable: if n == 0 { 0.0 } else { 100.0 },
            uses: own
                .iter()
                .filter_map(|r| c.openings.get(&r.id))
                .map(|x| x.downloads + x.calls)
                .sum(),
            response: (!asked.is_empty()).then(|| percent(on_time, asked.len())),
            score: 0.0,
        });
    }
    let most_datasets = out.iter().map(|e| e.datasets).max().unwrap_or(0);
    let most_uses = out.iter().map(|e| e.uses).max().unwrap_or(0);
    for e in &mut out {
        let quantity = percent(e.datasets, most_datasets);
        let uses = if most_uses > 0 {
            100.0 * e.uses as f64 / most_uses as f64
        } else {
            0.0
        };
        e.score = (quantity * 20.0
            + e.quality.unwrap_or(0.0) * 20.0
            + e.timeliness * 20.0
            + e.machine_readable * 10.0
            + uses * 20.0
            + e.response.unwrap_or(100.0) * 10.0)
            / 100.0;
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.org.cmp(&b.org)));
    Ok(out)
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// The evaluation as a workbook: one row per department, its indicators and score.
pub fn evaluation_xlsx(rows: &[Openness], period: &str) -> ApiResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let failed = |e: rust_xlsxwriter::XlsxError| {
        ApiError::new(
            ErrorCode::Internal,
            format!("cannot write the workbook: {e}"),
        )
    };
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("开放评价").map_err(failed)?;
    let bold = Format::new().set_bold();
    sheet
        .write_string_with_format(
            0,
            0,
            format!("公共数据开放评价（依据 GB/T 38664.3）{period}"),
            &bold,
        )
        .map_err(failed)?;
    let heads = [
        "部门",
        "开放数据集",
        "开放数据项",
        "数据量（条）",
        "数据质量",
        "及时性（%）",
        "机器可读（%）",
        "下载与调用",
        "需求响应（%）",
        "综合得分",
    ];
    for (i, h) in heads.iter().enumerate() {
        sheet
            .write_string_with_format(2, i as u16, *h, &bold)
            .map_err(failed)?;
        sheet.set_column_width(i as u16, 14).map_err(failed)?;
    }
    for (n, e) in rows.iter().enumerate() {
        let row = 3 + n as u32;
        sheet.write_string(row, 0, &e.org_name).map_err(failed)?;
        sheet
            .write_number(row, 1, e.datasets as f64)
            .map_err(failed)?;
        sheet.write_number(row, 2, e.items as f64).map_err(failed)?;
        sheet
            .write_number(row, 3, e.records as f64)
            .map_err(failed)?;
        match e.quality {
            Some(q) => sheet.write_number(row, 4, (q * 10.0).round() / 10.0),
            None => sheet.write_string(row, 4, "未评估"),
        }
        .map_err(failed)?;
        sheet
            .write_number(row, 5, (e.timeliness * 10.0).round() / 10.0)
            .map_err(failed)?;
        sheet
            .write_number(row, 6, e.machine_readable)
            .map_err(failed)?;
        sheet.write_number(row, 7, e.uses as f64).map_err(failed)?;
        match e.response {
            Some(r) => sheet.write_number(row, 8, (r * 10.0).round() / 10.0),
            None => sheet.write_string(row, 8, "无需求"),
        }
        .map_err(failed)?;
        sheet
            .write_number(row, 9, (e.score * 10.0).round() / 10.0)
            .map_err(failed)?;
    }
    book.save_to_buffer().map_err(failed)
}
