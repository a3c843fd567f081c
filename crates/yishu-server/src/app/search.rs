//! Searching the catalog (目录检索) as a reader may: drafts only for their department and the
//! bureau, facet labels in the reader's language.

use crate::AppState;
use crate::i18n::Lang;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::HashMap;
use yishu_meta::Counter;
use yishu_meta::Principal;
use yishu_meta::catalog::ClassKind;
use yishu_meta::catalog::OpenType;
use yishu_meta::catalog::ResourceFormat;
use yishu_meta::catalog::ResourceStatus;
use yishu_meta::catalog::ShareType;
use yishu_meta::catalog::UpdateCycle;
use yishu_search::Filters;
use yishu_search::Hit;
use yishu_search::SearchQuery;
use yishu_search::SearchResults;
use yishu_search::Visibility;
use yishu_types::Error;
use yishu_types::{ErrorCode, Role};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words, in Chinese or English; a resource code also works. Empty: newest first.
    pub q: Option<String>,
    /// Provider org id.
    pub provider: Option<String>,
    /// base, theme or department.
    pub class: Option<String>,
    /// unconditional, conditional or never.
    pub share: Option<String>,
    /// unconditional, conditional or never.
    pub open: Option<String>,
    /// file, database, graphic, stream or custom.
    pub format: Option<String>,
    /// realtime, daily, weekly, monthly, quarterly, half_yearly, yearly or irregular.
    pub cycle: Option<String>,
    /// draft, submitted, approved, rejected, published or retired.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FacetValue {
    pub value: String,
    /// The value in words (the org's name for a provider).
    pub label: String,
    pub count: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResponse {
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    pub hits: Vec<Hit>,
    /// Per dimension (provider, class, share, open, format, cycle, status), counts among matches.
    pub facets: BTreeMap<String, Vec<FacetValue>>,
    /// The words the query was cut into.
    pub words: Vec<String>,
    pub took_ms: f64,
}

/// Who may see what: the bureau sees every entry, others published ones plus their own org's.
pub fn visibility(p: &Principal) -> Visibility {
    if p.has(Role::Admin) || p.has(Role::DataManager) {
        Visibility::All
    } else {
        Visibility::Org(p.org_id.0)
    }
}

/// A facet value in words.
pub fn facet_label(dim: &str, value: &str, lang: Lang, orgs: &HashMap<i64, String>) -> String {
    let zh = |label: Option<&'static str>| match (lang, label) {
        (Lang::Zh, Some(l)) => l.to_string(),
        _ => value.to_string(),
    };
    match dim {
        "provider" => value
            .parse::<i64>()
            .ok()
            .and_then(|id| orgs.get(&id).cloned())
            .unwrap_or_else(|| value.to_string()),
        "class" => zh(ClassKind::parse(value).map(ClassKind::label_zh)),
        "share" => zh(ShareType::parse(value).map(ShareType::label_zh)),
        "open" => zh(OpenType::parse(value).map(OpenType::label_zh)),
        "format" => zh(ResourceFormat::parse(value).map(ResourceFormat::label_zh)),
        "cycle" => zh(UpdateCycle::parse(value).map(UpdateCycle::label_zh)),
        "status" => zh(ResourceStatus::parse(value).map(ResourceStatus::label_zh)),
        _ => value.to_string(),
    }
}

/// Runs a search for `p`, labels the facets and counts the hits as "found by a search".
pub async fn run(
    s: &AppState,
    p: &Principal,
    params: &SearchParams,
    lang: Lang,
) -> Result<SearchResponse, Error> {
    let started = std::time::Instant::now();
    let text = params.q.clone().unwrap_or_default();
    if text.chars().count() > 200 {
        return Err(Error::field("q", "is longer than 200 characters"));
    }
    let query = SearchQuery {
        text: text.clone(),
        filters: params.filters(),
        visibility: visibility(p),
        limit: params.limit.unwrap_or(20).clamp(1, 200) as usize,
        offset: params.offset.unwrap_or(0).clamp(0, 10_000) as usize,
    };
    let index = s.search.clone();
    let q = query.clone();
    let SearchResults {
        total,
        hits,
        facets,
        words,
    } = tokio::task::spawn_blocking(move || index.search(&q))
        .await
        .map_err(|e| Error::new(ErrorCode::Internal, format!("search task: {e}")))??;
    let orgs: HashMap<i64, String> = s
        .store
        .list_orgs()
        .await?
        .into_iter()
        .map(|o| (o.id.0, o.name))
        .collect();
    let facets = facets
        .into_iter()
        .map(|(dim, values)| {
            let values = values
                .into_iter()
                .map(|f| FacetValue {
                    label: facet_label(&dim, &f.value, lang, &orgs),
                    value: f.value,
                    count: f.count,
                })
                .collect();
            (dim, values)
        })
        .collect();
    if !words.is_empty() && !hits.is_empty() {
        let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
        let store = s.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.count_use(Counter::SearchHits, &ids).await {
                tracing::warn!("counting search hits: {e}");
            }
        });
    }
    Ok(SearchResponse {
        total,
        limit: query.limit,
        offset: query.offset,
        hits,
        facets,
        words,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

impl SearchParams {
    pub fn filters(&self) -> Filters {
        [
            ("provider", &self.provider),
            ("class", &self.class),
            ("share", &self.share),
            ("open", &self.open),
            ("format", &self.format),
            ("cycle", &self.cycle),
            ("status", &self.status),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| (k.to_string(), v.clone()))
        })
        .collect()
    }
}
