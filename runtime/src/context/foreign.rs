//! Another API's "current span" beside ours: the OpenTelemetry API keeps its own thread-local
//! context stack, and code using it attaches spans there, not here. A bridge installs two
//! readers of that stack; from then on the innermost of the two stacks is the current context.
//!
//! Which one is innermost: every frame of ours remembers the span id the other stack had on
//! top when the frame was pushed. If the other stack's top is still that span, nothing was
//! attached there since, and our frame is the innermost; if it has changed, a span was
//! attached there inside our frame, and it is the innermost. Exact for properly nested scopes
//! on one thread and for futures (frames are pushed again on every poll).
//!
//! This module knows nothing of the other API: the bridge hands it plain functions.

use std::sync::OnceLock;

use super::{Context, SpanContext};

/// Readers of the other API's current span.
pub(crate) struct Hooks {
    /// The current span's id as a number (0 when there is none); called on every push.
    pub(crate) span_id: fn() -> u64,
    /// The current span as a context of ours (span identity and tracestate), if any.
    pub(crate) context: fn() -> Option<Context>,
}

static HOOKS: OnceLock<Hooks> = OnceLock::new();

/// Installs the readers; the first installation wins (returns whether this one did).
pub(crate) fn install(hooks: Hooks) -> bool {
    HOOKS.set(hooks).is_ok()
}

/// Whether a bridge is installed: then every span start takes the general path.
#[inline(always)]
pub(crate) fn installed() -> bool {
    HOOKS.get().is_some()
}

/// The other API's current span id, 0 when there is none.
pub(crate) fn current_span_id() -> u64 {
    HOOKS.get().map_or(0, |h| (h.span_id)())
}

/// The innermost of our top frame (context, suppressed, what it saw of the other stack) and
/// the other API's current span.
pub(crate) fn innermost(top: Option<(Context, bool, u64)>) -> Option<(Context, bool)> {
    let Some(hooks) = HOOKS.get() else {
        return top.map(|(ctx, suppress, _)| (ctx, suppress));
    };
    match top {
        // The exporters' thread records nothing, whatever is attached.
        Some((ctx, true, _)) => Some((ctx, true)),
        Some((ctx, false, seen)) if (hooks.span_id)() == seen => Some((ctx, false)),
        Some((ctx, false, _)) => match (hooks.context)() {
            // Attached inside our frame: the other span, with our frame's baggage and tracer.
            Some(other) => Some((merge(&ctx, other), false)),
            None => Some((ctx, false)),
        },
        None => (hooks.context)().map(|other| (other, false)),
    }
}

/// `other`'s span (and its tracestate, if it has one) on top of what `ours` carries.
fn merge(ours: &Context, other: Context) -> Context {
    let span: SpanContext = other.span;
    if other.trace_state().is_empty() {
        ours.with_span_context(span)
    } else {
        ours.with_span_context(span)
            .with_trace_state(other.trace_state().clone())
    }
}
