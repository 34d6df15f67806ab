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
        span.set_status(crate::span::Status::error(error_text(span, error)));
    }
}

/// An error's text for a span's status: formatting stops at the span's value length limit
/// (or the cap on formatted values), and since error texts quote URLs (a client's "error
/// sending request for url (...)"), every URL loses its query and credentials — after the cut,
/// so a URL cut in its query still loses what is left of it.
#[cfg(any(
    feature = "http",
    feature = "amqp",
    feature = "nats",
    feature = "kafka"
))]
pub(crate) fn error_text(span: &crate::span::Span, error: &dyn std::fmt::Display) -> String {
    let text = span.format_value(format_args!("{error}"));
    match crate::redact::strip_url_secrets(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(stripped) => stripped,
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

#[cfg(all(test, feature = "http"))]
mod tests {
    use std::fmt;

    /// "GET https://h/p?sig=SECRET failed: " and then 64 MiB of detail, in 1 MiB writes.
    struct Huge;

    impl fmt::Display for Huge {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("GET https://h/p?sig=SECRET failed: ")?;
            let chunk = "x".repeat(1 << 20);
            for _ in 0..64 {
                f.write_str(&chunk)?;
            }
            Ok(())
        }
    }

    #[test]
    fn error_texts_are_bounded_and_lose_url_queries() {
        let mut text = String::new();
        let _ = crate::testing::capture(|| {
            let span = crate::span("failing").start();
            text = super::error_text(&span, &Huge);
            span.end();
        });
        assert!(
            text.starts_with("GET https://h/p failed: "),
            "{}",
            &text[..40]
        );
        assert!(!text.contains("SECRET"));
        assert!(text.chars().count() <= crate::FORMATTED_VALUE_CAP as usize);
    }
}
