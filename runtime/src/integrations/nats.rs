//! NATS through async-nats: header carriers (`HeaderMap`, `Message`), what
//! `#[traced_rpc(consumer)]` reads from a message, and [`publish`] / [`request`], which send
//! and trace in one call.
//!
//! ```no_run
//! use traceweave::integrations::nats;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = async_nats::connect("127.0.0.1:4222").await?;
//! nats::publish(&client, "orders.created", "order 7".into()).await?;
//! let reply = nats::request(&client, "stock.check", "sku 42".into()).await?;
//!
//! // The consumer's handler: a span under the publisher's.
//! #[traceweave::traced_rpc(consumer)]
//! async fn on_order(message: async_nats::Message) {
//!     let _ = message.payload;
//! }
//! # let _ = (reply, on_order);
//! # Ok(())
//! # }
//! ```

use std::borrow::Cow;

use async_nats::HeaderMap;
use async_nats::subject::ToSubject;
use bytes::Bytes;

use crate::context::Context;
use crate::propagation::{Extractor, Injector, RpcCarrier};
use crate::semconv::attr;
use crate::span::{Parent, Span, SpanKind};

/// Starts the span of a send to `subject` and injects its context into `headers`.
fn send_span(
    subject: &str,
    operation: &'static str,
    kind: SpanKind,
    headers: &mut HeaderMap,
    size: usize,
) -> Span {
    let mut span = crate::tracer::start(
        Cow::Owned(format!("{subject} {operation}")),
        kind,
        Parent::Current,
    );
    crate::propagation::inject_context(&span.context(), headers);
    if span.is_recording() {
        span.set_attribute(attr::MESSAGING_SYSTEM, "nats");
        span.set_attribute(attr::MESSAGING_OPERATION_TYPE, "send");
        span.set_attribute(attr::MESSAGING_OPERATION_NAME, operation);
        span.set_attribute(attr::MESSAGING_DESTINATION_NAME, subject.to_owned());
        span.set_attribute(attr::MESSAGING_MESSAGE_BODY_SIZE, size as i64);
    }
    span
}

/// `Client::publish` inside a producer span `{subject} publish`, child of the current context,
/// its context in the message headers; `messaging.system = "nats"`, `messaging.operation.type`,
/// `messaging.destination.name`, `messaging.message.body.size`.
pub async fn publish(
    client: &async_nats::Client,
    subject: impl ToSubject,
    payload: Bytes,
) -> Result<(), async_nats::PublishError> {
    publish_with_headers(client, subject, HeaderMap::new(), payload).await
}

/// [`publish`] with headers of the caller's (the context is added to them).
pub async fn publish_with_headers(
    client: &async_nats::Client,
    subject: impl ToSubject,
    mut headers: HeaderMap,
    payload: Bytes,
) -> Result<(), async_nats::PublishError> {
    let subject = subject.to_subject();
    let mut span = send_span(
        &subject,
        "publish",
        SpanKind::Producer,
        &mut headers,
        payload.len(),
    );
    super::sent_in(
        &mut span,
        client.publish_with_headers(subject, headers, payload),
    )
    .await
}

/// `Client::request` inside a client span `{subject} request` that lasts until the reply
/// arrives (or the request fails: no responders, a timeout), its context in the headers, so
/// the responder's `#[traced_rpc(consumer)]` span is its child.
pub async fn request(
    client: &async_nats::Client,
    subject: impl ToSubject,
    payload: Bytes,
) -> Result<async_nats::Message, async_nats::RequestError> {
    let subject = subject.to_subject();
    let mut headers = HeaderMap::new();
    let mut span = send_span(
        &subject,
        "request",
        SpanKind::Client,
        &mut headers,
        payload.len(),
    );
    super::sent_in(
        &mut span,
        client.request_with_headers(subject, headers, payload),
    )
    .await
}

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
