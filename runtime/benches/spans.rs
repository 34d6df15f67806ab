//! Cost of a span on the calling thread, side by side: traceweave `#[traced]`, fastrace
//! `#[trace]`, tracing `#[instrument]` + tracing-opentelemetry + the SDK batch processor, and
//! tracing with no subscriber. Every framework really collects into a discarding sink.
//!
//! `cargo bench -p traceweave --bench spans`; see `benches/README.md` for the results.

mod common;

use std::hint::black_box;

use common::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn frameworks(c: &mut Criterion) {
    let tw_count = TwDiscard::default();
    let _tw_guard = tw_install(tw_count.clone());
    fr_install(FrDiscard::default());
    let (ot, ot_provider) = ot_dispatch(OtDiscard::default(), true);
    let (ot_off, ot_off_provider) = ot_dispatch(OtDiscard::default(), false);
    let none = tracing::Dispatch::none();

    for n in [1usize, 10, 100] {
        let mut g = c.benchmark_group("sync_children");
        g.throughput(Throughput::Elements(n as u64 + 1));
        g.bench_with_input(BenchmarkId::new("traceweave", n), &n, |b, &n| {
            b.iter(|| tw::root(black_box(n)))
        });
        g.bench_with_input(BenchmarkId::new("fastrace", n), &n, |b, &n| {
            b.iter(|| fr::root(black_box(n)))
        });
        g.bench_with_input(BenchmarkId::new("tracing-otel", n), &n, |b, &n| {
            tracing::dispatcher::with_default(&ot, || b.iter(|| tr::root(black_box(n))))
        });
        g.bench_with_input(BenchmarkId::new("tracing-none", n), &n, |b, &n| {
            tracing::dispatcher::with_default(&none, || b.iter(|| tr::root(black_box(n))))
        });
        g.finish();
    }

    let n = 10usize;
    let mut g = c.benchmark_group("async_children");
    g.throughput(Throughput::Elements(n as u64 + 1));
    g.bench_function(BenchmarkId::new("traceweave", n), |b| {
        b.iter(|| block_on(tw::async_root(black_box(n))))
    });
    g.bench_function(BenchmarkId::new("fastrace", n), |b| {
        b.iter(|| block_on(fr::async_root(black_box(n))))
    });
    g.bench_function(BenchmarkId::new("tracing-otel", n), |b| {
        tracing::dispatcher::with_default(&ot, || b.iter(|| block_on(tr::async_root(black_box(n)))))
    });
    g.bench_function(BenchmarkId::new("tracing-none", n), |b| {
        tracing::dispatcher::with_default(&none, || {
            b.iter(|| block_on(tr::async_root(black_box(n))))
        })
    });
    g.finish();

    let depth = 10usize;
    let mut g = c.benchmark_group("nesting_depth");
    g.throughput(Throughput::Elements(depth as u64));
    g.bench_function(BenchmarkId::new("traceweave", depth), |b| {
        b.iter(|| tw::nest(black_box(depth)))
    });
    g.bench_function(BenchmarkId::new("fastrace", depth), |b| {
        b.iter(|| fr::nest(black_box(depth)))
    });
    g.bench_function(BenchmarkId::new("tracing-otel", depth), |b| {
        tracing::dispatcher::with_default(&ot, || b.iter(|| tr::nest(black_box(depth))))
    });
    g.bench_function(BenchmarkId::new("tracing-none", depth), |b| {
        tracing::dispatcher::with_default(&none, || b.iter(|| tr::nest(black_box(depth))))
    });
    g.finish();

    let n = 100usize;
    let mut g = c.benchmark_group("unsampled_root");
    g.throughput(Throughput::Elements(n as u64 + 1));
    g.bench_function(BenchmarkId::new("traceweave", n), |b| {
        b.iter(|| tw::unsampled_root(black_box(n)))
    });
    g.bench_function(BenchmarkId::new("fastrace", n), |b| {
        b.iter(|| fr::unsampled_root(black_box(n)))
    });
    g.bench_function(BenchmarkId::new("tracing-otel", n), |b| {
        tracing::dispatcher::with_default(&ot_off, || b.iter(|| tr::root(black_box(n))))
    });
    g.bench_function(BenchmarkId::new("tracing-none", n), |b| {
        tracing::dispatcher::with_default(&none, || b.iter(|| tr::root(black_box(n))))
    });
    g.finish();

    // One child span inside an unsampled root that stays entered: the child's own cost,
    // with no root and no sampling decision in the measurement.
    let mut g = c.benchmark_group("unsampled_child");
    g.throughput(Throughput::Elements(1));
    g.bench_function("traceweave", |b| {
        let _root = traceweave::span("unsampled_root").root().start().enter();
        b.iter(tw::child)
    });
    g.bench_function("fastrace", |b| {
        let root = fastrace::Span::root(
            "unsampled_root",
            fastrace::prelude::SpanContext::random().sampled(false),
        );
        let _g = root.set_local_parent();
        b.iter(fr::child)
    });
    g.bench_function("tracing-otel", |b| {
        tracing::dispatcher::with_default(&ot_off, || {
            let root = tracing::info_span!("unsampled_root");
            let _g = root.enter();
            b.iter(tr::child)
        })
    });
    g.finish();

    // Last, as it cannot be turned off: with SkyWalking in use (its propagator or exporter
    // made), a root or entry span keeps its name in its context for `sw8`'s parent endpoint, so
    // its children take the general path, as under any baggage. The same workload as
    // `sync_children/traceweave/10`.
    let _sw8 = traceweave::propagation::SkyWalkingPropagator::new();
    let n = 10usize;
    let mut g = c.benchmark_group("sync_children_skywalking");
    g.throughput(Throughput::Elements(n as u64 + 1));
    g.bench_with_input(BenchmarkId::new("traceweave", n), &n, |b, &n| {
        b.iter(|| tw::root(black_box(n)))
    });
    g.finish();

    // Honesty check: the traceweave numbers above are for spans that reached the exporter.
    let _ = traceweave::force_flush(); // a late flush shows in the counters printed below
    let stats = traceweave::stats();
    eprintln!(
        "traceweave pipeline during the benchmark: created {} exported {} dropped {}",
        stats.created,
        stats.exported,
        stats.dropped()
    );
    fastrace::flush();
    let _ = ot_provider.shutdown();
    let _ = ot_off_provider.shutdown();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(30);
    targets = frameworks
}
criterion_main!(benches);
