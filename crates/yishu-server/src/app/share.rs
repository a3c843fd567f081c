//! Sharing for the API and the pages: who sees which applications and grants, and the workflow
//! of `yishu-share` run with the server's store, lake and calendar.

use crate::AppState;
use crate::auth::RequestMeta;
use crate::error::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};
use yishu_lake::Layer;
use yishu_meta::share::{Application, ApplicationFilter, Grant, Step};
use yishu_meta::{Counter, Principal, now_ms};
use yishu_share::application::Workflow;
use yishu_share::audit::{self, Channel};
use yishu_share::gate::Source;
use yishu_share::read::{self, Page};
use yishu_share::target::{Target, resolve};
use yishu_share::watermark;
use yishu_share::{ReadPlan, ReadRequest, gate, masker_for};
use yishu_types::{Error, ErrorCode, Role};

/// The sharing workflow over the server's store and lake.
pub fn workflow(s: &AppState) -> Workflow<'_> {
    Workflow::new(&s.store, &s.lake)
}

/// How `who` reads `source` (named `target`, or why it could not be resolved): on the
/// department's own standing — the provider's, the bureau's data managers' — or through the
/// newest active grant the department holds for it, which takes one request of the grant's
/// rate limit. A refusal is in the read audit before it is returned.
pub async fn plan_read(
    s: &AppState,
    who: &Principal,
    ch: &Channel,
    target: &str,
    source: Result<Source, Error>,
    req: &ReadRequest,
) -> ApiResult<ReadPlan> {
    let planned = async {
        let source = source?;
        let now = now_ms();
        let grant = s.store.active_grant(who.org_id, target, now).await?;
        if grant.is_none() && gate::standing(who, source.provider_org).is_none() {
            inactive_grant(s, who, target, now).await?;
        }
        let plan = gate::plan(
            who,
            grant.as_ref(),
            &source,
            req,
            now,
            masker_for(&s.store, who.org_id),
        )?;
        if let Some(g) = &grant {
            s.limiter
                .request(g.id, now, g.per_minute, g.rows_per_day)
                .map_err(|(e, _)| e)?;
        }
        Ok(plan)
    }
    .await;
    match planned {
        Ok(p) => Ok(p),
        Err(e) => Err(refused(s, who, ch, target, e).await),
    }
}

/// When the department holds no active grant for `target`, why — its newest grant for it is
/// suspended, revoked or expired — rather than "no grant" (the refusal path only).
async fn inactive_grant(
    s: &AppState,
    who: &Principal,
    target: &str,
    now: i64,
) -> Result<(), Error> {
    let newest = s
        .store
        .grants(Some(who.org_id), None)
        .await?
        .into_iter()
        .filter(|g| g.target == target)
        .max_by_key(|g| g.id);
    match newest {
        Some(g) if g.status != "active" => Err(Error::new(
            ErrorCode::GrantInactive,
            format!("grant {} is {}: {}", g.id, g.status, g.status_reason),
        )),
        Some(g) if g.expires_at <= now => Err(Error::new(
            ErrorCode::GrantInactive,
            format!("grant {} expired; apply again to go on reading", g.id),
        )),
        _ => Ok(()),
    }
}

/// Records a refused read and returns its error (or the audit's, when it cannot be recorded).
pub async fn refused(
    s: &AppState,
    who: &Principal,
    ch: &Channel,
    target: &str,
    e: Error,
) -> ApiError {
    match audit::record(&s.store, &audit::entry(who, target, Err(&e), 0, &[], ch)).await {
        Ok(()) => e.into(),
        Err(a) => a.into(),
    }
}

/// Records a read of `rows` rows (with the digests of the subjects it returned, by key) and
/// counts them against the grant it rests on.
pub async fn read_done(
    s: &AppState,
    who: &Principal,
    ch: &Channel,
    plan: &ReadPlan,
    rows: usize,
    keys: &[&str],
) -> ApiResult<()> {
    if let Some(id) = plan.basis.grant_id() {
        s.limiter.rows(id, rows as i64);
    }
    let subjects: Vec<String> = keys
        .iter()
        .take(200)
        .map(|k| audit::subject_digest(&s.store, k))
        .collect();
    let e = audit::entry(who, &plan.target, Ok(plan), rows, &subjects, ch);
    audit::record(&s.store, &e).await?;
    Ok(())
}

/// The platform's operators, who see every application and grant.
pub fn is_bureau(p: &Principal) -> bool {
    p.has(Role::DataManager) || p.has(Role::Admin) || p.has(Role::Auditor)
}

/// Which applications a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Listing {
    /// My department's applications.
    #[default]
    Mine,
    /// Waiting for my decision: the provider's step for my department's data, the bureau's
    /// step for data managers.
    ToDecide,
    /// Every application (the bureau's overview).
    All,
}

impl Listing {
    pub fn parse(s: &str) -> Option<Listing> {
        match s {
            "mine" => Some(Listing::Mine),
            "to_decide" => Some(Listing::ToDecide),
            "all" => Some(Listing::All),
            _ => None,
        }
    }
}

/// The applications of `which` box that `who` may see, newest first.
pub async fn applications(
    s: &AppState,
    who: &Principal,
    which: Listing,
    status: Option<String>,
) -> ApiResult<Vec<Application>> {
    let store = &s.store;
    Ok(match which {
        Listing::Mine => {
            store
                .applications(&ApplicationFilter {
                    consumer: Some(who.org_id),
                    status,
                    ..Default::default()
                })
                .await?
        }
        Listing::ToDecide => {
            let mut out = store
                .applications(&ApplicationFilter {
                    provider: Some(who.org_id),
                    status: Some("submitted".into()),
                    ..Default::default()
                })
                .await?;
            if who.has(Role::DataManager) {
                out.extend(
                    store
                        .applications(&ApplicationFilter {
                            status: Some("provider_approved".into()),
                            ..Default::default()
                        })
                        .await?,
                );
            }
            out.sort_by_key(|a| std::cmp::Reverse(a.id));
            out
        }
        Listing::All => {
            if !is_bureau(who) {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "only the bureau sees every application",
                ));
            }
            store
                .applications(&ApplicationFilter {
                    status,
                    ..Default::default()
                })
                .await?
        }
    })
}

/// An application with its steps.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApplicationDetail {
    pub application: Application,
    pub steps: Vec<Step>,
}

/// An application the caller may see: its consumer, its provider, or the bureau.
pub async fn application(s: &AppState, who: &Principal, id: i64) -> ApiResult<ApplicationDetail> {
    let not_found = || {
        ApiError::new(
            ErrorCode::ApplicationNotFound,
            format!("no application {id}"),
        )
    };
    let a = s.store.application(id).await.map_err(|_| not_found())?;
    if a.consumer_org_id != who.org_id && a.provider_org_id != who.org_id && !is_bureau(who) {
        return Err(not_found());
    }
    let steps = s.store.steps(id).await?;
    Ok(ApplicationDetail {
        application: a,
        steps,
    })
}

/// The grants the caller's department holds or gives; every grant for the bureau.
pub async fn grants(s: &AppState, who: &Principal) -> ApiResult<Vec<Grant>> {
    if is_bureau(who) {
        return Ok(s.store.grants(None, None).await?);
    }
    let mut out = s.store.grants(Some(who.org_id), None).await?;
    out.extend(s.store.grants(None, Some(who.org_id)).await?);
    out.sort_by_key(|g| std::cmp::Reverse(g.id));
    out.dedup_by_key(|g| g.id);
    Ok(out)
}

/// A grant the caller may see.
pub async fn grant(s: &AppState, who: &Principal, id: i64) -> ApiResult<Grant> {
    let not_found = || ApiError::new(ErrorCode::GrantNotFound, format!("no grant {id}"));
    let g = s.store.grant(id).await.map_err(|_| not_found())?;
    if g.consumer_org_id != who.org_id && g.provider_org_id != who.org_id && !is_bureau(who) {
        return Err(not_found());
    }
    Ok(g)
}

/// Suspends, resumes or revokes a grant: the bureau's data managers or the providing
/// department. Takes effect on the next read.
pub async fn set_grant_status(
    s: &AppState,
    who: &Principal,
    id: i64,
    status: &str,
    reason: &str,
) -> ApiResult<Grant> {
    let g = grant(s, who, id).await?;
    if !(who.has(Role::DataManager) || g.provider_org_id == who.org_id) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only the bureau or the providing department suspends, resumes or revokes a grant",
        ));
    }
    if !matches!(status, "active" | "suspended" | "revoked") {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("status: '{status}' is not active, suspended or revoked"),
        ));
    }
    if status != "active" && reason.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "reason: say why, so the consumer knows",
        ));
    }
    Ok(s.store.set_grant_status(id, status, reason.trim()).await?)
}

/// What a caller asks of a grant's rows.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct RowsQuery {
    /// Items, comma-separated (default: every granted item).
    pub items: Option<String>,
    /// A row filter over granted items, e.g. `婚姻状况 = '20'`.
    pub filter: Option<String>,
    /// A subject's key (base libraries): its rows only.
    pub key: Option<String>,
    /// First row (default 0).
    pub offset: Option<usize>,
    /// Rows per page (1–10,000, default 100).
    pub limit: Option<usize>,
    /// json (default), or a download of every row: csv (streamed), xlsx or parquet.
    pub format: Option<String>,
}

impl RowsQuery {
    fn request(&self) -> ReadRequest {
        ReadRequest {
            items: self
                .items
                .as_deref()
                .unwrap_or("")
                .split([',', '，'])
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .map(String::from)
                .collect(),
            filter: self.filter.clone(),
            limit: self.limit.unwrap_or(100),
        }
    }
}

/// A grant's read, planned: the plan, where the rows are, and how the read is recorded.
pub struct Planned {
    pub plan: ReadPlan,
    pub layer: Layer,
    pub table: String,
    pub target: Target,
    pub resource_id: Option<i64>,
    pub channel: Channel,
    /// Rows the grant may still read today.
    pub rows_left: i64,
}

/// Plans a read through grant `id` for `who`, applying its rate limit. A refusal is audited here.
pub async fn plan_grant_read(
    s: &AppState,
    who: &Principal,
    meta: &RequestMeta,
    id: i64,
    q: &RowsQuery,
    kind: &'static str,
) -> ApiResult<Planned> {
    let channel = meta.channel(kind);
    let target_text = format!("grant:{id}");
    let planned = async {
        let g = s.store.grant(id).await.map_err(|_| {
            Error::new(
                ErrorCode::GrantNotFound,
                format!("no grant {id} for your department"),
            )
        })?;
        let target = Target::parse(&g.target)?;
        let r = resolve(&s.store, &s.lake, target.clone()).await?;
        let plan = gate::plan(
            who,
            Some(&g),
            &r.source,
            &q.request(),
            now_ms(),
            masker_for(&s.store, who.org_id),
        )?;
        // The target was just resolved: its table needs no second read of the catalog.
        let (layer, table) = match (&r.resource, &target) {
            (Some(res), _) => (Layer::Std, res.table()),
            (None, t) => read::table_of(&s.store, t).await?,
        };
        let rows_left = s
            .limiter
            .request(g.id, now_ms(), g.per_minute, g.rows_per_day)
            .map_err(|(e, _)| e)?;
        Ok(Planned {
            plan,
            layer,
            table,
            target,
            resource_id: r.resource.as_ref().map(|x| x.id),
            channel: channel.clone(),
            rows_left,
        })
    }
    .await;
    match planned {
        Ok(p) => Ok(p),
        Err(e) => {
            audit::record(
                &s.store,
                &audit::entry(who, &target_text, Err(&e), 0, &[], &channel),
            )
            .await?;
            Err(e.into())
        }
    }
}

/// One page of a grant's rows; audited (with the subjects' digests) before it is returned.
pub async fn grant_page(
    s: &AppState,
    who: &Principal,
    meta: &RequestMeta,
    id: i64,
    q: &RowsQuery,
) -> ApiResult<Page> {
    let p = plan_grant_read(s, who, meta, id, q, "api").await?;
    let key = q.key.as_deref().filter(|k| !k.trim().is_empty());
    let page = match (&p.target, key) {
        (_, None) => {
            let offset = q.offset.unwrap_or(0);
            read::page(&s.lake, p.layer, &p.table, &p.plan, offset).await?
        }
        (Target::Base(kind), Some(k)) => {
            read::page_by_key(&s.lake, *kind, &p.plan, k.trim()).await?
        }
        (Target::Resource(_) | Target::Service(_) | Target::Verify(_), Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "key: only base libraries are read by key; use filter for a resource",
            ));
        }
    };
    s.limiter.rows(id, page.rows.len() as i64);
    let subjects: Vec<String> = key
        .map(|k| vec![audit::subject_digest(&s.store, k.trim())])
        .unwrap_or_default();
    let target = p.target.as_string();
    audit::record(
        &s.store,
        &audit::entry(
            who,
            &target,
            Ok(&p.plan),
            page.rows.len(),
            &subjects,
            &p.channel,
        ),
    )
    .await?;
    if let Some(rid) = p.resource_id {
        let _ = s.store.count_use(Counter::Calls, &[rid]).await;
    }
    Ok(page)
}

/// A download through a grant, begun: its read is in the audit chain before the first row
/// leaves, and [`Download::end`] is the record that closes it with the rows sent.
struct Download {
    items: Vec<String>,
    rows: yishu_share::read::Rows,
    opening: yishu_meta::AuditEntry,
}

impl Download {
    /// Plans the read through grant `id`, records it (with its download and watermark) and
    /// starts reading: every row leaves marked with the download's code.
    async fn begin(
        s: &AppState,
        who: &Principal,
        meta: &RequestMeta,
        id: i64,
        q: &RowsQuery,
        format: &str,
    ) -> ApiResult<Download> {
        use futures::StreamExt;
        let p = plan_grant_read(s, who, meta, id, q, "download").await?;
        let taken = s
            .store
            .record_download(id, who.user_id, who.org_id, format)
            .await?;
        let mut opening = audit::entry(who, &p.target.as_string(), Ok(&p.plan), 0, &[], &p.channel);
        if let Ok(mut d) = serde_json::from_str::<serde_json::Value>(&opening.detail) {
            d["download"] = taken.id.into();
            d["format"] = format.into();
            opening.detail = d.to_string();
        }
        audit::record(&s.store, &opening).await?;
        let items = p.plan.items.clone();
        let max_rows = p.rows_left.max(0) as usize;
        let marker = watermark::Marker::new(watermark::key_for(&s.store), taken.code);
        let rows = read::stream(&s.lake, p.layer, &p.table, p.plan, max_rows)
            .await?
            .map(move |chunk| chunk.map(|rows| rows.into_iter().map(|r| marker.mark(r)).collect()))
            .boxed();
        Ok(Download {
            items,
            rows,
            opening,
        })
    }

    /// The closing record: the opening one, with the rows sent.
    fn end(opening: &yishu_meta::AuditEntry, n: u64) -> yishu_meta::AuditEntry {
        let mut e = opening.clone();
        e.action = "share.read.end".into();
        if let Ok(mut d) = serde_json::from_str::<serde_json::Value>(&e.detail) {
            d["rows"] = n.into();
            e.detail = d.to_string();
        }
        e
    }
}

/// Every row of a grant as CSV (UTF-8 with BOM), streamed batch by batch: a million rows never
/// sit in memory. The read is audited before the first byte and its row count when it ends.
pub async fn grant_csv(
    s: &AppState,
    who: &Principal,
    meta: &RequestMeta,
    id: i64,
    q: &RowsQuery,
) -> ApiResult<axum::response::Response> {
    let d = Download::begin(s, who, meta, id, q, "csv").await?;
    let (store, limiter, opening) = (s.store.clone(), s.limiter.clone(), d.opening);
    // When the last row is out: the day's count and a closing record with the rows sent.
    let on_end: crate::download::OnEnd = Box::new(move |n| {
        Box::pin(async move {
            limiter.rows(id, n as i64);
            if let Err(err) = store.audit(&Download::end(&opening, n)).await {
                tracing::error!("recording the end of a download through grant {id}: {err}");
            }
        })
    });
    Ok(crate::download::file(
        "text/csv; charset=utf-8",
        format!("grant-{id}.csv"),
        crate::download::streamed("csv", d.items, d.rows, on_end),
    ))
}

/// The use of the grants the caller's department gives (every grant for the bureau), `days` back.
pub async fn usage(
    s: &AppState,
    who: &Principal,
    days: i64,
) -> ApiResult<Vec<yishu_share::usage::GrantUsage>> {
    let grants = if is_bureau(who) {
        s.store.grants(None, None).await?
    } else {
        let mut own = s.store.grants(None, Some(who.org_id)).await?;
        own.extend(services_over(s, who.org_id).await?);
        own
    };
    let since = now_ms() - days.clamp(1, 366) * 86_400_000;
    Ok(yishu_share::usage::of_grants(&s.store, grants, since).await?)
}

/// The grants of the data services the bureau runs over `provider`'s resources: a call of
/// one reads the department's data too, so its "who used my data" lists them.
async fn services_over(s: &AppState, provider: yishu_types::OrgId) -> ApiResult<Vec<Grant>> {
    let tables: std::collections::HashSet<String> = s
        .store
        .all_resources()
        .await?
        .into_iter()
        .filter(|r| r.meta.provider_org_id == provider)
        .map(|r| yishu_lake::lineage::qualified(Layer::Std, &r.table()))
        .collect();
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let targets: std::collections::HashSet<String> = s
        .store
        .services()
        .await?
        .into_iter()
        .filter(|v| v.checked.tables.iter().any(|t| tables.contains(t)))
        .map(|v| Target::Service(v.name).as_string())
        .collect();
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    Ok(s.store
        .grants(None, None)
        .await?
        .into_iter()
        .filter(|g| targets.contains(&g.target) && g.provider_org_id != provider)
        .collect())
}

/// Every row of a grant as a workbook or a Parquet file: written chunk by chunk to a temporary
/// file, then streamed. Audited before it is read and with its row count once written.
pub async fn grant_file(
    s: &AppState,
    who: &Principal,
    meta: &RequestMeta,
    id: i64,
    q: &RowsQuery,
    format: yishu_share::files::FileFormat,
) -> ApiResult<axum::response::Response> {
    let d = Download::begin(s, who, meta, id, q, format.extension()).await?;
    let (n, body) = crate::download::written(format, &d.items, d.rows).await?;
    s.limiter.rows(id, n as i64);
    audit::record(&s.store, &Download::end(&d.opening, n)).await?;
    Ok(crate::download::file(
        format.content_type(),
        format!("grant-{id}.{}", format.extension()),
        body,
    ))
}
