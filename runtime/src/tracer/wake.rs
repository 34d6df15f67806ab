//! Waking the collector: an eventcount over the thread's park/unpark. The collector announces
//! that it is about to sleep, looks once more for work, then parks; a producer that has queued
//! work (and found its ring filling up) looks at the announcement and unparks only then. Two
//! SeqCst fences make the store-then-load on each side a Dekker pair, so a wake-up is never
//! lost: either the producer sees `sleeping`, or the collector sees the producer's items.
//!
//! The collector sleeps two ways: a nap between polls while spans flow (at most `MAX_POLL`),
//! and a long park when quiet. A producer wakes a parked collector when its ring is a quarter
//! full, a napping one only when it is half full: a burst that fits in half a ring waits for
//! the next poll, so in steady flow producers pay no syscall at all.

use std::sync::OnceLock;

use super::sync::{AtomicU8, Ordering, fence};
use std::sync::atomic::AtomicU64;

#[cfg(loom)]
use loom::thread::Thread;
#[cfg(not(loom))]
use std::thread::Thread;

const AWAKE: u8 = 0;
const NAPPING: u8 = 1;
const PARKED: u8 = 2;

#[repr(align(64))]
pub(crate) struct Wake {
    sleeping: AtomicU8,
    collector: OnceLock<Thread>,
    /// Wake-ups an application thread paid for (an unpark: a syscall on that thread).
    by_producers: AtomicU64,
}

impl Wake {
    pub(crate) fn new() -> Self {
        Wake {
            sleeping: AtomicU8::new(AWAKE),
            collector: OnceLock::new(),
            by_producers: AtomicU64::new(0),
        }
    }

    /// Names the thread to wake (once, when the collector starts).
    pub(crate) fn set_collector(&self, thread: Thread) {
        let _ = self.collector.set(thread);
    }

    /// Producer side, after its items are published, with its ring at least a quarter full
    /// (`half_full`: at least half): wakes the collector if it is parked, or napping and the
    /// ring is half full.
    #[cold]
    pub(crate) fn notify(&self, half_full: bool) {
        fence(Ordering::SeqCst);
        match self.sleeping.load(Ordering::Relaxed) {
            PARKED => self.wake_for_producer(),
            NAPPING if half_full => self.wake_for_producer(),
            _ => {}
        }
    }

    fn wake_for_producer(&self) {
        self.by_producers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.wake();
    }

    /// How many times application threads have woken the collector.
    pub(crate) fn producer_wakeups(&self) -> u64 {
        self.by_producers.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Wakes the collector whether or not it sleeps (commands: flush, shutdown).
    pub(crate) fn wake(&self) {
        if let Some(t) = self.collector.get() {
            t.unpark();
        }
    }

    /// Collector side: announces the sleep (`long`: a park, else a nap). Look for work once
    /// more after this (a ring a quarter full for a park, half full for a nap), then sleep (or
    /// call `done` if work turned up).
    pub(crate) fn prepare(&self, long: bool) {
        let state = if long { PARKED } else { NAPPING };
        self.sleeping.store(state, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Collector side: awake again.
    pub(crate) fn done(&self) {
        self.sleeping.store(AWAKE, Ordering::Relaxed);
    }
}
