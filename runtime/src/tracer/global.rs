//! The global tracer (what `init` installs) and the spans that end before it exists.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Tracer;
use super::pipeline::{Pipeline, lock};
use crate::error::{FlushError, InitError};
use crate::span::raw::RawSpan;

/// Null: never initialised. `DISABLED`: disabled or shut down. Otherwise a pipeline kept in
/// `INSTALLED`.
static GLOBAL: AtomicPtr<Pipeline> = AtomicPtr::new(std::ptr::null_mut());
/// Every pipeline ever installed, kept for the life of the process: spans in flight hold
/// `&'static` references to it, even after it is shut down and replaced.
static INSTALLED: Mutex<Vec<Arc<Pipeline>>> = Mutex::new(Vec::new());
const DISABLED: *mut Pipeline = std::ptr::dangling_mut::<Pipeline>();
static GLOBAL_TRACER: Mutex<Option<Tracer>> = Mutex::new(None);

/// Where a span started now would go.
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
        // SAFETY: an installed pipeline is kept in `INSTALLED`, never removed, so it lives for
        // the rest of the process.
        GlobalState::Running(unsafe { &*p })
    }
}

/// [`global_state`] for the cold paths: first, in a forked child, restarts the global tracer.
#[cold]
pub(crate) fn global_state_cold() -> GlobalState {
    restart_if_forked();
    global_state()
}

/// The global pipeline of the parent, in a forked child that has not restarted it yet.
static ORPHANED: AtomicPtr<Pipeline> = AtomicPtr::new(std::ptr::null_mut());

/// In a forked child, right after the fork (async-signal-safe: atomics only): the global
/// pipeline stops taking spans (its collector is not in this process) and the global state
/// reads as uninitialised until [`restart_if_forked`] runs.
pub(super) fn orphan_in_child() {
    let p = GLOBAL.load(Ordering::Acquire);
    if p.is_null() || p == DISABLED {
        return;
    }
    // SAFETY: a non-null, non-sentinel pointer is an installed pipeline, kept in `INSTALLED`.
    unsafe { &*p }.running.store(false, Ordering::SeqCst);
    ORPHANED.store(p, Ordering::Release);
    GLOBAL.store(std::ptr::null_mut(), Ordering::Release);
}

/// In a forked child: replaces the parent's global tracer with a fresh one (same sampler,
/// limits and configuration, the exporters' copies for a child). If that cannot be done
/// safely (a lock held by a thread that did not come along, no exporter that can be copied),
/// tracing is off in the child, with a warning.
#[cold]
fn restart_if_forked() {
    if ORPHANED.load(Ordering::Acquire).is_null() {
        return;
    }
    let mut slot = match GLOBAL_TRACER.try_lock() {
        Ok(slot) => slot,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        // Another thread of this child is restarting it.
        Err(std::sync::TryLockError::WouldBlock) => return,
    };
    if ORPHANED
        .swap(std::ptr::null_mut(), Ordering::AcqRel)
        .is_null()
    {
        return;
    }
    let old = slot.take();
    let installed = match old.as_ref().and_then(Tracer::respawn) {
        Some(t) if lock_installed(&t) => {
            GLOBAL.store(Arc::as_ptr(&t.0.pipeline).cast_mut(), Ordering::Release);
            *slot = Some(t);
            true
        }
        _ => {
            GLOBAL.store(DISABLED, Ordering::Release);
            false
        }
    };
    drop(slot);
    // Dropping the parent's handle here waits for nothing: its collector is not in this process.
    drop(old);
    if !installed {
        crate::diag::warn(format_args!(
            "this process was forked from a traced one, and its tracer could not be restarted              here (no exporter supports forking, or the parent was exporting at that moment);              spans of this process are not recorded"
        ));
    }
}

/// Keeps a restarted pipeline reachable; false if the list is locked by a thread that did not
/// come along.
fn lock_installed(t: &Tracer) -> bool {
    match INSTALLED.try_lock() {
        Ok(mut list) => list.push(t.0.pipeline.clone()),
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().push(t.0.pipeline.clone()),
        Err(std::sync::TryLockError::WouldBlock) => return false,
    }
    true
}

pub(crate) fn is_global(pipeline: &Pipeline) -> bool {
    std::ptr::eq(GLOBAL.load(Ordering::Acquire), pipeline)
}

/// Installs `tracer` as the global tracer (`None`: tracing disabled). Fails if one is
/// installed already.
pub(crate) fn install_global(tracer: Option<Tracer>) -> Result<(), InitError> {
    restart_if_forked();
    let mut slot = lock(&GLOBAL_TRACER);
    if matches!(global_state(), GlobalState::Running(_)) {
        return Err(InitError::AlreadyInitialised);
    }
    match tracer {
        Some(t) => {
            let pipeline = t.0.pipeline.clone();
            let ptr = Arc::as_ptr(&pipeline).cast_mut();
            lock(&INSTALLED).push(pipeline);
            GLOBAL.store(ptr, Ordering::Release);
            *slot = Some(t);
        }
        None => GLOBAL.store(DISABLED, Ordering::Release),
    }
    Ok(())
}

/// Shuts the global tracer down; spans that end afterwards are not recorded.
pub(crate) fn shutdown_global(timeout: Duration) -> Result<(), FlushError> {
    restart_if_forked();
    let tracer = lock(&GLOBAL_TRACER).take();
    let Some(tracer) = tracer else { return Ok(()) };
    GLOBAL.store(DISABLED, Ordering::Release);
    tracer.shutdown_with_timeout(timeout)
}

pub(crate) fn global_tracer() -> Option<Tracer> {
    restart_if_forked();
    lock(&GLOBAL_TRACER).clone()
}

// ---- spans that end before `init` ----

const PRE_INIT_CAPACITY: usize = 1024;

struct PreInit {
    spans: Vec<RawSpan>,
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
pub(crate) fn submit_pre_init(record: RawSpan) {
    let warn = {
        let mut pre = lock(&PRE_INIT);
        if pre.spans.len() < PRE_INIT_CAPACITY {
            pre.spans.push(record);
        } else {
            pre.dropped += 1;
        }
        !std::mem::replace(&mut pre.warned, true)
    };
    // Outside the lock: writing to stderr may fail or block, and must not poison it.
    if warn {
        crate::diag::warn(format_args!(
            "a span ended before traceweave::init() was called; the first {PRE_INIT_CAPACITY} \
             such spans are kept and exported when init() runs, later ones are dropped \
             (set OTEL_SDK_DISABLED=true to turn tracing off instead)"
        ));
    }
}

/// The spans kept before `init`, and how many were dropped beyond the capacity.
pub(crate) fn take_pre_init() -> (Vec<RawSpan>, u64) {
    let mut pre = lock(&PRE_INIT);
    (
        std::mem::take(&mut pre.spans),
        std::mem::take(&mut pre.dropped),
    )
}
