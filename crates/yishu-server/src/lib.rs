//! The HTTP face of Yishu: JSON API under `/api/v1` (routes mirror URLs), the console and portal
//! pages, health and metrics. Everything runs from one [`AppState`] over the metadata store and the
//! lake, so several processes can serve the same data directory or database.

pub mod auth;
pub mod error;
pub mod i18n;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod routes;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use yishu_lake::Lake;
use yishu_meta::Store;

/// Largest request body the API accepts (uploads get their own limits later).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Settings of the HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Mark cookies `Secure` (set when served over HTTPS behind a proxy).
    pub secure_cookies: bool,
}

/// Shared state of every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub lake: Lake,
    pub config: Arc<ServerConfig>,
    pub metrics: metrics::Metrics,
    pub key_cache: Arc<auth::KeyCache>,
}

impl AppState {
    pub fn new(store: Store, lake: Lake, config: ServerConfig) -> Self {
        AppState {
            store,
            lake,
            config: Arc::new(config),
            metrics: metrics::Metrics::default(),
            key_cache: Arc::new(auth::KeyCache::default()),
        }
    }
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let api = routes::router()
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    Router::new()
        .nest("/api/v1", api)
        .merge(openapi::router())
        .merge(pages::router())
        .merge(routes::health::router())
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
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
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
