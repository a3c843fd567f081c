//! Reads of open data (R33): downloads and `datastore_search`, by anyone. Every one passes the
//! gate on the dataset's opening grant to the public — its items, rows and masks — as any grant
//! read does; readers are limited per (truncated) address when anonymous, per user when
//! registered; every read is in the audit with the address truncated, nothing more about an
//! anonymous reader.

use crate::AppState;
use crate::app::open::Catalog;
use crate::auth::RequestMeta;
use crate::error::{ApiError, ApiResult};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use yishu_lake::Layer;
use yishu_meta::catalog::{OpenType, Resource};
use yishu_meta::open::{OpenUse, Opening, OpeningStatus};
use yishu_meta::{Credential, Principal, now_ms};
use yishu_share::audit::{self, Channel};
use yishu_share::read::{self, Found, Query};
use yishu_share::target::Target;
use yishu_share::{ReadPlan, ReadRequest, gate, masker_for};
use yishu_types::{Error, ErrorCode, UserId};

/// Requests a minute an anonymous address makes; a registered reader gets ten times as many.
pub const ANONYMOUS_PER_MINUTE: i64 = 120;
/// Rows a day an anonymous address reads; a registered reader gets ten times as many.
pub const ANONYMOUS_ROWS_PER_DAY: i64 = 20_000_000;

/// An address as the audit keeps it for open reads: IPv4 to its /24, IPv6 to its /48.
pub fn truncate_ip(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0", o[0], o[1], o[2])
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::", s[0], s[1], s[2])
        }
        Err(_) => String::new(),
    }
}

/// Limits what one address asks of the public catalog (CKAN actions, DCAT, portal pages):
/// `ServerConfig::open_pages_per_minute` requests a minute per truncated address, counted
/// apart from data reads. Catalog answers are cheap, so the limit is wide; it is there so one
/// address cannot take the server from everybody else.
pub async fn catalog_limit(
    axum::extract::State(s): axum::extract::State<AppState>,
    meta: RequestMeta,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ("catalog", truncate_ip(&meta.source_ip)).hash(&mut h);
    let limited = s.open_limiter.request(
        h.finish() as i64,
        now_ms(),
        s.config.open_pages_per_minute,
        i64::MAX / 4,
    );
    let Err((e, _)) = limited else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    if path.starts_with("/api/3/action/") || path.starts_with("/api/action/") {
        // CKAN clients read CKAN's envelope.
        let body = serde_json::json!({"success": false,
            "error": {"__type": "Rate Limit Error", "message": e.message}});
        return (axum::http::StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    }
    ApiError::from(e).into_response()
}

/// Who reads open data: a registered user (session, or key in `Authorization`,
/// `X-CKAN-API-Key` or `X-API-Key`), or anonymous.
#[derive(Debug, Clone)]
pub struct Reader {
    /// The registered user, if any.
    pub user: Option<Principal>,
    /// The request, its address truncated.
    pub meta: RequestMeta,
    /// The session's CSRF token, when signed in by the session cookie (for the portal's forms).
    pub csrf: Option<String>,
}

impl Reader {
    pub fn anonymous(&self) -> bool {
        self.user.is_none()
    }

    /// The principal the gate sees: a member of the public, whoever reads.
    fn as_public(&self, public: yishu_types::OrgId) -> Principal {
        match &self.user {
            Some(u) => Principal {
                org_id: public,
                roles: Vec::new(),
                app: None,
                ..u.clone()
            },
            None => Principal {
                user_id: UserId(0),
                name: "anonymous".into(),
                display_name: "匿名".into(),
                org_id: public,
                roles: Vec::new(),
                credential: Credential::Session,
                app: None,
            },
        }
    }

    /// The rate-limit counter this reader draws on.
    pub fn limit_key(&self) -> (i64, i64, i64) {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        match &self.user {
            Some(u) => ("user", u.user_id.0.to_string()).hash(&mut h),
            None => ("ip", self.meta.source_ip.as_str()).hash(&mut h),
        }
        let factor = if self.anonymous() { 1 } else { 10 };
        (
            h.finish() as i64,
            ANONYMOUS_PER_MINUTE * factor,
            ANONYMOUS_ROWS_PER_DAY * factor,
        )
    }
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let mut meta = RequestMeta::from_request_parts(parts, s)
            .await
            .unwrap_or_else(|e| match e {});
        meta.source_ip = truncate_ip(&meta.source_ip);
        let header = |n: &str| {
            parts
                .headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        // CKAN clients send the bare key in Authorization or X-CKAN-API-Key.
        let key = header("x-ckan-api-key").or_else(|| {
            header("authorization")
                .filter(|v| !v.starts_with("Bearer ") && !v.starts_with("bearer "))
        });
        let mut csrf = None;
        let user = if let Some(secret) = key {
            Some(s.key_cache.resolve(s, secret).await?)
        } else if header("authorization").is_some()
            || header("x-api-key").is_some()
            || crate::auth::cookie(&parts.headers, crate::auth::SESSION_COOKIE).is_some()
        {
            // A stale session reads as anonymous; a bad key is refused.
            match crate::auth::authenticate(s, parts).await {
                Ok((p, token)) => {
                    csrf = token;
                    Some(p)
                }
                Err(e) if header("authorization").is_some() || header("x-api-key").is_some() => {
                    return Err(e);
                }
                Err(_) => None,
            }
        } else {
            None
        };
        Ok(Reader { user, meta, csrf })
    }
}

/// The open dataset `name` and its opening, or why the public cannot read it: not found
/// (never opened, or not a dataset at all), or withdrawn or destroyed with the reason.
pub fn dataset<'c>(c: &'c Catalog, name: &str) -> Result<(&'c Resource, &'c Opening), Error> {
    match c.lookup(name) {
        Some((r, o)) if o.status == OpeningStatus::Open => Ok((r, o)),
        Some((r, o)) => Err(Error::new(
            ErrorCode::DatasetWithdrawn,
            format!(
                "{}（{}）was {} on {}: {}",
                r.meta.name,
                crate::app::open::slug(&r.code),
                if o.status == OpeningStatus::Withdrawn {
                    "withdrawn"
                } else {
                    "destroyed"
                },
                crate::app::open::iso(o.updated_at),
                o.reason
            ),
        )),
        None => Err(Error::new(
            ErrorCode::DatasetNotFound,
            format!("no open dataset named '{name}'"),
        )),
    }
}

/// An open read, planned.
pub struct OpenRead {
    pub resource: Resource,
    pub plan: ReadPlan,
    pub layer: Layer,
    pub table: String,
    pub channel: Channel,
    pub who: Principal,
    pub rows_left: i64,
}

/// Plans `reader`'s read of open dataset `name` through its opening grant, taking one request
/// of the reader's limit. A refusal is audited before it is returned.
pub async fn plan(
    s: &AppState,
    reader: &Reader,
    name: &str,
    req: &ReadRequest,
    kind: &'static str,
) -> ApiResult<OpenRead> {
    let c = Catalog::current(s).await?;
    let who = reader.as_public(c.public);
    let channel = reader.meta.channel(kind);
    let planned = async {
        let now = now_ms();
        // Refused reads count too: a flood of bad requests is limited like good ones.
        let (key, per_minute, rows_per_day) = reader.limit_key();
        let rows_left = s
            .open_limiter
            .request(key, now, per_minute, rows_per_day)
            .map_err(|(e, _)| e)?;
        let (r, o) = dataset(&c, name)?;
        if r.meta.open_type == OpenType::Conditional {
            let allowed = match &reader.user {
                Some(u) => s.store.has_open_access(r.id, u.user_id, now).await?,
                None => false,
            };
            if !allowed {
                return Err(Error::new(
                    ErrorCode::OpenAccessRequired,
                    format!(
                        "{} is open on condition: {}; sign in, apply with your purpose, and read it once {} agrees",
                        r.meta.name,
                        r.meta.open_condition,
                        c.orgs
                            .get(&r.meta.provider_org_id)
                            .map(|o| o.name.as_str())
                            .unwrap_or("the department")
                    ),
                ));
            }
        }
        // The grant is read each time: suspending it stops every open read at once.
        let grant = s.store.grant(o.grant_id).await?;
        let source = c.source(&s.store, r).await;
        let plan = gate::plan(
            &who,
            Some(&grant),
            &source,
            req,
            now,
            masker_for(&s.store, c.public),
        )?;
        Ok(OpenRead {
            table: r.table(),
            resource: r.clone(),
            plan,
            layer: Layer::Std,
            channel: channel.clone(),
            who: who.clone(),
            rows_left,
        })
    }
    .await;
    match planned {
        Ok(p) => Ok(p),
        Err(e) => Err(refused(s, reader, &who, &channel, name, e).await),
    }
}

/// Records a refused open read (naming nobody when anonymous) and returns its error.
async fn refused(
    s: &AppState,
    reader: &Reader,
    who: &Principal,
    channel: &Channel,
    name: &str,
    e: Error,
) -> ApiError {
    let mut entry = audit::entry(who, &format!("open:{name}"), Err(&e), 0, &[], channel);
    anonymise(&mut entry, reader);
    match audit::record(&s.store, &entry).await {
        Ok(()) => e.into(),
        Err(a) => a.into(),
    }
}

/// The reader's limit counts `n` rows read.
fn count_rows(s: &AppState, reader: &Reader, n: u64) {
    let (key, _, _) = reader.limit_key();
    s.open_limiter.rows(key, n as i64);
}

/// A download of open dataset `name` as csv, json, xlsx or parquet, streamed. Audited before
/// the first row leaves and with its row count once it ends; counted for the portal.
pub async fn download(
    s: &AppState,
    reader: &Reader,
    name: &str,
    format: &str,
) -> ApiResult<axum::response::Response> {
    use yishu_share::files::FileFormat;
    let file_format = match format {
        "csv" | "json" => None,
        "xlsx" => Some(FileFormat::Xlsx),
        "parquet" => Some(FileFormat::Parquet),
        other => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("'{other}' is not a download format: csv, json, xlsx or parquet"),
            ));
        }
    };
    let p = plan(s, reader, name, &ReadRequest::default(), "open_download").await?;
    let target = Target::Resource(p.resource.id).as_string();
    let mut opening = audit::entry(&p.who, &target, Ok(&p.plan), 0, &[], &p.channel);
    anonymise(&mut opening, reader);
    if let Ok(mut d) = serde_json::from_str::<serde_json::Value>(&opening.detail) {
        d["format"] = format.into();
        opening.detail = d.to_string();
    }
    audit::record(&s.store, &opening).await?;
    let _ = s
        .store
        .count_open_use(p.resource.id, OpenUse::Download)
        .await;
    let items = p.plan.items.clone();
    let file_name = format!("{}.{format}", crate::app::open::slug(&p.resource.code));
    let rows = read::stream(
        &s.lake,
        p.layer,
        &p.table,
        p.plan,
        p.rows_left.max(0) as usize,
    )
    .await?;
    match file_format {
        None => {
            let (store, limiter, reader) =
                (s.store.clone(), s.open_limiter.clone(), reader.clone());
            let on_end: crate::download::OnEnd = Box::new(move |n| {
                Box::pin(async move {
                    let (key, _, _) = reader.limit_key();
                    limiter.rows(key, n as i64);
                    if let Err(err) = store.audit(&ended(&opening, n)).await {
                        tracing::error!("recording the end of an open download: {err}");
                    }
                })
            });
            let content_type = if format == "json" {
                "application/json; charset=utf-8"
            } else {
                "text/csv; charset=utf-8"
            };
            let format: &'static str = if format == "json" { "json" } else { "csv" };
            Ok(crate::download::file(
                content_type,
                file_name,
                crate::download::streamed(format, items, rows, on_end),
            ))
        }
        Some(f) => {
            let (n, body) = crate::download::written(f, &items, rows).await?;
            count_rows(s, reader, n);
            audit::record(&s.store, &ended(&opening, n)).await?;
            Ok(crate::download::file(f.content_type(), file_name, body))
        }
    }
}

/// An anonymous reader's record names nobody.
fn anonymise(e: &mut yishu_meta::AuditEntry, reader: &Reader) {
    if reader.anonymous() {
        e.actor_id = None;
        e.actor_name = "anonymous".into();
    }
}

/// The closing record of a download: the opening one, with the rows sent.
fn ended(opening: &yishu_meta::AuditEntry, n: u64) -> yishu_meta::AuditEntry {
    let mut e = opening.clone();
    e.action = "share.read.end".into();
    if let Ok(mut d) = serde_json::from_str::<serde_json::Value>(&e.detail) {
        d["rows"] = n.into();
        e.detail = d.to_string();
    }
    e
}

/// Rows of open dataset `name` as `datastore_search` asks: `fields`, equality `filters` and
/// free text `q` over items shown in clear, `sort`, a window. Audited with the rows returned
/// on channel `kind` (`open_api`, counted as a call, or `open_page`, a portal preview).
pub async fn query(
    s: &AppState,
    reader: &Reader,
    name: &str,
    fields: Vec<String>,
    filters: &[(String, String)],
    q: Query,
    kind: &'static str,
) -> ApiResult<Found> {
    use yishu_share::filter::{Filter, Op, Value};
    // Built as a tree and written in its canonical text: a value never becomes syntax.
    let filter = filters
        .iter()
        .map(|(k, v)| Filter::Cmp {
            item: k.clone(),
            op: Op::Eq,
            value: Value::Text(v.clone()),
        })
        .reduce(|a, b| Filter::And(Box::new(a), Box::new(b)));
    let req = ReadRequest {
        items: fields,
        filter: filter.map(|f| f.to_string()),
        limit: q.limit,
    };
    let p = plan(s, reader, name, &req, kind).await?;
    let found = read::search(&s.lake, p.layer, &p.table, &p.plan, &q).await?;
    count_rows(s, reader, found.rows.len() as u64);
    let target = Target::Resource(p.resource.id).as_string();
    let mut e = audit::entry(
        &p.who,
        &target,
        Ok(&p.plan),
        found.rows.len(),
        &[],
        &p.channel,
    );
    anonymise(&mut e, reader);
    audit::record(&s.store, &e).await?;
    if kind == "open_api" {
        let _ = s.store.count_open_use(p.resource.id, OpenUse::Call).await;
    }
    Ok(found)
}
