//! Over the real NATS server of this machine (127.0.0.1:4222): a producer span injects into the
//! message headers and a `#[traced_rpc(consumer)]` handler taking `async_nats::Message`
//! continues the trace.

use std::time::Duration;

use tokio_stream::StreamExt;
use traceweave::testing::capture_async;
use traceweave::{SpanKind, TraceId, traced, traced_rpc};

#[traced(kind = producer)]
async fn publish(client: &async_nats::Client, subject: String) {
    let mut headers = async_nats::HeaderMap::new();
    traceweave::inject(&mut headers);
    client
        .publish_with_headers(subject, headers, "hello".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
}

#[traced_rpc(consumer)]
async fn on_message(message: async_nats::Message) -> usize {
    message.payload.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_subscriber_continues_the_trace() {
    let client = match async_nats::connect("127.0.0.1:4222").await {
        Ok(c) => c,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("note: no NATS on 127.0.0.1:4222 ({e}); skipping");
            return;
        }
        Err(e) => panic!("CI needs NATS on 127.0.0.1:4222 (.ci/run starts it): {e}"),
    };
    let subject = format!("traceweave.test.{:x}", TraceId::random().to_u128());
    let mut sub = client.subscribe(subject.clone()).await.unwrap();
    let spans = capture_async(async {
        publish(&client, subject.clone()).await;
        let msg = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("a message within 10 s")
            .unwrap();
        assert_eq!(on_message(msg).await, 5);
    })
    .await;
    let producer = spans.named("publish").unwrap();
    let consumer = spans.named("on_message").unwrap();
    assert_eq!(consumer.kind, SpanKind::Consumer);
    assert_eq!(consumer.trace_id, producer.trace_id);
    assert_eq!(consumer.parent_span_id, producer.span_id);
    assert!(consumer.parent_is_remote);
    assert_eq!(
        consumer.attribute("messaging.system").unwrap().as_str(),
        Some("nats")
    );
    assert_eq!(
        consumer
            .attribute("messaging.destination.name")
            .unwrap()
            .as_str(),
        Some(subject.as_str())
    );
}
