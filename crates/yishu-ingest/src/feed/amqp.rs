//! RabbitMQ (AMQP 0-9-1) feeds: a consumer on an existing queue with manual acknowledgement. The
//! window's deliveries are acknowledged together after the batch commits; if the run fails or the
//! process dies, the broker requeues them and they are recognised by their message id.

use super::{FeedRun, Message, Window, collect, default_max_rows, default_window_ms};
use crate::rows::Mapping;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use serde::Deserialize;
use yishu_lake::Lake;
use yishu_meta::Store;
use yishu_meta::catalog::Resource;
use yishu_types::{Error, ErrorCode};

/// A RabbitMQ feed's settings (a source of kind `rabbitmq`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpFeed {
    /// e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`
    pub url: String,
    pub queue: String,
    #[serde(default = "default_window_ms")]
    pub window_ms: u64,
    #[serde(default = "default_max_rows")]
    pub max_rows: usize,
    #[serde(default)]
    pub mapping: Mapping,
}

impl AmqpFeed {
    /// Checks the settings without connecting.
    pub fn check(&self) -> Result<Window, Error> {
        if !self.url.starts_with("amqp://") && !self.url.starts_with("amqps://") {
            return Err(Error::field(
                "config.url",
                "an AMQP address starts with amqp:// (e.g. amqp://user:password@127.0.0.1:5672/%2f)",
            ));
        }
        if self.queue.trim().is_empty() {
            return Err(Error::field("config.queue", "name the queue"));
        }
        Window::new(self.window_ms, self.max_rows)
    }
}

fn failed(cfg: &AmqpFeed, what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        format!(
            "RabbitMQ {} queue {}: {what}: {e}",
            yishu_meta::store_redacted_url(&cfg.url),
            cfg.queue
        ),
    )
}

/// A delivery's id: the publisher's `message_id`, else a hash of the body (identical bodies
/// without ids are taken once).
fn id_of(d: &Delivery) -> String {
    d.properties
        .message_id()
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("blake3:{}", blake3::hash(&d.data).to_hex()))
}

/// Takes one window of deliveries from the queue into the resource's ods table.
pub async fn drain(
    store: &Store,
    lake: &Lake,
    resource: &Resource,
    source_id: i64,
    cfg: &AmqpFeed,
) -> Result<FeedRun, Error> {
    let window = cfg.check()?;
    let conn = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        Connection::connect(&cfg.url, ConnectionProperties::default()),
    )
    .await
    .map_err(|e| failed(cfg, "cannot connect", e))?
    .map_err(|e| failed(cfg, "cannot connect", e))?;
    let ch = conn
        .create_channel()
        .await
        .map_err(|e| failed(cfg, "cannot open a channel", e))?;
    ch.basic_qos(
        window.max_rows.min(u16::MAX as usize) as u16,
        BasicQosOptions::default(),
    )
    .await
    .map_err(|e| failed(cfg, "cannot set prefetch", e))?;
    // Passive: the queue belongs to the department's broker set-up; a typo is an error, not a
    // new empty queue.
    ch.queue_declare(
        cfg.queue.as_str().into(),
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .map_err(|e| failed(cfg, "no such queue", e))?;
    let mut consumer = ch
        .basic_consume(
            cfg.queue.as_str().into(),
            format!("yishu-{source_id}").as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| failed(cfg, "cannot consume", e))?;
    let got = collect(
        &mut consumer,
        &window,
        |d: &Delivery| super::row_count(&d.data),
        "RabbitMQ",
    )
    .await?;
    let messages: Vec<Message> = got
        .iter()
        .map(|d| {
            let id = id_of(d);
            Message {
                source_ref: format!("amqp:{}#{id}", cfg.queue),
                id,
                body: d.data.clone(),
            }
        })
        .collect();
    let source = format!("rabbitmq:{}", cfg.queue);
    let run = super::ingest_messages(store, lake, resource, &source, messages, &cfg.mapping).await;
    if let (Ok(_), Some(last)) = (&run, got.last()) {
        ch.basic_ack(last.delivery_tag, BasicAckOptions { multiple: true })
            .await
            .map_err(|e| failed(cfg, "cannot acknowledge", e))?;
    }
    // Closing returns unacknowledged deliveries (a failed run's) to the queue.
    ch.close(200, "done".into()).await.ok();
    conn.close(200, "done".into()).await.ok();
    run
}
