//! A bounded single-producer single-consumer ring of finished spans: the producing thread
//! pushes without locks or allocation; the collector thread drains it.

use std::cell::{Cell, UnsafeCell};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::span::SpanRecord;
use crate::span::raw::RawSpan;

#[repr(align(64))]
struct Padded<T>(T);

pub(crate) struct Ring {
    slots: Box<[UnsafeCell<MaybeUninit<RawSpan>>]>,
    mask: usize,
    /// Next slot the consumer reads; written by the consumer only.
    head: Padded<AtomicUsize>,
    /// Next slot the producer writes; written by the producer only. Also the count of spans
    /// ever queued here.
    tail: Padded<AtomicUsize>,
    /// The producer's last view of `head`, so a push rarely touches the consumer's line.
    cached_head: Cell<usize>,
    /// Spans refused because the ring was full; written by the producer only.
    dropped: AtomicU64,
    /// Set when the producing thread exits.
    closed: AtomicBool,
}

// SAFETY: `cached_head` and the slots between head and tail are touched by exactly one
// producer thread (the owner of the thread-local cache entry) and one consumer (the
// collector); the atomics order the hand-over.
unsafe impl Sync for Ring {}
unsafe impl Send for Ring {}

impl Ring {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(2).next_power_of_two();
        let slots = (0..capacity)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect();
        Ring {
            slots,
            mask: capacity - 1,
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            cached_head: Cell::new(0),
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// Producer side: moves `*src` into the ring, or drops it (and counts it) when the ring is
    /// full. Returns the new tail on success.
    ///
    /// # Safety
    /// `src` points to an initialised span that the caller never uses again. Must only be
    /// called from the ring's producer thread.
    #[inline(always)]
    pub(crate) unsafe fn push_from(&self, src: *mut RawSpan) -> Option<usize> {
        let tail = self.tail.0.load(Ordering::Relaxed);
        if tail.wrapping_sub(self.cached_head.get()) > self.mask {
            self.cached_head.set(self.head.0.load(Ordering::Acquire));
            if tail.wrapping_sub(self.cached_head.get()) > self.mask {
                // Single writer: a plain load and store, no locked instruction.
                self.dropped
                    .store(self.dropped.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                // SAFETY: the caller hands over ownership of `*src`.
                unsafe { std::ptr::drop_in_place(src) };
                return None;
            }
        }
        // SAFETY: the slot is outside [head, tail), so the consumer does not read it, and only
        // this producer writes it; `*src` is moved, not copied (the caller forgets it).
        unsafe {
            std::ptr::copy_nonoverlapping(
                src,
                (*self.slots[tail & self.mask].get()).as_mut_ptr(),
                1,
            )
        };
        self.tail.0.store(tail.wrapping_add(1), Ordering::Release);
        Some(tail.wrapping_add(1))
    }

    /// Consumer side: moves up to `max` records into `out`; returns how many.
    pub(crate) fn drain_into(&self, out: &mut Vec<SpanRecord>, max: usize) -> usize {
        let head = self.head.0.load(Ordering::Relaxed);
        let tail = self.tail.0.load(Ordering::Acquire);
        let n = tail.wrapping_sub(head).min(max);
        out.reserve(n);
        for i in 0..n {
            // SAFETY: slots in [head, tail) were fully written before `tail` was released.
            let record =
                unsafe { (*self.slots[head.wrapping_add(i) & self.mask].get()).assume_init_read() };
            out.push(record.into_record());
        }
        self.head.0.store(head.wrapping_add(n), Ordering::Release);
        n
    }

    pub(crate) fn len(&self) -> usize {
        self.tail
            .0
            .load(Ordering::Acquire)
            .wrapping_sub(self.head.0.load(Ordering::Acquire))
    }

    /// Spans ever queued here plus spans refused: every span that ended on this thread.
    pub(crate) fn created(&self) -> u64 {
        self.tail.0.load(Ordering::Acquire) as u64 + self.dropped()
    }

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

impl Drop for Ring {
    fn drop(&mut self) {
        let head = self.head.0.load(Ordering::Relaxed);
        let tail = self.tail.0.load(Ordering::Relaxed);
        for i in head..tail {
            // SAFETY: slots in [head, tail) are initialised and read nowhere else now.
            unsafe { (*self.slots[i & self.mask].get()).assume_init_drop() };
        }
    }
}
