//! NATS JetStream feeds: a durable pull consumer on a stream (optionally one subject of it). A
//! message is acknowledged only after its batch is committed; one not acknowledged in time is
//! redelivered by the server and recognised by its id.

use super::{FeedRun, Message, Window, default_max_rows, default_window_ms, row_count};
use crate::rows::Mapping;
use async_nats::jetstream::{self, consumer::AckPolicy, consumer::pull};
use futures::StreamExt;
use serde::Deserialize;
use std::time::Duration;
use std::time::Instant;
use yishu_lake::Lake;
use yishu_meta::Store;
use yishu_meta::catalog::Resource;
use yishu_types::{Error, ErrorCode};

/// A JetStream feed's settings (a source of kind `nats`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsFeed {
    /// e.g. `nats://127.0.0.1:4222`
    pub url: String,
    pub stream: String,
    /// Only this subject of the stream (default: all of it).
    #[serde(default)]
    pub subject: Option<String>,
    /// The durable consumer's name (default `yishu-<source id>`).
    #[serde(default)]
    pub consumer: Option<String>,
    #[serde(default = "default_window_ms")]
    pub window_ms: u64,
    #[serde(default = "default_max_rows")]
    pub max_rows: usize,
    #[serde(default)]
    pub mapping: Mapping,
}

impl NatsFeed {
    /// Checks the settings without connecting.
    pub fn check(&self) -> Result<Window, Error> {
        if !self.url.starts_with("nats://") && !self.url.starts_with("tls://") {
            return Err(Error::field(
                "config.url",
                "a NATS address starts with nats:// (e.g. nats://127.0.0.1:4222)",
            ));
        }
        if self.stream.trim().is_empty() {
            return Err(Error::field("config.stream", "name the JetStream stream"));
        }
        Window::new(self.window_ms, self.max_rows)
    }
}

fn failed(cfg: &NatsFeed, what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        format!(
            "NATS {} stream {}: {what}: {e}",
            yishu_meta::store_redacted_url(&cfg.url),
            cfg.stream
        ),
    )
}

/// Takes one window of messages from the consumer into the resource's ods table.
pub async fn drain(
    store: &Store,
    lake: &Lake,
    resource: &Resource,
    source_id: i64,
    cfg: &NatsFeed,
) -> Result<FeedRun, Error> {
    let window = cfg.check()?;
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(cfg.url.as_str())
        .await
        .map_err(|e| failed(cfg, "cannot connect", e))?;
    let js = jetstream::new(client.clone());
    let stream = js
        .get_stream(cfg.stream.as_str())
        .await
        .map_err(|e| failed(cfg, "no such stream", e))?;
    let name = cfg
        .consumer
        .clone()
        .unwrap_or_else(|| format!("yishu-{source_id}"));
    let consumer: jetstream::consumer::Consumer<pull::Config> = stream
        .get_or_create_consumer(
            &name,
            pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: cfg.subject.clone().unwrap_or_default(),
                ack_policy: AckPolicy::Explicit,
                // Long enough for a window and its commit; a message not acknowledged by then is
                // sent again (and dropped as a duplicate if its batch landed).
                ack_wait: Duration::from_secs(120).max(window.window * 4),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| failed(cfg, "cannot open the consumer", e))?;
    let got = fetch_window(&consumer, &window)
        .await
        .map_err(|e| failed(cfg, "cannot fetch", e))?;
    let messages: Vec<Message> = got
        .iter()
        .map(|m| {
            let seq = m.info().map(|i| i.stream_sequence).unwrap_or_default();
            let id = m
                .headers
                .as_ref()
                .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
                .map(|v| v.to_string())
                .unwrap_or_else(|| format!("{}#{seq}", cfg.stream));
            Message {
                id,
                source_ref: format!("nats:{}#{seq}", m.subject),
                body: m.payload.to_vec(),
            }
        })
        .collect();
    let source = format!("nats:{}", cfg.stream);
    let run =
        super::ingest_messages(store, lake, resource, &source, messages, &cfg.mapping).await?;
    for m in &got {
        m.ack()
            .await
            .map_err(|e| failed(cfg, "cannot acknowledge", e))?;
    }
    client
        .flush()
        .await
        .map_err(|e| failed(cfg, "cannot acknowledge", e))?;
    Ok(run)
}

/// Fetches one window: requests only as many messages as rows are still wanted, so nothing is
/// left delivered-but-untaken (it would wait for the acknowledgement timeout to come back).
async fn fetch_window(
    consumer: &jetstream::consumer::Consumer<pull::Config>,
    window: &Window,
) -> Result<Vec<jetstream::Message>, String> {
    let mut got = Vec::new();
    let mut rows = 0;
    let mut deadline = Instant::now() + window.idle;
    while rows < window.max_rows {
        let left = deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(10) {
            break;
        }
        let was_empty = got.is_empty();
        let mut batch = consumer
            .fetch()
            .max_messages(window.max_rows - rows)
            .expires(left)
            .messages()
            .await
            .map_err(|e| e.to_string())?;
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| e.to_string())?;
            rows += row_count(&m.payload);
            got.push(m);
        }
        if got.is_empty() {
            break;
        }
        if was_empty {
            deadline = Instant::now() + window.window;
        }
    }
    Ok(got)
}
