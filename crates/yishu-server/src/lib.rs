//! The HTTP face of Yishu: JSON API under `/api/v1` (routes mirror URLs), the console and portal
//! pages, health and metrics. Everything runs from one [`AppState`] over the metadata store and the
//! lake, so several processes can serve the same data directory or database.

pub mod app;
pub mod auth;
pub mod download;
pub mod error;
pub mod i18n;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod routes;
mod scheduler;
pub mod svg;
pub mod time;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use yishu_lake::Lake;
use yishu_meta::Store;
use yishu_search::SearchIndex;
use yishu_types::Error;

/// Largest request body the API accepts (uploads get their own limits later).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Mark cookies `Secure` (set when served over HTTPS behind a proxy).
    pub secure_cookies: bool,
    /// How often the search index looks for catalog changes made by other processes.
    pub search_refresh: std::time::Duration,
    /// How often the scheduler looks for due sources.
    pub scheduler_tick: std::time::Duration,
    /// The time the scheduler judges update cycles by (tests move it forward).
    pub clock: yishu_meta::Clock,
    /// Where the server may connect on a user's word (mounts, webhooks).
    pub outbound: yishu_ingest::outbound::Outbound,
    /// The directory subscriptions' drop directories are made under (none: databases only).
    pub drop_root: Option<std::path::PathBuf>,
    /// The address the public reaches the portal at, for links in DCAT and CKAN answers
    /// (none: the request's Host).
    pub public_url: Option<String>,
    /// The licence open data is published under (an IRI).
    pub open_license: String,
    /// Requests a minute one (truncated) address may make of the public catalog: CKAN
    /// actions, DCAT and portal pages. Data reads have their own limits.
    pub open_pages_per_minute: i64,
}

/// The public catalog's requests a minute per address unless configured (100 a second).
pub const DEFAULT_OPEN_PAGES_PER_MINUTE: i64 = 6_000;

/// Open data's licence unless configured: Creative Commons Attribution 4.0.
pub const DEFAULT_OPEN_LICENSE: &str = "https://creativecommons.org/licenses/by/4.0/";

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            secure_cookies: false,
            search_refresh: std::time::Duration::from_secs(1),
            scheduler_tick: std::time::Duration::from_secs(5),
            clock: yishu_meta::Clock::default(),
            outbound: Default::default(),
            drop_root: None,
            public_url: None,
            open_license: DEFAULT_OPEN_LICENSE.into(),
            open_pages_per_minute: DEFAULT_OPEN_PAGES_PER_MINUTE,
        }
    }
}

/// Shared state of every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub lake: Lake,
    pub config: Arc<ServerConfig>,
    pub metrics: metrics::Metrics,
    pub key_cache: Arc<auth::KeyCache>,
    pub search: Arc<SearchIndex>,
    /// Grants' rate-limit counters in this process.
    pub limiter: Arc<yishu_share::limit::Limiter>,
    /// Data service calls counted in this process, added to the store every few seconds.
    pub service_meter: Arc<app::service_ops::Meter>,
    /// Apps' calls-a-minute counters in this process.
    pub app_limiter: Arc<yishu_share::limit::Limiter>,
    /// The open catalog as last built.
    pub open_catalog: Arc<app::open::CatalogCache>,
    /// Open data readers' counters (per truncated address or per user) in this process.
    pub open_limiter: Arc<yishu_share::limit::Limiter>,
    /// Base libraries as resolved within the last second (never grants).
    pub sources: Arc<yishu_share::target::Recent>,
}

impl AppState {
    pub fn new(store: Store, lake: Lake, search: Arc<SearchIndex>, config: ServerConfig) -> Self {
        AppState {
            store,
            lake,
            search,
            config: Arc::new(config),
            metrics: metrics::Metrics::default(),
            key_cache: Arc::new(auth::KeyCache::default()),
            limiter: Arc::default(),
            app_limiter: Arc::default(),
            open_limiter: Arc::default(),
            open_catalog: Arc::default(),
            service_meter: Arc::default(),
            sources: Arc::default(),
        }
    }
}

/// Opens the search index in `dir` (in memory when `None`) and rebuilds it from the store when
/// it does not hold every resource (first start, a schema change, or changes made elsewhere).
pub async fn open_search(
    dir: Option<&std::path::Path>,
    store: &Store,
) -> Result<Arc<SearchIndex>, Error> {
    let index = match dir {
        Some(d) => SearchIndex::open(d)?,
        None => SearchIndex::in_memory()?,
    };
    let in_store = store.list_resources(None, None, 1, 0).await?.total;
    if index.len() != in_store as u64 {
        let started = std::time::Instant::now();
        let n = yishu_search::rebuild_from_store(store, &index).await?;
        tracing::info!(
            "search index rebuilt: {n} resources in {:?}",
            started.elapsed()
        );
    } else {
        yishu_search::catch_up(store, &index).await?;
    }
    Ok(Arc::new(index))
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    app_with(state, Router::new())
}

/// The application with `extra` routes under `/api/v1` behind the same layers as every API
/// route (a benchmark's comparison route measures the same stack).
pub fn app_with(state: AppState, extra: Router<AppState>) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let api = routes::router()
        .merge(extra)
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    Router::new()
        .nest("/api/v1", api)
        .merge(openapi::router())
        .merge(pages::router())
        .merge(routes::health::router())
        .merge(
            pages::portal_router()
                .merge(routes::ckan::router())
                .merge(routes::open::router())
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    app::open_read::catalog_limit,
                )),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::record,
        ))
        .layer(axum::middleware::from_fn(error::render_errors))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let follower = tokio::spawn(scheduler::follow_catalog(state.clone()));
    let jobs = tokio::spawn(scheduler::run_sources(state.clone()));
    let (meter, store) = (state.service_meter.clone(), state.store.clone());
    let counting = tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
            if let Err(e) = meter.flush(&store).await {
                tracing::warn!("counting service calls: {e}");
            }
        }
    });
    let served = axum::serve(
        listener,
        app(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    follower.abort();
    jobs.abort();
    counting.abort();
    let _ = state.service_meter.flush(&state.store).await;
    served
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
