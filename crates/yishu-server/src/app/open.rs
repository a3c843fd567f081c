//! The open catalog (数据开放, R33) as outsiders see it: the published resources a department
//! opened (their open attribute allowing it), as datasets with their department, items, formats
//! and times — what the CKAN Action API, the portal and DCAT list, search and show. A resource
//! not opened does not exist here; a withdrawn or destroyed one only as the record that it was.

use crate::AppState;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use yishu_meta::catalog::{OpenType, Resource, ResourceStatus};
use yishu_meta::open::{Opening, OpeningStatus};
use yishu_meta::org::Org;
use yishu_share::gate::Source;
use yishu_types::{Error, OrgId};

/// The address the public reaches us at, for links in answers: the configured public URL, else
/// the Host the request came with.
pub fn base_url(s: &AppState, headers: &axum::http::HeaderMap) -> String {
    if let Some(u) = &s.config.public_url {
        return u.clone();
    }
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// A dataset's name as CKAN clients address it: its code, lower case, `/` as `-`.
pub fn slug(code: &str) -> String {
    code.to_ascii_lowercase().replace('/', "-")
}

/// An organisation's name as CKAN clients address it.
pub fn org_slug(o: &Org) -> String {
    o.code.to_ascii_lowercase()
}

/// Whether the public may read `r` under opening `o`.
pub fn is_open(r: &Resource, o: &Opening) -> bool {
    r.status == ResourceStatus::Published
        && r.meta.open_type != OpenType::Never
        && o.status == OpeningStatus::Open
}

/// ISO 8601 as CKAN writes times (UTC, no zone suffix).
pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.6f").to_string())
        .unwrap_or_default()
}

/// The open catalog as last built, shared by every request. The store's stamp of openings,
/// resources and organisations is looked at once a second at most; when it changed, one
/// request brings the catalog up to date — reloading only what changed since — while the others
/// go on with the catalog they had.
#[derive(Default)]
pub struct CatalogCache {
    current: std::sync::RwLock<Option<Cached>>,
    rebuilding: tokio::sync::Mutex<()>,
}

struct Cached {
    stamp: Vec<i64>,
    /// When the stamp was last compared; `None` after a change made here.
    checked: Option<std::time::Instant>,
    catalog: Arc<Catalog>,
}

/// How far before its newest change a catalog reloads changes: a transaction that stamped its
/// rows earlier but committed later is still picked up.
const REFRESH_MARGIN_MS: i64 = 60_000;

impl CatalogCache {
    /// Marks the catalog out of date after a change made here: the next request brings it up
    /// to date before answering.
    pub fn invalidate(&self) {
        if let Ok(mut c) = self.current.write()
            && let Some(c) = c.as_mut()
        {
            c.checked = None;
        }
    }

    fn fresh(&self, within: std::time::Duration) -> Option<Arc<Catalog>> {
        let c = self.current.read().ok()?;
        c.as_ref()
            .filter(|c| c.checked.is_some_and(|t| t.elapsed() < within))
            .map(|c| c.catalog.clone())
    }

    /// The catalog held, however old, unless a change made here outdated it.
    fn held(&self) -> Option<Arc<Catalog>> {
        let c = self.current.read().ok()?;
        c.as_ref()
            .filter(|c| c.checked.is_some())
            .map(|c| c.catalog.clone())
    }

    fn cached(&self) -> Option<(Vec<i64>, Arc<Catalog>)> {
        let c = self.current.read().ok()?;
        c.as_ref().map(|c| (c.stamp.clone(), c.catalog.clone()))
    }
}

/// The open catalog now: datasets and the departments that provide them.
pub struct Catalog {
    pub datasets: Vec<Arc<Resource>>,
    pub orgs: BTreeMap<OrgId, Org>,
    /// Every opening by resource, the withdrawn and destroyed ones too.
    pub openings: BTreeMap<i64, Opening>,
    /// Resources once open and now withdrawn or destroyed: their record stays.
    pub ended: Vec<Arc<Resource>>,
    /// The public's organisation: the consumer of every opening's grant.
    pub public: OrgId,
    /// Slugs and lower-case codes → (ended?, index), for lookups by name.
    names: std::collections::HashMap<String, (bool, usize)>,
    /// What the portal's home page shows, worked out once per catalog.
    pub home: std::sync::OnceLock<HomeLists>,
    /// What each dataset offers the gate (items, kinds, levels), worked out on its first read.
    sources: std::sync::Mutex<std::collections::HashMap<i64, Arc<Source>>>,
}

/// The home page's lists: dataset indexes newest, most used and recently updated first (six
/// each), and the departments and themes with their counts.
pub struct HomeLists {
    pub newest: Vec<usize>,
    pub hottest: Vec<usize>,
    pub recent: Vec<usize>,
    pub orgs: Vec<((String, String), usize)>,
    pub themes: Vec<((String, String), usize)>,
}

impl Catalog {
    /// The catalog now, from the cache when nothing changed since it was built. While one
    /// request brings it up to date the others are answered from the one held.
    pub async fn current(s: &AppState) -> Result<Arc<Catalog>, Error> {
        let cache = &s.open_catalog;
        let every = s.config.search_refresh;
        if let Some(c) = cache.fresh(every) {
            return Ok(c);
        }
        let _one = match cache.rebuilding.try_lock() {
            Ok(g) => g,
            Err(_) => match cache.held() {
                Some(c) => return Ok(c),
                None => cache.rebuilding.lock().await,
            },
        };
        if let Some(c) = cache.fresh(every) {
            return Ok(c);
        }
        let stamp = s.store.open_stamp().await?;
        let catalog = match cache.cached() {
            Some((old, c)) if old == stamp => c,
            // Only added or changed rows (counts never fell): reload what changed since.
            Some((old, c))
                if old.len() == stamp.len() && old[0] <= stamp[0] && old[2] <= stamp[2] =>
            {
                let since = old[1].max(old[3]) - REFRESH_MARGIN_MS;
                Arc::new(Catalog::refreshed(s, &c, since).await?)
            }
            _ => Arc::new(Catalog::load(s).await?),
        };
        if let Ok(mut c) = cache.current.write() {
            *c = Some(Cached {
                stamp,
                checked: Some(std::time::Instant::now()),
                catalog: catalog.clone(),
            });
        }
        Ok(catalog)
    }

    /// The whole catalog from the store.
    pub async fn load(s: &AppState) -> Result<Catalog, Error> {
        let openings: BTreeMap<i64, Opening> = s
            .store
            .openings()
            .await?
            .into_iter()
            .map(|o| (o.resource_id, o))
            .collect();
        let resources = s
            .store
            .all_resources()
            .await?
            .into_iter()
            .filter(|r| openings.contains_key(&r.id))
            .map(|r| (r.id, Arc::new(r)))
            .collect();
        Catalog::assemble(s, resources, openings).await
    }

    /// `old` with the openings and resources changed at or after `since` reloaded.
    async fn refreshed(s: &AppState, old: &Catalog, since: i64) -> Result<Catalog, Error> {
        let mut openings = old.openings.clone();
        let mut resources: BTreeMap<i64, Arc<Resource>> = old
            .datasets
            .iter()
            .chain(&old.ended)
            .map(|r| (r.id, r.clone()))
            .collect();
        let changed = s.store.openings_since(since).await?;
        for r in s.store.resources_since(since).await? {
            if openings.contains_key(&r.id) || changed.iter().any(|o| o.resource_id == r.id) {
                resources.insert(r.id, Arc::new(r));
            }
        }
        for o in changed {
            if !resources.contains_key(&o.resource_id) {
                let r = s.store.get_resource(o.resource_id).await?;
                resources.insert(r.id, Arc::new(r));
            }
            openings.insert(o.resource_id, o);
        }
        Catalog::assemble(s, resources, openings).await
    }

    async fn assemble(
        s: &AppState,
        resources: BTreeMap<i64, Arc<Resource>>,
        openings: BTreeMap<i64, Opening>,
    ) -> Result<Catalog, Error> {
        let (mut datasets, mut ended) = (Vec::new(), Vec::new());
        for r in resources.into_values() {
            match openings.get(&r.id) {
                Some(o) if is_open(&r, o) => datasets.push(r),
                Some(o) if o.status != OpeningStatus::Open => ended.push(r),
                _ => {}
            }
        }
        let orgs = s
            .store
            .list_orgs()
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
        let mut names = std::collections::HashMap::new();
        for (ended_list, list) in [(false, &datasets), (true, &ended)] {
            for (n, r) in list.iter().enumerate() {
                names.insert(slug(&r.code), (ended_list, n));
                names.insert(r.code.to_ascii_lowercase(), (ended_list, n));
            }
        }
        Ok(Catalog {
            datasets,
            orgs,
            openings,
            ended,
            public: s.store.public_org().await?,
            names,
            home: std::sync::OnceLock::new(),
            sources: Default::default(),
        })
    }

    /// What open dataset `r` offers the gate, as it was when this catalog was built.
    pub async fn source(&self, store: &yishu_meta::Store, r: &Resource) -> Arc<Source> {
        if let Some(src) = self.sources.lock().ok().and_then(|m| m.get(&r.id).cloned()) {
            return src;
        }
        let src = Arc::new(yishu_share::target::source_of(store, r).await);
        if let Ok(mut m) = self.sources.lock() {
            m.insert(r.id, src.clone());
        }
        src
    }

    /// The home page's lists, worked out on first use.
    pub fn home_lists(&self) -> &HomeLists {
        self.home.get_or_init(|| {
            let top = |key: &dyn Fn(&Resource) -> i64| {
                let mut v: Vec<(i64, i64, usize)> = self
                    .datasets
                    .iter()
                    .enumerate()
                    .map(|(n, r)| (key(r), r.id, n))
                    .collect();
                let k = v.len().min(6);
                if k > 0 {
                    v.select_nth_unstable_by(k - 1, |a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                }
                v.truncate(k);
                v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                v.into_iter().map(|(_, _, n)| n).collect::<Vec<_>>()
            };
            let all = self.matching(None, &[]);
            HomeLists {
                newest: top(&|r| self.openings.get(&r.id).map_or(0, |o| o.opened_at)),
                hottest: top(&|r| {
                    self.openings
                        .get(&r.id)
                        .map_or(0, |o| o.downloads + o.calls)
                }),
                recent: top(&|r| self.modified(r)),
                orgs: self.facet(&all, "organization", 1, 50),
                themes: self.facet(&all, "tags", 1, 24),
            }
        })
    }

    fn named(&self, name: &str) -> Option<&Resource> {
        let (ended, n) = *self.names.get(&name.trim().to_ascii_lowercase())?;
        if ended {
            self.ended.get(n).map(|r| &**r)
        } else {
            self.datasets.get(n).map(|r| &**r)
        }
    }

    /// The open dataset named `id_or_name` (its slug or its code).
    pub fn find(&self, id_or_name: &str) -> Option<&Resource> {
        self.named(id_or_name).filter(|r| {
            self.openings
                .get(&r.id)
                .is_some_and(|o| o.status == OpeningStatus::Open)
        })
    }

    /// The dataset named `name` as the public may know it: open, or the record of one withdrawn
    /// or destroyed (with its opening, saying which and why).
    pub fn lookup(&self, name: &str) -> Option<(&Resource, &Opening)> {
        self.named(name)
            .and_then(|r| self.openings.get(&r.id).map(|o| (r, o)))
    }

    /// When a dataset last changed for the public: its metadata or its opening's terms.
    pub fn modified(&self, r: &Resource) -> i64 {
        self.openings
            .get(&r.id)
            .map_or(r.updated_at, |o| o.updated_at.max(r.updated_at))
    }

    /// The departments that provide at least one open dataset.
    pub fn providers(&self) -> Vec<&Org> {
        let mut ids: Vec<OrgId> = self
            .datasets
            .iter()
            .map(|r| r.meta.provider_org_id)
            .collect();
        ids.sort();
        ids.dedup();
        ids.iter().filter_map(|id| self.orgs.get(id)).collect()
    }

    pub fn org_by_name(&self, name: &str) -> Option<&Org> {
        let key = name.trim().to_ascii_lowercase();
        self.orgs
            .values()
            .find(|o| org_slug(o) == key || o.id.0.to_string() == key)
    }

    /// The organisation dict CKAN clients expect.
    pub fn org_dict(&self, o: &Org) -> Value {
        let count = self
            .datasets
            .iter()
            .filter(|r| r.meta.provider_org_id == o.id)
            .count();
        json!({
            "id": o.id.0.to_string(), "name": org_slug(o), "title": o.name, "display_name": o.name,
            "description": "", "type": "organization", "is_organization": true, "state": "active",
            "approval_status": "approved", "image_url": "", "created": iso(o.created_at),
            "package_count": count,
        })
    }

    /// The package dict CKAN clients expect: metadata, its department, tags (keywords) and one
    /// resource per download format.
    pub fn package(&self, r: &Resource, base: &str) -> Value {
        let name = slug(&r.code);
        let org = self
            .orgs
            .get(&r.meta.provider_org_id)
            .map(|o| {
                json!({"id": o.id.0.to_string(), "name": org_slug(o), "title": o.name,
                "type": "organization", "is_organization": true, "state": "active",
                "description": "", "image_url": "", "approval_status": "approved",
                "created": iso(o.created_at)})
            })
            .unwrap_or(Value::Null);
        let tags: Vec<Value> = r
            .meta
            .extended
            .keywords
            .iter()
            .map(|k| json!({"name": k, "display_name": k, "state": "active"}))
            .collect();
        let resources: Vec<Value> = FORMATS
            .iter()
            .enumerate()
            .map(|(i, f)| {
                json!({"id": format!("{name}-{}", f.to_ascii_lowercase()), "package_id": name,
                    "name": format!("{}（{f}）", r.meta.name), "format": f, "position": i,
                    "url": format!("{base}/open/datasets/{name}/download.{}", f.to_ascii_lowercase()),
                    "state": "active", "datastore_active": i == 0,
                    "created": iso(r.published_at.unwrap_or(r.created_at)),
                    "last_modified": iso(self.modified(r))})
            })
            .collect();
        json!({
            "id": name, "name": name, "title": r.meta.name, "notes": r.meta.summary,
            "type": "dataset", "state": "active", "private": false,
            "owner_org": r.meta.provider_org_id.0.to_string(), "organization": org,
            "metadata_created": iso(r.published_at.unwrap_or(r.created_at)),
            "metadata_modified": iso(self.modified(r)), "version": r.version.to_string(),
            "license_id": "", "license_title": "", "author": "", "maintainer": r.meta.extended.contact,
            "url": format!("{base}/open/datasets/{name}"),
            "tags": tags, "num_tags": r.meta.extended.keywords.len(),
            "resources": resources.clone(), "num_resources": resources.len(), "groups": [],
            "relationships_as_object": [], "relationships_as_subject": [],
            "extras": [
                {"key": "resource_code", "value": r.code},
                {"key": "open_type", "value": r.meta.open_type.as_str()},
                {"key": "open_condition", "value": r.meta.open_condition},
                {"key": "update_cycle", "value": r.meta.update_cycle.as_str()},
                {"key": "items", "value": r.item_names().join(",")},
            ],
        })
    }
}

/// One condition on datasets: a field and a value, or a range of modification times (ISO
/// text, either end open).
pub enum Clause {
    Is(String, String),
    Modified(Option<String>, Option<String>),
}

/// The download formats every open dataset has.
pub const FORMATS: [&str; 4] = ["CSV", "XLSX", "JSON", "Parquet"];

/// A dataset found, with its rank in a free-text search (0 without one).
pub type Match<'a> = (usize, &'a Resource);

impl Catalog {
    /// Free text through the catalog's Chinese search: dataset id → rank; `None` for no text.
    pub fn ranked(
        &self,
        s: &AppState,
        q: &str,
    ) -> Result<Option<std::collections::HashMap<i64, usize>>, Error> {
        let q = q.trim();
        if q.is_empty() || q == "*:*" {
            return Ok(None);
        }
        let found = s.search.search(&yishu_search::SearchQuery {
            text: q.to_string(),
            filters: Default::default(),
            visibility: yishu_search::Visibility::Org(-1),
            limit: 100_000,
            offset: 0,
        })?;
        Ok(Some(
            found
                .hits
                .iter()
                .enumerate()
                .map(|(n, h)| (h.id, n))
                .collect(),
        ))
    }

    /// The open datasets the text found (every one without text) that hold every clause.
    pub fn matching(
        &self,
        ranked: Option<&std::collections::HashMap<i64, usize>>,
        clauses: &[Clause],
    ) -> Vec<Match<'_>> {
        self.filtered(self.datasets.iter().map(|r| &**r), ranked, clauses)
    }

    /// As [`Catalog::matching`], over `among` (a department's private datasets) instead.
    pub fn matching_among<'a>(
        &'a self,
        among: &'a [Resource],
        ranked: Option<&std::collections::HashMap<i64, usize>>,
        clauses: &[Clause],
    ) -> Vec<Match<'a>> {
        self.filtered(among.iter(), ranked, clauses)
    }

    fn filtered<'a>(
        &'a self,
        among: impl Iterator<Item = &'a Resource>,
        ranked: Option<&std::collections::HashMap<i64, usize>>,
        clauses: &[Clause],
    ) -> Vec<Match<'a>> {
        among
            .filter_map(|r| match ranked {
                None => Some((0, r)),
                Some(ranks) => ranks.get(&r.id).map(|pos| (*pos, r)),
            })
            .filter(|(_, r)| clauses.iter().all(|cl| self.holds(r, cl)))
            .collect()
    }

    fn holds(&self, r: &Resource, cl: &Clause) -> bool {
        match cl {
            Clause::Is(f, v) => match f.as_str() {
                "organization" => self
                    .orgs
                    .get(&r.meta.provider_org_id)
                    .is_some_and(|o| org_slug(o) == *v),
                "owner_org" => r.meta.provider_org_id.0.to_string() == *v,
                "tags" => r.meta.extended.keywords.iter().any(|k| k == v),
                "res_format" => FORMATS.iter().any(|f| f.eq_ignore_ascii_case(v)),
                "open_type" => r.meta.open_type.as_str() == v,
                "class_kind" => r.meta.class_kind.as_str() == v,
                _ => slug(&r.code) == *v,
            },
            Clause::Modified(a, b) => {
                let m = iso(self.modified(r));
                a.as_ref().is_none_or(|a| m.as_str() >= a.as_str())
                    && b.as_ref().is_none_or(|b| m.as_str() <= b.as_str())
            }
        }
    }

    /// Counts of `field`'s values (name, label) over `matched`, most first, at least
    /// `mincount`, at most `limit`.
    pub fn facet(
        &self,
        matched: &[Match<'_>],
        field: &str,
        mincount: usize,
        limit: usize,
    ) -> Vec<((String, String), usize)> {
        let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (_, r) in matched {
            let values: Vec<(String, String)> = match field {
                "organization" => self
                    .orgs
                    .get(&r.meta.provider_org_id)
                    .map(|o| vec![(org_slug(o), o.name.clone())])
                    .unwrap_or_default(),
                "tags" => r
                    .meta
                    .extended
                    .keywords
                    .iter()
                    .map(|k| (k.clone(), k.clone()))
                    .collect(),
                "res_format" => FORMATS
                    .iter()
                    .map(|x| (x.to_string(), x.to_string()))
                    .collect(),
                "open_type" => vec![(
                    r.meta.open_type.as_str().to_string(),
                    r.meta.open_type.label_zh().to_string(),
                )],
                "class_kind" => vec![(
                    r.meta.class_kind.as_str().to_string(),
                    r.meta.class_kind.label_zh().to_string(),
                )],
                _ => Vec::new(),
            };
            for v in values {
                *counts.entry(v).or_default() += 1;
            }
        }
        let mut items: Vec<((String, String), usize)> =
            counts.into_iter().filter(|(_, n)| *n >= mincount).collect();
        items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        items.truncate(limit);
        items
    }
}
