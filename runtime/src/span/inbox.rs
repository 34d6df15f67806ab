//! Events for the current span from code that cannot reach its `Span` (a `tracing` event, a
//! `log` record inside a `#[traced]` fn): posted to the innermost span frame of this thread and
//! taken by the span's guard when that frame pops (sync spans when they end, traced futures at
//! the end of each poll), on the thread that posted them.
//!
//! The box is a `Cell<Vec>`, taken out while it is worked on: no reference into the
//! thread-local lives while the allocator (user code, which may itself log) runs.

// Only the `tracing` and `log` bridges post; without them the guards still check (one load).
#![cfg_attr(not(any(feature = "tracing", feature = "log")), allow(dead_code))]

use std::cell::Cell;

use super::Event;

/// Events beyond this many waiting on one thread are dropped (spans take theirs when their
/// frame pops, so only a huge burst inside one frame reaches it).
const MAX_WAITING: usize = 4096;

pub(crate) struct Posted {
    pub(crate) token: u64,
    pub(crate) event: Event,
    /// Mark the span failed with this message (an `ERROR` event, when configured).
    pub(crate) fail: Option<String>,
}

thread_local! {
    static WAITING: Cell<usize> = const { Cell::new(0) };
    static BOX: Cell<Vec<Posted>> = const { Cell::new(Vec::new()) };
}

/// Posts an event to the innermost span frame, if it is a sampled span's; `false` if there is
/// none (the event is dropped).
pub(crate) fn post_to_current(event: Event, fail: Option<String>) -> bool {
    match crate::context::top_span_frame() {
        Some(token) => post(Posted { token, event, fail }),
        None => false,
    }
}

/// Whether no frame on this thread has events waiting (one load: what guards check).
#[inline(always)]
pub(crate) fn is_empty() -> bool {
    WAITING.try_with(Cell::get).unwrap_or(0) == 0
}

/// Posts an event to the frame `token` of this thread.
pub(crate) fn post_to(token: u64, event: Event, fail: Option<String>) -> bool {
    post(Posted { token, event, fail })
}

fn post(posted: Posted) -> bool {
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
