//! The open catalog (数据开放, R33) as outsiders see it: the published resources whose open
//! attribute allows opening, as datasets with their department, items, formats and times —
//! what the CKAN Action API (and later the portal and DCAT) list, search and show. A resource
//! that is not published, retired or never to be opened does not exist here.

use crate::AppState;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use yishu_meta::catalog::{OpenType, Resource, ResourceStatus};
use yishu_meta::org::Org;
use yishu_types::{Error, OrgId};

/// A dataset's name as CKAN clients address it: its code, lower case, `/` as `-`.
pub fn slug(code: &str) -> String {
    code.to_ascii_lowercase().replace('/', "-")
}

/// An organisation's name as CKAN clients address it.
pub fn org_slug(o: &Org) -> String {
    o.code.to_ascii_lowercase()
}

/// Whether the public may see `r` in the open catalog.
pub fn is_open(r: &Resource) -> bool {
    r.status == ResourceStatus::Published && r.meta.open_type != OpenType::Never
}

/// ISO 8601 as CKAN writes times (UTC, no zone suffix).
pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.6f").to_string())
        .unwrap_or_default()
}

/// The open catalog now: datasets and the departments that provide them.
pub struct Catalog {
    pub datasets: Vec<Resource>,
    pub orgs: BTreeMap<OrgId, Org>,
}

impl Catalog {
    pub async fn load(s: &AppState) -> Result<Catalog, Error> {
        let mut datasets: Vec<Resource> = s
            .store
            .all_resources()
            .await?
            .into_iter()
            .filter(is_open)
            .collect();
        datasets.sort_by_key(|r| r.id);
        let orgs = s
            .store
            .list_orgs()
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
        Ok(Catalog { datasets, orgs })
    }

    /// The dataset named `id_or_name` (its slug or its code).
    pub fn find(&self, id_or_name: &str) -> Option<&Resource> {
        let key = id_or_name.trim().to_ascii_lowercase();
        self.datasets
            .iter()
            .find(|r| slug(&r.code) == key || r.code.to_ascii_lowercase() == key)
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
        let resources: Vec<Value> = ["CSV", "XLSX", "JSON", "Parquet"]
            .iter()
            .enumerate()
            .map(|(i, f)| {
                json!({"id": format!("{name}-{}", f.to_ascii_lowercase()), "package_id": name,
                    "name": format!("{}（{f}）", r.meta.name), "format": f, "position": i,
                    "url": format!("{base}/open/datasets/{name}/download.{}", f.to_ascii_lowercase()),
                    "state": "active", "datastore_active": i == 0,
                    "created": iso(r.published_at.unwrap_or(r.created_at)),
                    "last_modified": iso(r.updated_at)})
            })
            .collect();
        json!({
            "id": name, "name": name, "title": r.meta.name, "notes": r.meta.summary,
            "type": "dataset", "state": "active", "private": false,
            "owner_org": r.meta.provider_org_id.0.to_string(), "organization": org,
            "metadata_created": iso(r.published_at.unwrap_or(r.created_at)),
            "metadata_modified": iso(r.updated_at), "version": r.version.to_string(),
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
