//! What the macros' output calls. Not a public API: names and signatures change freely.
//!
//! Every annotated function's expansion calls in here, so what is inlined into it is paid once
//! per function at every build (and in the binary's size). The rule: the calls a span makes
//! (start, enter, end, the context pushed around a poll) are plain functions, compiled once in
//! this crate with the hot path inlined inside them; only what must be generic over the user's
//! types (the future wrapper's `poll`, recording a typed value, classifying the output) is
//! generic, and it stays small, calling those.
#![allow(missing_debug_implementations, missing_docs)]

use std::borrow::Cow;
use std::fmt::{Debug, Display};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

pub use crate::context::Context;
pub use crate::span::{EnteredSpan, Key, Span, SpanKind, Status, ToValue, Value};
pub use std::boxed::Box;
pub use std::pin::Pin as PinType;

use crate::context;
use crate::span::Parent;

/// Starts a span with a static name as a child of the current context (or a new root).
pub fn start(name: &'static str, kind: SpanKind, root: bool) -> Span {
    let parent = if root { Parent::Root } else { Parent::Current };
    crate::tracer::start(Cow::Borrowed(name), kind, parent)
}

/// Starts a span whose parent is given explicitly.
#[inline]
pub fn start_with_parent<P: AsRef<Context> + ?Sized>(
    name: &'static str,
    kind: SpanKind,
    parent: &P,
) -> Span {
    start_under(name, kind, parent.as_ref())
}

fn start_under(name: &'static str, kind: SpanKind, parent: &Context) -> Span {
    crate::tracer::start(Cow::Borrowed(name), kind, Parent::Explicit(parent))
}

/// Starts and enters a span for a sync body (the hot path, built in place inside this one
/// call).
pub fn enter_new(name: &'static str, kind: SpanKind, root: bool) -> EnteredSpan {
    crate::tracer::start_entered(name, kind, root)
}

pub use crate::propagation::RpcCarrier;

/// A `#[traced_rpc]` fn's parameter, probed for being an incoming request by autoref
/// specialization: `(&&Probe(&param)).__tw_probe()` is `Found` when the parameter's type
/// implements `RpcCarrier`, else `NotFound`.
pub struct Probe<'a, T>(pub &'a T);

pub struct Found<'a>(&'a (dyn RpcCarrier + 'a));

pub struct NotFound;

pub trait ProbeCarrier<'a> {
    fn __tw_probe(&self) -> Found<'a>;
}

impl<'a, T: RpcCarrier> ProbeCarrier<'a> for &Probe<'a, T> {
    #[inline(always)]
    fn __tw_probe(&self) -> Found<'a> {
        Found(self.0)
    }
}

pub trait ProbeOther {
    fn __tw_probe(&self) -> NotFound;
}

impl<T> ProbeOther for Probe<'_, T> {
    #[inline(always)]
    fn __tw_probe(&self) -> NotFound {
        NotFound
    }
}

impl<'a> Found<'a> {
    /// The first request found wins.
    #[inline(always)]
    pub fn or<X>(self, _later: X) -> Found<'a> {
        self
    }
}

impl NotFound {
    #[inline(always)]
    pub fn or<X>(self, next: X) -> X {
        next
    }
}

/// What the probes of a `#[traced_rpc]` fn's parameters found.
#[diagnostic::on_unimplemented(
    message = "#[traced_rpc] found no incoming request among the parameters",
    label = "no parameter here is a request it can read the caller's context from",
    note = "it reads http::Request<B> and http::HeaderMap (feature `http`), tonic::Request<T> \
            (`tonic`), lapin's Delivery and BasicProperties (`amqp`), async_nats::Message \
            (`nats`), owned or by reference and bound to a plain name, and any type of yours \
            implementing `traceweave::propagation::RpcCarrier`; or name the carrier with \
            `carrier = expr`"
)]
pub trait IncomingRequest<'a> {
    fn carrier(self) -> &'a (dyn RpcCarrier + 'a);
}

impl<'a> IncomingRequest<'a> for Found<'a> {
    #[inline(always)]
    fn carrier(self) -> &'a (dyn RpcCarrier + 'a) {
        self.0
    }
}

#[inline(always)]
pub fn rpc_carrier<'a>(found: impl IncomingRequest<'a>) -> &'a (dyn RpcCarrier + 'a) {
    found.carrier()
}

/// The caller's context from an explicit `carrier = expr`.
#[inline]
pub fn extract_parent<E: crate::propagation::Extractor + ?Sized>(carrier: &E) -> Context {
    crate::propagation::extract(carrier)
}

/// Starts a server or consumer span under the caller's context; with `link`, in a new trace
/// linked to the caller's span instead.
pub fn start_rpc(name: &'static str, kind: SpanKind, parent: Context, link: bool) -> Span {
    if link {
        let remote = *parent.span_context();
        let detached = parent.with_span_context(crate::context::SpanContext::INVALID);
        let mut span = crate::tracer::start(Cow::Borrowed(name), kind, Parent::Explicit(&detached));
        if remote.is_valid() {
            span.add_link(remote, Vec::new());
        }
        span
    } else {
        crate::tracer::start(Cow::Borrowed(name), kind, Parent::Explicit(&parent))
    }
}

/// Enters a span for a sync body.
pub fn enter(span: Span) -> EnteredSpan {
    span.enter()
}

/// Attaches a span's context for the synchronous prelude of a fn returning a future.
pub fn attach(span: &Span) -> Option<context::ContextGuard> {
    span.attach_context().map(Context::attach)
}

#[inline]
pub fn record_value<T: ToValue + ?Sized>(span: &mut Span, key: &'static str, value: &T) {
    record(span, key, value.to_value());
}

fn record(span: &mut Span, key: &'static str, value: Value) {
    span.set_attribute(Key::from_static(key), value);
}

pub fn record_static_str(span: &mut Span, key: &'static str, value: &'static str) {
    record(span, key, Value::Str(Cow::Borrowed(value)));
}

#[inline]
pub fn record_display<T: Display + ?Sized>(span: &mut Span, key: &'static str, value: &T) {
    if span.is_recording() {
        record_formatted(span, key, format_args!("{value}"));
    }
}

#[inline]
pub fn record_debug<T: Debug + ?Sized>(span: &mut Span, key: &'static str, value: &T) {
    if span.is_recording() {
        record_formatted(span, key, format_args!("{value:?}"));
    }
}

/// Records a formatted value: the one copy of the bounded formatting every `%x`, `?x` and
/// `ret` goes through.
fn record_formatted(span: &mut Span, key: &'static str, args: std::fmt::Arguments<'_>) {
    let text = span.format_value(args);
    span.set_attribute(Key::from_static(key), text);
}

/// Marks the span failed with a formatted error.
fn fail_with(span: &mut Span, args: std::fmt::Arguments<'_>) {
    let text = span.format_value(args);
    span.set_status(Status::error(text));
}

/// A borrowed return value, classified by autoref specialization: a `Result` whose error is
/// `Display` (or else `Debug`) marks the span failed; anything else does nothing. This works
/// for every alias of `Result` because it looks at the type, not at how it is spelled.
pub struct Outcome<'a, T: ?Sized>(pub &'a T);

/// An ecosystem's own outcome types (HTTP responses, tonic results): impls live with the
/// ecosystem in `integrations/`.
pub trait ViaEcosystem {
    fn __tw_outcome(&self, span: &mut Span);
}

pub trait ViaDisplay {
    fn __tw_outcome(&self, span: &mut Span);
}

impl<T, E: Display> ViaDisplay for &&Outcome<'_, Result<T, E>> {
    #[inline]
    fn __tw_outcome(&self, span: &mut Span) {
        if let Err(e) = self.0
            && span.is_recording()
        {
            fail_with(span, format_args!("{e}"));
        }
    }
}

pub trait ViaDebug {
    fn __tw_outcome(&self, span: &mut Span);
}

impl<T, E: Debug> ViaDebug for &Outcome<'_, Result<T, E>> {
    #[inline]
    fn __tw_outcome(&self, span: &mut Span) {
        if let Err(e) = self.0
            && span.is_recording()
        {
            fail_with(span, format_args!("{e:?}"));
        }
    }
}

pub trait ViaAny {
    fn __tw_outcome(&self, span: &mut Span);
}

impl<T: ?Sized> ViaAny for Outcome<'_, T> {
    #[inline]
    fn __tw_outcome(&self, _: &mut Span) {}
}

/// Records `ret`.
#[inline]
pub fn record_return<T: Debug + ?Sized>(span: &mut Span, value: &T) {
    if span.is_recording() {
        record_formatted(span, "return", format_args!("{value:?}"));
    }
}

pin_project_lite::pin_project! {
    /// The future of a traced async fn: attaches the span's context on every poll, records the
    /// outcome, and ends the span on completion, panic, or drop (then marked cancelled).
    pub struct Instrumented<F, C> {
        #[pin]
        inner: F,
        span: Span,
        ctx: Option<Context>,
        on_output: Option<C>,
    }

    impl<F, C> PinnedDrop for Instrumented<F, C> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if this.span.is_recording() {
                cancel(this.span);
            }
        }
    }
}

/// Ends the span of a future dropped before it completed.
#[cold]
fn cancel(span: &mut Span) {
    span.set_attribute(Key::from_static("cancelled"), true);
    span.end_in_place();
}

/// The context a future's polls run under.
fn context_of(span: &Span) -> Option<Context> {
    span.attach_context()
}

/// Makes the span's context current for one poll; the token undoes it.
fn enter_poll(ctx: &Option<Context>) -> u64 {
    match ctx {
        Some(ctx) => context::push_span(ctx.clone()),
        None => 0,
    }
}

/// Ends the span of a completed future.
fn complete(span: &mut Span) {
    span.end_in_place();
}

impl<F, C> Instrumented<F, C>
where
    F: Future,
    C: FnOnce(&F::Output, &mut Span),
{
    #[inline]
    pub fn new(inner: F, span: Span, on_output: C) -> Self {
        Instrumented {
            ctx: context_of(&span),
            inner,
            span,
            on_output: Some(on_output),
        }
    }
}

struct PollGuard<'a> {
    span: &'a mut Span,
    token: u64,
    armed: bool,
}

impl Drop for PollGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        exit_poll(self.span, self.token, self.armed);
    }
}

/// Undoes `enter_poll`; `unwinding` when the poll panicked (then the span ends, failed).
fn exit_poll(span: &mut Span, token: u64, unwinding: bool) {
    context::pop(token);
    if !crate::span::inbox::is_empty() {
        span.take_posted(token);
    }
    if unwinding && std::thread::panicking() && span.is_recording() {
        span.set_status(Status::error("panicked"));
        span.end_in_place();
    }
}

impl<F, C> Future for Instrumented<F, C>
where
    F: Future,
    C: FnOnce(&F::Output, &mut Span),
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let token = enter_poll(this.ctx);
        let mut guard = PollGuard {
            span: this.span,
            token,
            armed: true,
        };
        let poll = this.inner.poll(cx);
        guard.armed = false;
        drop(guard);
        if let Poll::Ready(output) = &poll {
            if let Some(on_output) = this.on_output.take() {
                on_output(output, this.span);
            }
            complete(this.span);
        }
        poll
    }
}

pin_project_lite::pin_project! {
    /// The future returned by a traced async fn. Its span starts at the first poll, as a child of
    /// the context current there (so `f().with_context(cx)` and `capture_async(f())` put it where
    /// it runs): the first poll calls `start`, which starts the span, records the arguments and
    /// returns the body's future wrapped in [`Instrumented`]. A future dropped before its first
    /// poll (the losing branch of a `select!`) still records a span, child of the context
    /// current at the drop and marked cancelled. One small state machine instead of an `async`
    /// block around the body's: less for the compiler to build for every async fn.
    pub struct Unpolled<M, F> {
        #[pin]
        state: Stage<M, F>,
        name: &'static str,
        kind: SpanKind,
        root: bool,
    }

    impl<M, F> PinnedDrop for Unpolled<M, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let StageProj::Unpolled { .. } = this.state.project() {
                cancelled_before_first_poll(this.name, *this.kind, *this.root);
            }
        }
    }
}

pin_project_lite::pin_project! {
    #[project = StageProj]
    enum Stage<M, F> {
        Unpolled { start: Option<M> },
        Running { #[pin] future: F },
    }
}

#[cold]
#[inline(never)]
fn cancelled_before_first_poll(name: &'static str, kind: SpanKind, root: bool) {
    let mut span = start(name, kind, root);
    if span.is_recording() {
        span.set_attribute(Key::from_static("cancelled"), true);
    }
    span.end();
}

impl<M: FnOnce() -> F, F: Future> Unpolled<M, F> {
    #[inline]
    pub fn new(name: &'static str, kind: SpanKind, root: bool, start: M) -> Self {
        Unpolled {
            state: Stage::Unpolled { start: Some(start) },
            name,
            kind,
            root,
        }
    }
}

impl<M: FnOnce() -> F, F: Future> Future for Unpolled<M, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let mut state = self.project().state;
        if let StageProj::Unpolled { start } = state.as_mut().project() {
            let start = start.take().expect("started once");
            state.set(Stage::Running { future: start() });
        }
        match state.project() {
            StageProj::Running { future } => future.poll(cx),
            StageProj::Unpolled { .. } => unreachable!("started above"),
        }
    }
}

/// Runs a traced sync body. Taking `FnOnce` makes the compiler check the closure as one, so
/// the closure owns its captures and a borrow returned through a captured `&mut self` may
/// outlive the call (an `FnMut` closure could only lend it).
#[doc(hidden)]
#[inline(always)]
pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// Used by the fake return edge in generated async blocks.
#[doc(hidden)]
pub fn unreachable<T>() -> T {
    unreachable!()
}
