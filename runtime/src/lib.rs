//! # traceweave
//!
//! Distributed tracing for Rust services, driven by attribute macros. Put `#[traced]` on a
//! function and it becomes a child span of whatever span is current, on every way out of it
//! (return, `?`, panic, a dropped future), with `Err` results marked as errors.
//!
//! ```
//! use traceweave::traced;
//!
//! #[traced(kind = client, args(user_id))]
//! async fn load_user(user_id: u64) -> Result<String, std::io::Error> {
//!     Ok(format!("user {user_id}"))
//! }
//!
//! #[traced]
//! async fn handle() {
//!     let _ = load_user(42).await;
//! }
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let spans = rt.block_on(traceweave::testing::capture_async(handle()));
//! assert_eq!(spans.tree(), "└─ handle\n   └─ load_user [client] user_id=42\n");
//! ```
//!
//! In an application, call [`init`] once in `main` and keep the guard: spans then go to the
//! console (a tree per trace on stderr) or wherever `OTEL_TRACES_EXPORTER` says.
//!
//! ## How it works
//! - The current context lives in a thread-local stack; a traced future re-attaches its
//!   context on every poll, so it follows the task across threads and executors.
//! - Sampling is decided once at the root; unsampled spans cost a branch.
//! - Finished spans go into a per-thread bounded ring (no lock, no allocation for static names
//!   and primitive attributes); one collector thread batches them to the exporters. A full
//!   ring drops and counts, never blocks.

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
pub mod context;
mod diag;
mod error;
pub mod export;
mod id;
pub mod integrations;
pub mod propagation;
pub mod redact;
pub mod sampler;
mod semconv;
mod span;
pub mod testing;
mod tracer;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use config::{
    Builder, InitError, TracingGuard, builder, force_flush, init, shutdown, stats, try_init,
};
#[cfg(feature = "tokio")]
pub use context::spawn;
pub use context::{
    Baggage, BaggageEntry, Context, ContextGuard, FutureExt, SpanContext, TraceState,
    TraceStateError, WithContext, spawn_thread,
};
pub use error::FlushError;
pub use export::{
    ConsoleExporter, ExportError, ExportErrorKind, ExportFailure, Exporter, InMemoryExporter,
};
pub use id::{SpanId, TraceFlags, TraceId};
pub use propagation::{Extractor, Injector, Propagator, extract, inject, inject_context};
pub use sampler::{
    AlwaysOff, AlwaysOn, ParentBased, RateLimiting, Sampler, SamplingDecision, SamplingInput,
    TraceIdRatio,
};
pub use span::{
    Array, AttributeIter, Attributes, CurrentSpan, EnteredSpan, Event, FORMATTED_VALUE_CAP, Key,
    KeyValue, Link, Resource, Span, SpanBatch, SpanBatchIter, SpanKind, SpanLimits, SpanRecord,
    SpanView, Status, StatusRef, ToValue, Value, ValueRef, current_span,
};
pub use tracer::{BatchConfig, SpanBuilder, SpanStats, Tracer, span};

/// The trace and span ids of the current context (a `#[traced]` fn's span, an entered span, a
/// `tracing` span through the layer, an extracted remote parent), to put into log lines of any
/// logger; `None` when no span is current.
///
/// ```
/// use traceweave::traced;
///
/// #[traced]
/// fn work() {
///     let (trace_id, span_id) = traceweave::current_ids().unwrap_or_default();
///     println!("trace_id={trace_id} span_id={span_id} working");
/// }
/// # work();
/// ```
pub fn current_ids() -> Option<(TraceId, SpanId)> {
    let cx = Context::current();
    let sc = cx.span_context();
    sc.is_valid().then(|| (sc.trace_id(), sc.span_id()))
}
pub use traceweave_macros::{traced, traced_rpc};
