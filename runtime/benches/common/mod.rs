//! The workloads, written once per framework, and the discarding sinks they report into.
//! Shared by the criterion benchmark (`spans`) and the throughput program (`throughput`).
#![allow(dead_code)]

use std::future::Future;
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

// ---------------------------------------------------------------- helpers

/// Polls a future to completion on the calling thread (no runtime: the same for everyone).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Pending once, then ready: every async child really suspends and resumes.
pub struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

pub fn yield_once() -> YieldOnce {
    YieldOnce(false)
}

// ---------------------------------------------------------------- traceweave

/// Discards spans, counting them. It reads batches in place, as traceweave's OTLP exporters
/// do, touching each span's id and name so the spans are really read.
#[derive(Debug, Clone, Default)]
pub struct TwDiscard(pub Arc<AtomicU64>);

impl traceweave::Exporter for TwDiscard {
    fn export(
        &mut self,
        batch: traceweave::SpanBatch<'_>,
        _: &traceweave::Resource,
    ) -> Result<(), traceweave::ExportError> {
        let mut sum = 0u64;
        for span in batch.iter() {
            sum = sum.wrapping_add(span.span_id().to_u64() ^ span.name().len() as u64);
        }
        black_box(sum);
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Samples every root except those named `unsampled_root`.
#[derive(Debug)]
pub struct ByName;

impl traceweave::Sampler for ByName {
    fn should_sample(&self, input: &traceweave::SamplingInput<'_>) -> traceweave::SamplingDecision {
        if input.name == "unsampled_root" {
            traceweave::SamplingDecision::Drop
        } else {
            traceweave::SamplingDecision::RecordAndSample
        }
    }
}

pub fn tw_install(counter: TwDiscard) -> traceweave::TracingGuard {
    traceweave::builder()
        .ignore_env()
        .service_name("bench")
        .sampler(traceweave::ParentBased::new(ByName))
        .exporter(counter)
        .max_queue_size(
            std::env::var("TW_QUEUE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(traceweave::BatchConfig::DEFAULT_MAX_QUEUE_SIZE),
        )
        .install()
        .expect("installed once")
}

pub mod tw {
    use super::*;
    use traceweave::traced;

    #[traced]
    pub fn child() {
        black_box(());
    }

    #[traced]
    pub fn root(n: usize) {
        for _ in 0..n {
            child();
        }
    }

    #[traced]
    pub fn unsampled_root(n: usize) {
        for _ in 0..n {
            child();
        }
    }

    #[traced]
    pub fn nest(depth: usize) {
        if depth > 1 {
            nest(depth - 1);
        }
    }

    #[traced]
    pub async fn async_child() {
        yield_once().await;
    }

    #[traced]
    pub async fn async_root(n: usize) {
        for _ in 0..n {
            async_child().await;
        }
    }
}

// ---------------------------------------------------------------- fastrace

#[derive(Clone, Default)]
pub struct FrDiscard(pub Arc<AtomicU64>);

impl fastrace::collector::Reporter for FrDiscard {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        self.0.fetch_add(spans.len() as u64, Ordering::Relaxed);
        black_box(spans);
    }
}

pub fn fr_install(counter: FrDiscard) {
    fastrace::set_reporter(counter, fastrace::collector::Config::default());
}

pub mod fr {
    use super::*;
    use fastrace::prelude::*;

    #[trace]
    pub fn child() {
        black_box(());
    }

    pub fn root(n: usize) {
        let root = Span::root("root", SpanContext::random());
        let _g = root.set_local_parent();
        for _ in 0..n {
            child();
        }
    }

    pub fn unsampled_root(n: usize) {
        let root = Span::root("unsampled_root", SpanContext::random().sampled(false));
        let _g = root.set_local_parent();
        for _ in 0..n {
            child();
        }
    }

    #[trace]
    fn nest_inner(depth: usize) {
        if depth > 1 {
            nest_inner(depth - 1);
        }
    }

    pub fn nest(depth: usize) {
        let root = Span::root("nest", SpanContext::random());
        let _g = root.set_local_parent();
        if depth > 1 {
            nest_inner(depth - 1);
        }
    }

    #[trace]
    pub async fn async_child() {
        yield_once().await;
    }

    pub async fn async_root(n: usize) {
        let root = Span::root("async_root", SpanContext::random());
        async {
            for _ in 0..n {
                async_child().await;
            }
        }
        .in_span(root)
        .await
    }
}

// ---------------------------------------------------------------- tracing + OpenTelemetry

#[derive(Debug, Clone, Default)]
pub struct OtDiscard(pub Arc<AtomicU64>);

impl opentelemetry_sdk::trace::SpanExporter for OtDiscard {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        black_box(batch);
        Ok(())
    }
}

/// `tracing` with the OpenTelemetry layer and the SDK's batch processor.
pub fn ot_dispatch(
    counter: OtDiscard,
    sampled: bool,
) -> (
    tracing::Dispatch,
    opentelemetry_sdk::trace::SdkTracerProvider,
) {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;
    let sampler = if sampled {
        opentelemetry_sdk::trace::Sampler::AlwaysOn
    } else {
        opentelemetry_sdk::trace::Sampler::AlwaysOff
    };
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(counter)
        .with_sampler(sampler)
        .build();
    let tracer = provider.tracer("bench");
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    (tracing::Dispatch::new(subscriber), provider)
}

/// `tracing` with traceweave's layer (feature `tracing`): the same `#[instrument]` workload
/// as `tracing-otel`, recorded by traceweave's pipeline (install it with `tw_install`).
#[cfg(feature = "tracing")]
pub fn tw_layer_dispatch() -> tracing::Dispatch {
    use tracing_subscriber::layer::SubscriberExt;
    tracing::Dispatch::new(
        tracing_subscriber::registry().with(traceweave::integrations::tracing::layer()),
    )
}

/// The floor under any `tracing` layer (feature `tracing`): the registry keeps every span (ids,
/// the per-thread stack, extensions), and a layer that does nothing records nothing.
#[cfg(feature = "tracing")]
pub fn floor_dispatch() -> tracing::Dispatch {
    use tracing_subscriber::layer::SubscriberExt;
    tracing::Dispatch::new(
        tracing_subscriber::registry().with(tracing_subscriber::layer::Identity::new()),
    )
}

/// The frameworks compared: traceweave's own API, fastrace, `tracing` with
/// tracing-opentelemetry and the SDK's batch processor, and (feature `tracing`) `tracing` with
/// traceweave's layer.
pub fn frameworks() -> Vec<&'static str> {
    let mut all = vec!["traceweave", "fastrace", "tracing-otel"];
    if cfg!(feature = "tracing") {
        all.push("tracing-tw");
    }
    if cfg!(feature = "opentelemetry-api") {
        all.push("tw-otel-bridge");
    }
    all
}

/// `tw-otel-bridge`: traceweave's own spans with the OpenTelemetry API bridge installed (every
/// span start then also reads the OpenTelemetry context).
pub fn otel_bridge(framework: &str) {
    if framework == "tw-otel-bridge" {
        #[cfg(feature = "opentelemetry-api")]
        let _provider = traceweave::integrations::opentelemetry::TracerProvider::new();
        #[cfg(not(feature = "opentelemetry-api"))]
        panic!("tw-otel-bridge needs --features opentelemetry-api");
    }
}

pub mod tr {
    use super::*;
    use tracing::instrument;

    #[instrument(skip_all)]
    pub fn child() {
        black_box(());
    }

    #[instrument(skip_all)]
    pub fn root(n: usize) {
        for _ in 0..n {
            child();
        }
    }

    #[instrument(skip_all)]
    pub fn nest(depth: usize) {
        if depth > 1 {
            nest(depth - 1);
        }
    }

    #[instrument(skip_all)]
    pub async fn async_child() {
        yield_once().await;
    }

    #[instrument(skip_all)]
    pub async fn async_root(n: usize) {
        for _ in 0..n {
            async_child().await;
        }
    }
}

/// CPU time of the whole process (every thread), in nanoseconds.
pub fn process_cpu_nanos() -> u64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Runs this benchmark binary again as `--child=SPEC` and returns its `RESULT` line's fields
/// (after the word `RESULT`), or `None` after printing why it failed.
pub fn run_child(spec: &str, seconds: f64) -> Option<Vec<String>> {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg(format!("--child={spec}"))
        .env("TW_SECONDS", seconds.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(line) = text.lines().find(|l| l.starts_with("RESULT ")) else {
        eprintln!(
            "{spec} failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    };
    Some(line.split_whitespace().skip(1).map(str::to_owned).collect())
}
