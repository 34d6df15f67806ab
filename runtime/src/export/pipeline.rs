//! The pipeline: per-thread rings, one collector thread, the exporters, and the counters.

use std::cell::UnsafeCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use super::ring::Ring;
use super::{Exporter, Resource};
use crate::context::Context;
use crate::sampler::Sampler;
use crate::span::SpanRecord;

/// Limits and timings of the batch pipeline (OpenTelemetry's `OTEL_BSP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Spans each producing thread may have queued before new ones are dropped (rounded up to a
    /// power of two). Memory is bounded by this times the number of threads that trace.
    pub max_queue_size: usize,
    /// The longest time a finished span waits before the collector wakes up for it.
    pub schedule_delay: Duration,
    /// Spans per export call at most.
    pub max_export_batch_size: usize,
    /// How long `force_flush` and shutdown wait for the exporters.
    pub export_timeout: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_queue_size: 2048,
            schedule_delay: Duration::from_millis(5000),
            max_export_batch_size: 512,
            export_timeout: Duration::from_millis(30_000),
        }
    }
}

/// Counts of one pipeline's spans. `created == exported + dropped() + queued` at any quiet
/// moment (after a flush).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpanStats {
    /// Sampled spans that ended.
    pub created: u64,
    /// Spans every exporter accepted.
    pub exported: u64,
    /// Spans refused because their thread's queue was full.
    pub dropped_queue_full: u64,
    /// Spans an exporter failed to deliver.
    pub dropped_export_failed: u64,
    /// Spans waiting in queues now.
    pub queued: u64,
}

impl SpanStats {
    /// All spans lost, for whatever reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full + self.dropped_export_failed
    }
}

enum Command {
    Flush(Sender<()>),
    Shutdown(Sender<()>),
}

/// Keeps a field on a cache line of its own: what the collector writes must not share a line
/// with what every span start reads (false sharing costs a cache miss per span).
#[repr(align(64))]
#[derive(Default)]
struct CacheLine<T>(T);

impl<T> std::ops::Deref for CacheLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

pub(crate) struct Pipeline {
    id: u64,
    pub(crate) sampler: Box<dyn Sampler>,
    /// The sampler leaves children of local parents to the parent's flag (the fast path).
    pub(crate) follows_local_parent: bool,
    pub(crate) running: AtomicBool,
    rings: Mutex<Vec<Arc<Ring>>>,
    rings_version: CacheLine<AtomicU64>,
    ring_capacity: usize,
    /// Wake the collector every `wake_mask + 1` spans pushed on one thread.
    wake_mask: usize,
    collector: Mutex<Option<Thread>>,
    sleeping: CacheLine<AtomicBool>,
    commands: Mutex<Sender<Command>>,
    exported: CacheLine<AtomicU64>,
    export_failed: CacheLine<AtomicU64>,
    retired_created: CacheLine<AtomicU64>,
    retired_dropped: CacheLine<AtomicU64>,
}

impl Pipeline {
    /// Queues a finished span from the calling thread. Never blocks; a full queue drops it.
    #[inline(always)]
    pub(crate) fn submit(&self, record: crate::span::raw::RawSpan) {
        let mut record = std::mem::ManuallyDrop::new(record);
        // SAFETY: `record` is not used again.
        unsafe { self.submit_from(&mut *record) }
    }

    /// Moves `*src` into this thread's queue (or drops it).
    ///
    /// # Safety
    /// `src` points to an initialised span that the caller never uses or drops again.
    #[inline(always)]
    pub(crate) unsafe fn submit_from(&self, src: *mut crate::span::raw::RawSpan) {
        let pushed = RINGS.try_with(|cache| {
            // SAFETY: the cache is only touched here and in its destructor, on this thread.
            let cache = unsafe { &mut *cache.0.get() };
            let ring = match &cache.global {
                Some((id, ring)) if *id == self.id => ring,
                _ => cache.ring_for(self),
            };
            // SAFETY: ownership of `*src` passes to the ring.
            if let Some(tail) = unsafe { ring.push_from(src) }
                && tail & self.wake_mask == 0
                && self.sleeping.load(Ordering::Relaxed)
            {
                self.wake();
            }
        });
        if pushed.is_err() {
            // Thread teardown: no ring any more.
            // SAFETY: ownership of `*src` was handed to us.
            unsafe { std::ptr::drop_in_place(src) };
            self.retired_created.fetch_add(1, Ordering::Relaxed);
            self.retired_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[cold]
    fn register(&self) -> Arc<Ring> {
        let ring = Arc::new(Ring::with_capacity(self.ring_capacity));
        lock(&self.rings).push(ring.clone());
        self.rings_version.fetch_add(1, Ordering::Release);
        ring
    }

    #[cold]
    fn wake(&self) {
        if let Some(t) = lock(&self.collector).as_ref() {
            t.unpark();
        }
    }

    fn send(&self, command: Command) -> bool {
        let sent = lock(&self.commands).send(command).is_ok();
        self.wake();
        sent
    }

    pub(crate) fn stats(&self) -> SpanStats {
        let mut created = self.retired_created.load(Ordering::Acquire);
        let mut dropped = self.retired_dropped.load(Ordering::Acquire);
        let mut queued = 0;
        for ring in lock(&self.rings).iter() {
            created += ring.created();
            dropped += ring.dropped();
            queued += ring.len() as u64;
        }
        SpanStats {
            created,
            exported: self.exported.load(Ordering::Acquire),
            dropped_queue_full: dropped,
            dropped_export_failed: self.export_failed.load(Ordering::Acquire),
            queued,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Per-thread producer ends of the rings, one per pipeline this thread has recorded into.
struct RingCache {
    global: Option<(u64, Arc<Ring>)>,
    others: Vec<(u64, Arc<Ring>, std::sync::Weak<Pipeline>)>,
}

struct RingCacheCell(UnsafeCell<RingCache>);

impl RingCache {
    #[cold]
    fn ring_for(&mut self, pipeline: &Pipeline) -> &Arc<Ring> {
        let global_id = global_pipeline().map(|p| p.id);
        if global_id == Some(pipeline.id) {
            if let Some((_, old)) = self.global.take() {
                old.close();
            }
            let ring = pipeline.register();
            return &self.global.insert((pipeline.id, ring)).1;
        }
        // Forget rings of pipelines that are gone or shut down.
        self.others.retain(|(_, ring, weak)| {
            let alive = weak
                .upgrade()
                .is_some_and(|p| p.running.load(Ordering::Relaxed));
            if !alive {
                ring.close();
            }
            alive
        });
        let pos = match self.others.iter().position(|(id, _, _)| *id == pipeline.id) {
            Some(pos) => pos,
            None => {
                let weak = find_weak(pipeline);
                self.others.push((pipeline.id, pipeline.register(), weak));
                self.others.len() - 1
            }
        };
        &self.others[pos].1
    }
}

impl Drop for RingCacheCell {
    fn drop(&mut self) {
        let cache = self.0.get_mut();
        if let Some((_, ring)) = &cache.global {
            ring.close();
        }
        for (_, ring, _) in &cache.others {
            ring.close();
        }
    }
}

thread_local! {
    static RINGS: RingCacheCell = const {
        RingCacheCell(UnsafeCell::new(RingCache { global: None, others: Vec::new() }))
    };
}

/// Scoped pipelines are always owned by a `Tracer`; find the Arc to keep a weak handle.
fn find_weak(pipeline: &Pipeline) -> std::sync::Weak<Pipeline> {
    lock(&SCOPED)
        .iter()
        .find(|w| w.upgrade().is_some_and(|p| p.id == pipeline.id))
        .cloned()
        .unwrap_or_default()
}

static SCOPED: Mutex<Vec<std::sync::Weak<Pipeline>>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A handle to one pipeline: its sampler, queues, collector thread and exporters.
///
/// The global tracer is installed by [`init`](crate::init); others are built with
/// [`Builder::build`](crate::Builder::build) and used with [`Tracer::in_scope`] or
/// [`Tracer::context`], which is how tests collect spans in parallel without a global
/// reporter. Dropping the last handle shuts the pipeline down, flushing what is queued.
#[derive(Clone)]
pub struct Tracer(pub(crate) Arc<TracerInner>);

pub(crate) struct TracerInner {
    pub(crate) pipeline: Arc<Pipeline>,
    resource: Resource,
    worker: Mutex<Option<JoinHandle<()>>>,
    config: BatchConfig,
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
        sampler: Box<dyn Sampler>,
        exporters: Vec<Box<dyn Exporter>>,
        resource: Resource,
        config: BatchConfig,
        initial: (Vec<SpanRecord>, u64),
    ) -> Tracer {
        let (initial, initial_dropped) = initial;
        let (tx, rx) = mpsc::channel();
        let capacity = config.max_queue_size.max(2).next_power_of_two();
        // Waking the collector is a syscall: do it once per half ring, or per batch if smaller.
        let wake_every = (capacity / 2).max(1);
        let pipeline = Arc::new(Pipeline {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            follows_local_parent: sampler.follows_local_parent(),
            sampler,
            running: AtomicBool::new(true),
            rings: Mutex::new(Vec::new()),
            rings_version: CacheLine(AtomicU64::new(0)),
            ring_capacity: capacity,
            wake_mask: wake_every - 1,
            collector: Mutex::new(None),
            sleeping: CacheLine(AtomicBool::new(false)),
            commands: Mutex::new(tx),
            exported: CacheLine(AtomicU64::new(0)),
            export_failed: CacheLine(AtomicU64::new(0)),
            retired_created: CacheLine(AtomicU64::new(initial.len() as u64 + initial_dropped)),
            retired_dropped: CacheLine(AtomicU64::new(initial_dropped)),
        });
        let worker = Collector {
            pipeline: pipeline.clone(),
            exporters,
            resource: resource.clone(),
            config,
            commands: rx,
            rings: Vec::new(),
            rings_version: u64::MAX,
            batch: initial,
        };
        let handle = thread::Builder::new()
            .name("traceweave-collector".into())
            .spawn(move || worker.run())
            .expect("traceweave: could not start the collector thread");
        *lock(&pipeline.collector) = Some(handle.thread().clone());
        {
            let mut scoped = lock(&SCOPED);
            scoped.retain(|w| w.strong_count() > 0);
            scoped.push(Arc::downgrade(&pipeline));
        }
        Tracer(Arc::new(TracerInner {
            pipeline,
            resource,
            worker: Mutex::new(Some(handle)),
            config,
        }))
    }

    /// What this tracer's spans come from.
    pub fn resource(&self) -> Resource {
        self.0.resource.clone()
    }

    /// The span counts of this pipeline.
    pub fn stats(&self) -> SpanStats {
        self.0.pipeline.stats()
    }

    /// Exports everything queued now and flushes the exporters; waits at most the export
    /// timeout. Returns whether it finished in time.
    pub fn force_flush(&self) -> bool {
        let (tx, rx) = mpsc::channel();
        self.0.pipeline.send(Command::Flush(tx))
            && rx.recv_timeout(self.0.config.export_timeout).is_ok()
    }

    /// Flushes and stops the pipeline; waits at most `timeout`. Spans that end afterwards are
    /// not recorded. Returns whether everything was delivered in time.
    pub fn shutdown_with_timeout(&self, timeout: Duration) -> bool {
        self.0.shutdown(timeout)
    }

    /// A context whose spans are recorded by this tracer (the current context plus this
    /// tracer). Attach it, or hand it to a future, to scope spans to this pipeline.
    pub fn context(&self) -> Context {
        Context::current().with_tracer(self.clone())
    }

    /// Runs `f` with spans recorded by this tracer, including spans in tasks and threads that
    /// carry the context along.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        self.context().run(f)
    }
}

impl TracerInner {
    pub(crate) fn config_timeout(&self) -> Duration {
        self.config.export_timeout
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        let Some(handle) = lock(&self.worker).take() else {
            return true;
        };
        let (tx, rx) = mpsc::channel();
        let mut ok = self.pipeline.send(Command::Shutdown(tx)) && rx.recv_timeout(timeout).is_ok();
        self.pipeline.running.store(false, Ordering::Release);
        if ok {
            ok = handle.join().is_ok();
        }
        ok
    }
}

impl Drop for TracerInner {
    fn drop(&mut self) {
        self.shutdown(self.config.export_timeout);
    }
}

struct Collector {
    pipeline: Arc<Pipeline>,
    exporters: Vec<Box<dyn Exporter>>,
    resource: Resource,
    config: BatchConfig,
    commands: Receiver<Command>,
    rings: Vec<Arc<Ring>>,
    rings_version: u64,
    batch: Vec<SpanRecord>,
}

impl Collector {
    fn run(mut self) {
        // Exporters run here: nothing they do is traced.
        let _suppressed = crate::context::suppress_current_thread();
        let max = self.config.max_export_batch_size.max(1);
        self.batch.reserve(max);
        loop {
            let moved = self.drain(max);
            match self.commands.try_recv() {
                Ok(Command::Flush(ack)) => {
                    self.drain(max);
                    for e in &mut self.exporters {
                        let _ = e.force_flush();
                    }
                    let _ = ack.send(());
                    continue;
                }
                Ok(Command::Shutdown(ack)) => {
                    self.drain(max);
                    for e in &mut self.exporters {
                        let _ = e.force_flush();
                        let _ = e.shutdown();
                    }
                    let _ = ack.send(());
                    return;
                }
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.drain(max);
                    return;
                }
                Err(mpsc::TryRecvError::Empty) => {}
            }
            if moved == 0 {
                self.pipeline.sleeping.store(true, Ordering::SeqCst);
                if self.rings.iter().all(|r| r.len() == 0) {
                    thread::park_timeout(self.config.schedule_delay);
                }
                self.pipeline.sleeping.store(false, Ordering::SeqCst);
            }
        }
    }

    /// Moves every queued span to the exporters; returns how many.
    fn drain(&mut self, max: usize) -> usize {
        let version = self.pipeline.rings_version.load(Ordering::Acquire);
        if version != self.rings_version {
            self.rings = lock(&self.pipeline.rings).clone();
            self.rings_version = version;
        }
        let mut moved = 0;
        let mut any_closed = false;
        for i in 0..self.rings.len() {
            loop {
                let room = max - self.batch.len();
                let n = self.rings[i].drain_into(&mut self.batch, room);
                moved += n;
                if self.batch.len() >= max {
                    self.export();
                }
                if n < room {
                    break;
                }
            }
            any_closed |= self.rings[i].is_closed();
        }
        if !self.batch.is_empty() {
            self.export();
        }
        if any_closed {
            self.retire_closed();
        }
        moved
    }

    fn retire_closed(&mut self) {
        let mut rings = lock(&self.pipeline.rings);
        rings.retain(|ring| {
            let done = ring.is_closed() && ring.len() == 0;
            if done {
                self.pipeline
                    .retired_created
                    .fetch_add(ring.created(), Ordering::AcqRel);
                self.pipeline
                    .retired_dropped
                    .fetch_add(ring.dropped(), Ordering::AcqRel);
            }
            !done
        });
        self.rings = rings.clone();
        self.rings_version = self.pipeline.rings_version.fetch_add(1, Ordering::AcqRel) + 1;
    }

    fn export(&mut self) {
        let n = self.batch.len() as u64;
        let mut ok = true;
        for e in &mut self.exporters {
            // A panicking exporter loses this batch, not the pipeline.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                e.export(&self.batch, &self.resource)
            }));
            ok &= matches!(result, Ok(Ok(())));
        }
        let counter = if ok {
            &self.pipeline.exported
        } else {
            &self.pipeline.export_failed
        };
        counter.fetch_add(n, Ordering::AcqRel);
        self.batch.clear();
    }
}

// ---- the global pipeline ----

/// Null: never initialised. `DISABLED`: disabled or shut down. Otherwise a leaked `Pipeline`.
static GLOBAL: AtomicPtr<Pipeline> = AtomicPtr::new(std::ptr::null_mut());
const DISABLED: *mut Pipeline = std::ptr::dangling_mut::<Pipeline>();
static GLOBAL_TRACER: Mutex<Option<Tracer>> = Mutex::new(None);

pub(crate) enum GlobalState {
    Uninit,
    Disabled,
    Running(&'static Pipeline),
}

#[inline]
pub(crate) fn global_state() -> GlobalState {
    let p = GLOBAL.load(Ordering::Acquire);
    if p.is_null() {
        GlobalState::Uninit
    } else if p == DISABLED {
        GlobalState::Disabled
    } else {
        // SAFETY: installed pipelines are leaked (one strong count is never released).
        GlobalState::Running(unsafe { &*p })
    }
}

fn global_pipeline() -> Option<&'static Pipeline> {
    match global_state() {
        GlobalState::Running(p) => Some(p),
        _ => None,
    }
}

/// Installs `tracer` as the global tracer. Fails if one is installed already.
pub(crate) fn install_global(tracer: Option<Tracer>) -> Result<(), ()> {
    let mut slot = lock(&GLOBAL_TRACER);
    if matches!(global_state(), GlobalState::Running(_)) {
        return Err(());
    }
    match tracer {
        Some(t) => {
            let leaked = Arc::into_raw(t.0.pipeline.clone()) as *mut Pipeline;
            GLOBAL.store(leaked, Ordering::Release);
            *slot = Some(t);
        }
        None => GLOBAL.store(DISABLED, Ordering::Release),
    }
    Ok(())
}

/// Shuts the global tracer down; spans that end afterwards are not recorded.
pub(crate) fn shutdown_global(timeout: Duration) -> bool {
    let tracer = lock(&GLOBAL_TRACER).take();
    let Some(tracer) = tracer else { return true };
    GLOBAL.store(DISABLED, Ordering::Release);
    tracer.shutdown_with_timeout(timeout)
}

pub(crate) fn global_tracer() -> Option<Tracer> {
    lock(&GLOBAL_TRACER).clone()
}

// ---- spans that end before `init` ----

const PRE_INIT_CAPACITY: usize = 1024;

struct PreInit {
    spans: Vec<SpanRecord>,
    dropped: u64,
    warned: bool,
}

static PRE_INIT: Mutex<PreInit> = Mutex::new(PreInit {
    spans: Vec::new(),
    dropped: 0,
    warned: false,
});

/// Keeps a span that ended before `init`, so the first ones are exported once `init` runs.
#[cold]
pub(crate) fn submit_pre_init(record: SpanRecord) {
    let mut pre = lock(&PRE_INIT);
    if !pre.warned {
        pre.warned = true;
        crate::config::warn(format_args!(
            "a span ended before traceweave::init() was called; the first {PRE_INIT_CAPACITY} \
             such spans are kept and exported when init() runs, later ones are dropped \
             (set OTEL_SDK_DISABLED=true to turn tracing off instead)"
        ));
    }
    if pre.spans.len() < PRE_INIT_CAPACITY {
        pre.spans.push(record);
    } else {
        pre.dropped += 1;
    }
}

pub(crate) fn take_pre_init() -> (Vec<SpanRecord>, u64) {
    let mut pre = lock(&PRE_INIT);
    (
        std::mem::take(&mut pre.spans),
        std::mem::take(&mut pre.dropped),
    )
}

/// Waits until `pred` holds or `timeout` passes; for tests of the pipeline.
#[doc(hidden)]
pub fn wait_until(timeout: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !pred() {
        if start.elapsed() > timeout {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
    true
}
