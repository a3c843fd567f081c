//! Reading the base libraries for a caller: a subject with its timeline and records, its
//! neighbourhood, and who leads a correction.

use crate::AppState;
use crate::app::access::clear_for;
use crate::error::{ApiError, ApiResult};
use serde::Serialize;
use yishu_fusion::SubjectKind;
use yishu_fusion::library::{self, EventView, Graph, SubjectView};
use yishu_meta::Principal;
use yishu_meta::fusion::Correction;
use yishu_types::ErrorCode;

pub fn kind_of(s: &str) -> ApiResult<SubjectKind> {
    match s {
        "person" | "population" => Ok(SubjectKind::Person),
        "entity" | "entities" => Ok(SubjectKind::Entity),
        "house" | "houses" => Ok(SubjectKind::House),
        other => Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("'{other}' is not a base library: person, entity or house"),
        )),
    }
}

/// A subject: golden record with provenance, earlier versions, timeline and source rows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubjectDetail {
    pub subject: SubjectView,
    pub timeline: Vec<EventView>,
    /// (resource, role, batch, row)
    pub records: Vec<[String; 4]>,
}

/// Loads a subject for a reader, or says it is not there.
pub async fn load(
    s: &AppState,
    who: &Principal,
    kind: SubjectKind,
    id: &str,
) -> ApiResult<SubjectDetail> {
    let clear = clear_for(who);
    let subject = subject(s, kind, id, clear).await?;
    let timeline = library::timeline(&s.lake, kind, &subject.raw_key, clear).await?;
    let records = library::records(&s.lake, kind, &subject.raw_key).await?;
    Ok(SubjectDetail {
        subject,
        timeline,
        records,
    })
}

/// The neighbourhood of a subject named by its id.
pub async fn neighbourhood(
    s: &AppState,
    who: &Principal,
    kind: SubjectKind,
    id: &str,
    depth: usize,
    limit: usize,
) -> ApiResult<Graph> {
    let subject = subject(s, kind, id, false).await?;
    Ok(library::neighbourhood(
        &s.lake,
        kind,
        &subject.raw_key,
        depth,
        limit,
        clear_for(who),
    )
    .await?)
}

/// The lead department of a request, which alone confirms and decides it.
pub(crate) async fn lead_department(
    s: &AppState,
    who_org: yishu_types::OrgId,
    c: &Correction,
) -> ApiResult<()> {
    let own = s.store.get_org(who_org).await?;
    if own.code != c.to_org {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "only the lead department ({}) confirms and decides this request",
                c.to_org
            ),
        ));
    }
    Ok(())
}

/// A subject of a base library as a reader sees it (`clear`: personal details unmasked), or
/// that it is not there.
pub(crate) async fn subject(
    s: &AppState,
    kind: SubjectKind,
    id: &str,
    clear: bool,
) -> ApiResult<SubjectView> {
    library::subject(&s.lake, kind, id, clear)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::FusionNotFound,
                format!("no {} {id} in the base library", kind.as_str()),
            )
        })
}
