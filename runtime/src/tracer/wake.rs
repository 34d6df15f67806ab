//! Waking the collector: an eventcount over the thread's park/unpark. The collector announces
//! that it is about to sleep, looks once more for work, then parks; a producer that has queued
//! work (and found its ring filling up) looks at the announcement and unparks only then. Two
//! SeqCst fences make the store-then-load on each side a Dekker pair, so a wake-up is never
//! lost: either the producer sees `sleeping`, or the collector sees the producer's items.
//! Producers pay no syscall unless the collector really sleeps with a ring a quarter full.

use std::sync::OnceLock;

use super::sync::{AtomicBool, Ordering, fence};

#[cfg(loom)]
use loom::thread::Thread;
#[cfg(not(loom))]
use std::thread::Thread;

#[repr(align(64))]
pub(crate) struct Wake {
    sleeping: AtomicBool,
    collector: OnceLock<Thread>,
}

impl Wake {
    pub(crate) fn new() -> Self {
        Wake {
            sleeping: AtomicBool::new(false),
            collector: OnceLock::new(),
        }
    }

    /// Names the thread to wake (once, when the collector starts).
    pub(crate) fn set_collector(&self, thread: Thread) {
        let _ = self.collector.set(thread);
    }

    /// Producer side, after its items are published: wakes the collector if it sleeps.
    #[cold]
    pub(crate) fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) {
            self.wake();
        }
    }

    /// Wakes the collector whether or not it sleeps (commands: flush, shutdown).
    pub(crate) fn wake(&self) {
        if let Some(t) = self.collector.get() {
            t.unpark();
        }
    }

    /// Collector side: announces the sleep. Look for work once more after this, then park
    /// (or call `done` if work turned up).
    pub(crate) fn prepare(&self) {
        self.sleeping.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Collector side: awake again.
    pub(crate) fn done(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }
}
