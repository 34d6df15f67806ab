//! The current context: a thread-local stack for sync code, re-attached on every poll for
//! async code, and helpers to carry it into spawned tasks and threads.

mod baggage;
#[cfg(feature = "opentelemetry-api")]
pub(crate) mod foreign;
mod future;
mod spawn;
mod trace_state;

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::id::{SpanId, TraceFlags, TraceId};

pub use baggage::{Baggage, BaggageEntry};
pub use future::{FutureExt, WithContext};
#[cfg(feature = "tokio")]
pub use spawn::spawn;
pub use spawn::spawn_thread;
pub use trace_state::{TraceState, TraceStateError};

/// The identity of a span as it propagates: what a child or a remote service needs.
///
/// ```
/// use traceweave::{SpanContext, SpanId, TraceFlags, TraceId};
/// let remote = SpanContext::new(
///     TraceId::from_u128(0x4bf92f3577b34da6a3ce929d0e0e4736),
///     SpanId::from_u64(0x00f067aa0ba902b7),
///     TraceFlags::SAMPLED,
///     true, // it came from another process
/// );
/// assert!(remote.is_valid() && remote.is_sampled() && remote.is_remote());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SpanContext {
    trace_id: TraceId,
    span_id: SpanId,
    trace_flags: TraceFlags,
    is_remote: bool,
}

impl SpanContext {
    /// The invalid span context: "no span".
    ///
    /// ```
    /// use traceweave::SpanContext;
    /// assert!(!SpanContext::INVALID.is_valid());
    /// assert_eq!(SpanContext::default(), SpanContext::INVALID);
    /// ```
    pub const INVALID: SpanContext = SpanContext {
        trace_id: TraceId::INVALID,
        span_id: SpanId::INVALID,
        trace_flags: TraceFlags::NONE,
        is_remote: false,
    };

    /// Builds a span context.
    ///
    /// ```
    /// use traceweave::{SpanContext, SpanId, TraceFlags, TraceId};
    /// let cx = SpanContext::new(TraceId::from_u128(1), SpanId::from_u64(2), TraceFlags::NONE, false);
    /// assert_eq!((cx.trace_id().to_u128(), cx.span_id().to_u64()), (1, 2));
    /// ```
    pub const fn new(
        trace_id: TraceId,
        span_id: SpanId,
        trace_flags: TraceFlags,
        is_remote: bool,
    ) -> Self {
        SpanContext {
            trace_id,
            span_id,
            trace_flags,
            is_remote,
        }
    }

    /// The trace.
    ///
    /// ```
    /// traceweave::testing::capture(|| {
    ///     let span = traceweave::span("work").start();
    ///     assert!(span.context().span_context().trace_id().is_valid());
    /// });
    /// ```
    pub const fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span.
    ///
    /// ```
    /// traceweave::testing::capture(|| {
    ///     let span = traceweave::span("work").start();
    ///     assert!(span.context().span_context().span_id().is_valid());
    /// });
    /// ```
    pub const fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The W3C flags.
    ///
    /// ```
    /// traceweave::testing::capture(|| {
    ///     let span = traceweave::span("work").start();
    ///     assert!(span.context().span_context().trace_flags().is_sampled());
    /// });
    /// ```
    pub const fn trace_flags(&self) -> TraceFlags {
        self.trace_flags
    }

    /// Whether the span lives in another process.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let headers = HashMap::from([(
    ///     "traceparent".to_owned(),
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    /// )]);
    /// assert!(traceweave::extract(&headers).span_context().is_remote());
    /// ```
    pub const fn is_remote(&self) -> bool {
        self.is_remote
    }

    /// Whether the span is sampled.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let headers = HashMap::from([(
    ///     "traceparent".to_owned(),
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".to_owned(),
    /// )]);
    /// // The caller did not sample this trace (flags 00).
    /// assert!(!traceweave::extract(&headers).span_context().is_sampled());
    /// ```
    pub const fn is_sampled(&self) -> bool {
        self.trace_flags.is_sampled()
    }

    /// Whether both ids are non-zero.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let junk = HashMap::from([("traceparent".to_owned(), "00-zz".to_owned())]);
    /// assert!(!traceweave::extract(&junk).span_context().is_valid());
    /// ```
    pub const fn is_valid(&self) -> bool {
        self.trace_id.is_valid() && self.span_id.is_valid()
    }

    /// A sampling decision received without a parent (B3's `b3: 0` or `X-B3-Sampled: 0`
    /// alone): no span, but the caller said whether to sample.
    pub(crate) const fn decision_only(sampled: bool) -> Self {
        SpanContext {
            trace_id: TraceId::INVALID,
            span_id: SpanId::INVALID,
            trace_flags: TraceFlags::NONE.with_sampled(sampled),
            is_remote: true,
        }
    }

    /// The decision of a [`SpanContext::decision_only`] context.
    pub(crate) const fn decision_hint(&self) -> Option<bool> {
        if !self.is_valid() && self.is_remote {
            Some(self.is_sampled())
        } else {
            None
        }
    }
}

impl fmt::Debug for SpanContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanContext")
            .field("trace_id", &format_args!("{}", self.trace_id))
            .field("span_id", &format_args!("{}", self.span_id))
            .field("flags", &format_args!("{:02x}", self.trace_flags.to_u8()))
            .field("remote", &self.is_remote)
            .finish()
    }
}

/// Which tracer records the spans of a context, when it is not the global one. Opaque here: the
/// tracer wraps its own shared state (`ScopeHandle::new`) and reads it back by its type
/// (`downcast`), so this module needs nothing from the tracer and nothing else can pass for one.
#[derive(Clone)]
pub(crate) struct ScopeHandle(Arc<dyn std::any::Any + Send + Sync>);

impl ScopeHandle {
    /// The handle of a tracer's shared state.
    pub(crate) fn new<T: std::any::Any + Send + Sync>(tracer: Arc<T>) -> Self {
        ScopeHandle(tracer)
    }

    /// The tracer's state, if it is a `T`.
    #[inline]
    pub(crate) fn downcast<T: std::any::Any>(&self) -> Option<&T> {
        let any: &(dyn std::any::Any + Send + Sync) = &*self.0;
        any.downcast_ref::<T>()
    }
}

static SW8_ENDPOINTS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on, entry spans keep their name in their context (see [`Shared::sw8_endpoint`]):
/// SkyWalking propagation or reporting is in use.
pub(crate) fn enable_sw8_endpoints() {
    SW8_ENDPOINTS.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether entry spans keep their name in their context.
#[inline]
pub(crate) fn sw8_endpoints() -> bool {
    SW8_ENDPOINTS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The fields of an extracted `sw8` a SkyWalking `CrossProcess` reference repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sw8Parent {
    /// The span id the parent segment and span map to here: the reference is written only for
    /// a span whose (remote) parent is this one.
    pub(crate) span: crate::id::SpanId,
    /// The trace id as the peer spelled it.
    pub(crate) trace_id: Arc<str>,
    pub(crate) segment_id: String,
    pub(crate) span_id: i32,
    pub(crate) service: String,
    pub(crate) instance: String,
    pub(crate) endpoint: String,
    pub(crate) address: String,
}

/// What travels with a context besides the span identity; shared, rarely present.
#[derive(Clone, Default)]
pub(crate) struct Shared {
    pub(crate) trace_state: TraceState,
    pub(crate) baggage: Baggage,
    /// A scoped tracer (tests, `Tracer::in_scope`); `None` means the global one.
    pub(crate) scope: Option<ScopeHandle>,
    /// The trace id as a SkyWalking agent spelled it, when it is not our hex form.
    pub(crate) sw8_trace_id: Option<Arc<str>>,
    /// The `sw8` this context was extracted from (the remote parent's segment, span, service,
    /// instance, endpoint and the address it called): the SkyWalking exporter's `CrossProcess`
    /// reference of the span that continues it.
    pub(crate) sw8_parent: Option<Arc<Sw8Parent>>,
    /// The operation name of the innermost entry (server or consumer) span, while SkyWalking
    /// propagation or reporting is on: the parent endpoint an outgoing `sw8` names.
    pub(crate) sw8_endpoint: Option<std::borrow::Cow<'static, str>>,
    /// B3 debug (`d`, `X-B3-Flags: 1`): carried to children and sent on.
    pub(crate) b3_debug: bool,
}

/// A span context plus what travels with it (tracestate, baggage). Cheap to clone.
///
/// ```
/// use traceweave::Context;
/// let ctx = Context::current();
/// std::thread::spawn(move || ctx.run(|| { /* spans here continue the caller's trace */ }))
///     .join()
///     .unwrap();
/// ```
#[derive(Clone, Default)]
pub struct Context {
    pub(crate) span: SpanContext,
    pub(crate) shared: Option<Arc<Shared>>,
}

impl Context {
    /// The empty context: no span, no baggage.
    ///
    /// ```
    /// let cx = traceweave::Context::new();
    /// assert!(!cx.has_span() && cx.baggage().is_empty());
    /// ```
    pub const fn new() -> Self {
        Context {
            span: SpanContext::INVALID,
            shared: None,
        }
    }

    /// The context of the calling thread or task: its innermost active span.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let _span = traceweave::span("outer").start().enter();
    ///     let cx = traceweave::Context::current();
    ///     assert!(cx.has_span());
    /// });
    /// assert_eq!(spans.len(), 1);
    /// ```
    pub fn current() -> Self {
        current_frame().map(|(ctx, _)| ctx).unwrap_or_default()
    }

    /// A context whose span is `span` (e.g. one extracted from a remote request).
    ///
    /// ```
    /// use traceweave::{Context, SpanContext, SpanId, TraceFlags, TraceId};
    /// let parent = SpanContext::new(TraceId::from_u128(5), SpanId::from_u64(6), TraceFlags::SAMPLED, true);
    /// let cx = Context::new().with_span_context(parent);
    /// let spans = traceweave::testing::capture(|| traceweave::span("child").parent(&cx).start().end());
    /// assert_eq!(spans.0[0].trace_id, TraceId::from_u128(5));
    /// ```
    #[must_use]
    pub fn with_span_context(&self, span: SpanContext) -> Self {
        Context {
            span,
            shared: self.shared.clone(),
        }
    }

    /// The span identity.
    ///
    /// ```
    /// traceweave::testing::capture(|| {
    ///     let _span = traceweave::span("work").start().entered();
    ///     let ids = *traceweave::Context::current().span_context();
    ///     assert!(ids.is_valid());
    /// });
    /// ```
    pub fn span_context(&self) -> &SpanContext {
        &self.span
    }

    /// Whether a (valid) span is present.
    ///
    /// ```
    /// assert!(!traceweave::Context::new().has_span());
    /// traceweave::testing::capture(|| {
    ///     let _span = traceweave::span("work").start().entered();
    ///     assert!(traceweave::Context::current().has_span());
    /// });
    /// ```
    pub fn has_span(&self) -> bool {
        self.span.is_valid()
    }

    /// The baggage.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let headers = HashMap::from([("baggage".to_owned(), "tenant=acme".to_owned())]);
    /// let cx = traceweave::extract(&headers);
    /// assert_eq!(cx.baggage().get("tenant"), Some("acme"));
    /// ```
    pub fn baggage(&self) -> &Baggage {
        static EMPTY: Baggage = Baggage::new();
        self.shared.as_ref().map_or(&EMPTY, |s| &s.baggage)
    }

    /// The tracestate.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let headers = HashMap::from([
    ///     ("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
    ///     ("tracestate".to_owned(), "vendor=abc".to_owned()),
    /// ]);
    /// assert_eq!(traceweave::extract(&headers).trace_state().get("vendor"), Some("abc"));
    /// ```
    pub fn trace_state(&self) -> &TraceState {
        static EMPTY: TraceState = TraceState::new();
        self.shared.as_ref().map_or(&EMPTY, |s| &s.trace_state)
    }

    fn with_shared(&self, f: impl FnOnce(&mut Shared)) -> Self {
        let mut shared = self.shared.as_deref().cloned().unwrap_or_default();
        f(&mut shared);
        Context {
            span: self.span,
            shared: Some(Arc::new(shared)),
        }
    }

    /// A copy carrying `baggage` instead.
    ///
    /// ```
    /// use traceweave::{Baggage, Context};
    /// let cx = Context::new().with_baggage(Baggage::new().with("tenant", "acme"));
    /// assert_eq!(cx.baggage().get("tenant"), Some("acme"));
    /// ```
    #[must_use]
    pub fn with_baggage(&self, baggage: Baggage) -> Self {
        self.with_shared(|s| s.baggage = baggage)
    }

    /// A copy carrying `trace_state` instead.
    ///
    /// ```
    /// use traceweave::{Context, TraceState};
    /// let cx = Context::new().with_trace_state(TraceState::parse("vendor=abc").unwrap());
    /// assert_eq!(cx.trace_state().header(), "vendor=abc");
    /// ```
    #[must_use]
    pub fn with_trace_state(&self, trace_state: TraceState) -> Self {
        self.with_shared(|s| s.trace_state = trace_state)
    }

    pub(crate) fn with_sw8_trace_id(&self, id: Option<Arc<str>>) -> Self {
        self.with_shared(|s| s.sw8_trace_id = id)
    }

    pub(crate) fn sw8_trace_id(&self) -> Option<&str> {
        self.shared.as_ref().and_then(|s| s.sw8_trace_id.as_deref())
    }

    pub(crate) fn with_sw8_parent(&self, parent: Arc<Sw8Parent>) -> Self {
        self.with_shared(|s| s.sw8_parent = Some(parent))
    }

    pub(crate) fn sw8_endpoint(&self) -> Option<&str> {
        self.shared.as_ref().and_then(|s| s.sw8_endpoint.as_deref())
    }

    pub(crate) fn with_b3_debug(&self) -> Self {
        self.with_shared(|s| s.b3_debug = true)
    }

    pub(crate) fn b3_debug(&self) -> bool {
        self.shared.as_ref().is_some_and(|s| s.b3_debug)
    }

    pub(crate) fn with_scope(&self, scope: ScopeHandle) -> Self {
        self.with_shared(|s| s.scope = Some(scope))
    }

    pub(crate) fn scope(&self) -> Option<&ScopeHandle> {
        self.shared.as_ref().and_then(|s| s.scope.as_ref())
    }

    /// Makes this the current context of the calling thread until the guard drops.
    ///
    /// ```
    /// use traceweave::Context;
    ///
    /// let spans = traceweave::testing::capture(|| {
    ///     let span = traceweave::span("request").start();
    ///     let cx = span.context();
    ///     // Later, elsewhere (a callback, another thread): make the request's context current.
    ///     {
    ///         let _guard = cx.attach();
    ///         traceweave::span("callback").start().end(); // a child of "request"
    ///     }
    ///     drop(span);
    /// });
    /// assert_eq!(spans.tree(), "└─ request\n   └─ callback\n");
    /// ```
    pub fn attach(self) -> ContextGuard {
        ContextGuard {
            token: push(self),
            _not_send: PhantomData,
        }
    }

    /// Runs `f` with this as the current context.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let span = traceweave::span("job").start();
    ///     let n = span.context().run(|| {
    ///         traceweave::span("step").start().end();
    ///         3
    ///     });
    ///     assert_eq!(n, 3);
    /// });
    /// assert_eq!(spans.tree(), "└─ job\n   └─ step\n");
    /// ```
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        let _guard = self.attach();
        f()
    }
}

impl AsRef<Context> for Context {
    fn as_ref(&self) -> &Context {
        self
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("span", &self.span)
            .field("baggage", self.baggage())
            .field("trace_state", self.trace_state())
            .finish()
    }
}

/// Restores the previous context when dropped. Guards may be dropped in any order.
///
/// ```
/// use traceweave::{Baggage, Context};
/// let cx = Context::current().with_baggage(Baggage::new().with("tenant", "acme"));
/// {
///     let _guard = cx.attach();
///     assert_eq!(Context::current().baggage().get("tenant"), Some("acme"));
/// }
/// // Dropped: the previous context is back.
/// assert!(Context::current().baggage().get("tenant").is_none());
/// ```
#[must_use = "the context is detached as soon as the guard is dropped"]
pub struct ContextGuard {
    token: u64,
    // The stack is per thread: the guard must be dropped on the thread that made it.
    _not_send: PhantomData<*const ()>,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        pop(self.token);
    }
}

impl fmt::Debug for ContextGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextGuard").finish_non_exhaustive()
    }
}

pub(crate) struct Frame {
    pub(crate) ctx: Context,
    token: u64,
    /// Set on the exporters' thread: spans started under it are not recorded, so exporters
    /// never trace their own I/O.
    pub(crate) suppress: bool,
    /// The span id that another API's current context had when this frame was pushed
    /// (`foreign`): when it has changed since, that API's span is the innermost.
    #[cfg(feature = "opentelemetry-api")]
    foreign_seen: u64,
}

impl Frame {
    /// What the frame saw of the other API's stack (0 without the bridge).
    #[inline(always)]
    fn foreign_seen(&self) -> u64 {
        #[cfg(feature = "opentelemetry-api")]
        let seen = self.foreign_seen;
        #[cfg(not(feature = "opentelemetry-api"))]
        let seen = 0;
        seen
    }
}

pub(crate) struct Local {
    stack: UnsafeCell<Vec<Frame>>,
    next_token: Cell<u64>,
}

/// `UNSAMPLED_TOP` when the innermost frame is a plain, local, unsampled span: kept beside the
/// stack in a destructor-free thread-local, so the unsampled hot path is one load.
const OTHER_TOP: u8 = 0;
const UNSAMPLED_TOP: u8 = 1;

thread_local! {
    static TOP_KIND: Cell<u8> = const { Cell::new(OTHER_TOP) };
}

#[inline(always)]
fn top_kind(top: Option<&Frame>) -> u8 {
    #[cfg(feature = "opentelemetry-api")]
    if foreign::installed() {
        return OTHER_TOP;
    }
    match top {
        Some(f)
            if f.ctx.shared.is_none()
                && !f.suppress
                && f.ctx.span.is_valid()
                && !f.ctx.span.is_remote()
                && !f.ctx.span.is_sampled() =>
        {
            UNSAMPLED_TOP
        }
        _ => OTHER_TOP,
    }
}

/// Whether the innermost frame is a plain, local, unsampled span (children record nothing).
#[inline(always)]
pub(crate) fn top_is_unsampled() -> bool {
    TOP_KIND.with(Cell::get) == UNSAMPLED_TOP
}

thread_local! {
    static LOCAL: Local = const {
        Local { stack: UnsafeCell::new(Vec::new()), next_token: Cell::new(0) }
    };
}

/// What the hot path needs to know about the innermost frame.
pub(crate) enum FastParent {
    /// A local, sampled span with nothing else attached (no baggage, scope, suppression).
    Sampled(SpanContext),
    /// A local span that is not sampled: its children record nothing.
    Unsampled,
    /// Anything else: take the general path.
    Other,
}

#[inline(always)]
pub(crate) fn fast_parent() -> FastParent {
    #[cfg(feature = "opentelemetry-api")]
    if foreign::installed() {
        return FastParent::Other;
    }
    LOCAL
        .try_with(|l| {
            // SAFETY: a shared borrow of this thread's stack that ends inside this closure; only
            // Copy fields are read.
            let stack = unsafe { &*l.stack.get() };
            match stack.last() {
                Some(f)
                    if f.ctx.shared.is_none()
                        && !f.suppress
                        && f.ctx.span.is_valid()
                        && !f.ctx.span.is_remote() =>
                {
                    if f.ctx.span.is_sampled() {
                        FastParent::Sampled(f.ctx.span)
                    } else {
                        FastParent::Unsampled
                    }
                }
                _ => FastParent::Other,
            }
        })
        .unwrap_or(FastParent::Other)
}

/// A copy of the innermost frame: its context and whether recording is suppressed. A copy,
/// so no reference into the stack outlives this call: callers go on to run user code (a
/// sampler may attach contexts, which can move the stack's buffer).
#[inline]
pub(crate) fn current_frame() -> Option<(Context, bool)> {
    let top = LOCAL
        .try_with(|l| {
            // SAFETY: a shared borrow of this thread's stack that ends inside this closure;
            // cloning a Context only bumps an Arc count (no user code runs).
            let stack = unsafe { &*l.stack.get() };
            stack
                .last()
                .map(|f| (f.ctx.clone(), f.suppress, f.foreign_seen()))
        })
        .ok()
        .flatten();
    #[cfg(feature = "opentelemetry-api")]
    if foreign::installed() {
        return foreign::innermost(top);
    }
    top.map(|(ctx, suppress, _)| (ctx, suppress))
}

/// Suppresses recording on this thread until the guard drops: spans started meanwhile, and
/// contexts attached meanwhile, record nothing. Used around calls into user code on the span
/// path (samplers), so a traced function there cannot recurse into the sampler.
pub(crate) fn suppress() -> ContextGuard {
    ContextGuard {
        token: suppress_current_thread(),
        _not_send: PhantomData,
    }
}

/// Makes room for one more frame with no borrow of the stack live while the allocator runs:
/// a `#[global_allocator]` is user code and may itself attach contexts or trace (its pushes
/// then land on the stack as it is, and are carried over to the bigger buffer).
#[inline(always)]
fn reserve_one(l: &Local) {
    loop {
        // SAFETY: a shared borrow of this thread's stack that ends in this statement; reads two
        // integers.
        let (len, cap) = unsafe {
            let s = &*l.stack.get();
            (s.len(), s.capacity())
        };
        if len < cap {
            return;
        }
        grow(l, cap);
    }
}

#[cold]
#[inline(never)]
fn grow(l: &Local, cap: usize) {
    // The allocator runs here, with no borrow live.
    let mut bigger: Vec<Frame> = Vec::with_capacity((cap * 2).max(8));
    let old = {
        // SAFETY: exclusive borrow of this thread's stack that ends in this block; moving the
        // frames into capacity already reserved allocates nothing and runs no user code.
        let stack = unsafe { &mut *l.stack.get() };
        if bigger.capacity() > stack.len() {
            bigger.append(stack);
            std::mem::replace(stack, bigger)
        } else {
            // The allocator's own pushes outgrew it: drop it and try again.
            bigger
        }
    };
    // Frees the old buffer (the allocator again) after the borrow ended.
    drop(old);
}

/// The mark of a frame pushed by a span's own guard (an entered span, one poll of a traced
/// future): such a frame takes the events posted to it (`span::inbox`) when it pops.
pub(crate) const SPAN_FRAME: u64 = 1 << 63;

/// Pushes a context; returns the token that pops exactly this frame.
#[inline(always)]
pub(crate) fn push(ctx: Context) -> u64 {
    push_tagged(ctx, 0)
}

/// Pushes the context of a span by the span's own guard, which pops it and then takes the
/// events posted to the frame.
#[inline(always)]
pub(crate) fn push_span(ctx: Context) -> u64 {
    push_tagged(ctx, SPAN_FRAME)
}

/// The token of the innermost frame if a span's guard pushed it and the span is sampled: where
/// an event for "the current span" goes.
#[cfg_attr(not(any(feature = "tracing", feature = "log")), allow(dead_code))]
pub(crate) fn top_span_frame() -> Option<u64> {
    let (token, _seen) = LOCAL
        .try_with(|l| {
            // SAFETY: a shared borrow of this thread's stack that ends inside this closure; only
            // Copy fields are read.
            let stack = unsafe { &*l.stack.get() };
            stack
                .last()
                .filter(|f| f.token & SPAN_FRAME != 0 && !f.suppress && f.ctx.span.is_sampled())
                .map(|f| (f.token, f.foreign_seen()))
        })
        .ok()
        .flatten()?;
    // A span of the other API opened inside this frame is the current one: the frame's span is
    // not.
    #[cfg(feature = "opentelemetry-api")]
    if foreign::installed() && foreign::current_span_id() != _seen {
        return None;
    }
    Some(token)
}

/// The token of the innermost frame pushed by the guard of the span `span_id` (sampled, not
/// suppressed): where changes to that span go while it runs on this thread.
pub(crate) fn span_frame_of(span_id: crate::id::SpanId) -> Option<u64> {
    LOCAL
        .try_with(|l| {
            // SAFETY: a shared borrow of this thread's stack that ends inside this closure; only
            // Copy fields are read.
            let stack = unsafe { &*l.stack.get() };
            stack
                .iter()
                .rev()
                .find(|f| f.token & SPAN_FRAME != 0 && f.ctx.span.span_id() == span_id)
                .filter(|f| !f.suppress && f.ctx.span.is_sampled())
                .map(|f| f.token)
        })
        .ok()
        .flatten()
}

#[inline(always)]
fn push_tagged(ctx: Context, tag: u64) -> u64 {
    // Read before the stack is borrowed: it calls into the other API.
    #[cfg(feature = "opentelemetry-api")]
    let foreign_seen = if foreign::installed() {
        foreign::current_span_id()
    } else {
        0
    };
    LOCAL
        .try_with(|l| {
            let token = (l.next_token.get().wrapping_add(1) & !SPAN_FRAME).max(1);
            l.next_token.set(token);
            let token = token | tag;
            reserve_one(l);
            // SAFETY: exclusive borrow of this thread's stack, ended before the closure returns;
            // nothing in it calls user code: `ctx` was moved in, the old top is only read, and
            // `reserve_one` left room, so the push does not allocate.
            let stack = unsafe { &mut *l.stack.get() };
            let suppress = stack.last().is_some_and(|f| f.suppress);
            stack.push(Frame {
                ctx,
                token,
                suppress,
                #[cfg(feature = "opentelemetry-api")]
                foreign_seen,
            });
            TOP_KIND.with(|k| k.set(top_kind(stack.last())));
            token
        })
        .unwrap_or(0)
}

/// Marks the calling thread so that nothing started on it is recorded (the collector thread).
pub(crate) fn suppress_current_thread() -> u64 {
    LOCAL
        .try_with(|l| {
            let token = l.next_token.get().wrapping_add(1);
            l.next_token.set(token);
            reserve_one(l);
            // SAFETY: exclusive borrow of this thread's stack, ended before the closure returns;
            // nothing in it calls user code (`reserve_one` left room: the push does not
            // allocate).
            let stack = unsafe { &mut *l.stack.get() };
            stack.push(Frame {
                ctx: Context::new(),
                token,
                suppress: true,
                #[cfg(feature = "opentelemetry-api")]
                foreign_seen: 0,
            });
            TOP_KIND.with(|k| k.set(OTHER_TOP));
            token
        })
        .unwrap_or(0)
}

/// Pops the frame pushed with `token`, wherever it is in the stack (guards dropped out of
/// order must not remove someone else's frame).
#[inline(always)]
pub(crate) fn pop(token: u64) {
    if token == 0 {
        return;
    }
    let removed = LOCAL.try_with(|l| {
        // SAFETY: exclusive borrow of this thread's stack, ended before the closure returns; the
        // removed frame (whose Context may hold the last handle of a tracer) is dropped after.
        let stack = unsafe { &mut *l.stack.get() };
        let removed = match stack.last() {
            Some(top) if top.token == token => stack.pop(),
            _ => stack
                .iter()
                .rposition(|f| f.token == token)
                .map(|i| stack.remove(i)),
        };
        TOP_KIND.with(|k| k.set(top_kind(stack.last())));
        removed
    });
    drop(removed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(n: u64) -> Context {
        Context::new().with_span_context(SpanContext::new(
            TraceId::from_u128(1),
            SpanId::from_u64(n),
            TraceFlags::SAMPLED,
            false,
        ))
    }

    fn current_span() -> u64 {
        Context::current().span_context().span_id().to_u64()
    }

    #[test]
    fn nested_attach_and_restore() {
        assert_eq!(current_span(), 0);
        let a = ctx(1).attach();
        let b = ctx(2).attach();
        assert_eq!(current_span(), 2);
        drop(b);
        assert_eq!(current_span(), 1);
        drop(a);
        assert_eq!(current_span(), 0);
    }

    #[test]
    fn out_of_order_drops_do_not_corrupt() {
        let a = ctx(1).attach();
        let b = ctx(2).attach();
        let c = ctx(3).attach();
        drop(b);
        assert_eq!(current_span(), 3);
        drop(c);
        assert_eq!(current_span(), 1);
        drop(a);
        assert_eq!(current_span(), 0);
    }

    #[test]
    fn baggage_and_trace_state_travel() {
        let c = ctx(1)
            .with_baggage(Baggage::new().with("k", "v"))
            .with_trace_state(TraceState::parse("a=1").unwrap());
        c.run(|| {
            let cur = Context::current();
            assert_eq!(cur.baggage().get("k"), Some("v"));
            assert_eq!(cur.trace_state().get("a"), Some("1"));
        });
        assert!(Context::current().baggage().is_empty());
    }
}
