//! Kafka through rdkafka: header carriers (`OwnedHeaders`, `BorrowedHeaders`, `OwnedMessage`,
//! `BorrowedMessage`), what `#[traced_rpc(consumer)]` reads from a message, and [`send`], which
//! produces and traces in one call ([`producer_span`] for producers of other shapes).
//!
//! ```ignore
//! // (Not compiled here: it needs a producer and a consumer configured for a cluster;
//! // `tests/tests/kafka_carriers.rs` runs the carriers and `send`'s span in memory.)
//! // Producer: a `{topic} publish` span, its context in the record's headers.
//! traceweave::integrations::kafka::send(&producer, FutureRecord::to("orders").payload(&body),
//!     Duration::from_secs(1)).await?;
//!
//! // Consumer: a span under the producer's.
//! #[traced_rpc(consumer)]
//! async fn handle(message: &BorrowedMessage<'_>) { ... }
//! ```
//!
//! rdkafka links the system's librdkafka (Debian's `librdkafka-dev`): nothing in C is built.

use std::borrow::Cow;

use rdkafka::message::{
    BorrowedHeaders, BorrowedMessage, Header, Headers, Message, OwnedHeaders, OwnedMessage, ToBytes,
};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

use crate::context::Context;
use crate::propagation::{Extractor, Injector, RpcCarrier};
use crate::semconv::attr;
use crate::span::{Parent, Span, SpanKind};

/// The headers as text: values that are not UTF-8 (or absent) are skipped.
fn text_headers<H: Headers>(headers: &H) -> impl Iterator<Item = (&str, &str)> {
    headers.iter().filter_map(|h| {
        let value = std::str::from_utf8(h.value?).ok()?;
        Some((h.key, value))
    })
}

macro_rules! headers_extractor {
    ($ty:ty) => {
        /// Kafka header keys are case-sensitive on the wire; they are matched here
        /// case-insensitively like every other carrier's.
        impl Extractor for $ty {
            fn get(&self, key: &str) -> Option<&str> {
                text_headers(self)
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            }
            fn get_all(&self, key: &str) -> Vec<&str> {
                text_headers(self)
                    .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
                    .collect()
            }
            fn keys(&self) -> Vec<String> {
                text_headers(self)
                    .map(|(k, _)| k.to_ascii_lowercase())
                    .collect()
            }
            fn entries(&self) -> Option<Vec<(&str, &str)>> {
                Some(text_headers(self).collect())
            }
        }
    };
}

headers_extractor!(OwnedHeaders);
headers_extractor!(BorrowedHeaders);

/// Sets the header, replacing any value the key had (a record re-sent from a new span must
/// not carry its old parent first); other headers, binary ones included, stay in order.
impl Injector for OwnedHeaders {
    fn set(&mut self, key: &str, value: String) {
        let old = std::mem::replace(self, OwnedHeaders::new());
        let mut kept = OwnedHeaders::new_with_capacity(old.count() + 1);
        for h in old.iter().filter(|h| !h.key.eq_ignore_ascii_case(key)) {
            kept = kept.insert(h);
        }
        *self = kept.insert(Header {
            key,
            value: Some(value.as_str()),
        });
    }
}

macro_rules! message_carrier {
    ($ty:ty) => {
        impl Extractor for $ty {
            fn get(&self, key: &str) -> Option<&str> {
                self.headers().and_then(|h| Extractor::get(h, key))
            }
            fn get_all(&self, key: &str) -> Vec<&str> {
                self.headers()
                    .map(|h| Extractor::get_all(h, key))
                    .unwrap_or_default()
            }
            fn keys(&self) -> Vec<String> {
                self.headers().map(Extractor::keys).unwrap_or_default()
            }
            fn entries(&self) -> Option<Vec<(&str, &str)>> {
                Some(
                    self.headers()
                        .and_then(Extractor::entries)
                        .unwrap_or_default(),
                )
            }
        }

        impl RpcCarrier for $ty {
            fn parent_context(&self) -> Context {
                crate::propagation::extract(self)
            }
            fn describe(&self, span: &mut Span) {
                describe_received(span, self);
            }
        }
    };
}

message_carrier!(OwnedMessage);
message_carrier!(BorrowedMessage<'_>);

fn describe_received<M: Message>(span: &mut Span, message: &M) {
    span.set_attribute(attr::MESSAGING_SYSTEM, "kafka");
    span.set_attribute(attr::MESSAGING_OPERATION_TYPE, "process");
    span.set_attribute(attr::MESSAGING_DESTINATION_NAME, message.topic().to_owned());
    span.set_attribute(
        attr::MESSAGING_DESTINATION_PARTITION_ID,
        message.partition().to_string(),
    );
    span.set_attribute(attr::MESSAGING_KAFKA_OFFSET, message.offset());
    if let Some(key) = message.key().and_then(|k| std::str::from_utf8(k).ok()) {
        span.set_attribute(attr::MESSAGING_KAFKA_MESSAGE_KEY, key.to_owned());
    }
    if let Some(payload) = message.payload() {
        span.set_attribute(attr::MESSAGING_MESSAGE_BODY_SIZE, payload.len() as i64);
    }
}

/// Starts the producer span of `record` (`{topic} publish`, child of the current context) and
/// injects its context into the record's headers (kept: other headers stay), with
/// `messaging.system = "kafka"`, `messaging.operation.type`, `messaging.destination.name`,
/// `messaging.destination.partition.id` (when chosen), `messaging.kafka.message.key` (UTF-8
/// keys) and `messaging.message.body.size`. End the span when the send is acknowledged.
pub fn producer_span<K, P>(record: &mut FutureRecord<'_, K, P>) -> Span
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    let mut span = crate::tracer::start(
        Cow::Owned(format!("{} publish", record.topic)),
        SpanKind::Producer,
        Parent::Current,
    );
    let mut headers = record.headers.take().unwrap_or_default();
    crate::propagation::inject_context(&span.context(), &mut headers);
    record.headers = Some(headers);
    if span.is_recording() {
        span.set_attribute(attr::MESSAGING_SYSTEM, "kafka");
        span.set_attribute(attr::MESSAGING_OPERATION_TYPE, "send");
        span.set_attribute(attr::MESSAGING_OPERATION_NAME, "send");
        span.set_attribute(attr::MESSAGING_DESTINATION_NAME, record.topic.to_owned());
        if let Some(partition) = record.partition {
            span.set_attribute(
                attr::MESSAGING_DESTINATION_PARTITION_ID,
                partition.to_string(),
            );
        }
        if let Some(key) = record
            .key
            .and_then(|k| std::str::from_utf8(k.to_bytes()).ok())
        {
            span.set_attribute(attr::MESSAGING_KAFKA_MESSAGE_KEY, key.to_owned());
        }
        if let Some(payload) = record.payload {
            span.set_attribute(
                attr::MESSAGING_MESSAGE_BODY_SIZE,
                payload.to_bytes().len() as i64,
            );
        }
    }
    span
}

/// `FutureProducer::send` inside the [`producer_span`] of `record`, lasting until the broker
/// acknowledged (or refused) the message; a failed delivery marks it failed. The partition and
/// offset the broker gave are recorded.
pub async fn send<K, P>(
    producer: &FutureProducer,
    mut record: FutureRecord<'_, K, P>,
    queue_timeout: impl Into<Timeout>,
) -> Result<(i32, i64), (rdkafka::error::KafkaError, OwnedMessage)>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    let mut span = producer_span(&mut record);
    let send = producer.send(record, queue_timeout);
    // A refused delivery hands the message back beside its cause; the cause marks the span.
    let mut handed_back = None;
    let result = super::sent_in(&mut span, async {
        send.await.map_err(|(e, message)| {
            handed_back = Some(message);
            e
        })
    })
    .await;
    if let Ok((partition, offset)) = &result
        && span.is_recording()
    {
        span.set_attribute(
            attr::MESSAGING_DESTINATION_PARTITION_ID,
            partition.to_string(),
        );
        span.set_attribute(attr::MESSAGING_KAFKA_OFFSET, *offset);
    }
    result.map_err(|e| {
        (
            e,
            handed_back.expect("a refused delivery hands its message back"),
        )
    })
}
