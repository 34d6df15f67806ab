//! The current span, for code inside a traced function that does not hold its `Span`.

use std::borrow::Cow;

use super::inbox::{self, Op};
use super::{Key, KeyValue, Status, Value};
use crate::context::{self, Context, SpanContext};

/// A handle on the span that was current when [`current_span`] was called: the span of the
/// enclosing `#[traced]` / `#[traced_rpc]` fn, an entered [`Span`](crate::Span), a layer's
/// request span, or a `tracing` span through the layer.
///
/// Changes are applied to the span when its code next leaves this thread (the fn returns, the
/// future's poll ends), in the order they were made. They reach the span while its code runs
/// on the calling thread; held across `.await` inside the traced future, the handle keeps
/// working. Elsewhere (another thread, after the span ended) they are dropped: the handle
/// never keeps a span open. When nothing is recording, every method is a few loads.
///
/// ```
/// use traceweave::{current_span, traced};
///
/// #[traced]
/// fn charge(amount: u64) -> Result<(), std::io::Error> {
///     let span = current_span();
///     span.set_attribute("payment.amount", amount as i64);
///     let err = std::io::Error::other("card declined");
///     span.record_error(&err);
///     Err(err)
/// }
/// # let spans = traceweave::testing::capture(|| { let _ = charge(5); });
/// # let s = spans.named("charge").unwrap();
/// # assert_eq!(s.attribute("payment.amount").unwrap().as_i64(), Some(5));
/// # assert_eq!(s.events[0].name, "exception");
/// ```
#[derive(Debug, Clone)]
pub struct CurrentSpan {
    span_context: SpanContext,
}

/// The span current on this thread (see [`CurrentSpan`]).
pub fn current_span() -> CurrentSpan {
    CurrentSpan {
        span_context: *Context::current().span_context(),
    }
}

impl CurrentSpan {
    /// The span's identity (invalid when no span was current).
    pub fn span_context(&self) -> SpanContext {
        self.span_context
    }

    /// Whether changes made now reach a recording span.
    pub fn is_recording(&self) -> bool {
        self.frame().is_some()
    }

    fn frame(&self) -> Option<u64> {
        if !self.span_context.is_sampled() {
            return None;
        }
        context::span_frame_of(self.span_context.span_id())
    }

    #[inline]
    fn post(&self, op: impl FnOnce() -> Op) {
        if let Some(token) = self.frame() {
            inbox::post(token, op());
        }
    }

    /// Sets an attribute (see [`Span::set_attribute`](crate::Span::set_attribute)).
    pub fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>) {
        self.post(|| Op::Attribute(key.into(), value.into()));
    }

    /// Adds an event, timestamped now.
    pub fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        self.post(|| {
            Op::Event(super::Event {
                name: name.into(),
                time_unix_nano: super::clock::ticks(),
                attributes,
                dropped_attributes_count: 0,
            })
        });
    }

    /// Records an `exception` event (`exception.type`, `exception.message`) and marks the span
    /// failed.
    pub fn record_error<E: std::error::Error + ?Sized>(&self, error: &E) {
        if let Some(token) = self.frame() {
            let (attributes, status) = super::active::exception(error);
            inbox::post(
                token,
                Op::Event(super::Event {
                    name: Cow::Borrowed("exception"),
                    time_unix_nano: super::clock::ticks(),
                    attributes,
                    dropped_attributes_count: 0,
                }),
            );
            inbox::post(token, Op::Status(status));
        }
    }

    /// Sets the status (an `Ok` is final).
    pub fn set_status(&self, status: Status) {
        self.post(|| Op::Status(status));
    }

    /// Renames the span (e.g. once the route is known).
    pub fn update_name(&self, name: impl Into<Cow<'static, str>>) {
        self.post(|| Op::Name(name.into()));
    }

    /// Links the span to another, e.g. each message of a batch it processes.
    pub fn add_link(&self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        self.post(|| Op::Link(span_context, attributes));
    }
}
