//! What can be shared: a catalog resource (its std table), a base library or a data service. A
//! target is named by text in applications and grants — `resource:<id>`, `base:population`,
//! `service:<name>`, `verify:population` (核验: compare, never read) — and resolved here to its provider, its items as they are now, and its
//! share type.

use crate::filter::ItemKind;
use crate::gate::Source;
use std::collections::BTreeMap;
use yishu_fusion::SubjectKind;
use yishu_fusion::schema::base_table;
use yishu_lake::{Lake, Layer};
use yishu_meta::Store;
use yishu_meta::catalog::{Resource, ResourceStatus, ShareType};
use yishu_meta::service::{Service, ServiceStatus};
use yishu_types::{Error, ErrorCode, OrgId};

/// What a grant is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Resource(i64),
    Base(SubjectKind),
    /// Every version of a data service, by name.
    Service(String),
    /// Verification (核验, R31) against a base library: the grant's items may be compared with
    /// what a caller holds — match or no match — and are never read.
    Verify(SubjectKind),
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, Error> {
        let bad = || {
            Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "target: '{s}' is none of resource:<id>, base:population, base:entities, base:houses, service:<name> or verify:population (verify:entities, verify:houses)"
                ),
            )
        };
        match s.split_once(':') {
            Some(("resource", id)) => id.parse().map(Target::Resource).map_err(|_| bad()),
            Some(("base", lib)) => library(lib).map(Target::Base).ok_or_else(bad),
            Some(("service", name)) if !name.is_empty() => Ok(Target::Service(name.to_string())),
            Some(("verify", lib)) => library(lib).map(Target::Verify).ok_or_else(bad),
            _ => Err(bad()),
        }
    }

    pub fn as_string(&self) -> String {
        match self {
            Target::Resource(id) => format!("resource:{id}"),
            Target::Base(k) => format!("base:{}", base_table(*k)),
            Target::Service(name) => format!("service:{name}"),
            Target::Verify(k) => format!("verify:{}", base_table(*k)),
        }
    }
}

/// A base library by its table's name or its kind's.
fn library(name: &str) -> Option<SubjectKind> {
    SubjectKind::ALL
        .into_iter()
        .find(|k| base_table(*k) == name || k.as_str() == name)
}

/// A target as it stands now.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub target: Target,
    pub name: String,
    pub resource: Option<Resource>,
    pub source: Source,
    pub share_type: ShareType,
    /// The catalog's condition or reason (why not shared, what the condition is).
    pub share_condition: String,
}

/// The bureau, which confirms applications and provides the base libraries.
pub async fn bureau(store: &Store) -> Result<OrgId, Error> {
    store.bureau().await?.ok_or_else(|| {
        Error::new(
            ErrorCode::ConfigInvalid,
            "no bureau is set up (yishu org bureau <code>), so no department confirms sharing",
        )
    })
}

/// Columns of a base table that are not attributes a grant can name.
fn is_library_column(c: &str) -> bool {
    !c.starts_with('_') && c != "subject_id"
}

/// What a catalog resource offers to read, whatever its status: its provider, its items as
/// they are now and their data elements' security levels (for default masks).
pub async fn source_of(store: &Store, r: &Resource) -> Source {
    let mut levels = BTreeMap::new();
    for item in &r.meta.items {
        if let Some(de) = item.data_element.as_deref()
            && let Ok(d) = store.data_element(de, None).await
            && !d.security_level.is_empty()
        {
            levels.insert(item.name.clone(), d.security_level.clone());
        }
    }
    Source {
        target: Target::Resource(r.id).as_string(),
        provider_org: r.meta.provider_org_id,
        items: r
            .meta
            .items
            .iter()
            .map(|i| (i.name.clone(), ItemKind::of_catalog_type(&i.item_type)))
            .collect(),
        levels,
    }
}

/// Resolves `target`: a resource must be published (a retired one is no longer shared), a base
/// library must have been built.
pub async fn resolve(store: &Store, lake: &Lake, target: Target) -> Result<Resolved, Error> {
    match target {
        Target::Resource(id) => {
            let r = store.get_resource(id).await?;
            match r.status {
                ResourceStatus::Published => {}
                ResourceStatus::Retired => {
                    return Err(Error::new(
                        ErrorCode::NotShared,
                        format!(
                            "{}（{}）is retired and no longer shared: {}",
                            r.meta.name, r.code, r.review_note
                        ),
                    ));
                }
                _ => {
                    return Err(Error::new(
                        ErrorCode::ResourceNotFound,
                        format!("no published resource with id {id}"),
                    ));
                }
            }
            Ok(Resolved {
                target,
                name: r.meta.name.clone(),
                source: source_of(store, &r).await,
                share_type: r.meta.share_type,
                share_condition: r.meta.share_condition.clone(),
                resource: Some(r),
            })
        }
        Target::Verify(kind) => {
            let base = Box::pin(resolve(store, lake, Target::Base(kind))).await?;
            Ok(Resolved {
                name: format!("{}基础库核验", kind.label_zh()),
                source: Source {
                    target: target.as_string(),
                    ..base.source
                },
                target,
                ..base
            })
        }
        Target::Base(kind) => {
            let items = lake
                .columns(Layer::Base, base_table(kind))
                .await?
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::FusionNotFound,
                        format!("the {}基础库 has not been built yet", kind.label_zh()),
                    )
                })?
                .into_iter()
                .filter(|c| is_library_column(c))
                .map(|c| (c, ItemKind::Text))
                .collect();
            Ok(Resolved {
                target: target.clone(),
                name: format!("{}基础库", kind.label_zh()),
                resource: None,
                source: Source {
                    target: target.as_string(),
                    provider_org: bureau(store).await?,
                    items,
                    levels: BTreeMap::new(),
                },
                // Base libraries hold personal data of the whole city: never without review.
                share_type: ShareType::Conditional,
                share_condition: "基础库按需有条件共享，经大数据主管部门审核".into(),
            })
        }
        Target::Service(name) => {
            let newest = store
                .services()
                .await?
                .into_iter()
                .filter(|s| s.name == name && s.status == ServiceStatus::Published)
                .max_by_key(|s| s.version)
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::ServiceNotFound,
                        format!("no published data service named {name}"),
                    )
                })?;
            let (share_type, share_condition) = service_share(store, &newest).await?;
            Ok(Resolved {
                name: format!("{}（数据服务 {name}）", newest.draft.title),
                resource: None,
                source: crate::service::source_of(&newest),
                share_type,
                share_condition,
                target: Target::Service(name),
            })
        }
    }
}

/// A service is shared as its most sensitive input is (R32): not at all when it reads a
/// resource that is not shared, under review when it reads a base library or a conditional
/// resource, freely only when all it reads is shared freely.
async fn service_share(store: &Store, s: &Service) -> Result<(ShareType, String), Error> {
    let resources = store.all_resources().await?;
    let mut strictest = (ShareType::Unconditional, String::new());
    for t in &s.checked.tables {
        let (share, why) = match t.strip_prefix("std.") {
            Some(table) => match resources.iter().find(|r| r.table() == table) {
                Some(r) => (r.meta.share_type, r.meta.share_condition.clone()),
                None => (
                    ShareType::Never,
                    format!("{t} is no catalog resource's table"),
                ),
            },
            None => (
                ShareType::Conditional,
                "基础库按需有条件共享，经大数据主管部门审核".into(),
            ),
        };
        let rank = |x: ShareType| match x {
            ShareType::Unconditional => 0,
            ShareType::Conditional => 1,
            ShareType::Never => 2,
        };
        if rank(share) > rank(strictest.0) {
            strictest = (share, why);
        }
    }
    Ok(strictest)
}

/// How long a resolved base library stays fresh in [`Recent`].
const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// Base libraries as resolved within the last second. A lookup by key resolves its library on
/// every request, while a library's columns change only with a fusion run and its provider (the
/// bureau) with a setting; a second's delay is harmless there, because a grant names its items
/// itself and a plan is never wider than its grant. Grants are never kept: each read reads its
/// grant's status, so a suspension stops the next read.
#[derive(Default)]
pub struct Recent {
    base: std::sync::Mutex<std::collections::HashMap<&'static str, (std::time::Instant, Source)>>,
}

impl Recent {
    /// The source of base library `kind`, resolved at most a second ago.
    pub async fn base(
        &self,
        store: &Store,
        lake: &Lake,
        kind: SubjectKind,
    ) -> Result<Source, Error> {
        let fresh = |m: &std::collections::HashMap<_, (std::time::Instant, Source)>| {
            m.get(kind.as_str())
                .filter(|(at, _)| at.elapsed() < FRESH)
                .map(|(_, s)| s.clone())
        };
        if let Some(s) = self.base.lock().ok().and_then(|m| fresh(&m)) {
            return Ok(s);
        }
        let source = resolve(store, lake, Target::Base(kind)).await?.source;
        if let Ok(mut m) = self.base.lock() {
            m.insert(kind.as_str(), (std::time::Instant::now(), source.clone()));
        }
        Ok(source)
    }
}
