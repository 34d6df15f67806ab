//! Live spans: starting (sampling, ids, parent), recording, entering and ending.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::clock;
use super::inbox;
use super::raw::{RawSpan, STATUS_ERROR, STATUS_OK, STATUS_UNSET};
use super::{Event, KeyValue, Link, SpanKind, SpanLimits, Status};
use crate::context::{self, Context, Shared, SpanContext};
use crate::id::{SpanId, TraceFlags, TraceId};
use crate::sampler::{SamplingDecision, SamplingInput};
use crate::tracer::{
    GlobalState, Pipeline, global_state, global_state_cold, scoped_pipeline, submit_pre_init,
};

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

#[derive(Clone, Copy)]
enum Sink {
    Global(&'static Pipeline),
    Scoped,
    PreInit,
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
    pub const fn noop() -> Self {
        Span(State::Noop)
    }

    /// Starts a span named `name` as a child of the current context.
    #[inline]
    pub fn start(name: &'static str, kind: SpanKind) -> Self {
        start(Cow::Borrowed(name), kind, Parent::Current)
    }

    /// Whether this span records data (it is sampled and tracing is on).
    #[inline]
    pub fn is_recording(&self) -> bool {
        matches!(self.0, State::Recording(_))
    }

    /// The string length limit of the pipeline this span records into, if any.
    #[inline]
    pub(crate) fn value_length_limit(&self) -> Option<u32> {
        match &self.0 {
            State::Recording(r) => limits_of(r.sink, &r.shared).attribute_value_length,
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
    pub fn set_attribute(&mut self, key: impl Into<super::Key>, value: impl Into<super::Value>) {
        if let Some(r) = self.recording() {
            let limits = limits_of(r.sink, &r.shared);
            r.raw.push_attribute(key.into(), value.into(), limits);
        }
    }

    /// Adds a timestamped event.
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
            let limits = limits_of(r.sink, &r.shared);
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
    pub fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        if let Some(r) = self.recording()
            && span_context.is_valid()
        {
            let limits = limits_of(r.sink, &r.shared);
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
                        let limits = limits_of(r.sink, &r.shared);
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
    pub fn update_name(&mut self, name: impl Into<Cow<'static, str>>) {
        if let Some(r) = self.recording() {
            r.raw.extra().name = Some(name.into());
        }
    }

    /// Ends the span now.
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
            if let Some(shared) = &r.shared
                && !shared.trace_state.is_empty()
            {
                r.raw.extra().trace_state = shared.trace_state.clone();
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
            unsafe { submit(sink, shared.as_deref(), raw) };
        }
    }

    /// Makes this span the current context until the returned guard drops; the span ends then.
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
        self.end_in_place();
    }
}

impl Recording {
    #[inline]
    fn span_context(&self) -> SpanContext {
        SpanContext::new(self.raw.trace_id, self.raw.span_id, self.raw.flags, false)
    }
}

/// The limits of the pipeline a span records into.
#[inline(always)]
fn limits_of(sink: Sink, shared: &Option<Arc<Shared>>) -> &SpanLimits {
    match sink {
        Sink::Global(p) => &p.limits,
        Sink::Scoped => match shared
            .as_deref()
            .and_then(|s| s.scope.as_ref())
            .and_then(scoped_pipeline)
        {
            Some(p) => &p.limits,
            None => &SpanLimits::DEFAULT,
        },
        Sink::PreInit => &SpanLimits::DEFAULT,
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

/// # Safety
/// `raw` is initialised and is not used or dropped by the caller afterwards.
#[inline(always)]
unsafe fn submit(sink: Sink, shared: Option<&Shared>, raw: *mut RawSpan) {
    match sink {
        // SAFETY: forwarded from the caller.
        Sink::Global(p) => unsafe { p.submit_from(raw) },
        Sink::Scoped => match shared
            .and_then(|s| s.scope.as_ref())
            .and_then(scoped_pipeline)
        {
            // SAFETY: forwarded from the caller.
            Some(p) => unsafe { p.submit_from(raw) },
            // SAFETY: forwarded from the caller; a RawSpan holds no user code.
            None => unsafe { std::ptr::drop_in_place(raw) },
        },
        // SAFETY: forwarded from the caller.
        Sink::PreInit => submit_late(unsafe { std::ptr::read(raw) }),
    }
}

#[cold]
fn submit_late(record: RawSpan) {
    match global_state_cold() {
        GlobalState::Running(p) => p.submit(record),
        GlobalState::Uninit => submit_pre_init(record),
        GlobalState::Disabled => {}
    }
}

/// A span that is the current context; ends the span when dropped. Must be dropped on the
/// thread that entered it.
#[must_use = "the span ends as soon as the guard is dropped"]
pub struct EnteredSpan {
    // Dropped by hand in `Drop`, so the common cases (nothing to drop) cost no call.
    span: std::mem::ManuallyDrop<Span>,
    token: u64,
    _not_send: PhantomData<*const ()>,
}

impl EnteredSpan {
    /// The span, to record on it.
    #[inline]
    pub fn span_mut(&mut self) -> &mut Span {
        &mut self.span
    }

    /// The span.
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

/// Builds a span by hand: name, kind, parent, attributes and links, then [`start`](Self::start).
#[derive(Debug)]
#[must_use = "a span builder does nothing until `start` is called"]
pub struct SpanBuilder {
    name: Cow<'static, str>,
    kind: SpanKind,
    parent: BuilderParent,
    attributes: Vec<KeyValue>,
    links: Vec<(SpanContext, Vec<KeyValue>)>,
}

#[derive(Debug)]
enum BuilderParent {
    Current,
    Root,
    Explicit(Context),
}

/// Starts building a span named `name`; by default an internal child of the current context.
pub fn span(name: impl Into<Cow<'static, str>>) -> SpanBuilder {
    SpanBuilder {
        name: name.into(),
        kind: SpanKind::Internal,
        parent: BuilderParent::Current,
        attributes: Vec::new(),
        links: Vec::new(),
    }
}

impl SpanBuilder {
    /// The span's kind.
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Makes the span a child of `parent` (e.g. a context extracted from a request).
    pub fn parent(mut self, parent: &Context) -> Self {
        self.parent = BuilderParent::Explicit(parent.clone());
        self
    }

    /// Starts a new trace, whatever the current context is.
    pub fn root(mut self) -> Self {
        self.parent = BuilderParent::Root;
        self
    }

    /// Adds an attribute.
    pub fn attribute(mut self, key: impl Into<super::Key>, value: impl Into<super::Value>) -> Self {
        self.attributes.push(KeyValue::new(key, value));
        self
    }

    /// Adds a link.
    pub fn link(mut self, span_context: SpanContext, attributes: Vec<KeyValue>) -> Self {
        self.links.push((span_context, attributes));
        self
    }

    /// Starts the span.
    pub fn start(self) -> Span {
        let parent = match &self.parent {
            BuilderParent::Current => Parent::Current,
            BuilderParent::Root => Parent::Root,
            BuilderParent::Explicit(c) => Parent::Explicit(c),
        };
        let mut span = start(self.name, self.kind, parent);
        if span.is_recording() {
            for kv in self.attributes {
                span.set_attribute(kv.key, kv.value);
            }
            for (ctx, attrs) in self.links {
                span.add_link(ctx, attrs);
            }
        }
        span
    }
}

/// The one place spans begin: parent, pipeline, sampling, ids.
#[inline(always)]
pub(crate) fn start(name: Cow<'static, str>, kind: SpanKind, parent: Parent<'_>) -> Span {
    // The hot path: a child of the current, local span of the global pipeline, whose sampler
    // leaves children of local parents to the parent's flag.
    if let (Parent::Current, GlobalState::Running(p)) = (parent, global_state())
        && p.follows_local_parent
    {
        match context::fast_parent() {
            context::FastParent::Sampled(ps) => {
                return Span(State::Recording(Recording {
                    raw: new_record(
                        name,
                        kind,
                        ps.trace_id(),
                        ps.span_id(),
                        false,
                        ps.trace_flags(),
                    ),
                    shared: None,
                    sink: Sink::Global(p),
                }));
            }
            context::FastParent::Unsampled => return Span::noop(),
            context::FastParent::Other => {}
        }
    }
    start_general(name, kind, parent)
}

/// `start` followed by `enter`, with every case built straight into the guard (no copy of a
/// whole span through temporaries): what `#[traced]` on a sync fn calls.
#[inline(always)]
pub(crate) fn start_entered(name: &'static str, kind: SpanKind, root: bool) -> EnteredSpan {
    // Unsampled: one thread-local load decides, before anything else is read.
    if !root
        && context::top_is_unsampled()
        && let GlobalState::Running(p) = global_state()
        && p.follows_local_parent
    {
        return EnteredSpan {
            span: std::mem::ManuallyDrop::new(Span::noop()),
            token: 0,
            _not_send: PhantomData,
        };
    }
    if let (false, GlobalState::Running(p)) = (root, global_state())
        && p.follows_local_parent
    {
        match context::fast_parent() {
            context::FastParent::Sampled(ps) => {
                let raw = new_record(
                    Cow::Borrowed(name),
                    kind,
                    ps.trace_id(),
                    ps.span_id(),
                    false,
                    ps.trace_flags(),
                );
                let token = context::push_span(Context {
                    span: SpanContext::new(raw.trace_id, raw.span_id, raw.flags, false),
                    shared: None,
                });
                return EnteredSpan {
                    span: std::mem::ManuallyDrop::new(Span(State::Recording(Recording {
                        raw,
                        shared: None,
                        sink: Sink::Global(p),
                    }))),
                    token,
                    _not_send: PhantomData,
                };
            }
            context::FastParent::Unsampled => {
                return EnteredSpan {
                    span: std::mem::ManuallyDrop::new(Span::noop()),
                    token: 0,
                    _not_send: PhantomData,
                };
            }
            context::FastParent::Other => {}
        }
    }
    let parent = if root { Parent::Root } else { Parent::Current };
    start_general(Cow::Borrowed(name), kind, parent).enter()
}

#[inline(never)]
fn start_general(name: Cow<'static, str>, kind: SpanKind, parent: Parent<'_>) -> Span {
    // An owned copy of the current frame: the sampler runs below, and it may attach contexts.
    match context::current_frame() {
        None => start_slow(name, kind, parent, None),
        Some((_, true)) => Span::noop(),
        Some((top, false)) => start_slow(name, kind, parent, Some(&top)),
    }
}

#[inline(always)]
fn new_record(
    name: Cow<'static, str>,
    kind: SpanKind,
    trace_id: TraceId,
    parent_span_id: SpanId,
    parent_is_remote: bool,
    trace_flags: TraceFlags,
) -> RawSpan {
    let (static_name, owned) = match name {
        Cow::Borrowed(s) => (s, None),
        owned @ Cow::Owned(_) => ("", Some(owned)),
    };
    let mut raw = RawSpan::new(
        static_name,
        kind,
        trace_id,
        SpanId::random(),
        parent_span_id,
        parent_is_remote,
        trace_flags,
        clock::ticks(),
    );
    if owned.is_some() {
        raw.extra().name = owned;
    }
    raw
}

#[inline(never)]
fn start_slow(
    name: Cow<'static, str>,
    kind: SpanKind,
    parent: Parent<'_>,
    current: Option<&Context>,
) -> Span {
    let parent_ctx: Option<&Context> = match parent {
        Parent::Current => current,
        Parent::Root => None,
        Parent::Explicit(c) => Some(c),
    };
    let scope = parent_ctx
        .and_then(Context::scope)
        .or_else(|| current.and_then(Context::scope));
    let (pipeline, sink): (Option<&Pipeline>, Sink) = match scope.and_then(scoped_pipeline) {
        Some(p) => {
            if !p.running.load(std::sync::atomic::Ordering::Relaxed) {
                return Span::noop();
            }
            (Some(p), Sink::Scoped)
        }
        None => match global_state_cold() {
            GlobalState::Running(p) => (Some(p), Sink::Global(p)),
            GlobalState::Disabled => return Span::noop(),
            GlobalState::Uninit => (None, Sink::PreInit),
        },
    };

    let parent_span = parent_ctx.map(|c| c.span).filter(SpanContext::is_valid);
    let remote_decision = match parent_span {
        Some(_) => None,
        None => parent_ctx.and_then(|c| c.span.decision_hint()),
    };
    let (trace_id, parent_id, remote, flags) = match parent_span {
        Some(ps) => (
            ps.trace_id(),
            ps.span_id(),
            ps.is_remote(),
            ps.trace_flags(),
        ),
        None => (
            TraceId::random(),
            SpanId::INVALID,
            false,
            TraceFlags::RANDOM_TRACE_ID,
        ),
    };
    let decision = match (pipeline, parent_span) {
        (Some(p), Some(ps)) if p.follows_local_parent && !ps.is_remote() => {
            if ps.is_sampled() {
                SamplingDecision::RecordAndSample
            } else {
                return Span::noop();
            }
        }
        (Some(p), _) => {
            // User code: whatever it starts or attaches records nothing, so a traced function
            // inside a sampler cannot recurse into the sampler.
            let _suppressed = context::suppress();
            p.sampler.should_sample(&SamplingInput {
                parent: parent_span.as_ref(),
                trace_id,
                name: &name,
                kind,
                remote_decision,
            })
        }
        // Before init: keep what the default sampler (parent-based, always on) would keep.
        (None, Some(ps)) if !ps.is_sampled() => SamplingDecision::Drop,
        (None, None) if remote_decision == Some(false) => SamplingDecision::Drop,
        (None, _) => SamplingDecision::RecordAndSample,
    };

    // What travels with the new span: the parent's baggage (and tracestate, unless this is a
    // new trace) plus the tracer that records it.
    let mut shared = parent_ctx.and_then(|c| c.shared.clone());
    let needs_fix = match (&shared, scope) {
        (Some(s), _) if parent_span.is_none() && !s.trace_state.is_empty() => true,
        (Some(s), Some(_)) if s.scope.is_none() => true,
        (None, Some(_)) => true,
        _ => false,
    };
    if needs_fix {
        let mut s = shared.as_deref().cloned().unwrap_or_default();
        if parent_span.is_none() {
            s.trace_state = Default::default();
        }
        if s.scope.is_none() {
            s.scope = scope.cloned();
        }
        shared = Some(Arc::new(s));
    }

    match decision {
        SamplingDecision::Drop => Span(State::NonRecording(Context {
            span: SpanContext::new(trace_id, SpanId::random(), flags.with_sampled(false), false),
            shared,
        })),
        SamplingDecision::RecordAndSample => Span(State::Recording(Recording {
            raw: new_record(
                name,
                kind,
                trace_id,
                parent_id,
                remote,
                flags.with_sampled(true),
            ),
            shared,
            sink,
        })),
    }
}
