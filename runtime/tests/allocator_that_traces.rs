//! A `#[global_allocator]` is user code that runs inside traceweave: when the context stack
//! grows, the allocator is called, and a tracking allocator may itself read the current context,
//! attach one, or run traced code. No borrow of the stack may be live then (under
//! AddressSanitizer the old code freed the stack's buffer twice: the allocator's own push grew
//! the buffer the outer push was still growing).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use traceweave::{Context, SpanContext, SpanId, TraceFlags, TraceId, traced};

struct Tracing;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static INSIDE: Cell<bool> = const { Cell::new(false) };
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

#[traced]
fn traced_inside_the_allocator() -> u64 {
    Context::current().span_context().span_id().to_u64()
}

impl Tracing {
    fn reenter() {
        if !ARMED.with(Cell::get) || INSIDE.with(Cell::get) {
            return;
        }
        INSIDE.with(|c| c.set(true));
        CALLS.with(|c| c.set(c.get() + 1));
        // Read the stack, push on it (pushes that may grow it, i.e. allocate again), trace.
        let before = Context::current().span_context().span_id();
        {
            let _a = ctx(0xa110c).attach();
            let _b = ctx(0xa110d).attach();
            assert_eq!(
                Context::current().span_context().span_id().to_u64(),
                0xa110d
            );
            let _ = traced_inside_the_allocator();
        }
        assert_eq!(Context::current().span_context().span_id(), before);
        INSIDE.with(|c| c.set(false));
    }
}

// SAFETY: every method forwards to `System` with the arguments it was given; what runs before
// (`reenter`) allocates only through this same allocator and frees what it allocates.
unsafe impl GlobalAlloc for Tracing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::reenter();
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Self::reenter();
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::reenter();
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracing = Tracing;

fn ctx(n: u64) -> Context {
    Context::new().with_span_context(SpanContext::new(
        TraceId::from_u128(7),
        SpanId::from_u64(n),
        TraceFlags::SAMPLED,
        false,
    ))
}

#[test]
fn the_context_stack_grows_while_the_allocator_attaches_contexts() {
    let tracer = traceweave::builder().ignore_env().build();
    tracer.in_scope(|| {
        ARMED.with(|c| c.set(true));
        // Deep enough to grow the stack's buffer several times (8, 16, 32, 64, 128...).
        let mut guards = Vec::with_capacity(300);
        for n in 1..=300u64 {
            guards.push(ctx(n).attach());
            assert_eq!(Context::current().span_context().span_id().to_u64(), n);
        }
        while let Some(g) = guards.pop() {
            let n = guards.len() as u64 + 1;
            assert_eq!(Context::current().span_context().span_id().to_u64(), n);
            drop(g);
        }
        ARMED.with(|c| c.set(false));
    });
    assert!(
        CALLS.with(Cell::get) > 0,
        "the allocator ran inside traceweave"
    );
    assert!(!Context::current().has_span());
    assert!(
        tracer
            .shutdown_with_timeout(std::time::Duration::from_secs(10))
            .is_ok()
    );
    let stats = tracer.stats();
    assert_eq!(stats.created, stats.exported + stats.dropped(), "{stats:?}");
}

#[test]
fn the_first_span_of_a_thread_registers_its_ring_while_the_allocator_traces() {
    // Registering a thread's ring allocates; the allocator then ends spans of its own, which
    // need that ring too.
    let memory = traceweave::InMemoryExporter::new();
    let tracer = traceweave::builder()
        .ignore_env()
        .exporter(memory.clone())
        .build();
    let stats = armed_on_a_new_thread(tracer, || {
        for _ in 0..50 {
            let _ = traced_inside_the_allocator();
        }
    });
    assert!(stats.exported >= 50, "{stats:?}");
    assert_eq!(memory.spans().len() as u64, stats.exported);
}

#[test]
fn a_span_refused_by_a_full_queue_is_freed_while_the_allocator_traces() {
    // A queue of two: most spans are refused. Dropping a refused span frees what it owns (its
    // attribute's text), the allocator then ends a span of its own into the same queue, which
    // must find the thread's queue free to borrow (the refused one is dropped after the push).
    let tracer = traceweave::builder().ignore_env().max_queue_size(2).build();
    let stats = armed_on_a_new_thread(tracer, || {
        for i in 0..5_000u64 {
            let mut span = traceweave::span("owned").start();
            span.set_attribute("text", format!("an owned value {i}"));
            span.end();
        }
    });
    assert!(stats.dropped_queue_full > 0, "{stats:?}");
}

/// Runs `work` in `tracer`'s scope on a fresh thread (whose ring is not registered yet) with
/// the allocator tracing, shuts the tracer down, and returns its balanced counts.
fn armed_on_a_new_thread(
    tracer: traceweave::Tracer,
    work: impl FnOnce() + Send + 'static,
) -> traceweave::SpanStats {
    let tracer = std::thread::spawn(move || {
        tracer.in_scope(|| {
            ARMED.with(|c| c.set(true));
            work();
            ARMED.with(|c| c.set(false));
        });
        tracer
    })
    .join()
    .unwrap();
    assert!(
        tracer
            .shutdown_with_timeout(std::time::Duration::from_secs(10))
            .is_ok()
    );
    let stats = tracer.stats();
    assert_eq!(stats.created, stats.exported + stats.dropped(), "{stats:?}");
    stats
}
