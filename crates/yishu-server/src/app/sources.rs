//! Feeding a resource: scheduled sources, pushed rows and files, database mounts and their
//! samples.

use crate::AppState;
use crate::app::access::{own_org, readable};
use crate::app::share::{plan_read, read_done};
use crate::auth::{Auth, Right};
use crate::error::{ApiError, ApiResult};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use yishu_ingest::mount::Mount;
use yishu_ingest::mount::Sample;
use yishu_meta::Principal;
use yishu_meta::batch::Batch;
use yishu_meta::catalog::Resource;
use yishu_meta::catalog::ResourceStatus;
use yishu_meta::source::Source;
use yishu_types::ErrorCode;

/// Mounts (or, with `None`, unmounts) an entry the caller's department provides, after reading
/// the target once so a wrong address is refused now; audited.
pub(crate) async fn set<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: i64,
    m: Option<&Mount>,
) -> ApiResult<Option<Sample>> {
    let r = readable(s, auth.who(), id).await?;
    own_org(
        auth.who(),
        r.meta.provider_org_id,
        &format!("mounts {}", r.code),
    )?;
    let sample = match m {
        Some(m) => Some(m.sample(5, &s.config.outbound).await?),
        None => None,
    };
    let config = m
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot store the mount: {e}")))?;
    s.store
        .set_mount(id, config.as_ref(), &auth.who().name)
        .await?;
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            if m.is_some() {
                "resource.mount"
            } else {
                "resource.unmount"
            },
            format!("resource:{}", r.code),
            "ok",
            json!({"to": m.map(Mount::describe)}).to_string(),
        ))
        .await?;
    Ok(sample)
}

/// The sample rows of entry `id` through the gate: in clear for the provider and the bureau,
/// through the caller's grant otherwise (its items, filter and masks); recorded as a read.
pub(crate) async fn read_sample<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: i64,
) -> ApiResult<Sample> {
    let who = auth.who();
    let r = readable(s, who, id).await?;
    let ch = auth.meta.channel("sample");
    let source = yishu_share::target::source_of(&s.store, &r).await;
    let target = source.target.clone();
    let req = yishu_share::ReadRequest {
        limit: SAMPLE_ROWS,
        ..Default::default()
    };
    let plan = plan_read(s, who, &ch, &target, Ok(source), &req).await?;
    let mut out =
        yishu_ingest::mount::sample_rows(&s.store, &s.lake, &r, SAMPLE_ROWS, &s.config.outbound)
            .await?;
    if plan.basis.grant_id().is_some() {
        out = granted(&plan, out);
    }
    read_done(s, who, &ch, &plan, out.rows.len(), &[]).await?;
    Ok(out)
}

/// Rows a sample shows.
const SAMPLE_ROWS: usize = 10;

/// A sample as a grant shows it: the rows its filter keeps, its items only, masked.
fn granted(plan: &yishu_share::ReadPlan, sample: Sample) -> Sample {
    let rows = sample
        .rows
        .into_iter()
        .filter_map(|cells| {
            let row: yishu_fusion::library::Row = sample
                .columns
                .iter()
                .zip(cells)
                .map(|(c, v)| (c.clone(), v.unwrap_or_default()))
                .collect();
            let shown = plan.apply(&row)?;
            Some(plan.items.iter().map(|i| shown.get(i).cloned()).collect())
        })
        .collect();
    Sample {
        from: sample.from,
        columns: plan.items.clone(),
        rows,
    }
}

/// Largest pushed body: bigger data goes through a drop directory or a pull.
pub const PUSH_LIMIT: usize = 16 * 1024 * 1024;

pub(crate) fn owns(p: &Principal, r: &Resource) -> ApiResult<()> {
    own_org(p, r.meta.provider_org_id, &format!("feeds {}", r.code))
}

/// A source as shown to people: passwords in connection URLs are hidden.
pub fn shown(mut s: Source) -> Source {
    if let Some(url) = s.config.get("url").and_then(|u| u.as_str()) {
        s.config["url"] = json!(yishu_ingest::db::redact(url));
    }
    s
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSource {
    /// `database` (config: url, table, watermark_column), `drop_dir` (config: dir), `nats`
    /// (config: url, stream, subject, window_ms, max_rows) or `rabbitmq` (config: url, queue,
    /// window_ms, max_rows); every kind takes an optional `mapping` of source names to items.
    pub kind: String,
    pub config: serde_json::Value,
    /// Five-field cron in Beijing time (`0 2 * * *`), or `@every 15m`, `@hourly`, `@daily` …
    pub schedule: String,
}

/// Binds a checked source to an entry the caller's department provides, and audits it.
pub(crate) async fn add_source<R: crate::auth::Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: i64,
    n: &NewSource,
) -> ApiResult<Source> {
    let r = readable(s, auth.who(), id).await?;
    owns(auth.who(), &r)?;
    yishu_ingest::sources::validate(&n.kind, &n.config)?;
    let src = s
        .store
        .create_source(id, &n.kind, &n.config, &n.schedule, &auth.who().name)
        .await?;
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "source.create",
            format!("resource:{}", r.code),
            "ok",
            json!({"source": src.id, "kind": src.kind, "schedule": src.schedule}).to_string(),
        ))
        .await?;
    Ok(shown(src))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Pushed {
    /// False when this idempotency key (or this exact body) was stored before: nothing written.
    pub stored: bool,
    pub batch: Batch,
}

/// What a body with no telling `Content-Type` (curl's form default, octet-stream) holds, by its
/// first bytes: a zip is a workbook, `PAR1` Parquet, `[`/`{` JSON, anything else CSV.
fn sniff(body: &[u8]) -> &'static str {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| &body[i..])
        .unwrap_or_default();
    if body.starts_with(b"PK\x03\x04") {
        "xlsx"
    } else if body.starts_with(b"PAR1") {
        "parquet"
    } else if start.starts_with(b"[") || start.starts_with(b"{") {
        "json"
    } else {
        "csv"
    }
}

/// The file kind a pushed body is read as, from its `Content-Type` (JSON when none is given;
/// recognised by its bytes when the type says nothing).
pub(crate) fn kind_of(headers: &HeaderMap, body: &[u8]) -> ApiResult<&'static str> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Ok(match ct.as_str() {
        "application/json" | "application/x-ndjson" | "application/jsonl" | "text/plain" => "json",
        "text/csv" => "csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/vnd.apache.parquet" | "application/x-parquet" => "parquet",
        "application/octet-stream" | "application/x-www-form-urlencoded" => sniff(body),
        other => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!(
                    "Content-Type {other}: send application/json (array or NDJSON), text/csv, \
                     an XLSX workbook or application/vnd.apache.parquet"
                ),
            ));
        }
    })
}

/// A body of rows to store as one batch of a published resource the caller's department
/// provides: what it holds (`kind`: json, csv, xlsx, parquet), how it came (`via`: push, form,
/// upload), the key that names its batch (a resend with the same key is a no-op; without one the
/// body's checksum names it) and confirmed column pairs.
pub(crate) struct Feed<'a> {
    body: &'a [u8],
    kind: &'a str,
    via: &'a str,
    key: Option<&'a str>,
    mapping: yishu_ingest::rows::Mapping,
}

impl<'a> Feed<'a> {
    pub fn new(via: &'a str, kind: &'a str, body: &'a [u8]) -> Self {
        Feed {
            body,
            kind,
            via,
            key: None,
            mapping: Default::default(),
        }
    }

    pub fn key(mut self, key: Option<&'a str>) -> Self {
        self.key = key;
        self
    }

    pub fn mapping(mut self, mapping: yishu_ingest::rows::Mapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// Checks, stores and audits the body (a failure is audited too).
    pub async fn store<R: crate::auth::Right>(
        self,
        s: &AppState,
        auth: &Auth<R>,
        r: &Resource,
    ) -> ApiResult<Pushed> {
        self.check(auth.who(), r)?;
        let audited = |outcome: &'static str, detail: serde_json::Value| {
            auth.meta.entry(
                Some(auth.who()),
                &format!("ingest.{}", self.via),
                format!("resource:{}", r.code),
                outcome,
                detail.to_string(),
            )
        };
        let out = match self.ingest(s, r).await {
            Ok(o) => o,
            Err(e) => {
                let entry = audited("failed", json!({"error": e.message}));
                s.store.audit(&entry).await?;
                return Err(e.into());
            }
        };
        let pushed = match out {
            yishu_ingest::Outcome::Ingested(b) => Pushed {
                stored: true,
                batch: b,
            },
            yishu_ingest::Outcome::AlreadyIngested(b) | yishu_ingest::Outcome::Unchanged(b) => {
                Pushed {
                    stored: false,
                    batch: b,
                }
            }
        };
        let b = &pushed.batch;
        let detail = json!({"batch": b.id, "stored": pushed.stored, "read": b.rows_read, "quarantined": b.rows_quarantined, "idempotency_key": self.key});
        s.store.audit(&audited("ok", detail)).await?;
        Ok(pushed)
    }

    /// A department feeds its own published entries, within the size limit, with some rows.
    fn check(&self, p: &Principal, r: &Resource) -> ApiResult<()> {
        owns(p, r)?;
        if r.status != ResourceStatus::Published {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!(
                    "{} is not published; data is fed to published entries only",
                    r.code
                ),
            ));
        }
        if self.body.len() > PUSH_LIMIT {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!(
                    "the body has {} bytes, more than {PUSH_LIMIT}: use a drop directory or a database source",
                    self.body.len()
                ),
            ));
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "the body is empty: send rows (a JSON array of objects, NDJSON, CSV, XLSX or Parquet)",
            ));
        }
        Ok(())
    }

    /// Ingests the body from a temporary file named for its kind, under its key.
    async fn ingest(
        &self,
        s: &AppState,
        r: &Resource,
    ) -> Result<yishu_ingest::Outcome, yishu_types::Error> {
        let internal = |what: &str, e: std::io::Error| {
            yishu_types::Error::new(ErrorCode::Internal, format!("{what}: {e}"))
        };
        let via = self.via;
        let sum = match self.key {
            Some(k) => format!("{via}:{}", blake3::hash(k.as_bytes()).to_hex()),
            None => format!("blake3:{}", blake3::hash(self.body).to_hex()),
        };
        let dir = tempfile::tempdir().map_err(|e| internal("temp dir", e))?;
        let file = dir.path().join(format!("{via}.{}", self.kind));
        tokio::fs::write(&file, self.body)
            .await
            .map_err(|e| internal("temp file", e))?;
        let source = match self.key {
            Some(k) => format!("{via}:{k}"),
            None => via.to_string(),
        };
        let opts = yishu_ingest::ReadOptions {
            mapping: self.mapping.clone(),
            ..Default::default()
        };
        yishu_ingest::FileIngest::new(&s.store, &s.lake, r, &file)
            .options(opts)
            .named(source, sum)
            .run(&mut |_| {})
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bodies_without_a_telling_type_are_recognised() {
        assert_eq!(super::sniff(b"PK\x03\x04rest"), "xlsx");
        assert_eq!(super::sniff(b"PAR1...."), "parquet");
        assert_eq!(super::sniff(b"  \n[{\"a\":1}]"), "json");
        assert_eq!(super::sniff("姓名,身份证\n".as_bytes()), "csv");
    }
}
