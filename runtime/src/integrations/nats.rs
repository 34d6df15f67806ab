//! NATS through async-nats: header carriers (`HeaderMap`, `Message`) and what
//! `#[traced_rpc(consumer)]` reads from a message.

use async_nats::HeaderMap;

use crate::context::Context;
use crate::propagation::{Extractor, Injector, RpcCarrier};
use crate::semconv::attr;
use crate::span::Span;

impl Extractor for HeaderMap {
    fn get(&self, key: &str) -> Option<&str> {
        if let Some(v) = HeaderMap::get(self, key) {
            return Some(v.as_str());
        }
        self.iter()
            .find(|(k, _)| AsRef::<str>::as_ref(k).eq_ignore_ascii_case(key))
            .and_then(|(_, v)| v.first())
            .map(|v| v.as_str())
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.iter()
            .filter(|(k, _)| AsRef::<str>::as_ref(k).eq_ignore_ascii_case(key))
            .flat_map(|(_, v)| v.iter().map(|v| v.as_str()))
            .collect()
    }
    fn keys(&self) -> Vec<String> {
        self.iter()
            .map(|(k, _)| AsRef::<str>::as_ref(k).to_ascii_lowercase())
            .collect()
    }
    fn entries(&self) -> Option<Vec<(&str, &str)>> {
        Some(
            self.iter()
                .flat_map(|(k, vs)| {
                    let k: &str = k.as_ref();
                    vs.iter().map(move |v| (k, v.as_str()))
                })
                .collect(),
        )
    }
}

impl Injector for HeaderMap {
    fn set(&mut self, key: &str, value: String) {
        // async-nats panics on invalid names; a value with a line break would end the
        // header block on the wire. Neither is written.
        if !key.is_empty()
            && key.bytes().all(|c| c.is_ascii_graphic() && c != b':')
            && !value.bytes().any(|c| c == b'\r' || c == b'\n')
        {
            self.insert(key, value.as_str());
        }
    }
}

impl Extractor for async_nats::Message {
    fn get(&self, key: &str) -> Option<&str> {
        self.headers.as_ref().and_then(|h| Extractor::get(h, key))
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.headers
            .as_ref()
            .map(|h| Extractor::get_all(h, key))
            .unwrap_or_default()
    }
    fn keys(&self) -> Vec<String> {
        self.headers
            .as_ref()
            .map(Extractor::keys)
            .unwrap_or_default()
    }
    fn entries(&self) -> Option<Vec<(&str, &str)>> {
        Some(
            self.headers
                .as_ref()
                .and_then(Extractor::entries)
                .unwrap_or_default(),
        )
    }
}

impl RpcCarrier for async_nats::Message {
    fn parent_context(&self) -> Context {
        crate::propagation::extract(self)
    }
    fn describe(&self, span: &mut Span) {
        span.set_attribute(attr::MESSAGING_SYSTEM, "nats");
        span.set_attribute(attr::MESSAGING_OPERATION_TYPE, "process");
        span.set_attribute(attr::MESSAGING_DESTINATION_NAME, self.subject.to_string());
        span.set_attribute(attr::MESSAGING_MESSAGE_BODY_SIZE, self.payload.len() as i64);
    }
}
