//! Live spans: starting (sampling, ids, parent), recording, entering and ending.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::clock;
use super::inbox;
use super::raw::{RawSpan, STATUS_ERROR, STATUS_OK, STATUS_UNSET};
use super::{Event, KeyValue, Link, SpanKind, Status};
use crate::context::{self, Context, Shared, SpanContext};
use crate::tracer::Sink;

/// Where a new span's parent comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parent<'a> {
    Current,
    Root,
    Explicit(&'a Context),
}

/// A span being recorded. It ends when [`end`](Span::end) is called or when it is dropped.
///
/// Most code never sees one: `#[traced]` manages them. Use it directly for work that cannot
/// take an attribute:
///
/// ```
/// use traceweave::{SpanKind, Status};
/// let mut span = traceweave::span("cache.lookup").kind(SpanKind::Client).start();
/// span.set_attribute("cache.key", "user:42");
/// span.add_event("miss", vec![]);
/// span.set_status(Status::Ok);
/// span.end();
/// ```
#[must_use = "a span ends when it is dropped: bind it (`let span = ...`) or end it (`.end()`)"]
pub struct Span(State);

// Boxing the recording would cost an allocation per span; the hot path avoids that.
#[allow(clippy::large_enum_variant)]
enum State {
    /// Not recorded and not changing the context (tracing off, or an unsampled local parent).
    Noop,
    /// Not recorded, but a new context that propagates (an unsampled root).
    NonRecording(Context),
    Recording(Recording),
    Ended,
}

pub(crate) struct Recording {
    raw: RawSpan,
    shared: Option<Arc<Shared>>,
    sink: Sink,
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            State::Noop => f.write_str("Span(noop)"),
            State::NonRecording(ctx) => write!(f, "Span(not sampled, {:?})", ctx.span),
            State::Recording(r) => f
                .debug_struct("Span")
                .field("name", &r.raw.name)
                .field("trace_id", &r.raw.trace_id)
                .field("span_id", &r.raw.span_id)
                .finish(),
            State::Ended => f.write_str("Span(ended)"),
        }
    }
}

impl Span {
    /// A span that records nothing and leaves the context as it is.
    ///
    /// ```
    /// // What an instrumented function holds when it chose not to trace this call.
    /// let mut span = traceweave::Span::noop();
    /// assert!(!span.is_recording());
    /// span.set_attribute("ignored", true); // costs nothing
    /// span.end();
    /// ```
    pub const fn noop() -> Self {
        Span(State::Noop)
    }

    /// A span that records `raw` and ends into `sink` (the tracer chose both when it started
    /// the span); `shared` is what travels with its context (baggage, tracestate, the scope).
    #[inline(always)]
    pub(crate) fn new_recording(raw: RawSpan, shared: Option<Arc<Shared>>, sink: Sink) -> Self {
        Span(State::Recording(Recording { raw, shared, sink }))
    }

    /// A span not recorded, whose new context still propagates (an unsampled root).
    pub(crate) fn non_recording(context: Context) -> Self {
        Span(State::NonRecording(context))
    }

    /// Whether this span records data (it is sampled and tracing is on).
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let span = traceweave::span("work").start();
    ///     // Compute an expensive attribute only when someone will see it.
    ///     assert!(span.is_recording());
    /// });
    /// assert_eq!(spans.len(), 1);
    /// ```
    #[inline]
    pub fn is_recording(&self) -> bool {
        matches!(self.0, State::Recording(_))
    }

    /// The string length limit of the pipeline this span records into, if any.
    #[inline]
    pub(crate) fn value_length_limit(&self) -> Option<u32> {
        match &self.0 {
            State::Recording(r) => r.sink.limits(r.shared.as_deref()).attribute_value_length,
            _ => None,
        }
    }

    /// `args` formatted for this span: no longer than its value length limit, or
    /// [`FORMATTED_VALUE_CAP`](super::limits::FORMATTED_VALUE_CAP) (formatting stops there).
    #[inline]
    pub(crate) fn format_value(&self, args: std::fmt::Arguments<'_>) -> String {
        super::limits::format_bounded(args, self.value_length_limit())
    }

    /// The span's kind, while it records.
    #[cfg_attr(not(feature = "tonic"), allow(dead_code))]
    pub(crate) fn kind(&self) -> Option<SpanKind> {
        match &self.0 {
            State::Recording(r) => Some(r.raw.kind),
            _ => None,
        }
    }

    /// The context that children of this span and outgoing requests should carry. For a
    /// span that does not change the context, the current context.
    ///
    /// ```
    /// use std::collections::HashMap;
    ///
    /// let span = traceweave::span("publish").kind(traceweave::SpanKind::Producer).start();
    /// // What a message should carry so its consumer continues this trace.
    /// let mut headers = HashMap::new();
    /// traceweave::inject_context(&span.context(), &mut headers);
    /// assert_eq!(headers.contains_key("traceparent"), span.is_recording());
    /// ```
    pub fn context(&self) -> Context {
        match &self.0 {
            State::Recording(r) => Context {
                span: r.span_context(),
                shared: r.shared.clone(),
            },
            State::NonRecording(ctx) => ctx.clone(),
            State::Noop | State::Ended => Context::current(),
        }
    }

    /// The context to attach while this span is entered, if it changes the context.
    #[inline(always)]
    pub(crate) fn attach_context(&self) -> Option<Context> {
        match &self.0 {
            State::Recording(r) => Some(Context {
                span: r.span_context(),
                shared: r.shared.clone(),
            }),
            State::NonRecording(ctx) => Some(ctx.clone()),
            State::Noop | State::Ended => None,
        }
    }

    #[inline]
    fn recording(&mut self) -> Option<&mut Recording> {
        match &mut self.0 {
            State::Recording(r) => Some(r),
            _ => None,
        }
    }

    /// Sets an attribute. Setting a key again replaces its value; beyond the span's attribute
    /// limit new keys are dropped and counted (see [`SpanLimits`](crate::SpanLimits)).
    #[inline]
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let mut span = traceweave::span("upload").start();
    ///     span.set_attribute("file.size", 4096_i64);
    ///     span.set_attribute("file.name", "report.pdf");
    ///     span.set_attribute("file.size", 8192_i64); // replaces the first value
    /// });
    /// assert_eq!(spans.tree(), "└─ upload file.size=8192 file.name=\"report.pdf\"\n");
    /// ```
    pub fn set_attribute(&mut self, key: impl Into<super::Key>, value: impl Into<super::Value>) {
        if let Some(r) = self.recording() {
            let limits = r.sink.limits(r.shared.as_deref());
            r.raw.push_attribute(key.into(), value.into(), limits);
        }
    }

    /// Adds a timestamped event.
    ///
    /// ```
    /// use traceweave::KeyValue;
    /// let spans = traceweave::testing::capture(|| {
    ///     let mut span = traceweave::span("charge").start();
    ///     span.add_event("retry", vec![KeyValue::new("attempt", 2)]);
    /// });
    /// let event = &spans.named("charge").unwrap().events[0];
    /// assert_eq!((event.name.as_ref(), event.attributes.len()), ("retry", 1));
    /// ```
    pub fn add_event(&mut self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        self.add_event_at_ticks(name.into(), clock::ticks(), attributes);
    }

    /// Adds an event that happened at `time` (an API that takes explicit timestamps).
    #[cfg_attr(not(feature = "opentelemetry-api"), allow(dead_code))]
    pub(crate) fn add_event_at(
        &mut self,
        name: Cow<'static, str>,
        time: std::time::SystemTime,
        attributes: Vec<KeyValue>,
    ) {
        if self.is_recording() {
            self.add_event_at_ticks(name, clock::ticks_at(time), attributes);
        }
    }

    fn add_event_at_ticks(&mut self, name: Cow<'static, str>, at: u64, attributes: Vec<KeyValue>) {
        if let Some(r) = self.recording() {
            let limits = r.sink.limits(r.shared.as_deref());
            let event = Event {
                name,
                time_unix_nano: at,
                attributes,
                dropped_attributes_count: 0,
            };
            r.raw.push_event(event, limits);
        }
    }

    /// Moves the start to `time` (an API that takes explicit timestamps).
    #[cfg_attr(not(feature = "opentelemetry-api"), allow(dead_code))]
    pub(crate) fn set_start_time(&mut self, time: std::time::SystemTime) {
        if let Some(r) = self.recording() {
            r.raw.start = clock::ticks_at(time);
        }
    }

    /// Ends the span as of `time` (an API that takes explicit timestamps).
    #[cfg_attr(not(feature = "opentelemetry-api"), allow(dead_code))]
    pub(crate) fn end_at(&mut self, time: std::time::SystemTime) {
        let at = self.is_recording().then(|| clock::ticks_at(time));
        self.end_in_place_at(at);
    }

    /// Links this span to another span, e.g. the producer of a message.
    ///
    /// ```
    /// // A batch job linking the messages it handles, each from another trace.
    /// let message = traceweave::SpanContext::new(
    ///     traceweave::TraceId::from_u128(7),
    ///     traceweave::SpanId::from_u64(9),
    ///     traceweave::TraceFlags::SAMPLED,
    ///     true,
    /// );
    /// let spans = traceweave::testing::capture(|| {
    ///     let mut batch = traceweave::span("process batch").start();
    ///     batch.add_link(message, vec![]);
    /// });
    /// assert_eq!(spans.0[0].links[0].trace_id, traceweave::TraceId::from_u128(7));
    /// ```
    pub fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        if let Some(r) = self.recording()
            && span_context.is_valid()
        {
            let limits = r.sink.limits(r.shared.as_deref());
            let link = Link {
                trace_id: span_context.trace_id(),
                span_id: span_context.span_id(),
                trace_flags: span_context.trace_flags(),
                is_remote: span_context.is_remote(),
                attributes,
                dropped_attributes_count: 0,
            };
            r.raw.push_link(link, limits);
        }
    }

    /// Sets the status. An `Ok` is final; an error does not replace `Ok` (OpenTelemetry's rule).
    ///
    /// ```
    /// use traceweave::Status;
    /// let spans = traceweave::testing::capture(|| {
    ///     let mut span = traceweave::span("charge").start();
    ///     span.set_status(Status::error("card declined"));
    /// });
    /// assert_eq!(spans.tree(), "└─ charge ERROR card declined\n");
    /// ```
    pub fn set_status(&mut self, status: Status) {
        if let Some(r) = self.recording() {
            if r.raw.status == STATUS_OK {
                return;
            }
            match status {
                Status::Unset => r.raw.status = STATUS_UNSET,
                Status::Ok => r.raw.status = STATUS_OK,
                Status::Error { message } => {
                    r.raw.status = STATUS_ERROR;
                    r.raw.extra().status_message = Some(message);
                }
            }
        }
    }

    /// Marks the span failed with the error's text and records an `exception` event
    /// (`exception.type`, `exception.message`).
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let mut span = traceweave::span("connect").start();
    ///     let error = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    ///     span.record_error(&error);
    /// });
    /// let span = spans.named("connect").unwrap();
    /// assert!(span.status.is_error());
    /// assert_eq!(span.events[0].name, "exception");
    /// ```
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        if self.is_recording() {
            let (event, status) = exception(error);
            self.add_event("exception", event);
            self.set_status(status);
        }
    }

    /// Applies the changes posted to its frame `token` (by a `tracing` or `log` bridge, or
    /// through `current_span()`), in order.
    #[cold]
    pub(crate) fn take_posted(&mut self, token: u64) {
        for posted in inbox::take(token) {
            match posted.op {
                inbox::Op::Event(event) => {
                    if let Some(r) = self.recording() {
                        let limits = r.sink.limits(r.shared.as_deref());
                        r.raw.push_event(event, limits);
                    }
                }
                inbox::Op::Attribute(key, value) => self.set_attribute(key, value),
                inbox::Op::Status(status) => self.set_status(status),
                inbox::Op::Name(name) => self.update_name(name),
                inbox::Op::Link(span_context, attributes) => {
                    self.add_link(span_context, attributes)
                }
            }
        }
    }

    /// Runs `f` with this span current on this thread (its context pushed as the span's own
    /// frame), then applies what was posted to the frame meanwhile, also if `f` unwinds. For
    /// layers that poll an inner future or body under the span.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn run_in<R>(&mut self, ctx: Option<&Context>, f: impl FnOnce() -> R) -> R {
        struct Pop<'a> {
            span: &'a mut Span,
            token: u64,
        }
        impl Drop for Pop<'_> {
            fn drop(&mut self) {
                context::pop(self.token);
                if !inbox::is_empty() {
                    self.span.take_posted(self.token);
                }
            }
        }
        let token = match ctx {
            Some(ctx) => context::push_span(ctx.clone()),
            None => 0,
        };
        let _pop = Pop { span: self, token };
        f()
    }

    /// Points the span at its code's location (exported as `code.*` attributes).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn set_code(&mut self, code: &'static dyn super::raw::CodeLocation) {
        if let Some(r) = self.recording() {
            r.raw.code = Some(code);
        }
    }

    /// Renames the span.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let mut span = traceweave::span("HTTP GET").start();
    ///     // The route is known once the router has matched.
    ///     span.update_name("GET /orders/{id}");
    /// });
    /// assert_eq!(spans.tree(), "└─ GET /orders/{id}\n");
    /// ```
    pub fn update_name(&mut self, name: impl Into<Cow<'static, str>>) {
        if let Some(r) = self.recording() {
            r.raw.extra().name = Some(name.into());
        }
    }

    /// Ends the span now.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let span = traceweave::span("step").start();
    ///     span.end(); // here, rather than where it goes out of scope
    /// });
    /// assert_eq!(spans.len(), 1);
    /// ```
    pub fn end(mut self) {
        self.end_in_place();
    }

    #[inline(always)]
    pub(crate) fn end_in_place(&mut self) {
        self.end_in_place_at(None);
    }

    /// Ends the span now, or at `at` (raw ticks).
    #[inline(always)]
    fn end_in_place_at(&mut self, at: Option<u64>) {
        let state: *mut State = &mut self.0;
        // SAFETY: `state` points to this span's live state, borrowed mutably through `self`.
        if let State::Recording(r) = unsafe { &mut *state } {
            r.raw.end = match at {
                None => clock::ticks(),
                Some(at) => at.max(r.raw.start),
            };
            if let Some(shared) = &r.shared {
                if !shared.trace_state.is_empty() {
                    r.raw.extra().trace_state = shared.trace_state.clone();
                }
                if shared.sw8_trace_id.is_some() || shared.sw8_parent.is_some() {
                    keep_sw8(&mut r.raw, shared);
                }
            }
            let sink = r.sink;
            let raw: *mut RawSpan = &mut r.raw;
            // SAFETY: `shared` is moved out here and `raw` is handed to `submit`, each exactly
            // once; `_ended` then overwrites the state with `Ended` without dropping the
            // moved-from fields, on the normal path and if anything below unwinds, so the
            // span's own drop never sees them again.
            let shared = unsafe { std::ptr::read(&r.shared) };
            let _ended = MarkEnded(state);
            // SAFETY: `raw` is initialised and, from here on, owned by `submit`.
            unsafe { sink.submit(shared.as_deref(), raw) };
        }
    }

    /// [`enter`](Self::enter) under the name `tracing` gives the owning form
    /// (`tracing::Span::entered`).
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let _request = traceweave::span("request").start().entered();
    ///     // Spans started now are children of "request".
    ///     traceweave::span("query").start().end();
    /// });
    /// assert_eq!(spans.tree(), "└─ request\n   └─ query\n");
    /// ```
    #[inline]
    pub fn entered(self) -> EnteredSpan {
        self.enter()
    }

    #[inline(never)]
    fn end_dropped(&mut self) {
        self.end_in_place();
    }

    /// Makes this span the current context until the returned guard drops; the span ends then.
    ///
    /// Unlike `tracing`'s `Span::enter(&self)`, this takes the span: a traceweave span is one
    /// operation that ends once, and the guard owns it, so a span cannot be entered on two
    /// threads at once, stay current after it ended, or end while a guard still shows it as
    /// current. To enter one span around several pieces of work, keep its
    /// [`context`](Self::context) and attach that instead. [`entered`](Self::entered) is the
    /// same call under `tracing`'s name for the owning form.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let _batch = traceweave::span("batch").start().enter();
    ///     traceweave::span("item").start().end(); // a child of "batch"
    /// });
    /// assert_eq!(spans.tree(), "└─ batch\n   └─ item\n");
    /// ```
    #[inline(always)]
    pub fn enter(self) -> EnteredSpan {
        let token = match self.attach_context() {
            Some(ctx) => context::push_span(ctx),
            None => 0,
        };
        EnteredSpan {
            span: std::mem::ManuallyDrop::new(self),
            token,
            _not_send: PhantomData,
        }
    }
}

impl Drop for Span {
    #[inline]
    fn drop(&mut self) {
        // Out of line: a span dropped in every generic future wrapper's drop glue would
        // otherwise carry the whole end path (clock, queue) into each.
        if matches!(self.0, State::Recording(_)) {
            self.end_dropped();
        }
    }
}

impl Recording {
    #[inline]
    fn span_context(&self) -> SpanContext {
        SpanContext::new(self.raw.trace_id, self.raw.span_id, self.raw.flags, false)
    }
}

/// Overwrites a span's state with `Ended` when dropped, without dropping what was there: the
/// recording's fields have been moved out by then.
struct MarkEnded(*mut State);

impl Drop for MarkEnded {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: the pointer is the live span's state (see `end_in_place`); its old fields
        // were moved out, so writing without dropping them neither leaks nor double-drops.
        unsafe { std::ptr::write(self.0, State::Ended) };
    }
}

/// A span that is the current context; ends the span when dropped. Must be dropped on the
/// thread that entered it.
///
/// ```
/// let spans = traceweave::testing::capture(|| {
///     let mut request = traceweave::span("request").start().entered();
///     request.span_mut().set_attribute("user.id", 7);
///     traceweave::span("query").start().end();
///     drop(request); // leaves the context and ends the span
/// });
/// assert_eq!(spans.tree(), "└─ request user.id=7\n   └─ query\n");
/// ```
#[must_use = "the span ends as soon as the guard is dropped"]
pub struct EnteredSpan {
    // Dropped by hand in `Drop`, so the common cases (nothing to drop) cost no call.
    span: std::mem::ManuallyDrop<Span>,
    token: u64,
    _not_send: PhantomData<*const ()>,
}

impl EnteredSpan {
    /// The guard of a span the caller has already made current with `token`
    /// (`context::push_span`); `token` 0 for one that did not change the context.
    #[inline(always)]
    pub(crate) fn from_pushed(span: Span, token: u64) -> Self {
        EnteredSpan {
            span: std::mem::ManuallyDrop::new(span),
            token,
            _not_send: PhantomData,
        }
    }

    /// The span, to record on it.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let mut request = traceweave::span("request").start().entered();
    ///     request.span_mut().set_attribute("http.response.status_code", 200);
    /// });
    /// assert_eq!(spans.tree(), "└─ request http.response.status_code=200\n");
    /// ```
    #[inline]
    pub fn span_mut(&mut self) -> &mut Span {
        &mut self.span
    }

    /// The span.
    ///
    /// ```
    /// traceweave::testing::capture(|| {
    ///     let request = traceweave::span("request").start().entered();
    ///     assert!(request.span().is_recording());
    /// });
    /// ```
    pub fn span(&self) -> &Span {
        &self.span
    }
}

impl fmt::Debug for EnteredSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EnteredSpan").field(&self.span).finish()
    }
}

impl Drop for EnteredSpan {
    #[inline(always)]
    fn drop(&mut self) {
        // The unsampled case stays inline and costs two compares.
        if self.token == 0 && matches!(self.span.0, State::Noop | State::Ended) {
            return;
        }
        self.finish();
    }
}

/// The attributes of an `exception` event for `error`, and the status it gives the span. The
/// type is the error's Rust type; behind `dyn Error` it is unknown, and left out.
pub(crate) fn exception<E: std::error::Error + ?Sized>(error: &E) -> (Vec<KeyValue>, Status) {
    let message = super::limits::format_bounded(format_args!("{error}"), None);
    let mut attributes = Vec::with_capacity(2);
    let type_name = std::any::type_name::<E>();
    if !type_name.starts_with("dyn ") {
        attributes.push(KeyValue::new(
            crate::semconv::attr::EXCEPTION_TYPE,
            type_name,
        ));
    }
    attributes.push(KeyValue::new(
        crate::semconv::attr::EXCEPTION_MESSAGE,
        message.clone(),
    ));
    (attributes, Status::error(message))
}

impl EnteredSpan {
    #[inline(never)]
    fn finish(&mut self) {
        context::pop(self.token);
        if !inbox::is_empty() {
            self.span.take_posted(self.token);
        }
        match &self.span.0 {
            State::Recording(_) => {
                if std::thread::panicking() {
                    self.span.set_status(Status::error("panicked"));
                }
                // Leaves `Ended`, which owns nothing.
                self.span.end_in_place();
            }
            State::NonRecording(_) => {
                // SAFETY: dropped exactly once, here.
                unsafe { std::mem::ManuallyDrop::drop(&mut self.span) }
            }
            State::Noop | State::Ended => {}
        }
    }
}

/// What the SkyWalking exporter needs of an extracted `sw8`: the peer's spelling of the trace
/// id (only when it is not our hex form), and the remote parent of the span that continues it.
#[cold]
fn keep_sw8(raw: &mut RawSpan, shared: &crate::context::Shared) {
    if let Some(id) = &shared.sw8_trace_id {
        raw.extra().sw8_trace_id = Some(id.clone());
    }
    if let Some(parent) = &shared.sw8_parent
        && raw.parent_is_remote
        && raw.parent_span_id == parent.span
    {
        raw.extra().sw8_parent = Some(parent.clone());
    }
}
