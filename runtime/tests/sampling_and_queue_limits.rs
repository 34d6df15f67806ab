//! Unsampled traces export nothing but still propagate; a full queue drops and counts exactly.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use traceweave::testing::Capture;
use traceweave::{
    AlwaysOff, Context, ExportError, ExportErrorKind, Exporter, ParentBased, Resource, SpanBatch,
    TraceIdRatio, traced,
};

#[traced]
fn root_op() {
    child_op();
    // Not sampled, yet there is a context to propagate with the sampled flag cleared.
    let ctx = Context::current();
    assert!(ctx.has_span());
    assert!(!ctx.span_context().is_sampled());
}

#[traced]
fn child_op() {}

#[test]
fn unsampled_traces_export_nothing_but_propagate() {
    let captured = Capture::new().sampler(ParentBased::new(AlwaysOff)).run(|| {
        for _ in 0..100 {
            root_op();
        }
    });
    assert!(captured.spans.is_empty());
    assert_eq!(captured.stats.created, 0);
}

#[test]
fn ratio_sampling_keeps_whole_traces() {
    let captured = Capture::new()
        .sampler(ParentBased::new(TraceIdRatio::new(0.5)))
        .run(|| {
            for _ in 0..400 {
                #[traced]
                fn r() {
                    child_op();
                }
                r();
            }
        });
    let roots = captured.spans.iter().filter(|s| s.name == "r").count();
    let children = captured
        .spans
        .iter()
        .filter(|s| s.name == "child_op")
        .count();
    assert_eq!(roots, children, "a sampled root keeps all its children");
    assert!((120..280).contains(&roots), "{roots} of 400 at ratio 0.5");
}

/// Blocks in `export` until released, so the test controls when the queue drains.
struct GateExporter {
    entered: mpsc::Sender<()>,
    release: Arc<Mutex<mpsc::Receiver<()>>>,
    seen: Arc<Mutex<usize>>,
}

impl Exporter for GateExporter {
    fn export(&mut self, spans: SpanBatch<'_>, _: &Resource) -> Result<(), ExportError> {
        let _ = self.entered.send(());
        let _ = self.release.lock().unwrap().recv();
        *self.seen.lock().unwrap() += spans.len();
        Ok(())
    }
}

#[test]
fn queue_overflow_drops_and_counts_exactly() {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let seen = Arc::new(Mutex::new(0));
    let tracer = traceweave::builder()
        .ignore_env()
        .max_queue_size(8)
        .max_export_batch_size(8)
        .schedule_delay(Duration::from_millis(1))
        .exporter(GateExporter {
            entered: entered_tx,
            release: Arc::new(Mutex::new(release_rx)),
            seen: seen.clone(),
        })
        .build();
    tracer.in_scope(|| {
        child_op();
        // The collector took that span and now waits in the exporter.
        entered_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // Never blocks on the stuck exporter: it is released only after this loop, so a span
        // that waited for it would wait forever; a watchdog releases it after a minute and the
        // test then fails, instead of hanging.
        let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watchdog = {
            let (finished, release) = (finished.clone(), release_tx.clone());
            std::thread::spawn(move || {
                for _ in 0..600 {
                    if finished.load(std::sync::atomic::Ordering::SeqCst) {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = release.send(());
                true
            })
        };
        for _ in 0..100 {
            child_op();
        }
        finished.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(
            !watchdog.join().unwrap(),
            "ending spans blocked on the stuck exporter"
        );
    });
    let stats = tracer.stats();
    assert_eq!(stats.created, 101);
    assert_eq!(stats.queued, 8);
    assert_eq!(stats.dropped_queue_full, 92);
    for _ in 0..10 {
        let _ = release_tx.send(());
    }
    assert!(
        tracer
            .shutdown_with_timeout(Duration::from_secs(10))
            .is_ok()
    );
    let stats = tracer.stats();
    assert_eq!(*seen.lock().unwrap(), 9);
    assert_eq!(stats.exported, 9);
    assert_eq!(stats.created, stats.exported + stats.dropped());
}

#[test]
fn a_failing_exporter_counts_its_spans_as_dropped() {
    struct Failing;
    impl Exporter for Failing {
        fn export(&mut self, _: SpanBatch<'_>, _: &Resource) -> Result<(), ExportError> {
            Err(ExportError::new(
                ExportErrorKind::Connection,
                "collector unreachable",
            ))
        }
    }
    let tracer = traceweave::builder().ignore_env().exporter(Failing).build();
    tracer.in_scope(|| {
        for _ in 0..10 {
            child_op();
        }
    });
    assert!(tracer.force_flush().is_ok());
    let stats = tracer.stats();
    assert_eq!(stats.created, 10);
    assert_eq!(stats.dropped_export_failed, 10);
    assert_eq!(stats.exported, 0);
}

#[test]
fn spans_from_threads_that_exit_are_all_collected() {
    let memory = traceweave::InMemoryExporter::new();
    let tracer = traceweave::builder()
        .ignore_env()
        .exporter(memory.clone())
        .build();
    let ctx = tracer.context();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                ctx.run(|| {
                    for _ in 0..250 {
                        child_op();
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        tracer
            .shutdown_with_timeout(Duration::from_secs(10))
            .is_ok()
    );
    assert_eq!(memory.spans().len(), 1000);
    let stats = tracer.stats();
    assert_eq!(
        (stats.created, stats.exported, stats.dropped()),
        (1000, 1000, 0)
    );
}

#[test]
fn exporters_never_trace_themselves() {
    struct TracingExporter(Arc<Mutex<usize>>);
    impl Exporter for TracingExporter {
        fn export(&mut self, spans: SpanBatch<'_>, _: &Resource) -> Result<(), ExportError> {
            // Traced code called from an exporter (an HTTP client, say) records nothing and
            // does not feed the queue it is draining.
            child_op();
            let _manual = traceweave::span("exporter.io").root().start();
            assert!(!Context::current().has_span());
            *self.0.lock().unwrap() += spans.len();
            Ok(())
        }
    }
    let seen = Arc::new(Mutex::new(0));
    let tracer = traceweave::builder()
        .ignore_env()
        .exporter(TracingExporter(seen.clone()))
        .build();
    tracer.in_scope(|| {
        for _ in 0..5 {
            child_op();
        }
    });
    assert!(
        tracer
            .shutdown_with_timeout(Duration::from_secs(10))
            .is_ok()
    );
    assert_eq!(*seen.lock().unwrap(), 5);
    assert_eq!(tracer.stats().created, 5);
}
