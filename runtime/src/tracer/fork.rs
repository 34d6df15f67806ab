//! `fork()`: the child starts with one thread and a copy of the parent's memory. The
//! collectors did not come along, spans queued in the copy belong to the parent (which exports
//! them), and the id generator's state is the parent's. A handler registered with
//! `pthread_atfork` runs in the child right after the fork, doing only what is safe there
//! (atomic stores and a thread-local reset): it bumps the fork generation, forgets the id seed
//! and orphans the global pipeline. The next time the child touches the global tracer (a span
//! starting, `init`, `shutdown`, a guard dropping) it starts a fresh collector with the same
//! sampler, limits and configuration and a copy of each exporter made for the child
//! ([`Exporter::after_fork`](crate::Exporter::after_fork)). A tracer built by hand has no
//! collector in the child: it drops what it is given there and never waits for its collector.

use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many forks this process is away from the one that started the collectors it knows:
/// 0 in the original process, bumped in each child.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The current fork generation.
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Registers the child handler (once per process).
pub(crate) fn watch() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(unix)]
        // SAFETY: `in_child` is an `extern "C"` function that lives for the whole process and
        // does only async-signal-safe work (atomics and a const-initialised thread-local).
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
}

#[cfg(unix)]
extern "C" fn in_child() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
    crate::id::forget_seed();
    super::global::orphan_in_child();
}
