//! The forms on a resource's console page: lifecycle buttons (submit, approve/reject, publish,
//! retire), manual filling of one row (R7 在线填报), uploading a filled template or a file, and
//! setting up a source. Each checks the session's CSRF token, goes through the same functions as
//! the API (rights, audit, search index), and shows the page again with what happened.

use super::catalog::show;
use super::{PageAuth, csrf_refused};
use crate::AppState;
use crate::app::access::readable;
use crate::app::catalog::lifecycle;
use crate::app::sources::Feed;
use crate::app::sources::NewSource;
use crate::app::sources::Pushed;
use crate::app::sources::add_source;
use crate::auth::Catalogue;
use crate::auth::SignedIn;
use crate::error::ApiError;
use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use yishu_types::ErrorCode;

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
}

/// Shows the page with a message for `result`.
async fn answer<T>(
    s: &AppState,
    mut page: PageAuth<impl crate::auth::Right>,
    id: i64,
    result: Result<T, ApiError>,
    ok: impl FnOnce(T, crate::i18n::Tr) -> String,
) -> Response {
    page.chrome.active = "catalog";
    let status = match result {
        Ok(v) => {
            page.chrome.flash = Some(ok(v, page.chrome.t));
            StatusCode::OK
        }
        Err(e) => super::failed(&mut page.chrome, &e.0),
    };
    let who = page.auth.who().clone();
    show(s, page.chrome, &who, id, status).await
}

/// A lifecycle button.
pub async fn action(
    State(s): State<AppState>,
    page: PageAuth<SignedIn>,
    Path(id): Path<i64>,
    Form(f): Form<ActionForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let result = lifecycle(&s, &page.auth, id, &f.action, f.note.trim()).await;
    answer(&s, page, id, result, |r, t| {
        format!("{}：{}", t.t("lifecycle.done"), status_label(t, &r))
    })
    .await
}

fn status_label(t: crate::i18n::Tr, r: &yishu_meta::catalog::Resource) -> String {
    match t.lang {
        crate::i18n::Lang::Zh => r.status.label_zh().to_string(),
        crate::i18n::Lang::En => r.status.as_str().to_string(),
    }
}

fn stored(p: Pushed, t: crate::i18n::Tr) -> String {
    let b = p.batch;
    if p.stored {
        format!(
            "{} {}: {} {} = {} {} + {} {}",
            t.t("catalog.batch"),
            b.id,
            t.t("catalog.rows_read"),
            b.rows_read,
            t.t("catalog.rows_stored"),
            b.rows_stored,
            t.t("catalog.rows_quarantined"),
            b.rows_quarantined
        )
    } else {
        format!("{} {}", t.t("fill.already"), b.id)
    }
}

/// One row typed into the filling form: fields `v<i>` hold item i's value; `_nonce` (one per
/// rendered form) makes a double submit store the row once.
pub async fn fill(
    State(s): State<AppState>,
    page: PageAuth<Catalogue>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    if !page.csrf_ok(field("_csrf")) {
        return csrf_refused();
    }
    let result = async {
        let r = readable(&s, page.auth.who(), id).await?;
        let mut row = serde_json::Map::new();
        for (i, it) in r.meta.items.iter().enumerate() {
            let v = field(&format!("v{i}")).trim();
            if !v.is_empty() {
                row.insert(it.name.trim().to_string(), v.into());
            }
        }
        if row.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "the form is empty: fill in at least one item",
            ));
        }
        let nonce = field("_nonce");
        let key = (!nonce.is_empty()).then_some(nonce);
        let body = serde_json::Value::Object(row).to_string();
        Feed::new("form", "json", body.as_bytes())
            .key(key)
            .store(&s, &page.auth, &r)
            .await
    }
    .await;
    answer(&s, page, id, result, stored).await
}

/// An upload form: its text fields (`_csrf`, …) and its one file.
pub(super) struct Upload {
    fields: std::collections::HashMap<String, String>,
    pub(super) name: String,
    pub(super) data: Vec<u8>,
}

impl Upload {
    pub(super) fn field(&self, k: &str) -> &str {
        self.fields.get(k).map(String::as_str).unwrap_or("")
    }
}

/// Reads an upload form; a wrong CSRF token is the refusal to answer with, a broken form the
/// error to show on the page.
pub(super) async fn checked_upload<R: crate::auth::Right>(
    page: &PageAuth<R>,
    mp: &mut Multipart,
) -> Result<Result<Upload, ApiError>, Response> {
    let parts = upload_parts(mp).await;
    match &parts {
        Ok(up) if !page.csrf_ok(up.field("_csrf")) => Err(csrf_refused()),
        _ => Ok(parts),
    }
}

async fn upload_parts(mp: &mut Multipart) -> Result<Upload, ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::new(
            ErrorCode::InvalidInput,
            format!("the upload is broken: {e}"),
        )
    };
    let mut up = Upload {
        fields: Default::default(),
        name: String::new(),
        data: Vec::new(),
    };
    while let Some(f) = mp.next_field().await.map_err(bad)? {
        let Some(field) = f.name().map(str::to_string) else {
            continue;
        };
        if field == "file" {
            up.name = f.file_name().unwrap_or_default().to_string();
            up.data = f.bytes().await.map_err(bad)?.to_vec();
        } else {
            up.fields.insert(field, f.text().await.map_err(bad)?);
        }
    }
    Ok(up)
}

/// A filled template (or any CSV, XLSX, JSON or Parquet file of the resource's rows).
pub async fn upload(
    State(s): State<AppState>,
    page: PageAuth<Catalogue>,
    Path(id): Path<i64>,
    mut mp: Multipart,
) -> Response {
    let parts = match checked_upload(&page, &mut mp).await {
        Ok(parts) => parts,
        Err(refused) => return refused,
    };
    let result = async {
        let up = parts?;
        let lines: Vec<String> = up
            .field("mapping")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let mapping = yishu_ingest::mapping::parse_pairs(&lines)?;
        let Upload { name, data, .. } = up;
        let ext = std::path::Path::new(&name)
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let kind = match ext.as_str() {
            "xlsx" | "xlsm" => "xlsx",
            "csv" | "txt" => "csv",
            "json" | "ndjson" | "jsonl" => "json",
            "parquet" => "parquet",
            _ => {
                return Err(ApiError::new(
                    ErrorCode::InvalidInput,
                    format!("'{name}': upload an .xlsx, .csv, .json or .parquet file"),
                ));
            }
        };
        let r = readable(&s, page.auth.who(), id).await?;
        Feed::new("upload", kind, &data)
            .mapping(mapping)
            .store(&s, &page.auth, &r)
            .await
    }
    .await;
    // A file whose columns match no item comes back with the proposed pairs to confirm.
    if let Err(e) = &result
        && let Some(pairs) = yishu_ingest::rows::proposed_pairs(&e.0.message)
    {
        let mut page = page;
        let status = super::failed(&mut page.chrome, &e.0);
        page.chrome.flash = Some(page.chrome.t.t("mapping.confirm").to_string());
        let who = page.auth.who().clone();
        return super::catalog::show_with(&s, page.chrome, &who, id, status, Some(pairs)).await;
    }
    answer(&s, page, id, result, stored).await
}

#[derive(Deserialize)]
pub struct SourceForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    config: String,
    #[serde(default)]
    schedule: String,
}

/// Sets up a source: its kind, its settings as JSON, and its schedule.
pub async fn add(
    State(s): State<AppState>,
    page: PageAuth<Catalogue>,
    Path(id): Path<i64>,
    Form(f): Form<SourceForm>,
) -> Response {
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let result = async {
        let config: serde_json::Value = serde_json::from_str(f.config.trim()).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!("the settings are not JSON: {e}"),
            )
        })?;
        let n = NewSource {
            kind: f.kind.trim().to_string(),
            config,
            schedule: f.schedule.trim().to_string(),
        };
        add_source(&s, &page.auth, id, &n).await
    }
    .await;
    answer(&s, page, id, result, |src, t| {
        format!("{} #{} ({})", t.t("source.added"), src.id, src.kind)
    })
    .await
}

/// Attaches a PDF, DOCX or image to the entry.
pub async fn attach(
    State(s): State<AppState>,
    page: PageAuth<Catalogue>,
    Path(id): Path<i64>,
    mut mp: Multipart,
) -> Response {
    let parts = match checked_upload(&page, &mut mp).await {
        Ok(parts) => parts,
        Err(refused) => return refused,
    };
    let result = async {
        let up = parts?;
        let r = readable(&s, page.auth.who(), id).await?;
        let description = up.field("description").to_string();
        crate::app::catalog::add(&s, &page.auth, &r, &up.name, &description, up.data).await
    }
    .await;
    answer(&s, page, id, result, |(a, new), t| {
        if new {
            format!("{}：{}", t.t("attach.added"), a.name)
        } else {
            format!("{}：{}", t.t("attach.same"), a.name)
        }
    })
    .await
}

#[derive(askama::Template)]
#[template(path = "catalog_import.html")]
struct ImportPage {
    c: super::Chrome,
    out: Option<crate::app::catalog::Imported>,
}

/// The import form's answer: the drafts created and every error by sheet, row and column.
pub async fn import(
    State(s): State<AppState>,
    mut page: PageAuth<Catalogue>,
    mut mp: Multipart,
) -> Response {
    page.chrome.active = "catalog";
    let parts = match checked_upload(&page, &mut mp).await {
        Ok(parts) => parts,
        Err(refused) => return refused,
    };
    let result = async {
        let up = parts?;
        let valid_only = up.field("valid_only") == "on";
        crate::app::catalog::import(&s, &page.auth, &up.data, valid_only).await
    }
    .await;
    match result {
        Ok(out) => {
            let status = if out.created.is_empty() && !out.errors.is_empty() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            (
                status,
                super::render(&ImportPage {
                    c: page.chrome,
                    out: Some(out),
                }),
            )
                .into_response()
        }
        Err(e) => {
            let status = super::failed(&mut page.chrome, &e.0);
            (
                status,
                super::render(&ImportPage {
                    c: page.chrome,
                    out: None,
                }),
            )
                .into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct MountForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    /// `external_table`, `api`, or `none` to unmount.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    table: String,
}

/// Mounts the entry on an external table or API, or unmounts it.
pub async fn mount(
    State(s): State<AppState>,
    page: PageAuth<Catalogue>,
    Path(id): Path<i64>,
    Form(f): Form<MountForm>,
) -> Response {
    use yishu_ingest::mount::Mount;
    if !page.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let (url, table) = (f.url.trim().to_string(), f.table.trim().to_string());
    let m = match f.kind.as_str() {
        "external_table" => Some(Mount::ExternalTable { url, table }),
        "api" => Some(Mount::Api { url }),
        _ => None,
    };
    let result = crate::app::sources::set(&s, &page.auth, id, m.as_ref()).await;
    answer(&s, page, id, result, |sample, t| match sample {
        Some(x) => format!(
            "{}：{}（{} {}）",
            t.t("mount.done"),
            x.from,
            x.columns.len(),
            t.t("mount.columns")
        ),
        None => t.t("mount.removed").to_string(),
    })
    .await
}

#[derive(askama::Template)]
#[template(path = "sample.html")]
struct SamplePage {
    c: super::Chrome,
    id: i64,
    sample: yishu_ingest::mount::Sample,
}

/// A few rows of the entry's data (providing department and bureau; audited).
pub async fn sample(
    State(s): State<AppState>,
    mut page: PageAuth<crate::auth::SignedIn>,
    Path(id): Path<i64>,
) -> Response {
    page.chrome.active = "catalog";
    match crate::app::sources::read_sample(&s, &page.auth, id).await {
        Ok(sample) => super::render(&SamplePage {
            c: page.chrome,
            id,
            sample,
        }),
        Err(e) => {
            let status = super::failed(&mut page.chrome, &e.0);
            (status, super::render(&super::Message { c: page.chrome })).into_response()
        }
    }
}
