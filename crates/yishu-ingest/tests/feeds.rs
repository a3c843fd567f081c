//! Queue feeds against the real NATS JetStream and RabbitMQ servers of this machine: windows close
//! by row count, redelivered and repeated messages are stored once, bad bodies are quarantined,
//! and an interrupted batch is settled on the next run.

use async_nats::jetstream;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use std::time::Duration;
use yishu_ingest::feed::amqp::{self, AmqpFeed};
use yishu_ingest::feed::nats::{self, NatsFeed};
use yishu_ingest::feed::{FEED_PENDING, Message, ingest_messages};
use yishu_ingest::{Outcome, table_name};
use yishu_lake::{Lake, Layer, query};
use yishu_meta::batch::{Batch, BatchStart};
use yishu_meta::testing::TestDb;

mod common;
use common::{count, resource};

fn nats_url() -> String {
    std::env::var("YISHU_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn amqp_url() -> String {
    std::env::var("YISHU_TEST_AMQP")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A name no other test run uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple())
}

fn batch(o: &Option<Outcome>) -> &Batch {
    match o {
        Some(Outcome::Ingested(b)) => b,
        other => panic!("expected a new batch, got {other:?}"),
    }
}

async fn ods_rows(lake: &Lake, table: &str) -> i64 {
    let ctx = lake.session().await.unwrap();
    count(
        &query(&ctx, &format!("SELECT count(*) FROM ods.{table}"))
            .await
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_feed_by_windows_once_each() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let r = resource(&store, &["姓名", "公民身份号码"]).await;

    let client = async_nats::connect(nats_url()).await.unwrap();
    let js = jetstream::new(client.clone());
    let stream = unique("YISHU_T_");
    js.create_stream(jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![format!("{stream}.>")],
        // Short, so the test can re-send an id after the server's own duplicate window.
        duplicate_window: Duration::from_millis(200),
        ..Default::default()
    })
    .await
    .unwrap();
    let subject = format!("{stream}.gjj");
    let publish = |id: String, body: String| {
        let (js, subject) = (js.clone(), subject.clone());
        async move {
            let mut h = async_nats::HeaderMap::new();
            h.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
            js.publish_with_headers(subject, h, body.into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    };
    for i in 0..12 {
        publish(
            format!("m{i}"),
            format!(r#"{{"姓名":"张三{i}","公民身份号码":"51010119900101{i:04}","备注":"x"}}"#),
        )
        .await;
    }
    publish("m12".into(), "oops, not json".into()).await;
    publish("m13".into(), r#"[{"姓名":"李四"},{"姓名":"王五"}]"#.into()).await;
    publish("m14".into(), r#"{"foo":1}"#.into()).await;

    let cfg = NatsFeed {
        url: nats_url(),
        stream: stream.clone(),
        subject: None,
        consumer: None,
        window_ms: 300,
        max_rows: 10,
        mapping: Default::default(),
    };
    // The first window closes at 10 rows.
    let first = nats::drain(&store, &lake, &r, 1, &cfg).await.unwrap();
    let b = batch(&first.outcome);
    assert_eq!((first.received, first.duplicates), (10, 0));
    assert_eq!(
        (b.rows_read, b.rows_stored, b.rows_quarantined),
        (10, 10, 0)
    );
    assert_eq!(b.drift["extra_columns"], serde_json::json!(["备注"]));
    // The rest: two good rows, a body that is not JSON, an array of two, a row with no item.
    let second = nats::drain(&store, &lake, &r, 1, &cfg).await.unwrap();
    let b = batch(&second.outcome);
    assert_eq!(second.received, 5);
    assert_eq!((b.rows_read, b.rows_stored, b.rows_quarantined), (6, 4, 2));
    let idle = nats::drain(&store, &lake, &r, 1, &cfg).await.unwrap();
    assert!(idle.outcome.is_none());
    assert_eq!(idle.message(), "no new messages");

    // The publisher sends m3 again once the server no longer remembers it: dropped by id.
    tokio::time::sleep(Duration::from_millis(400)).await;
    publish("m3".into(), r#"{"姓名":"张三3"}"#.into()).await;
    let again = nats::drain(&store, &lake, &r, 1, &cfg).await.unwrap();
    assert!(again.outcome.is_none(), "{again:?}");
    assert_eq!((again.received, again.duplicates), (1, 1));
    assert!(again.message().contains("duplicates dropped"));

    let table = table_name(&r);
    assert_eq!(ods_rows(&lake, &table).await, 14);
    let ctx = lake.session().await.unwrap();
    let q = query(
        &ctx,
        &format!("SELECT count(*) FROM quarantine.{table} WHERE reason_code IN ('ingest_bad_json', 'ingest_no_known_field')"),
    )
    .await
    .unwrap();
    assert_eq!(count(&q), 2);
    let refs = query(
        &ctx,
        &format!("SELECT count(*) FROM ods.{table} WHERE _source_ref LIKE 'nats:{subject}#%'"),
    )
    .await
    .unwrap();
    assert_eq!(
        count(&refs),
        14,
        "every row says which message it came from"
    );

    // A wrong stream name is an error that names it.
    let bad = NatsFeed {
        stream: "NO_SUCH_STREAM".into(),
        ..cfg
    };
    let e = nats::drain(&store, &lake, &r, 1, &bad).await.unwrap_err();
    assert!(e.message.contains("NO_SUCH_STREAM"), "{}", e.message);
    js.delete_stream(&stream).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_feed_with_mapping_and_repeats() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let r = resource(&store, &["姓名", "公民身份号码"]).await;

    let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let queue = unique("yishu-t-");
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let publish = |id: Option<&str>, body: String| {
        let props = match id {
            Some(id) => BasicProperties::default().with_message_id(id.into()),
            None => BasicProperties::default(),
        };
        let (ch, queue) = (ch.clone(), queue.clone());
        async move {
            ch.basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                props,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        }
    };
    for i in 1..=5 {
        publish(
            Some(&format!("a{i}")),
            format!(r#"{{"name":"赵六{i}","sfzh":"51010119900101000{i}"}}"#),
        )
        .await;
    }
    // Sent twice by an at-least-once publisher.
    publish(
        Some("a2"),
        r#"{"name":"赵六2","sfzh":"510101199001010002"}"#.into(),
    )
    .await;
    // No id: recognised by its body.
    publish(None, r#"{"name":"钱七"}"#.into()).await;
    publish(None, r#"{"name":"钱七"}"#.into()).await;

    let cfg = AmqpFeed {
        url: amqp_url(),
        queue: queue.clone(),
        window_ms: 300,
        max_rows: 100,
        mapping: [("name", "姓名"), ("sfzh", "公民身份号码")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    };
    let run = amqp::drain(&store, &lake, &r, 7, &cfg).await.unwrap();
    let b = batch(&run.outcome);
    assert_eq!((run.received, run.duplicates), (8, 2));
    assert_eq!((b.rows_read, b.rows_stored), (6, 6));
    assert_eq!(b.drift["missing_items"], serde_json::json!([]));
    let table = table_name(&r);
    let ctx = lake.session().await.unwrap();
    let named = query(
        &ctx,
        &format!("SELECT count(*) FROM ods.{table} WHERE \"姓名\" = '赵六2' AND \"公民身份号码\" = '510101199001010002'"),
    )
    .await
    .unwrap();
    assert_eq!(count(&named), 1, "mapped keys land in their items, once");

    // Everything was acknowledged: the queue is empty and the next window finds nothing.
    let idle = amqp::drain(&store, &lake, &r, 7, &cfg).await.unwrap();
    assert_eq!(idle.received, 0);
    let q = ch
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert_eq!(q.message_count(), 0);

    // As a scheduled source: the run is recorded on the source and audited; an idle window is
    // recorded but not audited.
    let src = store
        .create_source(
            r.id,
            "rabbitmq",
            &serde_json::json!({"url": amqp_url(), "queue": queue, "window_ms": 300}),
            "@every 5s",
            "test",
        )
        .await
        .unwrap();
    publish(Some("a9"), r#"{"name":"周八"}"#.into()).await;
    let done = yishu_ingest::sources::run(&store, &lake, &src)
        .await
        .unwrap();
    assert_eq!(done.last_status, "succeeded", "{}", done.last_message);
    assert!(
        done.last_message.contains("1 message(s)"),
        "{}",
        done.last_message
    );
    let idle = yishu_ingest::sources::run(&store, &lake, &src)
        .await
        .unwrap();
    assert_eq!(
        (idle.last_status.as_str(), idle.last_message.as_str()),
        ("unchanged", "no new messages")
    );
    let runs = store
        .list_audit(
            &yishu_meta::AuditFilter {
                action: Some("source.run".into()),
                ..Default::default()
            },
            10,
            0,
        )
        .await
        .unwrap();
    assert_eq!(runs.total, 1);

    let missing = AmqpFeed {
        queue: "yishu-no-such-queue".into(),
        ..cfg
    };
    let e = amqp::drain(&store, &lake, &r, 7, &missing)
        .await
        .unwrap_err();
    assert!(e.message.contains("no such queue"), "{}", e.message);
    ch.queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivery_after_a_crash_stores_each_row_once() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let r = resource(&store, &["姓名"]).await;
    let msg = |i: usize| Message {
        id: format!("k{i}"),
        source_ref: format!("test#{i}"),
        body: format!(r#"{{"姓名":"孙{i}"}}"#).into_bytes(),
    };
    let none = Default::default();

    // Died before its commit: the batch is running and holds k0, k1 — the next run fails it and
    // takes them again.
    let BatchStart::New(dead) = store.start_batch(r.id, "test", FEED_PENDING).await.unwrap() else {
        panic!("a new batch")
    };
    store
        .take_messages(r.id, &dead, &["k0".into(), "k1".into()])
        .await
        .unwrap();
    let msgs: Vec<Message> = (0..3).map(msg).collect();
    let run = ingest_messages(&store, &lake, &r, "test", msgs, &none)
        .await
        .unwrap();
    assert_eq!(batch(&run.outcome).rows_stored, 3);
    assert_eq!(store.get_batch(&dead).await.unwrap().status, "failed");

    // Committed but never acknowledged: the broker sends all three again with one more.
    let msgs: Vec<Message> = (0..4).map(msg).collect();
    let run = ingest_messages(&store, &lake, &r, "test", msgs, &none)
        .await
        .unwrap();
    assert_eq!(run.duplicates, 3);
    assert_eq!(batch(&run.outcome).rows_stored, 1);
    assert_eq!(ods_rows(&lake, &table_name(&r)).await, 4);
    assert!(
        lake.find_commit(Layer::Ods, &table_name(&r), "yishu.batch_id", &dead)
            .await
            .unwrap()
            .is_none()
    );
}
