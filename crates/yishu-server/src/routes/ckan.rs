//! The CKAN Action API (`/api/3/action/{name}` and `/api/action/{name}`, GET or POST with JSON or
//! a form) over the open catalog, so harvesters, `ckanapi` and scripts written for CKAN work
//! unchanged: CKAN's envelope `{"help", "success", "result"}`, its error types and status codes
//! (400 unknown action, 404 not found, 409 validation).

use crate::AppState;
use crate::app::open::{Catalog, Clause, org_slug, slug};
use crate::app::open_read::{self, Reader};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Most rows one `package_search` returns (CKAN's `ckan.search.rows_max`).
pub const ROWS_MAX: i64 = 1000;

/// A failed action: CKAN's error type, status and message (and a field for validation errors).
struct Failure {
    status: StatusCode,
    kind: &'static str,
    message: String,
    field: Option<&'static str>,
}

fn not_found(what: &str) -> Failure {
    Failure {
        status: StatusCode::NOT_FOUND,
        kind: "Not Found Error",
        message: format!("Not found: {what}"),
        field: None,
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        status: StatusCode::CONFLICT,
        kind: "Validation Error",
        message: message.into(),
        field: Some(field),
    }
}

fn internal(e: yishu_types::Error) -> Failure {
    Failure {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        kind: "Internal Error",
        message: e.message,
        field: None,
    }
}

/// A refusal of the gate or the store in CKAN's terms: not found (withdrawn datasets too: they
/// are gone for clients), authorization, validation, rate limit, or internal.
fn failure(e: yishu_types::Error) -> Failure {
    use yishu_types::ErrorCode as C;
    let (status, kind) = match e.code {
        C::DatasetNotFound | C::DatasetWithdrawn | C::ResourceNotFound => {
            (StatusCode::NOT_FOUND, "Not Found Error")
        }
        C::Unauthenticated
        | C::BadCredentials
        | C::ApiKeyExpired
        | C::ApiKeyRevoked
        | C::Forbidden
        | C::OpenAccessRequired
        | C::GrantInactive
        | C::AccountDisabled => (StatusCode::FORBIDDEN, "Authorization Error"),
        C::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "Rate Limit Error"),
        c if c.http_status() < 500 => (StatusCode::CONFLICT, "Validation Error"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "Internal Error"),
    };
    Failure {
        status,
        kind,
        message: e.message,
        field: None,
    }
}

/// The action's parameters: the query string, and a JSON object or form body.
fn params(
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, Failure> {
    let mut out = Map::new();
    let form = |text: &str, out: &mut Map<String, Value>| {
        for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
            // Lists (facet.field) come as JSON text.
            let value = if v.starts_with('[') || v.starts_with('{') {
                serde_json::from_str(&v).unwrap_or(Value::String(v.to_string()))
            } else {
                Value::String(v.to_string())
            };
            out.insert(k.to_string(), value);
        }
    };
    if let Some(q) = query {
        form(q, &mut out);
    }
    if !body.is_empty() {
        let is_form = headers
            .get("content-type")
            .and_then(|c| c.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            form(&String::from_utf8_lossy(body), &mut out);
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(m)) => out.extend(m),
                _ => {
                    return Err(Failure {
                        status: StatusCode::BAD_REQUEST,
                        kind: "Bad Request",
                        message: "Bad request - JSON Error: the body is not a JSON object".into(),
                        field: None,
                    });
                }
            }
        }
    }
    Ok(out)
}

fn text<'a>(p: &'a Map<String, Value>, k: &str) -> Option<std::borrow::Cow<'a, str>> {
    match p.get(k)? {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
        Value::Null => None,
        v => Some(std::borrow::Cow::Owned(v.to_string())),
    }
}

fn int(p: &Map<String, Value>, k: &'static str, default: i64) -> Result<i64, Failure> {
    match text(p, k) {
        None => Ok(default),
        Some(t) if t.trim().is_empty() => Ok(default),
        Some(t) => t
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| invalid(k, "Invalid integer")),
    }
}

fn truthy(p: &Map<String, Value>, k: &str) -> bool {
    text(p, k).is_some_and(|t| matches!(t.as_ref(), "true" | "True" | "1" | "yes"))
}

/// The CKAN paths (public: the open catalog needs no sign-in).
pub fn router() -> axum::Router<AppState> {
    use axum::routing::any;
    axum::Router::new()
        .route("/api/3/action/{name}", any(action))
        .route("/api/action/{name}", any(action))
        .layer(axum::extract::DefaultBodyLimit::max(crate::BODY_LIMIT))
}

/// `/api/3/action/{name}` and `/api/action/{name}`.
pub async fn action(
    State(s): State<AppState>,
    Path(name): Path<String>,
    reader: Result<Reader, crate::error::ApiError>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let base = crate::app::open::base_url(&s, &headers);
    let help = format!("{base}/api/3/action/help_show?name={name}");
    let done = match (reader, params(query.as_deref(), &headers, &body)) {
        (Err(e), _) => Err(failure(e.0)),
        (_, Err(f)) => Err(f),
        (Ok(reader), Ok(p)) => run(&s, &reader, &name, &p, &base).await,
    };
    match done {
        Ok(result) => (
            StatusCode::OK,
            axum::Json(json!({"help": help, "success": true, "result": result})),
        )
            .into_response(),
        Err(f) => {
            let mut error = json!({"__type": f.kind, "message": f.message});
            if let Some(field) = f.field {
                error[field] = json!([f.message]);
            }
            (
                f.status,
                axum::Json(json!({"help": help, "success": false, "error": error})),
            )
                .into_response()
        }
    }
}

async fn run(
    s: &AppState,
    reader: &Reader,
    name: &str,
    p: &Map<String, Value>,
    base: &str,
) -> Result<Value, Failure> {
    let catalog = || async { Catalog::current(s).await.map_err(internal) };
    match name {
        "status_show" => Ok(json!({
            "site_title": "一数 公共数据开放", "site_description": "政务数据资源平台的公共数据开放门户",
            "site_url": base, "ckan_version": "2.11.0", "locale_default": "zh_Hans_CN",
            "error_emails_to": null, "extensions": ["datastore"],
        })),
        "package_list" => {
            let c = catalog().await?;
            let (limit, offset) = (int(p, "limit", i64::MAX)?, int(p, "offset", 0)?);
            Ok(json!(
                c.datasets
                    .iter()
                    .map(|r| slug(&r.code))
                    .skip(offset as usize)
                    .take(limit as usize)
                    .collect::<Vec<_>>()
            ))
        }
        "package_show" => {
            let id = text(p, "id").ok_or_else(|| invalid("id", "Missing value"))?;
            let c = catalog().await?;
            if let Some(r) = c.find(&id) {
                return Ok(c.package(r, base));
            }
            // A department's own dataset not open to the public: shown to its members only,
            // and to nobody else as existing at all.
            let own = private(s, reader, &c).await?;
            let key = id.trim().to_ascii_lowercase();
            own.iter()
                .find(|r| slug(&r.code) == key || r.code.to_ascii_lowercase() == key)
                .map(|r| private_package(&c, r, base))
                .ok_or_else(|| not_found("Dataset"))
        }
        "package_search" => search(s, reader, p, base).await,
        "organization_list" => {
            let c = catalog().await?;
            let all = truthy(p, "all_fields");
            Ok(json!(
                c.providers()
                    .into_iter()
                    .map(|o| if all {
                        c.org_dict(o)
                    } else {
                        json!(org_slug(o))
                    })
                    .collect::<Vec<_>>()
            ))
        }
        "organization_show" => {
            let id = text(p, "id").ok_or_else(|| invalid("id", "Missing value"))?;
            let c = catalog().await?;
            let o = c
                .org_by_name(&id)
                .ok_or_else(|| not_found("Organization"))?;
            let mut d = c.org_dict(o);
            if truthy(p, "include_datasets") {
                d["packages"] = json!(
                    c.datasets
                        .iter()
                        .filter(|r| r.meta.provider_org_id == o.id)
                        .map(|r| c.package(r, base))
                        .collect::<Vec<_>>()
                );
            }
            Ok(d)
        }
        "group_list" => Ok(json!([])),
        "group_show" => Err(not_found("Group")),
        "tag_list" => {
            let c = catalog().await?;
            let mut tags: Vec<&String> = c
                .datasets
                .iter()
                .flat_map(|r| &r.meta.extended.keywords)
                .collect();
            tags.sort();
            tags.dedup();
            Ok(json!(tags))
        }
        "resource_show" => {
            let id = text(p, "id").ok_or_else(|| invalid("id", "Missing value"))?;
            let c = catalog().await?;
            c.datasets
                .iter()
                .flat_map(|r| {
                    c.package(r, base)["resources"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .find(|res| res["id"] == id.as_ref())
                .ok_or_else(|| not_found("Resource"))
        }
        "datastore_search" => datastore_search(s, reader, p).await,
        other => Err(Failure {
            status: StatusCode::BAD_REQUEST,
            kind: "Bad Request",
            message: format!("Bad request - Action name not known: {other}"),
            field: None,
        }),
    }
}

/// Parses `fq`: `field:value` clauses (values quoted or not) and
/// `metadata_modified:[A TO B]` ranges (`*` open), separated by spaces or `AND`.
fn parse_fq(fq: &str) -> Result<Vec<Clause>, Failure> {
    let bad = |m: String| Failure {
        status: StatusCode::CONFLICT,
        kind: "Search Query Error",
        message: format!("Search Query is invalid: {m}"),
        field: None,
    };
    let mut out = Vec::new();
    let mut rest = fq.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("AND ") {
            rest = r.trim_start();
            continue;
        }
        let Some((field, after)) = rest.split_once(':') else {
            return Err(bad(format!("'{rest}' is not field:value")));
        };
        let field = field.trim().trim_start_matches('+').to_string();
        let (value, next) = if let Some(r) = after.strip_prefix('[') {
            let end = r
                .find(']')
                .ok_or_else(|| bad("a range without ']'".into()))?;
            (format!("[{}]", &r[..end]), &r[end + 1..])
        } else if let Some(r) = after.strip_prefix('"') {
            let end = r
                .find('"')
                .ok_or_else(|| bad("a value without its closing quote".into()))?;
            (r[..end].to_string(), &r[end + 1..])
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        rest = next.trim_start();
        if field == "metadata_modified" && value.starts_with('[') {
            let inner = value.trim_start_matches('[').trim_end_matches(']');
            let (a, b) = inner
                .split_once(" TO ")
                .ok_or_else(|| bad(format!("'{value}' is not [A TO B]")))?;
            let end =
                |x: &str| (x.trim() != "*").then(|| x.trim().trim_end_matches('Z').to_string());
            out.push(Clause::Modified(end(a), end(b)));
        } else {
            match field.as_str() {
                "organization" | "owner_org" | "tags" | "res_format" | "name" | "id"
                | "open_type" | "class_kind" => out.push(Clause::Is(field, value)),
                f => return Err(bad(format!("cannot filter on '{f}'"))),
            }
        }
    }
    Ok(out)
}

/// The published resources of the signed-in caller's department that are not open: CKAN's
/// private datasets, which only members of their organisation see. None for anyone else.
async fn private(
    s: &AppState,
    reader: &Reader,
    c: &Catalog,
) -> Result<Vec<yishu_meta::catalog::Resource>, Failure> {
    let Some(u) = reader.user.as_ref().filter(|u| u.org_id != c.public) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let page = s
            .store
            .list_resources(
                Some(yishu_meta::catalog::ResourceStatus::Published),
                Some(u.org_id),
                1000,
                offset,
            )
            .await
            .map_err(internal)?;
        let n = page.items.len() as i64;
        out.extend(page.items.into_iter().filter(|r| c.find(&r.code).is_none()));
        offset += n;
        if n == 0 || offset >= page.total {
            return Ok(out);
        }
    }
}

/// A private dataset's dict: its metadata, marked private, with no public download.
fn private_package(c: &Catalog, r: &yishu_meta::catalog::Resource, base: &str) -> Value {
    let mut d = c.package(r, base);
    d["private"] = json!(true);
    d["resources"] = json!([]);
    d["num_resources"] = json!(0);
    d
}

async fn search(
    s: &AppState,
    reader: &Reader,
    p: &Map<String, Value>,
    base: &str,
) -> Result<Value, Failure> {
    let rows = int(p, "rows", 10)?;
    if rows > ROWS_MAX {
        return Err(invalid(
            "rows",
            format!("Must be less than or equal to {ROWS_MAX}"),
        ));
    }
    let start = int(p, "start", 0)?;
    let q = text(p, "q")
        .map(|q| q.trim().to_string())
        .unwrap_or_default();
    let fq = parse_fq(&text(p, "fq").unwrap_or_default())?;
    let c = Catalog::current(s).await.map_err(internal)?;
    let ranked = c.ranked(s, &q).map_err(internal)?;
    let own = if truthy(p, "include_private") {
        private(s, reader, &c).await?
    } else {
        Vec::new()
    };
    let mut matched = c.matching(ranked.as_ref(), &fq);
    matched.extend(c.matching_among(&own, ranked.as_ref(), &fq));
    let sort = text(p, "sort")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "score desc, metadata_modified desc".into());
    let first = sort
        .split(',')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let (key, dir) = first.split_once(' ').unwrap_or((first.as_str(), "asc"));
    let desc = match dir.trim() {
        "asc" => false,
        "desc" => true,
        d => return Err(invalid("sort", format!("'{d}' is neither asc nor desc"))),
    };
    match key {
        "score" => {
            matched.sort_by(|a, b| a.0.cmp(&b.0).then(c.modified(b.1).cmp(&c.modified(a.1))))
        }
        "id" | "name" => matched.sort_by_cached_key(|(_, r)| slug(&r.code)),
        "title" | "title_string" => matched.sort_by(|a, b| a.1.meta.name.cmp(&b.1.meta.name)),
        "metadata_modified" => matched.sort_by_key(|(_, r)| (c.modified(r), r.id)),
        "metadata_created" => {
            matched.sort_by_key(|(_, r)| (r.published_at.unwrap_or(r.created_at), r.id))
        }
        k => return Err(invalid("sort", format!("cannot sort by '{k}'"))),
    }
    if desc && key != "score" {
        matched.reverse();
    }
    let count = matched.len();
    let results: Vec<Value> = matched
        .iter()
        .skip(start as usize)
        .take(rows as usize)
        .map(|(_, r)| {
            if own.iter().any(|o| o.id == r.id) {
                private_package(&c, r, base)
            } else {
                c.package(r, base)
            }
        })
        .collect();
    // Facets over every match.
    let fields: Vec<String> = match p.get("facet.field") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        Some(Value::String(t)) => serde_json::from_str(t).unwrap_or_else(|_| vec![t.clone()]),
        _ => Vec::new(),
    };
    let limit = int(p, "facet.limit", 50)? as usize;
    let mincount = int(p, "facet.mincount", 1)? as usize;
    let mut facets = Map::new();
    let mut search_facets = Map::new();
    for f in &fields {
        let items = c.facet(&matched, f, mincount, limit);
        facets.insert(
            f.clone(),
            json!(
                items
                    .iter()
                    .map(|((n, _), k)| (n.clone(), json!(k)))
                    .collect::<Map<_, _>>()
            ),
        );
        search_facets.insert(
            f.clone(),
            json!({"title": f, "items": items.iter().map(|((n, d), k)| json!({"name": n, "display_name": d, "count": k})).collect::<Vec<_>>()}),
        );
    }
    Ok(
        json!({"count": count, "sort": sort, "results": results, "facets": facets,
        "search_facets": search_facets}),
    )
}

/// Most records one `datastore_search` returns (CKAN's `ckan.datastore.search.rows_max`).
pub const DATASTORE_MAX: i64 = 32_000;

/// A comma list or a JSON list of names.
fn names(p: &Map<String, Value>, k: &str) -> Vec<String> {
    match p.get(k) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(t)) => t
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// `datastore_search`: the rows of an open dataset's resource through its opening grant —
/// `filters` (equality), `q` (text in any clear field), `fields`, `sort`, `limit` ≤ 32,000,
/// `offset`, `include_total`, `records_format` objects, lists or csv.
async fn datastore_search(
    s: &AppState,
    reader: &Reader,
    p: &Map<String, Value>,
) -> Result<Value, Failure> {
    let id = text(p, "resource_id")
        .or_else(|| text(p, "id"))
        .ok_or_else(|| invalid("resource_id", "Missing value"))?
        .trim()
        .to_string();
    // A resource id is `{dataset}-{format}`; the dataset's name reads the same rows.
    let dataset = ["-csv", "-xlsx", "-json", "-parquet"]
        .iter()
        .find_map(|suffix| id.strip_suffix(suffix))
        .unwrap_or(&id)
        .to_string();
    let limit = int(p, "limit", 100)?;
    if limit > DATASTORE_MAX {
        return Err(invalid(
            "limit",
            format!("Must be less than or equal to {DATASTORE_MAX}"),
        ));
    }
    let offset = int(p, "offset", 0)?;
    let format = text(p, "records_format")
        .map(|f| f.trim().to_string())
        .unwrap_or_else(|| "objects".into());
    if !matches!(format.as_str(), "objects" | "lists" | "csv") {
        return Err(invalid(
            "records_format",
            format!("'{format}' is not objects, lists or csv"),
        ));
    }
    let filters: Vec<(String, String)> = match p.get("filters") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => {
            let obj = match v {
                Value::Object(m) => m.clone(),
                Value::String(t) if t.trim().is_empty() => Map::new(),
                Value::String(t) => match serde_json::from_str::<Value>(t) {
                    Ok(Value::Object(m)) => m,
                    _ => return Err(invalid("filters", "Must be a JSON object")),
                },
                _ => return Err(invalid("filters", "Must be a JSON object")),
            };
            let mut out = Vec::new();
            for (k, v) in obj {
                let value = match v {
                    Value::String(t) => t,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        return Err(invalid(
                            "filters",
                            format!("the value of '{k}' must be text or a number"),
                        ));
                    }
                };
                out.push((k, value));
            }
            out
        }
    };
    let mut sort = Vec::new();
    for part in text(p, "sort").unwrap_or_default().split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (field, dir) = part.rsplit_once(' ').unwrap_or((part, "asc"));
        let asc = match dir.trim().to_ascii_lowercase().as_str() {
            "asc" => true,
            "desc" => false,
            d => return Err(invalid("sort", format!("'{d}' is neither asc nor desc"))),
        };
        sort.push((field.trim().trim_matches('"').to_string(), asc));
    }
    let include_total = text(p, "include_total")
        .is_none_or(|t| !matches!(t.as_ref(), "false" | "False" | "0" | "no"));
    let q = yishu_share::read::Query {
        q: text(p, "q").map(|q| q.into_owned()),
        sort,
        offset: offset as usize,
        limit: limit as usize,
        total: include_total,
    };
    let found = open_read::query(
        s,
        reader,
        &dataset,
        names(p, "fields"),
        &filters,
        q,
        "open_api",
    )
    .await
    .map_err(|e| failure(e.0))?;
    let fields: Vec<Value> = found
        .items
        .iter()
        .map(|i| json!({"id": i, "type": "text"}))
        .collect();
    let records = match format.as_str() {
        "lists" => json!(found.rows),
        "csv" => {
            let mut w = csv::Writer::from_writer(Vec::new());
            for r in &found.rows {
                let _ = w.write_record(r);
            }
            json!(String::from_utf8_lossy(&w.into_inner().unwrap_or_default()))
        }
        _ => json!(
            found
                .rows
                .iter()
                .enumerate()
                .map(|(n, r)| {
                    let mut o: Map<String, Value> = found
                        .items
                        .iter()
                        .zip(r)
                        .map(|(i, v)| (i.clone(), json!(v)))
                        .collect();
                    o.insert("_id".into(), json!(offset as usize + n + 1));
                    Value::Object(o)
                })
                .collect::<Vec<_>>()
        ),
    };
    let link = |o: i64| {
        let mut u = url::form_urlencoded::Serializer::new(String::new());
        u.append_pair("resource_id", &id);
        u.append_pair("limit", &limit.to_string());
        u.append_pair("offset", &o.to_string());
        format!("/api/3/action/datastore_search?{}", u.finish())
    };
    let mut out = json!({
        "resource_id": id, "fields": fields, "records": records, "records_format": format,
        "limit": limit, "offset": offset, "include_total": include_total,
        "_links": {"start": link(0), "next": link(offset + limit)},
    });
    if let Some(t) = found.total {
        out["total"] = json!(t);
        out["total_was_estimated"] = json!(false);
    }
    Ok(out)
}
