//! The OpenTelemetry API, served by traceweave (feature `opentelemetry-api`), and the
//! OpenTelemetry SDK's exporters driven by traceweave (feature `opentelemetry`).
//!
//! Crates that instrument through `opentelemetry::global::tracer(...)` start their spans
//! through traceweave once [`install`] has run: its sampler, pipeline and exporters record
//! them, in the same trees as `#[traced]` spans. Nesting holds both ways: a span of the
//! OpenTelemetry API started inside a `#[traced]` fn is its child, and a `#[traced]` fn called
//! while an OpenTelemetry span is attached (`in_span`, `mark_span_as_active`,
//! `Context::attach`, `FutureExt::with_context`) is that span's child. [`to_otel`] and
//! [`from_otel`] (also as `From` impls) convert contexts for code that holds one and needs the
//! other.
//!
//! ```
//! use opentelemetry::trace::{Tracer as _, TracerProvider as _};
//! let otel = traceweave::integrations::opentelemetry::TracerProvider::new().tracer("sqlx");
//! let spans = traceweave::testing::capture(|| {
//!     let _handler = traceweave::span("handler").start().enter();
//!     otel.in_span("query", |_cx| drop(traceweave::span("decode").start()));
//! });
//! assert_eq!(spans.tree(), "└─ handler\n   └─ query otel.scope.name=\"sqlx\"\n      └─ decode\n");
//! ```
//!
//! Cost: once the bridge is installed, every span start also reads the OpenTelemetry
//! context (the hot path's shortcut for children of a local parent is off); see the
//! benchmark README for the figures. Events that `tracing` or `log` post while an
//! OpenTelemetry-API span is the innermost one are not recorded (that span belongs to the
//! other API's stack).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use ::opentelemetry as otel;
use otel::baggage::BaggageExt as _;
use otel::trace::TraceContextExt as _;

use crate::context::{Baggage, BaggageEntry, Context, SpanContext, TraceState, foreign};
use crate::id::{SpanId, TraceFlags, TraceId};
use crate::span::{Array, KeyValue, Parent, SpanKind, Status, Value};

#[cfg(feature = "opentelemetry-sdk")]
mod sdk;
#[cfg(feature = "opentelemetry-sdk")]
pub use sdk::{SdkExporter, span_data, span_data_of};

/// traceweave as an OpenTelemetry [`TracerProvider`](otel::trace::TracerProvider): its tracers
/// start traceweave spans. Creating one installs the bridge between the two context stacks.
#[derive(Clone, Debug)]
pub struct TracerProvider(());

impl TracerProvider {
    /// A provider; also makes the OpenTelemetry context visible to traceweave.
    pub fn new() -> Self {
        install_bridge();
        TracerProvider(())
    }
}

impl Default for TracerProvider {
    fn default() -> Self {
        Self::new()
    }
}

/// Makes traceweave the global OpenTelemetry tracer provider (what
/// `opentelemetry::global::tracer(...)` returns tracers of), and returns it.
pub fn install() -> TracerProvider {
    let provider = TracerProvider::new();
    otel::global::set_tracer_provider(provider.clone());
    provider
}

impl otel::trace::TracerProvider for TracerProvider {
    type Tracer = Tracer;

    fn tracer_with_scope(&self, scope: otel::InstrumentationScope) -> Tracer {
        Tracer {
            scope: Arc::new(scope),
        }
    }
}

/// An OpenTelemetry [`Tracer`](otel::trace::Tracer) that starts traceweave spans. Its
/// instrumentation scope is recorded on each span as `otel.scope.name` and
/// `otel.scope.version`.
#[derive(Clone, Debug)]
pub struct Tracer {
    scope: Arc<otel::InstrumentationScope>,
}

impl otel::trace::Tracer for Tracer {
    type Span = OtelSpan;

    fn build_with_context(
        &self,
        builder: otel::trace::SpanBuilder,
        parent_cx: &otel::Context,
    ) -> OtelSpan {
        // The thread's current context (what `start`/`build` pass, or a copy of it): the
        // innermost of both stacks. Any other context is an explicit parent, and one without
        // a span starts a new trace, as the API specifies.
        let explicit = (!is_current(parent_cx)).then(|| from_otel(parent_cx));
        let parent = match &explicit {
            None => Parent::Current,
            Some(ctx) => Parent::Explicit(ctx),
        };
        let kind = builder
            .span_kind
            .as_ref()
            .map_or(SpanKind::Internal, kind_of);
        let mut span = crate::tracer::start(builder.name, kind, parent);
        if span.is_recording() {
            if let Some(start) = builder.start_time {
                span.set_start_time(start);
            }
            if !self.scope.name().is_empty() {
                span.set_attribute("otel.scope.name", self.scope.name().to_owned());
            }
            if let Some(version) = self.scope.version() {
                span.set_attribute("otel.scope.version", version.to_owned());
            }
            for kv in builder.attributes.into_iter().flatten() {
                set(&mut span, kv);
            }
            for link in builder.links.into_iter().flatten() {
                span.add_link(
                    span_context_of(&link.span_context),
                    key_values(link.attributes),
                );
            }
            for event in builder.events.into_iter().flatten() {
                span.add_event_at(event.name, event.timestamp, key_values(event.attributes));
            }
        }
        // A span that records nothing still has an identity: its own if it started a trace
        // unsampled, else its parent's.
        let ctx = span
            .attach_context()
            .or(explicit)
            .unwrap_or_else(Context::current);
        OtelSpan {
            span_context: otel_span_context(&ctx),
            inner: span,
        }
    }
}

/// A span started through the OpenTelemetry API: a traceweave span. Dropping it ends it.
#[derive(Debug)]
pub struct OtelSpan {
    inner: crate::Span,
    span_context: otel::trace::SpanContext,
}

impl otel::trace::Span for OtelSpan {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<otel::KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        if self.inner.is_recording() {
            self.inner
                .add_event_at(name.into(), timestamp, key_values(attributes));
        }
    }

    fn span_context(&self) -> &otel::trace::SpanContext {
        &self.span_context
    }

    fn is_recording(&self) -> bool {
        self.inner.is_recording()
    }

    fn set_attribute(&mut self, attribute: otel::KeyValue) {
        set(&mut self.inner, attribute);
    }

    fn set_status(&mut self, status: otel::trace::Status) {
        match status {
            // Setting Unset is ignored (the API's rule); so is anything after Ok.
            otel::trace::Status::Unset => {}
            otel::trace::Status::Ok => self.inner.set_status(Status::Ok),
            otel::trace::Status::Error { description } => {
                self.inner.set_status(Status::error(description))
            }
        }
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        self.inner.update_name(new_name);
    }

    fn add_link(
        &mut self,
        span_context: otel::trace::SpanContext,
        attributes: Vec<otel::KeyValue>,
    ) {
        self.inner
            .add_link(span_context_of(&span_context), key_values(attributes));
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.inner.end_at(timestamp);
    }
}

/// Whether `cx` is the thread's current OpenTelemetry context or a copy of it (same span, or
/// both without one).
fn is_current(cx: &otel::Context) -> bool {
    otel::Context::map_current(|current| {
        std::ptr::eq(current, cx)
            || match (current.has_active_span(), cx.has_active_span()) {
                (true, true) => current.span().span_context() == cx.span().span_context(),
                (false, false) => true,
                _ => false,
            }
    })
}

/// A traceweave context as an OpenTelemetry one: its span (as a non-recording span context,
/// what a child or an injector needs), tracestate and baggage.
pub fn to_otel(ctx: &Context) -> otel::Context {
    install_bridge();
    let mut cx = otel::Context::new();
    if ctx.has_span() {
        cx = cx.with_remote_span_context(otel_span_context(ctx));
    }
    if !ctx.baggage().is_empty() {
        let members = ctx.baggage().iter().map(|e| {
            otel::baggage::KeyValueMetadata::new(
                e.key.clone(),
                e.value.clone(),
                e.metadata.as_str(),
            )
        });
        cx = cx.with_baggage(members.collect::<Vec<_>>());
    }
    cx
}

/// An OpenTelemetry context as a traceweave one: its span (whichever API started it),
/// tracestate and baggage.
pub fn from_otel(cx: &otel::Context) -> Context {
    install_bridge();
    let mut ctx = if cx.has_active_span() {
        context_of(cx.span().span_context()).unwrap_or_default()
    } else {
        Context::new()
    };
    if !cx.baggage().is_empty() {
        let entries: Vec<BaggageEntry> = cx
            .baggage()
            .iter()
            .map(|(k, (v, meta))| BaggageEntry {
                key: k.to_string(),
                value: v.to_string(),
                metadata: meta.as_str().to_owned(),
            })
            .collect();
        ctx = ctx.with_baggage(Baggage::new().with_entries(entries));
    }
    ctx
}

impl From<&Context> for otel::Context {
    fn from(ctx: &Context) -> Self {
        to_otel(ctx)
    }
}

impl From<Context> for otel::Context {
    fn from(ctx: Context) -> Self {
        to_otel(&ctx)
    }
}

impl From<&otel::Context> for Context {
    fn from(cx: &otel::Context) -> Self {
        from_otel(cx)
    }
}

impl From<otel::Context> for Context {
    fn from(cx: otel::Context) -> Self {
        from_otel(&cx)
    }
}

/// Lets traceweave read the OpenTelemetry context stack (once per process).
fn install_bridge() {
    if !foreign::installed() {
        foreign::install(foreign::Hooks {
            span_id: current_otel_span_id,
            context: current_otel_context,
        });
    }
}

fn current_otel_span_id() -> u64 {
    otel::Context::map_current(|cx| {
        if cx.has_active_span() {
            u64::from_be_bytes(cx.span().span_context().span_id().to_bytes())
        } else {
            0
        }
    })
}

fn current_otel_context() -> Option<Context> {
    otel::Context::map_current(|cx| {
        if cx.has_active_span() {
            context_of(cx.span().span_context())
        } else {
            None
        }
    })
}

/// A valid OpenTelemetry span context as a context of ours (span and tracestate).
fn context_of(sc: &otel::trace::SpanContext) -> Option<Context> {
    if !sc.is_valid() {
        return None;
    }
    let ctx = Context::new().with_span_context(span_context_of(sc));
    let state = sc.trace_state().header();
    Some(match TraceState::parse(&state) {
        Ok(ts) if !ts.is_empty() => ctx.with_trace_state(ts),
        _ => ctx,
    })
}

fn span_context_of(sc: &otel::trace::SpanContext) -> SpanContext {
    SpanContext::new(
        TraceId::from_bytes(sc.trace_id().to_bytes()),
        SpanId::from_bytes(sc.span_id().to_bytes()),
        TraceFlags::from_u8(sc.trace_flags().to_u8()),
        sc.is_remote(),
    )
}

fn otel_span_context(ctx: &Context) -> otel::trace::SpanContext {
    let span = ctx.span_context();
    let state = if ctx.trace_state().is_empty() {
        otel::trace::TraceState::default()
    } else {
        ctx.trace_state().header().parse().unwrap_or_default()
    };
    ids(
        span.trace_id(),
        span.span_id(),
        span.trace_flags().to_u8(),
        span.is_remote(),
        state,
    )
}

/// An OpenTelemetry span context from our ids (only the W3C flag bits are kept).
pub(crate) fn ids(
    trace_id: TraceId,
    span_id: SpanId,
    flags: u8,
    remote: bool,
    state: otel::trace::TraceState,
) -> otel::trace::SpanContext {
    otel::trace::SpanContext::new(
        otel::trace::TraceId::from_bytes(trace_id.to_bytes()),
        otel::trace::SpanId::from_bytes(span_id.to_bytes()),
        otel::trace::TraceFlags::new(flags & 0x03),
        remote,
        state,
    )
}

fn kind_of(kind: &otel::trace::SpanKind) -> SpanKind {
    match kind {
        otel::trace::SpanKind::Client => SpanKind::Client,
        otel::trace::SpanKind::Server => SpanKind::Server,
        otel::trace::SpanKind::Producer => SpanKind::Producer,
        otel::trace::SpanKind::Consumer => SpanKind::Consumer,
        otel::trace::SpanKind::Internal => SpanKind::Internal,
    }
}

fn set(span: &mut crate::Span, kv: otel::KeyValue) {
    if span.is_recording() {
        span.set_attribute(String::from(kv.key), value_of(kv.value));
    }
}

fn key_values(kvs: Vec<otel::KeyValue>) -> Vec<KeyValue> {
    kvs.into_iter()
        .map(|kv| KeyValue::new(String::from(kv.key), value_of(kv.value)))
        .collect()
}

fn text(s: otel::StringValue) -> Cow<'static, str> {
    Cow::Owned(s.into())
}

/// An OpenTelemetry attribute value as ours.
fn value_of(v: otel::Value) -> Value {
    match v {
        otel::Value::Bool(b) => Value::Bool(b),
        otel::Value::I64(i) => Value::I64(i),
        otel::Value::F64(f) => Value::F64(f),
        otel::Value::String(s) => Value::Str(text(s)),
        otel::Value::Array(a) => Value::Array(match a {
            otel::Array::Bool(v) => Array::Bool(v),
            otel::Array::I64(v) => Array::I64(v),
            otel::Array::F64(v) => Array::F64(v),
            otel::Array::String(v) => Array::Str(v.into_iter().map(text).collect()),
            other => Array::Str(vec![Cow::Owned(other.to_string())]),
        }),
        other => Value::Str(Cow::Owned(other.to_string())),
    }
}
