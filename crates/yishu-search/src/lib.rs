//! Catalog search (目录检索): a tantivy index over resources with a jieba tokenizer. The index is a
//! cache: it can always be rebuilt from the metadata store ([`rebuild_from_store`]) and is kept in
//! step by the server on every catalog change ([`SearchIndex::upsert`]).

mod index;
pub mod tokenizer;

pub use index::{
    DIMENSIONS, FacetCount, Filters, Hit, ResourceDoc, SearchIndex, SearchQuery, SearchResults,
    Visibility,
};

use yishu_meta::Store;
use yishu_meta::catalog::Resource;
use yishu_types::{Error, OrgId};

/// Replaces the whole index with the store's resources; returns how many were indexed.
pub async fn rebuild_from_store(store: &Store, index: &SearchIndex) -> Result<usize, Error> {
    let orgs: std::collections::HashMap<OrgId, String> = store
        .list_orgs()
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let mut texts = std::collections::HashMap::new();
    for id in store.resources_with_attachments().await? {
        texts.insert(id, store.attachment_text(id).await?);
    }
    let docs: Vec<ResourceDoc> = store
        .all_resources()
        .await?
        .iter()
        .map(|r| {
            let provider = orgs
                .get(&r.meta.provider_org_id)
                .cloned()
                .unwrap_or_default();
            let mut d = ResourceDoc::from_resource(r, &provider);
            d.attachments = texts.remove(&r.id).unwrap_or_default();
            d
        })
        .collect();
    index.replace_all(docs.iter())
}

/// The document for one resource, naming its provider, with its attachments' text.
pub async fn doc_for(store: &Store, r: &Resource) -> Result<ResourceDoc, Error> {
    let provider = store.get_org(r.meta.provider_org_id).await?.name;
    let mut d = ResourceDoc::from_resource(r, &provider);
    d.attachments = store.attachment_text(r.id).await?;
    Ok(d)
}

/// How far back (ms) a catch-up looks before the watermark: a change committed late with an
/// older timestamp is still seen. Unchanged versions are skipped, so the overlap costs little.
const SLACK_MS: i64 = 10_000;

/// Takes in every resource changed in the store since the index's watermark (by this or
/// another process); returns how many were (re)indexed.
pub async fn catch_up(store: &Store, index: &SearchIndex) -> Result<usize, Error> {
    let since = (index.watermark() - SLACK_MS).max(0);
    let mut offset = 0;
    let mut changed = Vec::new();
    loop {
        let page = store.resources_changed_since(since, 500, offset).await?;
        let n = page.len();
        for r in page {
            if index.indexed_version(r.id) != Some(r.version) {
                changed.push(doc_for(store, &r).await?);
            }
        }
        if n < 500 {
            break;
        }
        offset += n as i64;
    }
    if !changed.is_empty() {
        index.upsert_many(&changed)?;
    }
    Ok(changed.len())
}
