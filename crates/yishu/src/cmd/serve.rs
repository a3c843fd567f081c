//! `yishu serve`: the API, console and portal.

use crate::config::Config;
use crate::exit;
use anyhow::{Context, Result};
use yishu_meta::Store;

/// Opens the metadata store and lake of an installation, creating the data directory.
pub async fn open(config: &Config) -> Result<(Store, yishu_lake::Lake)> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let store = Store::open(&config.database_url()).await?;
    let lake = yishu_lake::Lake::open(&config.lake_root())?;
    Ok((store, lake))
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn serve(
    store: Store,
    lake: yishu_lake::Lake,
    config: &Config,
    addr: &str,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    eprintln!(
        "yishu: serving on http://{local} (console http://{local}/console, API docs http://{local}/api/v1/docs/)"
    );
    // The national data elements are part of the product; registering them again is a no-op.
    yishu_quality::standard::seed(&store).await?;
    let search = yishu_server::open_search(Some(&config.data_dir.join("search")), &store).await?;
    let state = yishu_server::AppState::new(
        store.clone(),
        lake,
        search,
        yishu_server::ServerConfig {
            secure_cookies: config.secure_cookies,
            outbound: yishu_ingest::outbound::Outbound::new(&config.outbound.allow)?,
            drop_root: Some(config.data_dir.join("outbox")),
            public_url: config
                .public_url
                .as_deref()
                .map(|u| u.trim_end_matches('/').to_string()),
            open_license: config
                .open_license
                .clone()
                .unwrap_or_else(|| yishu_server::DEFAULT_OPEN_LICENSE.into()),
            open_pages_per_minute: config
                .open_pages_per_minute
                .unwrap_or(yishu_server::DEFAULT_OPEN_PAGES_PER_MINUTE)
                .max(1),
            ..Default::default()
        },
    );
    yishu_server::serve(listener, state, yishu_server::shutdown_signal()).await?;
    store.close().await;
    Ok(())
}

/// `yishu serve`: the API, console and portal over the configured data directory.
pub async fn run(config: &Config, listen: Option<String>) -> Result<u8> {
    let (store, lake) = open(config).await?;
    if store.count_users().await? == 0 {
        eprintln!(
            "yishu: no users yet. Create the first administrator with:\n  yishu org add --code ROOT --name 数据局 --level city\n  yishu user add --name admin --org ROOT --role admin"
        );
    }
    let addr = listen.unwrap_or(config.listen.clone());
    serve(store, lake, config, &addr).await?;
    Ok(exit::OK)
}
