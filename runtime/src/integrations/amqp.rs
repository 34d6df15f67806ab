//! RabbitMQ through lapin: AMQP header carriers (`FieldTable`, `BasicProperties`,
//! `Delivery`) and what `#[traced_rpc(consumer)]` reads from a delivery.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

use crate::context::Context;
use crate::propagation::{Extractor, Injector, RpcCarrier};
use crate::semconv::attr;
use crate::span::Span;

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
