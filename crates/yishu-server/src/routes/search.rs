//! `/api/v1/search`: catalog search (目录检索) over the tantivy index, which the server keeps in
//! step with every catalog change and can rebuild from the store.

use crate::AppState;
use crate::app::search::SearchParams;
use crate::app::search::SearchResponse;
use crate::app::search::run;
use crate::auth::AdministerSearch;
use crate::auth::{Auth, SignedIn};
use crate::error::ApiResult;
use crate::i18n::Lang;
use crate::json::ValidQuery;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::json;

/// Searches the catalog entries the caller may see.
#[utoipa::path(get, path = "/api/v1/search", tag = "catalog", params(SearchParams),
    responses((status = 200, body = SearchResponse), (status = 400, body = crate::error::ErrorBody)))]
pub async fn search(
    State(s): State<AppState>,
    auth: Auth<SignedIn>,
    ValidQuery(params): ValidQuery<SearchParams>,
) -> ApiResult<Json<SearchResponse>> {
    Ok(Json(run(&s, auth.who(), &params, Lang::Zh).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Rebuilt {
    pub indexed: usize,
    pub took_ms: u64,
}

/// Rebuilds the search index from the metadata store.
#[utoipa::path(post, path = "/api/v1/search/rebuild", tag = "catalog",
    responses((status = 200, body = Rebuilt), (status = 403, body = crate::error::ErrorBody)))]
pub async fn rebuild(
    State(s): State<AppState>,
    auth: Auth<AdministerSearch>,
) -> ApiResult<Json<Rebuilt>> {
    let started = std::time::Instant::now();
    let indexed = yishu_search::rebuild_from_store(&s.store, &s.search).await?;
    let took_ms = started.elapsed().as_millis() as u64;
    s.store
        .audit(&auth.meta.entry(
            Some(auth.who()),
            "search.rebuild",
            "search:index".into(),
            "ok",
            json!({"indexed": indexed, "took_ms": took_ms}).to_string(),
        ))
        .await?;
    Ok(Json(Rebuilt { indexed, took_ms }))
}
