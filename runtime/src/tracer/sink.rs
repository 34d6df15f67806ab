//! Where a span ends into: the one thing `span/` knows of the tracer. The tracer picks the sink
//! when it starts a span (the global pipeline, a scoped tracer's, or the spans kept before
//! `init`); the span asks it for its limits while it records and hands itself over when it ends.

use super::pipeline::Pipeline;
use super::{GlobalState, global_state_cold, scoped_pipeline, submit_pre_init};
use crate::context::Shared;
use crate::span::SpanLimits;
use crate::span::raw::RawSpan;

/// The pipeline a recording span ends into.
#[derive(Clone, Copy)]
pub(crate) struct Sink(Target);

#[derive(Clone, Copy)]
enum Target {
    /// The global pipeline, running when the span started.
    Global(&'static Pipeline),
    /// The pipeline of the tracer in the span's context's scope (`Tracer::in_scope`).
    Scoped,
    /// No tracer yet: the span is kept for `init` (or goes to the global pipeline if one has
    /// been installed by the time it ends).
    PreInit,
}

impl Sink {
    pub(super) fn global(pipeline: &'static Pipeline) -> Self {
        Sink(Target::Global(pipeline))
    }

    pub(super) fn scoped() -> Self {
        Sink(Target::Scoped)
    }

    pub(super) fn pre_init() -> Self {
        Sink(Target::PreInit)
    }

    /// The limits of the pipeline: `shared` is the span's own (its scope names a scoped
    /// tracer).
    #[inline(always)]
    pub(crate) fn limits(self, shared: Option<&Shared>) -> &SpanLimits {
        match self.0 {
            Target::Global(p) => &p.limits,
            Target::Scoped => match shared
                .and_then(|s| s.scope.as_ref())
                .and_then(scoped_pipeline)
            {
                Some(p) => &p.limits,
                None => &SpanLimits::DEFAULT,
            },
            Target::PreInit => &SpanLimits::DEFAULT,
        }
    }

    /// Hands a finished span to the pipeline (or drops it, its tracer gone).
    ///
    /// # Safety
    /// `raw` is initialised and is not used or dropped by the caller afterwards.
    #[inline(always)]
    pub(crate) unsafe fn submit(self, shared: Option<&Shared>, raw: *mut RawSpan) {
        match self.0 {
            // SAFETY: forwarded from the caller.
            Target::Global(p) => unsafe { p.submit_from(raw) },
            Target::Scoped => match shared
                .and_then(|s| s.scope.as_ref())
                .and_then(scoped_pipeline)
            {
                // SAFETY: forwarded from the caller.
                Some(p) => unsafe { p.submit_from(raw) },
                // SAFETY: forwarded from the caller; a RawSpan holds no user code.
                None => unsafe { std::ptr::drop_in_place(raw) },
            },
            // SAFETY: forwarded from the caller.
            Target::PreInit => submit_late(unsafe { std::ptr::read(raw) }),
        }
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
