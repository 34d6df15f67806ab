//! The tracer: it starts spans (sampling, limits, which pipeline: `start.rs`), keeps a
//! pipeline of per-thread rings drained by one collector thread, its counters, flush and
//! shutdown, and the global instance `init` installs.
//!
//! `span/` knows only the [`Sink`] a span ends into (chosen here when the span starts);
//! `export/` plugs in through [`Processor`].

mod collector;
mod fork;
mod global;
mod pipeline;
mod ring;
mod sink;
mod start;
mod sync;
mod wake;

#[cfg(all(test, loom))]
mod loom_model;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::context::{Context, ScopeHandle};
use crate::error::{ExportError, ExportFailure, FlushError};
use crate::sampler::Sampler;
use crate::span::raw::RawSpan;
use crate::span::{Resource, SpanBatch, SpanLimits};

pub(crate) use global::{
    GlobalState, global_state, global_state_cold, global_tracer, install_global, shutdown_global,
    submit_pre_init, take_pre_init,
};
pub(crate) use pipeline::Pipeline;
use pipeline::lock;
pub(crate) use sink::Sink;
pub use start::{SpanBuilder, span};
pub(crate) use start::{start, start_entered};

/// What the collector hands batches to: the exporters, seen from the tracer. Calls are made
/// on the collector thread only.
pub(crate) trait Processor: Send + 'static {
    /// Called once on the collector thread before anything else.
    fn start(&mut self) {}
    /// Delivers one batch to every exporter; the error is the last exporter's failure.
    fn export(&mut self, batch: SpanBatch<'_>) -> Result<(), ExportError>;
    /// Delivers what exporters buffer themselves.
    fn force_flush(&mut self);
    /// Releases the exporters; nothing follows.
    fn shutdown(&mut self);
    /// The exporters for a forked child (see `fork.rs`), or `None` if none can be copied.
    fn after_fork(&self) -> Option<Box<dyn Processor>>;
}

/// The exporters, shared by the collector thread and the tracer handle (which needs them only
/// to copy them for a forked child). The collector locks them for each call.
pub(crate) type SharedProcessor = Arc<Mutex<Box<dyn Processor>>>;

/// Limits and timings of the batch pipeline (OpenTelemetry's `OTEL_BSP_*`).
///
/// ```
/// use std::time::Duration;
/// let tracer = traceweave::builder()
///     .ignore_env()
///     .max_queue_size(4096)
///     .schedule_delay(Duration::from_millis(500))
///     .max_export_batch_size(512)
///     .export_timeout(Duration::from_secs(5))
///     .build();
/// # drop(tracer);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchConfig {
    /// Spans each producing thread may have queued before new ones are dropped (rounded up to a
    /// power of two). Memory is bounded by this times the number of threads that trace: a
    /// queued span takes 160 bytes plus what it holds beyond its inline fields.
    pub max_queue_size: usize,
    /// The longest time a finished span waits in a partial batch before it is exported.
    pub schedule_delay: Duration,
    /// Spans per export call at most.
    pub max_export_batch_size: usize,
    /// How long `force_flush` and shutdown wait for the exporters.
    pub export_timeout: Duration,
}

impl BatchConfig {
    /// The default queue per producing thread: 16,384 spans (2.5 MiB of slots, touched only
    /// as they are used). A burst of up to 8,192 spans (a thread flat out for ~500 µs) then
    /// fits under the half-full mark that would wake a napping collector, so bursty traffic
    /// at the paced loads pays no wake-up syscall, and the other half absorbs the time the
    /// collector takes to get a core when one is due (measured in `runtime/benches/README.md`:
    /// 8,192 woke it on most bursts and lost spans now and then).
    ///
    /// ```
    /// assert_eq!(traceweave::BatchConfig::DEFAULT_MAX_QUEUE_SIZE, 16_384);
    /// ```
    pub const DEFAULT_MAX_QUEUE_SIZE: usize = 16_384;
    /// The largest queue per thread (160 MiB of slots): larger settings are clamped to it.
    ///
    /// ```
    /// // Larger settings are clamped (with a warning on stderr).
    /// let tracer = traceweave::builder().ignore_env().max_queue_size(usize::MAX).build();
    /// # drop(tracer);
    /// ```
    pub const MAX_QUEUE_SIZE: usize = 1 << 20;
    /// The largest export batch: larger settings are clamped to it.
    ///
    /// ```
    /// assert_eq!(traceweave::BatchConfig::MAX_EXPORT_BATCH_SIZE, 65_536);
    /// ```
    pub const MAX_EXPORT_BATCH_SIZE: usize = 1 << 16;

    /// This configuration with sizes clamped to the maxima, and a warning for each clamp.
    pub(crate) fn clamped(mut self) -> Self {
        let clamp = |name: &str, v: &mut usize, max: usize| {
            if *v > max {
                crate::diag::warn(format_args!(
                    "{name} {v} is larger than the maximum; using {max}"
                ));
                *v = max;
            }
        };
        clamp(
            "max_queue_size",
            &mut self.max_queue_size,
            Self::MAX_QUEUE_SIZE,
        );
        clamp(
            "max_export_batch_size",
            &mut self.max_export_batch_size,
            Self::MAX_EXPORT_BATCH_SIZE,
        );
        self
    }
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_queue_size: Self::DEFAULT_MAX_QUEUE_SIZE,
            schedule_delay: Duration::from_millis(5000),
            max_export_batch_size: 512,
            export_timeout: Duration::from_millis(30_000),
        }
    }
}

/// Counts of one pipeline's spans. `created == exported + dropped() + queued` at any quiet
/// moment, and `queued == 0` once the pipeline has shut down.
///
/// ```
/// let tracer = traceweave::builder().ignore_env().build();
/// tracer.in_scope(|| traceweave::span("a").start().end());
/// tracer.force_flush()?;
/// let stats = tracer.stats();
/// assert_eq!(stats.created, stats.exported + stats.dropped() + stats.queued);
/// # Ok::<(), traceweave::FlushError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SpanStats {
    /// Sampled spans that ended.
    pub created: u64,
    /// Spans every exporter accepted.
    pub exported: u64,
    /// Spans refused because their thread's queue was full.
    pub dropped_queue_full: u64,
    /// Spans an exporter failed to deliver.
    pub dropped_export_failed: u64,
    /// Spans that ended after shutdown began (or while their thread was being torn down).
    pub dropped_shutdown: u64,
    /// Spans waiting in queues now.
    pub queued: u64,
    /// The last export failure (what, where, why), if any export has failed. Failures are
    /// also printed on stderr: the first of each kind at once, then at most one line a minute.
    pub last_export_error: Option<ExportFailure>,
    /// How many times an application thread woke the collector (each one an `unpark`, a
    /// system call on that thread). Steady traffic costs none: the collector polls while spans
    /// flow and producers wake it only when it parked after a quiet spell or their queue is
    /// half full. Growing with every burst means the queue is small for the load.
    pub producer_wakeups: u64,
}

impl SpanStats {
    /// All spans lost, for whatever reason.
    ///
    /// ```
    /// let stats = traceweave::stats();
    /// assert_eq!(
    ///     stats.dropped(),
    ///     stats.dropped_queue_full + stats.dropped_export_failed + stats.dropped_shutdown
    /// );
    /// ```
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full + self.dropped_export_failed + self.dropped_shutdown
    }
}

pub(crate) enum Command {
    Flush(Sender<()>),
    /// Stop after a final export; acknowledge if someone waits. No export starts after the
    /// deadline set in the counters (`shutdown_deadline`): what is left then counts as dropped
    /// at shutdown.
    Shutdown(Option<Sender<()>>),
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A handle to one pipeline: its sampler, queues, collector thread and exporters.
///
/// The global tracer is installed by [`init`](crate::init); others are built with
/// [`Builder::build`](crate::Builder::build) and used with [`Tracer::in_scope`] or
/// [`Tracer::context`], which is how tests collect spans in parallel without a global
/// reporter. Dropping the last handle asks the collector to flush and stop, without waiting
/// for it; call [`shutdown_with_timeout`](Tracer::shutdown_with_timeout) to wait.
///
/// ```
/// // A pipeline of its own (tests, a library's private pipeline), not the global one.
/// let memory = traceweave::InMemoryExporter::new();
/// let tracer = traceweave::builder().ignore_env().exporter(memory.clone()).build();
/// tracer.in_scope(|| traceweave::span("work").start().end());
/// tracer.force_flush()?;
/// assert_eq!(memory.spans().len(), 1);
/// # Ok::<(), traceweave::FlushError>(())
/// ```
#[derive(Clone)]
pub struct Tracer(pub(crate) Arc<TracerInner>);

pub(crate) struct TracerInner {
    pub(crate) pipeline: Arc<Pipeline>,
    resource: Resource,
    worker: Mutex<Option<JoinHandle<()>>>,
    config: BatchConfig,
    processor: SharedProcessor,
    /// The fork generation the collector was started in: in another, it is not running.
    generation: u64,
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("id", &self.0.pipeline.id)
            .field("sampler", &self.0.pipeline.sampler)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Tracer {
    pub(crate) fn start(
        sampler: Arc<dyn Sampler>,
        processor: Box<dyn Processor>,
        resource: Resource,
        config: BatchConfig,
        limits: SpanLimits,
        initial: (Vec<RawSpan>, u64),
    ) -> Tracer {
        let (initial, initial_dropped) = initial;
        let config = config.clamped();
        crate::span::clock::calibrate();
        fork::watch();
        let processor: SharedProcessor = Arc::new(Mutex::new(processor));
        let (tx, rx) = mpsc::channel();
        let pipeline = Arc::new(Pipeline::new(
            NEXT_ID.fetch_add(1, Ordering::Relaxed),
            sampler,
            limits,
            config.max_queue_size,
            tx,
        ));
        // Spans kept before init count as created here; those dropped then, as queue-full.
        let c = &pipeline.counters;
        c.retired_created
            .store(initial.len() as u64 + initial_dropped, Ordering::Relaxed);
        c.retired_dropped.store(initial_dropped, Ordering::Relaxed);
        let worker = collector::Collector {
            pipeline: pipeline.clone(),
            processor: processor.clone(),
            config,
            commands: rx,
            rings: Vec::new(),
            rings_version: u64::MAX,
            batch: initial,
            batch_since: None,
        };
        let handle = thread::Builder::new()
            .name("traceweave-collector".into())
            .spawn(move || worker.run())
            .expect("traceweave: could not start the collector thread");
        // (Under `--cfg loom` only the model runs; the real collector is not woken by loom.)
        #[cfg(not(loom))]
        pipeline.wake.set_collector(handle.thread().clone());
        Tracer(Arc::new(TracerInner {
            pipeline,
            resource,
            worker: Mutex::new(Some(handle)),
            config,
            processor,
            generation: fork::generation(),
        }))
    }

    /// A fresh tracer like this one for a forked child: same sampler, limits, resource and
    /// configuration, the exporters' copies for a child. `None` if the exporters are locked (a
    /// thread of the parent was exporting at the fork) or none can be copied.
    pub(crate) fn respawn(&self) -> Option<Tracer> {
        let processor = match self.0.processor.try_lock() {
            Ok(p) => p.after_fork(),
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().after_fork(),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }?;
        let pipeline = &self.0.pipeline;
        Some(Tracer::start(
            pipeline.sampler.clone(),
            processor,
            self.0.resource.clone(),
            self.0.config,
            pipeline.limits,
            (Vec::new(), 0),
        ))
    }

    /// What this tracer's spans come from.
    ///
    /// ```
    /// let tracer = traceweave::builder().ignore_env().service_name("checkout").build();
    /// let resource = tracer.resource();
    /// assert_eq!(resource.get("service.name").and_then(|v| v.as_str()), Some("checkout"));
    /// ```
    pub fn resource(&self) -> Resource {
        self.0.resource.clone()
    }

    /// The span counts of this pipeline.
    ///
    /// ```
    /// let tracer = traceweave::builder().ignore_env().build();
    /// tracer.in_scope(|| traceweave::span("a").start().end());
    /// tracer.force_flush()?;
    /// assert_eq!((tracer.stats().created, tracer.stats().exported), (1, 1));
    /// # Ok::<(), traceweave::FlushError>(())
    /// ```
    pub fn stats(&self) -> SpanStats {
        self.0.pipeline.stats()
    }

    /// Exports everything queued now and flushes the exporters; waits at most the export
    /// timeout. `Ok` once the exporters have been handed every span queued at the call (a
    /// failed export is counted in [`stats`](Self::stats), not returned here).
    ///
    /// ```
    /// let memory = traceweave::InMemoryExporter::new();
    /// let tracer = traceweave::builder().ignore_env().exporter(memory.clone()).build();
    /// tracer.in_scope(|| traceweave::span("work").start().end());
    /// tracer.force_flush()?; // the exporter has it now, not after the schedule delay
    /// assert_eq!(memory.spans().len(), 1);
    /// # Ok::<(), traceweave::FlushError>(())
    /// ```
    pub fn force_flush(&self) -> Result<(), FlushError> {
        if !self.0.collector_is_here() {
            return Err(FlushError::NotRunning);
        }
        let (tx, rx) = mpsc::channel();
        if !self.0.pipeline.send(Command::Flush(tx)) {
            return Err(FlushError::NotRunning);
        }
        let timeout = self.0.config.export_timeout;
        match rx.recv_timeout(timeout) {
            Ok(()) => Ok(()),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(FlushError::Timeout(timeout)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(FlushError::NotRunning),
        }
    }

    /// Flushes and stops the pipeline; waits at most `timeout`. Spans that end afterwards, and
    /// spans still queued when `timeout` runs out (no export starts after it; one under way
    /// finishes), are counted as `dropped_shutdown`. `Ok` when everything queued was handed
    /// to the exporters in time (and for a tracer already shut down).
    ///
    /// ```
    /// use std::time::Duration;
    /// let tracer = traceweave::builder().ignore_env().build();
    /// tracer.in_scope(|| traceweave::span("work").start().end());
    /// tracer.shutdown_with_timeout(Duration::from_secs(5))?;
    /// assert_eq!(tracer.stats().queued, 0);
    /// # Ok::<(), traceweave::FlushError>(())
    /// ```
    pub fn shutdown_with_timeout(&self, timeout: Duration) -> Result<(), FlushError> {
        self.0.shutdown(Some(timeout))
    }

    /// A context whose spans are recorded by this tracer (the current context plus this
    /// tracer). Attach it, or hand it to a future, to scope spans to this pipeline.
    ///
    /// ```
    /// let tracer = traceweave::builder().ignore_env().build();
    /// // A task spawned with this context records into `tracer`, wherever it runs.
    /// let cx = tracer.context();
    /// let handle = std::thread::spawn(move || {
    ///     let _attached = cx.attach();
    ///     traceweave::span("on another thread").start().end();
    /// });
    /// handle.join().unwrap();
    /// tracer.force_flush()?;
    /// assert_eq!(tracer.stats().exported, 1);
    /// # Ok::<(), traceweave::FlushError>(())
    /// ```
    pub fn context(&self) -> Context {
        Context::current().with_scope(ScopeHandle::new(self.0.clone()))
    }

    /// Runs `f` with spans recorded by this tracer, including spans in tasks and threads that
    /// carry the context along.
    ///
    /// ```
    /// let memory = traceweave::InMemoryExporter::new();
    /// let tracer = traceweave::builder().ignore_env().exporter(memory.clone()).build();
    /// let answer = tracer.in_scope(|| {
    ///     traceweave::span("compute").start().end();
    ///     42
    /// });
    /// tracer.force_flush()?;
    /// assert_eq!((answer, memory.spans().len()), (42, 1));
    /// # Ok::<(), traceweave::FlushError>(())
    /// ```
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        self.context().run(f)
    }

    pub(crate) fn export_timeout(&self) -> Duration {
        self.0.config.export_timeout
    }
}

impl TracerInner {
    /// Whether this tracer's collector runs in this process (not in a forked child).
    fn collector_is_here(&self) -> bool {
        self.generation == fork::generation()
    }

    /// Asks the collector to stop; with a timeout, waits for it that long.
    fn shutdown(&self, timeout: Option<Duration>) -> Result<(), FlushError> {
        let Some(handle) = lock(&self.worker).take() else {
            return Ok(());
        };
        if !self.collector_is_here() {
            // A forked child: the collector thread is the parent's. Nothing to wait for, and
            // its handle names a thread that does not exist here (not even to detach).
            std::mem::forget(handle);
            return Err(FlushError::NotRunning);
        }
        let Some(timeout) = timeout else {
            // Detached: the collector flushes on its own time, the caller does not wait.
            self.pipeline.send(Command::Shutdown(None));
            return Ok(());
        };
        let deadline = Instant::now() + timeout;
        let (tx, rx) = mpsc::channel();
        // Before the command: the collector may be in the middle of a long drain, exporting
        // batch after batch, and reads the deadline before each export.
        let _ = self.pipeline.counters.shutdown_deadline.set(deadline);
        let acked =
            self.pipeline.send(Command::Shutdown(Some(tx))) && rx.recv_timeout(timeout).is_ok();
        if acked {
            // The collector has exported and is returning; joining takes a moment.
            while !handle.is_finished() && Instant::now() < deadline {
                thread::yield_now();
            }
            if handle.is_finished() {
                return handle.join().map_err(|_| FlushError::CollectorPanicked);
            }
            return Ok(());
        }
        Err(FlushError::Timeout(timeout))
    }
}

impl Drop for TracerInner {
    fn drop(&mut self) {
        // Never block the thread that happens to drop the last handle (an application thread,
        // or the collector itself when an exporter held the last context).
        let _ = self.shutdown(None);
    }
}

/// The pipeline a scoped context records into, if the scope is a tracer's.
pub(crate) fn scoped_pipeline(scope: &ScopeHandle) -> Option<&Pipeline> {
    scope.downcast::<TracerInner>().map(|t| &*t.pipeline)
}
