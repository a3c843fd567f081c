//! The work a server does besides answering requests: keeping its search index in step with
//! catalog changes other processes make, and the scheduler — webhooks, due sources, quality
//! checks of new batches, subscriptions' deliveries, providers past their update cycle.

use crate::AppState;

/// Keeps this node's search index in step with changes other processes make to the store.
pub(crate) async fn follow_catalog(state: AppState) {
    let mut tick = tokio::time::interval(state.config.search_refresh);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match yishu_search::catch_up(&state.store, &state.search).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!("search index: took in {n} changed resources"),
            Err(e) => tracing::warn!("search index: catching up: {e}"),
        }
    }
}

/// The in-process scheduler: sends due webhooks, runs due sources as jobs, checks new batches and
/// notices providers past their update cycle. Several nodes may run it; each due source is claimed
/// by one of them.
pub(crate) async fn run_sources(state: AppState) {
    let mut tick = tokio::time::interval(state.config.scheduler_tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Silence is judged at most once a minute of the scheduler's clock.
    let mut silence_checked = i64::MIN;
    loop {
        tick.tick().await;
        crate::app::notify::deliver_webhooks(&state.store, &state.config.outbound).await;
        if let Err(e) = yishu_ingest::sources::run_due(&state.store, &state.lake).await {
            tracing::warn!("scheduler: {e}");
        }
        // Every new batch is profiled and checked (R12–R16); a few per tick keep the tick short.
        match yishu_quality::run::check_pending(&state.store, &state.lake, 4).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("quality: checked {n} batches"),
            Err(e) => tracing::warn!("quality: {e}"),
        }
        match crate::app::subscriptions::run_due(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("subscriptions: {n} delivered"),
            Err(e) => tracing::warn!("subscriptions: {e}"),
        }
        let now = state.config.clock.now_ms();
        if now.saturating_sub(silence_checked) >= 60_000 {
            silence_checked = now;
            match yishu_quality::silence::check(&state.store, now).await {
                Ok(c) if c.opened + c.closed > 0 => tracing::info!(
                    "timeliness: {} resources past their update cycle, {} back in time",
                    c.opened,
                    c.closed
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!("timeliness: {e}"),
            }
        }
    }
}
