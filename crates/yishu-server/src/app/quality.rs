//! Standards and quality that are not HTTP: code tables and their import, checking a rule before
//! it is saved, suggestions from profiles, violations, the ranking of departments, weights.

use crate::AppState;
use crate::app::audit::audit;
use crate::auth::Auth;
use crate::auth::Quality;
use crate::error::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use yishu_meta::catalog::{Resource, ResourceStatus};
use yishu_meta::quality::*;
use yishu_quality::RuleDef;
use yishu_quality::run::BatchQuality;
use yishu_types::{ErrorCode, OrgId};

/// A national code table (shipped with the product) as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NationalTable {
    pub id: String,
    pub name: String,
    pub source: String,
    pub entries: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodeTables {
    pub national: Vec<NationalTable>,
    pub local: Vec<LocalCodeTable>,
}

/// The national code tables and the departments' own.
pub(crate) async fn tables(s: &AppState) -> ApiResult<CodeTables> {
    let national = yishu_types::codes::national()
        .iter()
        .map(|t| NationalTable {
            id: t.id.clone(),
            name: t.name.clone(),
            source: t.source.clone(),
            entries: t.entries.len(),
        })
        .chain(std::iter::once(NationalTable {
            id: "division".into(),
            name: "中华人民共和国行政区划代码".into(),
            source: "GB/T 2260（含历年变更）".into(),
            entries: yishu_types::division::current_under("").len(),
        }))
        .collect();
    Ok(CodeTables {
        national,
        local: s.store.code_tables().await?,
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ImportQuery {
    /// Name of the department's table.
    pub name: String,
    /// The national table its codes mean (`sex`, `marital`, `ethnicity`, `education`, `relation`).
    pub national: Option<String>,
}

/// Saves an uploaded department code table as the next version of `id`; returns it and the
/// codes a person should map by hand (matched only by code, or not at all).
pub(crate) async fn import_codes(
    s: &AppState,
    auth: &Auth<Quality>,
    id: &str,
    q: &ImportQuery,
    body: &[u8],
) -> ApiResult<(LocalCodeTable, Vec<yishu_types::codes::CodeMapping>)> {
    if id.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "a code table needs an identifier",
        ));
    }
    let dir = tempfile::tempdir()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("temp dir: {e}")))?;
    let ext = if body.starts_with(b"PK\x03\x04") {
        "xlsx"
    } else {
        "csv"
    };
    let path = dir.path().join(format!("codes.{ext}"));
    std::fs::write(&path, body)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("temp file: {e}")))?;
    let local = yishu_ingest::code_sheet::read(&path)?;
    let national = q.national.clone().unwrap_or_default();
    let mappings = match yishu_types::codes::table(&national) {
        Some(t) => t.map_local(&local),
        None if national.is_empty() => Vec::new(),
        None => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("national: no national code table '{national}'"),
            ));
        }
    };
    let entries = local
        .iter()
        .map(|l| LocalCodeEntry {
            code: l.code.clone(),
            name: l.name.clone(),
            national: mappings
                .iter()
                .find(|m| m.local.code == l.code)
                .filter(|m| m.by == yishu_types::codes::MatchedBy::Name)
                .and_then(|m| m.national.as_ref().map(|e| e.code.clone())),
        })
        .collect();
    let saved = s
        .store
        .put_code_table(&LocalCodeTable {
            id: id.to_string(),
            name: q.name.clone(),
            source: auth.who().org_id.0.to_string(),
            org_id: Some(auth.who().org_id),
            national,
            entries,
            version: 0,
            created_at: 0,
        })
        .await?;
    audit(
        s,
        auth,
        "standard.code_table",
        format!("code_table:{id}"),
        json!({"codes": saved.entries.len(), "version": saved.version}),
    )
    .await?;
    let to_check = mappings
        .into_iter()
        .filter(|m| m.by != yishu_types::codes::MatchedBy::Name)
        .collect();
    Ok((saved, to_check))
}

/// Checks a rule body against the resource before it is saved: a clear error now rather than a
/// broken check later.
/// The dimension, importance and severity of a rule body are ones Yishu knows.
fn check_levels(b: &RuleBody) -> ApiResult<()> {
    if yishu_quality::Dimension::parse(&b.dimension).is_none() {
        return Err(ApiError::new(
            ErrorCode::RuleInvalid,
            format!(
                "dimension '{}' is not one of completeness, conformity, accuracy, consistency, timeliness, accessibility (or 完整性 …)",
                b.dimension
            ),
        ));
    }
    for (what, v) in [("importance", &b.importance), ("severity", &b.severity)] {
        if yishu_quality::Level::parse(v).is_none() {
            return Err(ApiError::new(
                ErrorCode::RuleInvalid,
                format!("{what} '{v}' is not one of low, medium, high (低, 中, 高)"),
            ));
        }
    }
    Ok(())
}

/// A rule that reads another resource names one that exists, and items it has.
async fn reference_has(s: &AppState, resource: &str, items: &[&String]) -> ApiResult<()> {
    let target = s.store.get_resource_by_code(resource).await.map_err(|_| {
        ApiError::new(
            ErrorCode::RuleInvalid,
            format!("no resource with code {resource}"),
        )
    })?;
    for item in items {
        if !target
            .meta
            .items
            .iter()
            .any(|i| i.name.trim() == item.as_str())
        {
            return Err(ApiError::new(
                ErrorCode::RuleInvalid,
                format!("{resource} has no item '{item}'"),
            ));
        }
    }
    Ok(())
}

pub(crate) async fn check_body(
    s: &AppState,
    r: &Resource,
    b: &RuleBody,
    purpose: RulePurpose,
) -> ApiResult<()> {
    let items: Vec<String> = r.item_names();
    let local: Vec<String> = s
        .store
        .code_tables()
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    check_levels(b)?;
    if purpose == RulePurpose::Clean {
        let def: yishu_quality::clean::CleanDef = serde_json::from_value(b.definition.clone())
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::RuleInvalid,
                    format!("definition: {e} (a cleaning rule is {{\"fix\": {{…}}}} or {{\"check\": {{…}}}})"),
                )
            })?;
        def.check(&items, &local)?;
        if let Some(yishu_quality::clean::Fix::FillReference {
            resource, on, take, ..
        }) = &def.fix
        {
            reference_has(s, resource, &[on, take]).await?;
        }
        if let Some(RuleDef::Referential { resource, item, .. }) = &def.check {
            reference_has(s, resource, &[item]).await?;
        }
        if !b.action.is_empty() && yishu_quality::clean::Action::parse(&b.action).is_none() {
            return Err(ApiError::new(
                ErrorCode::RuleInvalid,
                format!("action '{}' is not one of fix, filter, tolerate", b.action),
            ));
        }
        return Ok(());
    }
    let def: RuleDef = serde_json::from_value(b.definition.clone()).map_err(|e| {
        ApiError::new(
            ErrorCode::RuleInvalid,
            format!("definition: {e} (kinds: not_null, unique, format, range, code_table, referential, volatility, cross, dependency, timeliness, sql)"),
        )
    })?;
    def.check(&items, &local)?;
    match &def {
        RuleDef::Sql { sql } => {
            yishu_quality::scan::check_sql(&s.lake, &r.table(), sql)
                .await
                .map_err(|e| match e.code {
                    ErrorCode::LakeError => ApiError::new(
                        ErrorCode::RuleInvalid,
                        "a custom SQL rule can be saved once the resource has data to check it against",
                    ),
                    _ => e.into(),
                })?;
        }
        RuleDef::Referential { resource, item, .. } => reference_has(s, resource, &[item]).await?,
        _ => {}
    }
    Ok(())
}

/// The newest checked batch's quality record of a resource, if any.
pub(crate) async fn latest_quality(
    s: &AppState,
    resource_id: i64,
) -> ApiResult<Option<BatchQuality>> {
    Ok(s.store
        .profiles(resource_id, 1)
        .await?
        .into_iter()
        .next()
        .and_then(|p| serde_json::from_value(p.body).ok()))
}

/// Rules proposed from the newest profile, leaving out existing and discarded ones.
pub(crate) async fn suggestions(
    s: &AppState,
    r: &Resource,
) -> ApiResult<Vec<yishu_quality::suggest::Suggestion>> {
    let Some(q) = latest_quality(s, r.id).await? else {
        return Ok(Vec::new());
    };
    let mut skip: Vec<RuleDef> = s
        .store
        .discarded_suggestions(r.id)
        .await?
        .into_iter()
        .filter_map(|d| serde_json::from_value(d).ok())
        .collect();
    for v in s.store.rules_of(r.id).await? {
        for ver in v.active.iter().chain(v.pending.iter()) {
            if let Ok(d) = serde_json::from_value(ver.definition.clone()) {
                skip.push(d);
            }
        }
    }
    Ok(yishu_quality::suggest::suggest(&q.profile, &skip))
}

/// Hides what a profile reveals of the values themselves (top values, min/max, quantiles) from
/// those who may not read the raw rows.
pub(crate) fn redact(q: &mut BatchQuality) {
    for f in &mut q.profile.fields {
        f.top.clear();
        f.min = None;
        f.max = None;
        f.mean = None;
        f.quantiles.clear();
    }
}

/// A batch's violations (at most `limit`), each as [`VIOLATION_HEADINGS`].
pub(crate) async fn violations(
    s: &AppState,
    who: &yishu_meta::Principal,
    ch: &yishu_share::audit::Channel,
    (b, r): (&yishu_meta::batch::Batch, &Resource),
    limit: Option<usize>,
) -> ApiResult<Vec<[String; 6]>> {
    let plan = crate::app::access::raw_plan(s, who, ch, r).await?;
    let rows = yishu_quality::violations::of_batch(&s.lake, &r.table(), &b.id, limit).await?;
    crate::app::share::read_done(s, who, ch, &plan, rows.len(), &[]).await?;
    Ok(rows)
}

pub use yishu_quality::violations::HEADINGS as VIOLATION_HEADINGS;

/// A department's place in the ranking.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ranked {
    pub org_id: OrgId,
    pub org_name: String,
    /// Records-weighted mean of its resources' newest measured scores; `null` (未评估) when no
    /// rule or data element has measured any of its batches — such departments are listed after
    /// the ranked ones, never averaged in.
    pub score: Option<f64>,
    /// Resources with a score (measured or not).
    pub resources: usize,
    pub open_orders: usize,
    pub overdue_orders: usize,
}

/// Departments ranked by their resources' newest quality scores; departments that publish
/// resources but have no measured score follow, apart, in code order.
pub(crate) async fn ranking(s: &AppState) -> ApiResult<Vec<Ranked>> {
    // Only each resource's newest score counts, so only those are read.
    let all = s.store.latest_scores(i64::MAX).await?;
    let mut by_org: std::collections::BTreeMap<i64, Vec<&StoredScore>> = Default::default();
    for sc in &all {
        by_org.entry(sc.org_id.0).or_default().push(sc);
    }
    for org in s.store.provider_orgs(ResourceStatus::Published).await? {
        by_org.entry(org.0).or_default();
    }
    let orders = s.store.work_orders(None, true).await?;
    let mut out = Vec::new();
    for (org, scores) in by_org {
        let name = s
            .store
            .get_org(OrgId(org))
            .await
            .map(|o| o.name)
            .unwrap_or_default();
        let mine = orders.iter().filter(|o| o.org_id.0 == org);
        let mut resources: Vec<i64> = scores.iter().map(|sc| sc.resource_id).collect();
        resources.sort_unstable();
        resources.dedup();
        out.push(Ranked {
            org_id: OrgId(org),
            org_name: name,
            score: yishu_quality::report::department_score(scores).0,
            resources: resources.len(),
            open_orders: mine.clone().count(),
            overdue_orders: mine.filter(|o| o.overdue).count(),
        });
    }
    // Measured first, best first; then the unmeasured, by org.
    out.sort_by(|a, b| match (a.score, b.score) {
        (Some(x), Some(y)) => y.total_cmp(&x).then(a.org_id.0.cmp(&b.org_id.0)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.org_id.0.cmp(&b.org_id.0),
    });
    Ok(out)
}

/// Every dimension's weight (1 unless set).
pub(crate) async fn weight_map(s: &AppState) -> ApiResult<Value> {
    let set = s.store.quality_weights().await?;
    let map: serde_json::Map<String, Value> = yishu_quality::Dimension::ALL
        .iter()
        .map(|d| {
            let w = set
                .iter()
                .find(|(k, _)| k == d.as_str())
                .map_or(1.0, |(_, w)| *w);
            (d.as_str().to_string(), json!(w))
        })
        .collect();
    Ok(Value::Object(map))
}

/// Field profile headings of the XLSX export.
pub(crate) const PROFILE_HEADINGS: [&str; 17] = [
    "字段",
    "记录数",
    "缺失数",
    "缺失率",
    "唯一值数",
    "唯一率",
    "重复值数",
    "重复率",
    "零值数",
    "最小长度",
    "平均长度",
    "最大长度",
    "最小值",
    "最大值",
    "均值",
    "推断类型",
    "主要表示格式",
];

/// Creates a rule on a resource the caller may read, after checking its definition against the
/// resource; audited. The API and the console's forms both come here.
pub(crate) async fn create_rule<R: crate::auth::Right>(
    s: &AppState,
    auth: &Auth<R>,
    n: &NewRule,
) -> ApiResult<RuleView> {
    let r = crate::app::access::readable(s, auth.who(), n.resource_id).await?;
    check_body(s, &r, &n.body, n.purpose).await?;
    let v = s
        .store
        .create_rule(n, &crate::app::audit::actor(auth.who()))
        .await?;
    crate::app::audit::audit(
        s,
        auth,
        "rule.create",
        format!("rule:{}", v.rule.id),
        json!({"resource": r.code, "definition": n.body.definition}),
    )
    .await?;
    Ok(v)
}
