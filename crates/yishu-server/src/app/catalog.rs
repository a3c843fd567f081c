//! Catalog changes as the API and the console make them: the lifecycle of an entry, imports from
//! the catalog workbook, attachments; each change audited, reindexed and told to its watchers.

use crate::AppState;
use crate::app::access::own_org;
use crate::app::audit::actor;
use crate::auth::{Auth, Catalogue, ReviewCatalog, Right};
use crate::error::{ApiError, ApiResult};
use serde::Serialize;
use serde_json::json;
use yishu_ingest::catalog_sheet;
use yishu_ingest::catalog_sheet::SheetError;
use yishu_meta::attachment::Attachment;
use yishu_meta::catalog::Change;
use yishu_meta::catalog::Resource;
use yishu_meta::catalog::ResourceStatus;
use yishu_types::{Error, ErrorCode};

pub(crate) async fn audited<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    action: &str,
    object: String,
    result: Result<Resource, Error>,
    detail: serde_json::Value,
) -> ApiResult<Resource> {
    if let Ok(r) = &result {
        crate::app::catalog::reindex(s, r).await;
        crate::app::notify::changed(s, action, r).await;
    }
    let object = result
        .as_ref()
        .map(|r| format!("resource:{}", r.code))
        .unwrap_or(object);
    let result = result.map_err(crate::error::ApiError::from);
    crate::app::audit::audited(s, auth, action, object, detail, result).await
}

/// Moves an entry along its lifecycle — `submit` (cataloguers), `approve`/`reject` with a note,
/// `publish`, `retire` with a reason (reviewers) — checking the caller's right for that step, and
/// audits it. The API and the console's buttons both come here.
pub(crate) async fn lifecycle<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    id: i64,
    action: &str,
    note: &str,
) -> ApiResult<Resource> {
    let p = auth.who();
    let path = format!("/resources/{id}/{action}");
    if action == "submit" {
        crate::auth::check_right::<Catalogue>(s, p, &auth.meta, &path).await?;
    } else {
        crate::auth::check_right::<ReviewCatalog>(s, p, &auth.meta, &path).await?;
    }
    let (result, detail) = match action {
        "submit" => (s.store.submit_resource(id, &actor(p)).await, json!({})),
        "approve" | "reject" => (
            s.store
                .review_resource(id, action == "approve", note, &actor(p))
                .await,
            json!({ "note": note }),
        ),
        "publish" => (s.store.publish_resource(id, &actor(p)).await, json!({})),
        "retire" => (
            s.store.retire_resource(id, note, &actor(p)).await,
            json!({ "reason": note }),
        ),
        // A published entry's change of items or share/open attributes, waiting for review.
        "approve_change" | "reject_change" => {
            let result = match s.store.pending_change(id).await? {
                Some(c) => {
                    s.store
                        .decide_change(c.id, action == "approve_change", note, &actor(p))
                        .await
                }
                None => Err(yishu_types::Error::new(
                    ErrorCode::EditConflict,
                    format!("resource {id} has no change waiting for review"),
                )),
            };
            (result, json!({ "note": note }))
        }
        other => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!(
                    "'{other}': use submit, approve, reject, publish, retire, approve_change or reject_change"
                ),
            ));
        }
    };
    audited(
        s,
        auth,
        &format!("resource.{action}"),
        format!("resource_id:{id}"),
        result,
        detail,
    )
    .await
}

/// Puts a changed resource into the index. The index is a cache: a failure is logged, not
/// returned, and the next rebuild repairs it.
pub async fn reindex(s: &AppState, r: &Resource) {
    let doc = match yishu_search::doc_for(&s.store, r).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("search index: {}: {e}", r.code);
            return;
        }
    };
    let index = s.search.clone();
    let code = r.code.clone();
    match tokio::task::spawn_blocking(move || index.upsert(&doc)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("search index: {code}: {e}"),
        Err(e) => tracing::warn!("search index: {code}: {e}"),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Imported {
    /// Drafts created, in sheet order.
    pub created: Vec<Resource>,
    /// Every problem, by sheet, row and column (in Chinese).
    pub errors: Vec<SheetError>,
    /// True when errors stopped the whole import.
    pub refused: bool,
}

/// Reads a filled workbook and creates its resources as drafts of the caller's department.
pub(crate) async fn import<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    bytes: &[u8],
    valid_only: bool,
) -> ApiResult<Imported> {
    let orgs = s.store.list_orgs().await?;
    let parsed = catalog_sheet::parse(bytes, &orgs)?;
    let mut out = Imported {
        created: Vec::new(),
        errors: parsed.errors,
        refused: false,
    };
    if !out.errors.is_empty() && !valid_only {
        out.refused = true;
        return Ok(out);
    }
    for r in &parsed.resources {
        let row_error = |message: String| SheetError {
            sheet: catalog_sheet::RESOURCES.into(),
            row: r.row,
            column: String::new(),
            message,
        };
        if let Err(e) = own_org(
            auth.who(),
            r.draft.provider_org_id,
            "catalogues its resources",
        ) {
            out.errors.push(row_error(e.0.message));
            continue;
        }
        let made = s.store.create_resource(&r.draft, &actor(auth.who())).await;
        let made = crate::app::catalog::audited(
            s,
            auth,
            "resource.create",
            "resource:-".into(),
            made,
            json!({"name": r.draft.name, "from": "import", "row": r.row}),
        )
        .await;
        match made {
            Ok(res) => out.created.push(res),
            Err(e) => out.errors.push(row_error(e.0.message)),
        }
    }
    Ok(out)
}

/// Adds a file to an entry the caller's department provides, reindexes the entry, and audits.
pub(crate) async fn add<R: Right>(
    s: &AppState,
    auth: &Auth<R>,
    r: &Resource,
    name: &str,
    description: &str,
    bytes: Vec<u8>,
) -> ApiResult<(Attachment, bool)> {
    own_org(
        auth.who(),
        r.meta.provider_org_id,
        &format!("adds files to {}", r.code),
    )?;
    if r.status == ResourceStatus::Retired {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("{} is retired; nothing more is attached to it", r.code),
        ));
    }
    let by = auth.who().name.clone();
    let result =
        yishu_ingest::objects::attach(&s.store, &s.lake, r, name, description, bytes, &by).await;
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    let detail = match &result {
        Ok((a, new)) => {
            json!({"attachment": a.id, "name": a.name, "media_type": a.media_type, "size": a.size, "new": new})
        }
        Err(e) => json!({"name": name, "error": e.message}),
    };
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "attachment.add",
            format!("resource:{}", r.code),
            outcome,
            detail.to_string(),
        ))
        .await?;
    let added = result?;
    crate::app::catalog::reindex(s, r).await;
    Ok(added)
}

/// One recorded version and what changed since the one before.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionEntry {
    pub version: i64,
    pub changed_at: i64,
    pub status: String,
    pub changes: Vec<Change>,
}
