//! Starting spans: the tracer decides whether a span is recorded (sampling), where it ends
//! (the pipeline and its limits: a [`Sink`]), and gives it its ids and parent, as
//! opentelemetry-sdk's tracer builds a span only after sampling. `span/` then records into what
//! it is handed and ends into the sink.

use std::borrow::Cow;
use std::sync::Arc;

use super::pipeline::Pipeline;
use super::sink::Sink;
use super::{GlobalState, global_state, global_state_cold, scoped_pipeline};
use crate::context::{self, Context, SpanContext};
use crate::id::{SpanId, TraceFlags, TraceId};
use crate::sampler::{SamplingDecision, SamplingInput};
use crate::span::raw::RawSpan;
use crate::span::{EnteredSpan, Key, KeyValue, Parent, Span, SpanKind, Value, clock};

impl Span {
    /// Starts a span named `name` as a child of the current context.
    ///
    /// ```
    /// use traceweave::{Span, SpanKind};
    /// let spans = traceweave::testing::capture(|| {
    ///     let span = Span::start("poll queue", SpanKind::Consumer);
    ///     span.end();
    /// });
    /// assert_eq!(spans.tree(), "└─ poll queue [consumer]\n");
    /// ```
    #[inline]
    pub fn start(name: &'static str, kind: SpanKind) -> Self {
        start(Cow::Borrowed(name), kind, Parent::Current)
    }
}

/// Builds a span by hand: name, kind, parent, attributes and links, then [`start`](Self::start).
///
/// ```
/// use traceweave::SpanKind;
/// let spans = traceweave::testing::capture(|| {
///     let span = traceweave::span("SELECT orders")
///         .kind(SpanKind::Client)
///         .attribute("db.system", "postgresql")
///         .start();
///     span.end();
/// });
/// assert_eq!(spans.tree(), "└─ SELECT orders [client] db.system=\"postgresql\"\n");
/// ```
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
///
/// ```
/// let spans = traceweave::testing::capture(|| {
///     // A name known only at run time is fine too (it is copied once).
///     let table = "orders";
///     let mut span = traceweave::span(format!("SELECT {table}")).start();
///     span.set_attribute("rows", 3);
/// });
/// assert_eq!(spans.tree(), "└─ SELECT orders rows=3\n");
/// ```
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
    ///
    /// ```
    /// use traceweave::SpanKind;
    /// let spans = traceweave::testing::capture(|| {
    ///     traceweave::span("publish order").kind(SpanKind::Producer).start().end();
    /// });
    /// assert_eq!(spans.tree(), "└─ publish order [producer]\n");
    /// ```
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Makes the span a child of `parent` (e.g. a context extracted from a request).
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let request = traceweave::span("request").start();
    ///     let cx = request.context();
    ///     // On another thread the current context is empty: name the parent instead.
    ///     std::thread::scope(|s| {
    ///         s.spawn(|| traceweave::span("background").parent(&cx).start().end());
    ///     });
    ///     request.end();
    /// });
    /// assert_eq!(spans.tree(), "└─ request\n   └─ background\n");
    /// ```
    pub fn parent(mut self, parent: &Context) -> Self {
        self.parent = BuilderParent::Explicit(parent.clone());
        self
    }

    /// Starts a new trace, whatever the current context is.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let _request = traceweave::span("request").start().entered();
    ///     traceweave::span("audit").root().start().end(); // a trace of its own
    /// });
    /// assert!(spans.named("audit").unwrap().is_root());
    /// ```
    pub fn root(mut self) -> Self {
        self.parent = BuilderParent::Root;
        self
    }

    /// Adds an attribute.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     traceweave::span("GET /orders")
    ///         .attribute("http.request.method", "GET")
    ///         .attribute("http.response.status_code", 200)
    ///         .start()
    ///         .end();
    /// });
    /// assert_eq!(
    ///     spans.tree(),
    ///     "└─ GET /orders http.request.method=\"GET\" http.response.status_code=200\n"
    /// );
    /// ```
    pub fn attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        self.attributes.push(KeyValue::new(key, value));
        self
    }

    /// Adds a link.
    ///
    /// ```
    /// use traceweave::{KeyValue, SpanContext, SpanId, TraceFlags, TraceId};
    /// let message = SpanContext::new(TraceId::from_u128(1), SpanId::from_u64(2), TraceFlags::SAMPLED, true);
    /// let spans = traceweave::testing::capture(|| {
    ///     traceweave::span("handle batch")
    ///         .link(message, vec![KeyValue::new("messaging.message.id", "m-1")])
    ///         .start()
    ///         .end();
    /// });
    /// assert_eq!(spans.0[0].links.len(), 1);
    /// ```
    pub fn link(mut self, span_context: SpanContext, attributes: Vec<KeyValue>) -> Self {
        self.links.push((span_context, attributes));
        self
    }

    /// Starts the span.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let span = traceweave::span("work").start(); // the clock starts here
    ///     span.end();
    /// });
    /// assert_eq!(spans.len(), 1);
    /// ```
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
        && !keeps_endpoint(kind)
    {
        match context::fast_parent() {
            context::FastParent::Sampled(ps) => {
                let raw = new_record(
                    name,
                    kind,
                    ps.trace_id(),
                    ps.span_id(),
                    false,
                    ps.trace_flags(),
                );
                return Span::new_recording(raw, None, Sink::global(p));
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
        return EnteredSpan::from_pushed(Span::noop(), 0);
    }
    if let (false, GlobalState::Running(p)) = (root, global_state())
        && p.follows_local_parent
        && !keeps_endpoint(kind)
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
                return EnteredSpan::from_pushed(
                    Span::new_recording(raw, None, Sink::global(p)),
                    token,
                );
            }
            context::FastParent::Unsampled => {
                return EnteredSpan::from_pushed(Span::noop(), 0);
            }
            context::FastParent::Other => {}
        }
    }
    let parent = if root { Parent::Root } else { Parent::Current };
    start_general(Cow::Borrowed(name), kind, parent).enter()
}

/// Whether this span's name must be kept in its context as SkyWalking's endpoint (the slow path
/// does that).
#[inline(always)]
fn keeps_endpoint(kind: SpanKind) -> bool {
    matches!(kind, SpanKind::Server | SpanKind::Consumer) && context::sw8_endpoints()
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
            (Some(p), Sink::scoped())
        }
        None => match global_state_cold() {
            GlobalState::Running(p) => (Some(p), Sink::global(p)),
            GlobalState::Disabled => return Span::noop(),
            GlobalState::Uninit => (None, Sink::pre_init()),
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
    // SkyWalking: an entry span's name (or a root's: the trace starts here) is the endpoint
    // the `sw8` of calls under it names.
    let endpoint = (matches!(kind, SpanKind::Server | SpanKind::Consumer) || parent_span.is_none())
        && decision == SamplingDecision::RecordAndSample
        && context::sw8_endpoints();
    let needs_fix = endpoint
        || match (&shared, scope) {
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
        if endpoint {
            s.sw8_endpoint = Some(name.clone());
        }
        shared = Some(Arc::new(s));
    }

    match decision {
        SamplingDecision::Drop => Span::non_recording(Context {
            span: SpanContext::new(trace_id, SpanId::random(), flags.with_sampled(false), false),
            shared,
        }),
        SamplingDecision::RecordAndSample => Span::new_recording(
            new_record(
                name,
                kind,
                trace_id,
                parent_id,
                remote,
                flags.with_sampled(true),
            ),
            shared,
            sink,
        ),
    }
}
