//! A sampler is user code on the span path: it may attach contexts (growing the thread's
//! context stack under the span being started) and call traced functions. Neither may corrupt
//! the span being started, and nothing started inside a sampler records or recurses.

use std::sync::atomic::{AtomicUsize, Ordering};

use traceweave::testing::Capture;
use traceweave::{
    Context, Sampler, SamplingDecision, SamplingInput, SpanContext, SpanId, TraceFlags, TraceId,
    traced,
};

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
struct MeddlingSampler;

impl Sampler for MeddlingSampler {
    fn should_sample(&self, _: &SamplingInput<'_>) -> SamplingDecision {
        CALLS.fetch_add(1, Ordering::SeqCst);
        // Enough frames that the context stack's buffer is reallocated; each keeps the current
        // context's scope, so spans under them would go to this sampler again.
        let guards: Vec<_> = (1..=200u64)
            .map(|i| {
                Context::current()
                    .with_span_context(SpanContext::new(
                        TraceId::from_u128(u128::from(i)),
                        SpanId::from_u64(i),
                        TraceFlags::SAMPLED,
                        false,
                    ))
                    .attach()
            })
            .collect();
        // A traced function and a new root inside the sampler: neither records, and the root
        // (which would ask this sampler again) does not recurse.
        traced_inside_sampler();
        let root = traceweave::span("root-inside-sampler").root().start();
        assert!(!root.is_recording());
        drop(root);
        drop(guards);
        SamplingDecision::RecordAndSample
    }
}

#[traced]
fn traced_inside_sampler() {
    #[traced]
    fn deeper() {}
    deeper();
}

#[traced(root)]
fn handle(n: u32) {
    work(n);
}

#[traced(args(n))]
fn work(n: u32) {
    let _ = n;
}

#[test]
fn a_sampler_that_attaches_contexts_and_calls_traced_code() {
    let captured = Capture::new().sampler(MeddlingSampler).run(|| {
        for n in 0..50 {
            handle(n);
        }
        assert!(
            !Context::current().has_span(),
            "the sampler's frames are all gone"
        );
    });
    let tree = captured.spans.tree();
    assert_eq!(captured.spans.len(), 100, "{tree}");
    assert!(
        captured
            .spans
            .iter()
            .all(|s| s.name == "handle" || s.name == "work")
    );
    for s in captured.spans.iter().filter(|s| s.name == "work") {
        let parent = captured
            .spans
            .iter()
            .find(|p| p.span_id == s.parent_span_id)
            .expect("every child has its parent");
        assert_eq!(parent.name, "handle");
        assert_eq!(parent.trace_id, s.trace_id);
    }
    // Asked for every span outside the sampler (roots and their children), never recursively.
    assert_eq!(CALLS.load(Ordering::SeqCst), 100);
    assert_eq!(captured.stats.created, 100);
    assert_eq!(captured.stats.exported, 100);
}
