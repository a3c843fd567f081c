//! Reading the base libraries for a caller: a subject with its timeline and records, its
//! neighbourhood, and who leads a correction.

use crate::AppState;
use crate::app::share::{plan_read, read_done, refused};
use crate::error::{ApiError, ApiResult};
use serde::Serialize;
use yishu_fusion::SubjectKind;
use yishu_fusion::library::{self, EventView, Graph, Row, SubjectView};
use yishu_meta::Principal;
use yishu_meta::fusion::Correction;
use yishu_share::audit::Channel;
use yishu_share::gate::MAX_PAGE;
use yishu_share::target::Target;
use yishu_share::{ReadPlan, ReadRequest};
use yishu_types::{Error, ErrorCode};

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

/// How `who` reads base library `kind` — on the bureau's own standing (in clear), or through
/// the department's active grant for it (its items, filter and masks) — or why not. A refusal
/// is in the read audit.
pub async fn plan_for(
    s: &AppState,
    who: &Principal,
    ch: &Channel,
    kind: SubjectKind,
) -> ApiResult<ReadPlan> {
    let target = Target::Base(kind);
    let source = s.sources.base(&s.store, &s.lake, kind).await;
    let req = ReadRequest {
        limit: MAX_PAGE,
        ..Default::default()
    };
    plan_read(s, who, ch, &target.as_string(), source, &req).await
}

/// Subjects of a library by key (or by name, where the name is readable in clear), as the
/// plan shows them; each row keeps its opaque `subject_id` for links.
pub async fn find(
    s: &AppState,
    who: &Principal,
    ch: &Channel,
    kind: SubjectKind,
    q: &str,
    limit: usize,
) -> ApiResult<Vec<Row>> {
    let plan = plan_for(s, who, ch, kind).await?;
    let q = q.trim();
    let by_name = plan.basis.grant_id().is_none()
        || plan
            .items
            .iter()
            .any(|i| i == library::name_column(kind) && plan.is_clear(i));
    let found: Vec<(String, Row)> = library::find(&s.lake, kind, q, limit, by_name)
        .await?
        .into_iter()
        // A reader who may not see names finds a subject by its key only.
        .filter(|r| by_name || q.is_empty() || r.get("subject_key").is_some_and(|k| k == q))
        .filter_map(|r| {
            let mut shown = plan.apply(&r)?;
            shown.insert(
                "subject_id".into(),
                r.get("subject_id").cloned().unwrap_or_default(),
            );
            Some((r.get("subject_key").cloned().unwrap_or_default(), shown))
        })
        .collect();
    let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    read_done(s, who, ch, &plan, keys.len(), &keys).await?;
    Ok(found.into_iter().map(|(_, r)| r).collect())
}

/// Loads a subject for a reader, or says it is not there (or not within the reader's grant).
/// A grant shows its items only, masked; timeline and source rows are the bureau's.
pub async fn load(
    s: &AppState,
    who: &Principal,
    ch: &Channel,
    kind: SubjectKind,
    id: &str,
) -> ApiResult<SubjectDetail> {
    let plan = plan_for(s, who, ch, kind).await?;
    let mut subject = subject(s, kind, id).await?;
    let key = subject.raw_key.clone();
    let detail = if plan.basis.grant_id().is_none() {
        let timeline = library::timeline(&s.lake, kind, &key).await?;
        let records = library::records(&s.lake, kind, &key).await?;
        SubjectDetail {
            subject,
            timeline,
            records,
        }
    } else {
        let mut row: Row = subject
            .values
            .iter()
            .map(|a| (a.attribute.clone(), a.value.clone()))
            .collect();
        row.insert("subject_key".into(), key.clone());
        if plan.apply(&row).is_none() {
            return Err(ApiError::new(
                ErrorCode::FusionNotFound,
                format!("no {} {id} in the base library", kind.as_str()),
            ));
        }
        subject.values.retain(|a| plan.items.contains(&a.attribute));
        for a in &mut subject.values {
            a.value = plan.show(&a.attribute, &a.value);
            for d in &mut a.disagree {
                d.1 = plan.show(&a.attribute, &d.1);
            }
        }
        for v in &mut subject.versions {
            v.values.retain(|k, _| plan.items.contains(k));
            for (k, val) in v.values.iter_mut() {
                *val = plan.show(k, val);
            }
        }
        subject.key = if plan.items.iter().any(|i| i == "subject_key") {
            plan.show("subject_key", &key)
        } else {
            String::new()
        };
        subject.clear = false;
        SubjectDetail {
            subject,
            timeline: Vec::new(),
            records: Vec::new(),
        }
    };
    read_done(s, who, ch, &plan, 1, &[key.as_str()]).await?;
    Ok(detail)
}

/// The neighbourhood of a subject named by its id: the bureau's, since relations reach past
/// any one grant's items.
pub async fn neighbourhood(
    s: &AppState,
    who: &Principal,
    ch: &Channel,
    kind: SubjectKind,
    id: &str,
    depth: usize,
    limit: usize,
) -> ApiResult<Graph> {
    let plan = plan_for(s, who, ch, kind).await?;
    if plan.basis.grant_id().is_some() {
        let e = Error::new(
            ErrorCode::Forbidden,
            "the relationship graph reaches past any grant's items: the bureau's data managers read it",
        );
        return Err(refused(s, who, ch, &plan.target, e).await);
    }
    let subject = subject(s, kind, id).await?;
    let g = library::neighbourhood(&s.lake, kind, &subject.raw_key, depth, limit).await?;
    read_done(s, who, ch, &plan, 1, &[subject.raw_key.as_str()]).await?;
    Ok(g)
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
pub(crate) async fn subject(s: &AppState, kind: SubjectKind, id: &str) -> ApiResult<SubjectView> {
    library::subject(&s.lake, kind, id).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::FusionNotFound,
            format!("no {} {id} in the base library", kind.as_str()),
        )
    })
}
