//! Over the real NATS server of this machine (127.0.0.1:4222): `integrations::nats::publish`
//! makes a producer span that injects into the message headers, and a `#[traced_rpc(consumer)]`
//! handler taking `async_nats::Message` continues the trace; `integrations::nats::request`
//! makes a client span lasting until the reply, parent of the responder's span.

use std::time::Duration;

use tokio_stream::StreamExt;
use traceweave::testing::capture_async;
use traceweave::{SpanKind, TraceId, traced, traced_rpc};

#[traced]
async fn publish(client: &async_nats::Client, subject: String) {
    traceweave::integrations::nats::publish(client, subject, "hello".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
}

/// The machine's NATS server; `None` (the test is skipped) only outside CI.
async fn connect() -> Option<async_nats::Client> {
    match async_nats::connect("127.0.0.1:4222").await {
        Ok(c) => Some(c),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("note: no NATS on 127.0.0.1:4222 ({e}); skipping");
            None
        }
        Err(e) => panic!("CI needs NATS on 127.0.0.1:4222 (.ci/run starts it): {e}"),
    }
}

#[traced_rpc(consumer)]
async fn on_message(message: async_nats::Message) -> usize {
    message.payload.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_subscriber_continues_the_trace() {
    let Some(client) = connect().await else {
        return;
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
    let root = spans.named("publish").unwrap();
    let producer = spans.named(&format!("{subject} publish")).unwrap();
    assert_eq!(producer.kind, SpanKind::Producer);
    assert_eq!(producer.parent_span_id, root.span_id);
    for (key, value) in [
        ("messaging.system", "nats"),
        ("messaging.operation.type", "send"),
        ("messaging.operation.name", "publish"),
        ("messaging.destination.name", subject.as_str()),
        ("messaging.message.body.size", "5"),
    ] {
        assert_eq!(
            producer.attribute(key).map(|v| v.to_string()).as_deref(),
            Some(value),
            "{key}"
        );
    }
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

#[traced_rpc(consumer)]
async fn answer(client: &async_nats::Client, message: async_nats::Message) {
    let reply = message
        .reply
        .clone()
        .expect("a request has a reply subject");
    client.publish(reply, "in stock".into()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_a_client_span_parent_of_the_responder() {
    let Some(client) = connect().await else {
        return;
    };
    let subject = format!("traceweave.stock.{:x}", TraceId::random().to_u128());
    let mut sub = client.subscribe(subject.clone()).await.unwrap();
    client.flush().await.unwrap();
    let spans = capture_async(async {
        let responder = async {
            let msg = tokio::time::timeout(Duration::from_secs(10), sub.next())
                .await
                .expect("a request within 10 s")
                .unwrap();
            answer(&client, msg).await;
        };
        let ask = traceweave::integrations::nats::request(&client, subject.clone(), "sku-1".into());
        let (reply, ()) = tokio::join!(ask, responder);
        assert_eq!(&reply.unwrap().payload[..], b"in stock");

        // Nobody listens here: the request fails and so does its span.
        let nobody = format!("{subject}.nobody");
        assert!(
            traceweave::integrations::nats::request(&client, nobody, "x".into())
                .await
                .is_err()
        );
    })
    .await;
    let request = spans.named(&format!("{subject} request")).unwrap();
    assert_eq!(request.kind, SpanKind::Client);
    assert!(!request.status.is_error());
    let responder = spans.named("answer").unwrap();
    assert_eq!(responder.parent_span_id, request.span_id);
    assert!(
        request.end_time_unix_nano >= responder.end_time_unix_nano,
        "lasts until the reply"
    );
    let failed = spans.named(&format!("{subject}.nobody request")).unwrap();
    assert!(failed.status.is_error());
    assert!(failed.attribute("error.type").is_some());
}

/// The helpers' futures are `Send`: they can run in `tokio::spawn`ed tasks.
#[allow(dead_code)]
fn the_helpers_futures_are_send(client: &async_nats::Client, channel: &lapin::Channel) {
    fn is_send<T: Send>(_: &T) {}
    is_send(&traceweave::integrations::nats::publish(
        client,
        "s",
        "x".into(),
    ));
    is_send(&traceweave::integrations::nats::request(
        client,
        "s",
        "x".into(),
    ));
    is_send(&traceweave::integrations::amqp::publish(
        channel,
        "",
        "q",
        Default::default(),
        b"x",
        Default::default(),
    ));
}
