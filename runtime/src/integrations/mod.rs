//! One module per ecosystem: its carriers, what `#[traced_rpc]` reads from its requests, and
//! its layers and helpers. Adding an ecosystem touches one file here.

#[cfg(feature = "http")]
pub mod http;

#[cfg(feature = "reqwest")]
pub mod reqwest;

#[cfg(feature = "tonic")]
pub mod tonic;

#[cfg(feature = "amqp")]
pub mod amqp;

#[cfg(feature = "nats")]
pub mod nats;

#[cfg(feature = "kafka")]
pub mod kafka;

#[cfg(feature = "opentelemetry-api")]
pub mod opentelemetry;

#[cfg(feature = "tracing")]
pub mod tracing;

#[cfg(feature = "log")]
pub mod log;

/// `error.type` for an error of type `E`: its type's path, `_OTHER` behind a trait object.
#[cfg(any(
    feature = "http",
    feature = "amqp",
    feature = "nats",
    feature = "kafka"
))]
pub(crate) fn error_type<E: ?Sized>() -> &'static str {
    let name = std::any::type_name::<E>();
    if name.contains("dyn ") {
        "_OTHER"
    } else {
        name
    }
}

/// Marks a span failed by `error` (`error.type` and the status).
#[cfg(any(
    feature = "http",
    feature = "amqp",
    feature = "nats",
    feature = "kafka"
))]
pub(crate) fn record_failure<E: std::fmt::Display>(span: &mut crate::span::Span, error: &E) {
    if span.is_recording() {
        span.set_attribute(crate::semconv::attr::ERROR_TYPE, error_type::<E>());
        // Error texts quote URLs (a client's "error sending request for url (...)"): never
        // their query or credentials.
        let text = error.to_string();
        let text = crate::redact::strip_url_secrets(&text).into_owned();
        span.set_status(crate::span::Status::error(text));
    }
}

/// Awaits `send` with `span` current, marking the span failed if it fails (the producer
/// helpers: the span ends when the caller drops it).
#[cfg(any(feature = "amqp", feature = "nats", feature = "kafka"))]
pub(crate) async fn sent_in<T, E: std::fmt::Display>(
    span: &mut crate::span::Span,
    send: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    use crate::context::FutureExt;
    let result = match span.attach_context() {
        Some(ctx) => send.with_context(ctx).await,
        None => send.await,
    };
    if let Err(e) = &result {
        record_failure(span, e);
    }
    result
}
