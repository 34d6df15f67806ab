//! Collecting the spans of one closure or future, for tests that run in parallel.
//!
//! Each capture has its own pipeline (the real one: rings, collector thread, exporter), scoped
//! through the context, so spans of other tests never mix in and no global state is touched.

use std::future::Future;
use std::time::Duration;

use crate::context::FutureExt;
use crate::export::InMemoryExporter;
use crate::sampler::{AlwaysOn, ParentBased, Sampler};
use crate::span::{SpanLimits, SpanRecord};
use crate::tracer::{SpanStats, Tracer};

/// The spans one capture collected, in export order.
#[derive(Debug, Clone, Default)]
///
/// ```
/// #[traceweave::traced(args(id))]
/// fn load(id: u32) -> Result<(), String> {
///     Err(format!("no row {id}"))
/// }
///
/// let spans = traceweave::testing::capture(|| {
///     let _ = load(7);
/// });
/// assert_eq!(spans.len(), 1);
/// let span = spans.named("load").unwrap();
/// assert!(span.status.is_error());
/// assert_eq!(spans.tree(), "└─ load ERROR no row 7 id=7\n");
/// ```
pub struct Spans(pub Vec<SpanRecord>);

impl Spans {
    /// The span tree as text: structure, names, kinds, statuses and attributes, without ids
    /// or timings, so tests can compare it exactly.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let _outer = traceweave::span("outer").start().enter();
    ///     traceweave::span("inner").kind(traceweave::SpanKind::Client).start().end();
    /// });
    /// assert_eq!(spans.tree(), "└─ outer\n   └─ inner [client]\n");
    /// ```
    pub fn tree(&self) -> String {
        let mut out = String::new();
        crate::export::render_tree(&self.0, &mut out, false);
        out
    }

    /// The first span with this name.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     traceweave::span("query").attribute("db.system", "postgresql").start().end();
    /// });
    /// let query = spans.named("query").expect("recorded");
    /// assert_eq!(query.attributes[0].key.as_str(), "db.system");
    /// ```
    pub fn named(&self, name: &str) -> Option<&SpanRecord> {
        self.0.iter().find(|s| s.name == name)
    }

    /// How many spans.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     traceweave::span("a").start().end();
    ///     traceweave::span("b").start().end();
    /// });
    /// assert_eq!(spans.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none were collected.
    ///
    /// ```
    /// assert!(traceweave::testing::capture(|| {}).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the spans.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     traceweave::span("a").start().end();
    ///     traceweave::span("b").start().end();
    /// });
    /// let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    /// assert_eq!(names, ["a", "b"]);
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, SpanRecord> {
        self.0.iter()
    }
}

/// Options of a capture: sampler and queue size.
#[derive(Debug)]
///
/// ```
/// use traceweave::{testing::Capture, AlwaysOff};
///
/// // Nothing is sampled: the closure runs, no span is kept.
/// let captured = Capture::new().sampler(AlwaysOff).run(|| {
///     traceweave::span("unsampled").start().end();
///     7
/// });
/// assert_eq!((captured.value, captured.spans.len()), (7, 0));
/// ```
pub struct Capture {
    sampler: Box<dyn Sampler>,
    max_queue_size: usize,
    span_limits: SpanLimits,
}

impl Default for Capture {
    fn default() -> Self {
        Capture {
            sampler: Box::new(ParentBased::new(AlwaysOn)),
            max_queue_size: 65_536,
            span_limits: SpanLimits::DEFAULT,
        }
    }
}

/// What a capture returns: the closure's value, the spans and the pipeline's counters.
///
/// ```
/// let captured = traceweave::testing::Capture::new().run(|| {
///     traceweave::span("work").start().end();
///     42
/// });
/// assert_eq!(captured.value, 42);
/// assert_eq!((captured.spans.len(), captured.stats.created), (1, 1));
/// ```
#[derive(Debug)]
pub struct Captured<R> {
    /// The closure's (or future's) result.
    pub value: R,
    /// The spans exported.
    pub spans: Spans,
    /// The pipeline's counters after the final flush.
    pub stats: SpanStats,
}

impl Capture {
    /// A capture with a parent-based always-on sampler.
    ///
    /// ```
    /// let captured = traceweave::testing::Capture::new().run(|| traceweave::span("work").start().end());
    /// assert_eq!(captured.spans.tree(), "└─ work\n");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses another sampler.
    ///
    /// ```
    /// // What the code under test records when nothing is sampled: nothing, and no failure.
    /// let captured = traceweave::testing::Capture::new()
    ///     .sampler(traceweave::AlwaysOff)
    ///     .run(|| traceweave::span("work").start().end());
    /// assert!(captured.spans.is_empty());
    /// ```
    pub fn sampler(mut self, sampler: impl Sampler) -> Self {
        self.sampler = Box::new(sampler);
        self
    }

    /// Bounds the queue of each producing thread.
    ///
    /// ```
    /// use traceweave::testing::Capture;
    ///
    /// // A queue of two spans per thread: what does not fit is dropped and counted.
    /// let captured = Capture::new().max_queue_size(2).run(|| {
    ///     for _ in 0..10_000 {
    ///         traceweave::span("burst").start().end();
    ///     }
    /// });
    /// let stats = captured.stats;
    /// assert_eq!(stats.created, stats.exported + stats.dropped());
    /// ```
    pub fn max_queue_size(mut self, n: usize) -> Self {
        self.max_queue_size = n;
        self
    }

    /// Limits what one span may carry.
    ///
    /// ```
    /// use traceweave::{testing::Capture, SpanLimits};
    ///
    /// let captured = Capture::new()
    ///     .span_limits(SpanLimits::default().with_attribute_count(1))
    ///     .run(|| {
    ///         let mut span = traceweave::span("limited").start();
    ///         span.set_attribute("kept", 1);
    ///         span.set_attribute("dropped", 2);
    ///     });
    /// let span = captured.spans.named("limited").unwrap();
    /// assert_eq!((span.attributes.len(), span.dropped_attributes_count), (1, 1));
    /// ```
    pub fn span_limits(mut self, limits: SpanLimits) -> Self {
        self.span_limits = limits;
        self
    }

    fn tracer(self) -> (Tracer, InMemoryExporter) {
        let memory = InMemoryExporter::new();
        let mut builder = crate::builder()
            .ignore_env()
            .service_name("traceweave-test")
            .max_queue_size(self.max_queue_size)
            .span_limits(self.span_limits)
            .schedule_delay(Duration::from_millis(20))
            .exporter(memory.clone());
        builder = builder.boxed_sampler(self.sampler);
        (builder.build(), memory)
    }

    /// Runs `f` and returns its spans (and those of threads and tasks it hands its context to).
    ///
    /// ```
    /// let captured = traceweave::testing::Capture::new().run(|| {
    ///     let _span = traceweave::span("outer").start().entered();
    ///     "done"
    /// });
    /// assert_eq!((captured.value, captured.spans.len()), ("done", 1));
    /// ```
    pub fn run<R>(self, f: impl FnOnce() -> R) -> Captured<R> {
        let (tracer, memory) = self.tracer();
        let value = tracer.in_scope(f);
        finish(tracer, memory, value)
    }

    /// Runs `future` to completion and returns its spans.
    pub async fn run_async<F: Future>(self, future: F) -> Captured<F::Output> {
        let (tracer, memory) = self.tracer();
        let value = future.with_context(tracer.context()).await;
        finish(tracer, memory, value)
    }
}

fn finish<R>(tracer: Tracer, memory: InMemoryExporter, value: R) -> Captured<R> {
    // A capture that timed out shows it in the spans it lacks; the tests look at those.
    let _ = tracer.shutdown_with_timeout(Duration::from_secs(30));
    Captured {
        value,
        spans: Spans(memory.take()),
        stats: tracer.stats(),
    }
}

/// Runs `f` and returns the spans it produced.
///
/// ```
/// #[traceweave::traced]
/// fn work() {}
///
/// let spans = traceweave::testing::capture(|| work());
/// assert_eq!(spans.tree(), "└─ work\n");
/// ```
pub fn capture(f: impl FnOnce()) -> Spans {
    Capture::new().run(f).spans
}

/// Runs `future` to completion and returns the spans it produced.
///
/// ```
/// #[traceweave::traced]
/// async fn fetch() {}
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let spans = rt.block_on(traceweave::testing::capture_async(async {
///     fetch().await;
/// }));
/// assert_eq!(spans.tree(), "└─ fetch\n");
/// ```
pub async fn capture_async<F: Future<Output = ()>>(future: F) -> Spans {
    Capture::new().run_async(future).await.spans
}
