//! `created == exported + dropped` exactly, and nothing stays queued after shutdown: spans
//! that end on other threads during and after shutdown, spans held past it, exporters that
//! panic in flush or shutdown, and a tracer whose last handle drops on a busy thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use traceweave::{ExportError, Exporter, InMemoryExporter, Resource, SpanBatch, Tracer};

fn tracer(exporter: impl Exporter) -> Tracer {
    traceweave::builder()
        .ignore_env()
        .schedule_delay(Duration::from_millis(5))
        .export_timeout(Duration::from_secs(5))
        .exporter(exporter)
        .build()
}

/// Waits until `done` holds, at most 20 s (then the assertions that follow say what is wrong).
fn wait_for(done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn assert_balanced(tracer: &Tracer) {
    let s = tracer.stats();
    assert_eq!(s.queued, 0, "{s:?}");
    assert_eq!(s.created, s.exported + s.dropped(), "{s:?}");
}

#[test]
fn spans_ending_on_other_threads_across_shutdown_are_all_counted() {
    let memory = InMemoryExporter::new();
    let tracer = tracer(memory.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(Barrier::new(5));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (ctx, stop, started) = (tracer.context(), stop.clone(), started.clone());
            std::thread::spawn(move || {
                ctx.run(|| {
                    started.wait();
                    while !stop.load(Ordering::Relaxed) {
                        let outer = traceweave::span("outer").start();
                        for _ in 0..10 {
                            traceweave::span("inner").start().end();
                        }
                        std::thread::yield_now();
                        drop(outer);
                    }
                })
            })
        })
        .collect();
    started.wait();
    // Until the workers have ended spans (not a fixed sleep: on a loaded machine, or under the
    // sanitizer, they may not get a core for a while).
    wait_for(|| tracer.stats().created >= 200);
    assert!(
        tracer
            .shutdown_with_timeout(Duration::from_secs(10))
            .is_ok()
    );
    // The workers go on ending spans they started before the shutdown.
    wait_for(|| tracer.stats().dropped_shutdown > 0);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let s = tracer.stats();
    assert!(s.exported > 0, "{s:?}");
    assert_eq!(s.exported, memory.take().len() as u64);
    assert_balanced(&tracer);
}

#[test]
fn spans_held_past_shutdown_are_dropped_and_counted_without_new_queues() {
    let memory = InMemoryExporter::new();
    let tracer = tracer(memory.clone());
    // Chunks of 100, the fastest chunk of each kind compared: a preempted chunk does not count.
    let (chunks, per) = (50, 100);
    let mut held: Vec<Vec<_>> = tracer.in_scope(|| {
        (0..chunks)
            .map(|_| (0..per).map(|_| traceweave::span("held").start()).collect())
            .collect()
    });
    // The baseline, measured here: spans started and ended while the tracer runs.
    let baseline = tracer.in_scope(|| {
        (0..chunks)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..per {
                    traceweave::span("before").start().end();
                }
                t.elapsed()
            })
            .min()
            .unwrap()
    });
    assert!(
        tracer
            .shutdown_with_timeout(Duration::from_secs(10))
            .is_ok()
    );
    let after = held
        .drain(..)
        .map(|chunk| {
            let t = Instant::now();
            drop(chunk);
            t.elapsed()
        })
        .min()
        .unwrap();
    // One atomic add each, not a queue each: no dearer than a span's whole life before shutdown
    // (a queue each would be thousands of times dearer).
    assert!(
        after < baseline * 4 + Duration::from_micros(50),
        "{per} held spans dropped after shutdown {after:?}, {per} spans before it {baseline:?}"
    );
    let s = tracer.stats();
    assert_eq!(
        (s.created, s.exported, s.dropped_shutdown),
        (10_000, 5_000, 5_000),
        "{s:?}"
    );
    assert_balanced(&tracer);
}

#[derive(Debug, Default, Clone)]
struct PanickyExporter(Arc<AtomicU64>);

impl Exporter for PanickyExporter {
    fn export(&mut self, spans: SpanBatch<'_>, _: &Resource) -> Result<(), ExportError> {
        self.0.fetch_add(spans.len() as u64, Ordering::SeqCst);
        Ok(())
    }

    fn force_flush(&mut self) -> Result<(), ExportError> {
        panic!("flush failed");
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        panic!("shutdown failed");
    }
}

#[test]
fn an_exporter_panicking_in_flush_and_shutdown_never_kills_the_collector() {
    let exporter = PanickyExporter::default();
    let tracer = tracer(exporter.clone());
    tracer.in_scope(|| traceweave::span("one").start().end());
    assert!(
        tracer.force_flush().is_ok(),
        "the collector answers the flush"
    );
    tracer.in_scope(|| traceweave::span("two").start().end());
    assert!(tracer.force_flush().is_ok(), "and the next one");
    assert_eq!(exporter.0.load(Ordering::SeqCst), 2);
    tracer.in_scope(|| traceweave::span("three").start().end());
    assert!(
        tracer
            .shutdown_with_timeout(Duration::from_secs(10))
            .is_ok()
    );
    assert_eq!(exporter.0.load(Ordering::SeqCst), 3);
    assert_balanced(&tracer);
}

#[derive(Debug)]
struct SlowExporter {
    entered: std::sync::mpsc::Sender<()>,
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl Exporter for SlowExporter {
    fn export(&mut self, _: SpanBatch<'_>, _: &Resource) -> Result<(), ExportError> {
        let _ = self.entered.send(());
        std::thread::sleep(Duration::from_secs(2));
        self.done.store(true, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn dropping_the_last_tracer_does_not_wait_for_the_exporter() {
    let (entered, entered_rx) = std::sync::mpsc::channel();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tracer = tracer(SlowExporter {
        entered,
        done: done.clone(),
    });
    tracer.in_scope(|| traceweave::span("slow").start().end());
    // The collector is inside the slow export when the tracer goes.
    entered_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    drop(tracer);
    assert!(
        !done.load(Ordering::SeqCst),
        "drop waited for the export under way"
    );
}

#[derive(Debug)]
struct SlowPerBatch(Arc<AtomicU64>);

impl Exporter for SlowPerBatch {
    fn export(&mut self, spans: SpanBatch<'_>, _: &Resource) -> Result<(), ExportError> {
        std::thread::sleep(Duration::from_millis(150));
        self.0.fetch_add(spans.len() as u64, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn no_export_starts_after_the_shutdown_deadline() {
    // 20 batches of one span, 150 ms each: 3 s of exporting, and a 400 ms shutdown.
    let calls = Arc::new(AtomicU64::new(0));
    // A small queue, so 20 spans wake the collector: it is in the middle of draining them,
    // one slow export after another, when shutdown comes (it must not finish that drain).
    let tracer = traceweave::builder()
        .ignore_env()
        .schedule_delay(Duration::from_secs(60))
        .max_queue_size(32)
        .max_export_batch_size(1)
        .exporter(SlowPerBatch(calls.clone()))
        .build();
    tracer.in_scope(|| {
        for _ in 0..20 {
            traceweave::span("queued").start().end();
        }
    });
    let t = Instant::now();
    while calls.load(Ordering::SeqCst) == 0 && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        calls.load(Ordering::SeqCst) > 0,
        "the collector started exporting"
    );
    let t = Instant::now();
    assert_eq!(
        tracer.shutdown_with_timeout(Duration::from_millis(400)),
        Err(traceweave::FlushError::Timeout(Duration::from_millis(400)))
    );
    // The collector finishes the export under way, then counts the rest as dropped.
    // A guard against hanging, not a measurement: the export under way takes 150 ms.
    while tracer.stats().created != tracer.stats().exported + tracer.stats().dropped() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{:?}",
            tracer.stats()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let s = tracer.stats();
    assert!(s.exported <= 4, "{s:?}");
    assert_eq!(s.exported, calls.load(Ordering::SeqCst));
    assert_eq!(s.dropped_shutdown, 20 - s.exported, "{s:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        s.exported,
        "nothing exported after"
    );
    assert_balanced(&tracer);
}
