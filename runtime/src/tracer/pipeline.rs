//! The part of a pipeline that application threads touch: the sampler, the per-thread rings
//! and the submit call that moves a finished span into one. Nothing here blocks or calls user
//! code while it holds a reference into thread-local state.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};

use super::ring::{Pushed, Ring};
use super::sync::CacheLine;
use super::wake::Wake;
use super::{Command, SpanStats};
use crate::sampler::Sampler;
use crate::span::SpanLimits;
use crate::span::raw::RawSpan;

pub(crate) type SpanRing = Ring<RawSpan>;

pub(crate) struct Pipeline {
    pub(super) id: u64,
    pub(super) sampler: Arc<dyn Sampler>,
    /// The sampler leaves children of local parents to the parent's flag (the fast path).
    pub(super) follows_local_parent: bool,
    /// How much one span may carry.
    pub(super) limits: SpanLimits,
    /// Cleared when shutdown begins: spans ending afterwards are counted and dropped at once.
    pub(super) running: AtomicBool,
    ring_capacity: usize,
    pub(super) rings: Mutex<Vec<Arc<SpanRing>>>,
    pub(super) rings_version: CacheLine<AtomicU64>,
    pub(super) wake: Wake,
    pub(super) commands: Mutex<Sender<Command>>,
    pub(super) counters: CacheLine<Counters>,
}

/// Counts the collector (and, rarely, exiting threads) keep; the rings count the rest.
#[derive(Default)]
pub(crate) struct Counters {
    pub(super) exported: AtomicU64,
    pub(super) export_failed: AtomicU64,
    /// Spans of rings that were retired (their thread exited), counted when retired.
    pub(super) retired_created: AtomicU64,
    pub(super) retired_dropped: AtomicU64,
    /// Spans that ended after shutdown began, or on a thread being torn down.
    pub(super) late: AtomicU64,
    /// Spans queued when shutdown began but not exported by its deadline (already counted as
    /// created by their rings).
    pub(super) past_deadline: AtomicU64,
    /// Set by a shutdown with a timeout: no export starts after it.
    pub(super) shutdown_deadline: std::sync::OnceLock<std::time::Instant>,
    /// Set when the collector has exported its last batch: what is left in rings is lost.
    pub(super) stopped: AtomicBool,
    /// The last export failure's text (written by the collector when an export fails, read by
    /// `stats()`; never touched on an application thread's span path).
    pub(super) last_error: Mutex<Option<crate::error::ExportFailure>>,
}

impl Pipeline {
    pub(crate) fn new(
        id: u64,
        sampler: Arc<dyn Sampler>,
        limits: SpanLimits,
        ring_capacity: usize,
        commands: Sender<Command>,
    ) -> Self {
        Pipeline {
            id,
            follows_local_parent: sampler.follows_local_parent(),
            sampler,
            limits,
            running: AtomicBool::new(true),
            ring_capacity: ring_capacity.max(2).next_power_of_two(),
            rings: Mutex::new(Vec::new()),
            rings_version: CacheLine(AtomicU64::new(0)),
            wake: Wake::new(),
            commands: Mutex::new(commands),
            counters: CacheLine(Counters::default()),
        }
    }

    /// Queues a finished span from the calling thread. Never blocks; a full queue drops it.
    #[inline(always)]
    pub(crate) fn submit(&self, record: RawSpan) {
        let mut record = std::mem::ManuallyDrop::new(record);
        // SAFETY: `record` is not used again (ManuallyDrop: not dropped here either).
        unsafe { self.submit_from(&mut *record) }
    }

    /// Moves `*src` into this thread's ring (or drops and counts it).
    ///
    /// # Safety
    /// `src` points to an initialised span that the caller never uses or drops again.
    #[inline(always)]
    pub(crate) unsafe fn submit_from(&self, src: *mut RawSpan) {
        if !self.running.load(Ordering::Relaxed) {
            // SAFETY: ownership of `*src` was handed to us.
            unsafe { self.drop_late(src) };
            return;
        }
        let pushed = RINGS.try_with(|cell| {
            loop {
                let pushed = {
                    // SAFETY: the cache is borrowed only in these blocks and in its destructor,
                    // on this thread, and no block calls user code: finding a ring, pushing
                    // into its preallocated slots and waking the collector neither allocate nor
                    // free (a `#[global_allocator]` is user code and may trace), so no second
                    // borrow can start while this one lives. A refused span is dropped (which
                    // frees) below, after this borrow has ended.
                    let cache = unsafe { &mut *cell.0.get() };
                    match cache.find(self.id) {
                        Some(ring) => {
                            // SAFETY: this thread is the ring's producer; `*src` passes to the
                            // ring unless refused, and then stays ours (dropped below).
                            let pushed = unsafe { ring.push_from(src) };
                            if pushed == Pushed::QueuedCheck
                                // SAFETY: as above, this thread is the ring's producer.
                                && let Some(half_full) = unsafe { ring.check_fill() }
                            {
                                self.wake.notify(half_full);
                            }
                            Some(pushed)
                        }
                        None => None,
                    }
                };
                if let Some(pushed) = pushed {
                    break pushed;
                }
                self.install_ring(cell);
            }
        });
        match pushed {
            Ok(Pushed::Queued | Pushed::QueuedCheck) => {}
            // SAFETY: the ring refused `*src`, so it is still ours, and no borrow of the ring
            // cache is alive: dropping it may free, and a tracing allocator may push again.
            Ok(Pushed::Refused) => unsafe { std::ptr::drop_in_place(src) },
            // Thread teardown: no ring any more.
            // SAFETY: ownership of `*src` was handed to us and `try_with` did not run.
            Err(_) => unsafe { self.drop_late(src) },
        }
    }

    /// # Safety
    /// `src` points to an initialised span that the caller never uses or drops again.
    #[cold]
    unsafe fn drop_late(&self, src: *mut RawSpan) {
        // SAFETY: forwarded; a RawSpan's fields are our own types (no user Drop runs).
        unsafe { std::ptr::drop_in_place(src) };
        self.counters.late.fetch_add(1, Ordering::Relaxed);
    }

    #[cold]
    fn register(&self) -> Arc<SpanRing> {
        let ring = Arc::new(Ring::with_capacity(self.ring_capacity));
        lock(&self.rings).push(ring.clone());
        self.rings_version.fetch_add(1, Ordering::Release);
        ring
    }

    /// Sends a command and wakes the collector for it.
    pub(crate) fn send(&self, command: Command) -> bool {
        let sent = lock(&self.commands).send(command).is_ok();
        self.wake.wake();
        sent
    }

    pub(crate) fn stats(&self) -> SpanStats {
        let c = &self.counters;
        let late = c.late.load(Ordering::Acquire);
        let mut created = c.retired_created.load(Ordering::Acquire) + late;
        let mut queue_full = c.retired_dropped.load(Ordering::Acquire);
        let mut queued = 0;
        for ring in lock(&self.rings).iter() {
            created += ring.created();
            queue_full += ring.dropped();
            queued += ring.len() as u64;
        }
        // Read after the rings: once `stopped` is seen, nothing drains them any more.
        let stopped = c.stopped.load(Ordering::Acquire);
        let (queued, lost) = if stopped { (0, queued) } else { (queued, 0) };
        SpanStats {
            created,
            exported: c.exported.load(Ordering::Acquire),
            dropped_queue_full: queue_full,
            dropped_export_failed: c.export_failed.load(Ordering::Acquire),
            dropped_shutdown: late + lost + c.past_deadline.load(Ordering::Acquire),
            queued,
            last_export_error: lock(&c.last_error).clone(),
            producer_wakeups: self.wake.producer_wakeups(),
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Per-thread producer ends of the rings, one per pipeline this thread has recorded into.
struct RingCache {
    /// The global pipeline's ring (the hot path).
    global: Option<(u64, Arc<SpanRing>)>,
    /// Rings of scoped pipelines (tests, `Tracer::in_scope`).
    others: Vec<(u64, Arc<SpanRing>)>,
}

struct RingCacheCell(UnsafeCell<RingCache>);

impl RingCache {
    /// This thread's ring for the pipeline `id`, if it has one. Allocates nothing.
    #[inline(always)]
    fn find(&self, id: u64) -> Option<&Arc<SpanRing>> {
        match &self.global {
            Some((gid, ring)) if *gid == id => Some(ring),
            _ => self.find_other(id),
        }
    }

    /// A scoped pipeline's ring (tests, `Tracer::in_scope`): off the global pipeline's path.
    #[cold]
    #[inline(never)]
    fn find_other(&self, id: u64) -> Option<&Arc<SpanRing>> {
        self.others
            .iter()
            .find(|(oid, ring)| *oid == id && !ring.is_closed())
            .map(|(_, ring)| ring)
    }
}

impl Pipeline {
    /// Gives this thread a ring for this pipeline. Everything that allocates or frees (the
    /// ring, the cache's list, rings dropped from it) happens with no borrow of the cache
    /// live, so an allocator that traces finds the cache as it is (its own spans may install
    /// a ring meanwhile: that one is closed and left to the collector to drain).
    #[cold]
    #[inline(never)]
    fn install_ring(&self, cell: &RingCacheCell) {
        let ring = self.register();
        if super::global::is_global(self) {
            // SAFETY: a short exclusive borrow that moves an Option in and out; no user code.
            let old = unsafe { &mut *cell.0.get() }
                .global
                .replace((self.id, ring));
            if let Some((_, old)) = old {
                old.close();
            }
            return;
        }
        // SAFETY: a short exclusive borrow that moves the Vec out; no user code.
        let mut others = std::mem::take(&mut unsafe { &mut *cell.0.get() }.others);
        // Forget rings whose pipeline has stopped (the collector marked them closed for us).
        others.retain(|(_, ring)| !ring.is_closed());
        others.push((self.id, ring));
        // SAFETY: a short exclusive borrow that moves the Vec back in; no user code.
        let meanwhile = std::mem::replace(&mut unsafe { &mut *cell.0.get() }.others, others);
        for (_, ring) in &meanwhile {
            ring.close();
        }
    }
}

impl Drop for RingCacheCell {
    fn drop(&mut self) {
        let cache = self.0.get_mut();
        if let Some((_, ring)) = &cache.global {
            ring.close();
        }
        for (_, ring) in &cache.others {
            ring.close();
        }
    }
}

thread_local! {
    static RINGS: RingCacheCell = const {
        RingCacheCell(UnsafeCell::new(RingCache { global: None, others: Vec::new() }))
    };
}
