//! Over the real RabbitMQ broker of this machine (127.0.0.1:5672): `integrations::amqp::publish`
//! makes a producer span that injects into the AMQP message headers and a
//! `#[traced_rpc(consumer)]` handler continues the trace on the other side of the broker; a
//! `link` consumer starts its own trace linked to the producer.

use std::time::Duration;

use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio_stream::StreamExt;
use traceweave::testing::capture_async;
use traceweave::{SpanKind, TraceId, traced_rpc};

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

async fn publish(channel: &Channel, queue: &str, body: &[u8]) {
    // Headers of the application's own survive the injection.
    let mut headers = FieldTable::default();
    headers.insert("app-header".into(), lapin::types::AMQPValue::Boolean(true));
    traceweave::integrations::amqp::publish(
        channel,
        "",
        queue,
        BasicPublishOptions::default(),
        body,
        BasicProperties::default().with_headers(headers),
    )
    .await
    .expect("publish")
    .await
    .expect("confirm");
}

#[traced_rpc(consumer)]
async fn handle_order(delivery: Delivery) -> Result<usize, lapin::Error> {
    let headers = delivery.properties.headers().clone().unwrap_or_default();
    assert!(headers.inner().contains_key("app-header"));
    delivery.ack(BasicAckOptions::default()).await?;
    Ok(delivery.data.len())
}

#[traced_rpc(consumer, link, name = "audit")]
async fn audit(delivery: &Delivery) {
    delivery.ack(BasicAckOptions::default()).await.expect("ack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_continues_the_producers_trace_through_rabbitmq() {
    let conn = match Connection::connect(AMQP, ConnectionProperties::default()).await {
        Ok(c) => c,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("note: no RabbitMQ on 127.0.0.1:5672 ({e}); skipping");
            return;
        }
        Err(e) => panic!("CI needs RabbitMQ on 127.0.0.1:5672 (.ci/run starts it): {e}"),
    };
    let channel = conn.create_channel().await.unwrap();
    let queue = format!("traceweave-test-{:x}", TraceId::random().to_u128());
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "traceweave-test".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let spans = capture_async(async {
        publish(&channel, &queue, b"order 42").await;
        let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.next())
            .await
            .expect("a delivery within 10 s")
            .unwrap()
            .unwrap();
        assert_eq!(handle_order(delivery).await.unwrap(), 8);

        publish(&channel, &queue, b"audit").await;
        let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.next())
            .await
            .expect("a delivery within 10 s")
            .unwrap()
            .unwrap();
        audit(&delivery).await;
    })
    .await;

    let name = format!("{queue} publish");
    let producers: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(producers.len(), 2);
    assert_eq!(producers[0].kind, SpanKind::Producer);
    for (key, value) in [
        ("messaging.system", "rabbitmq"),
        ("messaging.operation.type", "send"),
        ("messaging.operation.name", "publish"),
        ("messaging.destination.name", queue.as_str()),
        ("messaging.rabbitmq.destination.routing_key", queue.as_str()),
        ("messaging.message.body.size", "8"),
    ] {
        assert_eq!(
            producers[0]
                .attribute(key)
                .map(|v| v.to_string())
                .as_deref(),
            Some(value),
            "{key}"
        );
    }
    let consumer_span = spans.named("handle_order").unwrap();
    assert_eq!(consumer_span.kind, SpanKind::Consumer);
    assert_eq!(consumer_span.trace_id, producers[0].trace_id);
    assert_eq!(consumer_span.parent_span_id, producers[0].span_id);
    assert!(
        consumer_span.parent_is_remote,
        "the parent came through the broker"
    );
    assert_eq!(
        consumer_span
            .attribute("messaging.system")
            .unwrap()
            .as_str(),
        Some("rabbitmq")
    );
    assert_eq!(
        consumer_span
            .attribute("messaging.destination.name")
            .unwrap()
            .as_str(),
        Some(queue.as_str())
    );
    let audit = spans.named("audit").unwrap();
    assert!(audit.is_root());
    assert_ne!(audit.trace_id, producers[1].trace_id);
    assert_eq!(audit.links.len(), 1);
    assert_eq!(audit.links[0].span_id, producers[1].span_id);
    assert_eq!(audit.links[0].trace_id, producers[1].trace_id);
    let _ = conn.close(0, "done".into()).await;
}
