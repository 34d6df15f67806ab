//! A bounded single-producer single-consumer ring: the producing thread pushes without locks
//! or allocation; the collector thread drains it. Generic so the loom model can run it on
//! plain integers.

use std::cell::Cell;
use std::mem::MaybeUninit;

use super::sync::{AtomicBool, AtomicU64, AtomicUsize, CacheLine, Ordering, UnsafeCell};

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued.
    Queued,
    /// Queued, and the ring may be filling up: the caller should see whether the collector
    /// sleeps (rare: once per `check_every` pushes at most).
    QueuedCheck,
    /// The ring was full: the item was counted as dropped and left where it was, for the
    /// caller to drop (dropping frees memory, which a tracing global allocator may turn into
    /// another push: the caller does it once nothing of the ring's producer state is borrowed).
    Refused,
}

pub(crate) struct Ring<T> {
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    mask: usize,
    /// Next slot the consumer reads; written by the consumer only.
    head: CacheLine<AtomicUsize>,
    /// Next slot the producer writes; written by the producer only. Also the count of items
    /// ever queued here.
    tail: CacheLine<AtomicUsize>,
    /// The producer's last view of `head`, so a push rarely touches the consumer's line.
    cached_head: Cell<usize>,
    /// The tail at which the producer next looks at how full the ring is.
    next_check: Cell<usize>,
    /// Items refused because the ring was full; written by the producer only.
    dropped: AtomicU64,
    /// Set when the producing thread exits.
    closed: AtomicBool,
}

// SAFETY: `cached_head`, `next_check` and the slots in [tail, head + capacity) are touched only
// by the one producer thread (the owner of the thread-local cache entry); the slots in
// [head, tail) only by the one consumer (the collector). `tail` is published with Release
// after a slot is written and read with Acquire before it is read; `head` likewise in the
// other direction, so a slot is never read and written at once. `T: Send` because items move
// from the producer's thread to the consumer's.
unsafe impl<T: Send> Sync for Ring<T> {}
// SAFETY: as above; the ring owns its items.
unsafe impl<T: Send> Send for Ring<T> {}

impl<T> Ring<T> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(2).next_power_of_two();
        let slots = (0..capacity)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect();
        Ring {
            slots,
            mask: capacity - 1,
            head: CacheLine(AtomicUsize::new(0)),
            tail: CacheLine(AtomicUsize::new(0)),
            cached_head: Cell::new(0),
            next_check: Cell::new(Self::wake_threshold(capacity)),
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// How full a ring is when its producer wakes a parked collector: a quarter, so the
    /// other three quarters absorb the time the collector takes to get a core.
    pub(crate) fn wake_threshold(capacity: usize) -> usize {
        (capacity / 4).max(1)
    }

    /// How full a ring is when its producer wakes a napping collector (one that polls again
    /// within `MAX_POLL` anyway): half.
    pub(crate) fn nap_threshold(capacity: usize) -> usize {
        (capacity / 2).max(1)
    }

    /// Producer side: moves `*src` into the ring, or (the ring full) counts it as dropped and
    /// leaves it to the caller. Calls no code but the copy: nothing is dropped or freed here.
    ///
    /// # Safety
    /// `src` points to an initialised item. Unless this returns [`Pushed::Refused`], the item is
    /// the ring's and the caller never uses or drops it again; when refused, it is still the
    /// caller's, who must drop it. Only the ring's one producer thread calls this (and
    /// `check_fill`).
    #[inline(always)]
    pub(crate) unsafe fn push_from(&self, src: *mut T) -> Pushed {
        let tail = self.tail.0.load(Ordering::Relaxed);
        if tail.wrapping_sub(self.cached_head.get()) > self.mask {
            self.cached_head.set(self.head.0.load(Ordering::Acquire));
            if tail.wrapping_sub(self.cached_head.get()) > self.mask {
                // Single writer: a plain load and store, no locked instruction.
                self.dropped
                    .store(self.dropped.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                return Pushed::Refused;
            }
        }
        // SAFETY: the slot is outside [head, tail), so the consumer does not read it, and only
        // this producer writes it; `*src` is moved, not copied (the caller forgets it).
        self.slots[tail & self.mask].with_mut(|slot| unsafe {
            std::ptr::copy_nonoverlapping(src, (*slot).as_mut_ptr(), 1)
        });
        let tail = tail.wrapping_add(1);
        self.tail.0.store(tail, Ordering::Release);
        if tail == self.next_check.get() {
            Pushed::QueuedCheck
        } else {
            Pushed::Queued
        }
    }

    /// Producer side, after `QueuedCheck`: how full the ring is now: `None` under a quarter,
    /// else whether it is at least half full. Sets when to look next: soon while it is this
    /// full, else when it could be.
    ///
    /// # Safety
    /// Only the ring's producer thread calls this.
    #[cold]
    pub(crate) unsafe fn check_fill(&self) -> Option<bool> {
        let head = self.head.0.load(Ordering::Acquire);
        self.cached_head.set(head);
        let tail = self.tail.0.load(Ordering::Relaxed);
        let threshold = Self::wake_threshold(self.capacity());
        let fill = tail.wrapping_sub(head);
        if fill >= threshold {
            self.next_check
                .set(tail.wrapping_add((self.capacity() / 8).max(1)));
            Some(fill >= Self::nap_threshold(self.capacity()))
        } else {
            self.next_check.set(head.wrapping_add(threshold));
            None
        }
    }

    /// Consumer side: moves up to `max` items, in order, to the end of `out`, each copied once
    /// from its slot straight into `out`'s buffer; returns how many moved. Calls no code but the
    /// copy: the items are `out`'s before anything else runs.
    ///
    /// # Safety
    /// Only one thread at a time drains a ring (the collector that owns it): two consumers
    /// would both read the slots in [head, tail) and own their items twice.
    pub(crate) unsafe fn drain_into(&self, max: usize, out: &mut Vec<T>) -> usize {
        let head = self.head.0.load(Ordering::Relaxed);
        let tail = self.tail.0.load(Ordering::Acquire);
        let n = tail.wrapping_sub(head).min(max);
        // Allocates (if at all) before any slot is read: nothing below can fail.
        out.reserve(n);
        let len = out.len();
        let spare = &mut out.spare_capacity_mut()[..n];
        for (i, dst) in spare.iter_mut().enumerate() {
            // SAFETY: slots in [head, tail) were fully written before `tail` was released and
            // the producer does not touch them until `head` moves past them; each is read once
            // here, bitwise, into `out`'s spare capacity, and `head` then moves past it.
            self.slots[head.wrapping_add(i) & self.mask].with_mut(|slot| unsafe {
                dst.as_mut_ptr()
                    .copy_from_nonoverlapping((*slot).as_ptr(), 1);
            });
        }
        self.head.0.store(head.wrapping_add(n), Ordering::Release);
        // SAFETY: the `n` slots after `len` were initialised just above, and their items'
        // only owner is now `out` (the ring's head is past them).
        unsafe { out.set_len(len + n) };
        n
    }

    /// Items waiting now.
    pub(crate) fn len(&self) -> usize {
        self.tail
            .0
            .load(Ordering::Acquire)
            .wrapping_sub(self.head.0.load(Ordering::Acquire))
    }

    /// Items ever queued here plus items refused: every item that ended on this thread.
    pub(crate) fn created(&self) -> u64 {
        self.tail.0.load(Ordering::Acquire) as u64 + self.dropped()
    }

    /// Items refused because the ring was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        let head = self.head.0.load(Ordering::Relaxed);
        let tail = self.tail.0.load(Ordering::Relaxed);
        let mut i = head;
        while i != tail {
            // SAFETY: slots in [head, tail) are initialised and, with `&mut self`, read nowhere
            // else.
            self.slots[i & self.mask].with_mut(|slot| unsafe { (*slot).assume_init_drop() });
            i = i.wrapping_add(1);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn push(ring: &Ring<String>, s: &str) -> Pushed {
        let mut item = std::mem::ManuallyDrop::new(s.to_owned());
        // SAFETY: this test thread is the only producer; `item` is used again only if refused.
        let pushed = unsafe { ring.push_from(&mut *item) };
        if pushed == Pushed::Refused {
            // SAFETY: a refused item is still ours, and dropped once.
            unsafe { std::mem::ManuallyDrop::drop(&mut item) };
        }
        pushed
    }

    /// Drains as the collector does; this test thread is the only consumer.
    fn drain(ring: &Ring<String>, max: usize, out: &mut Vec<String>) -> usize {
        // SAFETY: one consumer: this thread.
        unsafe { ring.drain_into(max, out) }
    }

    #[test]
    fn full_ring_drops_and_counts_and_drains_in_order() {
        let ring = Ring::with_capacity(4);
        for i in 0..6 {
            push(&ring, &i.to_string());
        }
        assert_eq!((ring.len(), ring.dropped(), ring.created()), (4, 2, 6));
        let mut out = Vec::new();
        assert_eq!(drain(&ring, 3, &mut out), 3);
        assert_eq!(out, ["0", "1", "2"]);
        assert_eq!(push(&ring, "x"), Pushed::Queued);
        // What stays queued is dropped with the ring (the sanitizer run checks for leaks).
        drop(ring);
    }

    #[test]
    fn fill_check_fires_at_a_quarter_and_again_while_full_telling_half_full() {
        let ring = Ring::with_capacity(16);
        let mut checks = Vec::new();
        for i in 0..16 {
            if push(&ring, "s") == Pushed::QueuedCheck {
                // SAFETY: this test thread is the producer.
                checks.push((i, unsafe { ring.check_fill() }));
            }
        }
        assert_eq!(
            checks,
            [
                (3, Some(false)),
                (5, Some(false)),
                (7, Some(true)),
                (9, Some(true)),
                (11, Some(true)),
                (13, Some(true)),
                (15, Some(true))
            ]
        );
        drain(&ring, 16, &mut Vec::new());
        let mut later = Vec::new();
        for i in 0..16 {
            if push(&ring, "s") == Pushed::QueuedCheck {
                // SAFETY: as above.
                later.push((i, unsafe { ring.check_fill() }));
            }
        }
        // The first look after draining finds the ring empty and sets the next at a quarter.
        assert!(later.iter().any(|&(_, fill)| fill.is_some()));
    }

    #[test]
    fn draining_across_the_wrap_point_keeps_order_and_appends() {
        let ring = Ring::with_capacity(4);
        let mut out = vec!["before".to_owned()];
        for round in 0..3 {
            for i in 0..3 {
                push(&ring, &format!("{round}.{i}"));
            }
            // Two at a time: the slots read wrap around the end of the buffer.
            while drain(&ring, 2, &mut out) > 0 {}
        }
        let want: Vec<String> = std::iter::once("before".to_owned())
            .chain((0..3).flat_map(|r| (0..3).map(move |i| format!("{r}.{i}"))))
            .collect();
        assert_eq!(out, want);
        assert_eq!((ring.len(), ring.created()), (0, 9));
    }
}
