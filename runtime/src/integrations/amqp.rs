//! RabbitMQ through lapin: AMQP header carriers (`FieldTable`, `BasicProperties`,
//! `Delivery`), what `#[traced_rpc(consumer)]` reads from a delivery, and [`publish`], which
//! publishes and traces in one call.
//!
//! ```ignore
//! // (Not compiled here: it needs a lapin channel to a broker.
//! // `tests/tests/rabbitmq_consumer_continues_trace.rs` runs the same calls against RabbitMQ.)
//! // Producer: a `{destination} publish` span, its context in the message headers.
//! traceweave::integrations::amqp::publish(&channel, "", "orders", Default::default(), body,
//!     BasicProperties::default()).await?;
//!
//! // Consumer: a span under the producer's.
//! #[traced_rpc(consumer)]
//! async fn handle(delivery: Delivery) -> Result<(), lapin::Error> { ... }
//! ```

use std::borrow::Cow;

use lapin::PublisherConfirm;
use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel};

use crate::context::Context;
use crate::propagation::{Extractor, Injector, RpcCarrier};
use crate::semconv::attr;
use crate::span::{Parent, Span, SpanKind};

/// `basic_publish` inside a producer span named `{destination} publish` (the exchange, or the
/// routing key on the default exchange), child of the current context, whose context is
/// injected into the message headers (kept: other headers stay as given). Records
/// `messaging.system`, `messaging.operation.type` (`send`), `messaging.operation.name`,
/// `messaging.destination.name`, `messaging.rabbitmq.destination.routing_key` and
/// `messaging.message.body.size`; a failed publish marks the span failed. The span covers the
/// publish, not the broker's confirm (await the returned `PublisherConfirm` for that).
pub async fn publish(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    options: BasicPublishOptions,
    payload: &[u8],
    properties: BasicProperties,
) -> lapin::Result<PublisherConfirm> {
    let destination = if exchange.is_empty() {
        routing_key
    } else {
        exchange
    };
    let mut span = crate::tracer::start(
        Cow::Owned(format!("{destination} publish")),
        SpanKind::Producer,
        Parent::Current,
    );
    let mut headers = properties.headers().clone().unwrap_or_default();
    crate::propagation::inject_context(&span.context(), &mut headers);
    let properties = properties.with_headers(headers);
    if span.is_recording() {
        span.set_attribute(attr::MESSAGING_SYSTEM, "rabbitmq");
        span.set_attribute(attr::MESSAGING_OPERATION_TYPE, "send");
        span.set_attribute(attr::MESSAGING_OPERATION_NAME, "publish");
        span.set_attribute(attr::MESSAGING_DESTINATION_NAME, destination.to_owned());
        if !routing_key.is_empty() {
            span.set_attribute(
                attr::MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY,
                routing_key.to_owned(),
            );
        }
        span.set_attribute(attr::MESSAGING_MESSAGE_BODY_SIZE, payload.len() as i64);
    }
    let publish = channel.basic_publish(
        ShortString::from(exchange),
        ShortString::from(routing_key),
        options,
        payload,
        properties,
    );
    super::sent_in(&mut span, publish).await
}

fn as_str(v: &AMQPValue) -> Option<&str> {
    match v {
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok(),
        AMQPValue::ShortString(s) => Some(s.as_str()),
        _ => None,
    }
}

impl Extractor for FieldTable {
    fn get(&self, key: &str) -> Option<&str> {
        self.inner()
            .iter()
            .find(|(k, _)| k.as_str().eq_ignore_ascii_case(key))
            .and_then(|(_, v)| as_str(v))
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.inner()
            .iter()
            .filter(|(k, _)| k.as_str().eq_ignore_ascii_case(key))
            .filter_map(|(_, v)| as_str(v))
            .collect()
    }
    fn keys(&self) -> Vec<String> {
        self.inner()
            .keys()
            .map(|k| k.as_str().to_ascii_lowercase())
            .collect()
    }
    fn entries(&self) -> Option<Vec<(&str, &str)>> {
        Some(
            self.inner()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), as_str(v)?)))
                .collect(),
        )
    }
}

/// AMQP field names are short strings: a key over 255 bytes is not written (it would not
/// fit the wire format; lapin's `ShortString` panics on it).
impl Injector for FieldTable {
    fn set(&mut self, key: &str, value: String) {
        if key.is_empty() || key.len() > 255 {
            return;
        }
        self.insert(
            ShortString::from(key),
            AMQPValue::LongString(LongString::from(value)),
        );
    }
}

/// Message properties: their `headers` table (absent headers read as empty).
impl Extractor for lapin::BasicProperties {
    fn get(&self, key: &str) -> Option<&str> {
        self.headers().as_ref().and_then(|h| Extractor::get(h, key))
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.headers()
            .as_ref()
            .map(|h| Extractor::get_all(h, key))
            .unwrap_or_default()
    }
    fn entries(&self) -> Option<Vec<(&str, &str)>> {
        Some(
            self.headers()
                .as_ref()
                .and_then(Extractor::entries)
                .unwrap_or_default(),
        )
    }
    fn keys(&self) -> Vec<String> {
        self.headers()
            .as_ref()
            .map(Extractor::keys)
            .unwrap_or_default()
    }
}

impl Extractor for lapin::message::Delivery {
    fn get(&self, key: &str) -> Option<&str> {
        Extractor::get(&self.properties, key)
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        Extractor::get_all(&self.properties, key)
    }
    fn entries(&self) -> Option<Vec<(&str, &str)>> {
        Extractor::entries(&self.properties)
    }
    fn keys(&self) -> Vec<String> {
        Extractor::keys(&self.properties)
    }
}

impl RpcCarrier for lapin::message::Delivery {
    fn parent_context(&self) -> Context {
        crate::propagation::extract(&self.properties)
    }
    fn describe(&self, span: &mut Span) {
        span.set_attribute(attr::MESSAGING_SYSTEM, "rabbitmq");
        span.set_attribute(attr::MESSAGING_OPERATION_TYPE, "process");
        let destination = if self.exchange.as_str().is_empty() {
            self.routing_key.as_str()
        } else {
            self.exchange.as_str()
        };
        span.set_attribute(attr::MESSAGING_DESTINATION_NAME, destination.to_owned());
        span.set_attribute(
            attr::MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY,
            self.routing_key.as_str().to_owned(),
        );
        span.set_attribute(attr::MESSAGING_MESSAGE_BODY_SIZE, self.data.len() as i64);
    }
}

impl RpcCarrier for lapin::BasicProperties {
    fn parent_context(&self) -> Context {
        crate::propagation::extract(self)
    }
    fn describe(&self, span: &mut Span) {
        span.set_attribute(attr::MESSAGING_SYSTEM, "rabbitmq");
    }
}
