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
//! The rest of this page walks from that function to a trace that crosses processes; the
//! README has the same path with the demo to run.
//!
//! ## 1. Run it: `init` once in `main`
//!
//! [`init`] reads the OpenTelemetry environment variables and installs the global tracer; keep
//! the guard it returns for the life of `main` (dropping it flushes what is queued). With
//! nothing set, each finished trace is printed as a tree on stderr; with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans go there as OTLP (Jaeger, Tempo, an OpenTelemetry
//! Collector, SkyWalking's OTLP receiver, or `traceweave-view`).
//!
//! ```no_run
//! #[traceweave::traced]
//! fn work(n: u64) -> u64 {
//!     n * 2
//! }
//!
//! fn main() {
//!     let _tracing = traceweave::init();
//!     work(21);
//! } // the guard drops here: queued spans are exported before the process ends
//! ```
//!
//! [`try_init`] returns the [`InitError`] instead of printing it; [`builder`] sets everything
//! in code (a sampler, exporters, limits, the service name) on top of the environment:
//!
//! ```
//! use traceweave::{InMemoryExporter, ParentBased, TraceIdRatio};
//!
//! let memory = InMemoryExporter::new();
//! let tracer = traceweave::builder()
//!     .ignore_env()
//!     .service_name("checkout")
//!     .sampler(ParentBased::new(TraceIdRatio::new(1.0)))
//!     .exporter(memory.clone())
//!     .build(); // a `Tracer` of its own; `.install()` would make it the global one
//! tracer.in_scope(|| traceweave::span("order").start().end());
//! tracer.force_flush()?;
//! assert_eq!(memory.spans()[0].name, "order");
//! # Ok::<(), traceweave::FlushError>(())
//! ```
//!
//! ## 2. Cross a process: one line per hop
//!
//! A client injects the current context into what it sends ([`inject`]); the server's handler
//! takes `#[traced_rpc]`, which opens a server (or consumer) span whose parent comes from the
//! request. Any map of headers works as a carrier; the integrations below add the types of
//! real frameworks, so that `#[traced_rpc]` finds the request among the parameters itself.
//!
//! ```
//! use std::collections::HashMap;
//! use traceweave::{traced, traced_rpc};
//!
//! #[traced(kind = client)]
//! fn call_inventory() -> HashMap<String, String> {
//!     let mut headers = HashMap::new();
//!     traceweave::inject(&mut headers); // traceparent (and the other configured formats)
//!     headers
//! }
//!
//! #[traced_rpc(carrier = headers)]
//! fn reserve(headers: &HashMap<String, String>) -> Result<(), String> {
//!     Ok(())
//! }
//!
//! let spans = traceweave::testing::capture(|| {
//!     let headers = call_inventory();
//!     reserve(&headers).unwrap(); // in another process, in real life
//! });
//! let (client, server) = (&spans.0[0], &spans.0[1]);
//! assert_eq!((client.name.as_ref(), server.name.as_ref()), ("call_inventory", "reserve"));
//! // One trace: the server span's parent is the client span, sent in the headers.
//! assert_eq!(server.trace_id, client.trace_id);
//! assert_eq!(server.parent_span_id, client.span_id);
//! assert!(server.parent_is_remote);
//! ```
//!
//! The formats are W3C `traceparent`/`tracestate` and `baggage`, B3 (single and multi header),
//! Jaeger's `uber-trace-id` and SkyWalking's `sw8`, chosen with `OTEL_PROPAGATORS` (see
//! [`propagation`]); a malformed header starts a new trace, never an error.
//!
//! ## 3. Frameworks: a layer or a carrier per ecosystem
//!
//! Each lives in [`integrations`], behind the feature named after it:
//!
//! | feature | what you get |
//! |---|---|
//! | `http`, `axum` | `integrations::http::ServerLayer` (a server span per request, `http.route` from axum) and `ClientLayer` for any tower HTTP service; `HeaderMap` and `Request` carriers |
//! | `reqwest` | `integrations::reqwest::TracingMiddleware` for `reqwest-middleware` |
//! | `tonic` | `GrpcServerLayer`, `GrpcClientLayer`, `MetadataMap` and `tonic::Request` carriers |
//! | `amqp` | lapin (RabbitMQ): `publish` and the `Delivery` / `BasicProperties` carriers |
//! | `nats` | async-nats: `publish`, `request` and the `Message` carrier |
//! | `kafka` | rdkafka: `send`, headers and message carriers (links the system's librdkafka) |
//! | `tokio` | `traceweave::spawn`, carrying the context into `tokio::spawn` |
//!
//! [`spawn_thread`] carries it into a thread, and [`FutureExt::with_context`] into any future.
//!
//! ## 4. Code that already uses `tracing`, `log` or the OpenTelemetry API
//!
//! The `tracing` feature adds a `tracing-subscriber` layer: `#[instrument]` spans and events
//! become traceweave spans and events, nested both ways with `#[traced]` ones; `log` records
//! become events of the current span (feature `log`). The `opentelemetry-api` feature makes
//! traceweave the OpenTelemetry API's tracer provider, so libraries instrumented with the
//! `opentelemetry` crate join the same trees. [`current_ids`] puts the ids into any log line.
//!
//! ## 5. Where spans go
//!
//! [`Exporter`] has one method, fed a borrowed [`SpanBatch`] on the collector thread: the OTLP
//! exporters (HTTP protobuf or JSON, gzip or zstd, TLS, gRPC with `otlp-grpc`), Zipkin, OTLP-JSON
//! lines to a file, the console tree and [`InMemoryExporter`] come with the crate, and
//! `integrations::opentelemetry::SdkExporter` drives any `opentelemetry_sdk` exporter. Failures
//! are typed ([`ExportError`], [`ExportErrorKind`]), reported on stderr once per kind, and
//! counted in [`stats`]: a dead collector never slows the application, a full queue drops and
//! counts.
//!
//! ## 6. Testing your own code
//!
//! [`testing::capture`] and [`testing::capture_async`] run a closure or future under a tracer
//! of their own and return its spans, whose [`tree`](testing::Spans::tree) compares as text;
//! captures run in parallel without seeing each other's spans.
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
