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
///
/// ```
/// #[traceweave::traced]
/// fn charge(amount: u64) {
///     // Deep in the call, without passing the span around:
///     traceweave::current_span().set_attribute("payment.amount", amount as i64);
/// }
/// let spans = traceweave::testing::capture(|| charge(250));
/// assert_eq!(spans.tree(), "└─ charge payment.amount=250\n");
/// ```
pub fn current_span() -> CurrentSpan {
    CurrentSpan {
        span_context: *Context::current().span_context(),
    }
}

impl CurrentSpan {
    /// The span's identity (invalid when no span was current).
    ///
    /// ```
    /// traceweave::testing::capture(|| {
    ///     let _span = traceweave::span("work").start().entered();
    ///     assert!(traceweave::current_span().span_context().is_valid());
    /// });
    /// assert!(!traceweave::current_span().span_context().is_valid(), "no span outside");
    /// ```
    pub fn span_context(&self) -> SpanContext {
        self.span_context
    }

    /// Whether changes made now reach a recording span.
    ///
    /// ```
    /// assert!(!traceweave::current_span().is_recording());
    /// traceweave::testing::capture(|| {
    ///     let _span = traceweave::span("work").start().entered();
    ///     assert!(traceweave::current_span().is_recording());
    /// });
    /// ```
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
    ///
    /// ```
    /// #[traceweave::traced]
    /// fn checkout(cart: &[u32]) {
    ///     // Decided inside the body: recorded on this fn's span.
    ///     traceweave::current_span().set_attribute("cart.items", cart.len() as i64);
    /// }
    ///
    /// let spans = traceweave::testing::capture(|| checkout(&[1, 2, 3]));
    /// assert_eq!(spans.tree(), "└─ checkout cart.items=3\n");
    /// ```
    pub fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>) {
        self.post(|| Op::Attribute(key.into(), value.into()));
    }

    /// Adds an event, timestamped now.
    ///
    /// ```
    /// use traceweave::KeyValue;
    ///
    /// #[traceweave::traced]
    /// fn retrying() {
    ///     traceweave::current_span().add_event("retry", vec![KeyValue::new("attempt", 2)]);
    /// }
    ///
    /// let spans = traceweave::testing::capture(retrying);
    /// assert_eq!(spans.named("retrying").unwrap().events[0].name, "retry");
    /// ```
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
    ///
    /// ```
    /// #[traceweave::traced]
    /// fn parse(text: &str) -> u32 {
    ///     match text.parse() {
    ///         Ok(n) => n,
    ///         Err(e) => {
    ///             // Handled here, so not returned as `Err`; still worth seeing in the trace.
    ///             traceweave::current_span().record_error(&e);
    ///             0
    ///         }
    ///     }
    /// }
    ///
    /// let spans = traceweave::testing::capture(|| {
    ///     parse("x");
    /// });
    /// let span = spans.named("parse").unwrap();
    /// assert!(span.status.is_error());
    /// assert_eq!(span.events[0].name, "exception");
    /// ```
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
    ///
    /// ```
    /// #[traceweave::traced]
    /// fn validate(input: &str) {
    ///     if input.is_empty() {
    ///         traceweave::current_span().set_status(traceweave::Status::error("empty input"));
    ///     }
    /// }
    /// let spans = traceweave::testing::capture(|| validate(""));
    /// assert_eq!(spans.tree(), "└─ validate ERROR empty input\n");
    /// ```
    pub fn set_status(&self, status: Status) {
        self.post(|| Op::Status(status));
    }

    /// Renames the span (e.g. once the route is known).
    ///
    /// ```
    /// #[traceweave::traced]
    /// fn route(path: &str) {
    ///     // The name known only once the router has matched.
    ///     traceweave::current_span().update_name(format!("GET {path}"));
    /// }
    ///
    /// let spans = traceweave::testing::capture(|| route("/orders/{id}"));
    /// assert_eq!(spans.tree(), "└─ GET /orders/{id}\n");
    /// ```
    pub fn update_name(&self, name: impl Into<Cow<'static, str>>) {
        self.post(|| Op::Name(name.into()));
    }

    /// Links the span to another, e.g. each message of a batch it processes.
    ///
    /// ```
    /// use traceweave::{SpanContext, SpanId, TraceFlags, TraceId};
    /// let earlier = SpanContext::new(TraceId::from_u128(9), SpanId::from_u64(9), TraceFlags::SAMPLED, false);
    /// let spans = traceweave::testing::capture(|| {
    ///     let _span = traceweave::span("retry job").start().entered();
    ///     traceweave::current_span().add_link(earlier, vec![]);
    /// });
    /// assert_eq!(spans.0[0].links[0].trace_id, TraceId::from_u128(9));
    /// ```
    pub fn add_link(&self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        self.post(|| Op::Link(span_context, attributes));
    }
}
