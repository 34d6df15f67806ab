//! Changes to a span from code that cannot reach its `Span` (a `tracing` event, a `log` record,
//! `traceweave::current_span()` inside a `#[traced]` fn): posted to the span's frame on this
//! thread and applied by the span's guard when that frame pops (sync spans when they end,
//! traced futures at the end of each poll), in the order they were posted.
//!
//! The box is a `Cell<Vec>`, taken out while it is worked on: no reference into the
//! thread-local lives while the allocator (user code, which may itself log) runs.

use std::borrow::Cow;
use std::cell::Cell;

use super::{Event, Key, KeyValue, Status, Value};
use crate::context::SpanContext;

/// Events beyond this many waiting on one thread are dropped (spans take theirs when their
/// frame pops, so only a huge burst inside one frame reaches it).
const MAX_WAITING: usize = 4096;

pub(crate) struct Posted {
    pub(crate) token: u64,
    pub(crate) op: Op,
}

/// One change to a span.
pub(crate) enum Op {
    Event(Event),
    Attribute(Key, Value),
    Status(Status),
    Name(Cow<'static, str>),
    Link(SpanContext, Vec<KeyValue>),
}

thread_local! {
    static WAITING: Cell<usize> = const { Cell::new(0) };
    static BOX: Cell<Vec<Posted>> = const { Cell::new(Vec::new()) };
}

/// Posts an event to the innermost span frame, if it is a sampled span's; `false` if there is
/// none (the event is dropped).
#[cfg(any(feature = "tracing", feature = "log"))]
pub(crate) fn post_to_current(event: Event, fail: Option<String>) -> bool {
    match crate::context::top_span_frame() {
        Some(token) => post_to(token, event, fail),
        None => false,
    }
}

/// Whether no frame on this thread has events waiting (one load: what guards check).
#[inline(always)]
pub(crate) fn is_empty() -> bool {
    WAITING.try_with(Cell::get).unwrap_or(0) == 0
}

/// Posts an event to the frame `token` of this thread; with `fail`, then marks the span failed
/// with that message (an `ERROR` event, when configured).
#[cfg(any(feature = "tracing", feature = "log"))]
pub(crate) fn post_to(token: u64, event: Event, fail: Option<String>) -> bool {
    let posted = post(token, Op::Event(event));
    if let Some(message) = fail {
        post(token, Op::Status(Status::error(message)));
    }
    posted
}

/// Posts one change to the frame `token` of this thread; `false` if it was dropped.
pub(crate) fn post(token: u64, op: Op) -> bool {
    let posted = Posted { token, op };
    let Ok(mut waiting) = BOX.try_with(Cell::take) else {
        return false;
    };
    if waiting.len() >= MAX_WAITING {
        put_back(waiting);
        return false;
    }
    waiting.push(posted);
    put_back(waiting);
    true
}

/// Puts the box back, keeping what a reentrant post (from the allocator) put in meanwhile.
fn put_back(mut waiting: Vec<Posted>) {
    let meanwhile = BOX.try_with(|b| b.take()).unwrap_or_default();
    if !meanwhile.is_empty() {
        waiting.extend(meanwhile);
    }
    let len = waiting.len();
    let _ = BOX.try_with(|b| b.set(waiting));
    let _ = WAITING.try_with(|w| w.set(len));
}

/// Takes the events posted to the frame `token` (cold: only when `is_empty` said otherwise).
#[cold]
pub(crate) fn take(token: u64) -> Vec<Posted> {
    let Ok(waiting) = BOX.try_with(Cell::take) else {
        return Vec::new();
    };
    let (mine, rest): (Vec<Posted>, Vec<Posted>) =
        waiting.into_iter().partition(|p| p.token == token);
    put_back(rest);
    mine
}
