//! The context follows `.await` on a multi-thread runtime, spawned tasks and threads, and two
//! interleaved futures keep separate parents.

use std::time::Duration;

use traceweave::testing::Capture;
use traceweave::{Context, traced};

#[traced(args(i))]
async fn step(i: u32) {
    for _ in 0..3 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    leaf(i);
}

#[traced(args(i))]
fn leaf(i: u32) {
    // The sync child sees its async parent as the current span.
    assert!(Context::current().has_span());
}

#[traced]
async fn request() {
    step(1).await;
    step(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_survives_await_across_worker_threads() {
    let captured = Capture::new()
        .run_async(async {
            // Many concurrent requests so tasks migrate between the two workers.
            let tasks: Vec<_> = (0..16).map(|_| traceweave::spawn(request())).collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
        .await;
    let spans = captured.spans;
    assert_eq!(spans.len(), 16 * 5);
    let requests: Vec<_> = spans.iter().filter(|s| s.name == "request").collect();
    assert_eq!(requests.len(), 16);
    for r in &requests {
        let mine: traceweave::testing::Spans = traceweave::testing::Spans(
            spans
                .iter()
                .filter(|s| s.trace_id == r.trace_id)
                .cloned()
                .collect(),
        );
        assert_eq!(
            mine.tree(),
            "└─ request\n   \
                ├─ step i=1\n   \
                │  └─ leaf i=1\n   \
                └─ step i=2\n      \
                   └─ leaf i=2\n"
        );
    }
    // Nothing leaked onto the worker threads' stacks.
    let leaked = tokio::spawn(async { Context::current().has_span() })
        .await
        .unwrap();
    assert!(!leaked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_and_threads_are_children() {
    #[traced]
    async fn parent() {
        let task = traceweave::spawn(async { leaf(1) });
        task.await.unwrap();
        let thread = traceweave::spawn_thread(|| leaf(2));
        thread.join().unwrap();
        // A plain tokio::spawn without the context starts a new trace.
        tokio::spawn(async { leaf(3) }).await.unwrap();
    }
    let spans = Capture::new().run_async(parent()).await.spans;
    assert_eq!(
        spans.tree(),
        "└─ parent\n   ├─ leaf i=1\n   └─ leaf i=2\n",
        "leaf 3 had no context, so it belongs to no capture"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_futures_keep_separate_parents() {
    #[traced(args(name))]
    async fn branch(name: &'static str) {
        for _ in 0..5 {
            tokio::task::yield_now().await;
            twig(name);
        }
    }
    #[traced(args(parent))]
    fn twig(parent: &'static str) {}

    #[traced]
    async fn both() {
        tokio::join!(branch("a"), branch("b"));
    }
    let spans = Capture::new().run_async(both()).await.spans;
    assert_eq!(spans.len(), 1 + 2 + 10);
    for twig in spans.iter().filter(|s| s.name == "twig") {
        let parent = spans
            .iter()
            .find(|s| s.span_id == twig.parent_span_id)
            .unwrap();
        assert_eq!(parent.name, "branch");
        assert_eq!(parent.attribute("name"), twig.attribute("parent"));
    }
}

#[test]
fn context_run_and_threads() {
    let spans = traceweave::testing::capture(|| {
        let span = traceweave::span("manual").start();
        let ctx = span.context();
        let handle = std::thread::spawn(move || ctx.run(|| leaf(7)));
        handle.join().unwrap();
        span.end();
    });
    assert_eq!(spans.tree(), "└─ manual\n   └─ leaf i=7\n");
}
