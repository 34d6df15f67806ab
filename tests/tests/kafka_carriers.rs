//! Kafka through rdkafka (feature `kafka`, linking Debian's librdkafka). No Kafka broker can be
//! installed on these machines from Debian's packages or PyPI, so the carriers are tested on
//! records and messages built in memory: a record's producer span injects into its headers (the
//! application's own headers, binary ones included, stay), the message a consumer receives
//! with those headers continues the trace through `#[traced_rpc(consumer)]`, and `send` to a
//! broker that is not there fails its span instead of hanging.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage, Timestamp};
use rdkafka::producer::{FutureProducer, FutureRecord};
use traceweave::integrations::kafka;
use traceweave::testing::{capture, capture_async};
use traceweave::{Extractor, Injector, SpanKind, traced, traced_rpc};

#[traced_rpc(consumer)]
fn consume(message: &OwnedMessage) -> usize {
    message.payload().map_or(0, <[u8]>::len)
}

/// What the broker would hand the consumer: the record's topic, key, payload and headers.
fn delivered(record: FutureRecord<'_, str, [u8]>) -> OwnedMessage {
    OwnedMessage::new(
        record.payload.map(<[u8]>::to_vec),
        record.key.map(|k| k.as_bytes().to_vec()),
        record.topic.to_owned(),
        Timestamp::CreateTime(1_700_000_000_000),
        3,
        42,
        record.headers,
    )
}

#[test]
fn a_consumer_continues_the_trace_of_the_record_it_receives() {
    let spans = capture(|| {
        #[traced]
        fn produce_and_consume() {
            let app_headers = OwnedHeaders::new()
                .insert(Header {
                    key: "tenant",
                    value: Some("acme"),
                })
                .insert(Header {
                    key: "blob",
                    value: Some(&[0xff_u8, 0x00][..]),
                });
            let mut record = FutureRecord::<str, [u8]>::to("orders")
                .key("order-7")
                .payload(b"{\"id\":7}")
                .headers(app_headers);
            let span = kafka::producer_span(&mut record);
            let headers = record.headers.as_ref().unwrap();
            assert_eq!(Extractor::get(headers, "tenant"), Some("acme"));
            assert_eq!(headers.count(), 3, "tenant, blob, traceparent");
            assert!(
                Extractor::get(headers, "traceparent")
                    .unwrap()
                    .starts_with("00-")
            );
            drop(span);
            assert_eq!(consume(&delivered(record)), 8);
        }
        produce_and_consume();
    });
    let producer = spans.named("orders publish").unwrap();
    let consumer = spans.named("consume").unwrap();
    assert_eq!(producer.kind, SpanKind::Producer);
    assert_eq!(consumer.kind, SpanKind::Consumer);
    assert_eq!(consumer.parent_span_id, producer.span_id);
    assert!(consumer.parent_is_remote);
    let attr = |s: &traceweave::SpanRecord, k: &str| s.attribute(k).map(|v| v.to_string());
    for (key, value) in [
        ("messaging.system", "kafka"),
        ("messaging.operation.type", "send"),
        ("messaging.destination.name", "orders"),
        ("messaging.kafka.message.key", "order-7"),
        ("messaging.message.body.size", "8"),
    ] {
        assert_eq!(
            attr(producer, key).as_deref(),
            Some(value),
            "producer {key}"
        );
    }
    for (key, value) in [
        ("messaging.system", "kafka"),
        ("messaging.operation.type", "process"),
        ("messaging.destination.name", "orders"),
        ("messaging.destination.partition.id", "3"),
        ("messaging.kafka.offset", "42"),
        ("messaging.kafka.message.key", "order-7"),
        ("messaging.message.body.size", "8"),
    ] {
        assert_eq!(
            attr(consumer, key).as_deref(),
            Some(value),
            "consumer {key}"
        );
    }
}

#[test]
fn injecting_again_replaces_the_old_context_and_keeps_the_rest() {
    let mut headers = OwnedHeaders::new()
        .insert(Header {
            key: "traceparent",
            value: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        })
        .insert(Header {
            key: "blob",
            value: Some(&[0xff_u8][..]),
        });
    headers.set(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
    );
    assert_eq!(headers.count(), 2);
    assert_eq!(
        Extractor::get_all(&headers, "traceparent"),
        ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]
    );
    assert_eq!(
        Headers::get(&headers, 0).key,
        "blob",
        "binary headers kept, in order"
    );
    // Malformed or binary values never break extraction: a new trace starts.
    let garbage = OwnedHeaders::new().insert(Header {
        key: "traceparent",
        value: Some(&[0xc3_u8, 0x28][..]),
    });
    assert!(!traceweave::extract(&garbage).span_context().is_valid());
}

#[tokio::test]
async fn a_send_to_no_broker_fails_its_span_and_returns() {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:1")
        .set("message.timeout.ms", "300")
        .set("log_level", "0")
        .create()
        .unwrap();
    let spans = capture_async(async {
        let record = FutureRecord::<str, [u8]>::to("orders").payload(b"x");
        let sent = tokio::time::timeout(
            Duration::from_secs(10),
            kafka::send(&producer, record, Duration::from_millis(100)),
        )
        .await
        .expect("the delivery timeout ends the send");
        assert!(sent.is_err());
    })
    .await;
    let span = spans.named("orders publish").unwrap();
    assert!(span.status.is_error());
    let error_type = span.attribute("error.type").unwrap().to_string();
    assert!(error_type.ends_with("KafkaError"), "{error_type}");
}
